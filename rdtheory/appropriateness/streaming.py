r"""Task-appropriateness :math:`\rho` of a distortion measure (Sec. III-A, Eqs. 12–18).

A classifier :math:`f` partitions the inputs into clusters
:math:`\mathcal{X}_T^{(i)} = \{x : f(x) = i\}` (Eq. 12). For a distortion :math:`d` the
paper defines, per cluster, the expected distortion to a point :math:`\bar x` (Eq. 13)

.. math:: d^{(i)}(\bar x) = \mathbb{E}[d(X, \bar x) \mid X \in \mathcal{X}_T^{(i)}],

the centroid :math:`\bar x^{(i)} = \arg\min d^{(i)}(\bar x)` and the *intra-cluster
distortion* :math:`D^{(i)} = d^{(i)}(\bar x^{(i)})` (Eq. 14), the *inter-cluster
distortion* :math:`D^{(i,j)} = d(\bar x^{(i)}, \bar x^{(j)})` (Eq. 15), and the
silhouette-like scores

.. math::

    \rho^{(i,j)} = \frac{D^{(i,j)}}{\sqrt{D^{(i)} D^{(j)}}} \quad (16), \qquad
    \rho^{(i)} = \min_{j \ne i} \rho^{(i,j)} \quad (17), \qquad
    \rho = \sum_i \Pr(X \in \mathcal{X}_T^{(i)})\, \rho^{(i)} \quad (18).

(Eq. 17 in the paper writes the min over all j; the j = i term is 0/D^{(i)} = 0, so j ≠ i is
meant. Eq. 18 sums over i, the paper's "j" index there is a typo.) :math:`\rho` is
dimensionless; higher means the distortion separates the task's classes better. It is the
same function at any layer: pass the features of X for :math:`\rho_X`, of Y for
:math:`\rho_Y` (Eq. 19), and Eq. 20 conjectures :math:`\rho_X \le \rho_{Y_1} \le \rho_{Y_2}`.

Distortions and centroids supported
-----------------------------------
``distortion="mse"`` (default): :math:`d(x,\hat x) = \|x - \hat x\|_2^2` (footnote 6, the
*sum* over coordinates; ``normalization="mean"`` divides by the number of coordinates F).
The optimal centroid is the class mean and :math:`D^{(i)} = \operatorname{tr}\operatorname{Cov}(X \mid i)`.
Because D^{(i)} and D^{(i,j)} both scale by 1/F, :math:`\rho` does not depend on the
normalisation (tested), nor on a common rescaling of the features.

``distortion="absolute"``: :math:`d = \|x - \hat x\|_1`; the optimal centroid is the
per-coordinate median (``np.median``; any median is optimal, so D^{(i)} is unique even when
the centroid is not).

``centroid="member"``: the literal Eq. 14, :math:`\bar x^{(i)}` restricted to members of
the cluster (a medoid). For MSE it is the member closest to the class mean, since
:math:`\mathbb{E}\|X - c\|^2 = \operatorname{tr}\Sigma + \|\mu - c\|^2`; for absolute error
it is the exact :math:`\ell_1` medoid (O(n_i^2 F) time, chunked memory).

Estimation from samples and memory
----------------------------------
Expectations are replaced by sample means (plug-in, as in Sec. III-B.2): p(x | i) is the
empirical distribution of the class, priors are class frequencies unless ``priors=`` is
given. The plug-in D^{(i,j)} is biased up by about tr Σ_i/n_i + tr Σ_j/n_j and D^{(i)} down
by a factor (n_i - 1)/n_i; :func:`bootstrap_rho` reports the sampling uncertainty.

For MSE the estimate depends on the data only through the per-class sufficient statistics
(count n_i, mean μ_i, and the scalar M2_i = Σ‖x − μ_i‖²): :class:`TaskAppropriatenessAccumulator`
streams batches (numpy, JAX or torch tensors, any per-sample shape) in
O(C·F) memory, independent of the number of samples, merging batches with the stable
Chan–Golub–LeVeque update (no Gram matrix, no Σx² cancellation). The median and the
member-restricted centroids depend on every sample and cannot be streamed with O(1)
statistics; the accumulator refuses them with a ValueError that says so. The
member-restricted MSE centroid is exact with a second pass over the same data
(:meth:`TaskAppropriatenessAccumulator.member_result`, still O(C·F) memory).

Example
-------
>>> import numpy as np
>>> x = np.array([[0., 0.], [0., 2.], [4., 0.], [4., 2.]])
>>> r = task_appropriateness(x, [0, 0, 1, 1])
>>> r.intra            # D^(i): variance 1 in the second coordinate
array([1., 1.])
>>> float(r.rho)       # D^(0,1) = 4**2 = 16, rho = 16 / sqrt(1 * 1)
16.0
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from ._validation import probability_vector

__all__ = [
    "TaskAppropriateness",
    "RhoInterval",
    "task_appropriateness",
    "rho_from_moments",
    "bootstrap_rho",
    "TaskAppropriatenessAccumulator",
]

DISTORTIONS = ("mse", "absolute")
CENTROIDS = ("optimal", "member")
NORMALIZATIONS = ("sum", "mean")

#: Elements of the (candidates x members x features) block used for the l1 medoid.
_MEDOID_BLOCK = 4_000_000


# --------------------------------------------------------------------------------------
# result records
# --------------------------------------------------------------------------------------
def _frozen(a, dtype=None) -> np.ndarray:
    arr = np.array(a, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


@dataclasses.dataclass(frozen=True)
class TaskAppropriateness:
    r"""Task-appropriateness of a distortion at one layer (Eqs. 13–18).

    Classes are ordered as ``classes`` (sorted unique labels); every per-class array
    follows that order. C classes, F features per sample (after flattening).

    Attributes
    ----------
    rho : float
        :math:`\rho` (Eq. 18), dimensionless.
    rho_i : (C,) array
        :math:`\rho^{(i)} = \min_{j\ne i}\rho^{(i,j)}` (Eq. 17).
    rho_ij : (C, C) array
        :math:`\rho^{(i,j)}` (Eq. 16); the diagonal is NaN (undefined: j ≠ i).
    nearest : (C,) int array
        The j attaining the min in Eq. 17 (the most confusable class for class i).
    intra : (C,) array
        :math:`D^{(i)}` (Eq. 14), in the distortion's units (squared feature units for MSE).
    inter : (C, C) array
        :math:`D^{(i,j)}` (Eq. 15), same units; zero diagonal.
    centroids : (C, F) array
        :math:`\bar x^{(i)}`.
    priors : (C,) array
        :math:`\Pr(X \in \mathcal{X}_T^{(i)})` used in Eq. 18.
    counts : (C,) int array
        Samples per class (0 for analytic records built by :func:`rho_from_moments`).
    classes : (C,) array
        The label values.
    distortion, centroid, normalization : str
        How D was computed (``"mse"``/``"absolute"``, ``"optimal"``/``"member"``,
        ``"sum"``/``"mean"`` over coordinates).
    """

    rho: float
    rho_i: np.ndarray
    rho_ij: np.ndarray
    nearest: np.ndarray
    intra: np.ndarray
    inter: np.ndarray
    centroids: np.ndarray
    priors: np.ndarray
    counts: np.ndarray
    classes: np.ndarray
    distortion: str
    centroid: str
    normalization: str

    @property
    def n_classes(self) -> int:
        return int(self.intra.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.centroids.shape[1])


@dataclasses.dataclass(frozen=True)
class RhoInterval:
    r"""A confidence interval for :math:`\rho` from finite samples.

    Attributes
    ----------
    estimate : float
        The plug-in :math:`\hat\rho` on all the data.
    low, high : float
        Interval end points at level ``confidence``.
    confidence : float
        Nominal coverage, e.g. 0.95.
    standard_error : float
        Bootstrap (or jackknife) standard error of :math:`\hat\rho`.
    method : str
        ``"percentile bootstrap (stratified)"``, ``"percentile bootstrap"`` or
        ``"grouped jackknife (t)"``.
    replicates : array
        The bootstrap replicates / leave-one-group-out estimates.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    standard_error: float
    method: str
    replicates: np.ndarray

    def contains(self, value: float) -> bool:
        return bool(self.low <= value <= self.high)


