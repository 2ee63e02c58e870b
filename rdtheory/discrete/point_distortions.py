r"""Distortions between points, evaluated one tile at a time.

The matrix-free solver and the estimators from samples never hold the ``n x m`` matrix
:math:`d(x_i, \hat x_j)`; they ask for tiles ``d(x[a:b], x_hat[c:e])``. A *point distortion*
is a function ``tile(x, y) -> (a, b)`` of two point arrays ``x: (a, k)``, ``y: (b, k)``,
written in ``jax.numpy`` so it runs inside jit on any device.

Named distortions (:data:`POINT_DISTORTIONS`):

- ``"squared"``: :math:`\|x-\hat x\|_2^2`, computed as :math:`\|x\|^2 + \|\hat x\|^2 -
  2\langle x, \hat x\rangle` (one matmul per tile), clipped at 0 against cancellation;
- ``"absolute"``: :math:`\|x-\hat x\|_1`;
- ``"hamming"``: the number of coordinates where :math:`x \ne \hat x` (for ``k = 1``,
  :math:`[x \ne \hat x]`).

A user callable is accepted after :func:`check_point_distortion` has evaluated it on a tile
of the actual points: it must return a finite, non-negative ``(a, b)`` array, and be a
function of the two arguments (the same entries when the tile's rows or columns are evaluated
in two halves).

>>> import numpy as np
>>> dense_matrix("squared", np.array([[0.0], [1.0]]), np.array([[0.0], [0.5], [1.0]]))
array([[0.  , 0.25, 1.  ],
       [1.  , 0.25, 0.  ]])
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import jax
import jax.numpy as jnp

__all__ = ["POINT_DISTORTIONS", "point_distortion", "check_point_distortion", "dense_matrix"]

PointDistortion = Callable[[jnp.ndarray, jnp.ndarray], jnp.ndarray]


def _squared(x, y):
    sq = jnp.sum(x * x, axis=1)[:, None] + jnp.sum(y * y, axis=1)[None, :] - 2.0 * (x @ y.T)
    return jnp.maximum(sq, 0.0)


def _absolute(x, y):
    return jnp.sum(jnp.abs(x[:, None, :] - y[None, :, :]), axis=-1)


def _hamming(x, y):
    return jnp.sum(x[:, None, :] != y[None, :, :], axis=-1).astype(x.dtype)


#: The named point distortions.
POINT_DISTORTIONS: dict[str, PointDistortion] = {"squared": _squared, "absolute": _absolute, "hamming": _hamming}


def point_distortion(distortion) -> PointDistortion:
    """The tile function for a name in :data:`POINT_DISTORTIONS` or a callable (returned as is).

    Validate a callable on the actual points with :func:`check_point_distortion`.
    """
    if callable(distortion):
        return distortion
    if isinstance(distortion, str) and distortion in POINT_DISTORTIONS:
        return POINT_DISTORTIONS[distortion]
    raise ValueError(f"distortion must be one of {sorted(POINT_DISTORTIONS)} or a callable "
                     f"tile(x: (a, k), y: (b, k)) -> (a, b); got {distortion!r}")


def check_point_distortion(distortion, x: np.ndarray, y: np.ndarray, *, probe: int = 8) -> PointDistortion:
    """Resolve ``distortion`` and check it on a ``probe x probe`` tile of the points ``x``, ``y``.

    Raises ``ValueError`` if the tile has the wrong shape, a non-finite or negative entry,
    or changes when its rows, or its columns, are evaluated in two halves (then it is not a
    function of the two points alone: it normalises or indexes over the tile, or keeps state
    between calls).
    """
    fn = point_distortion(distortion)
    with jax.enable_x64(True):  # float64, as the solvers evaluate it
        return _check_on(fn, x, y, probe)


def _check_on(fn, x, y, probe: int) -> PointDistortion:
    xs, ys = jnp.asarray(x[:probe], jnp.float64), jnp.asarray(y[:probe], jnp.float64)
    try:
        tile = np.asarray(fn(xs, ys), dtype=np.float64)
    except Exception as err:  # a user callable with the wrong signature
        raise ValueError(f"distortion failed on a ({len(xs)}, {xs.shape[1]}) x ({len(ys)}, {ys.shape[1]}) "
                         f"tile of the points: {type(err).__name__}: {err}. It must map x: (a, k), "
                         f"y: (b, k) to the (a, b) matrix d(x_i, y_j)") from None
    if tile.shape != (len(xs), len(ys)):
        raise ValueError(f"distortion returned shape {tile.shape} for a ({len(xs)}, k) x ({len(ys)}, k) tile; "
                         f"it must return the (a, b) matrix d(x_i, y_j)")
    if not np.all(np.isfinite(tile)):
        raise ValueError("distortion returned NaN/inf on the points; it must be finite everywhere")
    if np.any(tile < 0):
        raise ValueError(f"distortion returned negative values (min {tile.min():.3g}); distortions must be >= 0")
    atol = 1e-12 * max(1.0, float(tile.max()))
    for axis, (a, b) in enumerate(((xs, ys), (ys, xs))):
        if len(a) < 2:
            continue
        h = len(a) // 2
        parts = [(a[:h], b), (a[h:], b)] if axis == 0 else [(b, a[:h]), (b, a[h:])]
        halves = np.concatenate([np.asarray(fn(*args), dtype=np.float64) for args in parts], axis=axis)
        if halves.shape != tile.shape or not np.allclose(halves, tile, rtol=1e-9, atol=atol):
            what = ("rows (the x points)", "columns (the reproduction points)")[axis]
            raise ValueError(f"distortion is not a function of the two points: evaluating the {what} of a tile in "
                             "two halves changed its values (does it keep state between calls, or normalise or "
                             "index over the tile?)")
    return fn


def dense_matrix(distortion, x, y) -> np.ndarray:
    """The full ``(n, m)`` matrix ``d(x_i, y_j)`` as numpy float64 (for small problems and tests)."""
    fn = point_distortion(distortion)
    with jax.enable_x64(True):
        return np.asarray(fn(jnp.asarray(x, jnp.float64), jnp.asarray(y, jnp.float64)), dtype=np.float64)
