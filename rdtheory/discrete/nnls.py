r"""Non-negative least squares by a Lawson–Hanson active set on an updated QR factorisation.

Solves :math:`\min_{x\ge 0}\ \|Ax - b\|_2` for a tall ``A`` (n, k) by the Lawson–Hanson
active set [1]_, with every least-squares subproblem on the passive set P solved from a thin
QR factorisation :math:`A_P = QR` kept up to date as columns enter and leave:

- a column enters by classical Gram–Schmidt with one re-orthogonalisation (CGS2, [3]_:
  orthogonal to working precision), so its residual norm :math:`\rho = \|a - QQ^\top a\|` is
  the distance of ``a`` from :math:`\mathrm{span}(A_P)`; a column with
  :math:`\rho \le \delta\|a\|` is numerically dependent on P and never enters;
- a column leaves by deleting its column of R and restoring the triangle with Givens
  rotations applied to R, :math:`Q^\top b` and Q [2]_ (Golub & Van Loan §6.5);
- :math:`x_P = R^{-1}Q^\top b` by back substitution.

Nothing forms :math:`A^\top A`: the subproblems see :math:`\kappa(A_P)`, not its square, so
columns as close as :math:`\delta\|a\|` (``SolverConfig.qr_dependent``, 1e-10) are resolved
where the normal equations lose them at :math:`\sqrt{\varepsilon}`-level differences. The
factorisation lives in fixed shapes (k slots, positions ``0..np-1`` in use, ``Q`` stored
transposed), so the solver is pure and jit/vmap-able; inputs are not validated.

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

    ``Qt`` (k, n): rows are the orthonormal columns of Q (zero beyond ``np``); ``R`` (k, k):
    upper triangular on the used block, identity beyond it; ``qtb`` (k,): :math:`Q^\top b`;
    ``slot`` (k,): the column of ``A`` at each position; ``np``: positions in use."""

    Qt: jax.Array
    R: jax.Array
    qtb: jax.Array
    slot: jax.Array
    np: jax.Array


def _empty(A, b) -> QRFactor:
    n, k = A.shape
    return QRFactor(jnp.zeros((k, n), A.dtype), jnp.eye(k, dtype=A.dtype), jnp.zeros((k,), A.dtype),
                    jnp.zeros((k,), int), jnp.asarray(0))


def _add(f: QRFactor, A, b, j, delta):
    """Append column ``j`` of ``A`` (CGS2); returns (factor, entered). A column whose
    residual is at most ``delta`` of its norm is dependent: the factor is unchanged."""
    k = A.shape[1]
    a = A[:, j]
    h1 = f.Qt @ a
    v = a - h1 @ f.Qt
    h2 = f.Qt @ v
    v = v - h2 @ f.Qt
    rho = jnp.sqrt(v @ v)
    ok = (rho > delta * jnp.sqrt(a @ a)) & (f.np < min(k, A.shape[0]))
    q = v / jnp.where(ok, rho, 1.0)
    col = jnp.where(jnp.arange(k) == f.np, rho, h1 + h2)
    g = QRFactor(f.Qt.at[f.np].set(q), f.R.at[:, f.np].set(col), f.qtb.at[f.np].set(q @ b),
                 f.slot.at[f.np].set(j), f.np + 1)
    return jax.tree.map(lambda x, y: jnp.where(ok, x, y), g, f), ok


def _givens(a, b):
    """(c, s) with [c s; -s c] [a; b] = [r; 0]."""
    r = jnp.hypot(a, b)
    safe = jnp.where(r > 0, r, 1.0)
    return jnp.where(r > 0, a / safe, 1.0), jnp.where(r > 0, b / safe, 0.0)


def _delete(f: QRFactor, pos) -> QRFactor:
    """Remove position ``pos``: shift later columns of R left, then Givens rotations
    restore the triangle (applied to R's rows, ``qtb`` and Q's columns)."""
    k = f.R.shape[0]
    idx = jnp.arange(k)
    last = f.np - 1
    src = jnp.where(idx >= pos, jnp.minimum(idx + 1, k - 1), idx)
    R = jnp.where((idx >= last)[None, :], 0.0, f.R[:, src])

    def rot(i, c):
        R, Qt, qtb = c
        cs, sn = _givens(R[i, i], R[i + 1, i])
        ri, rj = R[i], R[i + 1]
        R = R.at[i].set(cs * ri + sn * rj).at[i + 1].set(-sn * ri + cs * rj)
        qi, qj = Qt[i], Qt[i + 1]
        Qt = Qt.at[i].set(cs * qi + sn * qj).at[i + 1].set(-sn * qi + cs * qj)
        bi, bj = qtb[i], qtb[i + 1]
        qtb = qtb.at[i].set(cs * bi + sn * bj).at[i + 1].set(-sn * bi + cs * bj)
        return R, Qt, qtb

    R, Qt, qtb = lax.fori_loop(pos, last, rot, (R, f.Qt, f.qtb))
    R = jnp.where((idx[:, None] >= last) | (idx[None, :] >= last), jnp.eye(k, dtype=R.dtype), R)
    slot = jnp.where(idx >= pos, f.slot[src], f.slot)
    return QRFactor(Qt.at[last].set(0.0), R, qtb.at[last].set(0.0), slot, last)


