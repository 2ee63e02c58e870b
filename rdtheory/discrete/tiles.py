r"""Tiled kernels of the matrix-free R(D) solver: BA map, elimination and certificate by row strips.

The dense engine holds :math:`K(x,\hat x) = e^{-\beta(d(x,\hat x) - \min_{\hat x'} d(x,\hat x'))}`
(:func:`~rdtheory.discrete.certificate.kernel`). Here the source points are cut into
**strips** of ``R`` rows, ``xs: (S, R, k)`` with weights ``ps: (S, R)`` (padding rows carry
weight 0), and every pass recomputes one strip's tile ``d(xs[s], x_hat): (R, w)`` from the
points (:mod:`~rdtheory.discrete.point_distortions`), uses it and drops it, so memory is
``O(R w + n + w)``, never ``n x m``. A strip spans all ``w`` active reproduction points, so
the per-row normalisers are exact in one pass:

- **log-sum-exp by tiles.** With logits :math:`\ell(x,\hat x) = -\beta d(x,\hat x)` on the
  active points (``-inf`` on eliminated ones) and the row shift
  :math:`m_x = \max_{\hat x}\ell(x,\hat x)`, the tile :math:`\tilde K = e^{\ell - m_x}\in(0,1]`
  is the dense engine's row-rescaled kernel, :math:`\tilde z = \tilde K r`, so
  :math:`\log Z_r(x) = m_x + \log\tilde z(x)` and :math:`c_r = \tilde K^{\top}(p/\tilde z)`
  is a sum of per-strip column sums (:func:`grad`). One BA map = one pass: one distortion
  tile, one ``exp`` and two mat-vecs per entry.
- **Sharding.** With ``axis`` the name of a ``shard_map`` mesh axis, each device holds some
  strips; every column sum and every sum over rows ends in ``lax.psum`` over ``axis``, so
  the iterate is replicated and identical on every device (:func:`_psum`).
- **Certificate** (:func:`evaluate`): the same formulas as
  :func:`~rdtheory.discrete.certificate.evaluate`, in the log domain: a pass over the active
  points gives :math:`\log Z`, ``r_out``, the distortion and
  :math:`I = \sum p q\log q - \sum_{\hat x} r_{out}\log r_{out}`; a pass over **all** ``m``
  reproduction points gives :math:`\log c(\hat x) = \operatorname{LSE}_x[\log p - \beta d -
  \log Z]`, a log-sum-exp over strips with a running column maximum, so Blahut's bound takes
  its max over every point, eliminated or not.
- **Elimination** (:func:`eliminate`): the rule of
  :func:`~rdtheory.discrete.certificate.eliminate` (the pointwise bound
  :math:`w(x)\le w_{\max}(x)`), and a second certified bound from the same constraint
  :math:`\sum_x p\,\phi(w)\le\varepsilon`, :math:`\phi(w) = w-1-\log w`: since
  :math:`\phi(w)\ge (w-1)^2/(2\max(1,w)^2)\ge (w-1)^2/(2w_{\max}^2)`, Cauchy–Schwarz gives

  .. math:: c^*(\hat x) = c_r(\hat x) + \sum_x a_x (w_x - 1) \;\le\; c_r(\hat x) +
            \sqrt{2\varepsilon \textstyle\sum_x a_x^2 w_{\max}(x)^2/p(x)},
            \qquad a_x = p(x)\tilde K(x,\hat x)/\tilde z(x).

  The pointwise bound needs :math:`\varepsilon \ll \min_x p(x)` (``1/n`` for samples); this
  one needs only :math:`\varepsilon \ll (1 - c_r)^2`, so it removes points while the gap is
  still large. A point is dropped when the smaller bound is below 1.

Everything here is pure and jit-able; nothing is validated (see
:mod:`~rdtheory.discrete.matrix_free`).

References
----------
.. [1] R. E. Blahut, "Computation of channel capacity and rate-distortion functions",
   IEEE Trans. Inf. Theory 18(4):460-473, 1972 (Thm. 7: the lower bound).
.. [2] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Eq. 2: the R(D) problem).
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from .certificate import _gap, _lambert_upper, _mass, _normalise

__all__ = ["row_shift", "grad", "ba_map", "eliminate", "evaluate", "distortion_stats"]

#: margin of the elimination test, as in :func:`~rdtheory.discrete.certificate.eliminate`:
#: the test is exact in real arithmetic; keep rounding from deciding it
ELIMINATION_MARGIN = 1e-12


def _psum(v, axis):
    """Sum over the devices of mesh axis ``axis`` (identity when not sharded)."""
    return v if axis is None else lax.psum(v, axis)


def _tile(xs, xh, alive, beta, fn, shift=None):
    """One strip: ``d (R, w)``, the rescaled kernel ``K = exp(l - m_x)`` and the shift ``m_x``.

    ``shift`` (R,), if given, must be :func:`row_shift` for the same ``alive``: the logits do
    not depend on the iterate, so the BA maps of a round reuse it and skip a reduction over
    the tile (measured: one tiled map 3x the matvec floor with the max in the loop, 1.1x without).
    """
    d = fn(xs, xh)
    logits = jnp.where(alive[None, :], -beta * d, -jnp.inf)
    if shift is None:
        shift = jnp.max(logits, axis=1)
    return d, jnp.exp(logits - shift[:, None]), shift


def row_shift(alive, xs, xh, beta, fn):
    """``m_x = max over alive points of -beta d(x, .)`` for every row, ``(S, R)`` (one pass)."""
    return lax.map(lambda x: _tile(x, xh, alive, beta, fn)[2], xs)


def grad(r, alive, xs, ps, xh, beta, fn, axis=None, shift=None):
    """Tiled :func:`~rdtheory.discrete.certificate._grad`: ``z~ (S, R)``, shift ``(S, R)``,
    ``c (w,)`` and :math:`\\Phi = \\sum_x p \\log Z_r` (exact, shift included)."""
    tiny = jnp.finfo(r.dtype).tiny

    def strip(acc, inp):
        x, p, sh = inp
        _, K, shift = _tile(x, xh, alive, beta, fn, sh)
        z = jnp.maximum(K @ r, tiny)
        w = jnp.where(p > 0, p / z, 0.0)
        phi = jnp.sum(jnp.where(p > 0, p * (jnp.log(z) + shift), 0.0))
        return (acc[0] + w @ K, acc[1] + phi), (z, shift)

    if shift is None:
        shift = row_shift(alive, xs, xh, beta, fn)
    (c, phi), (z, shift) = lax.scan(strip, (jnp.zeros_like(r), jnp.zeros((), r.dtype)), (xs, ps, shift))
    return z, shift, _psum(c, axis), _psum(phi, axis)


def ba_map(theta, alive, xs, ps, xh, beta, fn, axis=None, shift=None):
    """One BA step in log r, tile by tile (:func:`~rdtheory.discrete.ba_map._ba_map`).
    Returns (new theta, Phi(old), gap(old) in nats)."""
    r = _mass(theta, alive)
    _, _, c, phi = grad(r, alive, xs, ps, xh, beta, fn, axis, shift)
    gap = _gap(r, c, alive)
    new = _normalise(theta + jnp.log(jnp.maximum(c, jnp.finfo(c.dtype).tiny)), alive)
    return new, phi, gap


def eliminate(theta, alive, xs, ps, xh, beta, fn, axis=None, shift=None):
    """Updated ``alive``: points whose bound on :math:`c^*` (module docstring) is < 1 drop out.

    Two passes: :func:`grad` for ``z~`` and ``c``, then the column sums
    :math:`\\sum_x p w_{\\max}\\tilde K/\\tilde z` and :math:`\\sum_x p w_{\\max}^2\\tilde K^2/\\tilde z^2`.
    """
    r = _mass(theta, alive)
    z, shift, c, _ = grad(r, alive, xs, ps, xh, beta, fn, axis, shift)
    eps = jnp.maximum(jnp.log(jnp.max(jnp.where(alive, c, 0.0))), 0.0)

    def strip(acc, inp):
        x, p, zs, sh = inp
        _, K, _ = _tile(x, xh, alive, beta, fn, sh)
        safe = jnp.where(p > 0, p, 1.0)
        wmax = _lambert_upper(jnp.where(p > 0, eps / safe, 0.0))
        a = jnp.where(p > 0, p * wmax / zs, 0.0)
        return (acc[0] + a @ K, acc[1] + (a * a / safe) @ (K * K)), None

    zero = jnp.zeros_like(c)
    (pointwise, second), _ = lax.scan(strip, (zero, zero), (xs, ps, z, shift))
    pointwise, second = _psum(pointwise, axis), _psum(second, axis)
    bound = jnp.minimum(pointwise, c + jnp.sqrt(2.0 * eps * second))
    return alive & (bound >= 1.0 - ELIMINATION_MARGIN)


def _lse_merge(m1, s1, m2, s2):
    """Combine two log-sum-exp accumulators ``(max, sum of exp(. - max))`` elementwise."""
    m = jnp.maximum(m1, m2)
    safe = jnp.where(jnp.isfinite(m), m, 0.0)
    scale = lambda mi: jnp.where(jnp.isfinite(mi), jnp.exp(mi - safe), 0.0)
    return m, s1 * scale(m1) + s2 * scale(m2)


def evaluate(theta, alive, xs, ps, xh, xh_all, beta, fn, axis=None):
    """Blahut's certificate of ``r = exp(theta)`` on the active points ``xh``, max over ``xh_all``.

    Returns nats and units of ``d``: ``(rate, intercept, distortion, r_out (w,), log_c (m,))``
    with ``intercept = -sum p log Z - max_{all x_hat} log c``; ``lower = intercept - beta D``.
    """
    log_r = jnp.where(alive, theta, -jnp.inf)
    dt = theta.dtype

    def active(acc, inp):
        x, p = inp
        d = fn(x, xh)
        lg = log_r[None, :] - beta * d
        log_z = jnp.max(lg, axis=1)
        log_z = log_z + jnp.log(jnp.sum(jnp.exp(lg - log_z[:, None]), axis=1))
        log_q = lg - log_z[:, None]
        pq = p[:, None] * jnp.exp(log_q)
        terms = (jnp.sum(pq, axis=0), jnp.sum(pq * d), jnp.sum(jnp.where(pq > 0, pq * log_q, 0.0)),
                 jnp.sum(jnp.where(p > 0, p * log_z, 0.0)))
        return tuple(a + t for a, t in zip(acc, terms)), log_z

    zero = jnp.zeros((), dt)
    (r_out, dist, pq_log_q, p_log_z), log_z = lax.scan(
        active, (jnp.zeros_like(theta), zero, zero, zero), (xs, ps))
    r_out, dist, pq_log_q, p_log_z = (_psum(v, axis) for v in (r_out, dist, pq_log_q, p_log_z))
    r_log_r = jnp.sum(jnp.where(r_out > 0, r_out * jnp.log(jnp.where(r_out > 0, r_out, 1.0)), 0.0))
    rate = pq_log_q - r_log_r

    def columns(acc, inp):
        x, p, lz = inp
        log_p = jnp.where(p > 0, jnp.log(jnp.where(p > 0, p, 1.0)), -jnp.inf)
        a = (log_p - lz)[:, None] - beta * fn(x, xh_all)
        m = jnp.max(a, axis=0)
        s = jnp.sum(jnp.exp(a - jnp.where(jnp.isfinite(m), m, 0.0)[None, :]), axis=0)
        return _lse_merge(acc[0], acc[1], m, s), None

    m0 = jnp.full((xh_all.shape[0],), -jnp.inf, dt)
    (m, s), _ = lax.scan(columns, (m0, jnp.zeros_like(m0)), (xs, ps, log_z))
    if axis is not None:
        top = lax.pmax(m, axis)
        m, s = top, lax.psum(_lse_merge(top, jnp.zeros_like(s), m, s)[1], axis)
    log_c = m + jnp.log(s)
    return rate, -p_log_z - jnp.max(log_c), dist, r_out, log_c


def distortion_stats(xs, xh, fn, axis=None):
    """``(min d, max d, all finite)`` over every pair (one pass; padding repeats real points)."""

    def strip(acc, x):
        d = fn(x, xh)
        return (jnp.minimum(acc[0], jnp.min(d)), jnp.maximum(acc[1], jnp.max(d)),
                acc[2] & jnp.all(jnp.isfinite(d))), None

    dt = xh.dtype
    (lo, hi, ok), _ = lax.scan(strip, (jnp.asarray(jnp.inf, dt), jnp.asarray(-jnp.inf, dt), jnp.asarray(True)), xs)
    if axis is not None:
        lo, hi, ok = lax.pmin(lo, axis), lax.pmax(hi, axis), lax.pmin(ok.astype(jnp.int32), axis) > 0
    return lo, hi, ok
