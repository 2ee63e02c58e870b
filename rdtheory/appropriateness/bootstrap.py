r"""Percentile-bootstrap confidence intervals for task-appropriateness rho (Eq. 18).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-A, Eqs. 12-20).
.. [2] P. J. Rousseeuw, "Silhouettes: a graphical aid to the interpretation and validation of
   cluster analysis", J. Comput. Appl. Math. 20:53-65, 1987 (the silhouette that rho resembles).
.. [3] B. Efron and R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall, 1993
   (percentile intervals).
"""
from __future__ import annotations

import math

import numpy as np

from ._inputs import _features_2d, _labels_1d, _pow2_exponent
from .estimator import task_appropriateness
from .records import RhoInterval, _frozen

__all__ = ["bootstrap_rho"]


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
    x = _features_2d(features)
    x = np.ldexp(x, -_pow2_exponent(x))  # exact rescaling: rho and its replicates are scale-free
    full = task_appropriateness(x, labels, distortion=distortion, centroid=centroid,
                                normalization=normalization, priors=priors)
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
