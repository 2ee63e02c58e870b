"""The R(D) engine against closed forms, an independent convex solver, and itself.

Tolerances: ``lower <= R <= rate`` is a certificate, so closed forms are compared with no
tolerance beyond float64 rounding of the bound computations (FP = 1e-12 bits).
"""
import math

import jax
import numpy as np
import pytest

from rdtheory.discrete import (blahut_arimoto, closed_form as cf, distortion_at_rate, distortion_range, hamming,
                               rate_at_distortion, rd_curve, squared_error, task_induced, uniform_grid,
                               absolute_error)
from rdtheory.discrete.certificate import eliminate, kernel

FP = 1e-12  # float64 rounding of the certificate arithmetic (terms are O(1) bits)


def brackets(res, value, fp=FP):
    return bool(res.lower - fp <= value <= res.rate + fp)


@pytest.mark.parametrize("method", ["accelerated", "squarem", "plain"])
@pytest.mark.parametrize("p1", [0.5, 0.3, 0.11])
def test_binary_hamming_closed_form(method, p1):
    betas = np.array([0.3, 1.0, 2.5, 6.0])
    res = blahut_arimoto([p1, 1 - p1], hamming(2), betas, method=method)
    for i in range(len(betas)):
        D = float(res.distortion[i])
        assert brackets(jax.tree.map(lambda a: a[i], res), cf.binary_hamming(D, p1))
        assert res.gap[i] <= 1e-7 and bool(res.converged[i])


def test_mary_hamming_and_erasure_closed_forms():
    m = 16
    res = blahut_arimoto(np.ones(m) / m, hamming(m), np.array([0.5, 1.0, 3.0, 8.0]))
    for i in range(4):
        assert res.lower[i] - FP <= cf.mary_hamming(float(res.distortion[i]), m) <= res.rate[i] + FP
    # erasure with a finite penalty L: exp(-beta L) < 1e-300 makes the finite problem equal
    # the closed form to float precision
    res = blahut_arimoto(np.ones(m) / m, cf.erasure_matrix(m, penalty=1e3), np.array([0.5, 1.0, 2.0, 4.0]))
    for i in range(4):
        assert res.lower[i] - FP <= cf.erasure(float(res.distortion[i]), m) <= res.rate[i] + FP


def test_gaussian_grid_within_discretisation_bracket():
    x, p = cf.discretised_gaussian(512)
    curve = rd_curve(p, squared_error(x), betas=np.geomspace(1.0, 200.0, 8))
    lo, hi = cf.gaussian_grid_bracket(curve.distortion, x, p)
    assert np.all(curve.converged)
    # the bracket is a rigorous statement about the grid problem (see its docstring)
    assert np.all(lo <= curve.rate + FP) and np.all(curve.lower <= hi + FP)
    # the grid source's own Gaussian R(D), 1/2 log2(Var(X_d)/D), lies in every certified bracket:
    # the grid's test channel is a discrete Gaussian, exact up to aliasing ~ a e^-a with
    # a = 2 pi^2 D/h^2 >= 50 here (< 1e-20 bits); Var(X_d) = 1 + h^2/12 carries the whole
    # 1.3e-4-bit departure from 1/2 log2(1/D) (the old check allowed the bracket width, >= 0.03)
    var_d = float(p @ x**2 - (p @ x) ** 2)
    ref = 0.5 * np.log2(var_d / curve.distortion)
    assert np.all(curve.lower - FP <= ref) and np.all(ref <= curve.rate + FP)
    assert np.all(curve.gap <= 1e-7 + 1e-9)   # the engine's tol: the bracket itself is narrow


def test_certificate_against_independent_convex_solver():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(3)
    n, m = 5, 4
    p = rng.dirichlet(np.ones(n))
    d = rng.uniform(0, 1, (n, m))
    res = blahut_arimoto(p, d, 3.0)
    D = float(res.distortion)
    Q = cp.Variable((n, m), nonneg=True)
    joint = cp.multiply(p[:, None], Q)
    r = p @ Q
    mi = cp.sum(cp.rel_entr(joint, np.outer(p, np.ones(m)) @ cp.diag(r)))
    prob = cp.Problem(cp.Minimize(mi), [cp.sum(Q, axis=1) == 1, cp.sum(cp.multiply(joint, d)) <= D])
    prob.solve(solver="CLARABEL")
    r_cvx = prob.value / math.log(2)
    # Clarabel's default accuracy is ~1e-8 relative; allow 1e-6 bits for it, none for us
    assert res.lower - 1e-6 <= r_cvx <= res.rate + 1e-6
    assert res.gap <= 1e-7


