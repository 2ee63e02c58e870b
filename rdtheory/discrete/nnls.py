r"""Non-negative least squares by a Lawson–Hanson active set on an updated QR factorisation.

Solves :math:`\min_{x\ge 0}\ \|Ax - b\|_2` for ``A`` (N, m) by the Lawson–Hanson active set
[1]_, with every least-squares subproblem on the passive set P solved from a thin QR
factorisation :math:`A_P = QR` kept up to date as columns enter and leave:

- a column enters by classical Gram–Schmidt with one re-orthogonalisation (CGS2, [3]_:
  orthogonal to working precision), so its residual norm :math:`\rho = \|a - QQ^\top a\|` is
  the distance of ``a`` from :math:`\mathrm{span}(A_P)`; a column with
  :math:`\rho \le \delta\|a\|` is numerically dependent on P and never enters;
- a column leaves by deleting its column of R and restoring the triangle with Givens
  rotations applied to R, :math:`Q^\top b` and Q [2]_ (Golub & Van Loan §6.5);
- :math:`x_P = R^{-1}Q^\top b` by back substitution, and the residual of the subproblem is
  :math:`b - QQ^\top b`, so the entering test :math:`A^\top(b - A_P x_P)` costs one product.

Nothing forms :math:`A^\top A`: the subproblems see :math:`\kappa(A_P)`, not its square, so
columns as close as :math:`\delta\|a\|` (``SolverConfig.qr_dependent``, 1e-10) are resolved
where the normal equations lose them at :math:`\sqrt{\varepsilon}`-level differences.

**Shapes.** The factor has a static *capacity* ``kp`` (at most ``kp`` passive columns) that
is independent of the number ``m`` of candidate columns: the candidates cost one
matrix-vector product per active-set change, the factor O(kp N). A column that would
exceed the capacity is not added and the result is reported unsolved. Positions
``0..np-1`` of the factor are in use (``Q`` stored transposed, zero rows beyond ``np``);
everything is pure and jit/vmap-able; inputs are not validated.

References
----------
.. [1] C. L. Lawson and R. J. Hanson, Solving Least Squares Problems, Prentice-Hall, 1974,
   ch. 23 (NNLS).
.. [2] G. H. Golub and C. F. Van Loan, Matrix Computations, 4th ed., Johns Hopkins, 2013,
   §5.2 (QR), §6.5 (updating QR).
.. [3] L. Giraud, J. Langou and M. Rozložník, "The loss of orthogonality in the Gram-Schmidt
   orthogonalization process", Comput. Math. Appl. 50:1069-1075, 2005 (CGS2).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["QRFactor", "qr_nnls"]


class QRFactor(NamedTuple):
    """Thin QR of the passive columns, in positions ``0..np-1`` (fixed shapes).

    ``Qt`` (kp, N): rows are the orthonormal columns of Q (zero beyond ``np``); ``R`` (kp, kp):
    upper triangular on the used block, identity beyond it; ``qtb`` (kp,): :math:`Q^\top b`;
    ``slot`` (kp,): the column of ``A`` at each position; ``x`` (kp,): the current feasible
    iterate at each position; ``np``: positions in use."""

    Qt: jax.Array
    R: jax.Array
    qtb: jax.Array
    slot: jax.Array
    x: jax.Array
    np: jax.Array


def _empty(N: int, kp: int, dtype) -> QRFactor:
    return QRFactor(jnp.zeros((kp, N), dtype), jnp.eye(kp, dtype=dtype), jnp.zeros((kp,), dtype),
                    jnp.zeros((kp,), int), jnp.zeros((kp,), dtype), jnp.asarray(0))


def _add(f: QRFactor, a, b, j, xj, delta, allow=True):
    """Append column ``a`` (index ``j``, starting value ``xj``) by CGS2; returns (factor, entered).
    A column whose residual is at most ``delta`` of its norm, or one beyond the capacity,
    leaves the factor unchanged, as does ``allow`` False (``entered`` reports the first two
    only). Each buffer is written once, in place: a whole-buffer
    select would copy the factor at every change.)"""
    kp = f.R.shape[0]
    h1 = f.Qt @ a
    v = a - h1 @ f.Qt
    h2 = f.Qt @ v
    v = v - h2 @ f.Qt
    rho = _norm(v)
    fits = (rho > delta * _norm(a)) & (f.np < kp)
    ok = fits & allow
    q = v / jnp.where(ok, rho, 1.0)
    pos = jnp.minimum(f.np, kp - 1)
    col = jnp.where(jnp.arange(kp) == pos, rho, h1 + h2)
    put = lambda buf, new, ax=0: lax.dynamic_update_index_in_dim(
        buf, jnp.where(ok, new, lax.dynamic_index_in_dim(buf, pos, ax, keepdims=False)), pos, ax)
    g = QRFactor(put(f.Qt, q), put(f.R, col, 1), put(f.qtb, q @ b), put(f.slot, j), put(f.x, xj),
                 f.np + ok.astype(f.np.dtype))
    return g, fits


def _norm(v):
    """2-norm without overflow: columns weighted by sqrt(p)/z reach ~1e150 where z ~ 1e-150."""
    big = jnp.max(jnp.abs(v))
    safe = jnp.where(big > 0, big, 1.0)
    return safe * jnp.sqrt(jnp.sum((v / safe) ** 2))


def _col_norms(A):
    """Column 2-norms of A without overflow (as :func:`_norm`)."""
    big = jnp.max(jnp.abs(A), axis=0)
    safe = jnp.where(big > 0, big, 1.0)
    return safe * jnp.sqrt(jnp.sum((A / safe) ** 2, axis=0))


def _givens(a, b):
    """(c, s) with [c s; -s c] [a; b] = [r; 0]."""
    r = jnp.hypot(a, b)
    safe = jnp.where(r > 0, r, 1.0)
    return jnp.where(r > 0, a / safe, 1.0), jnp.where(r > 0, b / safe, 0.0)


def _delete(f: QRFactor, pos, active=True) -> QRFactor:
    """Remove position ``pos`` (if ``active``): shift later columns of R left, then Givens
    rotations restore the triangle (applied to R's rows, ``qtb`` and Q's columns).

    Every update touches only the rows and columns it changes, in place (O(kp (N + kp))
    for a deletion, nothing when ``active`` is False): whole-matrix selects of R at each
    active-set change cost ~30 MB of memory traffic at kp = 1024."""
    kp = f.R.shape[0]
    idx = jnp.arange(kp)
    last = jnp.where(active, f.np - 1, f.np)
    stop = jnp.where(active, last, pos)

    def shift(i, R):
        return lax.dynamic_update_index_in_dim(R, lax.dynamic_index_in_dim(R, i + 1, 1, keepdims=False), i, 1)

    R = lax.fori_loop(pos, stop, shift, f.R)

    def rot(i, c):
        # one read and one write of the two rows each rotation mixes
        R, Qt, qtb = c
        cs, sn = _givens(R[i, i], R[i + 1, i])
        G = jnp.stack([jnp.stack([cs, sn]), jnp.stack([-sn, cs])])
        two = lambda buf: lax.dynamic_update_slice_in_dim(
            buf, G @ lax.dynamic_slice_in_dim(buf, i, 2, 0), i, 0)
        return two(R), two(Qt), two(qtb)

    R, Qt, qtb = lax.fori_loop(pos, stop, rot, (R, f.Qt, f.qtb))
    # position `last` is free again: identity row and column of R, zero row of Q and qtb
    row = jnp.minimum(last, kp - 1)
    unit = (idx == row).astype(R.dtype)
    pick = lambda buf, new, ax=0: lax.dynamic_update_index_in_dim(
        buf, jnp.where(active, new, lax.dynamic_index_in_dim(buf, row, ax, keepdims=False)), row, ax)
    R = pick(pick(R, unit, 1), unit, 0)
    src = jnp.where(active & (idx >= pos), jnp.minimum(idx + 1, kp - 1), idx)
    keep = idx < last
    return QRFactor(pick(Qt, jnp.zeros((Qt.shape[1],), Qt.dtype)), R, pick(qtb, jnp.zeros((), qtb.dtype)),
                    jnp.where(keep, f.slot[src], 0), jnp.where(keep, f.x[src], 0.0), last)


def _solve(f: QRFactor):
    """Least-squares solution on the passive set, by position (zero beyond ``np``)."""
    return lax.linalg.triangular_solve(f.R, f.qtb[:, None], left_side=True, lower=False)[:, 0]


def _scatter(f: QRFactor, values, m: int):
    used = jnp.arange(f.R.shape[0]) < f.np
    return jnp.zeros((m,), values.dtype).at[jnp.where(used, f.slot, m)].set(values, mode="drop")


def qr_nnls(A, b, valid, x0, max_inner: int, delta: float = 1e-10, enter: float = 1e-10,
            capacity: int | None = None):
    r"""Lawson–Hanson NNLS :math:`\min_{x\ge0}\|Ax-b\|` on the columns ``valid``, from ``x0 >= 0``.

    ``A`` (N, m), ``b`` (N,), ``valid`` (m,) bool, ``x0`` (m,) a feasible start whose support
    starts as the passive set (heaviest first; dependent columns and those beyond the
    capacity are dropped with their mass). ``capacity`` (static; default ``min(N, m)``) is
    the most passive columns. A column enters when its gradient :math:`a_j^\top(b - Ax)`
    exceeds ``enter`` times :math:`\|a_j\|\,\|b\|` (a column that leaves right after entering
    is not tried again); ``delta`` is the dependence threshold of
    the module docstring. Each loop pass makes one active-set change (at most ``max_inner``).
    Returns ``(x, solved)``: ``x >= 0`` always (a feasible iterate if the cap stops the
    loop), and ``solved`` when the KKT conditions hold to ``enter`` (False also when a
    column that should enter did not fit the capacity).
    """
    N, m = A.shape
    kp = min(N, m) if capacity is None else int(min(capacity, N, m))
    dtype = A.dtype
    tiny = jnp.finfo(dtype).tiny
    scale = jnp.maximum(_col_norms(A) * _norm(b), tiny)

    # initial factor: the support of x0, heaviest first, up to the capacity
    start = valid & (x0 > 0)
    order = jnp.argsort(-jnp.where(start, x0, -1.0))

    def init(i, f):
        j = order[i]
        return _add(f, A[:, j], b, j, x0[j], delta)[0]

    f = lax.fori_loop(0, jnp.minimum(jnp.sum(start), kp), init, _empty(N, kp, dtype))

    def body(c):
        # feasible s: accept it and let the column with the largest scaled gradient enter;
        # infeasible: move from x toward s until the first passive column reaches zero, and
        # that column leaves. Both updates run masked (in place), not under lax.cond, which
        # would copy the factor and A at every change.
        i, f, blocked, _, full, last = c
        s = _solve(f)
        used = jnp.arange(kp) < f.np
        feasible = jnp.all(jnp.where(used, s > 0, True))
        # residual of the passive LS: b - Q Q^T b; written r @ A, not A.T @ r (with A a jit
        # argument, XLA CPU transposed A inside the loop: 18 ms instead of 0.2 ms at 1025 x 1024)
        res = b - f.qtb @ f.Qt
        grad = res @ A
        inP = _scatter(f, jnp.ones((kp,), bool), m)
        score = jnp.where(inP | blocked | ~valid, -jnp.inf, grad / scale)
        j = jnp.argmax(score)
        want = feasible & (score[j] > enter)
        neg = used & (s <= 0)
        ratio = jnp.where(neg, f.x / jnp.where(neg, f.x - s, 1.0), jnp.inf)
        pos = jnp.argmin(ratio)
        alpha = jnp.clip(ratio[pos], 0.0, 1.0)
        x_step = jnp.where(used, jnp.maximum(f.x + alpha * (s - f.x), 0.0), 0.0).at[pos].set(0.0)
        # a column that leaves right after entering had a gradient within rounding of zero
        # (in exact arithmetic an entering column gets a positive coefficient): it is blocked,
        # or near-dependent grid columns cycle in and out until max_inner
        bounce = ~feasible & (f.slot[pos] == last)
        blocked = blocked | (bounce & (jnp.arange(m) == last))
        f = _delete(f._replace(x=jnp.where(feasible, s, x_step)), pos, active=~feasible)
        f, ok = _add(f, A[:, j], b, j, jnp.zeros((), dtype), delta, allow=want)
        full = full | (want & ~ok & (f.np >= kp))
        blocked = blocked | (want & ~ok & (jnp.arange(m) == j))
        last = jnp.where(want & ok, j, jnp.where(feasible, -1, last))
        return i + 1, f, blocked, feasible & ~want, full, last

    def cond(c):
        # a column that should enter but does not fit the capacity ends the loop: the caller
        # (the "auto" schedule) moves to a larger capacity rather than grinding on
        return (c[0] < max_inner) & ~c[3] & ~c[4]

    init_c = (0, f, jnp.zeros((m,), bool), jnp.asarray(False), jnp.asarray(False), jnp.asarray(-1))
    _, f, _, done, full, _ = lax.while_loop(cond, body, init_c)
    return _scatter(f, jnp.maximum(f.x, 0.0), m), done & ~full
