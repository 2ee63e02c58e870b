"""Lazy package exports (PEP 562), as scientific-python's ``lazy_loader.attach`` does.

The torch packages (:mod:`rdtheory.vision`, :mod:`rdtheory.codecs`) list their public names
per module; a name's module (and with it torch or CompressAI) is imported on first use, so
``rdtheory --help`` and the argument parsers import neither.
"""
from __future__ import annotations

import importlib


def attach(package: str, exports: dict[str, tuple[str, ...]]):
    """``(__getattr__, __dir__, __all__)`` for ``package`` exporting ``exports[module] = names``."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name):
        if name in where:
            return getattr(importlib.import_module(f".{where[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(where)

    return __getattr__, __dir__, sorted(where)
