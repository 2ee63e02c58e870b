r"""Bias-corrected task-appropriateness :math:`\rho` (MSE, class-mean centroid) from sufficient statistics.

For MSE with the class-mean centroid, :math:`\rho` depends on the data only through, per
class i, the count :math:`n_i`, the mean :math:`\bar x_i` (F floats) and
:math:`M_{2,i} = \sum_k \|x_k - \bar x_i\|^2` (one float). With :math:`s_i^2 =
\operatorname{tr}\Sigma_i` (the population D^(i), a *mean squared* distance, not an RMS)
and :math:`\delta_{ij} = \mu_i - \mu_j`, independent samples give exactly

.. math::

    \mathbb{E}\,\frac{M_{2,i}}{n_i} = \frac{n_i - 1}{n_i}\, s_i^2, \qquad
    \mathbb{E}\,\|\bar x_i - \bar x_j\|^2 = \|\delta_{ij}\|^2 + \frac{s_i^2}{n_i} + \frac{s_j^2}{n_j},

so the plug-in D^(i) is biased down by the factor (n_i - 1)/n_i and the plug-in D^(i,j) up
by :math:`s_i^2/n_i + s_j^2/n_j`. The bias-corrected moments

.. math::

    \tilde D^{(i)} = \frac{M_{2,i}}{n_i - 1}, \qquad
    \tilde D^{(i,j)} = \|\bar x_i - \bar x_j\|^2 - \frac{\tilde D^{(i)}}{n_i} - \frac{\tilde D^{(j)}}{n_j}

are unbiased for any distribution with finite variance (no Gaussian assumption). In ρ
(Eq. 16) the numerator bias is the leading one: relative to :math:`\rho^{(i,j)}` it is
:math:`(s_i^2/n_i + s_j^2/n_j)/\|\delta_{ij}\|^2 \approx 2/(n\,\rho^{(i,j)})` for equal
spreads, i.e. 4 % at n = 1,000 and ρ = 0.05. What remains after the correction is
(a) the ratio's curvature, :math:`\mathbb{E}[\tilde D_i^{-1/2}] - s_i^{-1} \approx
\tfrac38 s_i^{-1}\operatorname{Var}(\tilde D_i)/s_i^4 = O(1/(n\,F_{\rm eff}))`, negligible
for images; and (b) the **minimum over j** (Eq. 17): for unbiased :math:`\tilde\rho^{(i,j)}`
Jensen's inequality gives :math:`\mathbb{E}\min_j \tilde\rho^{(i,j)} \le \min_j
\rho^{(i,j)}`, a downward bias that is exponentially small when the nearest class is
separated from the runner-up by many standard errors and of order
:math:`-\mathrm{sd}(\tilde\rho^{(i,j)})\,\mathbb{E}\max(Z_1..Z_k)` when k classes tie
(:math:`n^{-1/2}`, not :math:`n^{-1}`). No estimator removes it from these statistics
alone; :func:`grouped_interval` removes its 1/n part with a delete-one-group jackknife
(Quenouille) over G random groups of samples and reports the interval around that point.

Memory: the statistics are :math:`G\cdot C\cdot(F+2)` floats whatever the number of samples
(:class:`~rdtheory.appropriateness.TaskAppropriatenessAccumulator` streams them).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-A, Eqs. 13-18).
.. [2] M. H. Quenouille, "Notes on bias in estimation", Biometrika 43:353-360, 1956 (the
   jackknife bias correction).
.. [3] B. Efron and C. Stein, "The jackknife estimate of variance", Ann. Statist. 9:586-596,
   1981 (the delete-one(-group) jackknife variance).
.. [4] T. F. Chan, G. H. Golub and R. J. LeVeque, "Algorithms for computing the sample
   variance: analysis and recommendations", Amer. Statist. 37:242-247, 1983 (pooling M2).
"""
from __future__ import annotations

import numpy as np

from ._inputs import NORMALIZATIONS, _check_choice, _pow2_exponent, _priors, _to_numpy
from .estimator import _assemble, _check_positive_intra, _pairwise
from .records import RhoInterval, TaskAppropriateness, _frozen

__all__ = ["corrected_moments", "pool_groups", "rho_from_statistics", "grouped_interval"]


