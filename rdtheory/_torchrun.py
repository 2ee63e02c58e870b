"""Torch run plumbing shared by the training loops: device choice, torchrun/DDP, atomic checkpoints."""
from __future__ import annotations

import io
import os
from pathlib import Path

import torch

from ._io import atomic_write_bytes


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


def atomic_torch_save(path: str | os.PathLike, obj) -> Path:
    """``torch.save`` to ``path`` atomically (temporary file + rename)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())
