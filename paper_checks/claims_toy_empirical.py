r"""R(D) of the circles/squares toy (Sec. III-B.1) from *samples*, against the exact grid engine.

At each layer (X and Y = g(X)) under MSE (squared l2, sum over coordinates) we draw samples,
run :func:`rdtheory.empirical.estimate_rd` (method ``"plugin"``: a held-out upper bound with
confidence intervals; the plug-in curve of the empirical measure rides in
``info["empirical"]``), and compare with :func:`rdtheory.toy.rate_task_distortion`, the R(D)
engine on the discretised toy (:func:`rdtheory.toy.discretize`).

The grid curve is R(D) of a *discretised* source, so the truth is bracketed, not known:

* upper side (a code for the grid source used on the continuous one). At X the grid points
  are the cell means of equal-probability cells, so quantising X to its cell first adds the
  within-cell variance :math:`\delta_X = (10/n_u)^2/12 + (0.4/n_v)^2/12` exactly (the cross
  term vanishes): :math:`R_X(D) \le R_{grid}(D - \delta_X)`. At Y the grid points are g of
  the midpoints, not cell means, so the triangle inequality in :math:`L^2` gives
  :math:`R_Y(D) \le R_{grid}((\sqrt D - \sqrt{\delta_Y})^2)` with
  :math:`\delta_Y = E\|Y - g(x_{cell})\|^2` (quadrature, :func:`cell_mse`).
* lower side (the grid source is a function of the continuous one, data processing and the
  triangle inequality): :math:`R(D) \ge R_{grid}((\sqrt D + \sqrt{\delta})^2)`, evaluated
  through the engine's certified supporting lines
  :math:`R_{grid}(D) \ge \max_j [\underline R_j + \beta_j (D_j - D)/\ln 2]`. Caveat: the engine's
  reproduction alphabet is a grid (steps 0.5/0.2 x 0.1 plus the source points), so its curve
  can sit slightly above the free-alphabet R(D) of the grid source; this side is then an
  approximation, not a certificate (stated in the claim's tolerance_why).

References
----------
.. [1] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its Applications",
   arXiv:2305.17295, 2023 (Sec. III-B.1, the toy).
.. [2] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Ch. 10: R(D), convexity, the Lagrangian lower bound).
.. [3] R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE
   Trans. Inf. Theory 18(4):460-473, 1972 (the grid engine).
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from paper_checks import FAIL, PASS, claim, figure, make
from rdtheory import toy

REF = "Sec. III-B.1 (beyond the paper: R(D) of the toy from samples)"

#: Target distortions of the empirical measure (MSE units) per layer: inside the range where
#: the grid's discretisation slack is small next to D (Y's continuous law lives on two
#: circles, so its R(D) diverges as D -> 0 while the grid's stays at <= 4 bits).
TARGETS = {"x": (0.25, 0.5, 1.0, 2.0, 4.0), "y": (0.15, 0.3, 0.6, 1.2, 2.4)}
#: How far (bits) above the bracketed truth a held-out rate interval may start and still count
#: as "not absurd": a finite-sample plug-in code with a k-means alphabet is not the optimum.
EXCESS_BITS = 0.25


def _budget(quick: bool) -> dict:
    return {"n_per_class": 1000 if quick else 2500, "n_atoms": 64 if quick else 128}


def cell_mse(layer: str, grid=None, nodes: int = 4000) -> float:
    r"""Mean squared distance :math:`\delta` (MSE units) between the toy at ``layer`` and its grid point.

    A sample x lies in one grid cell (class c, u-cell, v-cell); its grid point is the cell
    midpoint at X and g(midpoint) at Y. Integrated with the midpoint rule (``nodes`` per v-cell;
    at X the closed form :math:`(10/n_u)^2/12 + (0.4/n_v)^2/12` is returned).
    """
    if layer not in ("x", "y"):
        raise ValueError(f"layer must be 'x' or 'y'; got {layer!r}")
    grid = toy.discretize() if grid is None else grid
    du, dv = (toy.U_RANGE[1] - toy.U_RANGE[0]) / grid.n_u, 0.4 / grid.n_v
    if layer == "x":
        return du ** 2 / 12 + dv ** 2 / 12
    # Y - centre = (s sqrt(r^2 - w^2), w) with w = v - v_centre; s = +-1 does not matter.
    t = (np.arange(nodes) + 0.5) / nodes
    total = 0.0
    for k in range(grid.n_v):
        w = -toy.RADIUS + dv * (k + t)
        wc = -toy.RADIUS + dv * (k + 0.5)
        arc = lambda z: np.sqrt(np.maximum(toy.RADIUS ** 2 - z ** 2, 0.0))
        total += float(np.mean((arc(w) - arc(wc)) ** 2 + (w - wc) ** 2))
    return total / grid.n_v


def grid_upper(curve, d) -> np.ndarray:
    """Achievable rate (bits) of the grid source at distortion ``d``: time-sharing chord of the
    BA points (rate upper values); ``inf`` below the smallest solved distortion."""
    order = np.argsort(curve.mse)
    dd, rr = np.asarray(curve.mse)[order], np.asarray(curve.rate)[order]
    d = np.atleast_1d(np.asarray(d, dtype=float))
    out = np.interp(d, dd, rr)
    return np.where(d < dd[0], np.inf, out)


def grid_lower(curve, d) -> np.ndarray:
    r"""Certified lower bound (bits) on the grid source's R at ``d``: :math:`\max(0, \max_j [\underline
    R_j + \beta_j (D_j - d)/\ln 2])` (``beta`` in nats per unit distortion)."""
    d = np.atleast_1d(np.asarray(d, dtype=float))
    lines = (np.asarray(curve.rate_lower)[None, :]
             + np.asarray(curve.beta)[None, :] * (np.asarray(curve.mse)[None, :] - d[:, None]) / math.log(2))
    return np.maximum(lines.max(axis=1), 0.0)


def truth_bracket(curve, d, delta: float, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) bracket (bits) of the continuous toy's R at ``d`` from the grid curve (module
    docstring): lower at :math:`(\\sqrt d + \\sqrt\\delta)^2`, upper at d - delta (X) or
    :math:`(\\sqrt d - \\sqrt\\delta)^2` (Y)."""
    d = np.atleast_1d(np.asarray(d, dtype=float))
    lo = grid_lower(curve, (np.sqrt(d) + math.sqrt(delta)) ** 2)
    shifted = d - delta if layer == "x" else np.maximum(np.sqrt(d) - math.sqrt(delta), 0.0) ** 2
    return lo, grid_upper(curve, np.maximum(shifted, 0.0))


def bound_verdict(rate_interval, truth_lo_at_dhi, truth_hi_at_dlo, excess_bits: float = EXCESS_BITS) -> str:
    """``pass`` when every held-out point is a valid upper bound and not absurdly above the truth.

    Per point: valid when the truth's lower bracket at the top of the distortion interval is <=
    the top of the rate interval; not absurd when the bottom of the rate interval is <= the
    truth's upper bracket at the bottom of the distortion interval + ``excess_bits``.
    The caller evaluates the brackets at the ends of the held-out distortion interval. Arrays
    (k, 2), (k,), (k,) in bits.
    """
    ri = np.asarray(rate_interval, float)
    valid = np.asarray(truth_lo_at_dhi) <= ri[:, 1]
    sane = ri[:, 0] <= np.asarray(truth_hi_at_dlo) + excess_bits
    return PASS if bool(np.all(valid) and np.all(sane)) else FAIL


@functools.lru_cache(maxsize=None)
def _grid_curves(quick: bool):
    from paper_checks.claims_toy import _rd_curves

    return _rd_curves(quick)


@functools.lru_cache(maxsize=None)
def _sampled(layer: str, quick: bool):
    """Held-out plug-in upper bound at :data:`TARGETS` from samples of ``layer`` (seeded)."""
    from rdtheory.empirical import estimate_rd

    b = _budget(quick)
    s = toy.sample(b["n_per_class"], seed=20 + (layer == "y"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CappedWarning: reported in the record's ``capped`` field
        return estimate_rd(s.layer(layer), "squared", "plugin", holdout=0.5, seed=0, progress=False,
                           alphabet="kmeans", n_atoms=b["n_atoms"], distortions=list(TARGETS[layer]))


def _layer_rows(layer: str, quick: bool) -> dict:
    curve, bound = _grid_curves(quick)[layer], _sampled(layer, quick)
    delta = cell_mse(layer)
    di = np.asarray(bound.info["distortion_interval"], float)
    lo_hi, _ = truth_bracket(curve, di[:, 1], delta, layer)
    _, hi_lo = truth_bracket(curve, di[:, 0], delta, layer)
    return {"delta": delta, "rate_interval": np.asarray(bound.interval), "distortion_interval": di,
            "truth_lo_at_dhi": lo_hi, "truth_hi_at_dlo": hi_lo, "bound": bound, "curve": curve}


@claim("toy.empirical_rd_x_y", REF,
       "The held-out plug-in bound from samples is a valid upper bound on the toy's R(D) at X and at Y "
       "and lies near the exact grid curve")
def empirical_rd_x_y(quick: bool):
    rows = {k: _layer_rows(k, quick) for k in ("x", "y")}
    verdicts = {k: bound_verdict(r["rate_interval"], r["truth_lo_at_dhi"],
                                 r["truth_hi_at_dlo"]) for k, r in rows.items()}
    b = _budget(quick)
    table = {k: {"distortion": np.round(r["bound"].distortion, 4).tolist(),
                 "rate_interval": np.round(r["rate_interval"], 3).tolist(),
                 "truth_lower_at_D_hi": np.round(r["truth_lo_at_dhi"], 3).tolist(),
                 "truth_upper_at_D_lo": np.round(r["truth_hi_at_dlo"], 3).tolist(),
                 "cell_mse_delta": r["delta"], "capped": np.asarray(r["bound"].capped).tolist()}
             for k, r in rows.items()}
    measured = "; ".join(
        f"{k.upper()}: " + ", ".join(f"R({d:.2f}) in [{lo:.2f}, {hi:.2f}] vs truth [{tl:.2f}, {th:.2f}]"
                                     for d, (lo, hi), tl, th in zip(r["bound"].distortion, r["rate_interval"],
                                                                    r["truth_lo_at_dhi"], r["truth_hi_at_dlo"]))
        for k, r in rows.items())
    return make("toy.empirical_rd_x_y",
                expected="truth_lower(D_hi) <= rate_hi and rate_lo <= truth_upper(D_lo) + "
                         f"{EXCESS_BITS} bits at every target, both layers",
                measured=measured, tolerance=f"{EXCESS_BITS} bits excess; discretisation delta_X = "
                                             f"{rows['x']['delta']:.4f}, delta_Y = {rows['y']['delta']:.5f}",
                tolerance_why=(
                    f"[measurement: {2 * b['n_per_class']} samples per layer, half held out, k-means alphabet of "
                    f"{b['n_atoms']} atoms, 95% intervals] The truth is bracketed from the grid engine's curve "
                    "(certified BA bounds) shifted by the grid's discretisation MSE delta (exact within-cell variance "
                    "at X, quadrature at Y; see the module docstring). The lower bracket also assumes the engine's "
                    "grid reproduction alphabet costs nothing (not certified). "
                    f"{EXCESS_BITS} bits is the allowance for a finite-sample plug-in code above the optimum: the "
                    "held-out points sit within it of the grid curve at every target here (details)."),
                status=PASS if all(v == PASS for v in verdicts.values()) else FAIL,
                details={"verdicts": verdicts, "per_layer": table, "grid": rows["x"]["curve"].grid,
                         "n_per_class": b["n_per_class"]})


@figure("toy.empirical_rd.png")
def fig_empirical_rd(quick: bool):
    """Both layers: the grid curve (and its discretisation bracket), the held-out points with their
    intervals, and the plug-in curve of the empirical measure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, k in zip(axes, ("x", "y")):
        r = _layer_rows(k, quick)
        curve, bound = r["curve"], r["bound"]
        d = np.geomspace(0.05 if k == "x" else 0.01, float(np.max(curve.mse)), 200)
        lo, hi = truth_bracket(curve, d, r["delta"], k)
        shown = curve.mse >= d[0]
        ax.plot(curve.mse[shown], curve.rate[shown], "k.-", label="grid engine R(D)")
        ax.fill_between(d, lo, np.minimum(hi, float(np.max(curve.rate))), color="0.8", label="truth bracket (discretisation)")
        emp = bound.info["empirical"]
        ax.plot([e["distortion"] for e in emp], [e["rate_bits"] for e in emp], "b--", label="plug-in (empirical measure)")
        di, ri = r["distortion_interval"], r["rate_interval"]
        ax.errorbar(bound.distortion, bound.rate, xerr=np.abs(di.T - bound.distortion),
                    yerr=np.abs(ri.T - bound.rate), fmt="ro", ms=4, label="held-out upper bound (95%)")
        ax.set_xscale("log")
        ax.set_xlabel(f"MSE at {k.upper()}")
        ax.set_ylabel("rate (bits)")
        ax.set_title(f"layer {k.upper()}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
