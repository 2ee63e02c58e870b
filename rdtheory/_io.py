"""File output and cache locations.

Atomic writes: write to a temporary file in the same folder, then rename, so that a run killed
half-way never leaves a truncated result behind; the temporary file is removed on any
exception, ``KeyboardInterrupt`` included. The result gets the permissions a plain ``open()``
would give (``0o666`` less the user's umask), not ``mkstemp``'s private ``0o600``.

JSON is strict (RFC 8259): NaN and ±inf become ``null`` rather than the ``NaN`` tokens that
other JSON readers reject.

Caches live in one user cache folder (:func:`cache_dir`), never in the working directory.

References
----------
.. [1] T. Bray (ed.), "The JavaScript Object Notation (JSON) Data Interchange Format", RFC 8259,
   IETF, 2017.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_savefig", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "cache_dir",
           "strict_json"]


def _umask() -> int:
    """The process umask. Read from /proc where it exists, because the portable way (set and
    restore with ``os.umask``) briefly changes it for every thread of the process."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _atomic(path: str | os.PathLike, write, mode: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt too: never leave a .tmp file behind
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def strict_json(obj: Any) -> Any:
    """``obj`` as plain JSON values: numpy/JAX scalars and arrays become Python numbers and
    lists, non-finite floats become ``None``. Raises ``TypeError`` for anything else."""
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {(k.item() if isinstance(k, np.generic) else k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.generic):
        return strict_json(obj.item())
    if isinstance(obj, np.ndarray) or hasattr(obj, "tolist"):  # numpy and JAX arrays
        return strict_json(np.asarray(obj).tolist())
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def atomic_write_text(path, text: str) -> Path:
    return _atomic(path, lambda fh: fh.write(text), "w")


def atomic_write_json(path, obj: Any) -> Path:
    """Write ``obj`` as strict JSON (see :func:`strict_json`), atomically."""
    return atomic_write_text(path, json.dumps(strict_json(obj), indent=2, allow_nan=False) + "\n")


def atomic_write_bytes(path, data: bytes) -> Path:
    return _atomic(path, lambda fh: fh.write(data), "wb")


def atomic_savefig(fig, path, **kwargs) -> Path:
    """Save a matplotlib figure atomically (format from the suffix of ``path``)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    kwargs.setdefault("dpi", 150)
    kwargs.setdefault("bbox_inches", "tight")
    return _atomic(path, lambda fh: fig.savefig(fh, format=fmt, **kwargs), "wb")


def cache_root() -> Path:
    """The root of every rdtheory cache: ``$RDTHEORY_CACHE`` if set, else
    ``$XDG_CACHE_HOME/rdtheory`` (XDG Base Directory spec; a relative value is ignored, as the
    spec says), else ``~/.cache/rdtheory``. Not created here."""
    root = os.environ.get("RDTHEORY_CACHE")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "rdtheory"


def cache_dir(name: str) -> Path:
    """The folder for the cache ``name`` under :func:`cache_root` (not created here: callers
    create it when they write). ``name`` is a relative path such as ``"data"`` or
    ``"paper_checks/codecs_toy"``.
    """
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or ".." in parts:
        raise ValueError(f"cache name must be a relative path without '..'; got {name!r}")
    return cache_root() / name
