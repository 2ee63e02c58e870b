"""Rate-task-distortion of the toy through the certified R(D) engine: the model discretised on
a grid, R(D) under MSE at X or at Y with the task error of the R(D)-optimal codes, and the
supervised bound R_T. Goes beyond the paper's 1-bit quantisers."""
from __future__ import annotations

import dataclasses

import numpy as np

from .model import CENTRE_Y, CIRCLE, LAYERS, RADIUS, SQUARE, U_RANGE, V_RANGE, _layer, g, h, task_model


# --------------------------------------------------------------------------------------
# rate-task-distortion on a discretised toy (through the R(D) engine)
# --------------------------------------------------------------------------------------
def _grid_axis(lo: float, hi: float, step: float) -> np.ndarray:
    k = int(round((hi - lo) / step))
    return np.round(lo + step * np.arange(k + 1), 10)  # round so that v = 2.0 is exactly 2.0


@dataclasses.dataclass(frozen=True)
class ToyGrid:
    r"""A discretised toy: finite sources at X and at Y = g(X) and reproduction alphabets.

    ``x`` (n, 2): the midpoints of an ``n_u`` x ``n_v`` grid of equal-probability cells over
    each class's rectangle (u cells of width 10/n_u, v cells of width 0.4/n_v), so
    n = 2 n_u n_v points with ``p_x`` uniform (class priors 1/2). ``y`` (k, 2): the distinct
    points of g(x) with the pushed-forward probabilities ``p_y`` (g keeps only sgn(u − 5)
    and v, so k = 4 n_v). ``x_hat``/``y_hat``: reproduction points, a rectangular grid over
    the bounding box of each layer *including the empty band between the classes* (steps
    ``du_x``/``du_y`` in u, ``dv`` in v; v = 2 is on it) united with the source points so
    that zero distortion is reachable. ``labels_*`` are the task labels (0 square, 1 circle).
    """

    x: np.ndarray
    p_x: np.ndarray
    labels_x: np.ndarray
    x_hat: np.ndarray
    y: np.ndarray
    p_y: np.ndarray
    labels_y: np.ndarray
    y_hat: np.ndarray
    n_u: int
    n_v: int
    du_x: float
    du_y: float
    dv: float

    def layer(self, layer: str):
        """(points, p, labels, reproductions, back-end) of the source at ``layer``."""
        if _layer(layer) == "x":
            return self.x, self.p_x, self.labels_x, self.x_hat, task_model
        return self.y, self.p_y, self.labels_y, self.y_hat, h

    @property
    def description(self) -> str:
        return (f"X: {self.n_u} x {self.n_v} cell midpoints per class ({self.x.shape[0]} points, uniform); "
                f"Y = g(X): {self.y.shape[0]} points; reproductions: X-hat {self.x_hat.shape[0]} points "
                f"(du={self.du_x}, dv={self.dv}), Y-hat {self.y_hat.shape[0]} points (du={self.du_y}, dv={self.dv})")


