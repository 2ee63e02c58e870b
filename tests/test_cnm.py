"""The constrained Newton step (rdtheory.discrete.newton) and its QR active set (rdtheory.discrete.nnls).

qr_nnls is checked against scipy's NNLS (the exact minimiser); a Newton step against the
certificate it must improve.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rdtheory.discrete import examples

from rdtheory.discrete import ba_map, certificate as cert, newton
from rdtheory.discrete.config import SolverConfig


def test_newton_step_raises_phi_and_shrinks_the_gap():
    """Newton steps from a SQUAREM warm-up on the issue's first hard case (n = m = 256, beta = 50):
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
            steps.append(newton.newton_round(steps[-1], K, p, cfg)[0])
        phis = [float(cert._grad(cert._mass(t.theta, alive), K, p)[2]) for t in steps]
        gaps = [float(t.gap) for t in steps]
    assert all(b >= a - 1e-15 for a, b in zip(phis, phis[1:])), phis   # ascent up to rounding
    assert phis[-1] > phi0
    assert gaps[-1] < 1e-3 * gaps[0], gaps                               # Newton converges fast here


# ---- Lawson–Hanson on an updated QR (rdtheory.discrete.nnls) ---------------------------------

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


def test_newton_step_on_a_wide_kernel_certifies_where_the_normal_equations_stalled():
    """Laplace source, squared error, 256-cell grid of [-4, 4], beta = 0.595 (docs/engine.md):
    after a 600-map SQUAREM warm-up the normal-equations CNM stalled at ~2e-11 nats; QR steps
    must reach 1e-12 nats (the certificate's own rounding is ~1e-14) within 6 steps, and each
    step's minimiser must be sparse (dependent grid columns never enter together)."""
    x = (np.arange(256) + 0.5) / 32 - 4.0
    edges = np.linspace(-4.0, 4.0, 257)
    cdf = np.where(edges < 0, 0.5 * np.exp(np.sqrt(2) * edges), 1 - 0.5 * np.exp(-np.sqrt(2) * edges))
    p = np.diff(cdf)
    p /= p.sum()
    d = (x[:, None] - x[None, :]) ** 2 / 64.0         # max d = 64: scaled to [0, 1) as the solver does
    with jax.enable_x64(True):
        K = cert.kernel(jnp.asarray(d), 0.595 * 64.0)
        p = jnp.asarray(p)
        alive = jnp.ones(256, bool)
        theta = cert._normalise(jnp.zeros(256), alive)
        r = cert._mass(theta, alive)
        s = cert._State(theta, alive, jnp.asarray(0), jnp.asarray(0), cert._gap(r, cert._grad(r, K, p)[1], alive))
        cfg = SolverConfig(newton_size=256)
        s = ba_map._squarem_round(s, K, p, dataclasses.replace(cfg, round_len=600))
        gaps, supports = [float(s.gap)], []
        for _ in range(6):
            s, solved = newton.newton_round(s, K, p, cfg)
            gaps.append(float(s.gap))
            supports.append(int(np.sum(np.asarray(cert._mass(s.theta, alive)) > 1e-9)))
            if gaps[-1] < 1e-12:
                break
    assert min(gaps) < 1e-12, gaps
    assert max(supports) < 128, supports               # far sparser than the grid


def test_qr_nnls_capacity_stops_unsolved_but_feasible():
    """A minimiser that needs 30 columns, with room for 10: the result must be feasible
    (x >= 0, at most 10 columns) and reported unsolved; with room for 40 it matches scipy."""
    from scipy.optimize import nnls as scipy_nnls

    from rdtheory.discrete.nnls import qr_nnls

    rng = np.random.default_rng(5)
    A = rng.normal(size=(60, 40))
    b = A @ np.concatenate([np.abs(rng.normal(size=30)) + 0.1, np.zeros(10)])  # 30-column optimum
    with jax.enable_x64(True):
        x, solved = qr_nnls(jnp.asarray(A), jnp.asarray(b), jnp.ones(40, bool), jnp.zeros(40), 400, capacity=10)
        x_full, solved_full = qr_nnls(jnp.asarray(A), jnp.asarray(b), jnp.ones(40, bool), jnp.zeros(40), 400,
                                      capacity=40)
    x, x_full = np.asarray(x), np.asarray(x_full)
    assert not bool(solved) and x.min() >= 0 and np.sum(x > 0) <= 10
    _, ref_res = scipy_nnls(A, b)
    assert bool(solved_full) and abs(np.linalg.norm(A @ x_full - b) - ref_res) <= NNLS_TOL
