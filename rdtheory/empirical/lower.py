r"""The Shannon lower bound on R(D) from samples (with a kNN entropy estimate), and shared helpers.

**Shannon lower bound** (:func:`shannon_lower_bound`). For a difference distortion
:math:`d(x,\hat x) = \rho(x-\hat x)` on :math:`\mathbb R^k` and a source with a density,
:math:`R(D) \ge h(X) - \max\{h(Z) : \mathbb E\rho(Z) \le D\}` [1]_. The maximum-entropy
noise gives, in nats,

- squared error :math:`\|x-\hat x\|_2^2` (summed over the ``k`` coordinates):
  :math:`R(D) \ge h(X) - \tfrac k2 \log(2\pi e D/k)` (Gaussian noise, variance ``D/k``);
- absolute error :math:`\|x-\hat x\|_1`: :math:`R(D) \ge h(X) - k\log(2eD/k)` (Laplace
  noise, mean absolute value ``D/k``).

It is tight for a Gaussian source under squared error (all ``D`` below the variance) and
for a Laplace source :math:`\tfrac\alpha2 e^{-\alpha|x|}` under absolute error for
:math:`D \le 1/\alpha` (:math:`R = -\log(\alpha D)`). :math:`h(X)` is estimated by the
Kozachenko–Leonenko k-nearest-neighbour estimator [2]_ (:func:`kl_entropy`) with a batch-means
interval, so the result is an **estimate** of a lower bound: no finite-n guarantee is
possible without assumptions on the density (a density with a thin spike has any entropy
below what a sample shows).

The dual bound (Csiszár; Yang & Mandt) lives in :mod:`rdtheory.empirical.dual`, its finite-n
version in :mod:`rdtheory.empirical.lcb`; shared helpers (sample split, float64 distortion
tiles) are here.

All rates are returned in bits.

References
----------
.. [1] T. Berger, "Rate Distortion Theory", Prentice-Hall, 1971 (Sec. 4.3: the Shannon
   lower bound); T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed.,
   Wiley, 2006 (Ch. 10 and Thm. 8.6.5: maximum entropy under a second-moment constraint).
.. [2] L. F. Kozachenko and N. N. Leonenko, "Sample estimate of the entropy of a random
   vector", Probl. Inf. Transm. 23(2):95-101, 1987; A. Kraskov, H. Stögbauer and
   P. Grassberger, "Estimating mutual information", Phys. Rev. E 69:066138, 2004 (Eq. 20);
   T. B. Berrett, R. J. Samworth and M. Yuan, "Efficient multivariate entropy estimation
   via k-nearest neighbour distances", Ann. Statist. 47(1):288-318, 2019.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import special, stats
from scipy.spatial import cKDTree

from .._validation import as_finite_array, as_samples, positive
from ..info import LN2
from .estimate import register_method
from .record import RDBound

__all__ = ["EntropyEstimate", "kl_entropy", "shannon_lower_bound"]


class EntropyEstimate(NamedTuple):
    """Differential entropy estimate in bits, with its ``level`` interval (batch means)."""

    value: float
    interval: tuple[float, float]
    level: float
    k_nn: int
    n: int


def _check_level(level: float, name: str = "level") -> float:
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"{name} must be a number in (0, 1) (a confidence level); got {level!r}")
    return float(level)


def _kl_nats(x: np.ndarray, k_nn: int) -> float:
    """Kozachenko–Leonenko estimate (nats): psi(n) - psi(k) + log V_k + k_dim mean log eps."""
    n, k = x.shape
    eps = cKDTree(x).query(x, k=k_nn + 1)[0][:, k_nn]
    if np.any(eps <= 0):
        raise ValueError(f"samples have {int(np.sum(eps <= 0))} point(s) with {k_nn} exact duplicates; a "
                         "differential entropy needs a continuous source (drop duplicates or use a discrete method)")
    log_ball = 0.5 * k * math.log(math.pi) - special.gammaln(0.5 * k + 1)
    return float(special.digamma(n) - special.digamma(k_nn) + log_ball + k * np.mean(np.log(eps)))


def kl_entropy(samples, *, k_nn: int = 3, level: float = 0.95, batches: int = 10, seed: int = 0) -> EntropyEstimate:
    r"""Kozachenko–Leonenko differential entropy :math:`\hat h(X)` in bits, with an interval.

    :math:`\hat h = \psi(n) - \psi(k_{nn}) + \log V_k + \frac kn\sum_i\log\varepsilon_i`
    (nats), :math:`\varepsilon_i` the Euclidean distance from :math:`x_i` to its
    :math:`k_{nn}`-th neighbour, :math:`V_k` the volume of the unit ball (Kozachenko–Leonenko; Kraskov et al., Eq. 20).
    The :math:`\psi` terms remove the estimator's bias for a locally uniform density; it is
    consistent, and for :math:`k \le 3` asymptotically normal with the efficient variance
    :math:`\mathrm{Var}\log f(X)/n` (Berrett et al.).

    Interval: the samples are split (seeded) into ``batches`` disjoint batches, the estimate
    computed on each, and ``value +- t_{B-1} sd/sqrt(B)`` reported: the batches are independent,
    so the spread is an honest variance estimate at size ``n/B`` scaled to ``n`` (the full
    estimate's residual bias, :math:`O(n^{-1/k})` for smooth densities, is not covered).

    Parameters
    ----------
    samples : array (n, k) or (n,)
        Draws of a continuous source (no duplicate points).
    k_nn : int
        Neighbour order (default 3).
    level : float
        Confidence level of the interval.
    batches : int
        Number of disjoint batches for the interval (>= 2; each needs >= k_nn + 2 samples).
    seed : int
        Seed of the batch split.
    """
    if not isinstance(k_nn, (int, np.integer)) or k_nn < 1:
        raise ValueError(f"k_nn must be an integer >= 1 (the neighbour order); got {k_nn!r}")
    if not isinstance(batches, (int, np.integer)) or batches < 2:
        raise ValueError(f"batches must be an integer >= 2; got {batches!r}")
    level = _check_level(level)
    x = as_samples(samples, "samples", min_n=batches * (k_nn + 2))
    h = _kl_nats(x, k_nn)
    idx = np.random.default_rng(seed).permutation(x.shape[0])
    hb = np.array([_kl_nats(x[part], k_nn) for part in np.array_split(idx, batches)])
    half = stats.t.ppf(0.5 + level / 2, batches - 1) * np.std(hb, ddof=1) / math.sqrt(batches)
    return EntropyEstimate(h / LN2, ((h - half) / LN2, (h + half) / LN2), level, int(k_nn), int(x.shape[0]))


#: log2 of the maximum-entropy noise term (bits) of each difference distortion, given (D, k).
SLB_NOISE_BITS = {
    "squared": lambda D, k: 0.5 * k * np.log2(2 * math.pi * math.e * D / k),
    "absolute": lambda D, k: k * np.log2(2 * math.e * D / k),
}


def _check_D(D, name: str = "D") -> np.ndarray:
    D = np.atleast_1d(as_finite_array(D, name, ndim=(0, 1)))
    if np.any(D <= 0):
        raise ValueError(f"{name} must be > 0 (target distortions); got {D[D <= 0][:3].tolist()}")
    return D


def shannon_lower_bound(samples, D, distortion: str = "squared", *, k_nn: int = 3, level: float = 0.95,
                        batches: int = 10, seed: int = 0) -> RDBound:
    r"""Shannon lower bound :math:`R(D) \ge \hat h(X) - \text{noise}(D)` in bits at each ``D``.

    See the module docstring for the forms. ``rate`` is :math:`\max(0, \cdot)` of the bound
    with the point estimate of :math:`h`; ``interval`` is the bound at the ends of
    :func:`kl_entropy`'s interval. An *estimate* of a lower bound with an asymptotic
    interval, not a finite-n guarantee (see the module docstring). Nothing is fitted
    (``n_fit = 0``).

    Parameters
    ----------
    samples : array (n, k)
        Draws of a continuous source.
    D : float or array (p,)
        Distortions > 0 (total over the ``k`` coordinates, in the units of ``distortion``).
    distortion : {"squared", "absolute"}
        :math:`\|x-\hat x\|_2^2` or :math:`\|x-\hat x\|_1`.
    """
    if distortion not in SLB_NOISE_BITS:
        raise ValueError(f"distortion must be one of {sorted(SLB_NOISE_BITS)} (a difference distortion with a "
                         f"known maximum-entropy noise); got {distortion!r}")
    D = _check_D(D)
    h = kl_entropy(samples, k_nn=k_nn, level=level, batches=batches, seed=seed)
    k = np.shape(as_samples(samples))[1]
    noise = SLB_NOISE_BITS[distortion](D, k)
    iv = np.maximum(np.stack([h.interval[0] - noise, h.interval[1] - noise], axis=1), 0.0)
    return RDBound("shannon", "lower", D, np.maximum(h.value - noise, 0.0), iv, level, np.full(D.shape, np.nan),
                   np.zeros(D.shape, bool), 0, h.n,
                   dict(entropy_bits=h.value, entropy_interval=h.interval, k_nn=k_nn, batches=batches, seed=seed,
                        guarantee="estimate of a lower bound; asymptotic interval"))


def _check_betas(betas) -> np.ndarray:
    b = np.atleast_1d(positive(betas, "betas"))
    if b.ndim != 1:
        raise ValueError(f"betas must be a number or a 1-D array of slopes; got shape {b.shape}")
    return b


@register_method("shannon", accepts=shannon_lower_bound)
def _shannon_method(x, distortion, *, betas=None, holdout=0.5, level=0.95, seed=0, progress=True,
                    distortions=None, **options) -> RDBound:
    """``estimate_rd(..., method="shannon", distortions=[...])``: needs target distortions (the
    bound has no slope); the entropy is estimated on all samples (nothing is fitted)."""
    if distortions is None:
        raise ValueError('method="shannon" needs distortions=[D1, D2, ...] (the bound is evaluated at given D)')
    return shannon_lower_bound(x, distortions, distortion, level=level, seed=seed, **options)
