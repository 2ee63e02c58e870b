r"""The certificate of the discrete R(D) solver: kernel, gradient, gap, elimination, evaluation.

At slope :math:`\beta > 0` (nats per unit of distortion) R(D) of Eq. 2 is found by
maximising the concave :math:`\Phi(r) = \sum_x p(x)\log Z_r(x)` over output marginals
:math:`r`, with :math:`Z_r(x) = \sum_{\hat x} r(\hat x)e^{-\beta d(x,\hat x)}` and gradient
:math:`c_r(\hat x) = \sum_x p(x)e^{-\beta d(x,\hat x)}/Z_r(x)`.

**Certificate** (Blahut 1972, Thm. 7). For any :math:`r`, with
:math:`q(\hat x|x) = r(\hat x)e^{-\beta d}/Z_r(x)` achieving distortion :math:`D_q`,

.. math::
    R(D') \;\ge\; -\beta D' - \sum_x p(x)\log Z_r(x) - \log\max_{\hat x} c_r(\hat x)
    \quad\text{for every } D',

and :math:`R(D_q) \le I(p, q)`. So ``lower <= R(distortion) <= rate`` holds exactly
(up to float64 rounding, ~1e-14 bits), whatever the iterate. The gap equals
:math:`\log\max c_r - \sum_{\hat x} r'(\hat x)\log c_r(\hat x)` with :math:`r' = r c_r`
(:func:`_gap`); :func:`evaluate` recomputes everything from scratch in the log domain, so
no acceleration step is trusted.

Numerics: iterations run on the row-rescaled kernel
:math:`K(x,\hat x) = e^{-\beta(d(x,\hat x) - \min_{\hat x'} d(x,\hat x'))} \in (0,1]`
(:func:`kernel`; two dense mat-vecs per BA step); the final evaluation is in the log
domain, so :math:`\beta\max d \ge 10^4` gives neither NaN nor underflow.

Everything here is pure and jit/vmap-able; inputs are not validated (that is done once,
outside jit, by :func:`~rdtheory.discrete.solver.blahut_arimoto`).

References
----------
.. [1] R. E. Blahut, "Computation of channel capacity and rate-distortion functions",
   IEEE Trans. Inf. Theory 18(4):460-473, 1972 (Thm. 7: the lower bound).
.. [2] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Eq. 2: the R(D) problem).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import logsumexp

from .config import LN2

__all__ = ["BAResult", "kernel", "evaluate", "eliminate"]


class BAResult(NamedTuple):
    """Solution of R(D) at one slope (a JAX pytree, so results ``vmap`` and stack).

    Attributes (information in **bits**, distortion in the units of ``d``):
      rate:        :math:`I(X;\\hat X)` of ``q`` — an achievable rate, so an upper bound on
                   :math:`R` at ``distortion``.
      lower:       certified lower bound on :math:`R(\\text{distortion})`.
      distortion:  :math:`\\mathbb E\\,d(X,\\hat X)` under ``q``.
      beta:        slope parameter, nats per unit distortion (the curve's slope there is
                   ``-beta / ln 2`` bits per unit distortion).
      intercept:   the certified supporting line: :math:`R(D') \\ge` ``intercept - beta/ln2 * D'``
                   for **every** D' (bits).
      q:           (n, m) conditional :math:`q(\\hat x|x)`.
      r:           (m,) output marginal :math:`\\sum_x p(x) q(\\hat x|x)`.
      iterations:  number of BA map evaluations.
      newton_steps: number of constrained Newton (CNM) steps taken.
      converged:   ``rate - lower <= tol``.
    """

    rate: jax.Array
    lower: jax.Array
    distortion: jax.Array
    beta: jax.Array
    intercept: jax.Array
    q: jax.Array
    r: jax.Array
    iterations: jax.Array
    newton_steps: jax.Array
    converged: jax.Array

    @property
    def gap(self):
        """Certified error ``rate - lower`` in bits (>= 0 up to rounding)."""
        return self.rate - self.lower

    def lower_bound_at(self, distortion):
        """Certified lower bound on R at any other distortion, from the supporting line (bits)."""
        return self.intercept - self.beta / LN2 * distortion


class _State(NamedTuple):
    """The iterate of the solver loops (a pytree carried through ``lax.while_loop``)."""

    theta: jax.Array      # (m,) log r, normalised
    alive: jax.Array      # (m,) bool; False = certified outside every optimal support
    it: jax.Array         # BA map evaluations so far
    nt: jax.Array         # Newton steps so far
    gap: jax.Array        # certified gap of the current iterate (nats)


def _floor(dtype) -> float:
    """Smallest log-mass kept: points never underflow to exactly zero unless eliminated."""
    return -700.0 if jnp.finfo(dtype).bits == 64 else -80.0


def kernel(d, beta):
    """Row-rescaled kernel ``K = exp(-beta (d - min_row d))`` in (0, 1]; shape (n, m)."""
    return jnp.exp(-beta * (d - d.min(axis=1, keepdims=True)))


def _mass(theta, alive):
    """``r = exp(theta)`` with eliminated points at exactly zero."""
    return jnp.where(alive, jnp.exp(theta), 0.0)


def _normalise(theta, alive):
    """Floor ``theta`` at :func:`_floor` and normalise ``exp(theta)`` over the alive points."""
    theta = jnp.maximum(theta, _floor(theta.dtype))
    lse = logsumexp(jnp.where(alive, theta, -jnp.inf))
    return theta - lse


def _grad(r, K, p):
    """z = K r, c = K^T (p / z), Phi = sum p log z (kernel domain)."""
    tiny = jnp.finfo(r.dtype).tiny
    z = jnp.maximum(K @ r, tiny)
    w = jnp.where(p > 0, p / z, 0.0)
    c = w @ K
    phi = jnp.sum(jnp.where(p > 0, p * jnp.log(z), 0.0))
    return z, c, phi


def _gap(r, c, alive):
    """Certified gap (nats) for iterate r: log max c - sum_x r c log c."""
    logc = jnp.log(jnp.maximum(c, jnp.finfo(c.dtype).tiny))
    rn = r * c
    return jnp.max(jnp.where(alive, logc, -jnp.inf)) - jnp.sum(jnp.where(rn > 0, rn * logc, 0.0))


def _lambert_upper(t, iters: int = 30):
    """Upper bound on the root w > 1 of w - 1 - log w = t (t >= 0), by Newton from above.

    f(w) = w - 1 - log w - t is convex and increasing for w > 1 and the start
    ``1 + t + sqrt(2t)`` is above the root, so every Newton iterate stays above it:
    the result is a valid upper bound even if not fully converged.
    """
    w = 1.0 + t + jnp.sqrt(2.0 * t)

    def body(_, w):
        return w - (w - 1.0 - jnp.log(w) - t) / (1.0 - 1.0 / w)

    w = lax.fori_loop(0, iters, body, w)
    # t = 0 (a certified-optimal iterate, max c <= 1) starts Newton at the root w = 1,
    # where the step is 0/0: the root is 1 exactly
    return jnp.where(t > 0, jnp.maximum(w, 1.0), 1.0)


def eliminate(theta, alive, K, p):
    r"""Certified test for reproduction points outside every optimal support.

    Let :math:`\varepsilon = \log\max_{\hat x} c_r(\hat x) \ge \Phi^* - \Phi(r)` and
    :math:`w(x) = Z_r(x)/Z^*(x)`. KKT gives :math:`c^* \le 1`, hence
    :math:`\sum_x p w = \sum_{\hat x} r c^* \le 1`, and :math:`\sum_x p\log(1/w) \le \varepsilon`.
    Adding, :math:`\sum_x p(x)\,[w - 1 - \log w] \le \varepsilon`; every term is >= 0, so
    :math:`w(x) \le w_{\max}(x)`, the root above 1 of :math:`w-1-\log w = \varepsilon/p(x)`.
    Then :math:`c^*(\hat x) = \sum_x p K w / Z_r \le \sum_x p K w_{\max}/Z_r`, and a point
    where this is < 1 has :math:`c^* < 1`, so no optimal :math:`r^*` puts mass on it.

    Returns the updated ``alive`` mask (points proven dead become False).
    """
    r = _mass(theta, alive)
    z, c, _ = _grad(r, K, p)
    eps = jnp.maximum(jnp.log(jnp.max(jnp.where(alive, c, 0.0))), 0.0)
    t = jnp.where(p > 0, eps / jnp.where(p > 0, p, 1.0), 0.0)
    wmax = _lambert_upper(t)
    bound = jnp.where(p > 0, p * wmax / z, 0.0) @ K
    # 1e-12 margin: the test is exact in real arithmetic; keep rounding from deciding it
    return alive & (bound >= 1.0 - 1e-12)


def evaluate(p, d, beta, theta, alive, iterations=0, newton_steps=0, tol=1e-7) -> BAResult:
    """Exact log-domain evaluation of the iterate ``r = exp(theta)`` and its certificate.

    Returns a :class:`BAResult` whose ``rate`` is :math:`I(p, q)` and whose ``lower`` and
    ``intercept`` are Blahut's bound (bits); ``distortion`` and ``beta`` are in the units
    of ``d`` as given.
    """
    log_r = jnp.where(alive, theta, -jnp.inf)
    log_k = -beta * d
    log_z = logsumexp(log_r[None, :] + log_k, axis=1)                       # (n,)
    log_q = log_r[None, :] + log_k - log_z[:, None]
    q = jnp.exp(log_q)
    pq = p[:, None] * q
    r_out = jnp.sum(pq, axis=0)
    distortion = jnp.sum(pq * d)
    log_rout = jnp.log(jnp.where(r_out > 0, r_out, 1.0))
    rate_nats = jnp.sum(jnp.where(pq > 0, pq * (log_q - log_rout[None, :]), 0.0))
    log_p = jnp.where(p > 0, jnp.log(jnp.where(p > 0, p, 1.0)), -jnp.inf)
    log_c = logsumexp(log_p[:, None] + log_k - log_z[:, None], axis=0)      # (m,)
    sum_p_log_z = jnp.sum(jnp.where(p > 0, p * log_z, 0.0))
    intercept_nats = -sum_p_log_z - jnp.max(log_c)
    lower_nats = intercept_nats - beta * distortion
    rate = jnp.maximum(rate_nats, 0.0) / LN2
    lower = jnp.maximum(lower_nats / LN2, 0.0)  # R >= 0 is itself certified
    return BAResult(
        rate=rate, lower=lower, distortion=distortion, beta=jnp.asarray(beta, d.dtype),
        intercept=intercept_nats / LN2, q=q, r=r_out, iterations=jnp.asarray(iterations),
        newton_steps=jnp.asarray(newton_steps), converged=(rate - lower) <= tol)