def test_large_beta_no_nan_or_underflow():
    x = uniform_grid(64)
    d = squared_error(x)
    p = np.random.default_rng(0).dirichlet(np.ones(64))
    beta = 1e4 / d.max() * 10  # beta * max d = 1e5
    res = blahut_arimoto(p, d, beta)
    assert np.isfinite(res.rate) and np.isfinite(res.lower) and np.all(np.isfinite(res.q))
    dmin, _ = distortion_range(p, d)
    assert res.gap <= 1e-7
    # at this slope the optimum is lossless: R = H(p), D = D_min = 0 (to exp(-beta*h^2) ~ 1e-9)
    from rdtheory.info import entropy
    assert brackets(res, entropy(p), fp=1e-6) and res.distortion - dmin < 1e-6


def test_float32_runs_and_brackets_loosely():
    res = blahut_arimoto([0.3, 0.7], hamming(2), 2.0, dtype="float32", tol=1e-4)
    assert res.rate.dtype == np.float32
    exact = cf.binary_hamming(float(res.distortion), 0.3)
    # float32 rounding of O(1)-bit terms is ~1e-6; the certificate holds to that accuracy
    assert res.lower - 1e-5 <= exact <= res.rate + 1e-5


def test_methods_consistent_through_supporting_lines():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(40))
    d = rng.uniform(0, 1, (40, 30))
    sols = {m: blahut_arimoto(p, d, 8.0, method=m) for m in ("accelerated", "squarem", "plain")}
    for a in sols.values():
        assert bool(a.converged) and float(a.gap) <= 1e-7
        for b in sols.values():
            # R(D_a) <= rate_a and R(D_a) >= b's supporting line at D_a ...
            line = float(b.lower_bound_at(a.distortion))
            assert line <= float(a.rate) + FP
            # ... and the methods agree on the rate: b's line is tight at D_b to gap_b, and D_a is
            # within the gaps of D_b (same slope), so rate_a - line <= gap_a + gap_b (+ a curvature
            # term O(beta (D_a - D_b)^2), far below FP here)
            assert float(a.rate) - line <= float(a.gap) + float(b.gap) + FP


def test_accelerated_beats_plain_on_the_issue_case():
    n = 256
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(n))
    d = squared_error(np.arange(n) / n)
    acc = blahut_arimoto(p, d, 50.0, tol=1e-7)
    plain = blahut_arimoto(p, d, 50.0, tol=1e-7, method="plain", max_iter=3000)
    assert bool(acc.converged) and acc.gap <= 1e-7
    assert not bool(plain.converged)  # plain BA's gap decays like 1/k: not there in 3000 steps
    assert float(plain.lower_bound_at(acc.distortion)) <= float(acc.rate) + FP


def test_elimination_never_removes_the_optimal_support():
    rng = np.random.default_rng(5)
    n = 60
    p = rng.dirichlet(np.ones(n))
    d = squared_error(np.sort(rng.uniform(0, 1, n)))
    beta = 200.0
    ref = blahut_arimoto(p, d, beta, tol=1e-10)
    support = np.asarray(ref.r) > 1e-6
    with jax.enable_x64(True):
        import jax.numpy as jnp
        K = kernel(jnp.asarray(d), beta)
        for seed in range(5):
            r = np.random.default_rng(seed).dirichlet(np.ones(n))
            alive = eliminate(jnp.log(jnp.asarray(r)), jnp.ones(n, bool), K, jnp.asarray(p))
            assert np.all(np.asarray(alive)[support])
        # near the optimum the test does eliminate far-away points
        alive = eliminate(jnp.log(jnp.asarray(np.asarray(ref.r)) + 1e-300), jnp.ones(n, bool), K, jnp.asarray(p))
        assert np.all(np.asarray(alive)[support]) and np.sum(~np.asarray(alive)) > 0


def test_rd_curve_monotone_and_envelope():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(30))
    d = absolute_error(np.linspace(0, 1, 30))
    c = rd_curve(p, d, num=12)
    assert np.all(c.converged)
    assert np.all(np.diff(c.distortion) <= 1e-12) and np.all(np.diff(c.rate) >= -1e-9)
    # the envelope is a lower bound everywhere, tight at each solved point within its gap
    env = c.lower_envelope(c.distortion)
    assert np.all(env <= c.rate + FP) and np.all(c.rate - env <= c.gap + FP)
    assert list(c.to_frame().columns)[:3] == ["beta_nats_per_unit", "distortion", "rate_bits"]


def test_rate_at_distortion_inverts_the_curve():
    pt = rate_at_distortion([0.5, 0.5], hamming(2), 0.11, tol=1e-8)
    assert pt.lower - FP <= cf.binary_hamming(0.11) <= pt.rate + FP and pt.gap <= 1e-8
    assert pt.distortion == pytest.approx(0.11, abs=1e-12)  # the mixture hits D exactly
    back = distortion_at_rate([0.5, 0.5], hamming(2), float(cf.binary_hamming(0.11)))
    assert back.distortion_lower - 1e-7 <= 0.11 <= back.distortion + 1e-7
    # R >= D_max -> 0 exactly; R(D_min) of a lossless code is H(p)
    assert rate_at_distortion([0.5, 0.5], hamming(2), 0.6).rate == 0.0
    top = rate_at_distortion([0.25, 0.75], hamming(2), 0.0)
    assert top.lower - 1e-7 <= cf.binary_hamming(0.0, 0.25) <= top.rate + 1e-7