def corrected_moments(counts, centroids, m2) -> tuple[np.ndarray, np.ndarray]:
    r"""Unbiased :math:`\tilde D^{(i)} = M_{2,i}/(n_i-1)` and :math:`\tilde D^{(i,j)}` (module docstring).

    Parameters
    ----------
    counts : (C,) ints >= 2
    centroids : (C, F) sample means :math:`\bar x_i`
    m2 : (C,) sums of squared deviations from the class mean

    Returns
    -------
    intra : (C,) array
        :math:`\tilde D^{(i)}` (squared feature units, summed over coordinates).
    inter : (C, C) array
        :math:`\tilde D^{(i,j)}`, zero diagonal; can be negative when two class means are
        closer than their sampling noise (the truth is >= 0; the estimate is left unclipped
        so that it stays unbiased).

    Example
    -------
    >>> intra, inter = corrected_moments([2, 2], [[0., 1.], [4., 1.]], [2., 2.])
    >>> intra.tolist(), float(inter[0, 1])   # D = 2/1; 16 - 2/2 - 2/2
    ([2.0, 2.0], 14.0)
    """
    n, mu, m2 = _check_statistics(counts, centroids, m2)
    return _corrected(n, mu, m2 / n)


def _corrected(n: np.ndarray, mu: np.ndarray, intra_plugin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unbiased D^(i), unbiased D^(i,j)) from counts, means and the plug-in D^(i) = M2/n (any unit)."""
    intra = intra_plugin * (n / (n - 1.0))
    tail = intra / n
    inter = _pairwise(mu, "mse") - tail[:, None] - tail[None, :]
    np.fill_diagonal(inter, 0.0)
    return intra, inter


def _check_statistics(counts, centroids, m2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = np.asarray(_to_numpy(counts, "counts"), dtype=np.float64).reshape(-1)
    mu = np.asarray(_to_numpy(centroids, "centroids"), dtype=np.float64)
    s2 = np.asarray(_to_numpy(m2, "m2"), dtype=np.float64).reshape(-1)
    if mu.ndim < 2 or mu.shape[0] != n.shape[0] or s2.shape != n.shape:
        raise ValueError(f"counts (C,), centroids (C, F) and m2 (C,) must describe the same C classes; got shapes "
                         f"{n.shape}, {mu.shape}, {s2.shape}")
    mu = mu.reshape(mu.shape[0], -1)
    if n.shape[0] < 2:
        raise ValueError(f"counts has {n.shape[0]} class(es); rho compares clusters, so pass at least two")
    if not (np.all(np.isfinite(n)) and np.all(n == np.round(n)) and np.all(n >= 2)):
        raise ValueError(f"counts must be integers >= 2 per class (the unbiased D^(i) = M2/(n-1) needs two "
                         f"samples); got {n.tolist()}")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(s2)) and np.all(s2 >= 0)):
        raise ValueError("centroids and m2 must be finite, and m2 (a sum of squares) >= 0")
    return n, mu, s2


def pool_groups(counts, centroids, m2, keep=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Pool per-(group, class) statistics over the groups ``keep`` (Chan et al.'s exact merge).

    ``counts`` (G, C), ``centroids`` (G, C, F), ``m2`` (G, C) -> per-class (C,), (C, F), (C,):
    :math:`n_c = \sum_g n_{gc}`, :math:`\bar x_c = \sum_g n_{gc}\bar x_{gc}/n_c`,
    :math:`M_{2,c} = \sum_g M_{2,gc} + \sum_g n_{gc}\|\bar x_{gc} - \bar x_c\|^2`.
    Empty cells (n_gc = 0) contribute nothing.
    """
    cnt = np.asarray(counts, dtype=np.float64)
    mu = np.asarray(centroids, dtype=np.float64)
    s2 = np.asarray(m2, dtype=np.float64)
    if keep is not None:
        cnt, mu, s2 = cnt[keep], mu[keep], s2[keep]
    n = cnt.sum(axis=0)
    w = np.divide(cnt, n, out=np.zeros(cnt.shape), where=n > 0)
    mean = np.einsum("gc,gcf->cf", w, mu)
    dev = mu - mean[None]
    return n, mean, s2.sum(axis=0) + np.einsum("gc,gcf,gcf->c", cnt, dev, dev)


