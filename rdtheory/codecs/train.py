r"""Training and evaluation of codecs for machines: seeded, checkpointed every epoch, resumable.

One :class:`CodecConfig` describes a run completely — task model, approach (full input /
model splitting / direct), cut point, distillation points and distortion, λ (and β for the
scalable base layer), codec size, data subset, optimisation — and is stored in every
checkpoint, so a resumed run refuses a changed config.

* :func:`build` makes the :class:`~rdtheory.codecs.system.MachineCodec` (and the scalable
  base layer's :class:`~rdtheory.codecs.scalable.ReconstructionHead`) from a config, using the
  task builders in :data:`TASKS` (CIFAR-10 ResNet-20 with the shipped weights; others can
  be registered).
* :func:`train_codec` — Adam on R + λD (+ β·MSE), CompressAI's auxiliary quantile loss on a
  second optimiser, cosine learning rate set per step from ``(epoch, step)``, the epoch's
  batch order and quantisation noise from ``(seed, epoch)``; ``out_dir/last.pt`` written atomically after every
  epoch (model, optimisers, history), so stopping after any epoch and resuming gives the
  same weights as an uninterrupted run; DDP under ``torchrun``; ``--device``.
* :func:`evaluate_codec` — real bitstreams: every test image is compressed to bytes and
  decoded, the back end runs on the decoded tensor; reports bits per pixel from the byte
  counts, the rate estimate, top-1 accuracy, and (scalable base) the PSNR of ``G_a(Ŷ_b)``.
* :func:`run` = train (resume) + evaluate, writing ``out_dir/result.json`` atomically; a
  finished run is not redone. :func:`lambda_sweep` chains runs over λ (each warm-started
  from the previous λ's weights when ``warm_start_epochs`` is set).

Rate unit: bits per input pixel (``B·H·W`` of the image), the paper's bpp.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from .._io import atomic_write_json
from .._torchrun import atomic_torch_save, distributed, resolve_device
from .direct import DirectCodec, full_input_codec
from .hyperprior import stream_bits
from .losses import DISTORTIONS, RateDistortionLoss
from .scalable import ReconstructionHead
from .splitting import ModelSplittingCodec
from .system import APPROACHES, MachineCodec, SplitTaskModel
from . import toy_task  # the circles/squares toy task (TASKS['toy'])

__all__ = ["CodecConfig", "TASKS", "TaskSpec", "build", "train_codec", "evaluate_codec", "run", "lambda_sweep",
           "load_codec"]

#: Default data paths: the environment variables the CIFAR claims use, else the shared data folder.
CIFAR10_ZIP = os.environ.get("RDTHEORY_CIFAR10_JPEG", "/work/shared/data/cifar10-jpeg.zip")
RESNET20_WEIGHTS = str(Path(os.environ.get("RDTHEORY_CIFAR_WEIGHTS", "/work/shared/data/cifar10-resnet-weights"))
                       / "resnet20-12fca82f.th")


@dataclasses.dataclass(frozen=True)
class CodecConfig:
    """Everything that determines a codec training run.

    Task and data: ``task`` (a key of :data:`TASKS`), ``data_dir``, ``weights``,
    ``train_n`` (class-stratified training subset; None = all), ``test_n`` (evaluation subset).
    Coding: ``approach`` (one of :data:`~rdtheory.codecs.system.APPROACHES`), ``cut``,
    ``distortion`` (one of :data:`~rdtheory.codecs.losses.DISTORTIONS`), ``layers`` (the
    distillation points; ``()`` for supervised), ``lmbda`` (λ > 0), ``beta`` (≥ 0, the
    scalable base layer's reconstruction reward), ``scalable`` (train a reconstruction head
    on the base latent). Codec size: ``latent_channels``, ``channels``, ``latent_downsample``
    (direct / full input), ``stride`` (model splitting), ``quant_step``, ``hyper_channels``.
    Optimisation: ``epochs``, ``batch_size``, ``lr``, ``aux_lr``, ``seed``; ``init_from`` = a
    ``model.pt`` to start from (a λ chain). ``out_dir``: where checkpoints and results go.
    """

    task: str = "cifar10-resnet20"
    data_dir: str = CIFAR10_ZIP
    weights: str = RESNET20_WEIGHTS
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
    out_dir: str = "experiments/checkpoints/codecs/run"

    def validate(self) -> "CodecConfig":
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
        if self.beta > 0 and not self.scalable:
            raise ValueError("beta > 0 rewards the reconstruction head of the scalable base layer; set scalable=True")
        if self.scalable and self.approach != "direct":
            raise ValueError("scalable=True builds the base layer on a direct codec; set approach='direct'")
        return self

    @classmethod
    def from_dict(cls, d: dict) -> "CodecConfig":
        d = dict(d)
        d["layers"] = tuple(d.get("layers", ()))
        return cls(**d)


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A task registered in :data:`TASKS`: how to build the frozen model and load the data.

    ``model(cfg) -> SplitTaskModel``; ``data(cfg, split) -> (x float tensor (N, ...), labels int64 (N,))``
    with ``x`` already normalised for the task model; ``pixels_per_sample`` = H·W of an input
    (the rate unit is bits per pixel); ``to_pixels(x)`` maps normalised inputs back to [0, 1]
    pixels (for PSNR). ``codec(cfg, task, x_example)``, if given, builds the codec (e.g. a
    vector codec for a non-image task) instead of the image codecs of :func:`build`.
    """

    model: Callable[[CodecConfig], SplitTaskModel]
    data: Callable[[CodecConfig, str], tuple[torch.Tensor, torch.Tensor]]
    pixels_per_sample: Callable[[torch.Tensor], int]
    to_pixels: Callable[[torch.Tensor], torch.Tensor] | None = None
    codec: Callable | None = None