# --------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------
def _to_numpy(x, name: str) -> np.ndarray:
    """numpy / JAX / torch (duck-typed: ``.detach().cpu().numpy()``) -> numpy, no torch import."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach().cpu()
        try:
            return np.asarray(x.numpy())
        except TypeError:  # e.g. bfloat16 has no numpy dtype
            return np.asarray(x.float().numpy())
    try:
        return np.asarray(x)
    except Exception as err:  # noqa: BLE001 - reported with the argument name
        raise ValueError(f"{name} must be array-like (numpy, JAX or torch); got {type(x).__name__}: {err}") from None


def _check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def _features_2d(features, name: str = "features") -> np.ndarray:
    arr = _to_numpy(features, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have one row per sample, shape (n_samples, ...); got a scalar")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no samples; pass at least two samples per class")
    try:
        arr = arr.astype(np.float64, copy=False).reshape(arr.shape[0], -1)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype} ({err})") from None
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has zero features per sample (shape {arr.shape}); pass non-empty samples")
    finite = np.isfinite(arr)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        raise ValueError(f"{name} contains NaN/inf in {bad_rows.size} sample(s) (first rows {bad_rows[:5].tolist()}); "
                         f"drop or impute those samples first")
    return arr


def _labels_1d(labels, n: int, name: str = "labels") -> np.ndarray:
    lab = _to_numpy(labels, name)
    if lab.ndim == 2 and 1 in lab.shape:
        lab = lab.reshape(-1)
    if lab.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, one per sample; got shape {lab.shape}. "
                         f"For one-hot labels pass labels.argmax(axis=1)")
    if lab.shape[0] != n:
        raise ValueError(f"{name} has {lab.shape[0]} entries but features has {n} samples; "
                         f"pass exactly one label per sample (features.shape[0] == len(labels))")
    if lab.dtype.kind == "f" and not np.all(np.isfinite(lab)):
        raise ValueError(f"{name} contains NaN/inf; every sample needs a class label")
    if lab.dtype.kind == "O":
        try:
            lab = lab.astype(str)
        except Exception:  # noqa: BLE001
            raise ValueError(f"{name} must be integers or strings; got objects of mixed type") from None
    return lab


def _label_kind(kind: str) -> str:
    return "number" if kind in "biuf" else "text"


def _check_counts(classes: np.ndarray, counts: np.ndarray, where: str = "labels") -> None:
    if classes.shape[0] < 2:
        found = classes.tolist()
        raise ValueError(f"{where} contain {classes.shape[0]} class(es) {found}; rho compares clusters, so at "
                         f"least two classes are needed")
    small = counts < 2
    if np.any(small):
        bad = {classes[k].item() if hasattr(classes[k], 'item') else classes[k]: int(counts[k])
               for k in np.flatnonzero(small)}
        raise ValueError(f"class(es) with fewer than two samples {bad}: the intra-cluster distortion D^(i) "
                         f"(Eq. 14) of a single point is 0 and rho would be infinite; add samples or drop "
                         f"those classes")


def _priors(priors, counts: np.ndarray) -> np.ndarray:
    if priors is None:
        return counts / counts.sum()
    pr = probability_vector(_to_numpy(priors, "priors"), "priors")
    if pr.shape != counts.shape:
        raise ValueError(f"priors has shape {pr.shape} but there are {counts.shape[0]} classes; pass one prior "
                         f"per class in the order of the sorted unique labels")
    return pr


# --------------------------------------------------------------------------------------
# the formula (Eqs. 15-18) from per-class moments
# --------------------------------------------------------------------------------------
def _pairwise(centroids: np.ndarray, distortion: str) -> np.ndarray:
    c = centroids.shape[0]
    out = np.zeros((c, c))
    for i in range(c):  # row at a time: O(C F) memory even for C = 100, F = 32768
        diff = centroids - centroids[i]
        out[i] = np.einsum("jf,jf->j", diff, diff) if distortion == "mse" else np.abs(diff).sum(axis=1)
    return out


def rho_from_moments(centroids, intra, priors, *, classes=None, counts=None, distortion: str = "mse",
                     centroid: str = "optimal", normalization: str = "sum") -> TaskAppropriateness:
    r"""Assemble :math:`\rho` (Eqs. 15–18) from centroids and intra-cluster distortions.

    Use this for analytic values (e.g. :func:`rdtheory.toy.rho_analytic`) or statistics
    computed elsewhere. ``intra`` must already be in the units of ``normalization``
    ("sum" over coordinates, or "mean"); D^{(i,j)} is computed from ``centroids`` with the
    same normalisation.

    Parameters
    ----------
    centroids : (C, F) array-like
        :math:`\bar x^{(i)}` (any trailing shape, flattened).
    intra : (C,) array-like
        :math:`D^{(i)} > 0`.
    priors : (C,) array-like
        Class probabilities (sum to 1).

    Example
    -------
    >>> round(rho_from_moments([[5., 1.], [5., 3.]], [100.16 / 12] * 2, [.5, .5]).rho, 6)  # toy rho_X
    0.479233
    """
    _check_choice(distortion, "distortion", DISTORTIONS)
    _check_choice(normalization, "normalization", NORMALIZATIONS)
    cent = _features_2d(centroids, "centroids")
    d_in = np.asarray(_to_numpy(intra, "intra"), dtype=np.float64).reshape(-1)
    c = cent.shape[0]
    if c < 2:
        raise ValueError(f"centroids has {c} row(s); rho needs at least two classes")
    if d_in.shape[0] != c:
        raise ValueError(f"intra has {d_in.shape[0]} entries but centroids has {c} rows; pass one D^(i) per class")
    if not np.all(np.isfinite(d_in)):
        raise ValueError("intra contains NaN/inf; D^(i) must be finite")
    cls = np.arange(c) if classes is None else np.asarray(classes)
    if np.any(d_in <= 0):
        bad = [cls[k].item() for k in np.flatnonzero(d_in <= 0)]
        raise ValueError(f"intra-cluster distortion D^(i) is 0 for class(es) {bad} (all their samples are "
                         f"identical), so rho^(i,j) = D^(i,j)/sqrt(D^(i) D^(j)) is infinite; drop or perturb them")
    cnt = np.zeros(c, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
    pr = probability_vector(np.asarray(_to_numpy(priors, "priors"), dtype=np.float64).reshape(-1), "priors")
    if pr.shape[0] != c:
        raise ValueError(f"priors has {pr.shape[0]} entries for {c} classes; pass one prior per class")
    inter = _pairwise(cent, distortion)
    if normalization == "mean":
        inter = inter / cent.shape[1]
    rho_ij = inter / np.sqrt(np.outer(d_in, d_in))
    np.fill_diagonal(rho_ij, np.nan)
    masked = np.where(np.eye(c, dtype=bool), np.inf, rho_ij)
    nearest = masked.argmin(axis=1)
    rho_i = masked[np.arange(c), nearest]
    return TaskAppropriateness(
        rho=float(pr @ rho_i), rho_i=_frozen(rho_i), rho_ij=_frozen(rho_ij), nearest=_frozen(nearest),
        intra=_frozen(d_in), inter=_frozen(inter), centroids=_frozen(cent), priors=_frozen(pr),
        counts=_frozen(cnt), classes=_frozen(cls), distortion=distortion, centroid=centroid,
        normalization=normalization)


# --------------------------------------------------------------------------------------
# one-shot estimator
# --------------------------------------------------------------------------------------
def _l1_medoid(xi: np.ndarray) -> tuple[int, float]:
    n, f = xi.shape
    chunk = max(1, _MEDOID_BLOCK // max(1, n * f))
    best_k, best = 0, np.inf
    for start in range(0, n, chunk):
        cand = xi[start:start + chunk]
        tot = np.abs(cand[:, None, :] - xi[None, :, :]).sum(axis=(1, 2))
        k = int(tot.argmin())
        if tot[k] < best:
            best_k, best = start + k, float(tot[k])
    return best_k, best / n


def _class_moments(xi: np.ndarray, distortion: str, centroid: str) -> tuple[np.ndarray, float]:
    """(centroid, D^(i)) of one class's samples, with the 'sum' normalisation."""
    if distortion == "mse":
        mu = xi.mean(axis=0)
        r2 = np.einsum("nf,nf->n", xi - mu, xi - mu)
        if centroid == "optimal":
            return mu, float(r2.mean())
        k = int(r2.argmin())  # E||X - c||^2 = tr(Sigma) + ||mu - c||^2
        return xi[k].copy(), float(r2.mean() + r2[k])
    if centroid == "optimal":
        med = np.median(xi, axis=0)
        return med, float(np.abs(xi - med).sum(axis=1).mean())
    k, d = _l1_medoid(xi)
    return xi[k].copy(), d


