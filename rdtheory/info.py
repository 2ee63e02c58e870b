r"""Entropy, mutual information and Kullback–Leibler divergence of finite distributions.

All quantities are in **bits** unless ``base`` says otherwise (``base=np.e`` gives nats).
The convention :math:`0 \log 0 = 0` and :math:`0 \log (0/q) = 0` makes every function
stable at zeros; :math:`p \log(p/0) = +\infty` is returned as ``inf`` (the true value).

These are plain numpy functions (exact, float64) for checking and reporting; the
jit-compiled solvers in :mod:`rdtheory.discrete` have their own log-domain versions.
:func:`channel_mutual_information` is the one :math:`I(p, q)` of a source and a channel
that the rest of the package uses, and :data:`LN2` the one nats-per-bit constant.

References
----------
.. [1] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Ch. 2: Secs. 2.1 entropy, 2.3 relative entropy and mutual information, 2.5 conditional
   mutual information).
.. [2] R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE
   Trans. Inf. Theory 18(4):460-473, 1972 (the :math:`I(p, Q)` of a source and a channel).

Example
-------
>>> entropy([0.5, 0.5])
1.0
>>> mutual_information([[0.5, 0.0], [0.0, 0.5]])
1.0
"""
from __future__ import annotations

import math

import numpy as np

from ._validation import probability_vector

__all__ = ["entropy", "kl_divergence", "mutual_information", "binary_entropy", "conditional_mutual_information",
           "channel_mutual_information", "LN2"]

#: :math:`\ln 2`, nats per bit: divide a value in nats by ``LN2`` to get bits.
LN2 = math.log(2.0)


def _log(base: float) -> float:
    if not np.isfinite(base) or base <= 0 or base == 1:
        raise ValueError(f"base must be a positive number other than 1 (2 for bits, e for nats); got {base}")
    return float(np.log(base))


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) with 0 * log(anything) = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, y, 1.0)), 0.0)


def entropy(p, *, base: float = 2.0) -> float:
    r"""Shannon entropy :math:`H(P) = -\sum_i p_i \log p_i` (bits by default).

    Cover & Thomas [1]_, Sec. 2.1.

    ``p`` may have any shape; it is treated as one joint distribution over all entries.
    """
    arr = probability_vector(np.ravel(np.asarray(p, dtype=np.float64)), "p")
    return float(-_xlogy(arr, arr).sum() / _log(base))


def binary_entropy(x, *, base: float = 2.0):
    r"""Binary entropy :math:`h(x) = -x\log x - (1-x)\log(1-x)`, elementwise, for x in [0, 1]."""
    x = np.asarray(x, dtype=np.float64)
    if np.any((x < 0) | (x > 1)) or not np.all(np.isfinite(x)):
        raise ValueError("binary_entropy needs probabilities x in [0, 1]")
    out = -(_xlogy(x, x) + _xlogy(1 - x, 1 - x)) / _log(base)
    return float(out) if out.ndim == 0 else out


def kl_divergence(p, q, *, base: float = 2.0) -> float:
    r"""Kullback–Leibler divergence :math:`D(P\|Q) = \sum_i p_i \log(p_i/q_i)` (bits).

    Cover & Thomas [1]_, Sec. 2.3.

    Returns ``inf`` when P is not absolutely continuous with respect to Q.
    """
    p = probability_vector(np.ravel(np.asarray(p, dtype=np.float64)), "p")
    q = probability_vector(np.ravel(np.asarray(q, dtype=np.float64)), "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape; got {p.shape} and {q.shape}")
    if np.any((p > 0) & (q == 0)):
        return float("inf")
    return float((_xlogy(p, p) - _xlogy(p, q)).sum() / _log(base))


