"""Known answers of :mod:`rdtheory.empirical.sources`: each R(D) against an independent
closed form, samples against their distribution within a sampling interval, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rdtheory.discrete import closed_form
from rdtheory.empirical.sources import (BernoulliSource, GaussianSource, LaplaceSource, SymmetricSource,
                                        UniformSource, low_rank_gaussian, nerd_gaussian, random_rotation,
                                        water_filling_level)

Z = stats.norm.ppf(0.9995)   # two-sided 0.999 sampling intervals: 1 false alarm in 1000 per check


def test_gaussian_1d_is_the_closed_form():
    D = np.array([0.01, 0.3, 0.99, 2.0])
    assert np.allclose(GaussianSource((2.0,)).rd(D), closed_form.gaussian_squared(D, 2.0), rtol=0, atol=1e-14)


def test_equal_variances_split_the_distortion_evenly():
    # k equal components: theta = D/k, R = k/2 log2(k sigma^2 / D)
    k, D = 5, 0.7
    assert math.isclose(GaussianSource((1.5,) * k).rd(D), 0.5 * k * math.log2(k * 1.5 / D), rel_tol=1e-13)


def test_water_filling_leaves_small_components_dry():
    # variances (1, 0.01), D = 0.5: the small one is under the level (contributes 0.01), theta = 0.49
    src = GaussianSource((1.0, 0.01))
    assert math.isclose(float(water_filling_level(src.variances, 0.5)), 0.49, rel_tol=1e-13)
    assert math.isclose(src.rd(0.5), 0.5 * math.log2(1 / 0.49), rel_tol=1e-13)
    # a perturbed level is not a solution
    assert not math.isclose(src.rd(0.5), 0.5 * math.log2(1 / 0.4901), rel_tol=1e-6)


def test_distortion_rate_inverts_rate_distortion():
    src = nerd_gaussian()
    R = np.array([0.5, 8.4, 10.6, 20.0])
    assert np.allclose(src.rd(src.dr(R)), R, rtol=0, atol=1e-9)
    assert src.dr(0.0) == pytest.approx(sum(src.variances), rel=1e-14) and src.rd(sum(src.variances)) == 0.0


def test_nerd_source_is_the_papers():
    src = nerd_gaussian(rotation_seed=0)
    k = np.arange(40)
    assert src.dim == 40 and np.allclose(np.sqrt(src.variances), 2 * np.exp(-k / 2), rtol=1e-15)
    rot = src.rotation
    assert np.allclose(rot @ rot.T, np.eye(40), atol=1e-12) and not np.allclose(rot, np.eye(40))


def test_rotated_samples_have_the_rotated_covariance():
    src = GaussianSource((4.0, 1.0, 0.25), rotation_seed=3)
    x = src.sample(20_000, seed=1)
    cov = src.rotation @ np.diag(src.variances) @ src.rotation.T
    # each entry of the sample covariance has sd sqrt((S_ii S_jj + S_ij^2)/n)
    sd = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / x.shape[0])
    assert np.all(np.abs(np.cov(x.T) - cov) <= Z * sd)


def test_low_rank_gaussian():
    src = low_rank_gaussian(3, 100, variance=2.0, rotation_seed=1)
    assert math.isclose(src.rd(0.3), 1.5 * math.log2(3 * 2.0 / 0.3), rel_tol=1e-13)
    x = src.sample(50, seed=0)
    assert x.shape == (50, 100) and np.linalg.matrix_rank(x) == 3


def test_laplace_rd_and_samples():
    src = LaplaceSource(alpha=2.0)
    assert src.rd(0.5) == 0.0 and math.isclose(src.rd(0.25), 1.0) and math.isclose(src.rd(0.05), math.log2(10))
    a = np.abs(src.sample(20_000, seed=0))
    # |X| ~ Exp(alpha): mean 1/alpha, sd 1/alpha
    assert abs(a.mean() - 0.5) <= Z * 0.5 / math.sqrt(a.size)


def test_uniform_bracket():
    src = UniformSource(width=2.0, dim=3)
    lo, hi = src.rd_bounds(0.01)
    # the bracket's width is k/2 log2(2 pi e / 12) bits at every D where both are positive
    assert math.isclose(hi - lo, 1.5 * math.log2(2 * math.pi * math.e / 12), rel_tol=1e-12)
    assert math.isclose(lo, 3 * math.log2(2.0) - 1.5 * math.log2(2 * math.pi * math.e * 0.01 / 3), rel_tol=1e-13)
    x = src.sample(1000, seed=0)
    assert x.min() >= 0 and x.max() < 2.0
    with pytest.raises(ValueError, match="rd_bounds"):
        src.rd(0.1)


def test_exact_sources_bracket_is_a_point():
    lo, hi = BernoulliSource(0.2).rd_bounds(0.1)
    assert lo == hi == closed_form.binary_hamming(0.1, 0.2)


@pytest.mark.parametrize("src, mean", [(BernoulliSource(0.3), 0.3), (SymmetricSource(5), 2.0)])
def test_discrete_samples(src, mean):
    x = src.sample(10_000, seed=4)
    assert x.shape == (10_000, 1) and set(np.unique(x)) <= set(range(getattr(src, "m", 2)))
    assert abs(x.mean() - mean) <= Z * x.std() / math.sqrt(x.size)
    assert np.array_equal(x, src.sample(10_000, seed=4)) and not np.array_equal(x, src.sample(10_000, seed=5))


def test_symmetric_rd_is_the_closed_form():
    assert SymmetricSource(4).rd(0.2) == closed_form.mary_hamming(0.2, 4)


def test_random_rotation_is_orthogonal():
    q = random_rotation(6, 0)
    assert np.allclose(q.T @ q, np.eye(6), atol=1e-13)


@pytest.mark.parametrize("make, says", [
    (lambda: BernoulliSource(1.0), "p must be"),
    (lambda: SymmetricSource(1), "m must be"),
    (lambda: GaussianSource((1.0, -1.0)), "variances"),
    (lambda: GaussianSource((0.0, 0.0)), "variances"),
    (lambda: GaussianSource((1.0,), rotation_seed=-1), "seed"),
    (lambda: low_rank_gaussian(5, 3), "rank <= dim"),
    (lambda: LaplaceSource(0.0), "alpha"),
    (lambda: UniformSource(1.0, 0), "dim"),
    (lambda: BernoulliSource().sample(0), "n must be"),
    (lambda: BernoulliSource().sample(5, seed=-2), "seed"),
    (lambda: GaussianSource((1.0,)).rd(-0.1), "D must be"),
    (lambda: GaussianSource((1.0,)).rd(np.nan), "NaN"),
    (lambda: GaussianSource((1.0,)).dr(-1.0), "R must be"),
])
def test_bad_input(make, says):
    with pytest.raises(ValueError, match=says):
        make()


def test_docstring_examples():
    import doctest

    from rdtheory.empirical import estimate, sources

    for mod in (sources, estimate):
        result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, mod.__name__
