"""Rate–metric curve comparison (numpy/scipy only; no torch, no JAX).

- :func:`bd_rate` — Bjøntegaard-delta rate (percent), with task accuracy / mAP in place of PSNR
- :func:`bd_metric` — Bjøntegaard-delta metric (in the metric's own units)

Used for the BD tables of the reference paper (Tables II, III, V).
"""
from .bd import BD_METHODS, bd_metric, bd_rate

__all__ = ["BD_METHODS", "bd_metric", "bd_rate"]
