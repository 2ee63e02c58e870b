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

#: public names loaded on first use (the estimators import the engine / network stacks)
_LAZY = {"plugin_rd": "plugin", "CappedWarning": "plugin", "kl_entropy": "lower", "shannon_lower_bound": "lower",
         "dual_bound": "dual", "dual_lcb": "lcb", "neural_bound": "neural", "wgd_bound": "wgd", "fit_particles": "wgd"}

__all__ = ["RDBound", "estimate_rd", "known_methods", "register_method", "split_samples",
           "BernoulliSource", "SymmetricSource", "GaussianSource", "LaplaceSource", "UniformSource",
           "nerd_gaussian", "low_rank_gaussian", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
