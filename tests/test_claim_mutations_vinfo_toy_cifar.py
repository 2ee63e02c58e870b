"""Mutation tests for the vinfo / toy / cifar paper checks (issue 18).

Each decision of a tightened claim is a pure function; here it is fed the values a quick run
recorded (``python -m paper_checks``, 2026-12-02) and the smallest perturbation that matters,
and must pass the former and fail the latter. Nothing heavy is recomputed.
"""
from __future__ import annotations

import math
import types

import numpy as np
import pytest
from scipy.stats import norm

from paper_checks import FAIL, PASS
from paper_checks.claims_cifar import increases_verdict, order_steps
from paper_checks.claims_toy import analytic_verdict, layer_moments, rho_by_quadrature
from paper_checks.claims_vinfo import argmax_segments, decoder_verdict, tradeoff_verdict
from paper_checks.claims_vinfo_estimator import (binomial_band, bias_verdict, converges_verdict, coverage_verdict,
                                                 second_order_bias)
from rdtheory import toy
from rdtheory.vinfo.examples import EXAMPLE_JOINT, first_order_bias


# ----------------------------------------------------------------------------- vinfo.ci_coverage
@pytest.mark.parametrize("reps", [1000, 5000])  # quick and full budgets
def test_coverage_band_rejects_intervals_scaled_by_0_8_or_1_5(reps):
    z = norm.ppf(0.975)
    hits = {s: round(reps * (2 * norm.cdf(s * z) - 1)) for s in (0.8, 1.0, 1.5)}  # 0.883, 0.95, 0.9967
    assert coverage_verdict(hits[1.0], reps) == PASS
    assert coverage_verdict(hits[0.8], reps) == FAIL
    assert coverage_verdict(hits[1.5], reps) == FAIL  # the old band [0.899, 1.0007] passed this
    lo, hi = binomial_band(0.95, reps)
    assert lo < 0.95 < hi < 0.99  # two-sided


def test_coverage_recorded_run():
    # quick run: 943/1000 at the nominal width; the same runs with half-widths x0.8 / x1.5: 875 / 997
    assert coverage_verdict(943, 1000) == PASS
    assert coverage_verdict(875, 1000) == FAIL
    assert coverage_verdict(997, 1000) == FAIL


# ----------------------------------------------------------------------------- vinfo.plugin_bias_miller_madow
def test_bias_verdict_rejects_a_first_order_term_off_by_20_percent():
    mean, se = 0.03018, 4.55e-4  # quick run: 20,000 repetitions at n = 150
    first, second = first_order_bias(6, 150), second_order_bias(EXAMPLE_JOINT, 150)
    assert second == pytest.approx(8.8e-4, rel=0.01)  # Harris's term for this joint: 3 % of the effect
    assert bias_verdict(mean, se, first, second) == PASS
    assert bias_verdict(mean, se, 1.2 * first, second) == FAIL
    assert bias_verdict(mean, se, 0.8 * first, second) == FAIL


# ----------------------------------------------------------------------------- vinfo.tabular_converges_to_mi
NS = (150, 600, 2400, 9600)
RAW = (0.030176, 0.007951, 0.002355, -7.9e-06)  # quick run: mean plug-in - true MI (bits)
SE = (4.55e-4, 4.30e-4, 4.37e-4, 4.48e-4)


def test_converges_needs_the_miller_madow_term():
    corr = [first_order_bias(6, n) for n in NS]
    second = [second_order_bias(EXAMPLE_JOINT, n) for n in NS]
    assert converges_verdict(RAW, SE, corr, second) == PASS
    assert converges_verdict(RAW, SE, [0.0] * 4, second) == FAIL  # dropping the correction
    assert converges_verdict(RAW, SE, [1.2 * c for c in corr], second) == FAIL  # a term 20 % too large


# ----------------------------------------------------------------------------- vinfo.digits_base_tradeoff
def test_argmax_segments_are_the_upper_envelope():
    # lines 3 + 0 b, 2.9 + 1 b, 2 + 2 b: breakpoints at 0.1 (0 -> 1) and 0.9 (1 -> 2)
    segs = argmax_segments([3.0, 2.9, 2.0], [0.0, 1.0, 2.0])
    assert [i for *_, i in segs] == [0, 1, 2]
    assert segs[0][1] == pytest.approx(0.1) and segs[1][1] == pytest.approx(0.9) and segs[2][1] == math.inf
    # a line never on the envelope is skipped
    assert [i for *_, i in argmax_segments([3.0, 1.0, 2.9], [0.0, 1.0, 2.0])] == [0, 2]


