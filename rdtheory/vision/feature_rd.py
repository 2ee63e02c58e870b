r"""R(D) of CNN features and the task accuracy of the water-filling channel at each layer.

For a frozen task model cut at named points (:class:`rdtheory.codecs.system.SplitTaskModel`),
:func:`fit_bases` streams *training* images once and fits, at every point, the mean and an
orthonormal basis with the variances of its coefficients
(:class:`rdtheory.empirical.water_filling.BlockBasis`: per-channel 2-D DCT + per-frequency
channel PCA). :func:`evaluate_channels` then streams *held-out* images: at each point and
water level :math:`\theta` it encodes the features with the reverse-water-filling test channel
(:mod:`rdtheory.empirical.water_filling`: :math:`\hat c = a c + s z` per coefficient), runs
the rest of the network on :math:`\hat x = \mu + U\hat c`, and sums per group of images

- the rate bound :math:`r_i` (bits per image, an upper bound on :math:`I(X;\hat X)` and hence
  on :math:`R(D)` of the features at the channel's distortion, whatever their distribution),
- the expected squared error :math:`d_i` (given :math:`x_i`, over the channel noise) and the
  realised one :math:`\|x_i - \hat x_i\|^2` of the draw that was classified,
- the number of correct top-1 predictions on :math:`\hat x`.

Sums per group (``balanced_groups``: class-balanced random groups) let a caller bootstrap
rate, distortion and accuracy *jointly* by resampling groups, and they are small enough to
commit. The noise of each (batch, point, level) is drawn from its own seeded generator, so a
run is bit-identical for a seed and resumes exactly from a checkpoint (``state``).

Memory: one batch of features per point plus :math:`\sum_f C^2` floats per basis; the
features of a split are never held.

References
----------
.. [1] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Thm. 10.3.3, reverse water-filling).
.. [2] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its Applications",
   arXiv:2305.17295, 2023 (Sec. III-B.2: task-appropriateness of these layers).
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..empirical.water_filling import BlockBasis, heldout_terms, sample_channel
from .data import ImageArrays, iterate_batches, to_tensor
from .taps import balanced_groups

__all__ = ["POINTS", "split_cifar_resnet", "fit_bases", "evaluate_channels", "FIELDS"]

#: The cut points of :func:`split_cifar_resnet` whose features are coded (``output`` is the logits).
POINTS = ("input", "layer1", "layer2", "layer3", "pool")
#: Per-group sums kept by :func:`evaluate_channels` for each (point, level).
FIELDS = ("rate", "distortion", "realised", "correct")


def split_cifar_resnet(model: nn.Module):
    """A He et al. CIFAR ResNet as points ``input, layer1, layer2, layer3, pool, output``.

    As :meth:`~rdtheory.codecs.system.SplitTaskModel.from_cifar_resnet` with the 64-d global
    average pool as its own point (shape ``(64, 1, 1)``); ``input`` is the normalised image.
    """
    from ..codecs.system import SplitTaskModel

    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.layer1)
    head = nn.Sequential(nn.Flatten(1), getattr(model, model._head))
    return SplitTaskModel([("layer1", stem), ("layer2", model.layer2), ("layer3", model.layer3),
                           ("pool", model.avgpool), ("output", head)])


def _points(split, points: Sequence[str]) -> list[str]:
    points = list(points)
    if not points:
        raise ValueError("points is empty; pass cut points such as ['input', 'layer3']")
    for p in points:
        split.index(p)  # ValueError with suggestions
    if "output" in points:
        raise ValueError("'output' (the logits) is not a feature point; pass the points before it")
    return points


@torch.no_grad()
def _features(split, x: torch.Tensor, points: Sequence[str]) -> dict[str, torch.Tensor]:
    return split.run(x, "input", taps=tuple(points) + ("output",))


@torch.no_grad()
def fit_bases(split, data: ImageArrays, points: Sequence[str] = POINTS, *, mean_std="imagenet",
              batch_size: int = 250, flat: Sequence[str] = (), progress: bool = True) -> dict[str, BlockBasis]:
    """One pass over training ``data``: a fitted :class:`BlockBasis` per point (its mean, basis, variances).

    Points listed in ``flat`` get the full PCA basis of their F flattened features
    (``BlockBasis((F, 1, 1))``, memory and time :math:`F^2`/:math:`F^3`) instead of the
    per-channel DCT + per-frequency channel PCA basis.
    """
    points = _points(split, points)
    unknown = [p for p in flat if p not in points]
    if unknown:
        raise ValueError(f"flat lists points {unknown} that are not in points {points}")
    if len(data) < 2:
        raise ValueError(f"need at least 2 training images; got {len(data)}")
    bases: dict[str, BlockBasis] = {}
    batches = list(iterate_batches(len(data), batch_size))
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="feature bases (train)", leave=False, mininterval=5.0)
    for idx in batches:
        feats = _features(split, to_tensor(data.images[idx], mean_std), points)
        for p in points:
            f = feats[p].double().numpy()
            if p not in bases:
                bases[p] = BlockBasis((int(np.prod(f.shape[1:])), 1, 1) if p in flat else f.shape[1:])
            bases[p].update(f.reshape(f.shape[0], *bases[p].shape))
    return {p: b.fit() for p, b in bases.items()}


def _new_state(points, levels, n_groups: int) -> dict:
    return {"batch": 0, "counts": np.zeros(n_groups), "clean": np.zeros(n_groups),
            "sums": {p: {f: np.zeros((len(levels[p]), n_groups)) for f in FIELDS} for p in points}}


@torch.no_grad()
def evaluate_channels(split, data: ImageArrays, bases: dict[str, BlockBasis], levels: dict[str, np.ndarray], *,
                      n_groups: int = 50, seed: int = 0, mean_std="imagenet", batch_size: int = 250,
                      state: dict | None = None, checkpoint: Callable[[dict], None] | None = None,
                      every: int = 4, max_batches: int | None = None, progress: bool = True) -> dict:
    """Per-group sums of rate, distortion and correct predictions of the channel at every (point, level).

    Parameters
    ----------
    split : SplitTaskModel
        The frozen task model (e.g. :func:`split_cifar_resnet`).
    data : ImageArrays
        Held-out images (not those the bases were fitted on).
    bases, levels : dict point -> BlockBasis, dict point -> array (T,)
        Fitted bases and the water levels :math:`\\theta` to evaluate at each point.
    n_groups, seed : int
        Images are dealt into class-balanced groups (``balanced_groups(labels, n_groups, seed)``);
        ``seed`` also seeds the channel noise.
    state, checkpoint, every
        Resume from a previous ``state`` (as returned / checkpointed); ``checkpoint(state)`` is
        called every ``every`` batches.
    max_batches : int, optional
        Stop after this many batches in all (resume later with ``state``). Batches are a seeded
        random partition of ``data`` (``iterate_batches(..., shuffle=True, seed=seed)``), so the
        images done after any number of batches are a random subset, usable as they are.

    Returns
    -------
    dict
        ``counts`` (G,), ``clean`` (G,) correct predictions on clean features, ``sums[point][field]``
        (T, G) for ``field`` in :data:`FIELDS` (rate in bits, distortions summed over the
        point's elements), ``batch`` (batches done) and ``n_batches`` (in all).
    """
    points = _points(split, list(levels))
    missing = [p for p in points if p not in bases]
    if missing:
        raise ValueError(f"no fitted basis for points {missing}; fit_bases(...) over the same points first")
    levels = {p: np.atleast_1d(np.asarray(levels[p], dtype=np.float64)) for p in points}
    if len(data) < 2 * n_groups:
        raise ValueError(f"need at least 2 images per group: {len(data)} images for n_groups={n_groups}; "
                         f"lower n_groups")
    groups = balanced_groups(data.labels, n_groups, seed)
    st = state if state is not None else _new_state(points, levels, n_groups)
    batches = list(iterate_batches(len(data), batch_size, shuffle=True, seed=seed))
    st["n_batches"] = len(batches)
    todo = list(enumerate(batches))[st["batch"]:max_batches]
    if progress:
        from tqdm.auto import tqdm

        todo = tqdm(todo, desc="water-filling channels (held-out)", leave=False, mininterval=5.0)
    t0 = time.time()
    for b, idx in todo:
        y, g = data.labels[idx], groups[idx]
        feats = _features(split, to_tensor(data.images[idx], mean_std), points)
        np.add.at(st["counts"], g, 1.0)
        np.add.at(st["clean"], g, (feats["output"].argmax(1).numpy() == y).astype(float))
        for pi, p in enumerate(points):
            x = feats[p].numpy()
            basis, th = bases[p], levels[p]
            c = basis.forward(x.reshape(len(idx), *basis.shape))
            rate, dist = heldout_terms(c, basis.variances, th)
            sums = st["sums"][p]
            for t, theta in enumerate(th):
                rng = np.random.default_rng([seed, b, pi, t])
                ch = sample_channel(c, basis.variances, float(theta), rng.standard_normal(c.shape, dtype=np.float32))
                xh = basis.inverse(ch).reshape(x.shape)
                out = split.run(torch.from_numpy(np.ascontiguousarray(xh, dtype=np.float32)), p, taps=("output",))
                ok = (out["output"].argmax(1).numpy() == y).astype(float)
                err = np.square(xh.reshape(len(idx), -1).astype(np.float64) - x.reshape(len(idx), -1)).sum(1)
                for f, v in (("rate", rate[:, t]), ("distortion", dist[:, t]), ("realised", err), ("correct", ok)):
                    np.add.at(sums[f][t], g, v)
        st["batch"] = b + 1
        if checkpoint is not None and (st["batch"] % every == 0 or st["batch"] == len(batches)):
            checkpoint(st)
    st["seconds"] = st.get("seconds", 0.0) + time.time() - t0
    return st
