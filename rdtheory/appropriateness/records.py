r"""Result records of the task-appropriateness estimators (frozen, read-only arrays).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-A, Eqs. 12-20).
.. [2] P. J. Rousseeuw, "Silhouettes: a graphical aid to the interpretation and validation of
   cluster analysis", J. Comput. Appl. Math. 20:53-65, 1987 (the silhouette that rho resembles).
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["TaskAppropriateness", "RhoInterval"]


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
    estimator : str
        ``"plug-in"`` (the paper's definition with sample moments) or ``"bias-corrected"``
        (unbiased D^(i) and D^(i,j), :mod:`rdtheory.appropriateness.bias`).
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
    estimator: str = "plug-in"

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
