"""Plug-in R(D) from samples (:mod:`rdtheory.empirical.plugin`) and the entry point
:func:`rdtheory.empirical.estimate_rd`: known answers, the cap flag, bad input, seeds.

Known answers. For the m-ary source with Hamming distortion the empirical measure
:math:`\\hat p` has :math:`R_n(D) = H(\\hat p) - h(D) - D\\log_2(m-1)` whenever
:math:`D \\le (m-1)\\min\\hat p` (the Shannon lower bound is tight there), and the truth is
the same formula with :math:`H = \\log_2 m`. So the truth minus the plug-in is
:math:`\\log_2 m - H(\\hat p) \\ge 0`, and :math:`2 n \\ln 2\\,(\\log_2 m - H(\\hat p))` is
asymptotically :math:`\\chi^2_{m-1}` (the entropy's second-order expansion at the uniform
distribution): that is the sampling interval the tests use.
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest
import jax.numpy as jnp
from scipy import stats

from rdtheory.discrete import closed_form
from rdtheory.empirical import (BernoulliSource, GaussianSource, LaplaceSource, SymmetricSource, UniformSource,
                                estimate_rd, known_methods, split_samples)
from rdtheory.empirical.plugin import CAP_MARGIN_BITS, CappedWarning, _cap, plugin_rd, reproduction_atoms
from rdtheory.info import entropy

BETAS_HAMMING = [1.0, 2.0, 4.0]   # nats: D = 0.52, 0.29, 0.05 for m = 4, all <= (m-1) min p_hat


def _fit_part(x, holdout=0.5, seed=0):
    return split_samples(x, holdout, seed)[0]


def _h(D):
    return float(-D * np.log2(D) - (1 - D) * np.log2(1 - D))


@pytest.fixture(scope="module")
def mary():
    m, n = 4, 4000
    x = SymmetricSource(m).sample(n, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CappedWarning)   # a covered alphabet is never capped
        fit = plugin_rd(x, "hamming", betas=BETAS_HAMMING, seed=3)
    counts = np.bincount(_fit_part(x, seed=3).ravel().astype(int), minlength=m)
    return m, fit, counts / counts.sum()


def test_mary_plugin_is_the_empirical_measures_exact_rd(mary):
    # R_n(D) = H(p_hat) - h(D) - D log2(m-1) exactly; the engine brackets it within its certified gap
    m, fit, p_hat = mary
    emp = fit.empirical
    assert emp.kind == "plug-in" and emp.level == 1.0
    assert np.all(emp.distortion <= (m - 1) * p_hat.min())      # the identity's range
    exact = np.array([entropy(p_hat) - _h(D) - D * math.log2(m - 1) for D in emp.distortion])
    lo, hi = emp.interval[:, 0], emp.interval[:, 1]
    assert np.all(hi - lo <= 1e-6)                               # tol of plugin_rd
    assert np.all((lo - 1e-9 <= exact) & (exact <= hi + 1e-9))
    # a shift of 1e-5 bits (ten times the gap) is caught
    assert not np.all((lo - 1e-9 <= exact + 1e-5) & (exact + 1e-5 <= hi + 1e-9))


def test_mary_plugin_against_the_truth_within_the_chi2_interval(mary):
    m, fit, p_hat = mary
    emp = fit.empirical
    truth = closed_form.mary_hamming(emp.distortion, m)
    n_fit = emp.n_fit
    # truth - R_n = log2 m - H(p_hat) >= 0 (H <= log m), up to the certified gap
    assert np.all(truth - emp.interval[:, 1] >= -1e-9)
    # and 2 n ln2 (truth - R_n) <= chi2_{m-1} 0.999-quantile (sampling interval, 1 in 1000 false alarm)
    bound = stats.chi2.ppf(0.999, m - 1) / (2 * n_fit * math.log(2))
    assert np.all(truth - emp.interval[:, 0] <= bound)
    # the interval is not vacuous: a plug-in biased low by 2x the bound would fail it
    assert not np.all(truth - (emp.interval[:, 0] - 2 * bound) <= bound)


def test_bernoulli_plugin_within_the_binomial_interval():
    # R_n(D) = h(p_hat) - h(D) for D < min(p_hat, 1-p_hat); the truth uses p = 0.3. With p_hat
    # in its Clopper-Pearson 0.999 interval [a, b] (h increasing below 1/2), h(a) - h(D) <= truth <= h(b) - h(D)
    src = BernoulliSource(0.3)
    x = src.sample(3000, seed=2)
    fit = plugin_rd(x, "hamming", betas=[1.5, 3.0], seed=0)
    emp = fit.empirical
    k = int(_fit_part(x).sum())
    n = emp.n_fit
    a, b = stats.beta.ppf(0.0005, k, n - k + 1), stats.beta.ppf(0.9995, k + 1, n - k)
    for D, lo, hi in zip(emp.distortion, emp.interval[:, 0], emp.interval[:, 1]):
        assert D < min(a, 1 - b)
        assert lo - 1e-9 <= _h(k / n) - _h(D) <= hi + 1e-9          # the empirical measure, exactly
        assert _h(a) - _h(D) - 1e-9 <= src.rd(D) <= _h(b) - _h(D) + 1e-9


SOURCES = {"gauss-1d": GaussianSource((1.0,)), "gauss-2d": GaussianSource((1.0, 0.25)),
           "laplace": LaplaceSource(2.0), "uniform": UniformSource(1.0, 1)}


@functools.lru_cache(maxsize=None)
def _fit_source(name):
    src = SOURCES[name]
    x = src.sample(600, seed=11)
    with pytest.warns(CappedWarning, match="ceiling"):   # the default grid runs into the cap
        fit = plugin_rd(x, src.distortion, num=10, level=0.99, seed=1)
    return src, x, fit


@pytest.fixture(params=list(SOURCES))
def fitted(request):
    return _fit_source(request.param)


@pytest.fixture
def gaussian():
    return _fit_source("gauss-1d")


def test_heldout_upper_bound_is_above_the_truth(fitted):
    # R(E d) <= E KL for the true source; with both means in their 0.99 intervals and R
    # decreasing: R(d_hi) <= R(E d) <= E KL <= rate_hi. For the uniform source only the
    # Shannon lower bound of R is known: the check is against it.
    src, _, fit = fitted
    up = fit.upper
    assert up.kind == "upper" and up.n_eval == 300 and up.n_fit == 300
    d_lo, d_hi = np.array(up.info["distortion_interval"]).T
    truth_hi = src.rd_bounds(d_hi)[0]
    assert np.all(truth_hi <= up.interval[:, 1] + 1e-12)
    # the check can fail: a truth 0.3 bits higher breaks it at some point (the bound is tight)
    assert not np.all(truth_hi + 0.3 <= up.interval[:, 1] + 1e-12)
    # not vacuous: below 3 bits (far from the 8.2-bit ceiling) the bound is within 0.25 bits
    # of the truth (for the uniform: of its Gaussian upper bound) at the lower end of the
    # distortion interval (measured: <= 0.1)
    mid = up.rate < 3
    assert mid.sum() >= 3
    assert np.all(up.rate[mid] - src.rd_bounds(d_lo[mid])[1] <= 0.25)


def test_cap_flag_fires_near_the_ceiling_only(gaussian):
    _, x, fit = gaussian
    ceiling = math.log2(300)
    for b in (fit.upper, fit.empirical):
        assert b.info["ceiling_bits"] == ceiling
        assert np.array_equal(b.capped, b.rate >= ceiling - CAP_MARGIN_BITS)
        assert b.capped.any() and not b.capped.all()
    with warnings.catch_warnings():  # slopes that stay under the margin: no flag, no warning
        warnings.simplefilter("error", CappedWarning)
        low = plugin_rd(x, "squared", betas=fit.upper.beta[:3], level=0.99, seed=1)
    assert not low.upper.capped.any() and not low.empirical.capped.any()


def test_cap_margin_boundary():
    c = 8.0
    assert _cap([c - CAP_MARGIN_BITS], c, CAP_MARGIN_BITS, False)[0]
    assert not _cap([c - CAP_MARGIN_BITS - 1e-9], c, CAP_MARGIN_BITS, False)[0]
    assert not _cap([c], c, CAP_MARGIN_BITS, True)[0]        # alphabet covers the held-out samples


def test_estimate_rd_returns_the_heldout_bound_with_the_plugin_curve():
    x = BernoulliSource(0.3).sample(400, seed=1)
    b = estimate_rd(x, "hamming", betas=[3.0], progress=False)
    assert b.method == "plugin" and b.kind == "upper"
    assert [r["kind"] for r in b.info["empirical"]] == ["plug-in"]


def test_seeded_runs_are_bit_identical_and_seeds_matter(gaussian):
    _, x, fit = gaussian
    kw = dict(betas=fit.upper.beta[:2], level=0.99, progress=False)
    a, b = (estimate_rd(x, seed=1, **kw) for _ in range(2))
    c = estimate_rd(x, seed=2, **kw)
    for f in ("rate", "distortion", "interval"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    assert a.info["empirical"] == b.info["empirical"]
    assert not np.array_equal(a.rate, c.rate)


def test_kmeans_and_subset_alphabets_are_seeded():
    x = GaussianSource((1.0, 0.5)).sample(200, seed=0)
    for alphabet in ("kmeans", "subset"):
        a, b, c = (reproduction_atoms(x, alphabet, 16, seed) for seed in (3, 3, 4))
        assert a.shape == (16, 2) and np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.slow
def test_targets_certified_on_the_empirical_measure():
    x = SymmetricSource(4).sample(1000, seed=3)
    fit = plugin_rd(x, "hamming", distortions=[0.1, 0.3], seed=0)
    emp = fit.empirical
    assert np.allclose(emp.distortion, [0.1, 0.3], atol=1e-12)
    assert np.all(emp.interval[:, 1] - emp.interval[:, 0] <= 1e-6)


# ---- bad input ----

def _not_a_point_function(x, y):
    return jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, -1) / jnp.sum(x ** 2)


@pytest.mark.parametrize("samples, kw, says", [
    (np.zeros((0, 1)), {}, "empty"),
    (np.zeros((1, 1)), {}, "at least 2"),
    (np.array([[0.0], [np.nan], [1.0], [2.0]]), {}, "NaN"),
    (np.zeros((4, 2, 2)), {}, "dimension"),
    (np.arange(3.0), {}, "each needs at least 2"),
    (np.arange(8.0), dict(method="nope"), "known methods: .*plugin"),
    (np.arange(8.0), dict(distortion="cosine"), "distortion must be one of"),
    (np.arange(8.0), dict(distortion=_not_a_point_function), "not a function of the two points"),
    (np.arange(8.0), dict(distortion=lambda x, y: x), "shape"),
    (np.arange(8.0), dict(holdout=1.0), "holdout"),
    (np.arange(8.0), dict(level=0.0), "level"),
    (np.arange(8.0), dict(seed=-1), "seed"),
    (np.arange(8.0), dict(betas=[1.0, -1.0]), "betas"),
    (np.arange(8.0), dict(alphabet="grid"), "alphabet must be one of"),
    (np.arange(8.0), dict(alphabet=np.zeros((3, 2))), "dimension 2 but 1"),
    (np.arange(8.0), dict(alphabet="kmeans", n_atoms=99), "n_atoms"),
    (np.arange(8.0), dict(betas=[1.0], distortions=[0.1]), "not both"),
    (np.arange(8.0), dict(alphabet="kmeans", n_atoms=2, distortions=[0.0]), "D_min"),
])
def test_bad_input_is_a_clear_value_error(samples, kw, says):
    kw = dict(kw)
    method = kw.pop("method", "plugin")
    distortion = kw.pop("distortion", "squared")
    with pytest.raises(ValueError, match=says):
        estimate_rd(samples, distortion, method, progress=False, **kw)


def test_known_methods_lists_the_planned_estimators():
    assert {"plugin", "shannon", "dual", "lcb", "wgd", "neural"} <= set(known_methods())


# ---- the registry ----

def test_a_registered_method_gets_validated_input(monkeypatch):
    from rdtheory.empirical import RDBound, estimate
    seen = {}

    def fake(x, distortion, *, betas, holdout, level, seed, progress, **options):
        seen.update(x=x, betas=betas, options=options)
        return RDBound(method="fake", kind="lower", distortion=[0.1], rate=[1.0], interval=[[0.9, 1.1]],
                       level=level, beta=[np.nan], capped=[False], n_fit=2, n_eval=2)

    monkeypatch.setitem(estimate.METHODS, "fake", None)
    estimate.register_method("fake")(fake)
    b = estimate_rd([1.0, 2.0, 3.0, 4.0], method="fake", betas=2.0, extra=1)
    assert b.method == "fake" and seen["x"].shape == (4, 1) and seen["x"].dtype == np.float64
    assert seen["betas"].tolist() == [2.0] and seen["options"] == {"extra": 1}
    assert "fake" in known_methods()


def test_a_method_must_return_an_rdbound(monkeypatch):
    from rdtheory.empirical import estimate

    monkeypatch.setitem(estimate.METHODS, "bad", lambda x, d, **kw: {"rate": 1.0})
    with pytest.raises(TypeError, match="not an RDBound"):
        estimate_rd(np.arange(4.0), method="bad")


def test_a_method_whose_module_is_missing_says_so(monkeypatch):
    from rdtheory.empirical import estimate

    monkeypatch.setitem(estimate.METHOD_MODULES, "future", "rdtheory.empirical._not_written_yet")
    with pytest.raises(ValueError, match="'future' is not available.*available: .*plugin"):
        estimate_rd(np.arange(4.0), method="future")


def test_tiled_path_matches_dense_within_certified_gaps(monkeypatch):
    """Beyond DENSE_MAX_ENTRIES the plug-in solves on the matrix-free path. Both answers
    certify the same empirical measure's R(D) at the same slopes: the Lagrangian
    F = R + beta D / ln 2 (bits) is pinned to within each solve's certified gap (tol = 1e-6
    bits), while R and D alone may slide along the supporting line, so they are not compared."""
    from rdtheory.empirical import plugin
    from rdtheory.info import LN2

    x = np.random.default_rng(3).normal(size=(150, 1))
    betas = np.array([0.8, 3.0])
    dense = plugin._solve_atoms(x, x, "squared", betas=betas, tol=1e-6)
    monkeypatch.setattr(plugin, "DENSE_MAX_ENTRIES", 100)
    tiled = plugin._solve_atoms(x, x, "squared", betas=betas, tol=1e-6)
    assert np.all(dense.converged) and np.all(tiled.converged)
    f = lambda s: s.rate + s.beta * s.distortion / LN2  # noqa: E731
    np.testing.assert_allclose(f(tiled), f(dense), atol=2e-6)
    assert np.all(tiled.lower <= tiled.rate) and np.all(dense.lower <= dense.rate)
