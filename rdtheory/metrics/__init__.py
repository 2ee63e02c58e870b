"""Rate–metric curve comparison (numpy/scipy only; no torch, no JAX).

- :func:`bd_rate` — Bjøntegaard-delta rate (percent), with task accuracy / mAP in place of PSNR
- :func:`bd_metric` — Bjøntegaard-delta metric (in the metric's own units)
- :func:`bd_table` — both, for every curve against one anchor (non-overlap → a note, not an error)
- :func:`format_bd_table` — those rows as a markdown table
- :func:`pareto_front` — the non-dominated (monotone) points of a measured curve, for BD fits

Used for the BD tables of the reference paper (Tables II, III, V).
"""
from .bd import BD_METHODS, bd_metric, bd_rate, bd_table, format_bd_table, pareto_front

__all__ = ["BD_METHODS", "bd_metric", "bd_rate", "bd_table", "format_bd_table", "pareto_front"]
