r"""The reverse-water-filling test channel in an orthonormal basis: an operational Gaussian
upper bound on R(D) of high-dimensional features (CNN layers), evaluated on held-out samples.

Setting. Features :math:`x \in \mathbb R^F` (one image's layer output, flattened), squared
error :math:`d = \|x - \hat x\|_2^2` summed over the F elements. Fix, from *training*
features, a mean :math:`\mu`, an orthonormal basis :math:`U` (columns :math:`u_k`) and the
variances :math:`v_k` of the coefficients :math:`c_k = u_k^\top(x-\mu)`. At a water level
:math:`\theta > 0` the channel acts on each coefficient independently [1]_ (Thm. 10.3.3):

.. math:: \hat c_k = a_k c_k + s_k Z_k,\quad a_k = (1 - \theta/v_k)_+,\quad
          s_k^2 = \theta a_k,\quad Z_k \sim \mathcal N(0,1)\ \text{i.i.d.},
          \qquad \hat x = \mu + U\hat c .

**Why it bounds R(D) of the true (non-Gaussian) features, in any basis.** The outputs
:math:`\hat c_k` are independent given :math:`x` and depend on it only through :math:`c_k`,
so :math:`I(X;\hat X) \le \sum_k I(C_k;\hat C_k)`, and for an additive Gaussian channel the
Gaussian input maximises the information at a given second moment :math:`w_k = \mathbb E c_k^2`:
:math:`I(C_k;\hat C_k) \le \tfrac12\log_2(1 + a_k w_k/\theta)`. Hence

.. math:: R\big(\mathbb E\,d\big) \le I(X;\hat X) \le
          \bar R(w) = \sum_k \tfrac12\log_2\!\big(1 + a_k w_k/\theta\big),\qquad
          \mathbb E\,d = \sum_k (1-a_k)^2 w_k + \theta a_k ,

whatever the distribution of the features and whichever orthonormal basis is used (the
eigenbasis of the covariance gives the smallest bound; :class:`BlockBasis` gives a cheaper
one). If the held-out second moments equal the training variances (:math:`w = v`), the
pair is exactly the Gaussian water-filling curve :math:`R_G(D)`, :math:`D = \sum_k\min(\theta, v_k)`.

**Held-out estimate with an interval.** :func:`heldout_terms` returns per-sample terms whose
means estimate the distortion exactly (it is linear in :math:`w`) and the rate through the
tangent of the concave :math:`\bar R` at :math:`w = v`,

.. math:: r_i = R_G(\theta) + \sum_{k: v_k > \theta}
          \frac{1 - \theta/v_k}{2\ln 2}\Big(\frac{c_{ik}^2}{v_k} - 1\Big),

so :math:`\mathbb E\,r_i \ge \bar R(w)` (a tangent lies above a concave function): the
sample mean is an unbiased estimate of an upper bound on the channel's rate, and the per-sample
terms are i.i.d., so Student-t or bootstrap intervals apply. With Gaussian coefficients of
variance v the terms average to :math:`R_G` and :math:`D` exactly (tested).

References
----------
.. [1] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Thm. 9.4.1 / 10.3.3: parallel Gaussian sources, reverse water-filling; Thm. 8.6.5: the
   Gaussian maximises entropy at a given variance).
.. [2] N. Ahmed, T. Natarajan and K. R. Rao, "Discrete cosine transform", IEEE Trans.
   Computers C-23:90-93, 1974 (the orthonormal DCT-II of :class:`BlockBasis`).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import fft

from .._validation import as_finite_array
from .sources import GaussianSource, water_filling_level

__all__ = ["channel_gains", "gaussian_curve", "levels_for_rates", "heldout_terms", "sample_channel", "BlockBasis"]


def _variances(v) -> np.ndarray:
    v = as_finite_array(v, "variances", ndim=1)
    if np.any(v < 0) or not v.max() > 0:
        raise ValueError("variances must be >= 0 with at least one > 0 (one per basis coefficient)")
    return v


def _levels(theta) -> np.ndarray:
    t = as_finite_array(theta, "theta", ndim=(0, 1))
    if np.any(t <= 0):
        raise ValueError(f"theta must be > 0 (a water level, units of squared feature); got {t[t <= 0][:3].tolist()}")
    return np.atleast_1d(t)


def channel_gains(variances, theta: float) -> tuple[np.ndarray, np.ndarray]:
    r"""``(a, s2)``: the shrinkage :math:`a_k = (1-\theta/v_k)_+` and noise variance :math:`s_k^2 = \theta a_k`."""
    v = _variances(variances)
    if np.size(theta) != 1:
        raise ValueError(f"theta must be a single water level here; got shape {np.shape(theta)}")
    t = float(_levels(np.ravel(theta))[0])
    a = np.where(v > t, 1.0 - t / np.where(v > 0, v, 1.0), 0.0)
    return a, t * a


def gaussian_curve(variances, theta) -> tuple[np.ndarray, np.ndarray]:
    r"""``(R_G, D)`` at each level: :math:`\sum_k\tfrac12\log_2(v_k/\theta)_+` bits and
    :math:`\sum_k\min(\theta, v_k)` (summed squared error)."""
    v, t = _variances(variances), _levels(theta)
    with np.errstate(divide="ignore"):
        rate = np.maximum(0.5 * np.log2(v[None, :] / t[:, None]), 0.0).sum(1)
    return rate, np.minimum(t[:, None], v[None, :]).sum(1)


def levels_for_rates(variances, rates) -> np.ndarray:
    r"""Water levels :math:`\theta` at which :math:`R_G` equals each of ``rates`` (bits, > 0)."""
    v = _variances(variances)
    r = as_finite_array(rates, "rates", ndim=1)
    if np.any(r <= 0):
        raise ValueError(f"rates must be > 0 bits; got {r[r <= 0][:3].tolist()}")
    D = np.atleast_1d(GaussianSource(tuple(v)).dr(r))
    return np.atleast_1d(water_filling_level(v, D))


def heldout_terms(coeffs, variances, theta) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-sample rate (bits, tangent bound) and expected distortion of the channel at each level.

    Parameters
    ----------
    coeffs : array (n, K)
        Held-out coefficients :math:`c_{ik} = u_k^\top(x_i - \mu)` (training mean and basis).
    variances : array (K,)
        Training variances :math:`v_k` the channel was designed on.
    theta : float or array (T,)
        Water levels.

    Returns
    -------
    rate, distortion : arrays (n, T)
        :math:`r_i` of the module docstring and :math:`d_i = \sum_k (1-a_k)^2 c_{ik}^2 + \theta a_k`
        (:math:`\mathbb E[\|x_i-\hat x_i\|^2 \mid x_i]` over the channel noise).
    """
    v, t = _variances(variances), _levels(theta)
    c2 = np.square(as_finite_array(coeffs, "coeffs", ndim=2))
    if c2.shape[1] != v.size:
        raise ValueError(f"coeffs has {c2.shape[1]} columns but there are {v.size} variances; pass one per coefficient")
    safe = np.where(v > 0, v, 1.0)
    a = np.where(v[:, None] > t[None, :], 1.0 - t[None, :] / safe[:, None], 0.0)          # (K, T)
    slope = a / (2.0 * math.log(2.0) * safe[:, None])                                    # d r / d c^2
    r_g, _ = gaussian_curve(v, t)
    rate = r_g[None, :] + c2 @ slope - (v @ slope)[None, :]
    distortion = c2 @ np.square(1.0 - a) + (t * a.sum(0))[None, :]
    return rate, distortion


