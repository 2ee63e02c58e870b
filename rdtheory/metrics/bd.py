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
- ``"pchip"`` — monotone piecewise-cubic Hermite interpolation (Fritsch–Carlson,
  ``scipy.interpolate.PchipInterpolator``), integrated exactly piece by piece. Needs ≥ 2
  points with distinct x. It never overshoots between points, which the global cubic can.

These match ``bjontegaard.bd_rate`` / ``bd_psnr`` (PyPI package ``bjontegaard``) with
``method="cubic"`` / ``"pchip"`` to floating-point rounding (see ``tests/test_metrics.py``);
that package's ``"akima"`` method has no counterpart here.

Example
-------
>>> bd_rate([1, 2, 4, 8], [70, 75, 80, 85], [0.5, 1, 2, 4], [70, 75, 80, 85])
-50.0
"""
from __future__ import annotations

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
        if method == "cubic":
            poly = np.polyint(np.polyfit(xs, ys, 3))
            integrals.append(np.polyval(poly, hi) - np.polyval(poly, lo))
        else:
            integrals.append(PchipInterpolator(xs, ys).integrate(lo, hi))
    return float((integrals[1] - integrals[0]) / (hi - lo))


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
            repeated metric values within a curve; non-overlapping metric ranges.

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
