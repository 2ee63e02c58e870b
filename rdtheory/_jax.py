"""JAX's persistent compilation cache, on by default for rdtheory's compiled solvers.

A new process pays the XLA compilation of every solver shape it meets (about 20 s for a
1024-point curve on a 2-core CPU). JAX can keep compiled executables on disk, keyed by the
program's HLO, the backend and the JAX version, so a second process loads them instead of
compiling again; a cache never changes a result, only the time to the first one.

:func:`enable_compilation_cache` points JAX at ``rdtheory._io.cache_dir("jax")``
(``$RDTHEORY_CACHE/jax``, else ``$XDG_CACHE_HOME/rdtheory/jax``, else
``~/.cache/rdtheory/jax``) the first time rdtheory compiles a solver. It leaves JAX alone when

- the environment sets ``RDTHEORY_JAX_CACHE=0`` (opt-out; also ``off``/``false``/``no``), or
- the user already chose a cache (``jax_compilation_cache_dir`` set, e.g. by
  ``JAX_COMPILATION_CACHE_DIR``): theirs is used.

The setting is process-wide (JAX has one cache), so other JAX code in the same process
compiling afterwards may also be cached there; it is never set at import time.
"""
from __future__ import annotations

import os

__all__ = ["enable_compilation_cache"]

_OFF = {"0", "off", "false", "no"}
_done = False


def enable_compilation_cache() -> str | None:
    """Turn on JAX's persistent compilation cache in the user cache dir (once per process).

    Returns the cache folder in use, or ``None`` when caching is off (``RDTHEORY_JAX_CACHE=0``).
    """
    global _done
    import jax

    if os.environ.get("RDTHEORY_JAX_CACHE", "").strip().lower() in _OFF:
        return None
    current = jax.config.jax_compilation_cache_dir
    if _done or current:
        return current
    from ._io import cache_dir

    path = cache_dir("jax")
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    # the solver's kernels take 0.2-5 s to compile; JAX's default threshold (1 s) would skip
    # the small ones, which are most of a curve's shapes
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    _done = True
    return str(path)
