"""``rdtheory codec ...``: train and evaluate one codec-for-machines sweep over λ.

Every :class:`~rdtheory.codecs.config.CodecConfig` field is an option (``--cut``,
``--distortion``, ``--layers layer2 layer3``, ``--beta``, ...); ``--lmbdas`` gives the sweep.
Runs go to ``--out-dir/lmbda=<λ>/`` (``last.pt`` every epoch, ``model.pt``, ``result.json``,
all written atomically); re-running the same command resumes. Under
``torchrun --nproc_per_node=N`` training uses DDP (rank 0 evaluates and writes). Example::

    rdtheory codec --approach direct --cut layer2 --distortion mse --layers layer3 \\
        --lmbdas 10 3 1 0.3 0.1 --warm-start-epochs 2 --out-dir runs/direct-C2-layer3 --device cuda

This module parses arguments without importing torch; :func:`main_codec` imports it.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Figs. 12–14, Eqs. 22–23).
.. [2] J. Ballé, D. Minnen, S. Singh, S. J. Hwang and N. Johnston, "Variational image
   compression with a scale hyperprior", ICLR 2018.
.. [3] J. Bégaint, F. Racapé, S. Feltman and A. Pushparaja, "CompressAI: a PyTorch library and
   evaluation platform for end-to-end compression research", arXiv:2011.03029, 2020.
"""
from __future__ import annotations

import argparse
import json

__all__ = ["add_codec_subcommand", "main_codec"]


# CodecConfig's fields and types, kept here so that `rdtheory --help` does not import torch;
# tests/test_codecs_train.py checks that they equal the dataclass's.
FIELDS = {"task": str, "data_dir": str, "weights": str, "train_n": int, "test_n": int, "approach": str, "cut": str,
          "distortion": str, "layers": tuple, "lmbda": float, "beta": float, "scalable": bool,
          "latent_channels": int, "channels": int, "latent_downsample": int, "stride": int, "quant_step": float,
          "hyper_channels": int, "epochs": int, "batch_size": int, "lr": float, "aux_lr": float, "seed": int,
          "init_from": str, "cached_features": bool, "val_n": int, "context_model": bool, "out_dir": str}


def _add_arguments(p: argparse.ArgumentParser) -> None:
    for name, typ in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        if name == "lmbda":
            continue
        if typ is bool:
            p.add_argument(flag, action="store_true")
        elif typ is tuple:
            p.add_argument(flag, nargs="*", default=None, help="distillation-point names (none: supervised)")
        else:
            p.add_argument(flag, type=typ, default=None, required=name == "out_dir")
    p.add_argument("--lmbdas", type=float, nargs="+", required=True, help="λ values (highest first for a chain)")
    p.add_argument("--warm-start-epochs", type=int, default=None,
                   help="epochs of each later λ, started from the previous λ's weights")
    p.add_argument("--refit-head-epochs", type=int, default=0, help="scalable base: re-fit G_a before PSNR")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:<i> or auto")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (use 1 on shared CPUs)")
    p.add_argument("--no-progress", action="store_true")


def add_codec_subcommand(subparsers) -> argparse.ArgumentParser:
    """Add ``codec`` to an ``argparse`` subparsers object; sets ``func=main_codec``."""
    p = subparsers.add_parser("codec", help="train + evaluate a codec for machines over λ (needs the torch extra)",
                              description=__doc__.splitlines()[0])
    _add_arguments(p)
    p.set_defaults(func=main_codec)
    return p


def config_from_args(args: argparse.Namespace):
    """The :class:`CodecConfig` that the parsed options describe (unset options keep their defaults)."""
    from .config import CodecConfig

    given = {k: getattr(args, k) for k in FIELDS if k != "lmbda" and getattr(args, k, None) not in (None, False)}
    if "layers" in given:
        given["layers"] = tuple(given["layers"])
    return CodecConfig(**given).validate()  # a bad --task/--approach is a one-line error before any work


def main_codec(args: argparse.Namespace) -> int:
    import torch

    from .train import lambda_sweep

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = config_from_args(args)
    results = lambda_sweep(cfg, args.lmbdas, warm_start_epochs=args.warm_start_epochs, device=args.device,
                           progress=not args.no_progress, refit_head_epochs=args.refit_head_epochs)
    for r in results:
        keep = {k: r[k] for k in ("bpp", "bpp_estimate", "accuracy", "psnr_db", "n") if k in r}
        print(json.dumps({"lmbda": r["config"]["lmbda"], **keep}))
    return 0
