r"""Reference codec for machines: a uniform scalar quantiser of the 64-d pooled features.

What is possible when only the classifier's decision has to survive: quantise each coordinate
:math:`f_j` of ResNet-20's average-pool features (the input of its linear classifier) with one
uniform step :math:`\Delta`, :math:`q_j = \mathrm{round}(f_j/\Delta)`, decode
:math:`\hat f_j = \Delta q_j`, and code each :math:`q_j` with its own fitted pmf
(a *per-coordinate* entropy code, no context between coordinates). Fitted on one half of a set
of test images and measured on the other half.

**How bits are counted.** The pmf of coordinate :math:`j` is fitted on the fitting half as
Krichevsky–Trofimov counts over the integer range seen there, :math:`p_j(k) = (n_j(k)+\tfrac12)/
(n_j + \tfrac12 K_j)`, :math:`K_j` the range size; a value outside the range is clipped to it
(its distortion is counted in the accuracy). The rate of an image is the **ideal code length**
:math:`\sum_j -\log_2 p_j(q_j)` bits (:func:`code_lengths`); :func:`arithmetic_code` checks it
with a real coder: CompressAI's rANS [2]_ with the pmfs quantised to 16-bit CDFs, all measured
images in **one** stream (so its 32–64-bit flush is shared, not paid per image), decoded back
exactly. The side information — the tables, :func:`table_bits` = 2·16 bits of range plus 16 bits
per count per coordinate — is reported separately: it is sent once, not per image.

References
----------
.. [1] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its Applications",
   arXiv:2305.17295, 2023 (coding for machines: only the task's output must survive).
.. [2] J. Bégaint, F. Racapé, S. Feltman and A. Pushparaja, "CompressAI: a PyTorch library and
   evaluation platform for end-to-end compression research", arXiv:2011.03029, 2020.
.. [3] R. Krichevsky and V. Trofimov, "The performance of universal encoding", IEEE Trans.
   Inf. Theory 27(2), 1981 (the add-½ estimator).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["ScalarQuantiser", "fit_scalar_quantiser", "code_lengths", "dequantise", "table_bits",
           "arithmetic_code", "scalar_quantiser_curve", "pooled_reference", "REFERENCE_STEPS"]

#: Steps Δ of the reference curve (feature units; ResNet-20's pooled features are ≥ 0 with mean ≈ 1).
REFERENCE_STEPS = (4.0, 3.0, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3, 0.2)


@dataclasses.dataclass(frozen=True)
class ScalarQuantiser:
    """Step ``step`` (Δ > 0), per-coordinate integer range ``lo[j]..lo[j]+len(pmfs[j])-1`` and pmfs."""

    step: float
    lo: np.ndarray
    pmfs: tuple


def _check_features(f, name: str) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 1 or not np.isfinite(f).all():
        raise ValueError(f"{name} must be a finite (N, d) array of features; got shape {f.shape}")
    return f


def _indices(q: ScalarQuantiser, f: np.ndarray) -> np.ndarray:
    """Integer symbols ``round(f/Δ)`` clipped to each coordinate's fitted range."""
    hi = q.lo + np.array([len(p) for p in q.pmfs]) - 1
    return np.clip(np.rint(f / q.step).astype(np.int64), q.lo, hi)


def fit_scalar_quantiser(features, step: float) -> ScalarQuantiser:
    """Fit the per-coordinate add-½ pmfs of ``round(features/step)`` (``features``: ``(N, d)``)."""
    f = _check_features(features, "features")
    if not (isinstance(step, (int, float)) and math.isfinite(step) and step > 0):
        raise ValueError(f"step must be a finite number > 0 (the quantiser's Δ, in feature units); got {step!r}")
    k = np.rint(f / step).astype(np.int64)
    lo, hi = k.min(0), k.max(0)
    pmfs = []
    for j in range(f.shape[1]):
        counts = np.bincount(k[:, j] - lo[j], minlength=hi[j] - lo[j] + 1) + 0.5
        pmfs.append(counts / counts.sum())
    return ScalarQuantiser(float(step), lo, tuple(pmfs))


def code_lengths(q: ScalarQuantiser, features) -> np.ndarray:
    """Ideal code length of each row, :math:`\\sum_j -\\log_2 p_j(q_j)` bits, shape ``(N,)``."""
    k = _indices(q, _check_features(features, "features")) - q.lo
    return -sum(np.log2(p[k[:, j]]) for j, p in enumerate(q.pmfs))


def dequantise(q: ScalarQuantiser, features) -> np.ndarray:
    """:math:`\\hat f = \\Delta\\,q` (with the range clipping of the code)."""
    return q.step * _indices(q, _check_features(features, "features")).astype(np.float64)


def table_bits(q: ScalarQuantiser) -> int:
    """Side information sent once: per coordinate its range (2 × 16 bits) and 16 bits per count."""
    return sum(32 + 16 * len(p) for p in q.pmfs)


