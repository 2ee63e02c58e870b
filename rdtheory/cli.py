"""``rdtheory`` command line: thin subcommands over the library.

    rdtheory rd --example dirichlet-squared:n=256 --num 50 --out curve.csv --plot curve.png
    rdtheory rd --source p.npy --distortion d.csv --at-distortion 0.05
    rdtheory check [--full] [--only 'engine*']
    rdtheory train --model vgg16_bn --config cpu --data-dir ../shared/data   (needs the torch extra)
    rdtheory codec --approach direct --cut layer2 --lmbdas 3 1 0.3 --out-dir runs/x  (torch extra)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _load_array(path: str, name: str) -> np.ndarray:
    f = Path(path)
    if not f.exists():
        raise ValueError(f"--{name} file not found: {f} (give a .npy or .csv file)")
    if f.suffix == ".npy":
        return np.load(f, allow_pickle=False)
    if f.suffix in (".csv", ".txt"):
        return np.loadtxt(f, delimiter=",", ndmin=1)
    raise ValueError(f"--{name} must be a .npy or .csv file; got {f.suffix!r}")


def _problem(args):
    from .discrete import examples

    if args.example:
        if args.source or args.distortion:
            raise ValueError("give either --example or --source/--distortion, not both")
        ex = examples.get(args.example)
        return ex.p, ex.d, ex.description
    if not (args.source and args.distortion):
        raise ValueError("give --example NAME or both --source FILE and --distortion FILE")
    return _load_array(args.source, "source"), _load_array(args.distortion, "distortion"), \
        f"source {args.source}, distortion {args.distortion}"


def cmd_rd(args) -> int:
    from . import discrete
    from ._io import atomic_savefig, atomic_write_text

    p, d, desc = _problem(args)
    print(f"# {desc}: n={d.shape[0]}, m={d.shape[1]}")
    if args.at_distortion is not None:
        pt = discrete.rate_at_distortion(p, d, args.at_distortion, tol=args.tol)
        print(f"R({pt.distortion:.10g}) in [{pt.lower:.10f}, {pt.rate:.10f}] bits (gap {pt.gap:.2e}, {pt.solves} solves)")
        return 0
    if args.at_rate is not None:
        pt = discrete.distortion_at_rate(p, d, args.at_rate)
        print(f"D({args.at_rate:g} bits) in [{pt.distortion_lower:.10g}, {pt.distortion:.10g}] ({pt.solves} solves)")
        return 0
    betas = None if args.betas is None else np.array(args.betas, dtype=float)
    curve = discrete.rd_curve(p, d, betas, num=args.num, tol=args.tol, method=args.method,
                              progress=not args.quiet)
    df = curve.to_frame()
    with np.printoptions(linewidth=120):
        import pandas as pd

        with pd.option_context("display.max_rows", 30, "display.width", 120, "display.float_format", "{:.6g}".format):
            print(df.to_string(max_rows=30))
    print(f"# max certified gap {curve.gap.max():.2e} bits; {int(curve.converged.sum())}/{len(df)} converged")
    if args.out:
        atomic_write_text(args.out, df.to_csv(index=False))
        print(f"wrote {args.out}")
    if args.plot:
        from .plotting import rd_curve_figure

        atomic_savefig(rd_curve_figure(curve, title=desc), args.plot)
        print(f"wrote {args.plot}")
    return 0


def cmd_check(args) -> int:
    from paper_checks.__main__ import main as check_main

    argv = (["--full"] if args.full else []) + (["--only", args.only] if args.only else [])
    return check_main(argv)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rdtheory", description="Rate-distortion theory for coding for machines.")
    sub = ap.add_subparsers(dest="command", required=True)

    rd = sub.add_parser("rd", help="certified R(D) curve or point of a finite source")
    src = rd.add_argument_group("problem")
    src.add_argument("--example", help="built-in: binary:p=0.3, uniform-hamming:m=8, gaussian:n=512, "
                                       "dirichlet-squared:n=1024,seed=0, uniform-squared:n=256")
    src.add_argument("--source", help="p(x) as .npy or .csv (n values)")
    src.add_argument("--distortion", help="d(x, xhat) as .npy or .csv (n x m)")
    rd.add_argument("--betas", type=float, nargs="+", help="slopes (nats per unit distortion); default: a geometric grid")
    rd.add_argument("--num", type=int, default=64, help="number of slopes of the default grid")
    rd.add_argument("--tol", type=float, default=1e-7, help="certified gap in bits")
    rd.add_argument("--method", default="accelerated", choices=["accelerated", "squarem", "plain"])
    rd.add_argument("--at-distortion", type=float, help="only R(D) at this distortion")
    rd.add_argument("--at-rate", type=float, help="only D(R) at this rate (bits)")
    rd.add_argument("--out", help="write the curve as CSV")
    rd.add_argument("--plot", help="write a plot (png/pdf/svg)")
    rd.add_argument("--quiet", action="store_true", help="no progress bar")
    rd.set_defaults(func=cmd_rd)

    ck = sub.add_parser("check", help="compute every paper claim (same as python -m paper_checks)")
    ck.add_argument("--full", action="store_true", help="full budgets instead of the quick ones")
    ck.add_argument("--only", help="glob over claim ids")
    ck.set_defaults(func=cmd_check)

    from .codecs.cli import add_codec_subcommand  # lazy: torch is imported only when a command runs
    from .vision.cli import add_train_subcommand

    add_train_subcommand(sub)
    add_codec_subcommand(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"rdtheory {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
