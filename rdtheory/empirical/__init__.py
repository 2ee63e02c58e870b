"""Rate-distortion estimation from samples, with honest bounds.

Every estimator returns an :class:`RDBound` (bits) evaluated on held-out samples; the one
entry point is :func:`estimate_rd` (methods in a registry, see
:mod:`rdtheory.empirical.estimate`). Sources with known R(D) for tests and claims are in
:mod:`rdtheory.empirical.sources`.
"""
from .record import RDBound
from .estimate import estimate_rd, known_methods, register_method, split_samples
from .sources import (BernoulliSource, GaussianSource, LaplaceSource, SymmetricSource, UniformSource,
                      low_rank_gaussian, nerd_gaussian)

__all__ = ["RDBound", "estimate_rd", "known_methods", "register_method", "split_samples",
           "BernoulliSource", "SymmetricSource", "GaussianSource", "LaplaceSource", "UniformSource",
           "nerd_gaussian", "low_rank_gaussian", "plugin_rd", "CappedWarning"]


def __getattr__(name):  # the plug-in estimator imports the engine: load it on first use
    if name in ("plugin_rd", "CappedWarning"):
        from . import plugin

        return getattr(plugin, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