def _solve(f: QRFactor, k: int):
    """Least-squares solution on the passive set, scattered to the k slots."""
    y = lax.linalg.triangular_solve(f.R, f.qtb[:, None], left_side=True, lower=False)[:, 0]
    used = jnp.arange(k) < f.np
    return jnp.zeros((k,), f.R.dtype).at[jnp.where(used, f.slot, k)].set(y, mode="drop")


def qr_nnls(A, b, valid, x0, max_inner: int, delta: float = 1e-10, enter: float = 1e-10):
    r"""Lawson–Hanson NNLS :math:`\min_{x\ge0}\|Ax-b\|` on the slots ``valid``, from ``x0 >= 0``.

    ``A`` (n, k), ``b`` (n,), ``valid`` (k,) bool, ``x0`` (k,) a feasible start (its support
    starts as the passive set, heaviest first; dependent columns are dropped with their mass).
    A slot enters when its gradient :math:`a_j^\top(b - Ax)` exceeds ``enter`` times
    :math:`\|a_j\|\,\|b\|`; ``delta`` is the dependence threshold of the module docstring.
    Each loop pass makes one active-set change (at most ``max_inner``). Returns
    ``(x, solved)``: ``x >= 0`` always (a feasible iterate if the cap stops the loop), and
    ``solved`` when the KKT conditions hold to ``enter``.
    """
    n, k = A.shape
    dtype = A.dtype
    norms = jnp.sqrt(jnp.sum(A * A, axis=0))
    scale = norms * jnp.sqrt(b @ b)

    # initial factor: the support of x0, heaviest first
    order = jnp.argsort(-jnp.where(valid & (x0 > 0), x0, -1.0))

    def init(i, c):
        f, inP = c
        j = order[i]
        g, ok = _add(f, A, b, j, delta)
        use = valid[j] & (x0[j] > 0)
        f = jax.tree.map(lambda x, y: jnp.where(use, x, y), g, f)
        return f, inP.at[j].set(use & ok)

    f, P = lax.fori_loop(0, jnp.sum(valid & (x0 > 0)), init, (_empty(A, b), jnp.zeros((k,), bool)))
    x = jnp.where(P, x0, 0.0)

    def body(c):
        i, f, P, x, blocked, _ = c
        s = _solve(f, k)
        feasible = jnp.all(jnp.where(P, s > 0, True))
        # feasible: accept s, let the slot with the largest scaled gradient enter
        grad = A.T @ (b - A @ s)
        score = jnp.where(P | blocked | ~valid, -jnp.inf, grad / jnp.maximum(scale, jnp.finfo(dtype).tiny))
        j = jnp.argmax(score)
        want = feasible & (score[j] > enter)
        g_add, ok = _add(f, A, b, j, delta)
        # infeasible: move from x toward s until the first passive slot reaches zero; it leaves
        neg = P & (s <= 0)
        ratio = jnp.where(neg, x / jnp.where(neg, x - s, 1.0), jnp.inf)
        jr = jnp.argmin(ratio)
        alpha = jnp.clip(ratio[jr], 0.0, 1.0)
        x_step = jnp.where(P, jnp.maximum(x + alpha * (s - x), 0.0), 0.0).at[jr].set(0.0)
        pos = jnp.argmax(f.slot == jr)  # position of jr (passive slots occupy positions < np)
        g_del = lax.cond(feasible, lambda: f, lambda: _delete(f, pos))
        f = jax.tree.map(lambda a, d_, o: jnp.where(feasible, jnp.where(want & ok, a, o), d_), g_add, g_del, f)
        P = jnp.where(feasible, P.at[j].set(P[j] | (want & ok)), P.at[jr].set(False))
        x = jnp.where(feasible, s, x_step)
        blocked = blocked | (want & ~ok & (jnp.arange(k) == j))
        return i + 1, f, P, x, blocked, feasible & ~want

    def cond(c):
        return (c[0] < max_inner) & ~c[-1]

    init_c = (0, f, P, x, jnp.zeros((k,), bool), jnp.asarray(False))
    _, _, _, x, _, solved = lax.while_loop(cond, body, init_c)
    return jnp.maximum(x, 0.0), solved