def task_appropriateness(features, labels, *, distortion: str = "mse", centroid: str = "optimal",
                         normalization: str = "sum", priors=None) -> TaskAppropriateness:
    r"""Task-appropriateness :math:`\rho` of a distortion on labelled features (Eqs. 13–18).

    Parameters
    ----------
    features : (N, ...) array-like (numpy, JAX or torch)
        One row per sample; trailing dimensions are flattened to F features.
    labels : (N,) array-like of ints or strings
        Task class of each sample, i.e. the cluster index of Eq. 12 (or Eq. 19 at a layer Y).
    distortion : {"mse", "absolute"}
        Squared l2 (footnote 6) or l1 distortion.
    centroid : {"optimal", "member"}
        Unrestricted minimiser of Eq. 13 (mean / median) or the member-restricted Eq. 14.
    normalization : {"sum", "mean"}
        Sum over coordinates (footnote 6) or mean over coordinates; rho is identical.
    priors : (C,) array-like, optional
        Class probabilities for Eq. 18 in sorted-label order; default the class frequencies.

    Returns
    -------
    TaskAppropriateness
        rho, rho_i, rho_ij, intra D^(i), inter D^(i,j), centroids, priors, counts, classes.

    The features are copied to float64; for data that does not fit in memory twice (e.g.
    50,000 x 32,768 feature maps) stream it through :class:`TaskAppropriatenessAccumulator`.

    Raises
    ------
    ValueError
        Fewer than two classes, a class with fewer than two samples, NaN/inf features,
        a labels/features length mismatch, an unknown option, or a class with D^(i) = 0.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.normal(0, 1, (500, 3)), rng.normal(3, 1, (500, 3))]
    >>> r = task_appropriateness(x, np.repeat([0, 1], 500))
    >>> round(r.rho)   # analytic: D^(0,1) = 3 * 3^2 = 27, D^(i) = 3, rho = 9
    9
    """
    _check_choice(distortion, "distortion", DISTORTIONS)
    _check_choice(centroid, "centroid", CENTROIDS)
    _check_choice(normalization, "normalization", NORMALIZATIONS)
    x = _features_2d(features)
    lab = _labels_1d(labels, x.shape[0])
    classes, inverse, counts = np.unique(lab, return_inverse=True, return_counts=True)
    _check_counts(classes, counts)
    pr = _priors(priors, counts)
    order = np.argsort(inverse, kind="stable")
    bounds = np.r_[0, np.cumsum(counts)]
    cents, intra = [], []
    for k in range(classes.shape[0]):
        c_k, d_k = _class_moments(x[order[bounds[k]:bounds[k + 1]]], distortion, centroid)
        cents.append(c_k)
        intra.append(d_k)
    intra = np.asarray(intra)
    if normalization == "mean":
        intra = intra / x.shape[1]
    return rho_from_moments(np.stack(cents), intra, pr, classes=classes, counts=counts, distortion=distortion,
                            centroid=centroid, normalization=normalization)


