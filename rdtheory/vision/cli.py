"""``rdtheory train ...``: train a CIFAR classifier with a named config (thin over :func:`train`).

Wire into the main CLI with ``add_train_subcommand(subparsers)``; the parsed namespace
carries ``func=main_train``. Standalone: ``python experiments/cifar_train.py ...`` (same
arguments). Under ``torchrun --nproc_per_node=N`` the same command trains with DDP.

Data: ``--data-dir`` takes a path or a name under the data root (default: the dataset's
standard name, e.g. ``cifar10-jpeg.zip`` or ``cifar-10-batches-py``), resolved by
:func:`rdtheory.vision.paths.find_data`; ``--download`` lets ``--dataset cifar10/cifar100``
fetch the python pickles with torchvision (never by default). This module imports no torch;
:func:`main_train` does.

Example (the committed CPU checkpoint)::

    nice -n 19 python experiments/cifar_train.py --model vgg16_bn --config cpu --threads 1 \\
        --out-dir experiments/checkpoints/cifar10_vgg16_bn_cpu

References
----------
.. [1] K. Simonyan and A. Zisserman, "Very deep convolutional networks for large-scale image
   recognition", ICLR 2015 (``vgg16_bn``).
.. [2] K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
   CVPR 2016 (``resnet50``, ``resnet20`` … ``resnet110``).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from .config import CONFIGS, DEFAULT_DATA

__all__ = ["add_train_subcommand", "build_parser", "main_train"]

_MODELS = tuple(sorted({m for m, _ in CONFIGS}))
_SOURCES = ("cifar10-jpeg", "folder", "cifar10", "cifar100")  # rdtheory.vision.data.SOURCES (numpy-free here)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, choices=_MODELS, help="architecture (each has a named config)")
    p.add_argument("--config", default="cpu", choices=tuple(sorted({c for _, c in CONFIGS})),
                   help="named config (cpu: small/subset/few epochs; cpu-long: resnet50 only; paper: full width, "
                        "200 epochs)")
    p.add_argument("--dataset", default="cifar10-jpeg", choices=_SOURCES,
                   help="cifar10-jpeg (default), folder (ImageFolder export), cifar10 / cifar100 (python pickles)")
    p.add_argument("--data-dir", default=None,
                   help=f"zip, folder, or a name under the data root (default per dataset: {DEFAULT_DATA}); "
                        f"see docs/vision.md (Data)")
    p.add_argument("--download", action="store_true",
                   help="cifar10/cifar100 only: fetch the python pickles with torchvision into ~/.cache/rdtheory "
                        "if they are found nowhere (never done without this flag)")
    p.add_argument("--num-classes", type=int, default=None, help="10 or 100 (default: 100 for cifar100, else 10)")
    p.add_argument("--out-dir", required=True, help="folder for last.pt, metrics.json, model.pt")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:<i> or auto")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (use 1 on shared CPUs)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--width", type=float, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--train-per-class", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--max-epochs", type=int, default=None, help="stop after this many epochs in this call")
    p.add_argument("--no-resume", action="store_true", help="start over even if out-dir/last.pt exists")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--log", default=None, help="append one JSON line per epoch to this file")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rdtheory train", description=__doc__.splitlines()[0])
    _add_arguments(p)
    return p


def add_train_subcommand(subparsers) -> argparse.ArgumentParser:
    """Add ``train`` to an ``argparse`` subparsers object; sets ``func=main_train``."""
    p = subparsers.add_parser("train", help="train a CIFAR classifier (vgg16_bn / resnet50 / CIFAR ResNets)",
                              description=__doc__.splitlines()[0])
    _add_arguments(p)
    p.set_defaults(func=main_train)
    return p


def main_train(args: argparse.Namespace) -> int:
    """Run training from parsed arguments; prints the final metrics JSON. Returns 0."""
    import torch

    from .train import config_for, train

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    num_classes = args.num_classes or (100 if args.dataset == "cifar100" else 10)
    over = {k: v for k, v in dict(epochs=args.epochs, width=args.width, lr=args.lr, batch_size=args.batch_size,
                                  train_per_class=args.train_per_class, seed=args.seed).items() if v is not None}
    cfg = config_for(args.model, args.config, dataset=args.dataset, data_dir=args.data_dir,
                     num_classes=num_classes, out_dir=args.out_dir, **over)
    if args.dataset == "folder" and args.data_dir is None:
        raise ValueError("--dataset folder needs --data-dir <root> (with <root>/{train,test}/<class>/*.jpg)")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "command.txt").write_text(" ".join(shlex.quote(a) for a in sys.argv) + "\n")
    log_fh = open(args.log, "a") if args.log else None

    def log(line: str) -> None:
        if log_fh:
            log_fh.write(line + "\n")
            log_fh.flush()

    log(json.dumps({"start": cfg.as_dict(), "threads": torch.get_num_threads()}))
    metrics = train(cfg, device=args.device, resume=not args.no_resume, progress=not args.no_progress,
                    max_epochs=args.max_epochs, log=log, download=args.download)
    summary = {k: v for k, v in metrics.items() if k != "history"}
    log(json.dumps({"done": summary}))
    print(json.dumps(summary, indent=2))
    return 0


def main(argv=None) -> int:
    return main_train(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