def test_rate_at_distortion_on_random_instances():
    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(12))
    d = rng.uniform(0, 2, (12, 9))
    dmin, dmax = distortion_range(p, d)
    for D in np.linspace(dmin + 0.05 * (dmax - dmin), dmax - 0.05 * (dmax - dmin), 4):
        pt = rate_at_distortion(p, d, float(D))
        assert pt.gap <= 1e-7 and abs(pt.distortion - D) <= 1e-12
        assert np.allclose(pt.q.sum(1), 1.0, atol=1e-12)


def test_jit_and_eager_agree():
    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(6))
    d = rng.uniform(0, 1, (6, 5))
    a = blahut_arimoto(p, d, 4.0)
    with jax.disable_jit():
        b = blahut_arimoto(p, d, 4.0)
    # XLA may fuse/reorder float sums under jit: agreement to 1e-12 relative, same iterations
    for f in ("rate", "lower", "distortion"):
        assert float(getattr(a, f)) == pytest.approx(float(getattr(b, f)), rel=1e-12, abs=1e-14)
    assert int(a.iterations) == int(b.iterations)


def test_vmap_batch_equals_loop():
    rng = np.random.default_rng(6)
    P = rng.dirichlet(np.ones(10), size=5)
    D = rng.uniform(0, 1, (5, 10, 7))
    betas = np.array([0.5, 2.0, 5.0, 9.0, 20.0])
    batch = blahut_arimoto(P, D, betas)
    assert batch.rate.shape == (5,) and batch.q.shape == (5, 10, 7)
    for i in range(5):
        one = blahut_arimoto(P[i], D[i], betas[i])
        assert float(batch.rate[i]) == pytest.approx(float(one.rate), rel=1e-10, abs=1e-13)
        assert float(batch.lower[i]) == pytest.approx(float(one.lower), rel=1e-10, abs=1e-13)
    # broadcasting: one source and matrix, many slopes
    many = blahut_arimoto(P[0], D[0], betas)
    assert many.rate.shape == (5,)


def test_task_induced_distortion():
    f = np.array([0, 0, 1, 2])
    d = task_induced(f, hamming(3))
    assert d.shape == (4, 4) and d[0, 1] == 0 and d[0, 2] == 1
    d2 = task_induced(f, hamming(3), f_hat=np.array([2, 1]))
    assert d2.shape == (4, 2) and d2[3, 0] == 0


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("kwargs, msg", [
    (dict(p=[0.5, -0.1, 0.6]), "negative"),
    (dict(p=[0.5, 0.6, 0.1]), "sum to 1"),
    (dict(p=[0.5, np.nan, 0.5]), "NaN"),
    (dict(d=np.ones((2, 3))), "rows but the source has 3"),
    (dict(d=np.full((3, 3), np.inf)), "NaN/inf"),
    (dict(d=-np.ones((3, 3))), "negative"),
    (dict(beta=0.0), "beta must be > 0"),
    (dict(beta=-1.0), "beta must be > 0"),
    (dict(tol=0.0), "tol"),
    (dict(method="fast"), "method"),
    (dict(max_iter=0), "max_iter"),
    (dict(init=[1.0, 1.0]), "init"),
    (dict(dtype="int32"), "dtype"),
    (dict(dtype="float32", tol=1e-9), "float32"),
])
def test_blahut_arimoto_bad_inputs(kwargs, msg):
    args = dict(p=[0.2, 0.3, 0.5], d=hamming(3), beta=1.0)
    args.update(kwargs)
    p, d, beta = args.pop("p"), args.pop("d"), args.pop("beta")
    with pytest.raises(ValueError, match=msg):
        blahut_arimoto(p, d, beta, **args)


def test_inverse_problem_bad_inputs():
    with pytest.raises(ValueError, match="below the minimum achievable distortion"):
        rate_at_distortion([0.5, 0.5], hamming(2) + 0.1, 0.05)
    with pytest.raises(ValueError, match="R must be >= 0"):
        distortion_at_rate([0.5, 0.5], hamming(2), -0.1)
    with pytest.raises(ValueError, match="betas"):
        rd_curve([0.5, 0.5], hamming(2), betas=[1.0, -2.0])
    with pytest.raises(ValueError, match="do not broadcast"):
        blahut_arimoto(np.ones((2, 3)) / 3, hamming(3), np.ones(4))
    with pytest.raises(ValueError, match="outside"):
        task_induced(np.array([0, 5]), hamming(3))
