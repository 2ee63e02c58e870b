"""Rate-distortion estimation from samples, with honest bounds.

Every estimator returns an :class:`RDBound` (bits) evaluated on held-out samples.
"""
from .record import RDBound

__all__ = ["RDBound"]
