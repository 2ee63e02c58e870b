r"""Streaming MSE task-appropriateness from per-class sufficient statistics (O(C*F) memory).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-A, Eqs. 12-20).
.. [2] P. J. Rousseeuw, "Silhouettes: a graphical aid to the interpretation and validation of
   cluster analysis", J. Comput. Appl. Math. 20:53-65, 1987 (the silhouette that rho resembles).
.. [3] T. F. Chan, G. H. Golub and R. J. LeVeque, "Updating formulae and a pairwise algorithm
   for computing sample variances", Stanford CS Tech. Rep. STAN-CS-79-773, 1979 (the merge).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._inputs import NORMALIZATIONS, _check_choice, _check_counts, _features_2d, _label_kind, _labels_1d, _priors, _to_numpy
from .bias import grouped_interval, pool_groups, rho_from_statistics
from .estimator import rho_from_moments
from .records import RhoInterval, TaskAppropriateness, _frozen

__all__ = ["TaskAppropriatenessAccumulator"]


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
        order = np.argsort(inv, kind="stable")  # per-cell sums of contiguous rows: O(B F), any number of cells
        mean_b = np.add.reduceat(x[order], np.r_[0, np.cumsum(cnt)[:-1]], axis=0) / cnt[:, None]
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

    def group_statistics(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(counts (G, C), means (G, C, F), m2 (G, C), classes (C,))`` per group and class, sorted labels.

        The sufficient statistics themselves (copies), e.g. for
        :func:`rdtheory.appropriateness.grouped_interval` or to store and merge elsewhere.
        """
        if self._n_features is None:
            raise ValueError("no batches seen; call update(features, labels) first")
        order = [self._index[lab] for lab in sorted(self._index)]
        return (self._count[:, order].copy(), self._mean[:, order].copy(), self._m2[:, order].copy(),
                self.classes)

    def _pooled(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Counts, means and M2 per class (sorted label order) pooled over the groups in ``keep``."""
        c_n, c_m, c_2, _ = self.group_statistics()
        n, mean, m2 = pool_groups(c_n, c_m, c_2, keep)
        return n.astype(np.int64), mean, m2

    def result(self, *, priors=None, bias_correction: bool = False) -> TaskAppropriateness:
        """The task-appropriateness of everything seen so far (same record as the one-shot function).

        ``bias_correction=True``: the unbiased-moment estimator of
        :func:`rdtheory.appropriateness.rho_from_statistics` (D^(i) = M2/(n-1), D^(i,j) less
        its sampling bias); the default is the paper's plug-in.
        """
        if self._n_features is None:
            raise ValueError("no batches seen; call update(features, labels) first")
        classes = self.classes
        n, mean, m2 = self._pooled(np.arange(self.n_groups))
        _check_counts(classes, n, where="the batches seen so far")
        if bias_correction:
            return rho_from_statistics(n, mean, m2, priors, bias_correction=True, classes=classes,
                                       normalization=self.normalization)
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

    def interval(self, confidence: float = 0.95, *, priors=None, bias_correction: bool = False) -> RhoInterval:
        r"""Delete-one-group jackknife t-interval for :math:`\rho` (needs ``n_groups >= 2``).

        :math:`\hat\rho_{(g)}` is rho without group g; the standard error is
        :math:`\sqrt{\tfrac{G-1}{G}\sum_g(\hat\rho_{(g)} - \bar\rho)^2}` and the interval is
        :math:`\text{point} \pm t_{G-1}\,\mathrm{se}`. ``bias_correction=False``: the point
        is the plug-in rho; ``True``: the bias-corrected statistic with Quenouille's jackknife
        correction (see :func:`rdtheory.appropriateness.grouped_interval`, which this calls).
        """
        if self.n_groups < 2:
            raise ValueError("interval() needs per-group statistics; construct the accumulator with n_groups >= 2 "
                             "(e.g. 20)")
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence}")
        self.result(priors=priors)  # validates counts/priors with the usual messages
        c_n, c_m, c_2, _ = self.group_statistics()
        return grouped_interval(c_n, c_m, c_2, confidence=confidence,  # rho does not depend on normalization
                                bias_correction=bias_correction, priors=priors)
