"""Figure functions: data in, matplotlib ``Figure`` out, no file I/O inside.

Save with :func:`rdtheory._io.atomic_savefig`.
"""
from __future__ import annotations

import numpy as np

__all__ = ["rd_curve_figure", "plot_rd_curve", "use_log_distortion_axis"]


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
