r"""Distortion matrices ``d[x, x_hat]`` (shape ``(n, m)``), in the units of the values given.

>>> hamming(3)
array([[0., 1., 1.],
       [1., 0., 1.],
       [1., 1., 0.]])
>>> squared_error([0.0, 1.0], [0.0, 0.5, 1.0])
array([[0.  , 0.25, 1.  ],
       [1.  , 0.25, 0.  ]])

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. II-B, Eqs. 3-5: the task-induced distortion
   :math:`d_T(f(x), f(\hat x))`).
.. [2] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Ch. 10: Hamming and squared-error distortion).
"""
from __future__ import annotations

import numpy as np

from .._validation import as_finite_array, distortion_matrix

__all__ = ["hamming", "squared_error", "absolute_error", "from_matrix", "task_induced", "uniform_grid"]


def hamming(n: int, m: int | None = None) -> np.ndarray:
    r"""Hamming distortion :math:`d(x,\hat x) = [x \ne \hat x]` on ``{0..n-1} x {0..m-1}``."""
    m = n if m is None else m
    for name, v in (("n", n), ("m", m)):
        if not (isinstance(v, (int, np.integer)) and v >= 1):
            raise ValueError(f"{name} must be a positive integer alphabet size; got {v!r}")
    return 1.0 - np.eye(n, m)


def _values(v, name):
    arr = as_finite_array(v, name, ndim=(1, 2))
    return arr[:, None] if arr.ndim == 1 else arr


def _pairwise(x_values, xhat_values, per_coordinate) -> np.ndarray:
    x = _values(x_values, "x_values")
    y = x if xhat_values is None else _values(xhat_values, "xhat_values")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x_values and xhat_values must have the same point dimension; got {x.shape[1]} and {y.shape[1]}")
    return per_coordinate(x[:, None, :] - y[None, :, :]).sum(-1)


def squared_error(x_values, xhat_values=None) -> np.ndarray:
    r"""Squared error :math:`\|x-\hat x\|_2^2` between value grids (1-D values or (n, k) points)."""
    return _pairwise(x_values, xhat_values, np.square)


def absolute_error(x_values, xhat_values=None) -> np.ndarray:
    r"""Absolute (L1) error :math:`\|x-\hat x\|_1` between value grids."""
    return _pairwise(x_values, xhat_values, np.abs)


def from_matrix(d) -> np.ndarray:
    """Validate an arbitrary distortion matrix (finite, >= 0, 2-D) and return it as float64."""
    return distortion_matrix(d, "d")


def task_induced(f, d_T, f_hat=None) -> np.ndarray:
    r"""Task-induced distortion :math:`d(x,\hat x) = d_T(f(x), f(\hat x))`.

    The distortion inside Eqs. 3-5 of Harell et al. [1]_.

    Parameters
    ----------
    f : int array (n,)
        Task map on the source alphabet, values in ``0..|T|-1``.
    d_T : array (|T|, |T|)
        Task distortion between task outputs (e.g. ``hamming(|T|)`` for classification).
    f_hat : int array (m,), optional
        Task map on the reproduction alphabet (defaults to ``f``: reproduce inputs).
    """
    d_T = distortion_matrix(d_T, "d_T")
    idx = {}
    for name, v in (("f", f), ("f_hat", f if f_hat is None else f_hat)):
        a = np.asarray(v)
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must be a 1-D integer array of task indices; got {a.dtype} shape {a.shape}")
        lim = d_T.shape[0] if name == "f" else d_T.shape[1]
        if a.size == 0 or a.min() < 0 or a.max() >= lim:
            raise ValueError(f"{name} has values outside 0..{lim - 1} (the rows/columns of d_T)")
        idx[name] = a
    return d_T[np.ix_(idx["f"], idx["f_hat"])]


def uniform_grid(n: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """``n`` cell midpoints of ``[low, high)`` (the grid used for discretised continuous sources)."""
    if not (isinstance(n, (int, np.integer)) and n >= 1) or not high > low:
        raise ValueError("uniform_grid needs a positive integer n and high > low")
    return low + (np.arange(n) + 0.5) * (high - low) / n
