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
engine on a discretised version of the model. The figures are drawn by
:func:`rdtheory.plotting.plot_fig2` and :func:`rdtheory.plotting.plot_rate_task`.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-B.1, Fig. 2).
.. [2] S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28(2):129-137,
   1982 (the 1-bit quantisers).
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
    "QuantizedTaskResult", "quantized_task_error", "wilson", "task_error_vs_rate", "ToyGrid", "discretize",
    "RateTaskCurve", "rate_task_distortion", "rate_for_task_error", "supervised_rate",
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


# --------------------------------------------------------------------------------------
# rate-task-distortion on a discretised toy (through the R(D) engine)
# --------------------------------------------------------------------------------------
def _grid_axis(lo: float, hi: float, step: float) -> np.ndarray:
    k = int(round((hi - lo) / step))
    return np.round(lo + step * np.arange(k + 1), 10)  # round so that v = 2.0 is exactly 2.0


@dataclasses.dataclass(frozen=True)
class ToyGrid:
    r"""A discretised toy: finite sources at X and at Y = g(X) and reproduction alphabets.

    ``x`` (n, 2): the midpoints of an ``n_u`` x ``n_v`` grid of equal-probability cells over
    each class's rectangle (u cells of width 10/n_u, v cells of width 0.4/n_v), so
    n = 2 n_u n_v points with ``p_x`` uniform (class priors 1/2). ``y`` (k, 2): the distinct
    points of g(x) with the pushed-forward probabilities ``p_y`` (g keeps only sgn(u − 5)
    and v, so k = 4 n_v). ``x_hat``/``y_hat``: reproduction points, a rectangular grid over
    the bounding box of each layer *including the empty band between the classes* (steps
    ``du_x``/``du_y`` in u, ``dv`` in v; v = 2 is on it) united with the source points so
    that zero distortion is reachable. ``labels_*`` are the task labels (0 square, 1 circle).
    """

    x: np.ndarray
    p_x: np.ndarray
    labels_x: np.ndarray
    x_hat: np.ndarray
    y: np.ndarray
    p_y: np.ndarray
    labels_y: np.ndarray
    y_hat: np.ndarray
    n_u: int
    n_v: int
    du_x: float
    du_y: float
    dv: float

    def layer(self, layer: str):
        """(points, p, labels, reproductions, back-end) of the source at ``layer``."""
        if _layer(layer) == "x":
            return self.x, self.p_x, self.labels_x, self.x_hat, task_model
        return self.y, self.p_y, self.labels_y, self.y_hat, h

    @property
    def description(self) -> str:
        return (f"X: {self.n_u} x {self.n_v} cell midpoints per class ({self.x.shape[0]} points, uniform); "
                f"Y = g(X): {self.y.shape[0]} points; reproductions: X-hat {self.x_hat.shape[0]} points "
                f"(du={self.du_x}, dv={self.dv}), Y-hat {self.y_hat.shape[0]} points (du={self.du_y}, dv={self.dv})")