def arithmetic_code(q: ScalarQuantiser, features) -> dict:
    """Code every row of ``features`` in one rANS stream (CompressAI, 16-bit CDFs) and decode it.

    Returns ``{"bits": stream length in bits (flush included), "ideal_bits": Σ code_lengths,
    "exact": decoded symbols == encoded}``.
    """
    import torch
    from compressai.ans import RansDecoder, RansEncoder
    from compressai.entropy_models.entropy_models import pmf_to_quantized_cdf

    k = _indices(q, _check_features(features, "features"))
    cdfs = [pmf_to_quantized_cdf(torch.tensor(np.append(p, 0.0), dtype=torch.float32), 16).tolist()
            for p in q.pmfs]
    symbols = (k - q.lo).reshape(-1).tolist()
    indexes = np.tile(np.arange(k.shape[1]), k.shape[0]).tolist()
    lengths, offsets = [len(c) for c in cdfs], [0] * len(cdfs)
    stream = RansEncoder().encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
    back = RansDecoder().decode_with_indexes(stream, indexes, cdfs, lengths, offsets)
    return {"bits": 8 * len(stream), "ideal_bits": float(code_lengths(q, features).sum()),
            "exact": list(back) == symbols}


def scalar_quantiser_curve(features, labels, classify, steps, *, fit_idx, eval_idx, pixels: int = 1024,
                           real_coder: bool = True) -> list[dict]:
    """The reference curve: for each Δ in ``steps``, fit on ``features[fit_idx]``, measure on
    ``features[eval_idx]``.

    ``classify(f) -> predicted labels`` is the task model's classifier on (dequantised) features.
    Each row: ``step``, ``bits_per_image`` (mean ideal code length), ``bpp`` (÷ ``pixels``),
    ``accuracy`` (top-1 on the decoded features), ``accuracy_uncompressed`` (same images),
    ``table_bits`` and, with ``real_coder``, ``stream_bits_per_image`` (one rANS stream over all
    measured images, flush included) and ``stream_exact``.
    """
    f, y = _check_features(features, "features"), np.asarray(labels)
    fit_idx, eval_idx = np.asarray(fit_idx), np.asarray(eval_idx)
    if np.intersect1d(fit_idx, eval_idx).size:
        raise ValueError("fit_idx and eval_idx overlap; fit and measure on disjoint halves")
    fe, ye = f[eval_idx], y[eval_idx]
    acc0 = float(np.mean(classify(fe) == ye))
    rows = []
    for step in steps:
        q = fit_scalar_quantiser(f[fit_idx], step)
        bits = code_lengths(q, fe)
        row = {"step": float(step), "bits_per_image": float(bits.mean()), "bpp": float(bits.mean() / pixels),
               "accuracy": float(np.mean(classify(dequantise(q, fe)) == ye)), "accuracy_uncompressed": acc0,
               "n_fit": int(fit_idx.size), "n_eval": int(eval_idx.size), "table_bits": table_bits(q)}
        if real_coder:
            ac = arithmetic_code(q, fe)
            row["stream_bits_per_image"], row["stream_exact"] = ac["bits"] / len(fe), ac["exact"]
        rows.append(row)
    return rows


def pooled_reference(task, x, labels, *, steps=REFERENCE_STEPS, n: int = 4000, seed: int = 0,
                     pixels: int = 1024) -> dict:
    """The reference of issue 16 on a CIFAR ResNet split by
    :meth:`~rdtheory.codecs.system.SplitTaskModel.from_cifar_resnet`: ``n`` class-stratified test
    images (``seed``), pooled features (:func:`rdtheory.codecs.features.pooled_features`), fitted
    on a random half and measured on the other (:func:`scalar_quantiser_curve`); each row also
    gets ``disagreement`` (decoded prediction ≠ the uncompressed one). Returns ``{"rows",
    "p_t" (histogram of the uncompressed predictions on the n images), "n"}``."""
    import torch

    from ..vision.data import stratified_indices
    from .features import pooled_features

    y = np.asarray(labels)
    idx = stratified_indices(y, n, seed=seed)
    f = pooled_features(task, x[torch.from_numpy(idx)]).numpy()
    linear = task.stages["output"][2]

    def classify(a):
        with torch.no_grad():
            return linear(torch.as_tensor(a, dtype=torch.float32)).argmax(1).numpy()

    perm = np.random.default_rng(seed).permutation(n)
    fit, ev = np.sort(perm[:n // 2]), np.sort(perm[n // 2:])
    rows = scalar_quantiser_curve(f, y[idx], classify, steps, fit_idx=fit, eval_idx=ev, pixels=pixels)
    pred = classify(f)
    for r, step in zip(rows, steps):
        r["disagreement"] = float(np.mean(classify(dequantise(fit_scalar_quantiser(f[fit], step), f[ev])) != pred[ev]))
    classes = int(linear.out_features)
    return {"rows": rows, "p_t": (np.bincount(pred, minlength=classes) / n).tolist(), "n": n}