def mutual_information(joint, *, base: float = 2.0) -> float:
    r"""Mutual information :math:`I(X;Y) = \sum_{x,y} p(x,y)\log\frac{p(x,y)}{p(x)p(y)}` (bits).

    Cover & Thomas [1]_, Sec. 2.3.

    Parameters
    ----------
    joint : array (n_x, n_y)
        Joint distribution p(x, y), summing to 1.
    """
    pxy = np.asarray(joint, dtype=np.float64)
    if pxy.ndim != 2:
        raise ValueError(f"joint must be a 2-D array p(x, y); got shape {pxy.shape}")
    pxy = probability_vector(pxy.ravel(), "joint").reshape(pxy.shape)
    px = pxy.sum(1, keepdims=True)
    py = pxy.sum(0, keepdims=True)
    val = (_xlogy(pxy, pxy) - _xlogy(pxy, px * py)).sum() / _log(base)
    return float(max(val, 0.0))


def conditional_mutual_information(joint, *, base: float = 2.0) -> float:
    r""":math:`I(X;Y\mid Z)` from a joint array p(x, y, z) (bits).

    Cover & Thomas [1]_, Sec. 2.5.
    """
    pxyz = np.asarray(joint, dtype=np.float64)
    if pxyz.ndim != 3:
        raise ValueError(f"joint must be a 3-D array p(x, y, z); got shape {pxyz.shape}")
    pxyz = probability_vector(pxyz.ravel(), "joint").reshape(pxyz.shape)
    pz = pxyz.sum((0, 1), keepdims=True)
    pxz = pxyz.sum(1, keepdims=True)
    pyz = pxyz.sum(0, keepdims=True)
    val = (_xlogy(pxyz, pxyz * pz) - _xlogy(pxyz, pxz * pyz)).sum() / _log(base)
    return float(max(val, 0.0))


def channel_mutual_information(p, q, *, base: float = 2.0):
    r"""Mutual information :math:`I(p, q) = \sum_{x,\hat x} p(x) q(\hat x|x)\log\frac{q(\hat x|x)}{r(\hat x)}`
    of a source ``p`` and a channel ``q``, with :math:`r(\hat x) = \sum_x p(x) q(\hat x|x)` (bits).

    The :math:`I(p, Q)` of Blahut [2]_, the quantity R(D) minimises.

    Parameters
    ----------
    p : array (..., n)
        Source distribution(s), each summing to 1.
    q : array (..., n, m)
        Channel(s) :math:`q(\hat x|x)`, each row summing to 1; leading axes broadcast with ``p``'s.
    base : float
        Logarithm base (2: bits, ``np.e``: nats).

    Returns
    -------
    float or ndarray
        A float for one pair, else an array of the broadcast leading shape.

    Raises
    ------
    ValueError
        For NaN/inf, negative entries, or rows not summing to 1.

    Notes
    -----
    Each term is computed as :math:`\log p(x,\hat x) - \log p(x) - \log r(\hat x)`, never as the
    ratio :math:`q/r`, which overflows to ``inf`` when :math:`r(\hat x)` is subnormal.

    Examples
    --------
    >>> bsc = [[0.9, 0.1], [0.1, 0.9]]
    >>> round(channel_mutual_information([0.5, 0.5], bsc), 12) == round(1 - binary_entropy(0.1), 12)
    True
    """
    p = probability_vector(p, "p")
    q = np.asarray(q, dtype=np.float64)
    if q.ndim < 2 or q.shape[-2] != p.shape[-1]:
        raise ValueError(f"q must be a channel q[x, x_hat] of shape (..., n, m) with n = {p.shape[-1]} source "
                         f"symbols (p has shape {p.shape}); got shape {q.shape}")
    q = probability_vector(q, "q (each row q[x, :])")
    out = _channel_mi_nats(p, q) / _log(base)
    return float(out) if out.ndim == 0 else out


def _channel_mi_nats(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:func:`channel_mutual_information` in nats without input checks, for internal loops over
    solver output (``p`` (..., n), ``q`` (..., n, m) valid float64 arrays); clipped at 0."""
    joint = p[..., :, None] * q
    with np.errstate(divide="ignore", invalid="ignore"):
        log_joint = np.log(np.where(joint > 0, joint, 1.0))
        log_p = np.log(np.where(p > 0, p, 1.0))[..., :, None]
        log_r = np.log(np.where(joint.sum(-2) > 0, joint.sum(-2), 1.0))[..., None, :]
    terms = np.where(joint > 0, joint * (log_joint - log_p - log_r), 0.0)
    return np.maximum(terms.sum((-2, -1)), 0.0)
