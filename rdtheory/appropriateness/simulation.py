r"""Gaussian clusters with a known :math:`\rho`: bias and interval coverage of the estimators by simulation.

Class i is :math:`N(\mu_i, \sigma_i^2 I_F)`, so the population quantities of Eqs. 14–18 are
:math:`D^{(i)} = F\sigma_i^2`, :math:`D^{(i,j)} = \|\mu_i - \mu_j\|^2` and
:math:`\rho` follows from :func:`~rdtheory.appropriateness.rho_from_moments` (analytic).

The estimators depend on the samples only through the per-(group, class) statistics
(:math:`n_{gc}, \bar x_{gc}, M_{2,gc}`), and for Gaussian samples those have an exact,
cheap distribution: :math:`\bar x_{gc} \sim N(\mu_c, \sigma_c^2 I/n_{gc})` independent of
:math:`M_{2,gc} \sim \sigma_c^2\chi^2_{F(n_{gc}-1)}` (Cochran's theorem). Drawing them
directly (:func:`gaussian_group_statistics`) is exact in distribution and costs
O(G·C·F) per data set instead of O(n·F), so thousands of data sets of any n are cheap.
(``tests/test_appropriateness_bias.py`` checks the shortcut against real samples streamed
through :class:`~rdtheory.appropriateness.TaskAppropriatenessAccumulator`.)

Configurations (:func:`cluster_means`): ``"tie"`` — C means on a scaled simplex, all
class pairs equally far apart, the worst case for the bias of the minimum in Eq. 17;
``"separated"`` — C seeded random means (distinct nearest neighbours); ``"two"`` — two
classes (no minimum at all). Each is scaled to a target :math:`\rho`.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-A, Eqs. 13-18).
.. [2] W. G. Cochran, "The distribution of quadratic forms in a normal system", Proc.
   Cambridge Phil. Soc. 30:178-191, 1934 (independence of the sample mean and M2).
"""
from __future__ import annotations

import numpy as np

from .bias import grouped_interval, pool_groups, rho_from_statistics
from .estimator import rho_from_moments

__all__ = ["CONFIGS", "cluster_means", "gaussian_rho", "gaussian_group_statistics", "simulate"]

CONFIGS = ("tie", "separated", "two")


def gaussian_rho(means, variance: float = 1.0) -> float:
    r"""Analytic :math:`\rho` of equiprobable :math:`N(\mu_i, \sigma^2 I_F)` clusters (Eqs. 14–18)."""
    mu = np.asarray(means, dtype=np.float64)
    c, f = mu.shape
    return rho_from_moments(mu, np.full(c, f * float(variance)), np.full(c, 1.0 / c)).rho


def cluster_means(config: str, n_classes: int = 10, n_features: int = 64, rho: float = 0.05,
                  seed: int = 0) -> np.ndarray:
    r"""(C, F) class means of a configuration in :data:`CONFIGS`, scaled so that the analytic
    :math:`\rho` (unit variance per coordinate) equals ``rho``."""
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {CONFIGS}; got {config!r}")
    if int(n_features) != n_features or n_features < max(2, n_classes):
        raise ValueError(f"n_features must be an integer >= n_classes (>= 2); got {n_features}")
    if not rho > 0:
        raise ValueError(f"rho must be > 0; got {rho}")
    c = 2 if config == "two" else int(n_classes)
    if c < 2:
        raise ValueError(f"n_classes must be >= 2; got {n_classes}")
    if config == "separated":
        mu = np.random.default_rng(seed).normal(size=(c, int(n_features)))
    else:
        mu = np.eye(c, int(n_features))
    return mu * np.sqrt(rho / gaussian_rho(mu))  # rho is quadratic in the means


