r"""Cached features of the frozen task model: what a model-splitting codec sees, computed once.

The task model is frozen (:class:`~rdtheory.codecs.system.SplitTaskModel`), so the tensor
:math:`Y = g(X)` at a cut point is a fixed function of the image. A model-splitting codec only
ever sees :math:`Y` (paper Fig. 4 of [1]_), so the front end's forward pass can be paid once
per training image instead of once per step: :func:`cut_features` computes :math:`g(X)` for a
whole split (and, with ``flips=True``, for its horizontal mirror images — the augmentation that
survives caching; random-crop translations do not, since a shifted crop changes the features
near the borders) and keeps it as ``float16`` ``.npy`` in the user cache
(:func:`rdtheory._io.cache_dir`, never in the repository), keyed by the weights' and the data
file's SHA-256. ``float16`` keeps 11 significant bits: a relative rounding error ≤ 2⁻¹¹
(≈ 5e-4), far below the quantisation step of any codec trained on it.

:func:`pooled_features` gives the 64-d average-pool features of a CIFAR ResNet (the input of
its final linear layer), used by the scalar-quantiser reference
(:mod:`rdtheory.codecs.feature_quantiser`).

References
----------
.. [1] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its Applications",
   arXiv:2305.17295, 2023 (Sec. IV-A, Fig. 4: cut point, mid-model and back end).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from .._io import cache_dir
from .system import SplitTaskModel

__all__ = ["file_sha256", "cut_features", "teacher_logits", "pooled_features", "run_batched"]

#: Images per forward pass when computing features (memory, not speed, bound).
BATCH = 250


def file_sha256(path) -> str:
    """SHA-256 hex digest of a file's bytes (the cache key of weights and data)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@torch.no_grad()
def run_batched(task: SplitTaskModel, x: torch.Tensor, point: str, start: str = "input",
                batch: int = BATCH) -> torch.Tensor:
    """``task.run(x, start, taps=(point,))[point]`` in batches of ``batch`` (no gradients)."""
    return torch.cat([task.run(x[s:s + batch], start=start, taps=(point,))[point] for s in range(0, len(x), batch)])


@torch.no_grad()
def pooled_features(task: SplitTaskModel, x: torch.Tensor, batch: int = BATCH) -> torch.Tensor:
    """The 64-d average-pool features of a CIFAR ResNet split by
    :meth:`SplitTaskModel.from_cifar_resnet` (``avgpool(layer3)`` flattened: the linear
    classifier's input), shape ``(N, 64)``. ``task.stages["output"][2]`` maps them to logits."""
    head = task.stages["output"]
    return torch.cat([head[1](head[0](task.run(x[s:s + batch], taps=("layer3",))["layer3"]))
                      for s in range(0, len(x), batch)])


def cut_features(task: SplitTaskModel, x: torch.Tensor, cut: str, *, key: str, flips: bool = False,
                 root=None, log=print) -> torch.Tensor:
    """:math:`g(X)` at ``cut`` for every image of ``x`` (``(N, 3, H, W)``, already normalised),
    and with ``flips`` also for ``x.flip(-1)`` (rows ``N..2N-1``), as a float16 tensor
    read from a ``.npy`` in ``root`` (default ``cache_dir("codecs/features")``).

    ``key`` must identify the weights and the images (e.g. their SHA-256 and the subset);
    a file whose shape does not match is rebuilt. Written atomically (temp file + rename).
    """
    if not isinstance(key, str) or not key:
        raise ValueError("key must be a non-empty string naming the weights and the images (cache key)")
    task.index(cut)
    root = Path(root) if root is not None else cache_dir("codecs/features")
    path = root / f"{key}-{cut}{'-flips' if flips else ''}.npy"
    with torch.no_grad():
        shape = (len(x) * (2 if flips else 1), *task.run(x[:1], taps=(cut,))[cut].shape[1:])
    if path.exists():
        arr = np.load(path, mmap_mode="r")
        if arr.shape == shape and arr.dtype == np.float16:
            return torch.from_numpy(np.load(path))
    root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=shape)
    for s in range(0, len(x), BATCH):
        chunk = x[s:s + BATCH]
        out[s:s + len(chunk)] = run_batched(task, chunk, cut).numpy().astype(np.float16)
        if flips:
            out[len(x) + s:len(x) + s + len(chunk)] = run_batched(task, chunk.flip(-1), cut).numpy().astype(np.float16)
        if log and (s // BATCH) % 40 == 0:
            log(f"features {cut}: {s + BATCH}/{len(x)}")
    out.flush()
    del out
    os.replace(tmp, path)
    return torch.from_numpy(np.load(path))


def teacher_logits(task: SplitTaskModel, features: torch.Tensor, cut: str, *, key: str, root=None) -> torch.Tensor:
    """The task model's logits from cached cut-point ``features`` (``(N, ...)``, any float dtype),
    float32 ``(N, classes)``, cached as ``<key>-logits.npy`` beside the features."""
    root = Path(root) if root is not None else cache_dir("codecs/features")
    path = root / f"{key}-logits.npy"
    if path.exists():
        arr = np.load(path)
        if arr.shape[0] == len(features):
            return torch.from_numpy(arr)
    out = torch.cat([run_batched(task, features[s:s + BATCH].float(), "output", start=cut)
                     for s in range(0, len(features), BATCH)]).numpy()
    root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, out)
    os.replace(tmp, path)
    return torch.from_numpy(out)
