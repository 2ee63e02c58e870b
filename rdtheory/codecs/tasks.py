r"""The task registry of codec training: which frozen task model, which data, which rate unit.

:data:`TASKS` maps a name to a :class:`TaskSpec`:

* ``"cifar10-resnet20"`` — the shipped CIFAR-10 ResNet-20 (He et al. [2]_, weights of
  Idelbayev) split at ``layer1``–``layer3`` (:class:`~rdtheory.codecs.system.SplitTaskModel`),
  on CIFAR-10 normalised with the ImageNet mean/std the weights were trained with; the
  rate unit is bits per input pixel (the paper's bpp, Figs. 12–14 of [1]_). Data and
  weights are found with :func:`rdtheory.vision.paths.find_data`.
* ``"toy"`` — the circles/squares toy of Sec. III-B.1 (:mod:`rdtheory.codecs.toy_task`),
  rate in bits per sample.

Register another with ``TASKS["name"] = TaskSpec(...)``.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023.
.. [2] K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
   CVPR 2016.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

import torch

from . import toy_task
from .system import SplitTaskModel

if TYPE_CHECKING:
    from .config import CodecConfig

__all__ = ["TASKS", "TaskSpec"]


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A task registered in :data:`TASKS`: how to build the frozen model and load the data.

    ``model(cfg) -> SplitTaskModel``; ``data(cfg, split) -> (x float tensor (N, ...), labels int64 (N,))``
    with ``x`` already normalised for the task model; ``pixels_per_sample`` = H·W of an input
    (the rate unit is bits per pixel); ``to_pixels(x)`` maps normalised inputs back to [0, 1]
    pixels (for PSNR). ``codec(cfg, task, x_example)``, if given, builds the codec (e.g. a
    vector codec for a non-image task) instead of the image codecs of
    :func:`rdtheory.codecs.train.build`.
    """

    model: Callable[["CodecConfig"], SplitTaskModel]
    data: Callable[["CodecConfig", str], tuple[torch.Tensor, torch.Tensor]]
    pixels_per_sample: Callable[[torch.Tensor], int]
    to_pixels: Callable[[torch.Tensor], torch.Tensor] | None = None
    codec: Callable | None = None


def _cifar_model(cfg: "CodecConfig") -> SplitTaskModel:
    from ..vision.models import load_pretrained_cifar_resnet
    from ..vision.paths import find_data

    return SplitTaskModel.from_cifar_resnet(load_pretrained_cifar_resnet(find_data(cfg.weights, what="weights")))


def _cifar_data(cfg: "CodecConfig", split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from ..vision.data import load_cifar10_jpeg, to_tensor
    from ..vision.paths import find_data

    from .._io import cache_dir

    # decoded once into the user cache (keyed by the zip's path, size and mtime): 50,000 JPEGs take minutes
    data = load_cifar10_jpeg(find_data(cfg.data_dir, what="data_dir"), split, cache_dir=cache_dir("data"))
    n = cfg.train_n if split == "train" else cfg.test_n
    if n is not None and n < len(data):
        data = data.stratified(n, seed=cfg.seed if split == "train" else 0)
    return to_tensor(data.images, "imagenet"), torch.from_numpy(data.labels).long()


def _imagenet_to_pixels(x: torch.Tensor) -> torch.Tensor:
    from ..vision.data import MEAN_STD

    mean, std = (torch.tensor(v, dtype=x.dtype, device=x.device).view(1, 3, 1, 1) for v in MEAN_STD["imagenet"])
    return x * std + mean


#: Registered tasks; add one with ``TASKS["name"] = TaskSpec(...)``.
TASKS: dict[str, TaskSpec] = {
    "cifar10-resnet20": TaskSpec(_cifar_model, _cifar_data, lambda x: int(x.shape[-2] * x.shape[-1]),
                                 _imagenet_to_pixels),
    "toy": TaskSpec(toy_task.model, toy_task.data, toy_task.pixels_per_sample, codec=toy_task.codec),
}
