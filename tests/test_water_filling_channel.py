"""Known answers of :mod:`rdtheory.empirical.water_filling`: the water-filling test channel on a
synthetic Gaussian reproduces R_G(D) and D in expectation, the bound holds for a non-Gaussian
source in a non-optimal basis, the block basis is orthonormal, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rdtheory.empirical.sources import GaussianSource
from rdtheory.empirical.water_filling import (BlockBasis, channel_gains, gaussian_curve, heldout_terms,
                                              levels_for_rates, sample_channel)

Z = stats.norm.ppf(0.9995)   # two-sided 0.999 sampling intervals: 1 false alarm in 1000 per check
V = np.array([4.0, 1.0, 0.25, 0.01, 0.0])


def _half(x):
    return Z * x.std(ddof=1) / math.sqrt(x.size)


def test_gaussian_curve_is_the_sources_water_filling():
    # R_G(theta) at the level of D equals GaussianSource.rd(D) (the reverse water-filling of sources.py)
    src = GaussianSource(tuple(V))
    for r in (0.5, 2.0, 7.0):
        theta = levels_for_rates(V, [r])
        rate, dist = gaussian_curve(V, theta)
        assert math.isclose(rate[0], r, rel_tol=1e-9)
        assert math.isclose(src.rd(dist[0]), r, rel_tol=1e-9)


def test_channel_on_its_own_gaussian_gives_rd_and_d_in_expectation():
    # coefficients ~ N(0, v): E r_i = R_G(theta) and E d_i = D(theta) exactly, so the sample means sit
    # within their sampling intervals of the analytic values; the realised error of a draw too
    rng = np.random.default_rng(1)
    c = rng.standard_normal((200_000, V.size)) * np.sqrt(V)
    th = np.array([0.005, 0.1, 0.6, 2.0])
    rate, dist = heldout_terms(c, V, th)
    r_g, d_g = gaussian_curve(V, th)
    for t in range(th.size):
        assert abs(rate[:, t].mean() - r_g[t]) <= _half(rate[:, t]), t
        assert abs(dist[:, t].mean() - d_g[t]) <= _half(dist[:, t]), t
        err = np.square(c - sample_channel(c, V, th[t], rng.standard_normal(c.shape))).sum(1)
        assert abs(err.mean() - d_g[t]) <= _half(err), t


def test_mutual_information_of_the_gaussian_channel_is_r_g():
    # per coefficient, a c + s z with c ~ N(0, v) has I = 1/2 log2(v / theta): the correlation of c and c_hat
    # gives I = -1/2 log2(1 - corr^2); compared with the analytic value within a Fisher-z interval
    rng = np.random.default_rng(2)
    v, theta, n = 4.0, 0.3, 100_000
    c = rng.standard_normal((n, 1)) * 2.0
    ch = sample_channel(c, [v], theta, rng.standard_normal((n, 1)))
    r = np.corrcoef(c[:, 0], ch[:, 0])[0, 1]
    lo, hi = np.tanh(np.arctanh(r) + np.array([-Z, Z]) / math.sqrt(n - 3))
    info = lambda rr: -0.5 * math.log2(1 - rr ** 2)  # noqa: E731
    assert info(lo) <= 0.5 * math.log2(v / theta) <= info(hi)


def test_tangent_rate_bounds_the_channel_rate_for_other_second_moments():
    # held-out second moments w != v: the mean of r_i (tangent at v) is >= the channel's rate bound at w
    # (concavity), and equal to first order; checked on exact expectations (c^2 replaced by w)
    w = V * np.array([1.3, 0.7, 1.0, 2.0, 1.0])
    th = np.array([0.05, 0.5])
    rate, dist = heldout_terms(np.sqrt(w)[None, :], V, th)
    for t, theta in enumerate(th):
        a, s2 = channel_gains(V, theta)
        exact = 0.5 * np.log2(1 + a * w / theta).sum()
        assert rate[0, t] >= exact - 1e-12
        assert math.isclose(dist[0, t], float(((1 - a) ** 2 * w + s2).sum()), rel_tol=1e-12)
    same, _ = heldout_terms(np.sqrt(V)[None, :], V, th)
    assert np.allclose(same[0], gaussian_curve(V, th)[0], rtol=1e-12)


def test_block_basis_is_orthonormal_and_diagonalises_per_frequency():
    rng = np.random.default_rng(3)
    mix = rng.normal(size=(3, 3))
    x = np.einsum("cd,nd...->nc...", mix, rng.normal(size=(4000, 3, 4, 6))) + 1.5
    b = BlockBasis((3, 4, 6)).update(x[:2000]).update(x[2000:]).fit()
    y = rng.normal(size=(5, 3, 4, 6))
    c = b.forward(y)
    # orthonormal: norms of centred features are kept, inverse(forward) is the identity (float64 round-off)
    cen = np.asarray(b.inverse(np.zeros((1, c.shape[1]))))
    assert np.allclose(np.square(c).sum(1), np.square(y - cen).sum((1, 2, 3)), rtol=1e-10)
    assert np.allclose(b.inverse(c), y, atol=1e-12)
    # training coefficients: mean 0 and covariance diag(variances) within each frequency (exact on the fit data)
    cx = b.forward(x).reshape(4000, 24, 3)
    assert np.allclose(cx.mean(0), 0, atol=1e-10)
    cov = np.einsum("nfc,nfd->fcd", cx, cx) / 4000
    assert np.allclose(cov, np.einsum("fc,cd->fcd", b.variances.reshape(24, 3), np.eye(3)), atol=1e-9)


def test_flat_block_basis_is_pca():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 5)) @ rng.normal(size=(5, 5))
    b = BlockBasis((5, 1, 1)).update(x[:, :, None, None]).fit()
    assert np.allclose(np.sort(b.variances), np.linalg.eigvalsh(np.cov(x.T, bias=True)), rtol=1e-9)


@pytest.mark.parametrize("call, match", [
    (lambda: heldout_terms(np.ones((3, 4)), V, 0.1), "columns"),
    (lambda: heldout_terms(np.ones((3, 5)), V, 0.0), "theta"),
    (lambda: heldout_terms(np.full((3, 5), np.nan), V, 0.1), "NaN"),
    (lambda: gaussian_curve([-1.0, 1.0], 0.1), "variances"),
    (lambda: levels_for_rates(V, [0.0]), "rates"),
    (lambda: sample_channel(np.ones((2, 5)), V, 0.1, np.ones((3, 5))), "same shape"),
    (lambda: channel_gains(V, [0.1, 0.2]), "single"),
    (lambda: BlockBasis((3, 4)), "shape"),
    (lambda: BlockBasis((2, 2, 2)).fit(), "at least 2"),
    (lambda: BlockBasis((2, 2, 2)).update(np.ones((3, 2, 2, 3))), "features must be"),
    (lambda: BlockBasis((2, 2, 2)).forward(np.ones((1, 2, 2, 2))), "fit"),
])
def test_bad_input_is_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_flat_inverse_skips_zero_columns_exactly():
    rng = np.random.default_rng(5)
    b = BlockBasis((6, 1, 1)).update(rng.normal(size=(500, 6, 1, 1)) * np.arange(1, 7)[:, None, None]).fit()
    c = rng.normal(size=(4, 6))
    c[:, [0, 2, 3]] = 0.0
    full = b.rotations[0] @ c.T + b.mean[0][:, None]
    assert np.allclose(b.inverse(c)[:, :, 0, 0], full.T, atol=1e-12)


def test_docstring_examples_run():
    import doctest

    from rdtheory.empirical import water_filling

    res = doctest.testmod(water_filling)
    assert res.attempted >= 3 and res.failed == 0
