"""Mutation tests for the codec claims' decisions (issue 18): each decision passes on the value the
claim measured (recorded below from ``python -m paper_checks --only 'codecs*'``) and fails when that
value moves by the smallest amount that matters. No recomputation: recorded numbers in, verdict out.
"""
import math

import pytest

from paper_checks import FAIL, PASS
from paper_checks import claims_codecs as cc
from paper_checks import claims_codecs_toy as ct

# ---------------------------------------------------------------- codecs-e-exact-bound (circles/squares toy)
#: stream overhead allowance: 96 flush bits over the 20,000-sample stream (bits/sample)
ALLOWANCE = 96 / 20_000
#: recorded gaps (bits/sample) of the 20 informative points: 14 one-bit codes at 1.0032 bits/sample
#: and error 0 (R(D_upper) = 0.9974), two at 0.0074, four multi-bit codes
INFORMATIVE_GAPS = [0.0058] * 14 + [0.0074] * 2 + [1.6096, 2.0442, 3.0266, 3.7914]
#: and of the 14 trivial ones: 12 codecs that send nothing (0.0032 bits/sample of flush, error 1/2) and
#: two MSE-at-X codes at 1.13 and 1.75 bits/sample whose task error is still 1/2 (bound 0)
TRIVIAL_GAPS = [0.0032] * 12 + [1.1328, 1.7456]


def test_bound_verdict_recorded_passes():
    assert ct.bound_verdict(INFORMATIVE_GAPS, TRIVIAL_GAPS, ALLOWANCE) == PASS


def test_bound_verdict_fails_just_below_the_allowance():
    # the smallest regression that matters: a codec beating the bound by more than the flush allowance
    below = [-(ALLOWANCE + 1e-6)] + INFORMATIVE_GAPS[1:]
    assert ct.bound_verdict(below, TRIVIAL_GAPS, ALLOWANCE) == FAIL
    assert ct.bound_verdict(INFORMATIVE_GAPS, [-(ALLOWANCE + 1e-6)], ALLOWANCE) == FAIL
    at_edge = [-ALLOWANCE] + INFORMATIVE_GAPS[1:]  # exactly the allowance is still allowed
    assert ct.bound_verdict(at_edge, TRIVIAL_GAPS, ALLOWANCE) == PASS


def test_bound_verdict_without_an_informative_point_is_vacuous_and_fails():
    assert ct.bound_verdict([], TRIVIAL_GAPS + INFORMATIVE_GAPS, ALLOWANCE) == FAIL


def test_trivial_points_are_not_informative():
    nothing_sent = {"rate": 0.0032, "R_at_error_upper": 0.0}  # bound 0: gap = rate >= 0 for any code
    one_bit = {"rate": 1.0032, "R_at_error_upper": 0.9974}
    within_flush = {"rate": ALLOWANCE, "R_at_error_upper": 0.1}
    assert not ct.informative(nothing_sent, ALLOWANCE) and not ct.informative(within_flush, ALLOWANCE)
    assert ct.informative(one_bit, ALLOWANCE)
    assert ct.informative({"rate": ALLOWANCE + 1e-4, "R_at_error_upper": 1e-6}, ALLOWANCE)


# ----------------------------------------------------------------------------------- codecs-toy-mse-y-vs-x
def _row(ex, ex_ci, ey, ey_ci, verdict, rate_x=1.0):
    return {"rate_x": rate_x, "error_x": ex, "error_x_ci": list(ex_ci), "rate_y": 1.0032, "error_y": ey,
            "error_y_ci": list(ey_ci), "verdict": verdict}


CHANCE = (0.4931, 0.5069)  # 95% Wilson interval of 10,000 errors in 20,000
ZERO = (0.0, 0.00019)  # of 0 errors in 20,000
RECORDED_ROWS = [_row(0.5, CHANCE, 0.5, CHANCE, "tie", 0.0032), _row(0.5, CHANCE, 0.0, ZERO, "Y better", 1.13),
                 _row(0.4906, (0.4837, 0.4975), 0.0, ZERO, "Y better", 1.61),
                 _row(0.0, ZERO, 0.0, ZERO, "tie", 3.04)]


def test_mse_verdict_recorded_passes():
    assert ct.mse_verdict(RECORDED_ROWS) == PASS


def test_mse_verdict_fails_on_one_non_trivial_tie_or_x_better():
    # a tie where the codes can differ: X's lower bound 0.44 is just under the 0.45 'chance' cut
    tie = _row(0.45, (0.44, 0.46), 0.45, (0.44, 0.46), "tie", 1.5)
    assert ct.mse_verdict(RECORDED_ROWS + [tie]) == FAIL
    assert ct.mse_verdict(RECORDED_ROWS + [_row(0.0, ZERO, 0.1, (0.09, 0.11), "X better", 2.0)]) == FAIL
    # no 'Y better' at all: the claim would rest on ties alone
    assert ct.mse_verdict([r for r in RECORDED_ROWS if r["verdict"] != "Y better"]) == FAIL


