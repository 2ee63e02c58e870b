"""Validation at the public boundary of the V-information estimators (one home for it).

Each helper raises a ``ValueError`` that names the argument and the fix; the estimators in
:mod:`rdtheory.vinfo.estimators` call them before any fitting.
"""
from __future__ import annotations

import numpy as np

from .._validation import as_finite_array

SPLITS = ("holdout", "crossfit", "none")
CIS = ("normal", "bootstrap")


def _check_family(family) -> str:
    if isinstance(family, type):
        raise ValueError(f"family must be an instance, not the class {family.__name__}; "
                         f"pass e.g. {family.__name__}()")
    target = getattr(family, "target", None)
    if not callable(getattr(family, "fit", None)) or target not in ("categorical", "continuous"):
        raise ValueError(f"family must be a predictive family: an object with .fit(x, y, *, seed, n_classes) "
                         f"and .target in {{'categorical', 'continuous'}} (e.g. LogisticFamily()); "
                         f"got {type(family).__name__}")
    return target


def _prepare_x(x, name: str) -> np.ndarray:
    arr = as_finite_array(x, name, ndim=(1, 2))
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


def _encode_labels(y, name: str):
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels for a categorical family; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one label")
    if arr.dtype.kind in "fc":
        arr = as_finite_array(arr, name)
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} has non-integer values, but a categorical family needs class labels. "
                             "For a continuous target use LinearGaussianFamily or GaussianDecoderFamily")
    elif arr.dtype.kind not in "iubUSO":
        raise ValueError(f"{name} must hold class labels (integers or strings); got dtype {arr.dtype}")
    labels, codes = np.unique(arr, return_inverse=True)
    return labels, codes.reshape(-1).astype(np.int64)


def _prepare_y(y, target: str, name: str = "y"):
    if target == "categorical":
        labels, codes = _encode_labels(y, name)
        if labels.size < 2:
            only = labels[0].item() if hasattr(labels[0], "item") else labels[0]
            raise ValueError(f"{name} has a single class ({only!r}): there is nothing to predict and the "
                             "classifiers cannot be fitted. Check the labels or pass a target with >= 2 classes")
        return codes, labels
    arr = as_finite_array(y, name, ndim=(1, 2))
    return arr, None


def _check_lengths(n: int, **arrays) -> None:
    for name, arr in arrays.items():
        if len(arr) != n:
            raise ValueError(f"{name} has {len(arr)} rows but y has {n}; pass one row of {name} per target sample")


def _check_options(split, test_size, n_folds, ci, n_bootstrap, confidence, seed) -> None:
    if isinstance(split, str) and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or a sequence of (train_index, eval_index); got {split!r}")
    if not (0 < float(test_size) < 1):
        raise ValueError(f"test_size must be a fraction in (0, 1); got {test_size}")
    if int(n_folds) != n_folds or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2; got {n_folds}")
    if ci not in CIS:
        raise ValueError(f"ci must be one of {CIS}; got {ci!r}")
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 100:
        raise ValueError(f"n_bootstrap must be an integer >= 100 (percentile intervals need resamples); got {n_bootstrap}")
    if not (0 < float(confidence) < 1):
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int (all randomness goes through it); got {seed!r}")


def _check_class_counts(codes: np.ndarray, labels: np.ndarray, split) -> None:
    if isinstance(split, str) and split == "none":
        return
    counts = np.bincount(codes, minlength=labels.size)
    if counts.min() < 2:
        bad = labels[int(np.argmin(counts))]
        bad = bad.item() if hasattr(bad, "item") else bad
        raise ValueError(f"class {bad!r} of y has {counts.min()} sample(s); with a held-out split every class needs "
                         ">= 2 (one to train on, one to evaluate). Merge rare classes, add data or use split='none'")
