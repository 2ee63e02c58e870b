"""Training loop for the CIFAR classifiers: seeded, checkpointed every epoch, exactly resumable.

* SGD with momentum and weight decay; learning rate linear warm-up then cosine decay, set
  per step from ``(epoch, step)`` so a resumed run follows the same schedule.
* The data order and augmentation of epoch ``e`` depend only on ``(seed, e)`` (see
  :func:`rdtheory.vision.data.iterate_batches`), and the checkpoint holds model, optimizer
  and history, so stopping after any epoch and resuming gives the same weights as an
  uninterrupted run (tested bit-for-bit on CPU with one thread).
* ``out_dir/last.pt`` (full state, written atomically after every epoch),
  ``out_dir/metrics.json`` (config, per-epoch loss/accuracy/time, final test accuracy),
  ``out_dir/model.pt`` (weights only + config, small enough to commit for width ≤ 0.25).
* ``device="cpu"`` by default, ``"cuda"`` when asked; under ``torchrun`` (``WORLD_SIZE > 1``)
  it uses DistributedDataParallel (NCCL on CUDA, gloo on CPU), each rank taking every
  ``world_size``-th sample of the epoch's permutation; rank 0 writes the files.

Configs (:data:`CONFIGS`): ``paper`` (full width, 200 epochs, for a GPU), ``cpu-long``
(ResNet50 only: twice the data and one more epoch than ``cpu``) and ``cpu``
(width 0.25, a class-stratified subset of the training split and a few epochs, meant for
these 2 CPU cores at one thread in the background). ``train(TrainConfig(...))`` or
``python experiments/cifar_train.py --model vgg16_bn --config cpu``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._io import atomic_write_json
from .._torchrun import atomic_torch_save as _save, distributed as _dist, resolve_device as _resolve_device
from .data import SOURCES, augment, iterate_batches, load_dataset, to_tensor
from .models import MODELS, build_model

__all__ = ["TrainConfig", "CONFIGS", "config_for", "train", "evaluate", "load_trained"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (stored in every checkpoint and metrics file).

    ``train_per_class``: if set, train on a class-stratified subset with this many images per
    class (seed ``seed``); ``None`` = the whole training split. ``eval_per_class``: evaluate after each
    epoch on a stratified test subset of this size per class (the last epoch always uses the
    whole test split). ``mean_std``: a key of
    :data:`rdtheory.vision.data.MEAN_STD`.
    """

    model: str = "vgg16_bn"
    width: float = 1.0
    dataset: str = "cifar10-jpeg"
    data_dir: str = "/work/shared/data/cifar10-jpeg.zip"
    num_classes: int = 10
    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 1.0
    train_per_class: int | None = None
    eval_per_class: int | None = None
    mean_std: str = "jpeg"
    seed: int = 0
    out_dir: str = "experiments/checkpoints/run"
    cache_dir: str | None = ".cache/rdtheory"

    def validate(self) -> "TrainConfig":
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)}; got {self.model!r}")
        if self.dataset not in SOURCES:
            raise ValueError(f"dataset must be one of {SOURCES}; got {self.dataset!r}")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer; got {v}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr}")
        if self.train_per_class is not None and self.train_per_class < 1:
            raise ValueError(f"train_per_class must be None (all) or >= 1; got {self.train_per_class}")
        return self


#: Named configurations per model. ``cpu`` is sized for ~10 CPU-minutes each at one thread
#: (VGG16-bn width 0.25 trains at ~250 img/s, ResNet50 width 0.25 at ~50 img/s on one core
#: here); on the shared machine it got a fraction of a core, so it ran in the background.
CONFIGS = {
    ("vgg16_bn", "paper"): dict(width=1.0, epochs=200, lr=0.05, batch_size=128),
    ("resnet50", "paper"): dict(width=1.0, epochs=200, lr=0.1, batch_size=128),
    ("vgg16_bn", "cpu"): dict(width=0.25, epochs=5, lr=0.05, batch_size=128, train_per_class=2000,
                             eval_per_class=100),
    ("resnet50", "cpu"): dict(width=0.25, epochs=5, lr=0.1, batch_size=128, train_per_class=500,
                             eval_per_class=100),
    ("resnet50", "cpu-long"): dict(width=0.25, epochs=6, lr=0.1, batch_size=128, train_per_class=1000,
                                  eval_per_class=100),
}


def config_for(model: str, name: str = "cpu", **overrides) -> TrainConfig:
    """The named config (``paper`` or ``cpu``) for ``model``, with keyword overrides."""
    if (model, name) not in CONFIGS:
        raise ValueError(f"no config {name!r} for model {model!r}; known: {sorted(CONFIGS)}")
    return TrainConfig(model=model, **{**CONFIGS[(model, name)], **overrides}).validate()


def _lr_at(cfg: TrainConfig, epoch: int, step: int, steps: int) -> float:
    t = epoch + step / steps
    if t < cfg.warmup_epochs:
        return cfg.lr * (t + 1.0 / steps) / cfg.warmup_epochs
    frac = (t - cfg.warmup_epochs) / max(1e-9, cfg.epochs - cfg.warmup_epochs)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * min(1.0, frac)))


