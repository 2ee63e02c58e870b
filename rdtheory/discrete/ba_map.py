r"""The Blahut–Arimoto map for R(D) (paper Eq. 2), plain and SQUAREM-accelerated rounds.

Problem (Eq. 2): for a source :math:`p(x)` on ``n`` symbols and a distortion matrix
:math:`d(x,\hat x)` of shape ``(n, m)``,

.. math:: R(D) = \min_{q(\hat x|x):\ \mathbb E\,d(X,\hat X)\le D} I(X;\hat X).

At slope :math:`\beta > 0` (nats per unit of distortion) the solution minimises
:math:`I + \beta\,\mathbb E d`; over the output marginal :math:`r` this is the concave
maximisation of :math:`\Phi(r) = \sum_x p(x)\log Z_r(x)`,
:math:`Z_r(x) = \sum_{\hat x} r(\hat x)e^{-\beta d(x,\hat x)}`, whose gradient is
:math:`c_r(\hat x) = \sum_x p(x)e^{-\beta d(x,\hat x)}/Z_r(x)`. **The BA map** is

.. math:: r(\hat x) \;\leftarrow\; r(\hat x)\,c_r(\hat x),
          \qquad q(\hat x|x) = r(\hat x)e^{-\beta d(x,\hat x)}/Z_r(x),

implemented in the log domain by :func:`_ba_map` (``theta = log r``). Each step increases
:math:`\Phi`; its fixed points with :math:`c_r \le 1` are the optimal marginals. Its
convergence is sublinear near a sparse optimum (points just outside the support decay like
:math:`1/k`), which is why the solver extrapolates it with SQUAREM (:func:`_squarem_round`,
scheme S3 in :math:`\log r`, with a monotonicity safeguard on :math:`\Phi`) and adds Newton
steps (:mod:`~rdtheory.discrete.newton`).

References
----------
.. [1] R. E. Blahut, "Computation of channel capacity and rate-distortion functions",
   IEEE Trans. Inf. Theory 18(4):460-473, 1972.
.. [2] S. Arimoto, "An algorithm for computing the capacity of arbitrary discrete memoryless
   channels", IEEE Trans. Inf. Theory 18(1):14-20, 1972.
.. [3] R. Varadhan and C. Roland, "Simple and globally convergent methods for accelerating
   the convergence of any EM algorithm", Scand. J. Stat. 35(2):335-353, 2008 (SQUAREM).
.. [4] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Eq. 2).
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from .certificate import _State, _gap, _grad, _mass, _normalise
from .config import SolverConfig


def _ba_map(theta, alive, K, p):
    """One BA step in log r. Returns (new theta, Phi(old), gap(old))."""
    r = _mass(theta, alive)
    _, c, phi = _grad(r, K, p)
    gap = _gap(r, c, alive)
    new = _normalise(theta + jnp.log(jnp.maximum(c, jnp.finfo(c.dtype).tiny)), alive)
    return new, phi, gap


def _round_cond(cfg: SolverConfig):
    """Loop condition of a BA/SQUAREM round: round length, tolerance and budget."""

    def cond(c):
        j, st = c
        return (j < cfg.round_len) & (st.gap > cfg.tol_nats) & (st.it < cfg.max_iter)

    return cond


def _plain_round(s: _State, K, p, cfg: SolverConfig) -> _State:
    """Up to ``cfg.round_len`` BA maps, stopping once the iterate certifies ``cfg.tol``."""
    return plain_round_fn(s, lambda theta, alive: _ba_map(theta, alive, K, p), cfg)


def _squarem_round(s: _State, K, p, cfg: SolverConfig) -> _State:
    """SQUAREM (S3) cycles on the dense BA map in log r, monotone in Phi."""
    return squarem_round_fn(s, lambda theta, alive: _ba_map(theta, alive, K, p), cfg)


def plain_round_fn(s: _State, ba_map, cfg: SolverConfig) -> _State:
    """:func:`_plain_round` for any BA map ``ba_map(theta, alive) -> (theta', Phi, gap)``
    (the dense :func:`_ba_map`, or the tiled map of :mod:`~rdtheory.discrete.tiles`)."""

    def body(c):
        j, st = c
        theta, _, gap = ba_map(st.theta, st.alive)
        # gap is that of the *old* iterate; keep the old one if it already certifies
        done = gap <= cfg.tol_nats
        return j + 1, st._replace(theta=jnp.where(done, st.theta, theta), gap=gap, it=st.it + 1)

    return lax.while_loop(_round_cond(cfg), body, (0, s))[1]


def squarem_round_fn(s: _State, ba_map, cfg: SolverConfig) -> _State:
    """SQUAREM (S3) cycles on ``ba_map(theta, alive) -> (theta', Phi, gap)`` in log r,
    monotone in Phi: an extrapolated point is kept only if the map from it does not lower Phi."""

    def body(c):
        j, st = c
        t0, alive = st.theta, st.alive
        t1, _, gap0 = ba_map(t0, alive)
        t2, phi1, _ = ba_map(t1, alive)
        s1 = jnp.where(alive, t1 - t0, 0.0)
        v = jnp.where(alive, t2 - t1, 0.0) - s1
        alpha = -jnp.sqrt(jnp.sum(s1 * s1)) / jnp.maximum(jnp.sqrt(jnp.sum(v * v)), 1e-300)
        alpha = jnp.minimum(alpha, -1.0)
        tx = _normalise(t0 - 2.0 * alpha * s1 + alpha * alpha * v, alive)
        t3, phi_x, _ = ba_map(tx, alive)
        ok = jnp.isfinite(phi_x) & (phi_x >= phi1)
        new = jnp.where(ok, t3, t2)
        # if the starting iterate already certifies, keep it
        done = gap0 <= cfg.tol_nats
        new = jnp.where(done, t0, new)
        return j + 3, st._replace(theta=new, gap=gap0, it=st.it + jnp.where(done, 1, 3))

    return lax.while_loop(_round_cond(cfg), body, (0, s))[1]
