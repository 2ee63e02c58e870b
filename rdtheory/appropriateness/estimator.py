r"""The one-shot estimator of task-appropriateness rho (Eqs. 13-18) and its formula from moments.

:func:`rho_from_moments` assembles Eqs. 15-18 from centroids and intra-cluster distortions;
:func:`task_appropriateness` estimates those from labelled samples (plug-in) and calls it.
Both compute on a copy rescaled by a power of two (see :func:`._inputs._pow2_exponent`), so
rho does not under/overflow for features of magnitude 1e-200 or 1e200.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-A, Eqs. 12-20).
.. [2] P. J. Rousseeuw, "Silhouettes: a graphical aid to the interpretation and validation of
   cluster analysis", J. Comput. Appl. Math. 20:53-65, 1987 (the silhouette that rho resembles).
"""
from __future__ import annotations

import numpy as np

from .._validation import probability_vector
from ._inputs import (CENTROIDS, DISTORTIONS, NORMALIZATIONS, _check_choice, _check_counts, _features_2d,
                      _labels_1d, _pow2_exponent, _priors, _to_numpy)
from .records import TaskAppropriateness, _frozen

__all__ = ["rho_from_moments", "task_appropriateness"]

#: Elements of the (candidates x members x features) block used for the l1 medoid.
_MEDOID_BLOCK = 4_000_000


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
    _check_positive_intra(d_in, cls)
    cnt = np.zeros(c, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
    pr = probability_vector(np.asarray(_to_numpy(priors, "priors"), dtype=np.float64).reshape(-1), "priors")
    if pr.shape[0] != c:
        raise ValueError(f"priors has {pr.shape[0]} entries for {c} classes; pass one prior per class")
    # one power-of-two unit 2**e for the features keeps both ||c_i - c_j||^2 and D^(i) in range
    k = _unit_power(distortion)
    e = max(_pow2_exponent(cent), -(-_pow2_exponent(d_in) // k))
    return _assemble(np.ldexp(cent, -e), np.ldexp(d_in, -k * e), pr, e, classes=cls, counts=cnt,
                     distortion=distortion, centroid=centroid, normalization=normalization)


def _check_positive_intra(d_in: np.ndarray, classes: np.ndarray) -> None:
    if np.any(d_in <= 0):
        bad = [classes[k].item() for k in np.flatnonzero(d_in <= 0)]
        raise ValueError(f"intra-cluster distortion D^(i) is 0 for class(es) {bad} (all their samples are "
                         f"identical), so rho^(i,j) = D^(i,j)/sqrt(D^(i) D^(j)) is infinite; drop or perturb them")


def _unit_power(distortion: str) -> int:
    """D scales as (feature unit)**k: k = 2 for squared error, 1 for absolute error."""
    return 2 if distortion == "mse" else 1


def _assemble(cent: np.ndarray, d_in: np.ndarray, pr: np.ndarray, e: int, *, classes, counts, distortion: str,
              centroid: str, normalization: str, inter: np.ndarray | None = None,
              estimator: str = "plug-in") -> TaskAppropriateness:
    """Eqs. 15-18 on validated centroids and D^(i) given in units of ``2**e`` feature units.

    ``inter`` (same units, already normalised) replaces the D^(i,j) computed from the
    centroids (the bias-corrected estimator of :mod:`.bias` passes its own).

    rho is dimensionless, so it is computed in those units (no under/overflow); the record's
    centroids, D^(i) and D^(i,j) are scaled back to the caller's units (exact: powers of two),
    saturating to 0 or inf only where the true value lies outside float64's range.
    """
    c = cent.shape[0]
    if inter is None:
        inter = _pairwise(cent, distortion)
        if normalization == "mean":
            inter = inter / cent.shape[1]
    rho_ij = inter / np.sqrt(np.outer(d_in, d_in))
    np.fill_diagonal(rho_ij, np.nan)
    masked = np.where(np.eye(c, dtype=bool), np.inf, rho_ij)
    nearest = masked.argmin(axis=1)
    rho_i = masked[np.arange(c), nearest]
    k = _unit_power(distortion)
    with np.errstate(over="ignore", under="ignore"):
        cent_out, intra_out, inter_out = np.ldexp(cent, e), np.ldexp(d_in, k * e), np.ldexp(inter, k * e)
    return TaskAppropriateness(
        rho=float(pr @ rho_i), rho_i=_frozen(rho_i), rho_ij=_frozen(rho_ij), nearest=_frozen(nearest),
        intra=_frozen(intra_out), inter=_frozen(inter_out), centroids=_frozen(cent_out), priors=_frozen(pr),
        counts=_frozen(counts), classes=_frozen(classes), distortion=distortion, centroid=centroid,
        normalization=normalization, estimator=estimator)


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
                         normalization: str = "sum", priors=None, bias_correction: bool = False) -> TaskAppropriateness:
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
    bias_correction : bool
        False (default): the paper's plug-in. True: unbiased D^(i) = M2/(n-1) and D^(i,j) less
        its sampling bias (MSE with the mean centroid only; :mod:`rdtheory.appropriateness.bias`).

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
    if not isinstance(bias_correction, (bool, np.bool_)):
        raise ValueError(f"bias_correction must be True or False; got {bias_correction!r}")
    if bias_correction and (distortion, centroid) != ("mse", "optimal"):
        raise ValueError(f"bias_correction=True is derived for distortion='mse' with centroid='optimal' (class "
                         f"means); got distortion={distortion!r}, centroid={centroid!r}. Use the defaults or "
                         f"bias_correction=False")
    x = _features_2d(features)
    lab = _labels_1d(labels, x.shape[0])
    classes, inverse, counts = np.unique(lab, return_inverse=True, return_counts=True)
    _check_counts(classes, counts)
    pr = _priors(priors, counts)
    e = _pow2_exponent(x)
    x = np.ldexp(x, -e)  # exact rescaling: rho is scale-free, squared distances at 1e+-200 are not
    order = np.argsort(inverse, kind="stable")
    bounds = np.r_[0, np.cumsum(counts)]
    cents, intra = [], []
    for k in range(classes.shape[0]):
        c_k, d_k = _class_moments(x[order[bounds[k]:bounds[k + 1]]], distortion, centroid)
        cents.append(c_k)
        intra.append(d_k)
    intra = np.asarray(intra)
    if bias_correction:
        from .bias import _record  # bias imports this module

        return _record(counts.astype(np.float64), np.stack(cents), intra, pr, e, classes=classes,
                       normalization=normalization, bias_correction=True)
    if normalization == "mean":
        intra = intra / x.shape[1]
    _check_positive_intra(intra, classes)
    return _assemble(np.stack(cents), intra, pr, e, classes=classes, counts=np.asarray(counts, dtype=np.int64),
                     distortion=distortion, centroid=centroid, normalization=normalization)