def sample_channel(coeffs, variances, theta: float, noise) -> np.ndarray:
    r""":math:`\hat c = a\,c + s\,z`: one draw of the channel's output for ``coeffs`` (n, K) given
    standard normal ``noise`` (n, K) (pass it from a seeded generator for reproducibility)."""
    c = np.asarray(coeffs)
    z = np.asarray(noise)
    if c.ndim != 2 or z.shape != c.shape:
        raise ValueError(f"coeffs and noise must be (n, K) arrays of the same shape; got {c.shape} and {z.shape}")
    a, s2 = channel_gains(variances, theta)
    if a.size != c.shape[1]:
        raise ValueError(f"coeffs has {c.shape[1]} columns but there are {a.size} variances")
    return (c * a.astype(c.dtype) + z * np.sqrt(s2).astype(c.dtype)).astype(c.dtype, copy=False)


class BlockBasis:
    r"""Orthonormal basis of :math:`\mathbb R^{C\times H\times W}`: the 2-D DCT-II of every
    channel, then at each spatial frequency the eigenbasis of the C×C covariance of the
    channels' DCT coefficients (fitted from streamed moments, :meth:`update` then :meth:`fit`).

    If the features were spatially stationary (a covariance invariant to shifts, with
    symmetric boundaries) this would be the eigenbasis of the full covariance; they are not
    exactly, so it is a good basis rather than the best — the bound of the module docstring
    holds in any orthonormal basis. With ``H = W = 1`` (shape ``(F, 1, 1)``) it is the full
    PCA basis of ``F`` features (memory :math:`F^2`).

    Coefficients are ordered frequency-major, ``(H·W, C)`` flattened; :attr:`variances` are
    the training variances in that order.

    >>> rng = np.random.default_rng(0)
    >>> b = BlockBasis((2, 4, 4)).update(rng.normal(size=(500, 2, 4, 4))).fit()
    >>> x = rng.normal(size=(3, 2, 4, 4))
    >>> bool(np.allclose(b.inverse(b.forward(x)), x))
    True
    """

    def __init__(self, shape):
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"shape must be (C, H, W) with positive sizes (use (F, 1, 1) for flat features); "
                             f"got {shape}")
        self.shape = shape
        self.n = 0
        c, h, w = shape
        self._sum = np.zeros((h * w, c))
        self._sq = np.zeros((h * w, c, c))
        self.mean = self.rotations = self.variances = None

    def _dct(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"features must be (n, {', '.join(map(str, self.shape))}); got shape {x.shape}")
        y = fft.dctn(x, type=2, axes=(2, 3), norm="ortho") if self.shape[1] * self.shape[2] > 1 else x
        return y.reshape(x.shape[0], self.shape[0], -1).transpose(0, 2, 1)                  # (n, HW, C)

    def update(self, x) -> "BlockBasis":
        """Add a batch of training features ``(n, C, H, W)`` to the moment sums (float64)."""
        y = self._dct(np.asarray(x, dtype=np.float64))
        if not np.all(np.isfinite(y)):
            raise ValueError("features contain NaN/inf; clean them first")
        self.n += y.shape[0]
        self._sum += y.sum(0)
        yf = y.transpose(1, 0, 2)                                                           # (HW, n, C)
        self._sq += np.matmul(yf.transpose(0, 2, 1), yf)
        return self

    def fit(self) -> "BlockBasis":
        """Mean, per-frequency eigenbasis and coefficient variances from the moments seen so far."""
        if self.n < 2:
            raise ValueError(f"need at least 2 training samples to fit a basis; got {self.n}")
        m = self._sum / self.n
        cov = self._sq / self.n - m[:, :, None] * m[:, None, :]
        lam, vec = np.linalg.eigh(cov)
        self.mean, self.rotations = m, vec
        self.variances = np.maximum(lam, 0.0).reshape(-1)
        return self

    def forward(self, x) -> np.ndarray:
        r"""Coefficients :math:`U^\top(x-\mu)`, shape ``(n, C·H·W)``, dtype of ``x``."""
        if self.rotations is None:
            raise ValueError("call fit() before forward()")
        y = self._dct(x) - self.mean.astype(np.asarray(x).dtype)
        c = np.matmul(y.transpose(1, 0, 2), self.rotations.astype(y.dtype))                # (HW, n, C)
        return c.transpose(1, 0, 2).reshape(y.shape[0], -1)

    def inverse(self, coeffs) -> np.ndarray:
        r"""Features :math:`\mu + U c`, shape ``(n, C, H, W)``."""
        if self.rotations is None:
            raise ValueError("call fit() before inverse()")
        c = np.asarray(coeffs)
        hw, ch = self.mean.shape
        if c.ndim != 2 or c.shape[1] != hw * ch:
            raise ValueError(f"coeffs must be (n, {hw * ch}); got shape {c.shape}")
        if hw == 1:  # full PCA: only the columns that are not all zero (a water-filling output has few at low rate)
            nz = np.flatnonzero(np.any(c != 0, axis=0))
            y = (c[:, nz] @ self.rotations[0][:, nz].T.astype(c.dtype))[:, None, :]
        else:
            cf = c.reshape(c.shape[0], hw, ch).transpose(1, 0, 2)
            y = np.matmul(cf, self.rotations.transpose(0, 2, 1).astype(c.dtype)).transpose(1, 0, 2)
        y = (y + self.mean.astype(c.dtype)).transpose(0, 2, 1).reshape(c.shape[0], *self.shape)
        return fft.idctn(y, type=2, axes=(2, 3), norm="ortho") if hw > 1 else y
