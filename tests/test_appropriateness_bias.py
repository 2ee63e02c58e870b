"""Bias-corrected rho and its grouped-jackknife interval (rdtheory.appropriateness.bias, .simulation).

Known answers: Gaussian clusters N(mu_i, I_F) have D^(i) = F, D^(i,j) = ||mu_i - mu_j||^2 and an
analytic rho. Every tolerance is a sampling interval: a mean over T independent data sets is
compared with its target within 4 standard errors (two-sided tail 6e-5 per check), and a
coverage with a binomial acceptance band at level 0.999.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from rdtheory.appropriateness import (TaskAppropriatenessAccumulator, corrected_moments, grouped_interval,
                                      pool_groups, rho_from_statistics, task_appropriateness)
from rdtheory.appropriateness.simulation import (cluster_means, gaussian_group_statistics, gaussian_rho,
                                                 simulate)

Z = 4.0  # standard errors for a mean over independent data sets (two-sided tail 6e-5)


def _gaussian_data(mu, n, rng):
    c, f = mu.shape
    return (np.repeat(mu, n, axis=0) + rng.standard_normal((c * n, f))), np.repeat(np.arange(c), n)


def _within(values, target, extra=0.0):
    v = np.asarray(values)
    se = v.std(ddof=1) / np.sqrt(v.size)
    return abs(v.mean() - target) <= Z * se + extra, (v.mean(), target, se)


# ----------------------------------------------------------------------------- moments
def test_corrected_moments_unbiased_and_plugin_bias_is_the_derived_one():
    """Real samples: E||xbar_i - xbar_j||^2 = ||delta||^2 + F/n_i + F/n_j (derivation), removed by the correction."""
    rng = np.random.default_rng(0)
    f, n = 8, (12, 30)
    mu = np.zeros((2, f))
    mu[1, 0] = 1.0  # ||delta||^2 = 1; sampling bias F/12 + F/30 = 0.933, comparable to the signal
    plug, corr, d_corr = [], [], []
    for _ in range(600):
        x = np.r_[mu[0] + rng.standard_normal((n[0], f)), mu[1] + rng.standard_normal((n[1], f))]
        y = np.repeat([0, 1], n)
        acc = TaskAppropriatenessAccumulator().update(x, y)
        cnt, means, m2, _ = acc.group_statistics()
        intra, inter = corrected_moments(cnt[0], means[0], m2[0])
        plug.append(float(((means[0, 0] - means[0, 1]) ** 2).sum()))
        corr.append(inter[0, 1])
        d_corr.append(intra)
    ok, info = _within(plug, 1.0 + f / n[0] + f / n[1])
    assert ok, info
    ok, info = _within(corr, 1.0)
    assert ok, info
    ok, info = _within(np.asarray(d_corr)[:, 0], f)  # M2/(n-1) unbiased for tr Sigma = F
    assert ok, info
    # the check can fail: the uncorrected numerator is rejected by the same sampling interval
    assert not _within(plug, 1.0)[0]


def test_rho_from_statistics_matches_one_shot_and_is_scale_free():
    rng = np.random.default_rng(1)
    x, y = _gaussian_data(cluster_means("separated", 4, 6, 0.5), 25, rng)
    acc = TaskAppropriatenessAccumulator(n_groups=3, seed=0).update(x[::2], y[::2]).update(x[1::2], y[1::2])
    cnt, means, m2, _ = acc.group_statistics()
    pooled = pool_groups(cnt, means, m2)
    for corr in (False, True):
        ref = task_appropriateness(x, y, bias_correction=corr)
        assert ref.estimator == ("bias-corrected" if corr else "plug-in")
        for r in (rho_from_statistics(*pooled, bias_correction=corr), acc.result(bias_correction=corr),
                  task_appropriateness(x * 2.0 ** -700, y, bias_correction=corr, normalization="mean")):
            assert abs(r.rho / ref.rho - 1) < 1e-12  # same formula, different summation order
    # the correction moves rho by about 2/(n * rho_ij) relative: it must not be a no-op
    assert task_appropriateness(x, y, bias_correction=True).rho < 0.9 * task_appropriateness(x, y).rho


def test_gaussian_shortcut_matches_real_samples():
    """The exact-distribution draw of the statistics (used by the simulations) vs real samples."""
    mu = cluster_means("separated", 3, 8, 0.3)
    rng = np.random.default_rng(2)
    real, fast = [], []
    for _ in range(300):
        x, y = _gaussian_data(mu, 24, rng)
        real.append(task_appropriateness(x, y).rho)
        fast.append(rho_from_statistics(*pool_groups(*gaussian_group_statistics(mu, 24, 3, rng))).rho)
    real, fast = np.asarray(real), np.asarray(fast)
    se = np.sqrt(real.var(ddof=1) / real.size + fast.var(ddof=1) / fast.size)
    assert abs(real.mean() - fast.mean()) < Z * se
    assert 0.7 < fast.std() / real.std() < 1.4  # sd ratio of 300 vs 300: about +-8% per sd


# ----------------------------------------------------------------------------- bias by simulation
def test_two_classes_corrected_is_unbiased_plugin_is_not():
    """Two classes (no minimum): E rho_plug ~ (n rho + 2)/(n - 1) (derived), E rho_corrected = rho."""
    mu, n = cluster_means("two", rho=0.05), 100
    r = simulate(mu, n, reps=400, seed=3, intervals=False)
    assert abs(r["rho"] - 0.05) < 1e-12
    # the ratio's curvature adds O(1/(F n)) relative (3e-4 here): far below 4 standard errors
    assert abs(r["corrected"]["bias"]) <= Z * r["corrected"]["bias_se"], r["corrected"]
    assert abs(r["plug-in"]["mean"] - (n * 0.05 + 2) / (n - 1)) <= Z * r["plug-in"]["bias_se"], r["plug-in"]


def test_ten_separated_classes_corrected_bias_smaller():
    """Ten classes: the jackknife point's bias is smaller than the plug-in's, beyond both sampling intervals."""
    r = simulate(cluster_means("separated"), 100, reps=60, seed=4)
    p, c = r["plug-in"], r["corrected+jackknife"]
    assert abs(c["bias"]) + Z * c["bias_se"] < abs(p["bias"]) - Z * p["bias_se"], (p, c)


def test_corrected_interval_coverage_and_contains_point():
    m = 150
    r = simulate(cluster_means("separated"), 100, reps=m, seed=5)
    lo, hi = binom.interval(0.999, m, 0.95)
    assert lo / m <= r["interval_corrected"]["coverage"] <= 1.0, r["interval_corrected"]
    assert r["interval_corrected"]["contains_point"] == 1.0
    # the plug-in interval around the biased point does not cover (the defect the correction fixes)
    assert r["interval_plug-in"]["coverage"] < lo / m


def test_interval_contains_point_even_for_tiny_samples():
    rng = np.random.default_rng(6)
    for seed in range(20):
        n, xbar, m2 = gaussian_group_statistics(cluster_means("tie", 5, 16, 0.02), 12, 4, rng)
        iv = grouped_interval(n, xbar, m2, bias_correction=True)
        assert iv.low <= iv.estimate <= iv.high
        assert iv.method.endswith("bias-corrected")


def test_accumulator_interval_bias_corrected_covers_analytic():
    mu = cluster_means("separated", 4, 10, 0.2)
    x, y = _gaussian_data(mu, 400, np.random.default_rng(7))
    acc = TaskAppropriatenessAccumulator(n_groups=20, seed=0)
    for s in range(0, y.size, 300):
        acc.update(x[s:s + 300], y[s:s + 300])
    iv = acc.interval(0.99, bias_correction=True)
    assert iv.low <= gaussian_rho(mu) <= iv.high  # 99% interval: fails 1 seed in 100
    assert iv.low <= iv.estimate <= iv.high


def test_grouped_rho_jackknife_is_grouped_interval_of_its_cells():
    pytest.importorskip("torch")
    from rdtheory.vision.taps import GroupedRho, balanced_groups

    x, y = _gaussian_data(cluster_means("separated", 3, 6, 0.4), 40, np.random.default_rng(8))
    grp = balanced_groups(y, 4, 0)
    g = GroupedRho(n_groups=4).update(x[:70], y[:70], grp[:70]).update(x[70:], y[70:], grp[70:])
    cnt = np.array([[np.sum((grp == k) & (y == c)) for c in range(3)] for k in range(4)])
    means = np.array([[x[(grp == k) & (y == c)].mean(0) for c in range(3)] for k in range(4)])
    m2 = np.array([[((x[(grp == k) & (y == c)] - means[k, c]) ** 2).sum() for c in range(3)] for k in range(4)])
    ref = grouped_interval(cnt, means, m2)
    got = g.jackknife()
    assert abs(got.estimate / ref.estimate - 1) < 1e-10 and abs(got.high / ref.high - 1) < 1e-10


def test_rho_profile_bias_corrected_interval():
    torch = pytest.importorskip("torch")
    from rdtheory.vision.data import ImageArrays
    from rdtheory.vision.taps import rho_profile

    rng = np.random.default_rng(9)
    y = np.repeat(np.arange(4), 20)
    imgs = np.clip(rng.normal(120, 40, (80, 8, 8, 3)) + 30 * y[:, None, None, None], 0, 255).astype(np.uint8)
    data = ImageArrays(imgs, y, ("a", "b", "c", "d"), "synthetic")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten(), torch.nn.Linear(72, 4))
    prof = rho_profile(model, data, ["input", "0"], n_groups=4, progress=False, interval="bias-corrected")
    x01 = imgs.astype(np.float64) / 255.0
    assert abs(prof["input"].rho_plugin / task_appropriateness(x01, y).rho - 1) < 1e-9
    for r in prof.layers:
        assert r.low <= r.rho <= r.high and r.method.endswith("bias-corrected")
        assert r.rho < r.rho_plugin  # 20 images per class: the plug-in's upward bias dominates
    with pytest.raises(ValueError, match="interval must be"):
        rho_profile(model, data, ["input"], n_groups=4, progress=False, interval="percentile")


@pytest.mark.slow
def test_full_simulation_bias_and_coverage():
    """Every configuration, n = 40..1000, 400 data sets each: corrected intervals cover (ties: >= 0.85)."""
    m = 400
    lo, _ = binom.interval(0.999, m, 0.95)
    for cfg in ("two", "separated", "tie"):
        for n in (40, 300, 1000):
            r = simulate(cluster_means(cfg), n, reps=m, seed=n)
            cov = r["interval_corrected"]["coverage"]
            assert cov >= (lo / m if cfg != "tie" else 0.85), (cfg, n, cov)
            assert abs(r["corrected+jackknife"]["bias"]) < abs(r["corrected"]["bias"]) + Z * r["corrected"]["bias_se"]


# ----------------------------------------------------------------------------- errors
def test_bad_input():
    ok = ([3, 3], [[0.0, 1.0], [2.0, 1.0]], [1.0, 1.0])
    with pytest.raises(ValueError, match="same C classes"):
        rho_from_statistics([3, 3, 3], *ok[1:])
    with pytest.raises(ValueError, match="integers >= 2"):
        rho_from_statistics([1, 3], *ok[1:])
    with pytest.raises(ValueError, match="integers >= 2"):
        corrected_moments([2.5, 3], *ok[1:])
    with pytest.raises(ValueError, match="finite"):
        rho_from_statistics(ok[0], ok[1], [1.0, -1.0])
    with pytest.raises(ValueError, match="finite"):
        rho_from_statistics(ok[0], [[np.nan, 1.0], [2.0, 1.0]], ok[2])
    with pytest.raises(ValueError, match="at least two"):
        rho_from_statistics([3], [[0.0]], [1.0])
    with pytest.raises(ValueError, match="True or False"):
        rho_from_statistics(*ok, bias_correction="yes")
    with pytest.raises(ValueError, match="D\\^\\(i\\) is 0"):
        rho_from_statistics(ok[0], ok[1], [0.0, 1.0])
    with pytest.raises(ValueError, match="normalization"):
        rho_from_statistics(*ok, normalization="rms")
    with pytest.raises(ValueError, match="centroid='optimal'"):
        task_appropriateness(np.eye(4), [0, 0, 1, 1], distortion="absolute", bias_correction=True)
    with pytest.raises(ValueError, match="True or False"):
        task_appropriateness(np.eye(4), [0, 0, 1, 1], bias_correction=1)
    g = (np.full((2, 2), 3), np.zeros((2, 2, 2)) + [[[0.0, 0.0], [1.0, 0.0]]], np.ones((2, 2)))
    with pytest.raises(ValueError, match="G >= 2"):
        grouped_interval(g[0][:1], g[1][:1], g[2][:1])
    with pytest.raises(ValueError, match="counts \\(G, C\\)"):
        grouped_interval(g[0][0], g[1], g[2])
    with pytest.raises(ValueError, match="confidence"):
        grouped_interval(*g, confidence=1.5)
    with pytest.raises(ValueError, match="dropping group 0"):
        grouped_interval(np.array([[2, 2], [1, 3]]), g[1], g[2])
    with pytest.raises(ValueError, match="n_groups >= 2"):
        TaskAppropriatenessAccumulator().update(np.eye(4), [0, 0, 1, 1]).interval(bias_correction=True)
    with pytest.raises(ValueError, match="no batches"):
        TaskAppropriatenessAccumulator().group_statistics()
    with pytest.raises(ValueError, match="config"):
        cluster_means("ring")
    with pytest.raises(ValueError, match="rho must be > 0"):
        cluster_means("tie", rho=0.0)
    with pytest.raises(ValueError, match="n_features"):
        cluster_means("tie", 10, 4)
    with pytest.raises(ValueError, match="too small"):
        gaussian_group_statistics(np.eye(2, 3), 5, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="reps"):
        simulate(np.eye(2, 3), 10, reps=1)