# ------------------------------------------------------ codecs-a..d: committed numbers verified on a subset
#: recorded: splitting-C1-layer2 λ=30 re-measured on a 500-image stratified subset of its 2,000
SUB_ACC, COMMITTED_ACC, SUB_BPP, COMMITTED_BPP, SD_BPP, M, N = 0.28, 0.2795, 1.9102, 1.885703125, 460.7 / 1024, 500, 2000
SD_ACC = math.sqrt(COMMITTED_ACC * (1 - COMMITTED_ACC) * N / (N - 1))


def test_subset_agrees_on_the_recorded_point():
    assert cc.subset_agrees(SUB_ACC, COMMITTED_ACC, SD_ACC, M, N)
    assert cc.subset_agrees(SUB_BPP, COMMITTED_BPP, SD_BPP, M, N)


@pytest.mark.parametrize("sub, sd", [(SUB_ACC, SD_ACC), (SUB_BPP, SD_BPP)])
def test_subset_disagrees_just_outside_the_interval(sub, sd):
    tol = cc.subset_tolerance(sd, M, N)
    # z = 3 half-width: 0.052 accuracy (5.2 points), 0.052 bpp (2.8% of the rate) at this point
    assert tol == pytest.approx(cc.Z * sd * math.sqrt((1 - M / N) / M), rel=1e-12)
    assert cc.subset_agrees(sub, sub + 0.999 * tol, sd, M, N)
    assert not cc.subset_agrees(sub, sub + 1.001 * tol, sd, M, N)
    assert not cc.subset_agrees(sub, sub - 1.001 * tol, sd, M, N)


def test_a_result_of_the_neighbouring_lambda_is_caught():
    # committed numbers filed under the wrong λ (λ=10: top-1 0.1025, 0.24 bpp; λ=100: 0.5575, 5.22 bpp)
    for acc, bpp in ((0.1025, 0.24), (0.5575, 5.22)):
        assert not cc.subset_agrees(SUB_ACC, acc, SD_ACC, M, N)
        assert not cc.subset_agrees(SUB_BPP, bpp, SD_BPP, M, N)


def test_whole_population_must_agree_exactly():
    assert cc.subset_tolerance(SD_ACC, N, N) == 0.0
    assert cc.subset_agrees(0.2795, 0.2795, SD_ACC, N, N)
    assert not cc.subset_agrees(0.2795 + 1 / N, 0.2795, SD_ACC, N, N)  # one image differs


def test_point_check_on_recorded_per_image_values():
    committed = {"config": {"lmbda": 30.0}, "n": 4, "bpp": 2.0, "accuracy": 0.5}
    bits, hits = [2048, 2048, 2048, 2048], [1, 0, 1, 0]  # the whole population: must match exactly
    assert cc.point_check(committed, bits, hits, 1024)["ok"]
    assert not cc.point_check({**committed, "accuracy": 0.75}, bits, hits, 1024)["ok"]
    assert not cc.point_check({**committed, "bpp": 2.0 + 8 / 1024 / 4}, bits, hits, 1024)["ok"]  # one byte


# --------------------------------------------------------------------------- codecs-a..d decisions
def test_order_and_signs_on_recorded_values():
    # recorded: cut change 38.59 pts vs distillation change 11.12 pts -> the order does not show (fail)
    assert not cc.order_ok(38.59, 11.12)
    assert cc.order_ok(11.11, 11.12) and not cc.order_ok(11.12, 11.12)
    # (b): recorded BD-accuracies of the deeper steps; one negative step fails the claim
    assert not cc.signs_ok([-4.78, -12.81, 4.27, -6.29], strict=True)
    assert cc.signs_ok([4.27, 0.01], strict=True) and not cc.signs_ok([4.27, -0.01], strict=True)
    assert not cc.signs_ok([4.27, 0.0], strict=True) and cc.signs_ok([4.27, 0.0], strict=False)  # (c): >= 0
    assert not cc.signs_ok([4.27, None], strict=False) and not cc.signs_ok([], strict=False)


def test_scalable_on_recorded_values():
    assert cc.scalable_ok(-0.72, 2.542)  # recorded β = 1: BD-acc −0.72 pts, BD-PSNR +2.542 dB
    assert not cc.scalable_ok(-1.01, 2.542) and not cc.scalable_ok(-0.72, -0.001)
    assert not cc.scalable_ok(0.32, -0.009)  # recorded β = 0.01: no PSNR gain
    assert not cc.scalable_ok(None, 2.542) and not cc.scalable_ok(-0.72, None)


def test_unverified_committed_numbers_fail_the_claim():
    assert cc.combined_status(True, True) == PASS
    assert cc.combined_status(True, False) == FAIL and cc.combined_status(False, True) == FAIL