def gaussian_group_statistics(means, n_per_class: int, n_groups: int, rng: np.random.Generator,
                              variance: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Exact draw of the (G, C) counts, (G, C, F) means and (G, C) M2 of Gaussian data.

    ``n_per_class`` samples per class split as evenly as possible over ``n_groups`` groups
    (each group gets at least 2 per class).
    """
    mu = np.asarray(means, dtype=np.float64)
    c, f = mu.shape
    if n_per_class < 2 * n_groups:
        raise ValueError(f"n_per_class={n_per_class} is too small for {n_groups} groups of >= 2 samples per class")
    base, extra = divmod(int(n_per_class), int(n_groups))
    n = np.full((n_groups, c), base, dtype=np.int64)
    n[:extra] += 1
    xbar = mu[None] + rng.standard_normal((n_groups, c, f)) * np.sqrt(variance / n)[..., None]
    m2 = variance * rng.chisquare(f * (n - 1))
    return n, xbar, m2


def simulate(means, n_per_class: int, *, reps: int = 200, n_groups: int = 20, confidence: float = 0.95,
             seed: int = 0, variance: float = 1.0, intervals: bool = True) -> dict:
    r"""Bias and coverage of the plug-in and bias-corrected estimators over ``reps`` data sets.

    Returns a dict with the analytic ``rho``; for each estimator — ``plug-in`` (the paper's),
    ``corrected`` (unbiased moments), ``corrected+jackknife`` (the point of
    :func:`grouped_interval`) — the ``mean``, ``sd`` and ``bias`` with its standard error
    ``bias_se = sd/sqrt(reps)``; and for the grouped-jackknife intervals of the plug-in
    (``interval_plug-in``) and of the bias-corrected statistic (``interval_corrected``) the
    ``coverage`` (fraction of data sets whose interval contains the analytic rho),
    ``mean_width`` and ``contains_point``. ``intervals=False`` skips the jackknife (about 40x
    faster): only ``plug-in`` and ``corrected`` are reported.
    """
    if int(reps) != reps or reps < 2:
        raise ValueError(f"reps must be an integer >= 2; got {reps}")
    mu = np.asarray(means, dtype=np.float64)
    truth = gaussian_rho(mu, variance)
    rng = np.random.default_rng(seed)
    est = {"plug-in": [], "corrected": [], "corrected+jackknife": []}
    ivs = {"interval_plug-in": [], "interval_corrected": []}
    for _ in range(int(reps)):
        n, xbar, m2 = gaussian_group_statistics(mu, n_per_class, n_groups, rng, variance)
        pooled = pool_groups(n, xbar, m2)
        est["plug-in"].append(rho_from_statistics(*pooled).rho)
        est["corrected"].append(rho_from_statistics(*pooled, bias_correction=True).rho)
        if not intervals:
            continue
        for key, corr in (("interval_plug-in", False), ("interval_corrected", True)):
            iv = grouped_interval(n, xbar, m2, confidence=confidence, bias_correction=corr)
            ivs[key].append((iv.estimate, iv.low, iv.high))
        est["corrected+jackknife"].append(ivs["interval_corrected"][-1][0])
    out = {"rho": truth, "n_per_class": int(n_per_class), "reps": int(reps), "n_groups": int(n_groups),
           "confidence": float(confidence), "n_classes": int(mu.shape[0]), "n_features": int(mu.shape[1])}
    for k, v in est.items():
        if not v:
            continue
        v = np.asarray(v)
        sd = float(v.std(ddof=1))
        out[k] = {"mean": float(v.mean()), "sd": sd, "bias": float(v.mean() - truth),
                  "bias_se": float(sd / np.sqrt(len(v)))}
    for k, v in ivs.items():
        if not v:
            continue
        v = np.asarray(v)
        out[k] = {"coverage": float(np.mean((v[:, 1] <= truth) & (truth <= v[:, 2]))),
                  "mean_width": float(np.mean(v[:, 2] - v[:, 1])),
                  "contains_point": float(np.mean((v[:, 1] <= v[:, 0]) & (v[:, 0] <= v[:, 2])))}
    return out
