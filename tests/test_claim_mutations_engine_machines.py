"""Mutation tests of the engine and machines claims' decisions (issue 18).

Each decision of paper_checks/claims_engine.py and claims_machines.py is a pure function in
paper_checks/verdicts_engine_machines.py. Here it is fed numbers recorded from a quick run
(``python -m paper_checks --only 'engine.*'`` / ``'machines.*'``) and must PASS on them, and
FAIL when the measured value is perturbed by the smallest amount that matters. No solver runs.
"""
import math

import numpy as np
import pytest

from paper_checks.verdicts_engine_machines import (FAIL, GAP_CAP, PASS, aliasing_bits, bracket_verdict,
                                                   cross_check_verdict, distillation_verdict, equality_verdict,
                                                   gaussian_grid_verdict, outer_bound_tol, relation_verdict,
                                                   witness_match_verdict)

# engine.gaussian_grid, 1024 cells (h = 1/64): the engine's distortions at the claim's slopes
H = 16 / 1024
VAR_D = 1 + H * H / 12                      # Sheppard; the grid pmf gives this to ~1e-13
D = 1 / (2 * np.geomspace(0.8, 400, 10))    # D = 1/(2 beta) for the Gaussian
REF = 0.5 * np.log2(VAR_D / D)


def _bracket(shift=0.0, half_gap=4.5e-8):
    """A certified bracket [lower, rate] around the reference (recorded gaps are <= 1e-7)."""
    return REF + shift + half_gap, REF + shift - half_gap


def test_gaussian_grid_passes_on_the_grid_variance_reference():
    rate, lower = _bracket()
    assert gaussian_grid_verdict(rate, lower, D, VAR_D, H)[0] == PASS


@pytest.mark.parametrize("shift", [1e-6, -1e-6])
def test_gaussian_grid_fails_when_result_off_by_1e_6_bits(shift):
    # the old check allowed the whole discretisation bracket (>= 0.014 bits): 1e-6 passed
    rate, lower = _bracket(shift)
    assert gaussian_grid_verdict(rate, lower, D, VAR_D, H)[0] == FAIL


def test_gaussian_grid_fails_on_the_continuous_reference():
    # comparing with 1/2 log2(1/D) (variance 1) is off by the grid's h^2/12 inflation, 1.5e-5 bits
    rate, lower = _bracket()
    assert gaussian_grid_verdict(rate, lower, D, 1.0, H)[0] == FAIL


def test_gaussian_grid_fails_on_a_wide_bracket():
    rate, lower = _bracket(half_gap=1e-6)   # contains the reference, but 2e-6 wide
    assert gaussian_grid_verdict(rate, lower, D, VAR_D, H)[0] == FAIL


def test_aliasing_term_negligible_at_the_claims_grid_and_large_on_a_coarse_one():
    assert aliasing_bits(D, H).max() < 1e-40
    # measured on a 256-cell grid at D = 1.19e-3 (a = 6.0): excess 6.0e-3 bits; the bound covers it
    assert aliasing_bits(1.19316e-3, 16 / 256) >= 6.0e-3


def test_bracket_verdict_gap_cap():
    assert bracket_verdict(0.0, 9.9e-8) == PASS          # engine.mary_hamming / erasure recorded gaps
    assert bracket_verdict(0.0, GAP_CAP * 1.01) == FAIL   # closed form inside, bracket too wide
    assert bracket_verdict(2e-12, 9.9e-8) == FAIL         # closed form 2e-12 bits outside


def test_random_batch_cross_check():
    rate, lower = np.array([1.2, 0.4]), np.array([1.2 - 9e-8, 0.4 - 5e-8])
    tol = 1e-8 * (1 + rate * math.log(2) + 50) / math.log(2)   # Clarabel's accuracy at beta = 50: 7.5e-7
    assert cross_check_verdict(rate, lower, rate - 3e-8, tol)[0] == PASS
    assert cross_check_verdict(rate, lower, rate + 2 * tol, tol)[0] == FAIL
    assert cross_check_verdict(rate, lower - 1e-6, rate - 3e-8, tol)[0] == FAIL   # bracket 1e-6 wide


def test_equality_claims_cap_the_certified_error():
    # recorded: Theorem 2, 200/200 applicable, max certified error 1.0e-7 (tol 1e-7)
    assert equality_verdict(True, 200, 1.0e-7, min_applicable=200) == PASS
    # an inaccurate solver makes the intervals overlap *more* easily: it must now fail
    assert equality_verdict(True, 200, 1.0e-6, min_applicable=200) == FAIL
    assert equality_verdict(True, 199, 1.0e-7, min_applicable=200) == FAIL   # hypothesis tested too rarely
    assert relation_verdict(True, 149, min_applicable=150) == FAIL
    assert relation_verdict(True, 194, min_applicable=150) == PASS


# machines.theorem3: recorded witness D_w, outer bound and its rate slack at three points
DW = np.array([[0.6264159804, 0.2274100000, 0.5114328110]])
SLACK_BITS = np.array([[1.0e-7, 1.0e-7, 2.0e-7]])
RANGE = np.array([1.0])
DLO = DW - np.array([[3.2e-5, 1.5e-4, 1.1e-3]])   # measured D_w - outer bound: 1e-8 .. 2e-3
OK = np.zeros_like(DW)


def test_theorem3_witness_matches_outer_bound():
    tol = outer_bound_tol(SLACK_BITS, RANGE)
    assert witness_match_verdict(DW, DLO, tol, OK)[0] == PASS


@pytest.mark.parametrize("sign", [1, -1])
def test_theorem3_wrong_dmin_fails(sign):
    # a D_T^min off by just over the tolerance at one point (6.3e-3 at slack 1e-7): FAIL.
    # The old check (lo R_T(D_w) <= I(W)) held for any feasible witness, whatever its D_w.
    tol = outer_bound_tol(SLACK_BITS, RANGE)
    bad = DW.copy()
    bad[0, 0] = DLO[0, 0] + sign * (tol[0, 0] + 1e-4)
    assert witness_match_verdict(bad, DLO, tol, OK)[0] == FAIL


def test_theorem3_needs_certified_outer_bounds():
    tol = outer_bound_tol(SLACK_BITS, RANGE)
    excess = np.array([[0.0, 1.5e-3, 1.5e-3]])   # conic optimiser over its rate constraint: not certified
    assert witness_match_verdict(DW, DLO, tol, excess)[0] == FAIL    # 1/3 compared < 90%
    assert witness_match_verdict(DW, np.full_like(DW, np.nan), tol, OK)[0] == FAIL


def test_distillation_tolerance_is_the_lp_placement():
    # recorded: max error 1.5e-12 bits; slope log2((1-x)/x) at x = 2*0.1/3 is 3.8; gaps ~1e-12
    slope = math.log2((1 - 0.2 / 3) / (0.2 / 3))
    st, tol = distillation_verdict(1.5e-12, slope, 1e-12)
    assert st == PASS and 3e-8 < tol < 5e-8
    assert distillation_verdict(1e-7, slope, 1e-12)[0] == FAIL   # passed under the old 1e-5
