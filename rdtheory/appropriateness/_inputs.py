"""Input handling for task-appropriateness: numpy/JAX/torch -> float64 numpy, with checks.

One home for validation: every public function of :mod:`rdtheory.appropriateness` converts
and checks its arguments here, with errors that name the argument and the fix.
"""
from __future__ import annotations

import numpy as np

from .._validation import probability_vector

DISTORTIONS = ("mse", "absolute")
CENTROIDS = ("optimal", "member")
NORMALIZATIONS = ("sum", "mean")


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


def _pow2_exponent(x: np.ndarray) -> int:
    """``e`` with ``max|x| * 2**-e`` in [0.5, 1) (0 for an all-zero ``x``).

    Multiplying by ``2**-e`` (``np.ldexp``) is exact in binary floating point, so a result
    computed on the rescaled copy and scaled back is the one computed on ``x``, without the
    underflow/overflow of squared distances at ``|x| ~ 1e-200`` or ``1e200``.
    """
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return int(np.frexp(m)[1]) if m > 0 else 0
