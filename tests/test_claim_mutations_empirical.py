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

# empirical.gaussian_sandwich_2d, held-out plug-in upper bound at D = 0.303 (n = 2e4, 256 k-means atoms):
# rate interval [ci_low, ci_high], truth at the ends of the held-out distortion interval (bits)
CI_LOW, CI_HIGH, TRUTH_DLO, TRUTH_DHI = 1.7028, 1.7396, 1.7367, 1.7096


def test_heldout_upper_passes_on_recorded_values():
    assert heldout_upper_verdict([CI_LOW], [CI_HIGH], [TRUTH_DLO], [TRUTH_DHI]) == PASS


def test_heldout_upper_fails_when_the_bound_drops_below_the_truth():
    # the guarantee R(D_hi) <= ci_high has 0.030 bits of room: moving the bound down 0.031 breaks it
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
    # dual bound's lower interval end at D = 0.303 (recorded 1.234 bits, n = 4000) against the truth 1.724
    assert lower_bound_verdict([1.2336], [1.724]) == PASS
    # the Shannon estimate's interval [1.711, 1.736] contains it; the same interval 0.013 bits higher does not
    assert interval_contains_verdict([1.711], [1.7362], [1.724]) == PASS
    assert interval_contains_verdict([1.711 + 0.014], [1.7362 + 0.014], [1.724]) == FAIL
    assert lower_bound_verdict([1.724 + 1e-6], [1.724]) == FAIL


# empirical.laplace_slb: the 0.999 interval at D = 0.05, 0.2, 0.5 (alpha = 2), n = 2e4
LAP_TRUTH = -np.log2(2.0 * np.array([0.05, 0.2, 0.5]))


LAP_LO, LAP_HI = np.array([3.2625, 1.2625, 0.0]), np.array([3.3793, 1.3793, 0.0574])   # recorded 0.999 intervals


@pytest.mark.parametrize("shift", [0.060, -0.058])
def test_laplace_slb_interval_flips_when_the_estimate_is_off(shift):
    # at D = 0.05, 0.2 the truth sits 0.0594 bits above the lower end and 0.0574 below the upper end:
    # a bias just beyond that room pushes it out (D = 0.5, truth 0 at the floored end, is left out)
    assert interval_contains_verdict(LAP_LO, LAP_HI, LAP_TRUTH) == PASS
    lo, hi, truth = LAP_LO[:2], LAP_HI[:2], LAP_TRUTH[:2]
    assert interval_contains_verdict(lo + shift, hi + shift, truth) == FAIL
    assert interval_contains_verdict(lo + shift / 2, hi + shift / 2, truth) == PASS   # half the room still passes


def test_sandwich_goal_in_nats():
    # 0.05 nats = 0.0721 bits: interval ends 0.072 bits apart pass, 0.073 fail
    assert goal_verdict(float(sandwich_width_nats(1.072, 1.0)), GOAL_NATS) == PASS
    assert goal_verdict(float(sandwich_width_nats(1.073, 1.0)), GOAL_NATS) == FAIL
    assert sandwich_width_nats(1.0 / math.log(2), 0.0) == pytest.approx(1.0)


# empirical.neural_40d, quick (1e4 fit samples, 3000 steps): 8.424 bits (gap +0.031), interval
# [8.3903, 8.4574], truth 8.4083 / 8.3771 bits at the ends D_lo / D_hi of the distortion interval
N_LO, N_HI, T_DLO, T_DHI = 8.3903, 8.4574, 8.4083, 8.3771


def test_neural_40d_bound_and_goal():
    assert heldout_upper_verdict([N_LO], [N_HI], [T_DLO], [T_DHI]) == PASS
    # 0.081 bits lower: ci_high under R(D_hi), fails; 0.019 bits higher: ci_low above R(D_lo), fails
    assert heldout_upper_verdict([N_LO - 0.081], [N_HI - 0.081], [T_DLO], [T_DHI]) == FAIL
    assert heldout_upper_verdict([N_LO + 0.019], [N_HI + 0.019], [T_DLO], [T_DHI]) == FAIL
    # the 0.01-bit goal: the quick fit's +0.031 misses it, the long fit's +0.012 (docs) too
    assert goal_verdict(0.0312, 0.01) == FAIL
    assert goal_verdict(0.012, 0.01) == FAIL
    assert goal_verdict(0.0099, 0.01) == PASS
