"""Lower bounds on R(D) from samples: Shannon lower bound, Csiszár's dual, the finite-n LCB.

Known answers: the SLB is tight for a Gaussian under squared error and for a Laplace source
under absolute error (D <= 1/alpha); Bernoulli/Hamming has R = h(p) - h(D); the uniform
source on a box has R(D) >= SLB computed exactly from its density.
"""
import math

import numpy as np
import pytest

from rdtheory.discrete import closed_form
from rdtheory.empirical import RDBound
from rdtheory.empirical.lcb import bernstein_lower, box_sup, dual_lcb, kl_upper
from rdtheory.empirical.dual import dual_bound, log_mean_kernel
from rdtheory.empirical.lower import kl_entropy, shannon_lower_bound

BINARY = [[0.0], [1.0]]
# every LCB/dual test uses n = 2000 so the BA fit compiles once per number of slopes
N = 2000


def _bernoulli(n, seed, p=0.2):
    return (np.random.default_rng(seed).random((n, 1)) < p).astype(float)


# ------------------------------------------------------------------ Shannon lower bound

def test_slb_gaussian_is_tight_and_interval_covers():
    # R(D) = 0.5 log2(1/D) for N(0, 1): the SLB equals it, so the interval must contain it.
    # One seeded draw: level 0.999 (a 95% interval misses 1 seed in 20; measured coverage is
    # tested below). 0.1 bits is ~2 half-widths at n = 20000, so a shifted truth must fall out
    x = np.random.default_rng(0).normal(size=(20000, 1))
    D = np.array([0.1, 0.5])
    r = shannon_lower_bound(x, D, level=0.999)
    truth = 0.5 * np.log2(1 / D)
    assert isinstance(r, RDBound) and r.kind == "lower" and r.method == "shannon"
    assert np.all((r.interval[:, 0] <= truth) & (truth <= r.interval[:, 1]))
    assert np.all((r.interval[:, 1] < truth + 0.1))


def test_slb_two_dimensional_uses_total_distortion():
    # iid N(0,1)^2 at total D = 0.2 (0.1 per coordinate): R = 2 * 0.5 log2(10) = log2(10)
    x = np.random.default_rng(1).normal(size=(20000, 2))
    r = shannon_lower_bound(x, 0.2, level=0.999)   # one seeded draw (see the Gaussian test)
    assert r.interval[0, 0] <= math.log2(10) <= r.interval[0, 1]


def test_slb_laplace_absolute_error_is_tight():
    # density alpha/2 exp(-alpha |x|): R(D) = -log2(alpha D) for D <= 1/alpha
    alpha = 2.0
    x = np.random.default_rng(2).laplace(scale=1 / alpha, size=(20000, 1))
    D = np.array([0.05, 0.2, 0.5])
    r = shannon_lower_bound(x, D, "absolute", level=0.999)   # one seeded draw
    truth = -np.log2(alpha * D)
    assert np.all((r.interval[:, 0] <= truth) & (truth <= r.interval[:, 1]))


def test_kl_entropy_interval_coverage():
    # 100 seeded Gaussians at n = 500: nominal 95%; 0.88 is 3 binomial sd below it
    h = 0.5 * math.log2(2 * math.pi * math.e)
    hits = [kl_entropy(np.random.default_rng(s).normal(size=500), seed=s).interval for s in range(100)]
    cover = np.mean([lo <= h <= hi for lo, hi in hits])
    assert cover >= 0.88


# ------------------------------------------------------------------ concentration pieces

def test_kl_upper_closed_form_at_zero_mean():
    # mean 0: kl(0||p) = -log(1-p) <= log(1/delta)/n  <=>  p <= 1 - delta^(1/n)
    n, delta = 50, 0.05
    assert kl_upper(0.0, 1.0, n, delta) == pytest.approx(1 - delta ** (1 / n), rel=1e-9)
    assert kl_upper(0.0, 3.0, n, delta) == pytest.approx(3 * (1 - delta ** (1 / n)), rel=1e-9)


def test_kl_upper_and_bernstein_coverage():
    # Bernoulli(0.3), n = 50, 2000 repetitions: each bound must hold in >= 95% - 3 sd (1.5%)
    rng = np.random.default_rng(3)
    z = (rng.random((2000, 50)) < 0.3).astype(float)
    up = np.mean([kl_upper(v.mean(), 1.0, 50, 0.05) >= 0.3 for v in z])
    lo = np.mean([bernstein_lower(v, 1.0, 0.05) <= 0.3 for v in z])
    assert up >= 0.935 and lo >= 0.935