@torch.no_grad()
def evaluate(model: nn.Module, data, *, mean_std: str = "jpeg", batch_size: int = 500, device="cpu") -> dict:
    """Top-1 accuracy (fraction) and mean cross-entropy (nats) of ``model`` on an ImageArrays split."""
    model.eval()
    correct, loss, n = 0, 0.0, 0
    for idx in iterate_batches(len(data), batch_size):
        x = to_tensor(data.images[idx], mean_std, device=device)
        y = torch.from_numpy(data.labels[idx]).to(device)
        out = model(x)
        loss += float(F.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
        n += idx.size
    return {"accuracy": correct / n, "loss": loss / n, "n": n}


def train(cfg: TrainConfig, *, device: str | None = "cpu", resume: bool = True, progress: bool = True,
          max_epochs: int | None = None, train_data=None, test_data=None, log=None) -> dict:
    """Train (or resume) the run described by ``cfg``; returns the metrics dict (also in metrics.json).

    ``max_epochs`` stops after that many epochs *in this call* (the run stays resumable) —
    used by tests and for time-boxed background work. ``train_data``/``test_data``
    (ImageArrays) bypass loading from ``cfg.data_dir`` (tests).
    """
    cfg.validate()
    rank, world = _dist()
    dev = _resolve_device(device, rank)
    out = Path(cfg.out_dir)
    torch.manual_seed(cfg.seed)
    if train_data is None:
        train_data = load_dataset(cfg.dataset, cfg.data_dir, "train", cache_dir=cfg.cache_dir)
    if test_data is None:
        test_data = load_dataset(cfg.dataset, cfg.data_dir, "test", cache_dir=cfg.cache_dir)
    if cfg.train_per_class is not None:
        train_data = train_data.stratified(cfg.train_per_class * train_data.n_classes, seed=cfg.seed)
    if train_data.n_classes != cfg.num_classes:
        raise ValueError(f"num_classes={cfg.num_classes} but the data has {train_data.n_classes} classes; "
                         f"set num_classes={train_data.n_classes}")
    eval_subset = test_data
    if cfg.eval_per_class is not None:
        eval_subset = test_data.stratified(min(len(test_data), cfg.eval_per_class * test_data.n_classes), seed=cfg.seed)
    model = build_model(cfg.model, cfg.num_classes, cfg.width).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                          nesterov=True)
    history: list[dict] = []
    start = 0
    last = out / "last.pt"
    if resume and last.exists():
        state = torch.load(last, map_location=dev, weights_only=False)
        if state["config"] != dataclasses.asdict(cfg):
            diff = {k: (state["config"].get(k), v) for k, v in dataclasses.asdict(cfg).items()
                    if state["config"].get(k) != v}
            raise ValueError(f"{last} was made with a different config {diff} (saved, requested); use another "
                             f"out_dir or resume=False to start over")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, history = state["epoch"] + 1, state["history"]
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    stop = cfg.epochs if max_epochs is None else min(cfg.epochs, start + max_epochs)
    for epoch in range(start, stop):
        t0 = time.time()
        net.train()
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        batches = list(iterate_batches(len(train_data), cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch,
                                       rank=rank, world_size=world))
        tot_loss, tot_correct, tot_n = 0.0, 0, 0
        bar = None
        if progress and rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(batches), desc=f"{cfg.model} w={cfg.width} epoch {epoch + 1}/{cfg.epochs}",
                       leave=False, mininterval=5.0)
        for step, idx in enumerate(batches):
            for g in opt.param_groups:
                g["lr"] = _lr_at(cfg, epoch, step, len(batches))
            x = augment(to_tensor(train_data.images[idx], cfg.mean_std), gen).to(dev)
            y = torch.from_numpy(train_data.labels[idx]).to(dev)
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot_loss += float(loss.detach()) * idx.size
            tot_correct += int((logits.argmax(1) == y).sum())
            tot_n += idx.size
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{tot_loss / tot_n:.3f}", acc=f"{tot_correct / tot_n:.3f}", refresh=False)
        if bar is not None:
            bar.close()
        rec = {"epoch": epoch + 1, "train_loss": tot_loss / tot_n, "train_accuracy": tot_correct / tot_n,
               "lr_end": opt.param_groups[0]["lr"], "seconds": time.time() - t0}
        if rank == 0:
            full = epoch + 1 == cfg.epochs or cfg.eval_per_class is None
            ev = evaluate(model, test_data if full else eval_subset, mean_std=cfg.mean_std, device=dev)
            rec.update(test_accuracy=ev["accuracy"], test_loss=ev["loss"], test_n=ev["n"])
            history.append(rec)
            _save(last, {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                         "history": history, "config": dataclasses.asdict(cfg)})
            _write_metrics(out, cfg, history, finished=epoch + 1 == cfg.epochs)
            if log is not None:
                log(json.dumps(rec))
        if world > 1:
            torch.distributed.barrier()
    if rank == 0 and history and history[-1]["epoch"] == cfg.epochs:
        _save(out / "model.pt", {"model": {k: v.cpu() for k, v in model.state_dict().items()},
                                 "config": dataclasses.asdict(cfg), "metrics": history[-1]})
    return _metrics(cfg, history, finished=bool(history) and history[-1]["epoch"] == cfg.epochs)


def _metrics(cfg: TrainConfig, history: list[dict], finished: bool) -> dict:
    return {"config": dataclasses.asdict(cfg), "epochs_done": len(history), "finished": finished,
            "final_test_accuracy": history[-1]["test_accuracy"] if finished else None,
            "history": history,
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def _write_metrics(out: Path, cfg: TrainConfig, history: list[dict], finished: bool) -> None:
    atomic_write_json(out / "metrics.json", _metrics(cfg, history, finished))


def load_trained(path, device="cpu") -> tuple[nn.Module, TrainConfig]:
    """Load ``model.pt`` (or ``last.pt``) written by :func:`train`; returns (model in eval mode, config)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"checkpoint {str(p)!r} not found; train it first (experiments/cifar_train.py) or pass "
                         f"the path of a committed experiments/checkpoints/<run>/model.pt")
    state = torch.load(p, map_location=device, weights_only=False)
    cfg = TrainConfig(**state["config"])
    model = build_model(cfg.model, cfg.num_classes, cfg.width)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), cfg
