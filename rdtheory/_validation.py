"""Input validation used at every public boundary (never inside jit).

Each helper raises ``ValueError`` naming the argument, what was wrong and how to fix it,
so that bad input never turns into a NaN or a traceback from inside a compiled function.
"""
from __future__ import annotations

import numpy as np

#: Tolerance on ``|sum(p) - 1|`` accepted for a probability vector. Anything a user
#: builds by normalising float64 data passes; a vector that is off by more than this
#: is almost certainly not a distribution (e.g. counts or a typo) and is refused.
PROB_SUM_ATOL = 1e-6


def as_finite_array(x, name: str, *, ndim: int | tuple[int, ...] | None = None,
                    dtype=np.float64) -> np.ndarray:
    """Return ``x`` as a finite numpy array of ``dtype``, checking ``ndim``."""
    try:
        arr = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric array-like; got {type(x).__name__} ({err})") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimension(s); "
                             f"got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one element")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN/inf value(s); clean or drop them first")
    return arr


def probability_vector(p, name: str = "p", *, atol: float = PROB_SUM_ATOL, axis: int = -1) -> np.ndarray:
    """Validate a probability vector (or a batch of them along ``axis``).

    Entries must be finite and ``>= 0`` and each vector must sum to 1 within ``atol``.
    The vector is renormalised exactly so downstream code sees ``sum == 1``.
    """
    arr = as_finite_array(p, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a vector of probabilities, got a scalar")
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative entries (min {arr.min():.3g}); probabilities must be >= 0")
    sums = arr.sum(axis=axis, keepdims=True)
    if np.any(np.abs(sums - 1.0) > atol):
        worst = float(np.max(np.abs(sums - 1.0)))
        raise ValueError(f"{name} must sum to 1 (within {atol:g}); off by {worst:.3g}. "
                         f"Normalise it, e.g. p = p / p.sum()")
    return arr / sums


def distortion_matrix(d, name: str = "d", *, n: int | None = None) -> np.ndarray:
    """Validate a distortion matrix of shape ``(n, m)`` (or a batch ``(..., n, m)``)."""
    arr = as_finite_array(d, name)
    if arr.ndim < 2:
        raise ValueError(f"{name} must be a matrix d[x, x_hat] of shape (n, m); got shape {arr.shape}")
    if n is not None and arr.shape[-2] != n:
        raise ValueError(f"{name} has {arr.shape[-2]} rows but the source has {n} symbols; "
                         f"d must have shape (n, m) with n = len(p)")
    if np.any(arr < 0):
        raise ValueError(f"{name} has negative entries (min {arr.min():.3g}); distortions must be >= 0 "
                         f"(subtract a per-row constant: it does not change the optimal code)")
    return arr


def positive(x, name: str, *, allow_zero: bool = False) -> np.ndarray:
    """Validate strictly positive (or non-negative) finite numbers."""
    arr = as_finite_array(x, name)
    bad = arr < 0 if allow_zero else arr <= 0
    if np.any(bad):
        rel = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {rel}; got {arr[bad].ravel()[:3].tolist()}")
    return arr


def as_samples(x, name: str = "samples", *, min_n: int = 2, dim: int | None = None) -> np.ndarray:
    """Validate samples as a finite float64 array of shape ``(n, k)`` (1-D input is ``(n, 1)``).

    ``min_n``: fewest samples accepted (an estimator from one sample has no spread to
    measure). ``dim``: required point dimension ``k`` (e.g. that of the source points, for
    reproduction points).
    """
    arr = as_finite_array(x, name, ndim=(1, 2))
    arr = arr[:, None] if arr.ndim == 1 else arr
    if arr.shape[0] < min_n:
        raise ValueError(f"{name} has {arr.shape[0]} sample(s); pass at least {min_n} (rows are samples)")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has points of dimension {arr.shape[1]} but {dim} was expected; "
                         f"source and reproduction points must have the same number of columns")
    return arr
