r"""The Newton step of the discrete R(D) solver: a constrained Newton step solved by QR.

:math:`\Phi(r) = \sum_x p(x)\log (Kr)(x)` (the objective of the BA map, Eq. 2) is the
log-likelihood of a mixture with weights ``r``, so R(D) at a slope is the non-parametric
maximum-likelihood estimate of a mixing distribution. Wang's constrained Newton method (CNM)
maximises the second-order model of :math:`\Phi` over the simplex at every step; with
:math:`z = Kr`, :math:`A = \mathrm{diag}(\sqrt p/z)K` and :math:`b = 2\sqrt p` that model is
(up to a constant) :math:`-\tfrac12\|Ar' - b\|^2`, a least-squares problem in :math:`r'`.

:func:`newton_round` solves it with :func:`~rdtheory.discrete.nnls.qr_nnls` — a Lawson–Hanson
active set on an updated QR factorisation of the passive columns — over **every** alive
point as candidate, never forming :math:`A^\top A` (whose condition number is the square of
the kernel's: on fine grids with wide kernels, neighbouring columns agree to ~1e-6 and the
normal equations stall, measured in docs/engine.md). Because the active set adds one
column at a time and skips columns dependent at 1e-10, the model's minimiser is *sparse*:
on the 1024-cell Laplace/squared-error grid at beta = 88.6 the SQUAREM iterate spreads over
1006 points, the Newton minimiser uses 135. The step's only static size is the capacity of
the factor (``SolverConfig.newton_size``). The full step is kept when it lowers the certified
gap, else the better of it and an Armijo backtracking point on :math:`\Phi` (from t = 1/2).

All settings come from :class:`~rdtheory.discrete.config.SolverConfig`. Pure and
jit/vmap-able; inputs are not validated.

References
----------
.. [1] Y. Wang, "On fast computation of the non-parametric maximum likelihood estimate of a
   mixing distribution", J. R. Stat. Soc. B 69(2):185-198, 2007 (CNM).
.. [2] C. L. Lawson and R. J. Hanson, Solving Least Squares Problems, Prentice-Hall, 1974
   (NNLS active set).
.. [3] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Eq. 2).
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from .certificate import _State, _gap, _grad, _mass, _normalise
from .config import SolverConfig
from .nnls import qr_nnls

__all__ = ["newton_round", "newton_model"]


def newton_model(r, K, p):
    r"""The CNM model of :math:`\Phi` at ``r`` as one homogeneous NNLS, ``(A1, e, z, c, Phi)``.

    With :math:`\sum_i r'_i = 1`, :math:`Ar' - b = (A - b1^\top)r'`, so minimising
    :math:`\|(A - b1^\top)y\|^2 + (1^\top y - 1)^2` over :math:`y \ge 0` and normalising
    :math:`r' = y / 1^\top y` solves the simplex-constrained model exactly: ``A1`` is
    :math:`[A - b1^\top;\ 1^\top]` (n + 1, m) and ``e`` the last unit vector. (Dropping the sum
    constraint instead, as in plain NNLS, is wrong here: :math:`A(2r) = b` fits exactly.)
    """
    z, c, phi = _grad(r, K, p)
    sp = jnp.sqrt(p)
    b = 2.0 * sp
    A1 = jnp.concatenate([K * (sp / z)[:, None] - b[:, None], jnp.ones((1, K.shape[1]), K.dtype)], axis=0)
    e = jnp.zeros((A1.shape[0],), K.dtype).at[-1].set(1.0)
    return A1, e, z, c, phi


def newton_round(s: _State, K, p, cfg: SolverConfig):
    r"""One constrained Newton step (Wang 2007) with its model solved by QR.

    Candidates are all alive points; the active set starts from the current support when it
    fits the factor's capacity ``k = min(cfg.newton_size, n + 1, m)`` (after a full step the
    iterate *is* the last minimiser, so the next step starts from it), else from empty.
    After the step, points with :math:`c > 1` left at the mass floor are lifted to
    ``cfg.inject_mass`` when that lowers the gap (see the comment in the code).
    Returns ``(state, solved)``: ``solved`` is False when the model's minimiser needed more
    than ``k`` columns (or the active-set cap stopped it); the step is an ascent either way.
    """
    n, m = K.shape
    k = int(min(cfg.newton_size, n + 1, m))
    dtype = K.dtype
    tiny = jnp.finfo(dtype).tiny
    delta = max(cfg.qr_dependent, 100 * float(jnp.finfo(dtype).eps))
    r = _mass(s.theta, s.alive)
    A1, e, z, c, phi0 = newton_model(r, K, p)
    support = s.alive & (r >= cfg.support_mass)
    x0 = jnp.where(support & (jnp.sum(support) <= k), r, 0.0)
    y, solved = qr_nnls(A1, e, s.alive, x0, cfg.newton_inner(k), delta, cfg.qr_enter, capacity=k)
    total = jnp.sum(y)
    w = jnp.where(total > 0, y / jnp.where(total > 0, total, 1.0), r)
    # The full step is taken when it lowers the certified gap; otherwise Armijo backtracking
    # on Phi along r -> w (z is linear in r; c . r = 1). Near the optimum the step changes Phi
    # by ~1e-15, below the rounding of Phi and of the slope, while it still moves c by the
    # ~1e-7 that the gap needs: Armijo alone then stalls (seen at 6.7e-7 bits on the
    # 1024-cell mixture/squared-error grid), the gap test does not.
    theta_full = _normalise(jnp.log(jnp.maximum(w, 0.0)), s.alive)
    r_full = _mass(theta_full, s.alive)
    _, c_full, _ = _grad(r_full, K, p)
    gap_full = _gap(r_full, c_full, s.alive)
    z_new = K @ w
    slope = jnp.sum((w - r) * c)

    def phi_at(t):
        return jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.maximum(z + t * (z_new - z), tiny)), 0.0))

    def ls_cond(cc):
        t, j = cc
        return (j < 40) & ~(phi_at(t) >= phi0 + 1e-4 * t * slope)

    t, _ = lax.while_loop(ls_cond, lambda cc: (cc[0] * 0.5, cc[1] + 1), (jnp.asarray(0.5, dtype), 0))
    t = jnp.where(slope > 0, t, 0.0)
    r_new = (1.0 - t) * r + t * w
    theta = _normalise(jnp.log(jnp.maximum(r_new, 0.0)), s.alive)
    r_new = _mass(theta, s.alive)
    _, c_new, _ = _grad(r_new, K, p)
    full = gap_full <= _gap(r_new, c_new, s.alive)
    theta = jnp.where(full, theta_full, theta)
    gap = jnp.minimum(gap_full, _gap(r_new, c_new, s.alive))
    # Points where c > 1 but the mass sits at the floor (~1e-300, far from the support: z
    # there ~ 1e-100) are out of the quadratic model's reach (its curvature p K^2 / z^2 is
    # ~1e200) and out of the BA map's (it multiplies the floor by c ~ 1 + 1e-4). Lifting
    # them to cfg.inject_mass changes Phi by ~that mass and lets the next steps move them;
    # kept only if it lowers the certified gap.
    r_cur = _mass(theta, s.alive)
    _, c_cur, _ = _grad(r_cur, K, p)
    lift = s.alive & (c_cur > 1.0) & (r_cur < cfg.inject_mass)
    theta_l = _normalise(jnp.log(jnp.where(lift, cfg.inject_mass, r_cur) + 0.0), s.alive)
    r_l = _mass(theta_l, s.alive)
    gap_l = _gap(r_l, _grad(r_l, K, p)[1], s.alive)
    better = gap_l < gap
    theta = jnp.where(better, theta_l, theta)
    gap = jnp.minimum(gap, gap_l)
    return s._replace(theta=theta, nt=s.nt + 1, gap=gap), solved
