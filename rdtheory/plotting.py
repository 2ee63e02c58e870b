"""Figure functions: data in, matplotlib ``Figure`` out, no file I/O inside.

Save with :func:`rdtheory._io.atomic_savefig`. Figures are built on a bare
``matplotlib.figure.Figure`` (no pyplot: no global state, no GUI backend).

- :func:`rd_curve_figure`, :func:`plot_rd_curve` - a certified R(D) curve.
- :func:`rd_bound_figure`, :func:`plot_rd_bounds` - bounds on R(D) estimated from samples
  (:class:`~rdtheory.empirical.RDBound`), with their intervals and capped points.
- :func:`plot_fig2`, :func:`plot_rate_task` - the circles/squares toy of Sec. III-B.1
  (:mod:`rdtheory.toy`): Fig. 2, and task error against rate.
- helpers: :func:`in_rate_order` (draw operating points along the rate axis, not in the
  order they were trained), :func:`log_rate_axis` (a log axis with plain, non-colliding tick
  labels), :func:`annotate_without_overlap` (point labels placed so that they do not collide).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Fig. 2, Sec. III-B.1).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["rd_curve_figure", "plot_rd_curve", "rd_bound_figure", "plot_rd_bounds", "use_log_distortion_axis", "plot_fig2", "plot_rate_task",
           "in_rate_order", "log_rate_axis", "annotate_without_overlap"]


def _figure(**kw):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return Figure(**kw)


def use_log_distortion_axis(distortion) -> bool:
    """Whether a curve over these distortions reads better on a log D axis: when every D > 0
    and they span more than a decade. A default slope grid is geometric in beta, and
    D(beta) falls roughly like 1/beta on steep slopes, so on a linear axis half of the points
    crowd into the first few pixels next to D = 0."""
    D = np.asarray(distortion, dtype=float)
    D = D[np.isfinite(D)]
    return bool(D.size) and float(D.min()) > 0.0 and float(D.max()) > 10.0 * float(D.min())


def rd_curve_figure(curve, *, title: str = "", closed_form=None, label: str = "R(D), certified"):
    """A one-panel figure of :func:`plot_rd_curve`."""
    fig = _figure(figsize=(6.0, 4.0))
    plot_rd_curve(fig.add_subplot(), curve, title=title, closed_form=closed_form, label=label)
    return fig


def plot_rd_curve(ax, curve, *, title: str = "", closed_form=None, label: str = "R(D), certified"):
    """Draw an :class:`~rdtheory.discrete.RDCurve` on ``ax``: achieved rate (upper bound) and
    certified lower bound, and optionally ``closed_form(D)``. Rate in bits. The D axis is
    logarithmic when :func:`use_log_distortion_axis` says so."""
    order = np.argsort(curve.distortion)
    D = np.asarray(curve.distortion)[order]
    ax.plot(D, np.asarray(curve.rate)[order], "-", color="C0", label=label)
    ax.plot(D, np.asarray(curve.lower)[order], ":", color="C1", label="certified lower bound")
    log_d = use_log_distortion_axis(D)
    if closed_form is not None:
        grid = (np.geomspace if log_d else np.linspace)(D.min(), D.max(), 400)
        ax.plot(grid, closed_form(grid), "--", color="k", lw=0.8, label="closed form")
    if log_d:
        ax.set_xscale("log")
    ax.set_xlabel("distortion D" + (" (log scale)" if ax.get_xscale() == "log" else ""))
    ax.set_ylabel("rate R(D) [bits]")
    gap = float(np.max(curve.gap)) if len(D) else 0.0
    ax.set_title((title + "\n" if title else "") + f"max certified gap {gap:.1e} bits", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


_BOUND_STYLE = {"upper": ("-", "upper bound"), "lower": (":", "lower bound"), "plug-in": ("--", "plug-in estimate")}


def rd_bound_figure(bounds, *, title: str = "", truth=None):
    """A one-panel figure of :func:`plot_rd_bounds`."""
    fig = _figure(figsize=(6.0, 4.0))
    plot_rd_bounds(fig.add_subplot(), bounds, title=title, truth=truth)
    return fig


def plot_rd_bounds(ax, bounds, *, title: str = "", truth=None):
    """Draw :class:`~rdtheory.empirical.RDBound` records on ``ax``: each curve (solid: upper,
    dotted: lower, dashed: plug-in estimate) with its interval as a band, capped points
    marked ``x`` (floors set by the method's ceiling, not estimates), and optionally the
    known ``truth(D)`` (bits). Rate in bits; log D axis when :func:`use_log_distortion_axis`."""
    bounds = [bounds] if hasattr(bounds, "kind") else list(bounds)
    allD = np.concatenate([np.asarray(b.distortion) for b in bounds]) if bounds else np.zeros(0)
    for i, b in enumerate(bounds):
        order = np.argsort(b.distortion)
        D, R, iv = np.asarray(b.distortion)[order], np.asarray(b.rate)[order], np.asarray(b.interval)[order]
        style, what = _BOUND_STYLE[b.kind]
        ax.plot(D, R, style, marker=".", color=f"C{i}", label=f"{b.method}: {what}")
        if np.isfinite(iv).all() and len(D):
            ax.fill_between(D, iv[:, 0], iv[:, 1], color=f"C{i}", alpha=0.2, lw=0)
        cap = np.asarray(b.capped)[order]
        if cap.any():
            ax.plot(D[cap], R[cap], "x", color="k", ms=6, label="capped" if i == 0 or not bounds[0].capped.any() else None)
    log_d = use_log_distortion_axis(allD)
    if truth is not None and allD.size:
        grid = (np.geomspace if log_d else np.linspace)(max(allD.min(), 1e-300), allD.max(), 400)
        ax.plot(grid, truth(grid), "-", color="k", lw=0.8, label="true R(D)")
    if log_d:
        ax.set_xscale("log")
    ax.set_xlabel("distortion D" + (" (log scale)" if ax.get_xscale() == "log" else ""))
    ax.set_ylabel("rate [bits]")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------------------
# helpers for rate curves and labelled points
# --------------------------------------------------------------------------------------
def in_rate_order(points: Sequence[dict], key: str = "bpp") -> list[dict]:
    """The operating points sorted by rate ``point[key]``, so that a line joins neighbours in rate.

    Sweeps are stored in the order they were trained (e.g. by lambda), which is not always
    the rate order: a line drawn in that order doubles back on itself.
    """
    return sorted(points, key=lambda p: p[key])


def log_rate_axis(ax, *, axis: str = "x", subs: tuple[float, ...] = (1.0, 2.0, 5.0)):
    """A log-scale rate axis with plain labels at ``subs`` x 10^k and no minor labels.

    Matplotlib's default log axis labels minor ticks as ``3×10^0 4×10^0`` when a panel
    spans less than a decade, and those labels collide; 1-2-5 ticks with ``%g`` labels
    (0.5, 1, 2, 5, 10) stay apart at any span.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_major_locator(LogLocator(base=10.0, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())
    return ax


def annotate_without_overlap(ax, xy, texts: Sequence[str], *, fontsize: float = 7, colors=None,
                             radii: Sequence[float] = (6, 16, 28, 42, 58, 76), **text_kw) -> list:
    """Label points ``xy`` (n, 2, data coordinates) with ``texts`` so that no two labels overlap.

    Greedy placement: each label tries offsets on rings of growing radius (``radii``, in
    points) in eight directions and takes the first whose box overlaps no earlier label, no
    labelled point and stays inside the axes; a label moved beyond the first ring gets a thin
    leader line to its point. When no candidate is free the least-overlapping one is used.
    Call after the data are drawn and the limits set. Returns the annotation artists.
    """
    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure: give it an Agg canvas to measure text
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    pts = ax.transData.transform(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
    scale = fig.dpi / 72.0
    box_ax = ax.get_window_extent(renderer)
    marker = 4 * scale
    taken = [(x - marker, y - marker, x + marker, y + marker) for x, y in pts]
    directions = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
    colors = [None] * len(texts) if colors is None else list(colors)

    def overlap(b, c):
        return max(0.0, min(b[2], c[2]) - max(b[0], c[0])) * max(0.0, min(b[3], c[3]) - max(b[1], c[1]))

    artists = []
    for (x, y), text, colour in zip(pts, texts, colors):
        probe = ax.text(0.5, 0.5, text, fontsize=fontsize, transform=ax.transAxes, **text_kw)  # to measure
        ext = probe.get_window_extent(renderer)
        probe.remove()
        w, h = ext.width, ext.height
        best = None
        for r in radii:
            for dx, dy in directions:
                ox, oy = dx * r * scale, dy * r * scale
                x0 = x + ox if dx > 0 else (x + ox - w if dx < 0 else x - w / 2)
                y0 = y + oy if dy > 0 else (y + oy - h if dy < 0 else y - h / 2)
                b = (x0, y0, x0 + w, y0 + h)
                inside = box_ax.x0 <= b[0] and b[2] <= box_ax.x1 and box_ax.y0 <= b[1] and b[3] <= box_ax.y1
                cost = sum(overlap(b, t) for t in taken) + (0.0 if inside else w * h)
                if best is None or cost < best[0]:
                    best = (cost, r, b)
                if cost == 0:
                    break
            if best[0] == 0:
                break
        _, r, b = best
        kw = dict(text_kw)
        if colour is not None:
            kw["color"] = colour
        if r > radii[0]:
            kw["arrowprops"] = {"arrowstyle": "-", "lw": 0.5, "color": colour or "0.4", "shrinkA": 0, "shrinkB": 2}
        off = ((b[0] - x) / scale, (b[1] - y) / scale)
        artists.append(ax.annotate(text, ax.transData.inverted().transform((x, y)), xytext=off,
                                   textcoords="offset points", fontsize=fontsize, ha="left", va="bottom", **kw))
        taken.append(b)
    return artists


# --------------------------------------------------------------------------------------
# the circles/squares toy (Sec. III-B.1)
# --------------------------------------------------------------------------------------
_BIN_COLOURS = ("tab:blue", "tab:orange")


def plot_fig2(s, q_x, q_y, *, max_points: int = 300):
    """Fig. 2: the toy's classes at X and at Y (marker = class), coloured by 1-bit MSE bin, with codewords.

    ``s`` is a :class:`rdtheory.toy.ToySample`; ``q_x``/``q_y`` are 1-bit
    :class:`rdtheory.toy.LloydQuantizer` s learned at X and at Y; at most ``max_points`` points
    per class are drawn. The rho in each title is the analytic one (0.479 at X, 725 at Y).
    """
    from matplotlib.lines import Line2D

    from . import toy

    if q_x.codebook.shape[0] != 2 or q_y.codebook.shape[0] != 2:
        raise ValueError("plot_fig2 draws 1-bit quantisers; pass lloyd_quantizer(..., bits=1) for q_x and q_y")
    fig = _figure(figsize=(11, 5.0))
    axes = fig.subplots(1, 2)
    for ax, key, q, title in ((axes[0], "x", q_x, "input X"), (axes[1], "y", q_y, "intermediate layer Y = g(X)")):
        pts = s.layer(key)
        bins = q.encode(pts)
        for c, marker in ((toy.SQUARE, "s"), (toy.CIRCLE, "o")):
            idx = np.flatnonzero(s.labels == c)[:max_points]
            ax.scatter(pts[idx, 0], pts[idx, 1], marker=marker, s=14, facecolors="none", linewidths=0.8,
                       edgecolors=[_BIN_COLOURS[b] for b in bins[idx]])
        backend = toy.task_model if key == "x" else toy.h
        handles = [Line2D([], [], ls="", marker="s", mfc="none", mec="0.3", label="squares"),
                   Line2D([], [], ls="", marker="o", mfc="none", mec="0.3", label="circles")]
        for b, (cw, lab) in enumerate(zip(q.codebook, backend(q.codebook))):
            ax.scatter(*cw, marker="*", s=380, color=_BIN_COLOURS[b], edgecolors="k", zorder=5)
            handles.append(Line2D([], [], ls="", marker="*", ms=14, color=_BIN_COLOURS[b], mec="k",
                                  label=f"bin {b}: value ({cw[0]:.2f}, {cw[1]:.2f}), task model says "
                                        f"{toy.CLASS_NAMES[lab]}"))
        ax.axhline(2.0, color="0.6", lw=0.8, ls="--")
        ax.set_xlabel("u")
        # a one-letter coordinate name reads like the x label only when upright (rotated it looks like ">")
        ax.set_ylabel("v", rotation=0, labelpad=10, va="center")
        if key == "y":
            ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(f"{title}: ρ = {toy.rho_analytic(key).rho:.3g}")
        ax.legend(handles=handles, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
                  frameon=False)
    fig.suptitle("Fig. 2 reproduced: circles/squares, optimal 1-bit MSE quantisation (Lloyd) at X and at Y")
    fig.tight_layout(w_pad=3.0)  # room between the left panel and the right panel's upright "v"
    return fig


def plot_rate_task(results: Sequence, curves: dict | None = None):
    """Task error vs rate for the toy: Lloyd quantisers (left) and R(D)-optimal MSE codes vs the supervised bound.

    ``results`` are :class:`rdtheory.toy.QuantizedTaskResult` records; ``curves`` (optional,
    adds the right panel) maps ``"x"``, ``"y"``, ``"task"`` to :class:`rdtheory.toy.RateTaskCurve`.
    Rates in bits per sample.
    """
    ncols = 2 if curves else 1
    fig = _figure(figsize=(5.5 * ncols, 4.2))
    axes = fig.subplots(1, ncols, squeeze=False)
    ax = axes[0, 0]
    for key, colour in (("x", "tab:red"), ("y", "tab:green")):
        rs = sorted((r for r in results if r.layer == key), key=lambda r: r.bits)
        if not rs:
            continue
        b = np.array([r.bits for r in rs])
        e = np.array([r.task_error for r in rs])
        lo = np.clip(e - np.array([r.task_error_ci[0] for r in rs]), 0, None)
        hi = np.clip(np.array([r.task_error_ci[1] for r in rs]) - e, 0, None)
        ax.errorbar(b, e, yerr=[lo, hi], marker="o", color=colour, capsize=3,
                    label=f"MSE quantiser at {key.upper()}")
    ax.set_xlabel("rate (bits/sample, fixed-rate Lloyd quantiser)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("task error Pr[f(X) ≠ f̂(quantised)]")
    ax.set_ylim(-0.02, 0.55)
    ax.set_title("Lloyd (k-means) quantisers, 95% Wilson intervals")
    ax.legend()
    if curves:
        ax = axes[0, 1]
        styles = {"x": ("tab:red", "MSE-optimal code at X"), "y": ("tab:green", "MSE-optimal code at Y"),
                  "task": ("k", "supervised bound R_T(D_T) = 1 − h(D_T)")}
        for key, (colour, label) in styles.items():
            if key in curves:
                c = curves[key]
                ax.plot(c.rate, c.task_error, marker=".", color=colour, label=label,
                        ls="--" if key == "task" else "-")
        ax.set_xlabel("rate (bits/sample, R(D) via Blahut–Arimoto)")
        ax.set_ylabel("task error")
        ax.set_ylim(-0.02, 0.55)
        ax.set_title("discretised toy: rate–task-distortion per layer")
        ax.legend(fontsize=8)
    fig.tight_layout()
    if curves:
        import textwrap

        note = "Grid: " + next(iter(curves.values())).grid
        fig.subplots_adjust(bottom=0.24)
        fig.text(0.5, 0.01, textwrap.fill(note, 150), ha="center", va="bottom", fontsize=7)
    return fig
