"""The constrained Newton method's inner solver and steps (rdtheory.discrete.newton).

simplex_nnls is checked against the KKT conditions of its quadratic program, which identify
the minimiser exactly; a CNM step against the certificate it must improve.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rdtheory.discrete import examples

from rdtheory.discrete import ba_map, certificate as cert, newton
from rdtheory.discrete.config import SolverConfig

#: KKT residual allowed: the starting inverse is ridge-regularised by SolverConfig.cnm_ridge = 1e-10 of the
#: diagonal, which moves the stationarity by ~1e-10 |Q| |w| (~1e-9 for these k = 40 problems)
KKT_TOL = 1e-8


def _kkt(Q, b, w):
    """(min w, |sum w - 1|, max stationarity violation on the support, max multiplier off it).

    At the minimiser of 1/2 w'Qw - b'w over the simplex, with nu the multiplier of sum w = 1:
    b - nu - (Qw) = 0 where w > 0 and <= 0 where w = 0."""
    g = b - Q @ w
    on = w > 0
    nu = float(np.mean(g[on]))
    return w.min(), abs(w.sum() - 1.0), np.abs(g[on] - nu).max(), (g[~on] - nu).max(initial=-np.inf)


@pytest.mark.parametrize("seed", range(5))
def test_simplex_nnls_meets_kkt_from_any_feasible_start(seed):
    rng = np.random.default_rng(seed)
    k = 40
    A = rng.normal(size=(80, k))
    Q = A.T @ A
    b = A.T @ rng.normal(size=80) + 3.0 * rng.normal(size=k)
    P0 = rng.random(k) < 0.5
    w0 = np.where(P0, rng.random(k), 0.0)
    w0 /= w0.sum()
    with jax.enable_x64(True):
        w, solved = newton.simplex_nnls(jnp.asarray(Q), jnp.asarray(b), jnp.ones(k, bool), jnp.asarray(P0),
                                    jnp.asarray(w0), 4 * k)
    w = np.asarray(w)
    assert bool(solved)
    wmin, sum_err, station, off = _kkt(Q, b, w)
    assert wmin >= 0 and sum_err <= 1e-12
    assert station <= KKT_TOL and off <= KKT_TOL


def test_simplex_nnls_keeps_duplicate_columns_out_and_respects_valid():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(30, 10))
    A = np.concatenate([A, A[:, :3]], axis=1)  # slots 10..12 duplicate slots 0..2: Q is singular
    Q = A.T @ A
    b = A.T @ (A @ np.full(13, 1 / 13) + 0.1 * rng.normal(size=30))
    valid = np.ones(13, bool)
    valid[5] = False
    P0 = np.zeros(13, bool)
    P0[0] = True
    w0 = np.where(P0, 1.0, 0.0)
    with jax.enable_x64(True):
        w, _ = newton.simplex_nnls(jnp.asarray(Q), jnp.asarray(b), jnp.asarray(valid), jnp.asarray(P0),
                               jnp.asarray(w0), 100)
    w = np.asarray(w)
    assert np.all(np.isfinite(w)) and w.min() >= 0 and abs(w.sum() - 1) <= 1e-12
    assert w[5] == 0.0                                   # an invalid slot never enters
    assert not any(w[i] > 0 and w[i + 10] > 0 for i in range(3))  # a copy never joins its twin
    # and the model value matches the minimiser over the 10 distinct columns (slot 5 excluded)
    keep = [i for i in range(10) if i != 5]
    sub = np.zeros(13)
    with jax.enable_x64(True):
        ws, _ = newton.simplex_nnls(jnp.asarray(Q[np.ix_(keep, keep)]), jnp.asarray(b[keep]), jnp.ones(9, bool),
                                jnp.ones(9, bool), jnp.full(9, 1 / 9), 100)
    sub[keep] = np.asarray(ws)
    model = lambda v: 0.5 * v @ Q @ v - b @ v
    assert model(w) <= model(sub) + 1e-10


def test_cnm_step_raises_phi_and_shrinks_the_gap():
    """One CNM step from a SQUAREM warm-up on the issue's hard case (n = m = 256, beta = 50):
    Phi may not decrease (Armijo) and the certified gap must fall."""
    ex = examples.dirichlet_squared(256, seed=1)
    with jax.enable_x64(True):
        p, d = jnp.asarray(ex.p), jnp.asarray(ex.d)
        K = cert.kernel(d, 50.0)
        alive = jnp.ones(256, bool)
        theta = cert._normalise(jnp.zeros(256), alive)
        r = cert._mass(theta, alive)
        _, c, _ = cert._grad(r, K, p)
        s = cert._State(theta, alive, jnp.asarray(0), jnp.asarray(0), cert._gap(r, c, alive))
        cfg = SolverConfig(newton_size=128)
        s = ba_map._squarem_round(s, K, p, dataclasses.replace(cfg, round_len=60))
        phi0 = float(cert._grad(cert._mass(s.theta, alive), K, p)[2])
        steps = [s]
        for _ in range(6):
            steps.append(newton.cnm_round(steps[-1], K, p, cfg))
        phis = [float(cert._grad(cert._mass(t.theta, alive), K, p)[2]) for t in steps]
        gaps = [float(t.gap) for t in steps]
    assert all(b >= a - 1e-15 for a, b in zip(phis, phis[1:])), phis   # ascent up to rounding
    assert phis[-1] > phi0
    assert gaps[-1] < 1e-3 * gaps[0], gaps                               # CNM converges fast here


# ---- inner="qr": Lawson–Hanson on an updated QR (rdtheory.discrete.nnls) -------------------

#: the QR active set and scipy's NNLS both return the exact minimiser up to rounding; residual
#: norms here are O(1) and the matrices well conditioned, so they agree to ~1e-14 (1e-12 allowed)
NNLS_TOL = 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_qr_nnls_matches_scipy_nnls(seed):
    from scipy.optimize import nnls as scipy_nnls

    from rdtheory.discrete.nnls import qr_nnls

    rng = np.random.default_rng(seed)
    A = rng.normal(size=(60, 40))
    b = rng.normal(size=60) + 0.3 * A @ np.abs(rng.normal(size=40))
    x0 = np.where(rng.random(40) < 0.5, rng.random(40), 0.0)   # any feasible start
    with jax.enable_x64(True):
        x, solved = qr_nnls(jnp.asarray(A), jnp.asarray(b), jnp.ones(40, bool), jnp.asarray(x0), 400)
    x = np.asarray(x)
    ref, ref_res = scipy_nnls(A, b)
    assert bool(solved) and x.min() >= 0
    assert abs(np.linalg.norm(A @ x - b) - ref_res) <= NNLS_TOL
    assert np.abs(x - ref).max() <= 1e-10   # unique minimiser (A has full column rank)


def test_qr_nnls_skips_dependent_columns_without_losing_the_minimum():
    """Ten columns repeat others up to 1e-13 (Q = A^T A would be singular at 1e-26): none may
    enter next to its twin, and the residual must still equal scipy's minimum."""
    from scipy.optimize import nnls as scipy_nnls

    from rdtheory.discrete.nnls import qr_nnls

    rng = np.random.default_rng(3)
    A = rng.normal(size=(60, 30))
    A = np.concatenate([A, A[:, :10] + 1e-13 * rng.normal(size=(60, 10))], axis=1)
    b = rng.normal(size=60) + A @ np.abs(rng.normal(size=40))
    with jax.enable_x64(True):
        x, _ = qr_nnls(jnp.asarray(A), jnp.asarray(b), jnp.ones(40, bool), jnp.zeros(40), 400)
    x = np.asarray(x)
    _, ref_res = scipy_nnls(A, b)
    assert not any(x[i] > 0 and x[i + 30] > 0 for i in range(10))
    # 1e-12: the dependent copies differ by 1e-13 * |A| ~ 1e-12 in the fitted values at most
    assert np.linalg.norm(A @ x - b) <= ref_res + 1e-12


