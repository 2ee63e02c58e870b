"""The one resumable training loop of the torch side, and its safe checkpoint format.

Torch only; ``import rdtheory`` never imports this module. Used by
:func:`rdtheory.vision.train.train` (CIFAR classifiers) and
:func:`rdtheory.codecs.train.train_codec` (codecs for machines).

The loop (:func:`fit`)
----------------------
* Resume: ``out_dir/last.pt`` holds the state of every stateful part (model, optimisers),
  the finished epoch and the history; a saved config that differs from the requested one is
  refused with the differing fields (:func:`config_diff`).
* Seeding: epoch ``e`` starts with ``torch.manual_seed(seed · 100003 + e)`` and gets a CPU
  ``torch.Generator`` with the same seed, so its randomness (augmentation, quantisation
  noise) depends only on ``(seed, e)``; with the data order of
  :func:`rdtheory.vision.data.iterate_batches` this makes a resumed run bit-identical to an
  uninterrupted one (tested on CPU with one thread).
* Saving: after every epoch rank 0 writes ``last.pt`` and ``metrics.json`` atomically
  (temporary file + rename); all ranks then meet at a barrier. Under ``torchrun``
  (``WORLD_SIZE > 1``) the caller's model is wrapped in DistributedDataParallel
  (:func:`wrap_ddp`; NCCL on CUDA, gloo on CPU).

Checkpoints (:func:`save_checkpoint`, :func:`load_checkpoint`)
--------------------------------------------------------------
A checkpoint is a ``torch.save`` of plain data only — tensors, ``dict``/``list``/``tuple``,
``str``/``int``/``float``/``bool``/``None`` — tagged ``"format": FORMAT``, and it is read with
``torch.load(..., weights_only=True)``, whose unpickler rebuilds only those types. A file
whose pickle would import or call anything else (e.g. an object with a ``__reduce__`` that
runs a shell command) is refused with a ``ValueError`` before any of it runs. Configs are
stored as plain dicts with portable paths (:func:`rdtheory.vision.paths.portable_path`).
"""
from __future__ import annotations

import io
import math
import os
import pickle
import time
from pathlib import Path
from typing import Callable

import torch

from ._io import atomic_write_bytes, atomic_write_json

__all__ = ["FORMAT", "distributed", "resolve_device", "wrap_ddp", "save_checkpoint", "load_checkpoint",
           "config_diff", "epoch_seed", "progress_bar", "shuffled_batches", "fit"]

#: Tag stored in every checkpoint this package writes.
FORMAT = "rdtheory-checkpoint-1"
_PRIMITIVES = (str, int, float, bool, type(None))


# ----------------------------------------------------------------------------- devices and DDP
def distributed() -> tuple[int, int]:
    """``(rank, world_size)``; under ``torchrun`` (``WORLD_SIZE > 1``) initialise the process group
    (NCCL on CUDA, gloo on CPU) on first use."""
    ws = int(os.environ.get("WORLD_SIZE", "1"))
    if ws <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def resolve_device(device: str | None, rank: int = 0) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:<i>"`` or ``"auto"``/None (CUDA when available); under
    torchrun each rank takes its ``LOCAL_RANK`` GPU."""
    if device in (None, "", "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available; pass --device cpu")
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            local = int(os.environ.get("LOCAL_RANK", rank))
            torch.cuda.set_device(local)
            return torch.device("cuda", local)
    elif device != "cpu":
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:<i>' or 'auto'; got {device!r}")
    return torch.device(device)


def wrap_ddp(model: torch.nn.Module, device: torch.device, world: int, **kwargs) -> torch.nn.Module:
    """``model`` itself on one process, DistributedDataParallel around it under torchrun."""
    if world <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None, **kwargs)


# ----------------------------------------------------------------------------- checkpoints
def _check_plain(obj, where: str = "checkpoint") -> None:
    if isinstance(obj, torch.Tensor) or isinstance(obj, _PRIMITIVES):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise ValueError(f"{where} has a key {k!r} of type {type(k).__name__}; use str or int keys")
            _check_plain(v, f"{where}[{k!r}]")
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_plain(v, f"{where}[{i}]")
        return
    raise ValueError(f"{where} is a {type(obj).__name__}; a checkpoint holds only tensors, dicts, lists and "
                     f"str/int/float/bool/None (convert it, e.g. dataclasses.asdict or float())")


def save_checkpoint(path, state: dict) -> Path:
    """``torch.save`` the plain-data dict ``state`` (plus ``"format"``) to ``path`` atomically.

    Raises ``ValueError`` naming the first entry that is not plain data, so that every file
    written here loads with ``weights_only=True``.
    """
    state = {"format": FORMAT, **state}
    _check_plain(state)
    buf = io.BytesIO()
    torch.save(state, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` without executing any code from it.

    ``torch.load(weights_only=True)``: the unpickler accepts tensors and plain containers only;
    anything else (a class, a function, a ``__reduce__`` payload) raises ``ValueError`` here
    and nothing in the file runs. Also refuses a file that is not a dict with ``"model"``.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"checkpoint {str(p)!r} not found; train the run first or pass the path of a committed "
                         f"model.pt")
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, EOFError) as err:
        raise ValueError(f"refusing to load {str(p)!r}: it is not a plain-data checkpoint (tensors, dicts, lists, "
                         f"numbers, strings) and loading it could run code; re-save it with "
                         f"rdtheory._training.save_checkpoint ({type(err).__name__}: {str(err)[:200]})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{str(p)!r} is not an rdtheory checkpoint (expected a dict with 'model' and 'config')")
    return state


#: fields that say where a run keeps its files, not what it computes: a run moved to another
#: folder or machine resumes
LOCATION_FIELDS = ("out_dir", "cache_dir")


def config_diff(saved: dict, requested: dict) -> dict:
    """``{field: (saved, requested)}`` for every field whose value differs (except :data:`LOCATION_FIELDS`)."""
    keys = sorted((set(saved) | set(requested)) - set(LOCATION_FIELDS))
    return {k: (saved.get(k), requested.get(k)) for k in keys if saved.get(k) != requested.get(k)}


# ----------------------------------------------------------------------------- epochs
def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``: ``seed · 100003 + epoch`` (distinct for every (seed, epoch) pair in use)."""
    return int(seed) * 100_003 + int(epoch)


