r"""X-optimal sets and induced distortion sets (Sec. II-D), and Theorem 4's merge.

**X-optimal set.** :math:`\mathcal R_X(D_X;X) = \{p(\hat x|x) \in \mathcal P_X(D_X;X) :
I(X;\hat X) = R_X(D_X;X)\}` — every conditional that achieves the input rate-distortion
function. The *induced distortion set* of T is
:math:`\mathcal D_T^*(D_X;X) = \{\mathbb E\,d_T(f(X), f(\hat X)) : p \in \mathcal R_X(D_X;X)\}`;
the same with a hidden layer Y as source (:math:`\mathcal D_T^*(D_Y;Y)`) or as target
(:math:`\mathcal D_Y^*(D_X;X)`, footnote 3). Here the quantised layer (``cut``) carries the
distortion that defines optimality and ``target`` the distortion whose values are collected.

The set of optimal conditionals is convex (mutual information is convex in the channel),
and the induced distortion is linear in it, so :math:`\mathcal D^*` is an interval
:math:`[D^{\min}, D^{\max}]`. Two independent ways to compute it:

``method="gibbs"`` — a linear program. Every optimal conditional at a distortion
:math:`0 < D < D_{\max}` minimises :math:`I + \beta^* \mathbb E d` at the curve's slope
:math:`\beta^*`, hence has the Gibbs form
:math:`p(\hat x|x) = r(\hat x) K(x,\hat x)/Z^*(x)`, :math:`K = e^{-\beta^* d}`, where every
optimal output law :math:`r` satisfies :math:`(K r)(x) = Z^*(x)` on the support of p (the
dual :math:`\sum_x p(x)\log (Kr)(x)` is strictly concave in :math:`Kr`, so :math:`Z^*` is
common to all optimisers) and puts mass only where :math:`c(\hat x) = \sum_x p(x)K/Z^* = 1`.
So the optimal set is the affine image of the polytope
:math:`\{r \ge 0,\ \sum r = 1,\ K r = Z^*,\ \mathbb E d = D\}` and both ends of
:math:`\mathcal D^*` are LPs. :math:`\beta^*` and :math:`Z^*` come from the engine (slope
bracketed to ``1e-9`` relative, then a ``1e-12``-gap solve); the LP constraints are relaxed
by a tolerance ``tau`` (reported) which is raised until the LP is feasible. The witnesses
are near-optimal conditionals (their rate and distortion are reported).

``method="convex"`` — the certified outer bound. Every optimal conditional lies in the
:math:`\varepsilon`-optimal set :math:`\{W : \mathbb E d \le D,\ I(W) \le \bar R\}` with
:math:`\bar R` the engine's certified upper bound on :math:`R(D)` (plus ``eps`` for the
conic solver's accuracy). This set is convex (exponential cones; solved with cvxpy and
CLARABEL), so min and max over it are convex programs and bracket the true ends from
outside: ``minimum <= D^min`` and ``maximum >= D^max``. As the certified gap shrinks the
bracket closes (at a square-root rate in the gap where the rate grows quadratically off the
optimal set).

**Theorem 4's merge.** For a conditional with two reproductions :math:`\hat x_1 \ne \hat x_2`
of positive mass and equal task output, mapping :math:`\hat x_2 \to \hat x_1` keeps the task
distortion and lowers :math:`I(X;\hat X)` by
:math:`\sum_x [a_x\log\frac{a_x}{r_1} + b_x\log\frac{b_x}{r_2} - (a_x+b_x)\log\frac{a_x+b_x}{r_1+r_2}] \ge 0`
(:math:`a_x = p(x,\hat x_1)`, :math:`b_x = p(x,\hat x_2)`), strictly positive iff the
posteriors :math:`p(x|\hat x_1) \ne p(x|\hat x_2)` (log-sum inequality, Eq. 26).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. II-D, Theorem 4, Eq. 26).
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .._validation import as_finite_array, probability_vector
from .model import FiniteTaskModel, Layer
from ..info import LN2, channel_mutual_information
from .rates import certified_rates, rate_problem

__all__ = ["InducedDistortionSet", "induced_distortion_set", "induced_set", "MergeCandidate",
           "merge_reproductions", "merge_rate_drop", "merge_candidates"]


class InducedDistortionSet(NamedTuple):
    r"""The interval :math:`\mathcal D^*(D;\cdot) = [\text{minimum}, \text{maximum}]` (units of the target distortion).

    D:            the distortion level at the cut layer (e.g. :math:`D_X`).
    rate, rate_lower: certified bounds on the cut layer's :math:`R(D)` (bits).
    minimum, maximum: the ends (``gibbs``: values at near-optimal witnesses; ``convex``:
                  certified outer bounds, ``minimum <= D^min``, ``maximum >= D^max``).
    argmin, argmax: (n, m) conditionals achieving them (rows of zero-probability symbols uniform).
    witness_rate: (2,) mutual information of argmin/argmax (bits) — near ``rate``.
    witness_distortion: (2,) their distortion at the cut layer — near ``D``.
    beta:         slope (nats per unit distortion) used.
    tau:          LP relaxation used (``gibbs``) or the rate slack ``eps`` in bits (``convex``).
    method:       ``"gibbs"`` or ``"convex"``.
    """

    D: float
    rate: float
    rate_lower: float
    minimum: float
    maximum: float
    argmin: np.ndarray
    argmax: np.ndarray
    witness_rate: np.ndarray
    witness_distortion: np.ndarray
    beta: float
    tau: float
    method: str

    @property
    def width(self) -> float:
        return self.maximum - self.minimum


def induced_set(p, d, e, D: float, *, method: str = "gibbs", tol: float = 1e-9, eps: float = 1e-7,
                point=None) -> InducedDistortionSet:
    r"""Induced distortion interval for source ``p`` (n,), optimality distortion ``d`` (n, m),
    induced distortion ``e`` (n, m), at distortion ``D`` (low-level form of
    :func:`induced_distortion_set`).

    ``tol``: certified gap (bits) of the R(D) solve; ``eps``: extra rate slack (bits) of the
    ``convex`` method. ``point``: a precomputed :func:`~rdtheory.machines.certified_rates`
    result at ``D`` (with ``beta_rtol``), to skip that solve.
    """
    p = np.asarray(p, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    if d.shape != e.shape or d.shape[0] != p.shape[0]:
        raise ValueError(f"d and e must both have shape (n, m) with n = len(p) = {p.shape[0]}; got {d.shape}, {e.shape}")
    if method not in ("gibbs", "convex"):
        raise ValueError(f"method must be 'gibbs' or 'convex'; got {method!r}")
    pt = certified_rates(p, d, float(D), tol=tol, beta_rtol=1e-9) if point is None else point
    R_up, R_lo, beta = float(np.ravel(pt.rate)[0]), float(np.ravel(pt.lower)[0]), float(np.ravel(pt.beta)[0])
    q0 = np.asarray(pt.q).reshape(d.shape)
    if beta == 0.0:  # D >= D_max: rate 0, the optimal set is every constant map with E d <= D
        return _zero_rate_set(p, d, e, float(D), R_up, R_lo)
    if method == "gibbs":
        return _gibbs(p, d, e, float(D), beta, R_up, R_lo, q0)
    return _convex(p, d, e, float(D), R_up, R_lo, beta, eps)


def _finish(p, d, e, D, R_up, R_lo, beta, tau, method, wmin, wmax, vmin=None, vmax=None):
    ws = np.stack([wmin, wmax])
    rates = channel_mutual_information(p, ws)
    dists = np.einsum("n,knm->k", p, ws * d)
    vals = np.einsum("n,knm->k", p, ws * e)
    vmin = vals[0] if vmin is None else vmin
    vmax = vals[1] if vmax is None else vmax
    return InducedDistortionSet(D, R_up, R_lo, float(vmin), float(vmax), wmin, wmax, rates, dists, beta, tau, method)


def _zero_rate_set(p, d, e, D, R_up, R_lo):
    # rate 0 means q(x_hat|x) = r(x_hat) independent of x; optimal iff sum_xhat r (p @ d) <= D
    cost_d, cost_e = p @ d, p @ e
    ok = cost_d <= D + 1e-12
    m = d.shape[1]
    def const(j):
        w = np.zeros_like(d)
        w[:, j] = 1.0
        return w
    # the set of r is {r in simplex : r @ cost_d <= D}; its extreme values of r @ cost_e are
    # attained on edges between an admissible point and any other point; an LP is exact here
    from scipy.optimize import linprog
    res = [linprog(s * cost_e, A_ub=cost_d[None], b_ub=[D], A_eq=np.ones((1, m)), b_eq=[1.0],
                   bounds=[(0, None)] * m, method="highs") for s in (1.0, -1.0)]
    ws = []
    for r in res:
        if r.status == 0:
            w = np.broadcast_to(np.maximum(r.x, 0) / np.maximum(r.x, 0).sum(), d.shape).copy()
        else:
            w = const(int(np.flatnonzero(ok)[0]))
        ws.append(w)
    return _finish(p, d, e, D, R_up, R_lo, 0.0, 0.0, "zero-rate", ws[0], ws[1])


def _gibbs(p, d, e, D, beta, R_up, R_lo, q0):
    from scipy.optimize import linprog

    sup = p > 0
    ps, ds, es = p[sup], d[sup], e[sup]
    # Z* at the optimal slope, from a tight solve (kernel rows rescaled by min_row d)
    r = p @ q0   # output law of the engine's near-optimal code at D (slope bracketed to 1e-9)
    K = np.exp(-beta * (ds - ds.min(1, keepdims=True)))
    Z = K @ r
    c = (ps / Z) @ K
    active = np.flatnonzero(c >= 1.0 - 1e-6)
    KA = K[:, active]
    wd = ((ps / Z)[:, None] * KA * ds[:, active]).sum(0)   # E d per unit mass on each active point
    we = ((ps / Z)[:, None] * KA * es[:, active]).sum(0)
    scale = max(float(d.max() - d.min()), 1e-300)
    k = active.size
    ws, vals, used_tau = [], [], None
    for tau in (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3):
        A_ub = np.vstack([KA / Z[:, None], -KA / Z[:, None], wd[None], -wd[None]])
        b_ub = np.concatenate([np.full(Z.size, 1 + tau), np.full(Z.size, -(1 - tau)), [D + tau * scale], [-(D - tau * scale)]])
        outs = [linprog(s * we, A_ub=A_ub, b_ub=b_ub, A_eq=np.ones((1, k)), b_eq=[1.0],
                        bounds=[(0, None)] * k, method="highs") for s in (1.0, -1.0)]
        if all(o.status == 0 for o in outs):
            used_tau = tau
            break
    if used_tau is None:  # fall back to the engine's own near-optimal conditional
        w0 = np.asarray(q0)
        return _finish(p, d, e, D, R_up, R_lo, beta, float("nan"), "gibbs", w0, w0)
    for o in outs:
        rr = np.zeros(d.shape[1])
        rr[active] = np.maximum(o.x, 0.0)
        w = np.full(d.shape, 1.0 / d.shape[1])
        num = rr[None, :] * np.exp(-beta * (ds - ds.min(1, keepdims=True)))
        w[sup] = num / num.sum(1, keepdims=True)   # rows renormalised exactly: a valid channel
        ws.append(w)
    return _finish(p, d, e, D, R_up, R_lo, beta, used_tau, "gibbs", ws[0], ws[1])


def _convex(p, d, e, D, R_up, R_lo, beta, eps):
    import cvxpy as cp

    sup = p > 0
    ps, ds, es = p[sup], d[sup], e[sup]
    n, m = ds.shape
    J = cp.Variable((n, m), nonneg=True)
    qm = cp.sum(J, axis=0)
    prod = cp.reshape(ps, (n, 1), order="C") @ cp.reshape(qm, (1, m), order="C")
    info = cp.sum(cp.rel_entr(J, prod)) / LN2
    obj = cp.sum(cp.multiply(J, es))
    vals, ws = [], []
    for sense in (cp.Minimize, cp.Maximize):
        # a looser rate slack still gives a valid outer bound, so widen it until the conic
        # solver reports an accurate optimum (its own feasibility tolerance is ~1e-8)
        for slack in (eps, 10 * eps, 100 * eps):
            cons = [cp.sum(J, axis=1) == ps, cp.sum(cp.multiply(J, ds)) <= D, info <= R_up + slack]
            prob = cp.Problem(sense(obj), cons)
            solved = False
            for solver in (cp.CLARABEL, cp.SCS):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        prob.solve(solver=solver, **({"eps": 1e-9, "max_iters": 20000} if solver == cp.SCS else {}))
                    except cp.SolverError:
                        continue
                if prob.status == cp.OPTIMAL:
                    solved = True
                    break
            if solved:
                break
        if J.value is None or prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise RuntimeError(f"convex program for the induced distortion set failed ({prob.status})")
        eps_used = slack
        Jv = np.maximum(J.value, 0.0)
        w = np.full(d.shape, 1.0 / m)
        w[sup] = Jv / Jv.sum(1, keepdims=True)
        ws.append(w)
        vals.append(float(prob.value))
    return _finish(p, d, e, D, R_up, R_lo, beta, eps_used, "convex", ws[0], ws[1], vals[0], vals[1])


def induced_distortion_set(model: FiniteTaskModel, D: float, *, cut: Layer = 0, target: Layer = -1,
                           method: str = "gibbs", tol: float = 1e-9, eps: float = 1e-7) -> InducedDistortionSet:
    r"""The induced distortion set :math:`\mathcal D^*_{\text{target}}(D;\text{cut})` as an interval.

    Optimality is :math:`R_C(D;C)` (quantise layer ``cut``, distortion at ``cut``); the
    interval collects :math:`\mathbb E\,d_J` at layer ``target`` over all optimal conditionals.
    ``cut=0, target='T'`` is :math:`\mathcal D_T^*(D_X;X)` (Theorems 3-4); ``cut='Y'`` gives
    :math:`\mathcal D_T^*(D_Y;Y)` (Cor. 3.1, 4.1); ``cut=0, target='Y'`` gives
    :math:`\mathcal D_Y^*(D_X;X)` (Cor. 3.2, 4.2). See the module docstring for ``method``.

    >>> from rdtheory.machines import instances
    >>> s = induced_distortion_set(instances.ambiguous_features(), 0.2)
    >>> bool(s.minimum < s.maximum)   # X-optimal codes that differ at the task
    True
    """
    opt = rate_problem(model, cut=cut, target=cut)
    ind = rate_problem(model, cut=cut, target=target)
    return induced_set(opt.p, opt.d, ind.d, D, method=method, tol=tol, eps=eps)


# --------------------------------------------------------------------------------- merge
class MergeCandidate(NamedTuple):
    r"""Two reproductions with equal output at the target that Theorem 4's merge can join.

    keep, drop: column indices (into the reproduction alphabet) of :math:`\hat x_1, \hat x_2`;
    mass_keep, mass_drop: :math:`p(\hat x_1), p(\hat x_2)`; posterior_tv: total variation
    between :math:`p(x|\hat x_1)` and :math:`p(x|\hat x_2)`; rate_drop: exact drop of
    :math:`I(X;\hat X)` (bits) when :math:`\hat x_2` is mapped to :math:`\hat x_1`.
    """

    keep: int
    drop: int
    mass_keep: float
    mass_drop: float
    posterior_tv: float
    rate_drop: float


def _merge_args(q, keep, drop, p=None):
    """Validate Theorem 4's merge arguments at the public boundary: ``(p, q, keep, drop)``."""
    q = as_finite_array(q, "q", ndim=2)
    q = probability_vector(q, "q (each row, a conditional p(x^|x))", axis=1)
    m = q.shape[1]
    for name, v in (("keep", keep), ("drop", drop)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or not 0 <= v < m:
            raise ValueError(f"{name} must be a column index of q in 0..{m - 1} (negative indices are refused: "
                             f"they would silently count from the end); got {v!r}")
    if keep == drop:
        raise ValueError(f"keep and drop must be two different reproductions; got {keep} for both")
    if p is not None:
        p = probability_vector(as_finite_array(p, "p", ndim=1), "p")
        if p.shape[0] != q.shape[0]:
            raise ValueError(f"p has {p.shape[0]} entries but q has {q.shape[0]} rows; pass p(x) and p(x^|x) "
                             f"over the same source alphabet")
    return p, q, int(keep), int(drop)


def merge_reproductions(q, keep: int, drop: int) -> np.ndarray:
    r"""The merged conditional of Theorem 4's proof: column ``drop`` moved onto ``keep``, shape (n, m).

    ``q`` (n, m) is a conditional :math:`p(\hat x|x)` (rows sum to 1); ``keep`` and ``drop``
    are distinct column indices in ``0..m-1``. Bad input raises ``ValueError`` naming it.
    """
    _, q, keep, drop = _merge_args(q, keep, drop)
    q[:, keep] += q[:, drop]
    q[:, drop] = 0.0
    return q


def merge_rate_drop(p, q, keep: int, drop: int) -> float:
    r"""Exact :math:`I(X;\hat X) - I(X;\tilde X)` in bits for the merge (Eq. 26, log-sum form).

    ``p`` (n,) a probability vector, ``q`` (n, m) a conditional, ``keep``/``drop`` distinct
    column indices in ``0..m-1``; a ``p`` that does not sum to 1 or a negative index raises
    ``ValueError`` naming the argument.
    """
    p, q, keep, drop = _merge_args(q, keep, drop, p)
    return _merge_rate_drop(p, q, keep, drop)


def _merge_rate_drop(p: np.ndarray, q: np.ndarray, keep: int, drop: int) -> float:
    a, b = p * q[:, keep], p * q[:, drop]
    ra, rb = a.sum(), b.sum()

    def xlogy(x, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0) / np.where(y > 0, y, 1.0)), 0.0)

    drop_nats = xlogy(a, ra).sum() + xlogy(b, rb).sum() - xlogy(a + b, ra + rb).sum()
    return max(float(drop_nats) / LN2, 0.0)


