r"""Sources with a known rate-distortion function, for known-answer tests and claims.

Every source has ``sample(n, seed)`` (an ``(n, k)`` float64 array, bit-identical for a
seed), ``distortion`` (the name of the point distortion of
:mod:`rdtheory.discrete.point_distortions` its R(D) is for), and ``rd_bounds(D)``, a pair
``(lower, upper)`` of arrays in **bits** with ``lower <= R(D) <= upper``; where R(D) is
known exactly the two are equal and ``rd(D)`` returns it.

- :class:`BernoulliSource`, :class:`SymmetricSource`: Hamming distortion,
  :func:`~rdtheory.discrete.closed_form.binary_hamming` / ``mary_hamming`` [1]_;
- :class:`GaussianSource`: independent components of variances :math:`\sigma_k^2`
  (optionally rotated by a seeded random orthogonal matrix, which changes neither R(D)
  nor the squared error) under :math:`d = \|x-\hat x\|_2^2` (summed over coordinates):
  reverse water-filling [1]_ (Thm. 10.3.3),

  .. math:: R(D) = \sum_k \max\Big(0, \tfrac12\log_2\frac{\sigma_k^2}{\theta}\Big),\qquad
            D = \sum_k \min(\theta, \sigma_k^2);

  :func:`nerd_gaussian` is the 40-d source of the NERD paper [3]_, :func:`low_rank_gaussian`
  a rank-r Gaussian in a larger ambient dimension;
- :class:`LaplaceSource`: density :math:`\tfrac\alpha2 e^{-\alpha|x|}` (``alpha`` in
  1/units of x) under :math:`d = |x - \hat x|`: :math:`R(D) = -\log_2(\alpha D)` bits for
  :math:`0 < D \le 1/\alpha`, 0 above [2]_ (Sec. 4.3: Laplacian source, magnitude error);
- :class:`UniformSource`: uniform on :math:`[0, a]^k` under squared error, no closed form;
  bracketed by the Shannon lower bound
  :math:`k\log_2 a - \tfrac k2\log_2(2\pi e D/k)` and the Gaussian upper bound
  :math:`\tfrac k2\log_2(a^2 k / (12 D))` [1]_ (Ch. 10 problems; Thm. 10.3.2).

>>> src = GaussianSource((1.0, 0.25))       # D = 0.1: level 0.05 under both variances
>>> round(src.rd(0.1), 6), round(0.5 * math.log2(1 / 0.05) + 0.5 * math.log2(0.25 / 0.05), 6)
(3.321928, 3.321928)
>>> src.sample(3, seed=0).shape
(3, 2)

References
----------
.. [1] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Ch. 10).
.. [2] T. Berger, "Rate Distortion Theory: A Mathematical Basis for Data Compression",
   Prentice-Hall, 1971.
.. [3] E. Lei, H. Hassani and S. Saeedi Bidokhti, "Neural Estimation of the Rate-Distortion
   Function With Applications to Operational Source Coding", IEEE JSAIT, 2022.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import optimize

from .._validation import as_finite_array
from ..discrete import closed_form

__all__ = ["BernoulliSource", "SymmetricSource", "GaussianSource", "LaplaceSource", "UniformSource",
           "nerd_gaussian", "low_rank_gaussian", "water_filling_level", "random_rotation"]


def _n(n) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (the number of samples); got {n!r}")
    return int(n)


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    return np.random.default_rng(int(seed))


def _distortions(D) -> np.ndarray:
    D = as_finite_array(D, "D")
    if np.any(D < 0):
        raise ValueError(f"D must be >= 0 (a distortion); got {D[D < 0].ravel()[:3].tolist()}")
    return D


def _out(x):
    x = np.asarray(x, dtype=np.float64)
    return float(x) if x.ndim == 0 else x


class _Exact:
    """Mixin: a source whose R(D) is known exactly (``rd_bounds`` = ``(rd, rd)``)."""

    exact = True

    def rd_bounds(self, D):
        r = self.rd(D)
        return r, r


@dataclasses.dataclass(frozen=True)
class BernoulliSource(_Exact):
    """Bernoulli(``p``) on {0, 1}, Hamming distortion; samples of shape (n, 1)."""

    p: float = 0.5
    distortion = "hamming"
    dim = 1

    def __post_init__(self):
        if not 0 < self.p < 1:
            raise ValueError(f"p must be in (0, 1) (the probability of a 1); got {self.p!r}")

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        return (_rng(seed).random((_n(n), 1)) < self.p).astype(np.float64)

    def rd(self, D):
        """:math:`h(p) - h(D)` for :math:`D < \\min(p, 1-p)`, else 0 (bits)."""
        return closed_form.binary_hamming(_distortions(D), self.p)


@dataclasses.dataclass(frozen=True)
class SymmetricSource(_Exact):
    """Uniform on {0, ..., m-1} (the m-ary symmetric source), Hamming distortion; (n, 1)."""

    m: int = 4
    distortion = "hamming"
    dim = 1

    def __post_init__(self):
        if isinstance(self.m, bool) or not isinstance(self.m, (int, np.integer)) or self.m < 2:
            raise ValueError(f"m must be an integer >= 2 (the alphabet size); got {self.m!r}")

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        return _rng(seed).integers(0, self.m, size=(_n(n), 1)).astype(np.float64)

    def rd(self, D):
        """:math:`\\log_2 m - h(D) - D\\log_2(m-1)` for :math:`D \\le 1 - 1/m`, else 0 (bits)."""
        return closed_form.mary_hamming(_distortions(D), int(self.m))


def random_rotation(dim: int, seed: int) -> np.ndarray:
    """A Haar-random ``(dim, dim)`` orthogonal matrix (QR of a Gaussian matrix, signs fixed)."""
    g = _rng(seed).standard_normal((dim, dim))
    qm, rm = np.linalg.qr(g)
    return qm * np.sign(np.diag(rm))[None, :]


def water_filling_level(variances, D) -> np.ndarray:
    r"""The water level :math:`\theta` with :math:`\sum_k \min(\theta, \sigma_k^2) = D`.

    ``D`` in ``[0, sum(variances)]`` (clipped above). The sum is piecewise linear in
    :math:`\theta`: with the j smallest variances under the level it is
    :math:`\sum_{i<j}\sigma_{(i)}^2 + (K-j)\theta`, solved on the right segment.
    """
    v = np.sort(np.asarray(variances, dtype=np.float64))
    D = np.minimum(_distortions(D), v.sum())
    K = v.size
    below = np.concatenate([[0.0], np.cumsum(v)])          # below[j] = sum of the j smallest
    # the sum at theta = v[j] (j components fully under it): below[j] + (K - j) v[j], increasing in j
    knots = below[:K] + (K - np.arange(K)) * v
    j = np.searchsorted(knots, np.ravel(D), side="left")
    level = np.where(j < K, (np.ravel(D) - below[np.minimum(j, K)]) / np.maximum(K - j, 1), v[-1])
    return level.reshape(np.shape(D))


@dataclasses.dataclass(frozen=True)
class GaussianSource(_Exact):
    r"""Zero-mean Gaussian with independent components of ``variances`` (zeros allowed),
    rotated by :func:`random_rotation` (``rotation_seed``) unless it is None.

    Squared error summed over the k coordinates. :math:`D_{\max} = \sum_k\sigma_k^2`.
    """

    variances: tuple
    rotation_seed: int | None = None
    distortion = "squared"

    def __post_init__(self):
        v = as_finite_array(self.variances, "variances", ndim=1)
        if np.any(v < 0) or not v.sum() > 0:
            raise ValueError("variances must be >= 0 with at least one > 0 (one per coordinate)")
        object.__setattr__(self, "variances", tuple(float(a) for a in v))
        if self.rotation_seed is not None:
            _rng(self.rotation_seed)

    @property
    def dim(self) -> int:
        return len(self.variances)

    @property
    def rotation(self) -> np.ndarray:
        if self.rotation_seed is None:
            return np.eye(self.dim)
        return random_rotation(self.dim, self.rotation_seed)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        z = _rng(seed).standard_normal((_n(n), self.dim)) * np.sqrt(np.asarray(self.variances))[None, :]
        return z if self.rotation_seed is None else z @ self.rotation.T

    def rd(self, D):
        """Reverse water-filling R(D) in bits (0 for D >= sum of variances; inf at D = 0)."""
        D = _distortions(D)
        v = np.asarray(self.variances)
        theta = water_filling_level(v, D)
        with np.errstate(divide="ignore"):
            per = 0.5 * np.log2(v[None, :] / np.reshape(theta, (-1, 1)))
        return _out(np.maximum(per, 0.0).sum(1).reshape(np.shape(D)))

    def dr(self, R):
        r"""Distortion-rate :math:`D(R) = \sum_k\min(\theta, \sigma_k^2)` with
        :math:`\sum_k \max(0, \tfrac12\log_2(\sigma_k^2/\theta)) = R` (``R`` bits >= 0)."""
        R = as_finite_array(R, "R")
        if np.any(R < 0):
            raise ValueError(f"R must be >= 0 bits; got {R[R < 0].ravel()[:3].tolist()}")
        v = np.asarray(self.variances)
        vmax = float(v.max())

        def level(r):
            if r == 0:
                return vmax
            f = lambda lt: np.maximum(0.5 * (np.log2(v[v > 0]) - lt / math.log(2)), 0).sum() - r
            return math.exp(optimize.brentq(f, math.log(vmax) - 2 * math.log(2) * r - 1, math.log(vmax),
                                            xtol=1e-15, rtol=1e-15, maxiter=500))

        theta = np.array([level(float(r)) for r in np.ravel(R)])
        return _out(np.minimum(theta[:, None], v[None, :]).sum(1).reshape(np.shape(R)))


def nerd_gaussian(rotation_seed: int = 0) -> GaussianSource:
    r"""The 40-d Gaussian of NERD [3]_: standard deviations :math:`\sigma_k = 2e^{-k/2}`,
    k = 0..39 (variances :math:`4e^{-k}`), randomly rotated (``rotation_seed``)."""
    k = np.arange(40)
    return GaussianSource(tuple((2.0 * np.exp(-k / 2)) ** 2), rotation_seed=rotation_seed)


def low_rank_gaussian(rank: int, dim: int, variance: float = 1.0, rotation_seed: int = 0) -> GaussianSource:
    """A Gaussian of ``rank`` components of ``variance`` and ``dim - rank`` zero ones, rotated
    into ``dim`` ambient coordinates (its samples lie on a random ``rank``-d subspace)."""
    if not (isinstance(rank, (int, np.integer)) and isinstance(dim, (int, np.integer)) and 1 <= rank <= dim):
        raise ValueError(f"need integers 1 <= rank <= dim; got rank={rank!r}, dim={dim!r}")
    if not (np.isfinite(variance) and variance > 0):
        raise ValueError(f"variance must be a finite number > 0; got {variance!r}")
    return GaussianSource((float(variance),) * int(rank) + (0.0,) * int(dim - rank), rotation_seed=rotation_seed)


@dataclasses.dataclass(frozen=True)
class LaplaceSource(_Exact):
    r"""Laplace with density :math:`\tfrac\alpha2 e^{-\alpha|x|}` (mean absolute value
    :math:`1/\alpha`), absolute error; samples (n, 1)."""

    alpha: float = 1.0
    distortion = "absolute"
    dim = 1

    def __post_init__(self):
        if not (np.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"alpha must be a finite number > 0 (the rate, 1/units of x); got {self.alpha!r}")

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        return _rng(seed).laplace(0.0, 1.0 / self.alpha, size=(_n(n), 1))

    def rd(self, D):
        r""":math:`R(D) = \max(0, -\log_2(\alpha D))` bits (the nats form :math:`-\ln(\alpha D)`
        divided by ln 2); inf at D = 0."""
        D = _distortions(D)
        with np.errstate(divide="ignore"):
            return _out(np.maximum(0.0, -np.log2(self.alpha * D)))


@dataclasses.dataclass(frozen=True)
class UniformSource:
    r"""Uniform on :math:`[0, a]^k` (``width`` a, ``dim`` k), squared error summed over the
    coordinates; R(D) is not known in closed form: :meth:`rd_bounds` brackets it."""

    width: float = 1.0
    dim: int = 1
    distortion = "squared"
    exact = False

    def __post_init__(self):
        if not (np.isfinite(self.width) and self.width > 0):
            raise ValueError(f"width must be a finite number > 0; got {self.width!r}")
        if isinstance(self.dim, bool) or not isinstance(self.dim, (int, np.integer)) or self.dim < 1:
            raise ValueError(f"dim must be an integer >= 1; got {self.dim!r}")

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        return _rng(seed).random((_n(n), int(self.dim))) * self.width

    def rd_bounds(self, D):
        r"""``(lower, upper)`` in bits: the Shannon lower bound
        :math:`h(X) - \tfrac k2\log_2(2\pi e D/k)` with :math:`h(X) = k\log_2 a`, and the
        Gaussian bound :math:`\tfrac k2\log_2(k\sigma^2/D)`, :math:`\sigma^2 = a^2/12`;
        both clipped at 0."""
        D = _distortions(D)
        k, a = int(self.dim), float(self.width)
        with np.errstate(divide="ignore"):
            lo = np.maximum(0.0, k * np.log2(a) - 0.5 * k * np.log2(2 * np.pi * np.e * D / k))
            hi = np.maximum(0.0, 0.5 * k * np.log2(k * a * a / 12.0 / D))
        return _out(lo), _out(hi)

    def rd(self, D):
        raise ValueError("the uniform source's R(D) under squared error has no closed form; "
                         "use rd_bounds(D) for the (Shannon lower, Gaussian upper) bracket")