def shuffled_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1, *,
                     drop_last: bool | None = None) -> list:
    """The index batches of one epoch (:func:`rdtheory.vision.data.iterate_batches`, order from ``(seed, epoch)``).

    ``drop_last=None`` drops a ragged last batch only when at least one full batch per rank remains.
    """
    from .vision.data import iterate_batches

    if drop_last is None:
        drop_last = n >= batch_size * world
    return list(iterate_batches(n, batch_size, shuffle=True, seed=seed, epoch=epoch, rank=rank, world_size=world,
                                drop_last=drop_last))


def progress_bar(on: bool, total: int, desc: str):
    """A tqdm bar (updated at most every 5 s) or ``None``."""
    if not on:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, mininterval=5.0)


def fit(*, out_dir, config: dict, parts: dict, epochs: int, seed: int,
        epoch_fn: Callable[[int, torch.Generator], dict], metrics_fn: Callable[[list], dict],
        final_fn: Callable[[list], dict] | None = None, eval_fn: Callable[[int], dict] | None = None,
        device="cpu", resume: bool = True, max_epochs: int | None = None, rank: int = 0, world: int = 1,
        log: Callable[[str], None] | None = None) -> list[dict]:
    """Run epochs ``start .. epochs-1`` of a resumable run; returns the history (one dict per epoch).

    Parameters
    ----------
    out_dir : path
        Gets ``last.pt`` and ``metrics.json`` after every epoch, ``model.pt`` at the end.
    config : dict
        The run's plain-data config; ``last.pt`` made with another config is refused.
    parts : dict of name -> object with ``state_dict``/``load_state_dict``
        What ``last.pt`` saves and a resume restores (``"model"``, ``"optimizer"``, ...).
    epoch_fn : (epoch, generator) -> dict
        Trains one epoch (the global torch seed and ``generator`` are already set from
        ``(seed, epoch)``); returns that epoch's record (losses, ...).
    eval_fn : epoch -> dict, optional
        Rank 0 only, after the epoch: fields merged into the record (test accuracy, ...).
    metrics_fn : history -> dict
        The content of ``metrics.json``.
    final_fn : history -> dict, optional
        Rank 0, once the last epoch is done: the plain-data content of ``model.pt``.
    max_epochs : int, optional
        Stop after this many epochs in this call; the run stays resumable.
    """
    import json

    import torch.distributed as dist

    out = Path(out_dir)
    last = out / "last.pt"
    start, history = 0, []
    if resume and last.exists():
        state = load_checkpoint(last, map_location=device)
        diff = config_diff(state["config"], config)
        if diff:
            raise ValueError(f"{last} was made with a different config {diff} (saved, requested); use another "
                             f"out_dir or resume=False to start over")
        for name, part in parts.items():
            part.load_state_dict(state[name])
        start, history = state["epoch"] + 1, list(state["history"])
    stop = epochs if max_epochs is None else min(epochs, start + max_epochs)
    for epoch in range(start, stop):
        t0 = time.time()
        s = epoch_seed(seed, epoch)
        torch.manual_seed(s)
        rec = {"epoch": epoch + 1, **epoch_fn(epoch, torch.Generator().manual_seed(s))}
        rec["seconds"] = time.time() - t0
        if rank == 0 and eval_fn is not None:
            rec.update(eval_fn(epoch))
        history.append(rec)
        if rank == 0:
            save_checkpoint(last, {**{name: part.state_dict() for name, part in parts.items()}, "epoch": epoch,
                                   "history": history, "config": config})
            atomic_write_json(out / "metrics.json", metrics_fn(history))
            if log is not None:
                log(json.dumps(rec))
        if world > 1:
            dist.barrier()
    if rank == 0 and final_fn is not None and history and history[-1]["epoch"] == epochs:
        save_checkpoint(out / "model.pt", final_fn(history))
    return history


def cosine(lr: float, t: float) -> float:
    """Cosine decay ``lr · (1 + cos(π·min(1, t))) / 2`` at progress ``t`` ∈ [0, 1]."""
    return 0.5 * lr * (1 + math.cos(math.pi * min(1.0, t)))