def merge_candidates(p, q, labels, *, mass_tol: float = 1e-9, posterior_tol: float = 1e-9) -> list[MergeCandidate]:
    r"""All pairs :math:`\hat x_1 \ne \hat x_2` with equal ``labels`` (e.g. :math:`f(\hat x)`),
    both masses ``> mass_tol`` and posteriors differing by more than ``posterior_tol`` in total
    variation — Theorem 4's condition — sorted by rate drop (largest first).

    ``p`` (n,), ``q`` (n, m) a conditional, ``labels`` (m,) the output of each reproduction.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    labels = np.asarray(labels)
    joint = p[:, None] * q
    mass = joint.sum(0)
    post = joint / np.where(mass > 0, mass, 1.0)
    out = []
    for t in np.unique(labels):
        idx = [int(j) for j in np.flatnonzero(labels == t) if mass[j] > mass_tol]
        for a_i, a in enumerate(idx):
            for b in idx[a_i + 1:]:
                tv = 0.5 * float(np.abs(post[:, a] - post[:, b]).sum())
                if tv > posterior_tol:
                    keep, drop = (a, b) if mass[a] >= mass[b] else (b, a)
                    out.append(MergeCandidate(keep, drop, float(mass[keep]), float(mass[drop]), tv,
                                              _merge_rate_drop(p, q, keep, drop)))
    return sorted(out, key=lambda c: -c.rate_drop)