def rho_from_statistics(counts, centroids, m2, priors=None, *, bias_correction: bool = False, classes=None,
                        normalization: str = "sum") -> TaskAppropriateness:
    r""":math:`\rho` (Eqs. 15–18, MSE, class-mean centroid) from per-class counts, means and M2.

    ``bias_correction=False`` is the paper's plug-in (D^(i) = M2/n, D^(i,j) = ‖x̄_i − x̄_j‖²),
    identical to :func:`~rdtheory.appropriateness.task_appropriateness`;
    ``bias_correction=True`` uses the unbiased :func:`corrected_moments` (the record's
    ``estimator`` says which). ``priors`` default to the class frequencies.

    Example
    -------
    >>> r = rho_from_statistics([2, 2], [[0., 1.], [4., 1.]], [2., 2.])
    >>> r.rho, rho_from_statistics([2, 2], [[0., 1.], [4., 1.]], [2., 2.], bias_correction=True).rho
    (16.0, 7.0)
    """
    _check_choice(normalization, "normalization", NORMALIZATIONS)
    if not isinstance(bias_correction, (bool, np.bool_)):
        raise ValueError(f"bias_correction must be True or False; got {bias_correction!r}")
    n, mu, s2 = _check_statistics(counts, centroids, m2)
    cls = np.arange(n.shape[0]) if classes is None else np.asarray(classes)
    pr = _priors(priors, n)
    # one power-of-two unit 2**e for the features keeps ||c_i - c_j||^2 and D^(i) in range (exact)
    plug = s2 / n
    e = max(_pow2_exponent(mu), -(-_pow2_exponent(plug) // 2))
    return _record(n, np.ldexp(mu, -e), np.ldexp(plug, -2 * e), pr, e, classes=cls, normalization=normalization,
                   bias_correction=bool(bias_correction))


def _record(n: np.ndarray, mu_s: np.ndarray, plug_s: np.ndarray, pr: np.ndarray, e: int, *, classes,
            normalization: str, bias_correction: bool) -> TaskAppropriateness:
    """The record from counts, means and plug-in D^(i) (sum over coordinates) in units of 2**e."""
    f = mu_s.shape[1] if normalization == "mean" else 1
    if bias_correction:
        intra, inter = _corrected(n, mu_s, plug_s)
        inter = inter / f
    else:
        intra, inter = plug_s, None
    intra = intra / f
    _check_positive_intra(intra, classes)
    return _assemble(mu_s, intra, pr, e, classes=classes, counts=n.astype(np.int64), distortion="mse",
                     centroid="optimal", normalization=normalization, inter=inter,
                     estimator="bias-corrected" if bias_correction else "plug-in")


def _rho_value(n: np.ndarray, mu: np.ndarray, plug: np.ndarray, pr: np.ndarray, bias_correction: bool) -> float:
    """Eq. 18 only (no record, no validation): the jackknife's inner loop on checked statistics."""
    if bias_correction:
        intra, inter = _corrected(n, mu, plug)
    else:
        intra, inter = plug, _pairwise(mu, "mse")
    rho_ij = inter / np.sqrt(np.outer(intra, intra))
    np.fill_diagonal(rho_ij, np.inf)
    return float(pr @ rho_ij.min(axis=1))


def grouped_interval(counts, centroids, m2, *, confidence: float = 0.95, bias_correction: bool = True,
                     priors=None) -> RhoInterval:
    r"""Delete-one-group jackknife interval for :math:`\rho` from G groups' statistics.

    ``counts`` (G, C), ``centroids`` (G, C, F), ``m2`` (G, C): the statistics of G disjoint
    random groups of samples (e.g. ``TaskAppropriatenessAccumulator(n_groups=G)``). With
    :math:`\hat\rho` on all groups and :math:`\hat\rho_{(g)}` without group g:

    * ``bias_correction=True`` (recommended): :math:`\hat\rho` is the bias-corrected statistic
      (:func:`rho_from_statistics`), and the point is Quenouille's jackknife correction
      :math:`\hat\rho_J = \hat\rho - (G-1)(\bar\rho_{(\cdot)} - \hat\rho)`, which also removes
      the 1/n part of the downward bias of the minimum over j (Eq. 17);
    * ``bias_correction=False``: the plug-in statistic and point (the previous behaviour).

    The interval is :math:`\text{point} \pm t_{G-1,(1+c)/2}\,\mathrm{se}`,
    :math:`\mathrm{se}^2 = \tfrac{G-1}{G}\sum_g(\hat\rho_{(g)} - \bar\rho_{(\cdot)})^2`
    (Efron & Stein), and with ``bias_correction=True`` it is extended by the applied jackknife
    correction :math:`|b_J|` on the side the correction moved the point: the jackknife
    assumes a bias :math:`\propto 1/n` and then removes all of it, but the bias of a *tied*
    minimum is :math:`\propto n^{-1/2}`, of which it removes
    :math:`(G-1)(\sqrt{G/(G-1)} - 1) \to 1/2`, so up to :math:`|b_J|` may remain, always in
    the same direction (Jensen: the minimum is biased down). It always contains its point.
    Coverage measured by simulation (``experiments/rho_bias_simulation.py``,
    ``docs/appropriateness.md``): 0.92-0.98 at nominal 0.95 for two or ten separated Gaussian
    classes, n = 40-3000 per class, G = 20; 0.87-0.95 in the worst case of ten exactly tied
    classes (the plug-in's interval: 0.00-0.95).

    Returns
    -------
    RhoInterval
        ``estimate`` is the point above, ``replicates`` the G leave-one-group-out values.
    """
    from scipy import stats

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence}")
    if not isinstance(bias_correction, (bool, np.bool_)):
        raise ValueError(f"bias_correction must be True or False; got {bias_correction!r}")
    cnt = np.asarray(_to_numpy(counts, "counts"), dtype=np.float64)
    mu = np.asarray(_to_numpy(centroids, "centroids"), dtype=np.float64)
    s2 = np.asarray(_to_numpy(m2, "m2"), dtype=np.float64)
    if cnt.ndim != 2 or mu.ndim != 3 or s2.shape != cnt.shape or mu.shape[:2] != cnt.shape:
        raise ValueError(f"pass group statistics counts (G, C), centroids (G, C, F), m2 (G, C); got shapes "
                         f"{cnt.shape}, {mu.shape}, {s2.shape}")
    g = cnt.shape[0]
    if g < 2:
        raise ValueError(f"a jackknife needs G >= 2 groups (e.g. 20); got {g}")

    n_all = cnt.sum(axis=0)
    full = rho_from_statistics(n_all, *pool_groups(cnt, mu, s2)[1:], priors, bias_correction=bias_correction).rho
    pr_fixed = None if priors is None else _priors(priors, n_all)
    e = max(_pow2_exponent(mu), -(-_pow2_exponent(s2 / np.maximum(cnt, 1)) // 2))  # exact rescaling
    mu_s, s2_s = np.ldexp(mu, -e), np.ldexp(s2, -2 * e)

    def rho_of(keep, where):
        n, mean, m2k = pool_groups(cnt, mu_s, s2_s, keep)
        if np.any(n < 2):
            raise ValueError(f"{where} leaves class(es) {np.flatnonzero(n < 2).tolist()} with fewer than two samples; "
                             f"use fewer groups or more samples")
        return _rho_value(n, mean, m2k / n, n / n.sum() if pr_fixed is None else pr_fixed, bias_correction)

    loo = np.array([rho_of(np.delete(np.arange(g), k), f"dropping group {k}") for k in range(g)])
    bias = (g - 1) * (loo.mean() - full) if bias_correction else 0.0
    point = full - bias
    se = float(np.sqrt((g - 1) / g * np.sum((loo - loo.mean()) ** 2)))
    half = float(stats.t.ppf(0.5 + confidence / 2, g - 1)) * se
    # the jackknife removes a 1/n bias but only half of an n^(-1/2) one (tied minima): extend the
    # interval by the applied correction on the side it moved the point (see the docstring)
    low, high = point - half - max(bias, 0.0), point + half + max(-bias, 0.0)
    method = "grouped jackknife (t), bias-corrected" if bias_correction else "grouped jackknife (t)"
    return RhoInterval(estimate=float(point), low=float(low), high=float(high),
                       confidence=float(confidence), standard_error=se, method=method, replicates=_frozen(loo))
