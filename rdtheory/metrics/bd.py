r"""Bjøntegaard-delta (BD) rate and metric between two rate–metric curves.

The reference paper (Sec. IV, Tables II, III, V) summarises a rate–accuracy curve against
an anchor by BD-rate and BD-mAP / BD-accuracy: the Bjøntegaard measure (VCEG-M33, 2001)
with task accuracy in place of PSNR. For anchor A and test B, each given as points
``(R_k, m_k)`` with rate ``R_k > 0`` (any unit, e.g. bits per pixel — the result does not
depend on it as long as A and B share it) and metric ``m_k`` (higher is better, e.g. top-1
accuracy in percent or as a fraction):

BD-rate
    Fit :math:`r = \log_{10} R` as a function of the metric for each curve,
    :math:`r_A(m), r_B(m)`, and average their difference over the overlapping metric
    interval :math:`[m_{lo}, m_{hi}]`:

    .. math::
        \Delta r = \frac{1}{m_{hi} - m_{lo}} \int_{m_{lo}}^{m_{hi}} (r_B(m) - r_A(m))\,dm,
        \qquad \text{BD-rate} = (10^{\Delta r} - 1)\cdot 100\ \%.

    Negative means B needs less rate than A for the same metric.

BD-metric
    Fit the metric as a function of :math:`r` and average :math:`m_B(r) - m_A(r)` over the
    overlapping log-rate interval. Positive means B is better at equal rate. The unit is the
    metric's unit (percentage points if accuracy is given in percent).

Fits (``method``):

- ``"cubic"`` — one least-squares cubic polynomial per curve (Bjøntegaard's original;
  ``np.polyfit(x, y, 3)``), integrated in closed form. Needs ≥ 4 points with distinct x.
  The fit is made in centred and scaled coordinates :math:`t = (x - \bar x)/s_x`,
  :math:`y - \bar y` (the same polynomial space, so the same least-squares cubic): a
  metric given as, say, :math:`10^9 + m` would otherwise put :math:`x^3 \approx 10^{27}`
  in the Vandermonde matrix and lose every digit of the fit. Both methods integrate
  :math:`y - \bar y` and add the difference of the means apart, so two integrals of size
  :math:`10^9` do not cancel.
- ``"pchip"`` — monotone piecewise-cubic Hermite interpolation (Fritsch–Carlson,
  ``scipy.interpolate.PchipInterpolator``), integrated exactly piece by piece. Needs ≥ 2
  points with distinct x. It never overshoots between points, which the global cubic can.

Monotone curves only: both fits treat each curve as a function in both directions (rate
of metric for BD-rate, metric of rate for BD-metric), which holds only when the metric rises
strictly with the rate. A curve that dips (a measured codec whose accuracy falls at one
quality) is refused with a ``ValueError`` naming the curve, rather than fitted to a
meaningless inverse; pass its non-dominated points, :func:`pareto_front`, and report the
dropped ones (``experiments/codecs_*.py`` do so).

These match ``bjontegaard.bd_rate`` / ``bd_psnr`` (PyPI package ``bjontegaard``) with
``method="cubic"`` / ``"pchip"`` to floating-point rounding (see ``tests/test_metrics.py``);
that package's ``"akima"`` method has no counterpart here.

:func:`bd_table` applies both to every curve of a set against one anchor (the paper's BD
tables), turning a missing overlap into a note on that row; :func:`format_bd_table` renders
the rows as markdown.

Example
-------
>>> round(bd_rate([1, 2, 4, 8], [70, 75, 80, 85], [0.5, 1, 2, 4], [70, 75, 80, 85]), 9)
-50.0

References
----------
.. [1] G. Bjontegaard, "Calculation of average PSNR differences between RD-curves",
   ITU-T VCEG-M33, 2001.
.. [2] F. N. Fritsch and R. E. Carlson, "Monotone piecewise cubic interpolation",
   SIAM J. Numer. Anal. 17(2):238-246, 1980 (the ``"pchip"`` fit).
.. [3] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (BD-rate and BD-accuracy in Sec. IV).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.interpolate import PchipInterpolator

#: Supported fits and the minimum number of points (per curve) each needs.
BD_METHODS = {"cubic": 4, "pchip": 2}


def _validate_curve(rate, metric, name: str, method: str):
    r_name, m_name = f"rate_{name}", f"metric_{name}"
    out = []
    for arr, arg in ((rate, r_name), (metric, m_name)):
        try:
            a = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{arg} must be a 1-D numeric array-like; got {type(arr).__name__} ({err})") from None
        if a.ndim != 1:
            raise ValueError(f"{arg} must be 1-D (one value per operating point); got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{arg} contains NaN/inf; drop those operating points first")
        out.append(a)
    r, m = out
    if r.shape != m.shape:
        raise ValueError(f"{r_name} and {m_name} must have the same length (one metric per rate); "
                         f"got {r.size} and {m.size}")
    need = BD_METHODS[method]
    if r.size < need:
        raise ValueError(f"method={method!r} needs at least {need} points per curve; curve {name!r} has "
                         f"{r.size}. Add operating points or use method='pchip' (needs 2)")
    if np.any(r <= 0):
        raise ValueError(f"{r_name} must be > 0 (BD works on log-rate); got min {r.min():g}")
    return r, m


def _check_method(method):
    if method not in BD_METHODS:
        raise ValueError(f"method must be one of {sorted(BD_METHODS)}; got {method!r}")


def _mean_difference(x_a, y_a, x_b, y_b, method: str, x_name: str) -> float:
    """Mean of f_B - f_A over the overlap of the x ranges, f fitted to (x, y) per curve."""
    lo = max(x_a.min(), x_b.min())
    hi = min(x_a.max(), x_b.max())
    if not hi > lo:
        raise ValueError(
            f"the curves' {x_name} ranges do not overlap ([{x_a.min():g}, {x_a.max():g}] vs "
            f"[{x_b.min():g}, {x_b.max():g}]); BD values are only defined on a common interval. "
            "Add operating points so the ranges overlap")
    integrals = []
    for x, y, curve in ((x_a, y_a, "a"), (x_b, y_b, "b")):
        order = np.argsort(x, kind="stable")
        xs, ys = x[order], y[order]
        n_distinct = np.unique(xs).size
        if n_distinct != xs.size or n_distinct < BD_METHODS[method]:
            raise ValueError(
                f"curve {curve!r} has repeated {x_name} values ({xs.size - n_distinct} duplicate(s)); "
                f"the fit needs distinct {x_name} values. Average or drop duplicate operating points")
        if np.any(np.diff(ys) <= 0):
            k = int(np.flatnonzero(np.diff(ys) <= 0)[0])
            raise ValueError(
                f"curve {curve!r} (rate_{curve}, metric_{curve}) is not monotone: the metric does not rise "
                f"strictly with the rate between its {k + 1}-th and {k + 2}-th points in {x_name} order, so "
                f"the BD fit has no single-valued inverse. Keep its non-dominated points, "
                f"rdtheory.metrics.pareto_front(rate_{curve}, metric_{curve}), and report the dropped ones")
        # integrate y - mean(y) and add the means' difference apart: with metrics of 1e9 + m,
        # two integrals of ~1e9 (hi - lo) would cancel to a few digits
        cy = float(ys.mean())
        if method == "cubic":
            integrals.append((cy, _cubic_integral(xs, ys - cy, lo, hi)))
        else:
            integrals.append((cy, float(PchipInterpolator(xs, ys - cy).integrate(lo, hi))))
    (cy_a, i_a), (cy_b, i_b) = integrals
    return float((cy_b - cy_a) + (i_b - i_a) / (hi - lo))


def _cubic_integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    r""":math:`\int_{lo}^{hi} p(x)\,dx` for the least-squares cubic :math:`p` through ``(x, y)``.

    Fitted as :math:`p(x) = q((x - \bar x)/s)` with :math:`s` the spread of x: cubics in t
    are cubics in x, so :math:`p` is the same least-squares cubic, but the Vandermonde
    matrix holds numbers of order 1 whatever the offset and unit of x (``np.polyfit`` on raw
    x of order 1e9 loses every digit). The integral is :math:`s \int_{t(lo)}^{t(hi)} q(t)\,dt`.
    The caller centres y.
    """
    cx, sx = float(x.mean()), float(x.std())
    q = np.polyint(np.polyfit((x - cx) / sx, y, 3))
    return sx * float(np.polyval(q, (hi - cx) / sx) - np.polyval(q, (lo - cx) / sx))


def bd_rate(rate_a, metric_a, rate_b, metric_b, method: str = "cubic") -> float:
    r"""BD-rate of curve B against anchor A, in percent (negative = B saves rate).

    Args:
        rate_a, metric_a: anchor operating points, shape ``(n_a,)``; rates > 0 in any unit
            shared with ``rate_b`` (e.g. bits per pixel), metric higher-is-better (e.g.
            top-1 accuracy, mAP, PSNR).
        rate_b, metric_b: test operating points, shape ``(n_b,)``.
        method: ``"cubic"`` (≥ 4 points each) or ``"pchip"`` (≥ 2 points each).

    Returns:
        :math:`(10^{\Delta r} - 1)\cdot 100`, with :math:`\Delta r` the mean of
        :math:`\log_{10} R_B(m) - \log_{10} R_A(m)` over the overlapping metric interval.

    Raises:
        ValueError: unknown method; too few points; length mismatch; rate ≤ 0; NaN/inf;
            repeated metric values within a curve; a curve whose metric does not rise
            strictly with its rate (use :func:`pareto_front`); non-overlapping metric ranges.

    >>> round(bd_rate([1, 2, 4, 8], [1, 2, 3, 4], [2, 4, 8, 16], [1, 2, 3, 4]), 9)
    100.0
    """
    _check_method(method)
    r_a, m_a = _validate_curve(rate_a, metric_a, "a", method)
    r_b, m_b = _validate_curve(rate_b, metric_b, "b", method)
    d = _mean_difference(m_a, np.log10(r_a), m_b, np.log10(r_b), method, "metric")
    return float((10.0 ** d - 1.0) * 100.0)


def bd_metric(rate_a, metric_a, rate_b, metric_b, method: str = "cubic") -> float:
    r"""BD-metric (e.g. BD-accuracy, BD-mAP, BD-PSNR) of curve B against anchor A.

    Mean of :math:`m_B(r) - m_A(r)` over the overlapping interval of
    :math:`r = \log_{10} R`, in the metric's own unit (positive = B better at equal rate).
    Arguments, shapes and errors as in :func:`bd_rate` (with repeated *rates* refused).

    >>> round(bd_metric([1, 2, 4, 8], [70, 75, 80, 85], [1, 2, 4, 8], [71, 76, 81, 86]), 9)
    1.0
    """
    _check_method(method)
    r_a, m_a = _validate_curve(rate_a, metric_a, "a", method)
    r_b, m_b = _validate_curve(rate_b, metric_b, "b", method)
    return _mean_difference(np.log10(r_a), m_a, np.log10(r_b), m_b, method, "log-rate")


# ----------------------------------------------------------------------------- tables
def _overlap(a: np.ndarray, b: np.ndarray):
    """The common interval ``(lo, hi)`` of two value ranges, or ``None`` if it is empty or a point."""
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    return (float(lo), float(hi)) if hi > lo else None


def bd_table(curves: Mapping[str, tuple], anchor: str, method: str = "pchip") -> list[dict]:
    r"""BD-rate and BD-metric of every curve against one anchor curve, one row per curve.

    Args:
        curves: ``{name: (rates, metrics)}``, each a pair of equal-length 1-D sequences of
            operating points (rates > 0 in one unit shared by all curves, e.g. bits per pixel;
            metric higher-is-better, e.g. top-1 accuracy in percent). Insertion order is kept.
        anchor: the key of the reference curve; it gets no row of its own.
        method: ``"pchip"`` (default, ≥ 2 points per curve) or ``"cubic"`` (≥ 4).

    Returns:
        A list with one dict per non-anchor curve, in the order of ``curves``:

        - ``curve``, ``anchor``, ``method``, ``n_points`` (of that curve);
        - ``bd_rate_percent`` — :func:`bd_rate` (negative: the curve saves rate), or ``None``;
        - ``metric_overlap`` — ``(lo, hi)``, the metric interval BD-rate averages over, or ``None``;
        - ``bd_metric`` — :func:`bd_metric` in the metric's unit (positive: the curve is
          better at equal rate), or ``None``;
        - ``rate_overlap`` — ``(lo, hi)``, the rate interval (in the rates' unit, not log)
          BD-metric averages over, or ``None``;
        - ``note`` — ``""``, or why a value is ``None`` (the two ranges that do not overlap).

        A curve whose metric (or rate) range does not overlap the anchor's gets ``None`` for
        BD-rate (or BD-metric) and a note instead of an error; BD-rate and BD-metric are
        decided independently.

    Raises:
        ValueError: ``anchor`` not in ``curves``; an entry that is not a ``(rates, metrics)``
            pair; and every input error of :func:`bd_rate` / :func:`bd_metric` (too few
            points, rate ≤ 0, NaN, repeated values, unknown method) — only a missing overlap
            is turned into a note.

    Examples
    --------
    >>> rows = bd_table({"A": ([1, 2, 4], [70, 75, 80]), "B": ([2, 4, 8], [70, 75, 80]),
    ...                  "C": ([1, 2], [10, 20])}, anchor="A")
    >>> [(r["curve"], r["bd_rate_percent"] and round(r["bd_rate_percent"], 9), round(r["bd_metric"], 9))
    ...  for r in rows]
    [('B', 100.0, -5.0), ('C', None, -57.5)]
    >>> rows[1]["note"]
    'metric ranges do not overlap ([70, 80] vs [10, 20]): no BD-rate'
    """
    _check_method(method)
    if not isinstance(curves, Mapping):
        raise ValueError(f"curves must be a mapping {{name: (rates, metrics)}}; got {type(curves).__name__}")
    if anchor not in curves:
        raise ValueError(f"anchor {anchor!r} is not one of the curves {list(curves)}; pass one of those names")
    validated = {}
    for name, pair in curves.items():
        if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise ValueError(f"curves[{name!r}] must be a (rates, metrics) pair; got {type(pair).__name__}")
        try:
            validated[name] = _validate_curve(pair[0], pair[1], "a" if name == anchor else "b", method)
        except ValueError as err:
            raise ValueError(f"curve {name!r}: {err}") from None
    r_a, m_a = validated[anchor]
    rows = []
    for name, (r_b, m_b) in validated.items():
        if name == anchor:
            continue
        m_ov, r_ov = _overlap(m_a, m_b), _overlap(r_a, r_b)
        notes = []
        if m_ov is None:
            notes.append(f"metric ranges do not overlap ([{m_a.min():g}, {m_a.max():g}] vs "
                         f"[{m_b.min():g}, {m_b.max():g}]): no BD-rate")
        if r_ov is None:
            notes.append(f"rate ranges do not overlap ([{r_a.min():g}, {r_a.max():g}] vs "
                         f"[{r_b.min():g}, {r_b.max():g}]): no BD-metric")
        try:
            rate = None if m_ov is None else bd_rate(r_a, m_a, r_b, m_b, method)
            metric = None if r_ov is None else bd_metric(r_a, m_a, r_b, m_b, method)
        except ValueError as err:
            raise ValueError(f"curve {name!r} against anchor {anchor!r}: {err}") from None
        rows.append({"curve": name, "anchor": anchor, "method": method, "n_points": int(r_b.size),
                     "bd_rate_percent": rate, "metric_overlap": m_ov,
                     "bd_metric": metric, "rate_overlap": r_ov, "note": "; ".join(notes)})
    return rows


def format_bd_table(rows, *, metric_label: str = "metric", rate_label: str = "rate", digits: int = 2) -> str:
    """Render :func:`bd_table` rows as a GitHub-markdown table (one line per row, no trailing newline).

    Columns: curve, BD-rate (%), BD-``metric_label``, the metric overlap, the rate overlap
    (in ``rate_label`` units) and the note. ``None`` values print as ``—``. The anchor is
    named in the header. An empty ``rows`` gives the header only.

    >>> print(format_bd_table(bd_table({"A": ([1, 2], [1, 2]), "B": ([1.5, 3], [1, 2])}, "A"),
    ...                       metric_label="acc (%)", rate_label="bpp"))
    | curve (anchor A) | BD-rate (%) | BD-acc (%) | acc (%) overlap | bpp overlap | note |
    |---|---:|---:|---|---|---|
    | B | +50.00 | -0.58 | [1, 2] | [1.5, 2] |  |
    """
    if int(digits) != digits or digits < 0:
        raise ValueError(f"digits must be a non-negative integer; got {digits!r}")
    anchors = sorted({r["anchor"] for r in rows})
    head = f"curve (anchor {', '.join(anchors)})" if anchors else "curve"

    def num(v):
        return "—" if v is None else f"{v:+.{digits}f}"

    def interval(v):
        return "—" if v is None else f"[{v[0]:.4g}, {v[1]:.4g}]"

    lines = [f"| {head} | BD-rate (%) | BD-{metric_label} | {metric_label} overlap | {rate_label} overlap | note |",
             "|---|---:|---:|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['curve']} | {num(r['bd_rate_percent'])} | {num(r['bd_metric'])} | "
                     f"{interval(r['metric_overlap'])} | {interval(r['rate_overlap'])} | {r['note']} |")
    return "\n".join(lines)


def pareto_front(rates, metrics) -> np.ndarray:
    """Indices of the operating points no other point dominates, sorted by rate.

    A point is dominated if another has rate ≤ its rate and metric ≥ its metric, one of them
    strictly (for exact ties the lowest index is kept). The kept points have strictly rising
    rate and strictly rising metric, which is what a BD fit assumes: use it before
    :func:`bd_rate` / :func:`bd_table` when a real curve is not monotone (e.g. a codec whose
    accuracy dips at one quality), and report the dropped points.

    >>> pareto_front([1, 2, 3, 4], [10, 30, 20, 40]).tolist()
    [0, 1, 3]
    """
    r = np.asarray(rates, dtype=np.float64)
    m = np.asarray(metrics, dtype=np.float64)
    if r.ndim != 1 or r.shape != m.shape:
        raise ValueError(f"rates and metrics must be 1-D of the same length; got shapes {r.shape} and {m.shape}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(m))):
        raise ValueError("rates and metrics must be finite; drop NaN/inf operating points first")
    order = np.lexsort((np.arange(r.size), -m, r))  # by rate, then best metric first, then index
    keep, best = [], -np.inf
    for i in order:
        if m[i] > best:
            keep.append(i)
            best = m[i]
    return np.array(keep, dtype=np.int64)