def discretize(n_u: int = 20, n_v: int = 4, *, du_x: float = 0.5, du_y: float = 0.2, dv: float = 0.1) -> ToyGrid:
    """Discretise the toy (see :class:`ToyGrid`; defaults: 160 source points at X, 16 at Y).

    >>> grid = discretize()
    >>> grid.x.shape, grid.y.shape, round(float(grid.p_y.sum()), 12)
    ((160, 2), (16, 2), 1.0)
    """
    for name, val in (("n_u", n_u), ("n_v", n_v)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer; got {val}")
    for name, val in (("du_x", du_x), ("du_y", du_y), ("dv", dv)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{name} must be a positive grid step; got {val}")
    u = U_RANGE[0] + (np.arange(n_u) + 0.5) * (U_RANGE[1] - U_RANGE[0]) / n_u
    rows, labels = [], []
    for c in (SQUARE, CIRCLE):
        lo, hi = V_RANGE[c]
        v = lo + (np.arange(n_v) + 0.5) * (hi - lo) / n_v
        rows.append(np.array([(a, b) for a in u for b in v]))
        labels.append(np.full(n_u * n_v, c))
    x, labels_x = np.round(np.concatenate(rows), 12), np.concatenate(labels)
    p_x = np.full(x.shape[0], 1.0 / x.shape[0])
    yy = g(x)
    y, inv = np.unique(np.round(yy, 12), axis=0, return_inverse=True)
    p_y = np.bincount(inv.ravel(), weights=p_x, minlength=y.shape[0])
    v_axis = _grid_axis(V_RANGE[SQUARE][0], V_RANGE[CIRCLE][1], dv)
    box_x = np.array([(a, b) for a in _grid_axis(*U_RANGE, du_x) for b in v_axis])
    lo_u, hi_u = CENTRE_Y[CIRCLE][0] - RADIUS, CENTRE_Y[SQUARE][0] + RADIUS
    box_y = np.array([(a, b) for a in _grid_axis(lo_u, hi_u, du_y) for b in v_axis])
    x_hat = np.unique(np.round(np.r_[box_x, x], 12), axis=0)
    y_hat = np.unique(np.round(np.r_[box_y, y], 12), axis=0)
    return ToyGrid(x=x, p_x=p_x, labels_x=labels_x, x_hat=x_hat, y=y, p_y=p_y, labels_y=h(y), y_hat=y_hat,
                   n_u=int(n_u), n_v=int(n_v), du_x=float(du_x), du_y=float(du_y), dv=float(dv))


@dataclasses.dataclass(frozen=True)
class RateTaskCurve:
    r"""Rate vs task error along an R(D) curve computed by :mod:`rdtheory.discrete`.

    ``layer`` "x" / "y": the R(D)-optimal codes for *MSE at that layer* (squared l2, sum
    over coordinates), and the task error they cause, :math:`\Pr[f(X) \ne \hat f(\hat Z)]`
    (:math:`\hat f = h\circ g` on x̂, h on ŷ), averaged over the optimal test channel.
    ``layer`` "task": the supervised bound, R(D) of the task-induced distortion
    :math:`d(x,\hat x) = 1[f(x) \ne f(\hat x)]`, where ``task_error`` is the distortion
    itself (closed form :math:`1 - h_2(D_T)` bits for D_T <= 1/2) and ``mse`` is NaN.
    ``rate`` (bits) is BA's upper value and ``rate_lower`` its certified lower bound.
    """

    layer: str
    beta: np.ndarray
    rate: np.ndarray
    rate_lower: np.ndarray
    mse: np.ndarray
    task_error: np.ndarray
    grid: str


def _solve_slopes(p, d, wrong, betas, tol, newton_size):
    r"""(rate, lower, mse, task error) at each slope (in the order of ``betas``): the engine's
    warm-started slope sweep :func:`~rdtheory.discrete.rd_curve`, whose conditionals q give
    the task error :math:`\sum_{x,\hat x} p(x) q(\hat x|x) 1[\text{wrong}]` exactly."""
    from ..discrete import rd_curve

    curve = rd_curve(p, d, betas, tol=tol, newton_size=newton_size, keep_q=True)
    err = np.einsum("n,bnm,nm->b", p, curve.q, wrong)
    vals = np.empty((4, betas.shape[0]))
    vals[:, np.argsort(betas, kind="stable")] = np.stack([curve.rate, curve.lower, curve.distortion, err])
    return vals


def rate_task_distortion(grid: ToyGrid | None = None, *, num: int = 16, refine: int = 3,
                         tol: float = 1e-5, newton_size: int = 64) -> dict[str, RateTaskCurve]:
    """Rate–task-distortion of each layer of the discretised toy (see :class:`RateTaskCurve`).

    For X and for Y, solves the MSE R(D) problem with ``rdtheory.discrete.rd_curve`` at
    ``num`` slopes (``default_betas``), then adds ``refine`` geometrically spaced slopes
    inside every interval where the task error moves by more than 0.02 (so the transition
    is resolved without wasting solves on the flat ends).
    Each solution's test channel q(ẑ|z) gives the task error exactly (a finite sum). Adds
    the supervised curve (``rd_curve`` of the task-induced distortion, ``num`` points).
    Rates in bits with certified lower bounds; ``tol`` is the target certified gap (bits;
    1e-5 is far below anything visible in a task-error plot and keeps the accelerated
    solver's Newton phase short; ``newton_size`` is passed to the solver).
    Returns ``{"x": ..., "y": ..., "task": ...}``, each sorted by rate.
    """
    from ..discrete import default_betas, hamming, rd_curve, task_induced

    if int(num) != num or num < 2:
        raise ValueError(f"num must be an integer >= 2 (points per curve); got {num}")
    if int(refine) != refine or refine < 0:
        raise ValueError(f"refine must be a non-negative integer; got {refine}")
    grid = discretize() if grid is None else grid
    out: dict[str, RateTaskCurve] = {}
    for key in LAYERS:
        pts, p, labels, rep, backend = grid.layer(key)
        d = ((pts[:, None, :] - rep[None, :, :]) ** 2).sum(axis=2)
        wrong = (labels[:, None] != backend(rep)[None, :]).astype(np.float64)
        betas = np.asarray(default_betas(p, d, int(num)), dtype=np.float64)
        vals = _solve_slopes(p, d, wrong, betas, tol, newton_size)
        if refine:
            jump = np.abs(np.diff(vals[3])) > 0.02
            extra = [np.geomspace(betas[i], betas[i + 1], int(refine) + 2)[1:-1] for i in np.flatnonzero(jump)]
            if extra:
                extra = np.concatenate(extra)
                betas = np.r_[betas, extra]
                vals = np.concatenate([vals, _solve_slopes(p, d, wrong, extra, tol, newton_size)], axis=1)
        order = np.lexsort((-betas, vals[0]))
        out[key] = RateTaskCurve(layer=key, beta=betas[order], rate=vals[0, order], rate_lower=vals[1, order],
                                 mse=vals[2, order], task_error=vals[3, order], grid=grid.description)
    d_task = task_induced(grid.labels_x.astype(np.int64), hamming(2))
    sup = rd_curve(grid.p_x, d_task, num=int(num), tol=tol, newton_size=newton_size)
    order = np.argsort(np.asarray(sup.rate), kind="stable")
    out["task"] = RateTaskCurve(layer="task", beta=np.asarray(sup.beta)[order], rate=np.asarray(sup.rate)[order],
                                rate_lower=np.asarray(sup.lower)[order], mse=np.full(order.shape[0], np.nan),
                                task_error=np.asarray(sup.distortion)[order], grid=grid.description)
    return out


def supervised_rate(target: float, grid: ToyGrid | None = None, *, tol: float = 1e-6):
    r"""Certified supervised rate :math:`R(D_T)` of the task-induced distortion at task error ``target``.

    ``rdtheory.discrete.rate_at_distortion`` on :math:`d(x,\hat x) = 1[f(x) \ne f(\hat x)]`
    over the grid's X; returns its ``RDPoint`` (``lower <= R <= rate``, bits). For this
    balanced binary task the closed form is :math:`1 - h_2(D_T)` for :math:`D_T \le 1/2`.
    """
    from ..discrete import hamming, rate_at_distortion, task_induced

    if not (np.isfinite(target) and 0 <= target):
        raise ValueError(f"target must be a task error in [0, 1]; got {target}")
    grid = discretize() if grid is None else grid
    d_task = task_induced(grid.labels_x.astype(np.int64), hamming(2))
    return rate_at_distortion(grid.p_x, d_task, float(target), tol=tol)


def rate_for_task_error(curve: RateTaskCurve, target: float) -> float:
    """Smallest rate (bits) on ``curve`` whose task error is <= ``target`` (inf if none).

    For the supervised ("task") curve this is R_T(target) up to the curve's sampling; for
    the MSE curves it is the rate an MSE-optimised code at that layer needs for that error.
    """
    ok = np.asarray(curve.task_error) <= target
    return float(np.min(np.asarray(curve.rate)[ok])) if np.any(ok) else float("inf")