def _cifar_model(cfg: CodecConfig) -> SplitTaskModel:
    from ..vision.models import load_pretrained_cifar_resnet

    if not Path(cfg.weights).is_file():
        raise ValueError(f"weights file {cfg.weights!r} not found; pass the shipped resnet20-12fca82f.th "
                         f"(shared/data/cifar10-resnet-weights/)")
    return SplitTaskModel.from_cifar_resnet(load_pretrained_cifar_resnet(cfg.weights))


def _cifar_data(cfg: CodecConfig, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from ..vision.data import load_cifar10_jpeg, to_tensor

    data = load_cifar10_jpeg(cfg.data_dir, split)
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


def _make_codec(cfg: CodecConfig, task: SplitTaskModel, x_example: torch.Tensor) -> nn.Module:
    if cfg.approach == "full_input":
        return full_input_codec(x_example.shape[1], latent_channels=cfg.latent_channels, channels=cfg.channels,
                                latent_downsample=cfg.latent_downsample, quant_step=cfg.quant_step,
                                hyper_channels=cfg.hyper_channels)
    with torch.no_grad():
        y = task.run(x_example, taps=(cfg.cut,))[cfg.cut]
    if cfg.approach == "model_splitting":
        return ModelSplittingCodec(y.shape[1], cfg.latent_channels, stride=cfg.stride, quant_step=cfg.quant_step,
                                   hyper_channels=cfg.hyper_channels)
    ratio = x_example.shape[-1] // y.shape[-1]
    return DirectCodec(x_example.shape[1], y.shape[1], out_downsample=ratio, latent_channels=cfg.latent_channels,
                       channels=cfg.channels, latent_downsample=cfg.latent_downsample, quant_step=cfg.quant_step,
                       hyper_channels=cfg.hyper_channels)


class CodecRun(nn.Module):
    """The trainable parts of a run: the machine codec and, for the scalable base, ``G_a``."""

    def __init__(self, system: MachineCodec, head: ReconstructionHead | None):
        super().__init__()
        self.system = system
        self.head = head

    def forward(self, x: torch.Tensor, labels: torch.Tensor, loss: RateDistortionLoss, pixels: int) -> dict:
        """The loss terms on one batch (:func:`loss_terms`); a forward so DDP can wrap it."""
        return loss_terms(self, loss, x, labels, pixels)


def build(cfg: CodecConfig, x_example: torch.Tensor) -> tuple[CodecRun, RateDistortionLoss]:
    """The run's model (:class:`CodecRun`) and loss from ``cfg`` (``x_example``: one input batch)."""
    cfg.validate()
    task = TASKS[cfg.task].model(cfg)
    for layer in cfg.layers:
        if task.index(layer) < task.index(cfg.cut):
            raise ValueError(f"distillation point {layer!r} is shallower than the cut point {cfg.cut!r}")
    loss = RateDistortionLoss(cfg.lmbda, cfg.distortion, cfg.layers, beta=cfg.beta)
    make_codec = TASKS[cfg.task].codec or _make_codec
    system = MachineCodec(make_codec(cfg, task, x_example), task, cfg.approach, cfg.cut)
    head = None
    if cfg.scalable:
        head = ReconstructionHead(cfg.latent_channels, out_channels=x_example.shape[1], channels=cfg.channels,
                                  upsample=cfg.latent_downsample)
    return CodecRun(system, head), loss


def loss_terms(model: CodecRun, loss: RateDistortionLoss, x: torch.Tensor, labels: torch.Tensor,
               pixels: int) -> dict:
    """R + λD (+ β·MSE) on one batch: codec forward, back end to the distillation points."""
    system = model.system
    out = system(x)
    taps = loss.layers if loss.distortion != "supervised" else ("output",)
    estimates = system.back_end(out["cut"], taps)
    with torch.no_grad():
        targets = system.task.run(x, taps=taps) if loss.distortion != "supervised" else None
    reconstruction = None
    if loss.beta > 0:
        reconstruction = (model.head(out["z_hat"] * system.codec.quant_step), x)
    return loss(out["likelihoods"], pixels * x.shape[0], targets=targets, estimates=estimates,
                logits=estimates.get("output"), labels=labels, reconstruction=reconstruction)


def _lr_at(cfg: CodecConfig, epoch: int, step: int, steps: int) -> float:
    t = (epoch + step / steps) / cfg.epochs
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * min(1.0, t)))


