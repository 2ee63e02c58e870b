r"""Empirical predictive V-information, conditional V-information and pointwise V-information.

Definitions (Xu, Zhao, Song, Stewart, Ermon, ICLR 2020, Defs. of predictive conditional
V-entropy and V-information), for a predictive family :math:`\mathcal V` (see
:mod:`rdtheory.vinfo.families`), all in **bits**:

.. math::

    H_\mathcal V(Y\mid X) = \inf_{f\in\mathcal V} \mathbb E[-\log_2 f[X](Y)],\qquad
    H_\mathcal V(Y\mid\varnothing) = \inf_{f\in\mathcal V} \mathbb E[-\log_2 f[\varnothing](Y)],

.. math::

    I_\mathcal V(X\to Y) = H_\mathcal V(Y\mid\varnothing) - H_\mathcal V(Y\mid X),\qquad
    I_\mathcal V(X\to Y\mid C) = H_\mathcal V(Y\mid C) - H_\mathcal V(Y\mid X, C).

Pointwise V-information (Ethayarajh, Choi, Swayamdipta, ICML 2022) of one sample is
:math:`\mathrm{PVI}(x\to y) = -\log_2 g[\varnothing](y) + \log_2 g'[x](y)` with
:math:`g, g'` fitted on other data; its mean over evaluation samples *is* the estimate of
:math:`I_\mathcal V`, so every interval below is an interval for a mean of PVIs.

Estimation (``split``):

- ``"holdout"`` (default): fit both infima on a training part, evaluate the log-losses on a
  held-out part (stratified by class for categorical targets).
- ``"crossfit"``: ``n_folds``-fold cross-fitting; every sample gets an out-of-fold PVI.
- ``"none"``: Xu et al.'s empirical V-information - fit and evaluate on the same data. For
  the unrestricted :class:`~rdtheory.vinfo.TabularFamily` with ``alpha=0`` this is exactly
  the plug-in mutual information; it is biased upwards by the family's capacity (Miller–Madow
  :math:`(|\mathcal X|-1)(|\mathcal Y|-1)/(2n\ln 2)` for tables), while held-out estimates are
  biased downwards (fitting error only increases test loss). See ``docs/vinfo.md``.
- an explicit sequence of ``(train_index, eval_index)`` pairs (sklearn-style), e.g. to
  evaluate two estimates on the same samples and compare them with :func:`paired_difference`.

Intervals (``ci``): ``"normal"`` - mean of PVIs :math:`\pm z\,s/\sqrt{n_\text{eval}}`
(conditional on the fitted predictors; for cross-fitting the usual cross-fitted CLT);
``"bootstrap"`` - percentile bootstrap of the mean PVI (``n_bootstrap`` resamples, ``seed``).
Neither accounts for the optimism of ``split="none"``.

References
----------
.. [1] Y. Xu, S. Zhao, J. Song, R. Stewart and S. Ermon, "A Theory of Usable Information
   under Computational Constraints", ICLR 2020.
.. [2] K. Ethayarajh, Y. Choi and S. Swayamdipta, "Understanding Dataset Difficulty with
   V-Usable Information", ICML 2022 (pointwise V-information).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
from scipy import stats

from .._validation import as_finite_array
from ..info import LN2 as _LN2
from ._checks import (_check_class_counts, _check_family, _check_lengths, _check_options, _prepare_x,
                      _prepare_y)

__all__ = [
    "VInformation", "Difference", "v_information", "conditional_v_information",
    "pointwise_v_information", "paired_difference",
]



@dataclasses.dataclass(frozen=True)
class VInformation:
    r"""Estimate of :math:`I_\mathcal V(X\to Y)` (or :math:`I_\mathcal V(X\to Y\mid C)`), in bits.

    Attributes
    ----------
    value : float
        :math:`\hat I_\mathcal V = \hat H_\mathcal V(Y\mid\cdot_\text{null}) - \hat H_\mathcal V(Y\mid\cdot)`
        = mean of ``pvi`` (bits). Can be slightly negative on held-out data.
    h_null, h_cond : float
        Held-out (or in-sample) log-losses of the null and conditional fits (bits per sample;
        differential for continuous targets).
    ci_low, ci_high, stderr, confidence : float
        Interval for the population quantity and the standard error of ``value`` (bits).
    split, ci_method : str
        How the estimate was formed (``"holdout"``, ``"crossfit"``, ``"none"``, ``"custom"``).
    n_fit, n_eval : int
        Training rows per fit (the first fold's for cross-fitting) and evaluated rows.
    pvi : ndarray (n_eval,)
        Pointwise V-information of each evaluated sample (bits).
    eval_index : ndarray (n_eval,)
        Row of the input data each ``pvi`` entry belongs to (sorted).
    """

    value: float
    h_null: float
    h_cond: float
    ci_low: float
    ci_high: float
    stderr: float
    confidence: float
    split: str
    ci_method: str
    n_fit: int
    n_eval: int
    pvi: np.ndarray = dataclasses.field(repr=False)
    eval_index: np.ndarray = dataclasses.field(repr=False)

    def contains(self, v: float) -> bool:
        """Whether ``v`` (bits) lies in ``[ci_low, ci_high]``."""
        return bool(self.ci_low <= v <= self.ci_high)


@dataclasses.dataclass(frozen=True)
class Difference:
    """Difference of two V-information estimates ``a - b`` with its interval (bits)."""

    value: float
    ci_low: float
    ci_high: float
    stderr: float
    confidence: float
    paired: bool


# --------------------------------------------------------------------------------------
# splitting and fitting
# --------------------------------------------------------------------------------------

def _folds(n: int, split, codes, test_size: float, n_folds: int, seed: int):
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    idx = np.arange(n)
    if not isinstance(split, str):
        folds = [(np.asarray(tr, dtype=np.int64), np.asarray(ev, dtype=np.int64)) for tr, ev in split]
        if not folds:
            raise ValueError("split is an empty sequence; pass at least one (train_index, eval_index) pair")
        for tr, ev in folds:
            if tr.ndim != 1 or ev.ndim != 1 or tr.size == 0 or ev.size == 0 or \
                    min(tr.min(), ev.min()) < 0 or max(tr.max(), ev.max()) >= n:
                raise ValueError(f"each split pair must hold non-empty 1-D index arrays within [0, {n}); fix split")
        return folds, "custom"
    if split == "none":
        return [(idx, idx)], "none"
    try:
        if split == "holdout":
            tr, ev = train_test_split(idx, test_size=test_size, random_state=seed, stratify=codes)
            return [(np.sort(tr), np.sort(ev))], "holdout"
        if n_folds > n:
            raise ValueError(f"n_folds={n_folds} exceeds the number of samples {n}; use fewer folds")
        cv = (StratifiedKFold(n_folds, shuffle=True, random_state=seed) if codes is not None
              else KFold(n_folds, shuffle=True, random_state=seed))
        import warnings

        with warnings.catch_warnings():
            # "least populated class has fewer members than n_splits": harmless here because
            # _check_class_counts guarantees >= 2 per class, so every training fold sees each class.
            warnings.filterwarnings("ignore", message=".*least populated class.*")
            return list(cv.split(idx, codes if codes is not None else None)), "crossfit"
    except ValueError as err:
        if "n_folds" in str(err):
            raise
        raise ValueError(f"could not split the data ({err}); use more samples, a different test_size, or "
                         "split='none'") from None


def _fit(family, x, y, seed: int, n_classes):
    try:
        pred = family.fit(x, y, seed=seed, n_classes=n_classes)
    except ValueError:
        raise
    except Exception as err:  # a broken user family: say which, keep the cause
        raise ValueError(f"family {type(family).__name__} could not be fitted: {type(err).__name__}: {err}") from err
    if not callable(getattr(pred, "log_prob", None)):
        raise ValueError(f"family {type(family).__name__}.fit must return a predictor with .log_prob(x, y); "
                         f"got {type(pred).__name__}")
    return pred


def _log_prob(pred, family, x, y, which: str) -> np.ndarray:
    lp = np.asarray(pred.log_prob(x, y), dtype=np.float64).reshape(-1)
    if lp.shape != (len(y),):
        raise ValueError(f"{type(family).__name__}: log_prob returned shape {lp.shape}, expected ({len(y)},)")
    if np.any(np.isnan(lp)):
        raise ValueError(f"{type(family).__name__}: the {which} fit produced NaN log-likelihoods; check the family")
    if np.any(~np.isfinite(lp)):
        bad = int(np.sum(~np.isfinite(lp)))
        raise ValueError(f"{type(family).__name__}: the {which} fit gives zero likelihood to {bad} evaluation "
                         "sample(s) (infinite log-loss). Use a smoothed family (e.g. TabularFamily(alpha>0)), "
                         "more training data, or split='none'")
    return lp


def _interval(pvi: np.ndarray, ci: str, confidence: float, n_bootstrap: int, seed: int):
    n = pvi.size
    mean = float(pvi.mean())
    se = float(pvi.std(ddof=1) / math.sqrt(n))
    if ci == "normal":
        z = float(stats.norm.ppf(0.5 + confidence / 2))
        return mean - z * se, mean + z * se, se
    rng = np.random.default_rng([seed, 0xB007])
    means = np.empty(n_bootstrap)
    chunk = max(1, 2_000_000 // n)  # bounds memory at ~16 MB of indices per chunk
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        means[start:start + b] = pvi[rng.integers(0, n, size=(b, n))].mean(1)
    lo, hi = np.quantile(means, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return float(lo), float(hi), float(means.std(ddof=1))


def _estimate(x_full, x_null, y, family, target, codes_info, *, split, test_size, n_folds, ci, n_bootstrap,
              confidence, seed) -> VInformation:
    n = len(y)
    n_classes = None if codes_info is None else codes_info.size
    if target == "categorical":
        _check_class_counts(y, codes_info, split)
    folds, kind = _folds(n, split, y if target == "categorical" else None, test_size, n_folds, seed)
    seeds = np.random.default_rng([seed, 0xF17]).integers(0, 2 ** 31 - 1, size=len(folds))
    ev_all, lp_c, lp_n = [], [], []
    for (tr, ev), s in zip(folds, seeds):
        f = _fit(family, x_full[tr], y[tr], int(s), n_classes)
        g = _fit(family, None if x_null is None else x_null[tr], y[tr], int(s), n_classes)
        lp_c.append(_log_prob(f, family, x_full[ev], y[ev], "conditional"))
        lp_n.append(_log_prob(g, family, None if x_null is None else x_null[ev], y[ev], "null"))
        ev_all.append(ev)
    ev_all = np.concatenate(ev_all)
    order = np.argsort(ev_all, kind="stable")
    lp_c, lp_n, ev_all = np.concatenate(lp_c)[order], np.concatenate(lp_n)[order], ev_all[order]
    if ev_all.size < 2:
        raise ValueError("only one evaluation sample; an interval needs >= 2. Use more data or a larger test_size")
    pvi = (lp_c - lp_n) / _LN2
    lo, hi, se = _interval(pvi, ci, float(confidence), int(n_bootstrap), seed)
    h_null, h_cond = float(-lp_n.mean() / _LN2), float(-lp_c.mean() / _LN2)
    return VInformation(value=float(pvi.mean()), h_null=h_null, h_cond=h_cond, ci_low=lo, ci_high=hi, stderr=se,
                        confidence=float(confidence), split=kind, ci_method=ci, n_fit=int(len(folds[0][0])),
                        n_eval=int(ev_all.size), pvi=pvi, eval_index=ev_all)


# --------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------

def v_information(x, y, family, *, split: str | Sequence = "holdout", test_size: float = 0.3, n_folds: int = 5,
                  ci: str = "normal", n_bootstrap: int = 1000, confidence: float = 0.95,
                  seed: int = 0) -> VInformation:
    r"""Estimate the predictive V-information :math:`I_\mathcal V(X\to Y)` in bits (Xu et al. 2020).

    :math:`I_\mathcal V(X\to Y) = H_\mathcal V(Y\mid\varnothing) - H_\mathcal V(Y\mid X)`: how much
    the best predictor of the family improves its log-loss on :math:`Y` when it may look at
    :math:`X`. Both infima are fitted on the training rows and evaluated on the evaluation rows.

    Parameters
    ----------
    x : array (n,) or (n, d)
        Side input (float; discrete integer codes for :class:`TabularFamily`).
    y : array (n,) or (n, k)
        Target: class labels (ints or strings) for categorical families, reals for Gaussian ones.
    family : predictive family
        E.g. ``TabularFamily()``, ``LogisticFamily()``, ``MLPFamily()``, ``LinearGaussianFamily()``,
        ``GaussianDecoderFamily(g)``; any object following the protocol in
        :mod:`rdtheory.vinfo.families`.
    split : {"holdout", "crossfit", "none"} or sequence of (train_index, eval_index)
        Estimation scheme (module docstring). Default: 70/30 stratified hold-out.
    test_size : float in (0, 1)
        Evaluation fraction for ``"holdout"``.
    n_folds : int >= 2
        Folds for ``"crossfit"``.
    ci : {"normal", "bootstrap"}
        Interval for the mean PVI; ``n_bootstrap`` resamples for the bootstrap.
    confidence : float in (0, 1)
        Coverage of the interval.
    seed : int
        Seeds the split, the families' own randomness and the bootstrap.

    Returns
    -------
    VInformation
        ``value`` (bits), interval, the two V-entropies and the per-sample PVIs.

    Raises
    ------
    ValueError
        Mismatched lengths, NaN/inf, a single class (or a class with < 2 samples for held-out
        splits), a family that cannot be fitted or gives zero likelihood on evaluation data.

    Example
    -------
    >>> from rdtheory.vinfo import v_information, TabularFamily
    >>> from rdtheory.info import mutual_information
    >>> x = [0, 0, 1, 1, 1, 0]; y = [0, 1, 1, 1, 1, 0]
    >>> r = v_information(x, y, TabularFamily(alpha=0), split="none")
    >>> round(r.value, 6) == round(mutual_information([[2/6, 1/6], [0, 3/6]]), 6)
    True
    """
    _check_options(split, test_size, n_folds, ci, n_bootstrap, confidence, seed)
    target = _check_family(family)
    yv, labels = _prepare_y(y, target)
    xv = _prepare_x(x, "x")
    _check_lengths(len(yv), x=xv)
    return _estimate(xv, None, yv, family, target, labels, split=split, test_size=test_size, n_folds=n_folds,
                     ci=ci, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed)


def conditional_v_information(x, y, c, family, **kwargs) -> VInformation:
    r"""Conditional V-information :math:`I_\mathcal V(X\to Y\mid C) = H_\mathcal V(Y\mid C) - H_\mathcal V(Y\mid X, C)` (bits).

    The family sees ``c`` in both fits and additionally ``x`` in the conditional one (inputs
    concatenated as ``[x, c]``). With ``c`` independent of everything it reduces to
    :func:`v_information`; for the unrestricted tabular family it is the conditional mutual
    information :math:`I(X;Y\mid C)`. Keyword arguments are those of :func:`v_information`.

    Parameters
    ----------
    x : array (n,) or (n, d);  y : array (n,) or (n, k);  c : array (n,) or (n, d_c)

    Example
    -------
    >>> import numpy as np
    >>> from rdtheory.vinfo import conditional_v_information, TabularFamily
    >>> rng = np.random.default_rng(0); c = rng.integers(0, 2, 500); x = rng.integers(0, 2, 500)
    >>> y = x ^ c                                   # x alone says nothing; given c it says all
    >>> round(conditional_v_information(x, y, c, TabularFamily(alpha=0), split="none").value, 2)
    1.0
    """
    opts = dict(split="holdout", test_size=0.3, n_folds=5, ci="normal", n_bootstrap=1000, confidence=0.95, seed=0)
    unknown = set(kwargs) - set(opts)
    if unknown:
        raise ValueError(f"unknown keyword(s) {sorted(unknown)}; allowed: {sorted(opts)}")
    opts.update(kwargs)
    _check_options(**opts)
    target = _check_family(family)
    yv, labels = _prepare_y(y, target)
    xv, cv = _prepare_x(x, "x"), _prepare_x(c, "c")
    _check_lengths(len(yv), x=xv, c=cv)
    return _estimate(np.hstack([xv, cv]), cv, yv, family, target, labels, **opts)


def pointwise_v_information(x, y, family, *, x_eval=None, y_eval=None, n_folds: int = 5,
                            seed: int = 0) -> np.ndarray:
    r"""Pointwise V-information (PVI, Ethayarajh et al. 2022) of samples, in bits.

    :math:`\mathrm{PVI}(x\to y) = -\log_2 g[\varnothing](y) + \log_2 g'[x](y)`, where
    :math:`g'` and :math:`g` are the family's conditional and null fits. With ``x_eval, y_eval``
    the fits use all of ``(x, y)`` and the PVIs are those of the evaluation samples (shape
    ``(m,)``); without them every sample of ``(x, y)`` gets an out-of-fold PVI from
    ``n_folds``-fold cross-fitting (shape ``(n,)``). Low or negative PVI flags samples that are
    hard for (or mislabelled under) the family; the mean is :math:`\hat I_\mathcal V(X\to Y)`.

    Example
    -------
    >>> import numpy as np
    >>> from rdtheory.vinfo import pointwise_v_information, TabularFamily
    >>> pvi = pointwise_v_information([0, 0, 1, 1] * 10, [0, 0, 1, 1] * 10, TabularFamily(alpha=0.01))
    >>> bool(np.all(pvi > 0.9))
    True
    """
    _check_options("crossfit", 0.3, n_folds, "normal", 1000, 0.95, seed)
    if (x_eval is None) != (y_eval is None):
        raise ValueError("pass both x_eval and y_eval (evaluation samples) or neither (cross-fitted PVIs)")
    if x_eval is None:
        return v_information(x, y, family, split="crossfit", n_folds=n_folds, seed=seed).pvi
    target = _check_family(family)
    yv, labels = _prepare_y(y, target)
    xv = _prepare_x(x, "x")
    _check_lengths(len(yv), x=xv)
    xe = _prepare_x(x_eval, "x_eval")
    if target == "categorical":
        raw = np.asarray(y_eval)
        if raw.ndim != 1:
            raise ValueError(f"y_eval must be a 1-D array of labels; got shape {raw.shape}")
        pos = np.searchsorted(labels, raw)
        known = (pos < labels.size) & (labels[np.minimum(pos, labels.size - 1)] == raw)
        if not np.all(known):
            raise ValueError(f"y_eval has label(s) never seen in y ({raw[~known][:3].tolist()}); the family cannot "
                             "assign them probability. Train on data that contains every label")
        ye = pos.astype(np.int64)
    else:
        ye = as_finite_array(y_eval, "y_eval", ndim=(1, 2))
        if ye.reshape(len(ye), -1).shape[1] != yv.reshape(len(yv), -1).shape[1]:
            raise ValueError("y_eval must have as many target columns as y")
    if len(ye) != len(xe):
        raise ValueError(f"x_eval has {len(xe)} rows but y_eval has {len(ye)}; pass one row per evaluation sample")
    if xe.shape[1] != xv.shape[1]:
        raise ValueError(f"x_eval has {xe.shape[1]} feature column(s) but x has {xv.shape[1]}")
    n_classes = None if labels is None else labels.size
    f = _fit(family, xv, yv, seed, n_classes)
    g = _fit(family, None, yv, seed, n_classes)
    return (_log_prob(f, family, xe, ye, "conditional") - _log_prob(g, family, None, ye, "null")) / _LN2


def paired_difference(a: VInformation, b: VInformation, *, paired: bool = True) -> Difference:
    r"""Interval for :math:`I_a - I_b` from two estimates (bits).

    ``paired=True`` (preferred) needs both estimates evaluated on the same rows (same data
    size, ``split`` and ``seed``, or the same explicit folds): the interval is the normal
    interval of the mean per-sample difference of PVIs, which cancels the shared noise of
    the evaluation sample. ``paired=False`` combines the two standard errors as if the
    estimates were independent (conservative when they are positively correlated).
    The confidence level is ``a.confidence``.

    Example
    -------
    >>> import numpy as np
    >>> from rdtheory.vinfo import v_information, paired_difference, LogisticFamily
    >>> rng = np.random.default_rng(0); x = rng.normal(size=(600, 2)); y = (x[:, 0] > 0).astype(int)
    >>> d = paired_difference(v_information(x, y, LogisticFamily()), v_information(x[:, 1:], y, LogisticFamily()))
    >>> d.ci_low > 0.5
    True
    """
    for name, r in (("a", a), ("b", b)):
        if not isinstance(r, VInformation):
            raise ValueError(f"{name} must be a VInformation result (from v_information); got {type(r).__name__}")
    z = float(stats.norm.ppf(0.5 + a.confidence / 2))
    if paired:
        if a.eval_index.shape != b.eval_index.shape or not np.array_equal(a.eval_index, b.eval_index):
            raise ValueError("a and b were evaluated on different rows, so PVIs cannot be paired. Use the same data, "
                             "split and seed (or explicit folds), or paired=False")
        d = a.pvi - b.pvi
        se = float(d.std(ddof=1) / math.sqrt(d.size))
    else:
        se = float(math.hypot(a.stderr, b.stderr))
    v = a.value - b.value
    return Difference(value=float(v), ci_low=float(v - z * se), ci_high=float(v + z * se), stderr=se,
                      confidence=a.confidence, paired=paired)
