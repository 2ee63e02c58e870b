"""Mutation tests of the empirical R(D) claims' decisions (issue 14).

Each decision in paper_checks/claims_empirical.py is a pure function. Here it is fed numbers
recorded from a quick run (``python -m paper_checks --only 'empirical.*'``) and must PASS on
them, and FAIL when a measured value is perturbed by the smallest amount that matters. No
estimator runs.
"""
import math

import numpy as np
import pytest

from paper_checks.claims_empirical import (FAIL, GOAL_NATS, PASS, coverage_pvalue, goal_verdict,
                                           heldout_upper_verdict, interval_contains_verdict,
                                           lcb_coverage_verdict, lower_bound_verdict, sandwich_width_nats)

# empirical.gaussian_sandwich_2d, held-out plug-in upper bound at D = 0.301 (n = 2e4, 256 k-means atoms):
# rate interval [ci_low, ci_high], truth at the ends of the held-out distortion interval (bits)
CI_LOW, CI_HIGH, TRUTH_DLO, TRUTH_DHI = 1.7125, 1.7499, 1.7470, 1.7207


def test_heldout_upper_passes_on_recorded_values():
    assert heldout_upper_verdict([CI_LOW], [CI_HIGH], [TRUTH_DLO], [TRUTH_DHI]) == PASS


def test_heldout_upper_fails_when_the_bound_drops_below_the_truth():
    # the guarantee R(D_hi) <= ci_high has 0.029 bits of room: moving the bound down 0.03 breaks it
    s = -(CI_HIGH - TRUTH_DHI) - 1e-3
    assert heldout_upper_verdict([CI_LOW + s], [CI_HIGH + s], [TRUTH_DLO], [TRUTH_DHI]) == FAIL


def test_heldout_upper_fails_when_the_bound_is_wholly_above_the_truth():
    # a bound 0.035 bits looser (ci_low above R(D_lo)) is no longer consistent with the truth
    s = (TRUTH_DLO - CI_LOW) + 1e-3
    assert heldout_upper_verdict([CI_LOW + s], [CI_HIGH + s], [TRUTH_DLO], [TRUTH_DHI]) == FAIL


# empirical.bernoulli_plugin, n = 1e4: plug-in h(p_hat) - h(D) (certified gap <= 1e-6) and the 0.999
# Clopper-Pearson band of h(p) - h(p_hat), against the truth at D = 0.076
PLUGIN, TRUTH_B, OFF_LO, OFF_HI = 0.32235, 0.33451, -0.03858, 0.03734


def test_bernoulli_plugin_within_cp_band_and_flips_outside():
    ok = interval_contains_verdict([PLUGIN + OFF_LO], [PLUGIN + OFF_HI], [TRUTH_B], fp=1e-9)
    assert ok == PASS
    # the plug-in off by the band's remaining room + 1e-3 bits (a 0.026-bit bias) falls out
    s = -(PLUGIN + OFF_HI - TRUTH_B) - 1e-3
    assert interval_contains_verdict([PLUGIN + s + OFF_LO], [PLUGIN + s + OFF_HI], [TRUTH_B], fp=1e-9) == FAIL


def test_lcb_coverage_binomial_decision():
    # recorded quick: 20/20 below the truth
    assert lcb_coverage_verdict(20, 20) == PASS
    # P(X <= 15 | 20, 0.95) = 2.6e-3 >= 1e-3; P(X <= 14) = 3.3e-4: 14/20 rejects coverage >= 0.95
    assert lcb_coverage_verdict(15, 20) == PASS
    assert lcb_coverage_verdict(14, 20) == FAIL
    # full mode, 100 reps: 89/100 has P = 1.1e-2 under 0.95 (pass); 86/100 rejects
    assert lcb_coverage_verdict(89, 100) == PASS
    assert lcb_coverage_verdict(86, 100) == FAIL
    assert coverage_pvalue(20, 20) == pytest.approx(1.0)


def test_lower_bound_verdict_flips_above_the_truth():
    # dual bound's lower interval end at D = 0.301 (recorded 1.07 bits) against the truth 1.737
    assert lower_bound_verdict([1.07], [1.737]) == PASS
    assert lower_bound_verdict([1.737 + 1e-6], [1.737]) == FAIL


# empirical.laplace_slb: the 0.999 interval at D = 0.05, 0.2, 0.5 (alpha = 2), n = 2e4
LAP_TRUTH = -np.log2(2.0 * np.array([0.05, 0.2, 0.5]))


@pytest.mark.parametrize("shift", [0.06, -0.06])
def test_laplace_slb_interval_flips_when_the_estimate_is_off(shift):
    half = 0.05                       # recorded half-widths are ~0.04-0.05 bits at n = 2e4
    lo, hi = LAP_TRUTH - half + 0.005, LAP_TRUTH + half + 0.005
    assert interval_contains_verdict(lo, hi, LAP_TRUTH) == PASS
    assert interval_contains_verdict(lo + shift, hi + shift, LAP_TRUTH) == FAIL


def test_sandwich_goal_in_nats():
    # 0.05 nats = 0.0721 bits: interval ends 0.072 bits apart pass, 0.073 fail
    assert goal_verdict(float(sandwich_width_nats(1.072, 1.0)), GOAL_NATS) == PASS
    assert goal_verdict(float(sandwich_width_nats(1.073, 1.0)), GOAL_NATS) == FAIL
    assert sandwich_width_nats(1.0 / math.log(2), 0.0) == pytest.approx(1.0)