def discretize(n_u: int = 20, n_v: int = 4, *, du_x: float = 0.5, du_y: float = 0.2, dv: float = 0.1) -> ToyGrid:
    """Discretise the toy (see :class:`ToyGrid`; defaults: 160 source points at X, 16 at Y).

    >>> grid = discretize()
    >>> grid.x.shape, grid.y.shape, round(float(grid.p_y.sum()), 12)
    ((160, 2), (16, 2), 1.0)
    """
    for name, val in (("n_u", n_u), ("n_v", n_v)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer; got {val}")
    for name, val in (("du_x", du_x), ("du_y", du_y), ("dv", dv)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{name} must be a positive grid step; got {val}")
    u = U_RANGE[0] + (np.arange(n_u) + 0.5) * (U_RANGE[1] - U_RANGE[0]) / n_u
    rows, labels = [], []
    for c in (SQUARE, CIRCLE):
        lo, hi = V_RANGE[c]
        v = lo + (np.arange(n_v) + 0.5) * (hi - lo) / n_v
        rows.append(np.array([(a, b) for a in u for b in v]))
        labels.append(np.full(n_u * n_v, c))
    x, labels_x = np.round(np.concatenate(rows), 12), np.concatenate(labels)
    p_x = np.full(x.shape[0], 1.0 / x.shape[0])
    yy = g(x)
    y, inv = np.unique(np.round(yy, 12), axis=0, return_inverse=True)
    p_y = np.bincount(inv.ravel(), weights=p_x, minlength=y.shape[0])
    v_axis = _grid_axis(V_RANGE[SQUARE][0], V_RANGE[CIRCLE][1], dv)
    box_x = np.array([(a, b) for a in _grid_axis(*U_RANGE, du_x) for b in v_axis])
    lo_u, hi_u = CENTRE_Y[CIRCLE][0] - RADIUS, CENTRE_Y[SQUARE][0] + RADIUS
    box_y = np.array([(a, b) for a in _grid_axis(lo_u, hi_u, du_y) for b in v_axis])
    x_hat = np.unique(np.round(np.r_[box_x, x], 12), axis=0)
    y_hat = np.unique(np.round(np.r_[box_y, y], 12), axis=0)
    return ToyGrid(x=x, p_x=p_x, labels_x=labels_x, x_hat=x_hat, y=y, p_y=p_y, labels_y=h(y), y_hat=y_hat,
                   n_u=int(n_u), n_v=int(n_v), du_x=float(du_x), du_y=float(du_y), dv=float(dv))


@dataclasses.dataclass(frozen=True)
class RateTaskCurve:
    r"""Rate vs task error along an R(D) curve computed by :mod:`rdtheory.discrete`.

    ``layer`` "x" / "y": the R(D)-optimal codes for *MSE at that layer* (squared l2, sum
    over coordinates), and the task error they cause, :math:`\Pr[f(X) \ne \hat f(\hat Z)]`
    (:math:`\hat f = h\circ g` on x̂, h on ŷ), averaged over the optimal test channel.
    ``layer`` "task": the supervised bound, R(D) of the task-induced distortion
    :math:`d(x,\hat x) = 1[f(x) \ne f(\hat x)]`, where ``task_error`` is the distortion
    itself (closed form :math:`1 - h_2(D_T)` bits for D_T <= 1/2) and ``mse`` is NaN.
    ``rate`` (bits) is BA's upper value and ``rate_lower`` its certified lower bound.
    """

    layer: str
    beta: np.ndarray
    rate: np.ndarray
    rate_lower: np.ndarray
    mse: np.ndarray
    task_error: np.ndarray
    grid: str


def _solve_slopes(p, d, wrong, betas, tol, newton_size):
    r"""(rate, lower, mse, task error) at each slope (in the order of ``betas``): the engine's
    warm-started slope sweep :func:`~rdtheory.discrete.rd_curve`, whose conditionals q give
    the task error :math:`\sum_{x,\hat x} p(x) q(\hat x|x) 1[\text{wrong}]` exactly."""
    from .discrete import rd_curve

    curve = rd_curve(p, d, betas, tol=tol, newton_size=newton_size, keep_q=True)
    err = np.einsum("n,bnm,nm->b", p, curve.q, wrong)
    vals = np.empty((4, betas.shape[0]))
    vals[:, np.argsort(betas, kind="stable")] = np.stack([curve.rate, curve.lower, curve.distortion, err])
    return vals


def rate_task_distortion(grid: ToyGrid | None = None, *, num: int = 16, refine: int = 3,
                         tol: float = 1e-5, newton_size: int = 64) -> dict[str, RateTaskCurve]:
    """Rate–task-distortion of each layer of the discretised toy (see :class:`RateTaskCurve`).

    For X and for Y, solves the MSE R(D) problem with ``rdtheory.discrete.rd_curve`` at
    ``num`` slopes (``default_betas``), then adds ``refine`` geometrically spaced slopes
    inside every interval where the task error moves by more than 0.02 (so the transition
    is resolved without wasting solves on the flat ends).
    Each solution's test channel q(ẑ|z) gives the task error exactly (a finite sum). Adds
    the supervised curve (``rd_curve`` of the task-induced distortion, ``num`` points).
    Rates in bits with certified lower bounds; ``tol`` is the target certified gap (bits;
    1e-5 is far below anything visible in a task-error plot and keeps the accelerated
    solver's Newton phase short; ``newton_size`` is passed to the solver).
    Returns ``{"x": ..., "y": ..., "task": ...}``, each sorted by rate.
    """
    from .discrete import default_betas, hamming, rd_curve, task_induced

    if int(num) != num or num < 2:
        raise ValueError(f"num must be an integer >= 2 (points per curve); got {num}")
    if int(refine) != refine or refine < 0:
        raise ValueError(f"refine must be a non-negative integer; got {refine}")
    grid = discretize() if grid is None else grid
    out: dict[str, RateTaskCurve] = {}
    for key in LAYERS:
        pts, p, labels, rep, backend = grid.layer(key)
        d = ((pts[:, None, :] - rep[None, :, :]) ** 2).sum(axis=2)
        wrong = (labels[:, None] != backend(rep)[None, :]).astype(np.float64)
        betas = np.asarray(default_betas(p, d, int(num)), dtype=np.float64)
        vals = _solve_slopes(p, d, wrong, betas, tol, newton_size)
        if refine:
            jump = np.abs(np.diff(vals[3])) > 0.02
            extra = [np.geomspace(betas[i], betas[i + 1], int(refine) + 2)[1:-1] for i in np.flatnonzero(jump)]
            if extra:
                extra = np.concatenate(extra)
                betas = np.r_[betas, extra]
                vals = np.concatenate([vals, _solve_slopes(p, d, wrong, extra, tol, newton_size)], axis=1)
        order = np.lexsort((-betas, vals[0]))
        out[key] = RateTaskCurve(layer=key, beta=betas[order], rate=vals[0, order], rate_lower=vals[1, order],
                                 mse=vals[2, order], task_error=vals[3, order], grid=grid.description)
    d_task = task_induced(grid.labels_x.astype(np.int64), hamming(2))
    sup = rd_curve(grid.p_x, d_task, num=int(num), tol=tol, newton_size=newton_size)
    order = np.argsort(np.asarray(sup.rate), kind="stable")
    out["task"] = RateTaskCurve(layer="task", beta=np.asarray(sup.beta)[order], rate=np.asarray(sup.rate)[order],
                                rate_lower=np.asarray(sup.lower)[order], mse=np.full(order.shape[0], np.nan),
                                task_error=np.asarray(sup.distortion)[order], grid=grid.description)
    return out


def supervised_rate(target: float, grid: ToyGrid | None = None, *, tol: float = 1e-6):
    r"""Certified supervised rate :math:`R(D_T)` of the task-induced distortion at task error ``target``.

    ``rdtheory.discrete.rate_at_distortion`` on :math:`d(x,\hat x) = 1[f(x) \ne f(\hat x)]`
    over the grid's X; returns its ``RDPoint`` (``lower <= R <= rate``, bits). For this
    balanced binary task the closed form is :math:`1 - h_2(D_T)` for :math:`D_T \le 1/2`.
    """
    from .discrete import hamming, rate_at_distortion, task_induced

    if not (np.isfinite(target) and 0 <= target):
        raise ValueError(f"target must be a task error in [0, 1]; got {target}")
    grid = discretize() if grid is None else grid
    d_task = task_induced(grid.labels_x.astype(np.int64), hamming(2))
    return rate_at_distortion(grid.p_x, d_task, float(target), tol=tol)


def rate_for_task_error(curve: RateTaskCurve, target: float) -> float:
    """Smallest rate (bits) on ``curve`` whose task error is <= ``target`` (inf if none).

    For the supervised ("task") curve this is R_T(target) up to the curve's sampling; for
    the MSE curves it is the rate an MSE-optimised code at that layer needs for that error.
    """
    ok = np.asarray(curve.task_error) <= target
    return float(np.min(np.asarray(curve.rate)[ok])) if np.any(ok) else float("inf")