def _param_groups(model: CodecRun):
    main = [p for n, p in model.named_parameters() if p.requires_grad and not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    return main, aux


def _batches(n: int, batch_size: int, seed: int, epoch: int, rank: int, world: int):
    from ..vision.data import iterate_batches

    return list(iterate_batches(n, batch_size, shuffle=True, seed=seed, epoch=epoch, rank=rank, world_size=world,
                                drop_last=n >= batch_size * world))


def train_codec(cfg: CodecConfig, *, device: str | None = "cpu", resume: bool = True, progress: bool = True,
                max_epochs: int | None = None, data=None, log: Callable[[str], None] | None = None) -> dict:
    """Train (or resume) ``cfg``; returns ``{"config", "history", "finished"}`` (also ``out_dir/metrics.json``).

    ``data``: optional ``(x, labels)`` training tensors (tests); otherwise the task's loader.
    ``max_epochs`` stops after that many epochs in this call (the run stays resumable).
    """
    cfg.validate()
    rank, world = distributed()
    dev = resolve_device(device, rank)
    out = Path(cfg.out_dir)
    spec = TASKS[cfg.task]
    x_all, y_all = data if data is not None else spec.data(cfg, "train")
    torch.manual_seed(cfg.seed)
    model, loss = build(cfg, x_all[:2])
    if cfg.init_from:
        _load_portable(model, _load_state(cfg.init_from)["model"], cfg.init_from, new_head_ok=True)
    model.to(dev)
    main, aux = _param_groups(model)
    opt, aux_opt = torch.optim.Adam(main, lr=cfg.lr), torch.optim.Adam(aux, lr=cfg.aux_lr)
    history: list[dict] = []
    start = 0
    last = out / "last.pt"
    if resume and last.exists():
        state = _load_state(last, dev)
        if state["config"] != _config_dict(cfg):
            diff = {k: (state["config"].get(k), v) for k, v in _config_dict(cfg).items() if state["config"].get(k) != v}
            raise ValueError(f"{last} was made with a different config {diff} (saved, requested); use another "
                             "out_dir or resume=False")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        aux_opt.load_state_dict(state["aux_optimizer"])
        start, history = state["epoch"] + 1, state["history"]
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None, find_unused_parameters=True)
    pixels = spec.pixels_per_sample(x_all)
    stop = cfg.epochs if max_epochs is None else min(cfg.epochs, start + max_epochs)
    for epoch in range(start, stop):
        t0 = time.time()
        model.train()
        torch.manual_seed(cfg.seed * 100_003 + epoch)  # the quantisation noise of epoch e depends only on (seed, e)
        batches = _batches(len(x_all), cfg.batch_size, cfg.seed, epoch, rank, world)
        sums = {"loss": 0.0, "rate_bpp": 0.0, "distortion": 0.0}
        bar = _bar(progress and rank == 0, len(batches), f"{Path(cfg.out_dir).name} epoch {epoch + 1}/{cfg.epochs}")
        for step, idx in enumerate(batches):
            for g in opt.param_groups:
                g["lr"] = _lr_at(cfg, epoch, step, len(batches))
            idx_t = torch.from_numpy(idx)
            terms = net(x_all[idx_t].to(dev), y_all[idx_t].to(dev), loss, pixels)
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            nn.utils.clip_grad_norm_(main, 1.0)
            opt.step()
            aux_loss = model.system.codec.aux_loss()
            aux_opt.zero_grad(set_to_none=True)
            aux_loss.backward()
            aux_opt.step()
            for k in sums:
                sums[k] += float(terms[k].detach()) / len(batches)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(terms['loss']):.3f}", bpp=f"{float(terms['rate_bpp']):.3f}",
                                refresh=False)
        if bar is not None:
            bar.close()
        rec = {"epoch": epoch + 1, **{f"train_{k}": v for k, v in sums.items()}, "seconds": time.time() - t0}
        history.append(rec)
        if rank == 0:
            atomic_torch_save(last, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                     "aux_optimizer": aux_opt.state_dict(), "epoch": epoch, "history": history,
                                     "config": _config_dict(cfg)})
            atomic_write_json(out / "metrics.json", _metrics(cfg, history))
            if log is not None:
                log(json.dumps(rec))
        if world > 1:
            torch.distributed.barrier()
    finished = bool(history) and history[-1]["epoch"] == cfg.epochs
    if rank == 0 and finished:
        model.eval()
        model.system.codec.update(force=True)
        atomic_torch_save(out / "model.pt", {"model": portable_state(model), "config": _config_dict(cfg),
                                             "history": history})
    return _metrics(cfg, history)


