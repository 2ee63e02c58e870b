r"""Newton steps of the discrete R(D) solver: the constrained Newton method and its fallback.

:math:`\Phi(r) = \sum_x p(x)\log (Kr)(x)` (the objective of the BA map, Eq. 2) is the
log-likelihood of a mixture with weights ``r``, so R(D) at a slope is the non-parametric
maximum-likelihood estimate of a mixing distribution, and Wang's constrained Newton method
(CNM) solves it in a handful of steps however many points the support has:

- :func:`cnm_round` — one CNM step on ``k`` candidate slots: the second-order model of
  :math:`\Phi` is solved exactly over the simplex by :func:`simplex_nnls` (a Lawson–Hanson
  active set), then an Armijo line search;
- :func:`ipm_round` — a log-barrier Newton path on ``k`` candidates, which replaces a CNM
  step that leaves most of the gap (wide kernels on fine grids);
- :func:`cholesky_inverse` — the matrix-product-only Cholesky both use.

With ``SolverConfig.inner="qr"`` a CNM step instead solves its model by
:func:`~rdtheory.discrete.nnls.qr_nnls` (Lawson–Hanson on an updated QR of the weighted
columns, never :math:`A^\top A`), with the mass outside the slots as one block column and
no barrier fallback; see docs/engine.md for its measured state (not yet the default).

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

__all__ = ["cholesky_inverse", "simplex_nnls", "cnm_round", "ipm_round"]


def _cholesky_inverse_base(M):
    """``L^{-1}`` for ``M = L L^T`` (M small): column Cholesky, then forward substitution."""
    b = M.shape[0]
    idx = jnp.arange(b)

    def col(j, L):
        v = M[:, j] - L @ L[j, :]  # columns >= j of L are still zero
        return L.at[:, j].set(jnp.where(idx >= j, v / jnp.sqrt(v[j]), 0.0))

    L = lax.fori_loop(0, b, col, jnp.zeros_like(M))

    def row(i, X):  # rows >= i of X are still zero, so L[i] @ X only uses solved rows
        return X.at[i, :].set((jnp.where(idx == i, 1.0, 0.0) - L[i, :] @ X) / L[i, i])

    return lax.fori_loop(0, b, row, jnp.zeros_like(M))


def cholesky_inverse(M, base: int = SolverConfig.chol_base):
    r"""Inverse Cholesky factor ``L^{-1}`` of a symmetric positive definite ``M = L L^T``,
    using only matrix products (so ``M^{-1} b = L^{-T} L^{-1} b``).

    Recursive 2x2 blocking: with :math:`M = \begin{pmatrix}A & B^T\\ B & C\end{pmatrix}`,
    :math:`L_{11}^{-1} = \text{chol}^{-1}(A)`, :math:`L_{21} = B L_{11}^{-T}`,
    :math:`L_{22}^{-1} = \text{chol}^{-1}(C - L_{21}L_{21}^T)` and
    :math:`L^{-1} = \begin{pmatrix}L_{11}^{-1} & 0\\ -L_{22}^{-1}L_{21}L_{11}^{-1} & L_{22}^{-1}\end{pmatrix}`.
    Why not LAPACK: on CPU, ``jnp.linalg.cholesky`` calls multithreaded OpenBLAS, whose
    spinning threads collide with XLA's on a busy 2-core machine (measured: 180 ms instead
    of 0.1 ms for k = 128).
    """
    k = M.shape[0]
    if k <= base:
        return _cholesky_inverse_base(M)
    h = base * (-(-k // (2 * base)))
    l1 = cholesky_inverse(M[:h, :h], base)
    l21 = M[h:, :h] @ l1.T
    l2 = cholesky_inverse(M[h:, h:] - l21 @ l21.T, base)
    top = jnp.concatenate([l1, jnp.zeros((h, k - h), M.dtype)], axis=1)
    return jnp.concatenate([top, jnp.concatenate([-(l2 @ (l21 @ l1)), l2], axis=1)], axis=0)


def ipm_round(s: _State, K, p, cfg: SolverConfig) -> _State:
    r"""One column-generation round: Newton interior-point solve of Phi on k candidates.

    The candidates S are the ``k/2`` heaviest points of ``r`` and the ``k/2`` other points
    with the largest gradient :math:`c_r(\hat x)` (the optimal support has :math:`c^* = 1`,
    every other point :math:`c^* \le 1`, so points that can still raise :math:`\Phi` rank
    first — as in Wang's constrained Newton method for mixing distributions; the heavy half
    stops a hot region from crowding out the rest of the support). The mass outside S
    moves as one extra block column. On S we follow the log-barrier path of

    .. math:: \max_{r_S > 0,\ \sum r_S = 1}\ \sum_x p(x)\log (K_S r_S)(x) + \mu\sum_{i\in S}\log r_i,

    a Newton step per value of ``mu`` (with the simplex constraint eliminated through its
    multiplier, fraction-to-boundary and backtracking on the barrier objective), dividing
    ``mu`` by 10 after each near-full step. The barrier keeps the Hessian
    :math:`K_S^\top \mathrm{diag}(p/z^2) K_S` — singular to machine precision when grid
    columns are nearly collinear — well conditioned. The round ends when the certified
    gap of the full problem reaches ``tol`` or the restricted problem is solved; the next
    round re-ranks by the new gradient, so points missing from S enter then.
    """
    m = K.shape[1]
    k = min(cfg.newton_size, m)
    dtype = K.dtype
    x64 = jnp.finfo(dtype).bits == 64
    floor, mu_min = (1e-10, 1e-15) if x64 else (1e-5, 1e-7)
    tiny = jnp.finfo(dtype).tiny

    r = _mass(s.theta, s.alive)
    _, c, _ = _grad(r, K, p)
    # half the slots keep the heaviest current points, half take the largest gradients
    # among the others (violators first), so hot regions cannot crowd out the support
    _, heavy = lax.top_k(jnp.where(s.alive, r, -jnp.inf), k // 2)
    score = jnp.where(s.alive, c, -jnp.inf).at[heavy].set(-jnp.inf)
    _, steep = lax.top_k(score, k - k // 2)
    idx = jnp.concatenate([heavy, steep])
    # The mass outside S moves as one block: an extra column z_rest / m_rest whose weight
    # the Newton step optimises together with r_S (so mass can flow between S and the rest).
    r_rest = r.at[idx].set(0.0)
    m_rest = jnp.maximum(jnp.sum(r_rest), tiny)
    Ks = jnp.concatenate([K[:, idx], (K @ r_rest / m_rest)[:, None]], axis=1)
    rs0 = jnp.concatenate([r[idx], m_rest[None]]) + floor
    rs0 = rs0 / jnp.sum(rs0)

    def barrier(x, mu):
        z = jnp.maximum(Ks @ x, tiny)
        return jnp.sum(jnp.where(p > 0, p * jnp.log(z), 0.0)) + mu * jnp.sum(jnp.log(x))

    def expand(x):
        return (r_rest * (x[-1] / m_rest)).at[idx].set(x[:-1])

    def full_gap(x):
        rr = expand(x)
        _, cc, _ = _grad(rr, K, p)
        return _gap(rr, cc, s.alive)

    def step(carry):
        j, x, mu, _, _ = carry
        z = jnp.maximum(Ks @ x, tiny)
        w = jnp.where(p > 0, p / z, 0.0)
        cs = w @ Ks
        A = (Ks * (w / z)[:, None]).T @ Ks
        M = A + jnp.diag(mu / (x * x))
        g = cs + mu / x
        Li = cholesky_inverse(M, cfg.chol_base)
        sol = Li.T @ (Li @ jnp.stack([g, jnp.ones_like(g)], axis=1))
        nu = jnp.sum(sol[:, 0]) / jnp.sum(sol[:, 1])
        delta = sol[:, 0] - nu * sol[:, 1]
        ratio = jnp.where(delta < 0, -x / jnp.where(delta < 0, delta, -1.0), jnp.inf)
        t0 = jnp.minimum(1.0, 0.99 * jnp.min(ratio))
        b0 = barrier(x, mu)

        def ls_cond(c):
            t, i = c
            return (i < 40) & ~(barrier(x + t * delta, mu) >= b0)

        t, _ = lax.while_loop(ls_cond, lambda c: (c[0] * 0.5, c[1] + 1), (t0, 0))
        xn = x + t * delta
        ok = jnp.all(jnp.isfinite(xn)) & jnp.all(xn > 0)
        xn = jnp.where(ok, xn / jnp.sum(xn), x)
        # restricted optimality: complementary slackness on S, |x_i (nu - c_i)| <= mu
        mu_next = jnp.where(t > 0.5, jnp.maximum(mu * 0.1, mu_min), mu)
        restricted_done = (mu <= mu_min) & (t > 0.5) | ~ok
        return j + 1, xn, mu_next, full_gap(xn), restricted_done

    def cond(carry):
        j, _, _, gap, restricted_done = carry
        return (j < cfg.newton_steps) & (gap > cfg.tol_nats) & ~restricted_done

    init = (0, rs0, jnp.asarray(cfg.mu0 if x64 else 1e-4, dtype), s.gap, jnp.asarray(False))
    j, x, _, gap, _ = lax.while_loop(cond, step, init)
    r_new = expand(x)
    theta = _normalise(jnp.log(jnp.maximum(r_new, tiny)), s.alive)
    return s._replace(theta=theta, nt=s.nt + j, gap=gap)


def simplex_nnls(Q, b, valid, P0, w0, max_inner: int, cfg: SolverConfig | None = None):
    r"""Lawson–Hanson active set for the simplex-constrained least squares of a CNM step,

    .. math:: \min_w\ \tfrac12 w^\top Q w - b^\top w \quad\text{s.t.}\quad w \ge 0,\ \textstyle\sum w = 1,
              \ w = 0 \text{ off } ``valid``,

    from the feasible ``w0`` (supported on the passive set ``P0``). The inverse
    :math:`M = (Q_{PP})^{-1}` (zero off P) is kept by bordering when a slot enters and by a
    Schur downdate when one leaves, so a step costs O(k^2); the equality constraint enters
    through its multiplier: :math:`x = M(b - \nu 1)` with :math:`1^\top x = 1`.
    Collinear columns (neighbouring grid points) never enter together: a column whose Schur
    complement is below ``cfg.cnm_dependent`` of its diagonal is skipped. Returns ``(w, solved)``;
    ``w`` is feasible even when ``max_inner`` stops the loop early (``solved`` False).
    ``cfg`` supplies ``cnm_ridge``, ``cnm_dependent``, ``cnm_enter`` and ``chol_base``
    (default: :class:`SolverConfig`'s). A jit-level building block like
    :func:`~rdtheory.discrete.solver.solve`: its inputs are not validated.
    """
    cfg = SolverConfig() if cfg is None else cfg
    k = Q.shape[0]
    dtype = Q.dtype
    eye = jnp.eye(k, dtype=dtype)
    ones = jnp.ones((k,), dtype)
    slot = jnp.arange(k)
    Pm = P0[:, None] & P0[None, :]
    Li = cholesky_inverse(jnp.where(Pm, Q + cfg.cnm_ridge * jnp.diag(jnp.diag(Q)), eye), cfg.chol_base)
    M0 = jnp.where(Pm, Li.T @ Li, 0.0)

    def restricted(M, P):
        u, v = M @ b, M @ ones
        nu = (jnp.sum(u) - 1.0) / jnp.sum(v)
        return jnp.where(P, u - nu * v, 0.0), nu

    def body(c):
        i, P, w, M, blocked, _ = c
        x, nu = restricted(M, P)
        feasible = jnp.all(jnp.where(P, x > 0, True))
        # x feasible: accept it and let the most violated slot enter (bordered inverse)
        lam = jnp.where(P | blocked | ~valid, -jnp.inf, b - nu - Q @ x)
        j = jnp.argmax(lam)
        want = feasible & (lam[j] > cfg.cnm_enter)
        q = jnp.where(P, Q[:, j], 0.0)
        a = M @ q
        schur = Q[j, j] - q @ a
        independent = schur > cfg.cnm_dependent * Q[j, j]
        e = a - jnp.where(slot == j, 1.0, 0.0)
        M_add = M + jnp.outer(e, e) / jnp.where(independent, schur, 1.0)
        add = want & independent
        # x infeasible: move from w toward x until the first slot hits zero; that slot leaves
        neg = P & (x <= 0)
        ratio = jnp.where(neg, w / jnp.where(neg, w - x, 1.0), jnp.inf)
        jr = jnp.argmin(ratio)
        w_step = jnp.maximum(jnp.where(P, w + jnp.clip(ratio[jr], 0.0, 1.0) * (x - w), 0.0).at[jr].set(0.0), 0.0)
        pivot = jnp.where(M[jr, jr] > 0, M[jr, jr], 1.0)
        M_rm = (M - jnp.outer(M[:, jr], M[jr, :]) / pivot).at[jr, :].set(0.0).at[:, jr].set(0.0)

        P = jnp.where(feasible, P.at[j].set(P[j] | add), P.at[jr].set(False))
        w = jnp.where(feasible, x, w_step / jnp.sum(w_step))
        M = jnp.where(feasible, jnp.where(add, M_add, M), M_rm)
        blocked = blocked | (want & ~independent & (slot == j))
        return i + 1, P, w, M, blocked, feasible & ~want

    def cond(c):
        return (c[0] < max_inner) & ~c[-1]

    init = (0, P0, w0, M0, jnp.zeros((k,), bool), jnp.asarray(False))
    _, _, w, _, _, solved = lax.while_loop(cond, body, init)
    return w, solved


def cnm_round(s: _State, K, p, cfg: SolverConfig) -> _State:
    r"""One step of the constrained Newton method (Wang 2007) on ``k`` candidate slots.

    :math:`\Phi(r) = \sum_x p(x)\log (Kr)(x)` is the log-likelihood of a mixture with weights
    ``r`` (R(D) at a slope is the NPMLE of a mixing distribution), and Wang's CNM solves
    that problem in a handful of steps however many points the support has. With
    :math:`z = Kr` and :math:`c = K^\top(p/z)`, the second-order model of :math:`\Phi` at r is,
    up to a constant, :math:`-\tfrac12\sum_x p(x)\,((Kr')(x)/z(x) - 2)^2`, a least-squares
    problem in :math:`r'`. The slots are the current support (mass >= ``cfg.cnm_support_mass``,
    heaviest first) and then the points with the largest :math:`c > 1` (the only ones that can
    raise :math:`\Phi`); :func:`simplex_nnls` solves the model on them exactly over the simplex,
    so points leave the support at exactly zero mass and near-collinear neighbours do not both
    enter (the ill-conditioning that makes barrier and BA steps slow here). A backtracking
    (Armijo) line search on :math:`\Phi` along :math:`r \to r'` makes every step an ascent.
    """
    m = K.shape[1]
    k = min(cfg.newton_size, m)
    dtype = K.dtype
    tiny = jnp.finfo(dtype).tiny
    r = _mass(s.theta, s.alive)
    z, c, phi0 = _grad(r, K, p)
    support = s.alive & (r >= cfg.cnm_support_mass)
    score = jnp.where(support, 2.0 + r, jnp.where(s.alive & (c > 1.0), jnp.tanh(c - 1.0), -jnp.inf))
    top, idx = lax.top_k(score, k)
    valid = top > -jnp.inf
    A = K[:, idx] * (jnp.sqrt(p) / z)[:, None]
    P0 = valid & support[idx]
    w0 = jnp.where(P0, r[idx], 0.0)
    if cfg.inner == "qr":
        # the mass outside the k slots moves as one extra column (K r_rest / m_rest), so a
        # step can shift mass between the slots and a ~90 % support that k cannot hold
        r_rest = r.at[idx].set(0.0)
        m_rest = jnp.sum(r_rest)
        z_rest = K @ r_rest / jnp.maximum(m_rest, tiny)
        # sum(w) = 1 makes the model homogeneous, A w - b = (A - b 1^T) w; minimising
        # ||(A - b 1^T) y||^2 + (1^T y - 1)^2 over y >= 0 and normalising is then exact
        b = 2.0 * jnp.sqrt(p)
        Ax = jnp.concatenate([A, (z_rest * jnp.sqrt(p) / z)[:, None]], axis=1)
        A1 = jnp.concatenate([Ax - b[:, None], jnp.ones((1, k + 1), dtype)], axis=0)
        e = jnp.zeros((A1.shape[0],), dtype).at[-1].set(1.0)
        x0 = jnp.concatenate([jnp.where(valid, r[idx], 0.0), m_rest[None]])
        vx = jnp.concatenate([valid, (m_rest > 0)[None]])
        y, _ = qr_nnls(A1, e, vx, x0 / jnp.sum(x0), cfg.cnm_inner(k), cfg.qr_dependent, cfg.qr_enter)
        y = jnp.where(jnp.sum(y) > 0, y / jnp.where(jnp.sum(y) > 0, jnp.sum(y), 1.0), x0 / jnp.sum(x0))
        w, w_rest = y[:k], y[k]
        z_new = K[:, idx] @ w + z_rest * w_rest
        slope = jnp.sum(w * c[idx]) + w_rest * (c @ r_rest) / jnp.maximum(m_rest, tiny) - 1.0
        target = (r_rest * (w_rest / jnp.maximum(m_rest, tiny))).at[idx].set(w)
    else:
        Q, b = A.T @ A, 2.0 * c[idx]
        w, _ = simplex_nnls(Q, b, valid, P0, w0 / jnp.sum(w0), cfg.cnm_inner(k), cfg)
        # Armijo backtracking on Phi along r -> r' (z is linear in r; c . r = 1)
        z_new = K[:, idx] @ w
        slope = jnp.sum(w * c[idx]) - 1.0
        target = jnp.zeros_like(r).at[idx].set(w)

    def phi_at(t):
        return jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.maximum(z + t * (z_new - z), tiny)), 0.0))

    def ls_cond(cc):
        t, j = cc
        return (j < 40) & ~(phi_at(t) >= phi0 + 1e-4 * t * slope)

    t, _ = lax.while_loop(ls_cond, lambda cc: (cc[0] * 0.5, cc[1] + 1), (jnp.asarray(1.0, dtype), 0))
    t = jnp.where(slope > 0, t, 0.0)
    r_new = (1.0 - t) * r + t * target
    theta = _normalise(jnp.log(jnp.maximum(r_new, 0.0)), s.alive)
    r_new = _mass(theta, s.alive)
    _, c_new, _ = _grad(r_new, K, p)
    return s._replace(theta=theta, nt=s.nt + 1, gap=_gap(r_new, c_new, s.alive))
