r"""The configuration of one codec-for-machines run (:class:`CodecConfig`), stored as plain data.

One :class:`CodecConfig` describes a run completely — task model, approach (full input /
model splitting / direct, paper Fig. 12), cut point, distillation points and distortion
(Eqs. 22–23), λ (and β for the scalable base layer), codec size, data subset, optimisation —
and is stored in every checkpoint and ``result.json`` as a plain dict (:meth:`CodecConfig.as_dict`)
whose paths are portable (relative to the repository or the data root, see
:mod:`rdtheory.vision.paths`), so a resumed run refuses a changed config and a committed run
reloads on another machine.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Figs. 12–14, Eqs. 22–23).
.. [2] J. Ballé, D. Minnen, S. Singh, S. J. Hwang and N. Johnston, "Variational image
   compression with a scale hyperprior", ICLR 2018.
"""
from __future__ import annotations

import dataclasses
import math

from ..vision.paths import portable_path

__all__ = ["CodecConfig", "PATH_FIELDS"]

#: Config fields that hold paths (recorded portably, resolved with :mod:`rdtheory.vision.paths`).
PATH_FIELDS = ("data_dir", "weights", "init_from", "out_dir")
#: Fields added after runs were committed: recorded only when not at their default.
OPTIONAL_FIELDS = ("cached_features", "val_n", "context_model")


@dataclasses.dataclass(frozen=True)
class CodecConfig:
    """Everything that determines a codec training run.

    Task and data: ``task`` (a key of :data:`rdtheory.codecs.tasks.TASKS`), ``data_dir``
    (default: the name ``cifar10-jpeg.zip`` under the data root), ``weights`` (default:
    ``cifar10-resnet-weights/resnet20-12fca82f.th`` under the data root), ``train_n``
    (class-stratified training subset; None = all), ``test_n`` (evaluation subset).
    Coding: ``approach`` (one of :data:`~rdtheory.codecs.system.APPROACHES`), ``cut``,
    ``distortion`` (one of :data:`~rdtheory.codecs.losses.DISTORTIONS`), ``layers`` (the
    distillation points; ``()`` for supervised), ``lmbda`` (λ > 0), ``beta`` (≥ 0, the
    scalable base layer's reconstruction reward), ``scalable`` (train a reconstruction head
    on the base latent). Codec size: ``latent_channels``, ``channels``, ``latent_downsample``
    (direct / full input), ``stride`` (model splitting), ``quant_step``, ``hyper_channels``.
    Optimisation: ``epochs``, ``batch_size``, ``lr``, ``aux_lr``, ``seed``; ``init_from`` = a
    ``model.pt`` to start from (a λ chain). ``cached_features`` (model splitting only): train on
    the front end's cut-point features computed once, with their horizontal flips
    (:func:`rdtheory.codecs.features.cut_features`; random crops are not applied). ``val_n``: after
    every epoch, the eval-mode rate estimate and top-1 on ``val_n`` fixed training images (0 = none).
    ``context_model`` (direct only): the paper's Fig. 14 entropy model with the autoregressive
    context (:class:`~rdtheory.codecs.context.ContextDirectCodec`; serial decoding).
    ``out_dir``: where checkpoints and results go.
    """

    task: str = "cifar10-resnet20"
    data_dir: str = "cifar10-jpeg.zip"
    weights: str = "cifar10-resnet-weights/resnet20-12fca82f.th"
    train_n: int | None = 10_000
    test_n: int | None = 2_000
    approach: str = "model_splitting"
    cut: str = "layer1"
    distortion: str = "supervised"
    layers: tuple = ()
    lmbda: float = 1.0
    beta: float = 0.0
    scalable: bool = False
    latent_channels: int = 16
    channels: int = 48
    latent_downsample: int = 4
    stride: int = 2
    quant_step: float = 1.0
    hyper_channels: int = 32
    epochs: int = 2
    batch_size: int = 64
    lr: float = 1e-3
    aux_lr: float = 1e-3
    seed: int = 0
    init_from: str | None = None
    cached_features: bool = False
    val_n: int = 0
    context_model: bool = False
    out_dir: str = "experiments/checkpoints/codecs/run"

    def validate(self) -> "CodecConfig":
        from .losses import DISTORTIONS
        from .system import APPROACHES
        from .tasks import TASKS

        if self.task not in TASKS:
            raise ValueError(f"task must be one of {sorted(TASKS)}; got {self.task!r}")
        if self.approach not in APPROACHES:
            raise ValueError(f"approach must be one of {APPROACHES}; got {self.approach!r}")
        if self.distortion not in DISTORTIONS:
            raise ValueError(f"distortion must be one of {DISTORTIONS}; got {self.distortion!r}")
        if not isinstance(self.layers, tuple):
            raise ValueError(f"layers must be a tuple of distillation-point names; got {self.layers!r}")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        for name in ("lr", "aux_lr", "lmbda"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a finite number > 0; got {v!r}")
        if self.cached_features and self.approach != "model_splitting":
            raise ValueError("cached_features=True caches g(X) at the cut point, which only a model-splitting codec "
                             "sees; set approach='model_splitting' or cached_features=False")
        if self.context_model and self.approach != "direct":
            raise ValueError("context_model=True is the direct codec's autoregressive entropy model (Fig. 14); set "
                             "approach='direct' or context_model=False")
        if isinstance(self.val_n, bool) or not isinstance(self.val_n, int) or self.val_n < 0:
            raise ValueError(f"val_n must be an int >= 0 (0 = no per-epoch validation); got {self.val_n!r}")
        if self.beta > 0 and not self.scalable:
            raise ValueError("beta > 0 rewards the reconstruction head of the scalable base layer; set scalable=True")
        if self.scalable and self.approach != "direct":
            raise ValueError("scalable=True builds the base layer on a direct codec; set approach='direct'")
        return self

    def as_dict(self) -> dict:
        """The plain-data form stored in checkpoints and ``result.json``: ``layers`` as a list,
        paths portable (:func:`rdtheory.vision.paths.portable_path`)."""
        d = dataclasses.asdict(self)
        d["layers"] = list(d["layers"])
        for k in PATH_FIELDS:
            d[k] = portable_path(d[k])
        for k in OPTIONAL_FIELDS:  # left out at their defaults: older runs' configs stay equal
            if d[k] == getattr(CodecConfig, k):
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CodecConfig":
        d = dict(d)  # configs written before cached_features/val_n existed get their defaults
        d["layers"] = tuple(d.get("layers", ()))
        return cls(**d)
