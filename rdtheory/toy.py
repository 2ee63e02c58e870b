r"""The circles/squares toy example of Sec. III-B.1 (Fig. 2), exactly as in the paper.

The model
---------
Input :math:`X = (u, v)`, two equiprobable classes, u and v independent:

* "squares" (label :data:`SQUARE` = 0): :math:`u \sim U[0, 10]`, :math:`v \sim U[0.8, 1.2]`;
* "circles" (label :data:`CIRCLE` = 1): :math:`u \sim U[0, 10]`, :math:`v \sim U[2.8, 3.2]`.

The task model is :math:`f = h \circ g` with :math:`Y = g(X)`:

.. math::

    g(u, v) = \begin{cases}
      (2.5 + \operatorname{sgn}(u-5)\sqrt{|0.2^2 - (v-3)^2|},\ v), & v > 2,\\
      (7.5 + \operatorname{sgn}(u-5)\sqrt{|0.2^2 - (v-1)^2|},\ v), & v \le 2,
    \end{cases}
    \qquad
    h(u, v) = \text{circle if } v > 2 \text{ else square}.

So g folds each class onto a circle of radius 0.2: circles around (2.5, 3), squares around
(7.5, 1); the side (left/right half of the circle) is the sign of u − 5.

Analytic task-appropriateness (MSE = squared l2, footnote 6)
------------------------------------------------------------
*At X.* Class means :math:`\bar x^{sq} = (5, 1)`, :math:`\bar x^{ci} = (5, 3)`. The
intra-cluster distortion is the trace of the covariance,
:math:`D_X^{(i)} = \operatorname{Var} u + \operatorname{Var} v = 10^2/12 + 0.4^2/12 = 100.16/12 = 8.34\overline{6}`
for both classes, and :math:`D_X^{(sq,ci)} = (3 - 1)^2 = 4`. Hence (Eqs. 16–18)

.. math:: \rho_X = \frac{4}{\sqrt{8.34\overline{6}^2}} = \frac{48}{100.16} = 0.479233\ldots \approx 0.48.

*At Y.* For circles write :math:`w = v - 3 \sim U[-0.2, 0.2]` and :math:`s = \operatorname{sgn}(u-5) = \pm 1`
(equiprobable, independent of w). Then :math:`Y - (2.5, 3) = (s\sqrt{0.04 - w^2}, w)`, which
has mean 0 (E s = 0, E w = 0) and squared norm exactly :math:`0.04 - w^2 + w^2 = 0.04`. So
:math:`\bar y^{ci} = (2.5, 3)`, :math:`D_Y^{ci} = 0.04`; likewise :math:`\bar y^{sq} = (7.5, 1)`,
:math:`D_Y^{sq} = 0.04`, and :math:`D_Y^{(sq,ci)} = 5^2 + 2^2 = 29`:

.. math:: \rho_Y = \frac{29}{0.04} = 725.

Both classes have the same :math:`\rho^{(i)}`, matching the paper's
:math:`\rho_X = \rho_X^{sq} = \rho_X^{ci}` and :math:`\rho_Y = \rho_Y^{sq} = \rho_Y^{ci}`.

Optimal 1-bit MSE quantisers
----------------------------
At X, splitting u at 5 lowers the MSE by :math:`(10^2 - 5^2)/12 = 6.25`, splitting v between
the strips by only :math:`\operatorname{Var} v - 0.16/12 = 1`: the optimum is
:math:`\{u \le 5, u > 5\}` with codewords (2.5, 2), (7.5, 2), each bin holds half of each class
and :math:`f` maps both codewords to one label: 50% task error. At Y the two circles are 5.4
apart and 0.4 wide, so the optimal two cells are the two circles with codewords at their
centres and h decodes them correctly: 0% error. :func:`lloyd_quantizer` *learns* these with
k-means (Lloyd's algorithm), nothing is hard-coded; :func:`quantized_task_error` measures the
error on a fresh sample and :func:`rate_task_distortion` goes beyond 1 bit with the R(D)
engine on a discretised version of the model.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from .appropriateness import (RhoInterval, TaskAppropriateness, bootstrap_rho, rho_from_moments,
                              task_appropriateness)

__all__ = [
    "SQUARE", "CIRCLE", "CLASS_NAMES", "ToySample", "sample", "g", "h", "task_model",
    "rho_analytic", "rho_sampled", "SampledRho", "LloydQuantizer", "lloyd_quantizer",
    "QuantizedTaskResult", "quantized_task_error", "task_error_vs_rate", "ToyGrid", "discretize",
    "RateTaskCurve", "rate_task_distortion", "rate_for_task_error", "plot_fig2", "plot_rate_task",
]

SQUARE, CIRCLE = 0, 1
CLASS_NAMES = ("square", "circle")
U_RANGE = (0.0, 10.0)
V_RANGE = {SQUARE: (0.8, 1.2), CIRCLE: (2.8, 3.2)}
RADIUS = 0.2
CENTRE_Y = {CIRCLE: (2.5, 3.0), SQUARE: (7.5, 1.0)}
LAYERS = ("x", "y")


def _layer(layer: str) -> str:
    key = str(layer).lower()
    if key not in LAYERS:
        raise ValueError(f"layer must be 'x' (the input) or 'y' (the intermediate layer g(x)); got {layer!r}")
    return key


def _points(p, name: str) -> np.ndarray:
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2) (columns u, v); got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN/inf")
    return arr


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ToySample:
    """Samples of the toy model: ``x`` (n, 2) inputs (u, v), ``labels`` (n,) 0 = square,
    1 = circle, and ``y = g(x)`` (n, 2)."""

    x: np.ndarray
    labels: np.ndarray
    y: np.ndarray

    def layer(self, layer: str) -> np.ndarray:
        return self.x if _layer(layer) == "x" else self.y


def sample(n_per_class: int, *, seed: int = 0) -> ToySample:
    """Draw ``n_per_class`` squares and ``n_per_class`` circles (balanced, shuffled; seeded).

    Example
    -------
    >>> s = sample(3, seed=0)
    >>> s.x.shape, sorted(s.labels.tolist())
    ((6, 2), [0, 0, 0, 1, 1, 1])
    """
    if int(n_per_class) != n_per_class or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer; got {n_per_class}")
    n = int(n_per_class)
    rng = np.random.default_rng(seed)
    labels = np.repeat([SQUARE, CIRCLE], n)
    u = rng.uniform(*U_RANGE, 2 * n)
    v = np.r_[rng.uniform(*V_RANGE[SQUARE], n), rng.uniform(*V_RANGE[CIRCLE], n)]
    perm = rng.permutation(2 * n)
    x = np.c_[u, v][perm]
    return ToySample(x=x, labels=labels[perm], y=g(x))


def g(x) -> np.ndarray:
    r"""The front-end :math:`g` of Sec. III-B.1: (n, 2) inputs -> (n, 2) intermediate features.

    ``np.sign`` gives sgn(0) = 0, as in the paper's formula (a measure-zero event).

    >>> g([[7.0, 3.0], [1.0, 1.0]]).tolist()
    [[2.7, 3.0], [7.3, 1.0]]
    """
    x = _points(x, "x")
    u, v = x[:, 0], x[:, 1]
    s = np.sign(u - 5.0)
    upper = v > 2.0
    centre_u = np.where(upper, CENTRE_Y[CIRCLE][0], CENTRE_Y[SQUARE][0])
    centre_v = np.where(upper, CENTRE_Y[CIRCLE][1], CENTRE_Y[SQUARE][1])
    return np.c_[centre_u + s * np.sqrt(np.abs(RADIUS ** 2 - (v - centre_v) ** 2)), v]


def h(y) -> np.ndarray:
    """The back-end :math:`h`: circle (1) if v > 2 else square (0). (n, 2) -> (n,) ints."""
    return (_points(y, "y")[:, 1] > 2.0).astype(np.int64)


def task_model(x) -> np.ndarray:
    """:math:`f = h \\circ g` on inputs (n, 2) -> (n,) labels (0 square, 1 circle)."""
    return h(g(x))


# --------------------------------------------------------------------------------------
# task-appropriateness
# --------------------------------------------------------------------------------------
def rho_analytic(layer: str) -> TaskAppropriateness:
    r"""Exact MSE task-appropriateness of the toy at ``layer`` ("x" or "y"), see module doc.

    Classes in order (square, circle); priors 1/2 each; normalisation "sum" (footnote 6).

    >>> round(rho_analytic("x").rho, 6), round(rho_analytic("y").rho, 9)
    (0.479233, 725.0)
    """
    if _layer(layer) == "x":
        var_u = (U_RANGE[1] - U_RANGE[0]) ** 2 / 12
        intra = [var_u + (V_RANGE[c][1] - V_RANGE[c][0]) ** 2 / 12 for c in (SQUARE, CIRCLE)]
        cents = [[sum(U_RANGE) / 2, sum(V_RANGE[c]) / 2] for c in (SQUARE, CIRCLE)]
    else:
        intra = [RADIUS ** 2, RADIUS ** 2]  # every point of Y lies on the circle of radius 0.2
        cents = [list(CENTRE_Y[SQUARE]), list(CENTRE_Y[CIRCLE])]
    return rho_from_moments(cents, intra, [0.5, 0.5], classes=np.array(CLASS_NAMES))


@dataclasses.dataclass(frozen=True)
class SampledRho:
    """Plug-in rho at one layer from ``n_per_class`` samples per class, with its interval."""

    layer: str
    n_per_class: int
    record: TaskAppropriateness
    interval: RhoInterval
    analytic: float

    @property
    def covers_analytic(self) -> bool:
        return self.interval.contains(self.analytic)


def rho_sampled(layer: str, n_per_class: int = 10_000, *, seed: int = 0, n_boot: int = 1000,
                confidence: float = 0.95) -> SampledRho:
    """Sampled rho at ``layer`` with a stratified percentile-bootstrap interval (seeded).

    >>> r = rho_sampled("y", 2000, seed=1, n_boot=200)
    >>> r.covers_analytic
    True
    """
    key = _layer(layer)
    s = sample(n_per_class, seed=seed)
    feats = s.layer(key)
    rec = task_appropriateness(feats, s.labels)
    ci = bootstrap_rho(feats, s.labels, n_boot=n_boot, confidence=confidence, seed=seed + 1)
    return SampledRho(layer=key, n_per_class=int(n_per_class), record=rec, interval=ci,
                      analytic=rho_analytic(key).rho)


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


def _wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    phat = k / n
    den = 1 + z * z / n
    mid = (phat + z * z / (2 * n)) / den
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


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
        layer=key, bits=int(bits), quantizer=q, task_error=wrong / n, task_error_ci=_wilson(wrong, n),
        test_mse=float(((feats - q.codebook[idx]) ** 2).sum(axis=1).mean()), rate_fixed=float(bits),
        rate_entropy=float(-(nz * np.log2(nz)).sum()), codeword_labels=cw_labels, n_test=n)


def task_error_vs_rate(bits: Sequence[int] = (1, 2, 3, 4, 5, 6), *, n_train: int = 5000, n_test: int = 5000,
                       seed: int = 0, n_init: int = 10) -> list[QuantizedTaskResult]:
    """:func:`quantized_task_error` at X and at Y for each number of bits (X first, then Y)."""
    return [quantized_task_error(layer, b, n_train=n_train, n_test=n_test, seed=seed, n_init=n_init)
            for layer in LAYERS for b in bits]