def test_tradeoff_verdict_on_recorded_and_perturbed_bounds():
    # quick run: 95 % lower bounds of dI_Vb / dI_Va vs the beta = 0 choice, per argmax segment
    segs = [(0, .0126, 2), (.0126, .0236, 3), (.0236, .0309, 4), (.0309, .0403, 5), (.0403, .121, 8),
            (.121, .537, 9), (.537, math.inf, 10)]
    base_low = [0.0, -0.023, -0.054, -0.096, -0.323, -0.361, -0.469]
    recon_low = [0.0, 0.94, 1.81, 2.76, 6.98, 7.20, 7.36]
    assert tradeoff_verdict(segs, base_low, recon_low) == PASS
    # every choice beyond beta = 0 loses 0.08 bits more of the base task: no window left
    assert tradeoff_verdict(segs, [0.0] + [b - 0.08 for b in base_low[1:]], recon_low) == FAIL
    # no significant reconstruction gain
    assert tradeoff_verdict(segs, base_low, [0.0] + [-0.01] * 6) == FAIL


# ----------------------------------------------------------------------------- vinfo.gaussian_decoder_callable
def _rec(value, stderr, ci_low=None):
    return types.SimpleNamespace(value=value, stderr=stderr, ci_low=value - 1.96 * stderr if ci_low is None else ci_low)


def test_decoder_verdict_checks_the_linear_decoder_and_the_paired_difference():
    best, lin_best = 1.356154, 0.095671
    mlp, lin, diff = _rec(1.3439, 0.0309), _rec(0.0980, 0.0177), _rec(1.2458, 0.0330)  # quick run
    assert decoder_verdict(mlp, lin, diff, best, lin_best) == PASS
    # a linear decoder 0.1 bits off its analytic value (the old status ignored it)
    assert decoder_verdict(mlp, _rec(0.198, 0.0177), diff, best, lin_best) == FAIL
    # a paired difference 0.2 bits short (e.g. the MLP trained on a different split)
    assert decoder_verdict(mlp, lin, _rec(1.0458, 0.0330), best, lin_best) == FAIL


# ----------------------------------------------------------------------------- toy.rho_*_analytic
def test_quadrature_matches_the_closed_forms():
    cents, intra = layer_moments("y")
    np.testing.assert_allclose(cents, [[7.5, 1.0], [2.5, 3.0]], atol=1e-12)
    np.testing.assert_allclose(intra, [0.04, 0.04], rtol=1e-12)
    assert rho_by_quadrature("y") == pytest.approx(725.0, rel=1e-12)
    assert rho_by_quadrature("x") == pytest.approx(48 / 100.16, rel=1e-12)


def test_a_regression_in_g_fails_the_analytic_claim(monkeypatch):
    # g that forgets the side sgn(u - 5): every point on the right half-circle. The hand-derived
    # 29 / 0.04 (toy.rho_analytic) does not see it; the quadrature of g does.
    good = toy.g

    def one_sided(x):
        y = good(x)
        centre_u = np.where(y[:, 1] > 2, 2.5, 7.5)
        return np.c_[centre_u + np.abs(y[:, 0] - centre_u), y[:, 1]]

    monkeypatch.setattr(toy, "g", one_sided)
    q = rho_by_quadrature("y")
    assert toy.rho_analytic("y").rho == pytest.approx(725.0)
    assert analytic_verdict(q, toy.rho_analytic("y").rho, 725.0, 1e-6) == FAIL


def test_a_wrong_radius_fails_the_analytic_claim(monkeypatch):
    monkeypatch.setattr(toy.model, "RADIUS", 0.21)  # rho_Y = 29 / 0.0441 = 657.6
    q = rho_by_quadrature("y")
    assert q == pytest.approx(29 / 0.0441, rel=1e-9)
    assert analytic_verdict(q, toy.rho_analytic("y").rho, 725.0, 1e-6) == FAIL


# ----------------------------------------------------------------------------- cifar orderings
def test_overlapping_intervals_are_ties_and_do_not_increase():
    # quick run (2000 test images), 95 % basic group-bootstrap intervals. ResNet50 cpu checkpoint: layer2 0.0411,
    # layer3 0.0418, layer4 0.0440 -- steps of 1/25 of the interval width, which passed on point estimates
    resnet50 = ([0.0225, 0.02454, 0.02688], [0.03843, 0.03909, 0.04142])
    vgg16 = ([0.06568, 0.17, 0.3403], [0.08453, 0.1989, 0.3859])
    assert order_steps(*resnet50) == ["~", "~"]
    assert order_steps(*vgg16) == ["<", "<"]
    assert increases_verdict([vgg16]) == PASS
    assert increases_verdict([vgg16, resnet50]) == FAIL
    # the audit's full-run case: 0.026810 vs 0.026815 with intervals ~0.01 wide is a tie, not an increase
    assert order_steps([0.0218, 0.0219], [0.0318, 0.0317]) == ["~"]
    # pretrained ResNet-20: input above layer1's end (a decrease), then a tie, then increases
    r20 = ([0.0369, 0.0151, 0.02358, 0.3717], [0.06074, 0.02828, 0.03731, 0.4061])
    assert order_steps(*r20) == [">", "~", "<"]
    assert increases_verdict([r20]) == FAIL


