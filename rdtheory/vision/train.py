"""Training of the CIFAR classifiers: seeded, checkpointed every epoch, exactly resumable.

* SGD with Nesterov momentum and weight decay; learning rate linear warm-up then cosine
  decay, set per step from ``(epoch, step)`` so a resumed run follows the same schedule.
* The data order and augmentation of epoch ``e`` depend only on ``(seed, e)`` (see
  :func:`rdtheory.vision.data.iterate_batches`); the loop, checkpoints, resume and DDP are
  those of :func:`rdtheory._training.fit`, so stopping after any epoch and resuming gives
  the same weights as an uninterrupted run (tested bit-for-bit on CPU with one thread).
* ``out_dir/last.pt`` (full state, written atomically after every epoch),
  ``out_dir/metrics.json`` (config, per-epoch loss/accuracy/time, final test accuracy),
  ``out_dir/model.pt`` (weights + plain-data config, small enough to commit for width ≤ 0.25;
  read back with ``weights_only=True`` by :func:`load_trained`).
* ``device="cpu"`` by default, ``"cuda"`` when asked; under ``torchrun`` (``WORLD_SIZE > 1``)
  it uses DistributedDataParallel (NCCL on CUDA, gloo on CPU), each rank taking every
  ``world_size``-th sample of the epoch's permutation; rank 0 evaluates and writes the files.

Configs: :mod:`rdtheory.vision.config` (``TrainConfig``, ``CONFIGS``, ``config_for``).
``train(config_for("vgg16_bn", "cpu"))`` or ``rdtheory train --model vgg16_bn --config cpu``.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023.
.. [2] K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
   CVPR 2016.
.. [3] K. Simonyan and A. Zisserman, "Very deep convolutional networks for large-scale image
   recognition", ICLR 2015.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._training import distributed, fit, load_checkpoint, progress_bar, resolve_device, wrap_ddp
from .config import CONFIGS, TrainConfig, config_for
from .data import augment, iterate_batches, load_dataset, to_tensor
from .models import build_model

__all__ = ["TrainConfig", "CONFIGS", "config_for", "train", "evaluate", "load_trained"]


def _cache(cfg: TrainConfig):
    """Where decoded splits are cached: ``"user"`` is the user cache dir, ``None`` none."""
    from .._io import cache_dir

    return cache_dir("data") if cfg.cache_dir == "user" else cfg.cache_dir


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
          max_epochs: int | None = None, train_data=None, test_data=None, log=None, download: bool = False) -> dict:
    """Train (or resume) the run described by ``cfg``; returns the metrics dict (also in metrics.json).

    ``max_epochs`` stops after that many epochs *in this call* (the run stays resumable) —
    used by tests and for time-boxed background work. ``train_data``/``test_data``
    (ImageArrays) bypass loading from ``cfg.data_dir`` (tests). ``download`` lets
    ``cifar10``/``cifar100`` be fetched when absent (:func:`rdtheory.vision.data.load_dataset`).
    """
    cfg.validate()
    rank, world = distributed()
    dev = resolve_device(device, rank)
    torch.manual_seed(cfg.seed)
    if train_data is None:
        train_data = load_dataset(cfg.dataset, cfg.data_dir, "train", cache_dir=_cache(cfg), download=download)
    if test_data is None:
        test_data = load_dataset(cfg.dataset, cfg.data_dir, "test", cache_dir=_cache(cfg), download=download)
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
    net = wrap_ddp(model, dev, world)
    config = cfg.as_dict()

    def epoch_fn(epoch: int, gen: torch.Generator) -> dict:
        net.train()
        batches = list(iterate_batches(len(train_data), cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch,
                                       rank=rank, world_size=world))
        tot_loss, tot_correct, tot_n = 0.0, 0, 0
        bar = progress_bar(progress and rank == 0, len(batches),
                           f"{cfg.model} w={cfg.width} epoch {epoch + 1}/{cfg.epochs}")
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
        return {"train_loss": tot_loss / tot_n, "train_accuracy": tot_correct / tot_n,
                "lr_end": opt.param_groups[0]["lr"]}

    def eval_fn(epoch: int) -> dict:
        full = epoch + 1 == cfg.epochs or cfg.eval_per_class is None
        ev = evaluate(model, test_data if full else eval_subset, mean_std=cfg.mean_std, device=dev)
        return {"test_accuracy": ev["accuracy"], "test_loss": ev["loss"], "test_n": ev["n"]}

    def final_fn(history: list) -> dict:
        return {"model": {k: v.cpu() for k, v in model.state_dict().items()}, "config": config,
                "metrics": history[-1]}

    history = fit(out_dir=cfg.out_dir, config=config, parts={"model": model, "optimizer": opt}, epochs=cfg.epochs,
                  seed=cfg.seed, epoch_fn=epoch_fn, eval_fn=eval_fn, metrics_fn=lambda h: _metrics(cfg, h),
                  final_fn=final_fn, device=dev, resume=resume, max_epochs=max_epochs, rank=rank, world=world,
                  log=log)
    return _metrics(cfg, history)


def _metrics(cfg: TrainConfig, history: list[dict]) -> dict:
    finished = bool(history) and history[-1]["epoch"] == cfg.epochs
    return {"config": cfg.as_dict(), "epochs_done": len(history), "finished": finished,
            "final_test_accuracy": history[-1].get("test_accuracy") if finished else None,
            "history": history,
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def load_trained(path, device="cpu") -> tuple[nn.Module, TrainConfig]:
    """Load ``model.pt`` (or ``last.pt``) written by :func:`train`; returns (model in eval mode, config).

    Read with ``weights_only=True`` (:func:`rdtheory._training.load_checkpoint`): a file that
    would run code when unpickled is refused with a ``ValueError``.
    """
    state = load_checkpoint(path, map_location=device)
    cfg = TrainConfig(**state["config"])
    model = build_model(cfg.model, cfg.num_classes, cfg.width)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), cfg
