"""Learned MSE quantisers of the toy at X or Y (Lloyd's algorithm) and the task error they
cause, measured on fresh samples with Wilson intervals: the paper's 1-bit story and beyond.

References
----------
.. [1] S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28(2):129-137, 1982.
.. [2] E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
   J. Am. Stat. Assoc. 22(158):209-212, 1927.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from .model import LAYERS, _layer, _points, h, sample, task_model


# --------------------------------------------------------------------------------------
# quantisers
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LloydQuantizer:
    """A nearest-codeword (MSE) quantiser with ``2**bits`` codewords learned by Lloyd's algorithm.

    ``codebook`` (K, 2); ``train_mse`` is the mean squared l2 error per sample on the
    training points (sum over the two coordinates, footnote 6).
    """

    codebook: np.ndarray
    bits: int
    train_mse: float

    def encode(self, points) -> np.ndarray:
        """Index of the nearest codeword (squared l2), (n, 2) -> (n,) ints in [0, K)."""
        p = _points(points, "points")
        d2 = ((p[:, None, :] - self.codebook[None, :, :]) ** 2).sum(axis=2)
        return d2.argmin(axis=1)

    def decode(self, index) -> np.ndarray:
        return self.codebook[np.asarray(index)]

    def __call__(self, points) -> np.ndarray:
        return self.decode(self.encode(points))


def lloyd_quantizer(points, bits: int, *, seed: int = 0, n_init: int = 10, max_iter: int = 300) -> LloydQuantizer:
    """Fit the MSE-optimal ``bits``-bit fixed-rate quantiser to ``points`` (k-means, K = 2**bits).

    scikit-learn's Lloyd k-means with k-means++ seeding and ``n_init`` restarts (the best
    is kept), seeded by ``seed``. Codewords are sorted by (u, v) so the output does not
    depend on the random cluster order.

    >>> q = lloyd_quantizer(sample(2000, seed=0).x, 1)
    >>> np.round(q.codebook).tolist()   # the paper's (2.5, 2), (7.5, 2), learned
    [[3.0, 2.0], [8.0, 2.0]]
    """
    from sklearn.cluster import KMeans

    p = _points(points, "points")
    if int(bits) != bits or not 0 < bits <= 12:
        raise ValueError(f"bits must be an integer in 1..12; got {bits}")
    k = 2 ** int(bits)
    if p.shape[0] < k:
        raise ValueError(f"points has {p.shape[0]} rows, fewer than the {k} codewords of a {bits}-bit quantiser")
    km = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=seed, algorithm="lloyd").fit(p)
    cb = km.cluster_centers_[np.lexsort((km.cluster_centers_[:, 1], km.cluster_centers_[:, 0]))]
    return LloydQuantizer(codebook=cb, bits=int(bits), train_mse=float(km.inertia_ / p.shape[0]))


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    r"""Wilson score interval for a binomial proportion: ``k`` failures out of ``n`` trials.

    .. math:: \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n},
              \quad z = \Phi^{-1}(1/2 + \text{confidence}/2),

    with the exact end points 0 when k = 0 and 1 when k = n. Returns ``(low, high)``.

    Examples
    --------
    >>> [round(b, 6) for b in wilson(0, 20_000)]
    [0.0, 0.000192]
    """
    if int(n) != n or n < 1 or int(k) != k or not 0 <= k <= n:
        raise ValueError(f"need integers 0 <= k <= n, n >= 1; got k={k!r}, n={n!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    phat = k / n
    den = 1 + z * z / n
    mid = (phat + z * z / (2 * n)) / den
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / den
    lo = 0.0 if k == 0 else max(0.0, mid - half)  # exact end points when no / all trials fail
    hi = 1.0 if k == n else min(1.0, mid + half)
    return lo, hi


@dataclasses.dataclass(frozen=True)
class QuantizedTaskResult:
    """Task error of the toy's task model on quantised features at one layer.

    ``task_error`` is the fraction of fresh test samples whose quantised feature is
    classified wrongly (at X by f = h∘g on x̂, at Y by h on ŷ), with a 95% Wilson interval
    ``task_error_ci``; ``test_mse`` the MSE (sum over coordinates); ``rate_fixed`` = bits
    and ``rate_entropy`` the entropy of the codeword index (bits/sample) on the test set;
    ``codeword_labels`` the back-end's label of each codeword.
    """

    layer: str
    bits: int
    quantizer: LloydQuantizer
    task_error: float
    task_error_ci: tuple[float, float]
    test_mse: float
    rate_fixed: float
    rate_entropy: float
    codeword_labels: np.ndarray
    n_test: int


def quantized_task_error(layer: str, bits: int, *, n_train: int = 5000, n_test: int = 5000, seed: int = 0,
                         n_init: int = 10) -> QuantizedTaskResult:
    """Learn a ``bits``-bit MSE quantiser at ``layer`` and measure the task error on fresh data.

    Training uses ``sample(n_train, seed=seed)`` (per class) and testing
    ``sample(n_test, seed=seed + 1)``; the back-end is the paper's f = h∘g at X and h at Y.

    >>> r = quantized_task_error("y", 1, n_train=500, n_test=500)
    >>> r.task_error
    0.0
    """
    key = _layer(layer)
    train, test = sample(n_train, seed=seed), sample(n_test, seed=seed + 1)
    q = lloyd_quantizer(train.layer(key), bits, seed=seed, n_init=n_init)
    backend = task_model if key == "x" else h
    cw_labels = backend(q.codebook)
    feats = test.layer(key)
    idx = q.encode(feats)
    wrong = int(np.count_nonzero(cw_labels[idx] != test.labels))
    n = test.labels.shape[0]
    freq = np.bincount(idx, minlength=q.codebook.shape[0]) / n
    nz = freq[freq > 0]
    return QuantizedTaskResult(
        layer=key, bits=int(bits), quantizer=q, task_error=wrong / n, task_error_ci=wilson(wrong, n),
        test_mse=float(((feats - q.codebook[idx]) ** 2).sum(axis=1).mean()), rate_fixed=float(bits),
        rate_entropy=float(-(nz * np.log2(nz)).sum()), codeword_labels=cw_labels, n_test=n)


def task_error_vs_rate(bits: Sequence[int] = (1, 2, 3, 4, 5, 6), *, n_train: int = 5000, n_test: int = 5000,
                       seed: int = 0, n_init: int = 10) -> list[QuantizedTaskResult]:
    """:func:`quantized_task_error` at X and at Y for each number of bits (X first, then Y)."""
    return [quantized_task_error(layer, b, n_train=n_train, n_test=n_test, seed=seed, n_init=n_init)
            for layer in LAYERS for b in bits]