def test_bernstein_constant_values():
    # zero variance: only the range term 7 b log(2/delta) / (3 (n - 1)) remains
    v = np.full(101, 0.5)
    assert bernstein_lower(v, 1.0, 0.1) == pytest.approx(0.5 - 7 * math.log(20) / 300)


def test_box_sup_bounds_the_dense_maximum_tightly():
    # the branch-and-bound value must be >= log g(y) everywhere on (and outside) the box, and
    # within the cell slack: radius eps / sqrt(beta) changes the kernel by < 2 eps sqrt(beta) r
    rng = np.random.default_rng(4)
    x = rng.random((400, 1))
    log_lam = rng.random(400)
    beta = 200.0
    val, depth, _ = box_sup(x, log_lam, beta, [0.0], [1.0], "squared", eps=0.01)
    ys = np.linspace(-0.5, 1.5, 4001)[:, None]
    dense = float(np.max(log_mean_kernel(ys, x, log_lam, beta)))
    assert dense <= val <= dense + 0.05


# ------------------------------------------------------------------ dual bound

def test_dual_bound_below_bernoulli_truth():
    # exact supremum over the binary alphabet: the estimate is asymptotically a lower bound;
    # its interval's lower end must lie below h(p) - h(D)
    r = dual_bound(_bernoulli(N, 5), [0.02, 0.05], "hamming", betas=[3.9, 2.9], reproduction=BINARY)
    truth = closed_form.binary_hamming(r.distortion, 0.2)
    assert np.all(r.interval[:, 0] <= truth)
    assert np.all(r.rate <= truth + (r.interval[:, 1] - r.interval[:, 0]) / 2)
    assert np.all(r.rate > truth - 0.25)      # and not trivial (measured 0.15 bits under at n = 2000)


def test_dual_bound_gaussian_below_truth():
    # N(0,1), squared error: 0.5 log2(1/D) at the held-out channel distortion
    x = np.random.default_rng(6).normal(size=(4 * N, 1))
    r = dual_bound(x, betas=[1.0, 5.0])
    truth = 0.5 * np.log2(1 / r.distortion)
    assert np.all(r.interval[:, 0] <= truth)
    assert np.all(r.rate > truth - 0.4)       # measured 0.06-0.2 bits under at n = 4000


# ------------------------------------------------------------------ lower confidence bound

def test_lcb_coverage_bernoulli_fast():
    # 20 repetitions at delta = 0.05: Binomial(20, 0.05) >= 4 failures has probability 1.6%
    D = np.array([0.02, 0.05])
    truth = closed_form.binary_hamming(D, 0.2)
    fails = sum(np.any(dual_lcb(_bernoulli(N, 100 + s), D, "hamming", reproduction=BINARY, seed=s).rate > truth)
                for s in range(20))
    assert fails <= 3


def test_lcb_uniform_below_exact_slb_and_informative():
    # uniform [0,1], squared error: R(D) >= SLB = -0.5 log2(2 pi e D) exactly; near D -> 0 the
    # SLB is tight, so an LCB above it would be suspicious; and it must say something (> 0.3 bits)
    x = np.random.default_rng(7).random((N, 1))
    D = np.array([0.001, 0.005])
    r = dual_lcb(x, D, support=(0.0, 1.0))
    slb = -0.5 * np.log2(2 * math.pi * math.e * D)
    assert r.kind == "lower" and r.level == pytest.approx(0.95) and r.method == "lcb"
    assert np.all(r.rate <= slb) and np.all(r.rate > 0.3)
    assert np.array_equal(r.interval[:, 0], r.rate) and np.all(np.isnan(r.interval[:, 1]))


def test_lcb_grows_with_n():
    # the penalties shrink like n^-1/2: 8x the samples must raise the bound
    D = [0.02, 0.05]
    small = dual_lcb(_bernoulli(N, 8), D, "hamming", reproduction=BINARY).rate[0]
    large = dual_lcb(_bernoulli(8 * N, 8), D, "hamming", reproduction=BINARY).rate[0]
    assert large > small + 0.05


