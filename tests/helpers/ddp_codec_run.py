"""Launched by tests/test_codecs_train.py under torchrun (gloo, CPU): train a tiny codec with DDP.

Every rank writes ``<out>/rank<r>.txt`` ("<finished> <epochs in its history>"); rank 0 alone
writes the checkpoints.
"""
import sys
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_codecs_train import _cfg, _data, _task  # noqa: E402

from rdtheory.codecs import train as train_mod  # noqa: E402
from rdtheory.codecs.train import TaskSpec, train_codec  # noqa: E402

torch.set_num_threads(1)
out = Path(sys.argv[1])
train_mod.TASKS["fake"] = TaskSpec(_task, lambda cfg, split: _data(48, int(split == "test")), lambda x: 1024, lambda x: x)
metrics = train_codec(_cfg(out, epochs=2), progress=False)
rank = torch.distributed.get_rank()
(out / f"rank{rank}.txt").write_text(f"{metrics['finished']} {len(metrics['history'])}\n")