# ----------------------------------------------------------------------------- Table I on the training split
def test_contains_verdict_on_the_recorded_input_row():
    from paper_checks.verdicts_cifar import contains_verdict

    # train split, 50,000 images: bias-corrected 0.0380 [0.0360, 0.0399] (claim table1.input_rho_cifar10)
    assert contains_verdict(0.038, 0.0360, 0.0399) == PASS
    assert contains_verdict(0.038, 0.0360 + 0.0021, 0.0399 + 0.0021) == FAIL  # interval shifted by 0.0021
    assert contains_verdict(0.036, 0.0360, 0.0399) == PASS  # CIFAR-100's 0.036 would sit on the edge
    assert contains_verdict(0.0359, 0.0360, 0.0399) == FAIL


def test_chain_text_shows_the_decided_steps():
    from paper_checks.verdicts_cifar import chain_text

    text = chain_text(["input", "layer1"], [0.038, 0.02], [0.036, 0.018], [0.0399, 0.022])
    assert text == "input 0.038 [0.036, 0.0399] > layer1 0.02 [0.018, 0.022]"


def test_training_split_chains_recorded_by_a_quick_run():
    # python -m paper_checks --only 'cifar.table1*' (quick, cold cache, 2026-12-02): input on the whole training
    # split (cached), the layers on the 2,000-image stratified training fallback; bias-corrected 95 % intervals
    inp = (0.03566, 0.04033)
    vgg = ([inp[0], 0.0648, 0.1741, 0.3726], [inp[1], 0.08329, 0.2106, 0.4437])
    r50_long = ([inp[0], 0.01899, 0.02776, 0.0372], [inp[1], 0.02864, 0.03959, 0.05176])
    assert order_steps(*vgg) == ["<", "<", "<"]
    assert order_steps(*r50_long) == [">", "~", "~"]  # layer2 below the input, as in the paper's own Table I
    assert increases_verdict([vgg]) == PASS
    assert increases_verdict([vgg, r50_long]) == FAIL
    assert increases_verdict([(r50_long[0][1:], r50_long[1][1:])]) == FAIL  # layers only: ties
    # smallest change that matters: features.19's interval reaching the input's upper end turns '<' into a tie
    touch = ([inp[0], inp[1], 0.1741, 0.3726], vgg[1])
    assert order_steps(*touch)[0] == "~" and increases_verdict([touch]) == FAIL
    # separating the ResNet50 layers by one interval width would pass the layers-only reading
    sep = ([0.01899, 0.02864 + 1e-5, 0.05176], [0.02864, 0.03959 + 0.011, 0.07])
    assert increases_verdict([sep]) == PASS


def test_resnet20_whole_training_split_chain():
    # experiments/cifar_table1.py, pretrained ResNet-20 on all 50,000 training images (2026-12-02), bias-corrected
    # 95 % grouped-jackknife intervals: input, layer1, layer2, layer3, avgpool
    low = [0.0357, 0.0189, 0.0292, 0.4575, 1.5319]
    high = [0.0403, 0.0200, 0.0307, 0.4662, 1.5569]
    assert order_steps(low, high) == [">", "<", "<", "<"]
    assert increases_verdict([(low, high)]) == FAIL  # Eq. 20 with the input: layer1 is below the input
    assert increases_verdict([(low[1:], high[1:])]) == PASS  # over the stage ends alone it increases
    # layer2's interval widened down by 0.0093 (to layer1's upper end) would make that step a tie
    assert order_steps(low[1:3], [high[1], high[2]]) == ["<"]
    assert order_steps([low[1], high[1]], high[1:3]) == ["~"]


def test_resnet50_chains_subset_ties_whole_test_split_separates():
    # ResNet50 cpu-long (49 % top-1), bias-corrected 95 % intervals (2026-12-02): layer2, layer3, layer4
    subset = ([0.01899, 0.02776, 0.0372], [0.02864, 0.03959, 0.05176])  # 2,000 training images
    whole_test = ([0.0238, 0.0324, 0.0404], [0.0290, 0.0382, 0.0472])  # all 10,000 test images
    assert increases_verdict([subset]) == FAIL and order_steps(*subset) == ["~", "~"]
    assert increases_verdict([whole_test]) == PASS
    # the smallest overlap turns the whole-split verdict: layer3's lower end moved to layer2's upper end
    assert increases_verdict([([0.0238, 0.0290, 0.0404], whole_test[1])]) == FAIL