def test_seeded_bit_identical():
    x = np.random.default_rng(9).random((N, 1))
    a = dual_lcb(x, [0.005, 0.02], support=(0.0, 1.0), seed=3)
    b = dual_lcb(x, [0.005, 0.02], support=(0.0, 1.0), seed=3)
    assert np.array_equal(a.rate, b.rate) and a.info["terms"] == b.info["terms"]
    s1, s2 = shannon_lower_bound(x, 0.01, seed=2), shannon_lower_bound(x, 0.01, seed=2)
    assert np.array_equal(s1.interval, s2.interval)


@pytest.mark.slow
def test_lcb_coverage_full():
    # >= 100 repetitions each (also written by `python -m benchmarks.lower_coverage`):
    # Binomial(100, 0.05) >= 11 failures has probability 1.1%
    D = np.array([0.02, 0.05, 0.1])
    truth = closed_form.binary_hamming(D, 0.2)
    fails = sum(np.any(dual_lcb(_bernoulli(1000, 200 + s), D, "hamming", reproduction=BINARY, seed=s).rate > truth)
                for s in range(100))
    assert fails <= 10
    Du = np.array([0.001, 0.005, 0.02])
    slb = -0.5 * np.log2(2 * math.pi * math.e * Du)
    above = sum(np.any(dual_lcb(np.random.default_rng(300 + s).random((1000, 1)), Du, support=(0, 1), seed=s).rate
                       > slb) for s in range(100))
    assert above <= 10


@pytest.mark.slow
def test_lcb_uniform_square_below_exact_slb():
    # uniform [0,1]^2 under total squared error: SLB = -log2(2 pi e D / 2) exactly; measured
    # LCB 1.63 / 0.37 bits against 3.55 / 1.23 at n = 2000
    x = np.random.default_rng(11).random((N, 2))
    D = np.array([0.01, 0.05])
    r = dual_lcb(x, D, support=(0.0, 1.0))
    slb = -np.log2(2 * math.pi * math.e * D / 2)
    assert np.all(r.rate <= slb) and r.rate[0] > 0.5


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("x", [np.zeros((0, 1)), np.array([[0.3]]), np.array([[0.1], [np.nan]] * 20)])
def test_bad_samples(x):
    with pytest.raises(ValueError, match="samples"):
        shannon_lower_bound(x, 0.1)
    with pytest.raises(ValueError, match="samples"):
        dual_lcb(x, 0.1, support=(0, 1))


def test_bad_arguments():
    x = np.random.default_rng(10).random((100, 1))
    with pytest.raises(ValueError, match="D must be > 0"):
        shannon_lower_bound(x, [0.1, 0.0])
    with pytest.raises(ValueError, match="distortion"):
        shannon_lower_bound(x, 0.1, "hamming")
    with pytest.raises(ValueError, match="duplicate"):
        kl_entropy(np.repeat(x, 5, axis=0))
    for delta in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="delta"):
            dual_lcb(x, 0.1, support=(0, 1), delta=delta)
    with pytest.raises(ValueError, match="outside the support box"):
        dual_lcb(x, 0.1, support=(0.0, 0.5))
    with pytest.raises(ValueError, match="low must be <= high"):
        dual_lcb(x, 0.1, support=(1.0, 0.0))
    with pytest.raises(ValueError, match="exactly one"):
        dual_lcb(x, 0.1)
    with pytest.raises(ValueError, match="exactly one"):
        dual_lcb(x, 0.1, support=(0, 1), reproduction=BINARY)
    with pytest.raises(ValueError, match="reproduction has points of dimension"):
        dual_lcb(x, 0.1, "hamming", reproduction=[[0.0, 1.0]])
    with pytest.raises(ValueError, match="support= needs"):
        dual_lcb(x, 0.1, "hamming", support=(0, 1))
    with pytest.raises(ValueError, match="betas must be > 0"):
        dual_lcb(x, 0.1, support=(0, 1), betas=[-1.0])
    with pytest.raises(ValueError, match="D must be > 0"):
        dual_lcb(x, -0.1, support=(0, 1))
    with pytest.raises(ValueError, match="level"):
        dual_bound(x, 0.1, betas=[1.0], level=2.0)
    with pytest.raises(ValueError, match="holdout"):
        dual_bound(x, 0.1, betas=[1.0], holdout=1.0)
    with pytest.raises(ValueError, match="atoms has points of dimension"):
        dual_bound(x, 0.1, betas=[1.0], atoms=np.zeros((3, 2)))