# --------------------------------------------------------------------------------------
# uncertainty
# --------------------------------------------------------------------------------------
def _rho_batch(means: np.ndarray, intra: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """rho for a batch of replicates: means (B, C, F), intra (B, C), priors (B, C) -> (B,)."""
    b, c, _ = means.shape
    rho_i = np.full((b, c), np.inf)
    for i in range(c):
        for j in range(c):
            if i != j:
                diff = means[:, i] - means[:, j]
                r = np.einsum("bf,bf->b", diff, diff) / np.sqrt(intra[:, i] * intra[:, j])
                rho_i[:, i] = np.minimum(rho_i[:, i], r)
    return np.einsum("bc,bc->b", priors, rho_i)


def bootstrap_rho(features, labels, *, n_boot: int = 1000, confidence: float = 0.95, stratified: bool = True,
                  seed: int = 0, distortion: str = "mse", centroid: str = "optimal",
                  normalization: str = "sum", priors=None, chunk: int = 64) -> RhoInterval:
    r"""Percentile-bootstrap confidence interval for :math:`\rho` (Eq. 18) from samples.

    Resamples the samples with replacement ``n_boot`` times and recomputes the plug-in
    :math:`\hat\rho`. ``stratified=True`` (default) resamples within each class, keeping the
    class counts fixed (right when the class sizes are fixed by design, e.g. balanced
    datasets); ``stratified=False`` resamples all rows, so the estimated priors vary too.
    For MSE with the optimal (mean) centroid each replicate is computed from multinomial
    weights on class-centred data (fast: O(n_boot·N·F) flops, ``chunk`` replicates at a
    time); other distortions/centroids recompute :func:`task_appropriateness` per replicate.

    Parameters
    ----------
    features, labels, distortion, centroid, normalization, priors
        As for :func:`task_appropriateness`.
    n_boot : int
        Number of resamples (>= 20).
    confidence : float
        Level of the two-sided percentile interval, in (0, 1).
    seed : int
        Seed of the resampling (the only randomness).

    Example
    -------
    >>> rng = np.random.default_rng(1)
    >>> x = np.r_[rng.normal(0, 1, (400, 2)), rng.normal(2, 1, (400, 2))]
    >>> ci = bootstrap_rho(x, np.repeat([0, 1], 400), n_boot=200)
    >>> ci.contains(4.0)  # analytic: 2 * 2^2 / 2 = 4
    True
    """
    if int(n_boot) != n_boot or n_boot < 20:
        raise ValueError(f"n_boot must be an integer >= 20 for a percentile interval; got {n_boot}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence}")
    full = task_appropriateness(features, labels, distortion=distortion, centroid=centroid,
                                normalization=normalization, priors=priors)
    x = _features_2d(features)
    lab = _labels_1d(labels, x.shape[0])
    classes, inverse, counts = np.unique(lab, return_inverse=True, return_counts=True)
    rng = np.random.default_rng(seed)
    n, c, f = x.shape[0], classes.shape[0], x.shape[1]
    scale = 1.0 / f if normalization == "mean" else 1.0
    reps = np.empty(int(n_boot))
    if distortion == "mse" and centroid == "optimal":
        members = [np.flatnonzero(inverse == k) for k in range(c)]
        mu = full.centroids
        centred = [x[m] - mu[k] for k, m in enumerate(members)]
        r2 = [np.einsum("nf,nf->n", z, z) for z in centred]
        for start in range(0, int(n_boot), chunk):
            b = min(chunk, int(n_boot) - start)
            if stratified:
                w = [rng.multinomial(counts[k], np.full(counts[k], 1.0 / counts[k]), size=b).astype(np.float64)
                     for k in range(c)]
            else:
                wall = rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float64)
                w = [wall[:, m] for m in members]
            nk = np.stack([wk.sum(axis=1) for wk in w], axis=1)  # (b, C)
            if np.any(nk < 2):
                raise ValueError("a bootstrap resample left a class with fewer than two samples; use "
                                 "stratified=True or more samples per class")
            shift = np.stack([(w[k] @ centred[k]) / nk[:, k:k + 1] for k in range(c)], axis=1)  # (b, C, F)
            intra = np.stack([(w[k] @ r2[k]) / nk[:, k] for k in range(c)], axis=1) - np.einsum(
                "bcf,bcf->bc", shift, shift)
            if np.any(intra <= 0):
                raise ValueError("a bootstrap resample has a class with zero spread; add samples")
            pr = np.broadcast_to(full.priors, (b, c)) if (priors is not None or stratified) else nk / n
            reps[start:start + b] = _rho_batch((mu + shift) * math.sqrt(scale), intra * scale, pr)
        method = "percentile bootstrap (stratified)" if stratified else "percentile bootstrap"
    else:
        for t in range(int(n_boot)):
            if stratified:
                idx = np.concatenate([rng.choice(np.flatnonzero(inverse == k), counts[k]) for k in range(c)])
            else:
                idx = rng.integers(0, n, n)
            pr = full.priors if (priors is not None or stratified) else None
            reps[t] = task_appropriateness(x[idx], lab[idx], distortion=distortion, centroid=centroid,
                                           normalization=normalization, priors=pr).rho
        method = "percentile bootstrap (stratified)" if stratified else "percentile bootstrap"
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    return RhoInterval(estimate=full.rho, low=float(lo), high=float(hi), confidence=float(confidence),
                       standard_error=float(reps.std(ddof=1)), method=method, replicates=_frozen(reps))


