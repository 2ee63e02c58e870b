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
given. The plug-in D^{(i,j)} is biased up by exactly tr Σ_i/n_i + tr Σ_j/n_j and D^{(i)}
down by a factor (n_i - 1)/n_i, and the minimum of Eq. 17 is biased down (Jensen).
``bias_correction=True`` (:func:`task_appropriateness`, the accumulator's ``result`` and
``interval``, :func:`rho_from_statistics`) uses unbiased moments; :func:`grouped_interval`
adds Quenouille's jackknife correction of the minimum and an interval that contains its
point (derivation and coverage by simulation: ``docs/appropriateness.md``, section 5;
:mod:`rdtheory.appropriateness.simulation`). :func:`bootstrap_rho` is the percentile
bootstrap of the plug-in.

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

Layout
------
``records`` (the result records), ``_inputs`` (validation and conversion of numpy/JAX/torch
inputs), ``estimator`` (Eqs. 13-18: :func:`rho_from_moments`, :func:`task_appropriateness`),
``bootstrap`` (:func:`bootstrap_rho`), ``streaming`` (:class:`TaskAppropriatenessAccumulator`),
``bias`` (bias-corrected rho from sufficient statistics, :func:`grouped_interval`),
``simulation`` (Gaussian clusters with a known rho: bias and coverage by simulation).

Scale
-----
:math:`\rho` is scale-free: multiplying every feature by :math:`a \ne 0` multiplies
:math:`D^{(i)}` and :math:`D^{(i,j)}` by :math:`a^2` (MSE) or :math:`|a|` (absolute). The
one-shot functions compute on a copy rescaled by a power of two (exact in binary floating
point), so ``task_appropriateness(X * 1e-200, y)`` and ``task_appropriateness(X * 1e200, y)``
give the rho of ``X`` up to the rounding of the product, instead of an underflowed or
overflowed D. The streaming accumulator keeps its statistics in the units it is given.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-A, Eqs. 12-20).
.. [2] P. J. Rousseeuw, "Silhouettes: a graphical aid to the interpretation and validation of
   cluster analysis", J. Comput. Appl. Math. 20:53-65, 1987 (the silhouette that rho resembles).
.. [3] M. H. Quenouille, "Notes on bias in estimation", Biometrika 43:353-360, 1956 (jackknife
   bias correction, used by :func:`grouped_interval`).
"""
from .bias import corrected_moments, grouped_interval, pool_groups, rho_from_statistics
from .bootstrap import bootstrap_rho
from .estimator import rho_from_moments, task_appropriateness
from .records import RhoInterval, TaskAppropriateness
from .streaming import TaskAppropriatenessAccumulator

__all__ = [
    "TaskAppropriateness",
    "RhoInterval",
    "task_appropriateness",
    "rho_from_moments",
    "bootstrap_rho",
    "TaskAppropriatenessAccumulator",
    "rho_from_statistics",
    "corrected_moments",
    "grouped_interval",
    "pool_groups",
]
