"""``rdtheory estimate``: R(D) bounds from samples stored as ``.npy`` / ``.npz``.

    rdtheory estimate --samples x.npy --distortion squared --method plugin --out curve.csv --plot curve.png
    rdtheory estimate --samples feats.npz:layer2 --alphabet kmeans --n-atoms 256 --holdout 0.3 --seed 1

Writes one CSV row per point (:meth:`~rdtheory.empirical.record.RDBound.as_rows`: the
method's bound, then, for ``plugin``, the empirical-measure curve with ``kind=plug-in``) and
a plot (:func:`rdtheory.plotting.rd_bound_figure`). This module imports neither JAX nor the
estimators until the command runs; argument errors are one line and exit status 2
(:mod:`rdtheory.cli`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cli import COMMANDS, figure_file, output_file, positive_float, positive_int

__all__ = ["add_estimate_subcommand", "cmd_estimate", "load_samples"]

DISTORTIONS = ("squared", "absolute", "hamming")


def load_samples(spec: str):
    """Samples from ``FILE.npy``, ``FILE.npz`` (its only array) or ``FILE.npz:KEY``."""
    import numpy as np

    path, _, key = spec.partition(".npz:")
    if key:
        path += ".npz"
    f = Path(path)
    if f.suffix not in (".npy", ".npz"):
        raise ValueError(f"--samples must be a .npy or .npz file (FILE.npz:KEY for one array); got {spec!r}")
    if not f.is_file():
        raise ValueError(f"--samples file not found: {f}")
    try:
        data = np.load(f, allow_pickle=False)
    except Exception as err:  # a corrupt file is the user's to fix: say which
        raise ValueError(f"--samples: cannot read {f} ({type(err).__name__}: {err})") from None
    if f.suffix == ".npy":
        return data
    with data:
        keys = list(data.keys())
        if not key:
            if len(keys) != 1:
                raise ValueError(f"{f} holds {len(keys)} arrays ({', '.join(keys) or 'none'}); "
                                 f"name one as --samples {f}:KEY")
            key = keys[0]
        if key not in keys:
            raise ValueError(f"{f} has no array {key!r}; it has: {', '.join(keys)}")
        return data[key]


def _fraction(text: str) -> float:
    x = positive_float(text)
    if x >= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1); got {text}")
    return x


def _bound_from_rows(rows):
    import numpy as np

    from .record import RDBound

    col = lambda k: np.array([r[k] for r in rows])
    return RDBound(method=rows[0]["method"], kind=rows[0]["kind"], distortion=col("distortion"),
                   rate=col("rate_bits"), interval=np.stack([col("ci_low_bits"), col("ci_high_bits")], 1),
                   level=rows[0]["level"], beta=col("beta"), capped=col("capped"), n_fit=rows[0]["n_fit"],
                   n_eval=rows[0]["n_eval"])


def cmd_estimate(args) -> int:
    import numpy as np
    import pandas as pd

    from .._io import atomic_savefig, atomic_write_text
    from .estimate import estimate_rd

    x = load_samples(args.samples)
    options = {}
    if args.alphabet is not None:
        options["alphabet"] = args.alphabet
    if args.n_atoms is not None:
        options["n_atoms"] = args.n_atoms
    if args.num is not None:
        options["num"] = args.num
    betas = None if args.betas is None else np.array(args.betas, dtype=float)
    print(f"# {args.samples}: {np.shape(x)[0]} samples of dimension "
          f"{1 if np.ndim(x) == 1 else np.shape(x)[-1]}; method {args.method}, distortion {args.distortion}")
    bound = estimate_rd(x, args.distortion, args.method, betas=betas, holdout=args.holdout, level=args.level,
                        seed=args.seed, progress=not args.quiet, **options)
    bounds = [bound]
    if bound.info.get("empirical"):
        bounds.append(_bound_from_rows(bound.info["empirical"]))
    df = pd.DataFrame([row for b in bounds for row in b.as_rows()])
    with pd.option_context("display.max_rows", 40, "display.width", 140, "display.float_format", "{:.6g}".format):
        print(df.to_string(max_rows=40))
    if bound.capped.any():
        print(f"# {int(bound.capped.sum())} point(s) capped (capped=True): near the method's ceiling the rate is set "
              f"by its alphabet, not the source (a held-out upper bound there still holds, but is loose)")
    if args.out:
        atomic_write_text(args.out, df.to_csv(index=False))
        print(f"wrote {args.out}")
    if args.plot:
        from ..plotting import rd_bound_figure

        atomic_savefig(rd_bound_figure(bounds, title=f"{args.samples} ({args.distortion})"), args.plot)
        print(f"wrote {args.plot}")
    return 0


def add_estimate_subcommand(subparsers) -> argparse.ArgumentParser:
    """Add ``estimate`` to an ``argparse`` subparsers object; sets ``func=cmd_estimate``."""
    help_ = COMMANDS["estimate"].help
    ap = subparsers.add_parser("estimate", help=help_, description=help_)
    ap.add_argument("--samples", required=True, help="samples (n rows) as FILE.npy, FILE.npz or FILE.npz:KEY")
    ap.add_argument("--distortion", default="squared", choices=DISTORTIONS, help="point distortion")
    ap.add_argument("--method", default="plugin",
                    help="estimator: plugin (others as installed: shannon, dual, lcb, wgd, neural)")
    ap.add_argument("--betas", type=positive_float, nargs="+",
                    help="slopes (nats per unit distortion); default: a grid from the data")
    ap.add_argument("--num", type=positive_int, help="number of slopes of the default grid")
    ap.add_argument("--holdout", type=_fraction, default=0.5, help="share of samples held out for evaluation")
    ap.add_argument("--level", type=_fraction, default=0.95, help="confidence level of the intervals")
    ap.add_argument("--seed", type=int, default=0, help="seed of the split and of every random choice")
    ap.add_argument("--alphabet", choices=("samples", "subset", "kmeans"),
                    help="plugin: reproduction alphabet (default: the fit samples)")
    ap.add_argument("--n-atoms", type=positive_int, help="plugin: atoms of a subset / k-means alphabet")
    ap.add_argument("--out", type=output_file, help="write the points as CSV (the folder must exist)")
    ap.add_argument("--plot", type=figure_file, help="write a plot (png/pdf/svg; the folder must exist)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    ap.set_defaults(func=cmd_estimate)
    return ap


if __name__ == "__main__":  # pragma: no cover
    from ..cli import main

    sys.exit(main(["estimate", *sys.argv[1:]]))