# --------------------------------------------------------------------------------------
# streaming
# --------------------------------------------------------------------------------------
class TaskAppropriatenessAccumulator:
    r"""Streaming MSE task-appropriateness from per-class sufficient statistics.

    Keeps, for each class (and each of ``n_groups`` random sample groups), the count
    :math:`n`, the mean :math:`\mu` (F floats) and :math:`M_2 = \sum \|x - \mu\|^2`
    (one float). That is all Eqs. 13–18 need for MSE with the mean centroid:
    :math:`D^{(i)} = M_2/n`, :math:`D^{(i,j)} = \|\mu_i - \mu_j\|^2`. Memory is
    ``n_groups * C * (F + 2)`` float64s whatever the number of samples (e.g. 10 classes x
    32,768 features = 2.6 MB for any N). Batches are merged with the Chan–Golub–LeVeque
    pairwise update, so the result equals :func:`task_appropriateness` on the concatenated
    data to ~1e-12 relative (tested to 1e-10).

    ``n_groups >= 2`` assigns each sample to a random group (seeded) and keeps the groups'
    statistics apart so that :meth:`interval` can give a delete-one-group jackknife
    confidence interval without a second pass.

    Only ``distortion="mse"`` with ``centroid="optimal"`` can stream in one pass: the
    per-coordinate median (absolute error) and the member-restricted centroid of Eq. 14
    depend on every sample, not on O(1) statistics, and are refused with a ValueError. The
    member-restricted MSE centroid is available with a second pass over the same data,
    still in O(C·F) memory: :meth:`member_result`. (An exact streaming median needs all the
    samples; approximate quantile sketches would not give the 1e-10 agreement promised here.)

    Parameters
    ----------
    normalization : {"sum", "mean"}
        As in :func:`task_appropriateness` (rho is the same either way).
    n_groups : int
        1 for the estimate only; >= 2 (e.g. 20) to also get :meth:`interval`.
    seed : int
        Seed for the group assignment (only used when ``n_groups >= 2``).

    Example
    -------
    >>> acc = TaskAppropriatenessAccumulator()
    >>> acc.update(np.array([[0., 0.], [0., 2.]]), [0, 0]).update(np.array([[4., 0.], [4., 2.]]), [1, 1])
    TaskAppropriatenessAccumulator(classes=2, features=2, samples=4, groups=1)
    >>> float(acc.result().rho)
    16.0
    """

    def __init__(self, *, distortion: str = "mse", centroid: str = "optimal", normalization: str = "sum",
                 n_groups: int = 1, seed: int = 0):
        if distortion != "mse" or centroid != "optimal":
            raise ValueError(
                f"streaming supports distortion='mse' with centroid='optimal' only (got distortion={distortion!r}, "
                f"centroid={centroid!r}): the per-coordinate median of absolute error and the member-restricted "
                f"centroid of Eq. 14 depend on every sample, not on O(1) sufficient statistics. Collect the "
                f"features and call task_appropriateness(...), or, for the member-restricted MSE centroid, "
                f"accumulate with the defaults and call member_result(batches) with a second pass over the data")
        _check_choice(normalization, "normalization", NORMALIZATIONS)
        if int(n_groups) != n_groups or n_groups < 1:
            raise ValueError(f"n_groups must be a positive integer (1, or >= 2 for interval()); got {n_groups}")
        self.normalization = normalization
        self.n_groups = int(n_groups)
        self._rng = np.random.default_rng(seed)
        self._n_features: int | None = None
        self._feature_shape: tuple[int, ...] | None = None
        self._index: dict[Any, int] = {}
        self._count = np.zeros((self.n_groups, 0), dtype=np.int64)
        self._mean = np.zeros((self.n_groups, 0, 0))
        self._m2 = np.zeros((self.n_groups, 0))

    def __repr__(self) -> str:
        return (f"TaskAppropriatenessAccumulator(classes={len(self._index)}, features={self._n_features}, "
                f"samples={self.n_samples}, groups={self.n_groups})")

    # -- bookkeeping ---------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return int(self._count.sum())

    @property
    def classes(self) -> np.ndarray:
        return np.array(sorted(self._index))

    @property
    def nbytes(self) -> int:
        """Bytes held by the statistics (independent of the number of samples seen)."""
        return int(self._count.nbytes + self._mean.nbytes + self._m2.nbytes)

    def _grow(self, new_labels) -> None:
        for lab in new_labels:
            self._index[lab] = len(self._index)
        c = len(self._index)
        pad = c - self._count.shape[1]
        self._count = np.pad(self._count, ((0, 0), (0, pad)))
        self._mean = np.pad(self._mean, ((0, 0), (0, pad), (0, 0)))
        self._m2 = np.pad(self._m2, ((0, 0), (0, pad)))

    def _merge_into(self, g: np.ndarray, k: np.ndarray, n_b: np.ndarray, mean_b: np.ndarray,
                    m2_b: np.ndarray) -> None:
        for t in range(g.shape[0]):  # Chan et al. pairwise update per (group, class) cell
            gi, ki, nb = g[t], k[t], n_b[t]
            na = self._count[gi, ki]
            if na == 0:
                self._mean[gi, ki] = mean_b[t]
                self._m2[gi, ki] = m2_b[t]
            else:
                nt = na + nb
                delta = mean_b[t] - self._mean[gi, ki]
                self._mean[gi, ki] += delta * (nb / nt)
                self._m2[gi, ki] += m2_b[t] + float(delta @ delta) * (na * nb / nt)
            self._count[gi, ki] = na + nb

    # -- public --------------------------------------------------------------------
    def update(self, features, labels) -> "TaskAppropriatenessAccumulator":
        """Add a batch: ``features`` (B, ...) numpy/JAX/torch, ``labels`` (B,). Returns self.

        An empty batch (B = 0, e.g. the tail of a data loader) is a no-op.
        """
        raw = _to_numpy(features, "features")
        if raw.ndim >= 1 and raw.shape[0] == 0:
            if _to_numpy(labels, "labels").size != 0:
                raise ValueError("features has 0 samples but labels is not empty; pass one label per sample")
            return self
        x = _features_2d(raw)
        lab = _labels_1d(labels, x.shape[0])
        if self._n_features is None:
            self._n_features = x.shape[1]
            self._feature_shape = tuple(raw.shape[1:])
            self._mean = np.zeros((self.n_groups, 0, x.shape[1]))
        elif x.shape[1] != self._n_features:
            raise ValueError(f"features has {x.shape[1]} values per sample (shape {raw.shape}) but earlier batches "
                             f"had {self._n_features} (per-sample shape {self._feature_shape}); every batch must "
                             f"come from the same layer")
        if self._index and _label_kind(lab.dtype.kind) != _label_kind(np.asarray(next(iter(self._index))).dtype.kind):
            raise ValueError(f"labels have dtype {lab.dtype} but earlier batches used "
                             f"{type(next(iter(self._index))).__name__} labels; use one label type throughout")
        uniq = np.unique(lab)
        keys = [u.item() for u in uniq]
        new = [u for u in keys if u not in self._index]
        if new:
            self._grow(new)
        cls = np.array([self._index[u] for u in keys])[np.searchsorted(uniq, lab)]
        grp = self._rng.integers(0, self.n_groups, x.shape[0]) if self.n_groups > 1 else np.zeros(x.shape[0], int)
        cell = grp * len(self._index) + cls
        cells, inv, cnt = np.unique(cell, return_inverse=True, return_counts=True)
        inv = inv.reshape(-1)
        onehot = np.zeros((cells.shape[0], x.shape[0]))
        onehot[inv, np.arange(x.shape[0])] = 1.0
        mean_b = (onehot @ x) / cnt[:, None]  # per-cell sums by BLAS: one pass over the batch
        resid = x - mean_b[inv]  # two-pass (centred) M2 within the batch: no sum-of-squares cancellation
        m2_b = np.bincount(inv, weights=np.einsum("nf,nf->n", resid, resid), minlength=cells.shape[0])
        self._merge_into(cells // len(self._index), cells % len(self._index), cnt, mean_b, m2_b)
        return self

    def merge(self, other: "TaskAppropriatenessAccumulator") -> "TaskAppropriatenessAccumulator":
        """Fold another accumulator (e.g. from another worker/shard) into this one. Returns self."""
        if not isinstance(other, TaskAppropriatenessAccumulator):
            raise ValueError(f"other must be a TaskAppropriatenessAccumulator; got {type(other).__name__}")
        if other.n_groups != self.n_groups or other.normalization != self.normalization:
            raise ValueError("other must have the same n_groups and normalization to be merged")
        if other._n_features is None:
            return self
        if self._n_features is None:
            self._n_features, self._feature_shape = other._n_features, other._feature_shape
            self._mean = np.zeros((self.n_groups, 0, other._n_features))
        elif other._n_features != self._n_features:
            raise ValueError(f"other has {other._n_features} features per sample, this one {self._n_features}")
        new = [lab for lab in other._index if lab not in self._index]
        if new:
            self._grow(new)
        for lab, ko in other._index.items():
            k = self._index[lab]
            for g in range(self.n_groups):
                if other._count[g, ko] > 0:
                    self._merge_into(np.array([g]), np.array([k]), other._count[g, ko:ko + 1],
                                     other._mean[g, ko:ko + 1], other._m2[g, ko:ko + 1])
        return self

    def _pooled(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Counts, means and M2 per class (sorted label order) pooled over the groups in ``keep``."""
        order = [self._index[lab] for lab in sorted(self._index)]
        c_n = self._count[keep][:, order]
        c_m = self._mean[keep][:, order]
        c_2 = self._m2[keep][:, order]
        n = c_n.sum(axis=0)
        w = np.divide(c_n, n, out=np.zeros(c_n.shape), where=n > 0)
        mean = np.einsum("gc,gcf->cf", w, c_m)
        dev = c_m - mean[None]
        m2 = c_2.sum(axis=0) + np.einsum("gc,gcf,gcf->c", c_n.astype(np.float64), dev, dev)
        return n, mean, m2

    def result(self, *, priors=None) -> TaskAppropriateness:
        """The task-appropriateness of everything seen so far (same record as the one-shot function)."""
        if self._n_features is None:
            raise ValueError("no batches seen; call update(features, labels) first")
        classes = self.classes
        n, mean, m2 = self._pooled(np.arange(self.n_groups))
        _check_counts(classes, n, where="the batches seen so far")
        intra = m2 / n
        if self.normalization == "mean":
            intra = intra / self._n_features
        return rho_from_moments(mean, intra, _priors(priors, n), classes=classes, counts=n,
                                normalization=self.normalization)

    def member_result(self, batches, *, priors=None) -> TaskAppropriateness:
        r"""Eq. 14 literally (centroid restricted to cluster members) for MSE, by a second pass.

        The member-restricted MSE centroid is the member closest to the class mean, because
        :math:`\mathbb{E}\|X - c\|^2 = D^{(i)}_{\text{mean}} + \|\mu_i - c\|^2`. It cannot be
        found from O(1) statistics, but it can in a second pass over the same data once the
        means are known, still in O(C·F) memory: ``batches`` is an iterable of
        ``(features, labels)`` (e.g. the same data loader again). Returns the record with
        ``centroid="member"``; equals ``task_appropriateness(..., centroid="member")`` when the
        batches are the data that was accumulated (ties go to the first member seen).
        """
        base = self.result(priors=priors)
        classes = base.classes
        mu = np.asarray(base.centroids)
        best = np.full(classes.shape[0], np.inf)
        best_x = np.zeros_like(mu)
        seen = np.zeros(classes.shape[0], dtype=np.int64)
        for item in batches:
            try:
                feats, labels = item
            except (TypeError, ValueError):
                raise ValueError("batches must yield (features, labels) pairs") from None
            if _to_numpy(feats, "features").shape[0] == 0:
                continue
            x = _features_2d(feats)
            lab = _labels_1d(labels, x.shape[0])
            if x.shape[1] != mu.shape[1]:
                raise ValueError(f"features has {x.shape[1]} values per sample but the accumulated data had "
                                 f"{mu.shape[1]}; pass the same data again")
            k = np.searchsorted(classes, lab)
            k = np.clip(k, 0, classes.shape[0] - 1)
            if np.any(classes[k] != lab):
                raise ValueError("labels contain classes that were never accumulated; pass the same data again")
            d2 = np.einsum("nf,nf->n", x - mu[k], x - mu[k])
            np.add.at(seen, k, 1)
            for c in np.unique(k):
                rows = np.flatnonzero(k == c)
                j = rows[int(d2[rows].argmin())]
                if d2[j] < best[c]:
                    best[c], best_x[c] = d2[j], x[j]
        if not np.array_equal(seen, np.asarray(base.counts)):
            raise ValueError(f"the second pass saw {seen.tolist()} samples per class but {base.counts.tolist()} were "
                             f"accumulated; member_result needs exactly the same data again")
        scale = self._n_features if self.normalization == "mean" else 1
        intra = np.asarray(base.intra) + best / scale
        return rho_from_moments(best_x, intra, base.priors, classes=classes, counts=base.counts,
                                centroid="member", normalization=self.normalization)

    def interval(self, confidence: float = 0.95, *, priors=None) -> RhoInterval:
        r"""Delete-one-group jackknife interval for :math:`\rho` (needs ``n_groups >= 2``).

        :math:`\hat\rho_{(g)}` is rho without group g; the standard error is
        :math:`\sqrt{\tfrac{G-1}{G}\sum_g(\hat\rho_{(g)} - \bar\rho)^2}` and the interval is
        :math:`\hat\rho \pm t_{G-1}\,\mathrm{se}` (Student t with G − 1 degrees of freedom).
        """
        from scipy import stats

        if self.n_groups < 2:
            raise ValueError("interval() needs per-group statistics; construct the accumulator with n_groups >= 2 "
                             "(e.g. 20)")
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence}")
        full = self.result(priors=priors)
        g = self.n_groups
        loo = np.empty(g)
        for k in range(g):
            n, mean, m2 = self._pooled(np.delete(np.arange(g), k))
            _check_counts(full.classes, n, where=f"the samples outside group {k}")
            intra = m2 / n / (self._n_features if self.normalization == "mean" else 1)
            loo[k] = rho_from_moments(mean, intra, _priors(priors, n), normalization=self.normalization).rho
        se = float(np.sqrt((g - 1) / g * np.sum((loo - loo.mean()) ** 2)))
        half = float(stats.t.ppf(0.5 + confidence / 2, g - 1)) * se
        return RhoInterval(estimate=full.rho, low=full.rho - half, high=full.rho + half, confidence=float(confidence),
                           standard_error=se, method="grouped jackknife (t)", replicates=_frozen(loo))