def _bar(on: bool, total: int, desc: str):
    if not on:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, mininterval=5.0)


def _config_dict(cfg: CodecConfig) -> dict:
    d = dataclasses.asdict(cfg)
    d["layers"] = list(d["layers"])
    return d


def _metrics(cfg: CodecConfig, history: list[dict]) -> dict:
    return {"config": _config_dict(cfg), "history": history,
            "finished": bool(history) and history[-1]["epoch"] == cfg.epochs,
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def _load_state(path, device="cpu") -> dict:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"checkpoint {str(p)!r} not found; train the run first (rdtheory.codecs.train.run) or "
                         "pass the path of a committed model.pt")
    return torch.load(p, map_location=device, weights_only=False)


#: Entropy-coder buffers that ``update(force=True)`` derives from the parameters (not stored).
CODER_TABLES = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")


def _derived(key: str) -> bool:
    """Frozen task-model weights (they come from ``cfg.weights``) and the coder's derived tables."""
    return key.startswith("system.task.") or key.rpartition(".")[2] in CODER_TABLES


def portable_state(model: nn.Module) -> dict:
    """What ``model.pt`` stores: the trained weights only (small enough to commit)."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if not _derived(k)}


def _load_portable(model: "CodecRun", state: dict, source, *, new_head_ok: bool = False) -> None:
    """Load trained weights; anything missing must be derived (or, for ``new_head_ok``, a fresh head)."""
    state = {k: v for k, v in state.items() if not _derived(k)}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(f"{source!r} does not fit this config: {err}") from None
    bad = [k for k in missing if not _derived(k) and not (new_head_ok and k.startswith("head."))]
    if unexpected or bad:
        raise ValueError(f"{source!r} does not fit this config (missing {bad}, unexpected {unexpected})"
                         + ("; only a scalable head may be new" if new_head_ok else ""))


def load_codec(path, x_example: torch.Tensor, device="cpu") -> tuple[CodecRun, RateDistortionLoss, CodecConfig]:
    """Load ``model.pt`` written by :func:`train_codec`, rebuild the coder tables, eval mode."""
    state = _load_state(path, device)
    cfg = CodecConfig.from_dict(state["config"])
    model, loss = build(cfg, x_example)
    _load_portable(model, state["model"], str(path))
    model.eval()
    model.system.codec.update(force=True)
    return model.to(device), loss, cfg


@torch.no_grad()
def evaluate_codec(model: CodecRun, x: torch.Tensor, labels: torch.Tensor, *, pixels_per_sample: int,
                   to_pixels: Callable | None = None, batch_size: int = 100, device="cpu") -> dict:
    """Real-bitstream evaluation on ``(x, labels)``.

    Each sample is compressed to its own byte strings (latent + side stream) and decoded; the
    back end runs on the *decoded* tensor. Returns ``bpp`` (bytes·8 / pixels, the coder's
    per-stream flush included), ``bpp_estimate`` (Σ −log2 likelihoods in eval mode),
    ``accuracy`` (top-1 against ``labels``), ``n``, ``decode_exact`` (decoded tensor equals
    the eval-mode forward output, max |difference|), and ``psnr_db`` of the base layer's
    reconstruction ``G_a(Ŷ_b)`` when the run has a head (pixels via ``to_pixels``, peak 1).
    """
    model.eval()
    system = model.system
    codec = system.codec
    if codec.entropy_bottleneck._offset.numel() == 0:
        codec.update(force=True)
    bits, est, correct, n, max_diff, sq_err, n_px = 0, 0.0, 0, 0, 0.0, 0.0, 0
    for s in range(0, len(x), batch_size):
        xb, yb = x[s:s + batch_size].to(device), labels[s:s + batch_size].to(device)
        enc_in = system.encoder_input(xb)
        comp = codec.compress(enc_in)
        bits += sum(stream_bits(comp))
        dec = codec.decompress(comp["strings"], comp["shape"])
        fwd = codec(enc_in)
        est += float(sum(-torch.log2(p).sum() for p in fwd["likelihoods"].values()))
        max_diff = max(max_diff, float((dec["output"] - fwd["output"]).abs().max()))
        logits = system.back_end(dec["output"], ("output",))["output"]
        correct += int((logits.argmax(1) == yb).sum())
        n += len(xb)
        if model.head is not None and to_pixels is not None:
            rec = to_pixels(model.head(dec["z_hat"] * codec.quant_step)).clamp(0, 1)
            sq_err += float((rec - to_pixels(xb)).pow(2).sum())
            n_px += rec.numel()
    res = {"bpp": bits / (n * pixels_per_sample), "bpp_estimate": est / (n * pixels_per_sample),
           "accuracy": correct / n, "n": n, "decode_max_abs_diff": max_diff}
    if n_px:
        res["psnr_db"] = 10 * math.log10(1.0 / (sq_err / n_px))
    return res


def fit_reconstruction_head(model: CodecRun, cfg: CodecConfig, x: torch.Tensor, *, epochs: int = 2,
                            lr: float = 1e-3, device="cpu", progress: bool = True) -> list[float]:
    """Train a fresh ``G_a`` on the *frozen* base latent by MSE (the β = 0 baseline's reconstruction,
    and a fair re-fit for every β): measures how well ``Ŷ_b`` can reconstruct ``X``.
    Returns the per-epoch mean MSE (normalised-input units)."""
    torch.manual_seed(cfg.seed + 1)
    model.head = ReconstructionHead(cfg.latent_channels, out_channels=x.shape[1], channels=cfg.channels,
                                    upsample=cfg.latent_downsample).to(device)
    codec = model.system.codec
    codec.eval()
    opt = torch.optim.Adam(model.head.parameters(), lr=lr)
    curve = []
    for epoch in range(epochs):
        tot = 0.0
        batches = _batches(len(x), cfg.batch_size, cfg.seed + 7, epoch, 0, 1)
        bar = _bar(progress, len(batches), f"G_a re-fit epoch {epoch + 1}/{epochs}")
        for step, idx in enumerate(batches):
            for g in opt.param_groups:
                g["lr"] = 0.5 * lr * (1 + math.cos(math.pi * (epoch + step / len(batches)) / epochs))
            xb = x[torch.from_numpy(idx)].to(device)
            with torch.no_grad():
                z = torch.round(codec.g_a(xb) / codec.quant_step) * codec.quant_step
            mse = (model.head(z) - xb).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            mse.backward()
            opt.step()
            tot += float(mse.detach()) / len(batches)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        curve.append(tot)
    model.head.eval()
    return curve


def run(cfg: CodecConfig, *, device: str | None = "cpu", progress: bool = True, refit_head_epochs: int = 0,
        test=None, train=None) -> dict:
    """Train (resuming) and evaluate ``cfg``; writes and returns ``out_dir/result.json``.

    A run whose ``result.json`` exists with the same config is returned as is. For the
    scalable base layer, ``refit_head_epochs > 0`` re-fits ``G_a`` from scratch on the frozen
    base before measuring PSNR (see :func:`fit_reconstruction_head`).
    """
    out = Path(cfg.out_dir)
    res_path = out / "result.json"
    if res_path.exists():
        res = json.loads(res_path.read_text())
        if res.get("config") == _config_dict(cfg):
            return res
    spec = TASKS[cfg.task]
    train = train if train is not None else spec.data(cfg, "train")
    t0 = time.time()
    metrics = train_codec(cfg, device=device, progress=progress, data=train)
    if not metrics["finished"] or distributed()[0] != 0:  # under DDP rank 0 evaluates and writes
        return metrics
    dev = resolve_device(device)
    x_test, y_test = test if test is not None else spec.data(cfg, "test")
    model, _, _ = load_codec(out / "model.pt", x_test[:2], device=dev)
    head_curve = None
    if cfg.scalable and refit_head_epochs:
        head_curve = fit_reconstruction_head(model, cfg, train[0], epochs=refit_head_epochs, device=dev,
                                             progress=progress)
    ev = evaluate_codec(model, x_test, y_test, pixels_per_sample=spec.pixels_per_sample(x_test),
                        to_pixels=spec.to_pixels, device=dev)
    res = {"config": _config_dict(cfg), **ev, "train_history": metrics["history"],
           "head_refit_mse": head_curve, "seconds": time.time() - t0}
    atomic_write_json(res_path, res)
    return res


def lambda_sweep(cfg: CodecConfig, lmbdas: Sequence[float], *, warm_start_epochs: int | None = None,
                 run_fn=run, **kwargs) -> list[dict]:
    """Run ``cfg`` at each λ in ``lmbdas`` (in order) under ``out_dir/lmbda=<λ>``.

    With ``warm_start_epochs``, every λ after the first starts from the previous λ's
    ``model.pt`` and trains that many epochs (the usual fine-tuning chain; recorded in
    each config's ``init_from``). Finished λs are skipped, so a stopped sweep resumes.
    """
    if not lmbdas or any(not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0) for v in lmbdas):
        raise ValueError(f"lmbdas must be a non-empty list of finite numbers > 0; got {lmbdas!r}")
    results, prev = [], None
    for lm in lmbdas:
        sub = dataclasses.replace(cfg, lmbda=float(lm), out_dir=str(Path(cfg.out_dir) / f"lmbda={lm:g}"))
        if prev is not None and warm_start_epochs:
            sub = dataclasses.replace(sub, init_from=str(Path(prev) / "model.pt"), epochs=warm_start_epochs)
        results.append(run_fn(sub, **kwargs))
        prev = sub.out_dir
    return results