def test_cnm_step_with_qr_inner_shrinks_the_gap():
    """inner="qr" on the issue's hard case (as test_cnm_step_raises_phi_and_shrinks_the_gap)."""
    ex = examples.dirichlet_squared(256, seed=1)
    with jax.enable_x64(True):
        p, d = jnp.asarray(ex.p), jnp.asarray(ex.d)
        K = cert.kernel(d, 50.0)
        alive = jnp.ones(256, bool)
        theta = cert._normalise(jnp.zeros(256), alive)
        r = cert._mass(theta, alive)
        _, c, _ = cert._grad(r, K, p)
        s = cert._State(theta, alive, jnp.asarray(0), jnp.asarray(0), cert._gap(r, c, alive))
        cfg = SolverConfig(newton_size=128, inner="qr")
        s = ba_map._squarem_round(s, K, p, dataclasses.replace(cfg, round_len=60))
        steps = [s]
        for _ in range(6):
            steps.append(newton.cnm_round(steps[-1], K, p, cfg))
        phis = [float(cert._grad(cert._mass(t.theta, alive), K, p)[2]) for t in steps]
        gaps = [float(t.gap) for t in steps]
    assert all(b >= a - 1e-15 for a, b in zip(phis, phis[1:])), phis   # Armijo: ascent up to rounding
    assert gaps[-1] < 1e-3 * gaps[0], gaps
