"""``rdtheory`` command line: thin subcommands over the library.

    rdtheory rd --example dirichlet-squared:n=256 --num 50 --out curve.csv --plot curve.png
    rdtheory rd --source p.npy --distortion d.csv --at-distortion 0.05
    rdtheory train --model vgg16_bn --config cpu --data-dir ../shared/data   (needs the torch extra)
    rdtheory estimate --samples x.npy --distortion squared --method plugin --out curve.csv --plot curve.png
    rdtheory codec --approach direct --cut layer2 --lmbdas 3 1 0.3 --out-dir runs/x  (torch extra)

The paper's claims are not a library command (the library never imports the report): run
``rdtheory-check`` or ``python -m paper_checks``.

Subcommands register lazily (:data:`COMMANDS`): ``rdtheory --help`` imports neither JAX nor
torch, and only the subcommand being run imports the module that defines its options. The
torch commands check for the ``[torch]`` extra before they start. Every user mistake ends in
one line on stderr, ``rdtheory CMD: error: ...``, and exit status 2; output paths are checked
while the arguments are parsed, before anything is computed.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Iterable, NamedTuple

__all__ = ["COMMANDS", "ArgumentParser", "add_rd_subcommand", "build_parser", "main"]


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` whose errors are one line, ``PROG: error: MESSAGE (see PROG --help)``, exit 2
    (argparse's default prints the whole usage block first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Command(NamedTuple):
    """A subcommand: its one-line help, ``"module:function"`` that adds its full parser to an
    argparse subparsers object, and the optional modules it needs (missing: exit 2)."""

    help: str
    register: str
    needs: tuple[str, ...] = ()


COMMANDS: dict[str, Command] = {
    "rd": Command("certified R(D) curve or point of a finite source", "rdtheory.cli:add_rd_subcommand"),
    "train": Command("train a CIFAR classifier (vgg16_bn / resnet50 / CIFAR ResNets; needs the torch extra)",
                     "rdtheory.vision.cli:add_train_subcommand", ("torch", "torchvision")),
    "codec": Command("train + evaluate a codec for machines over λ (needs the torch extra)",
                     "rdtheory.codecs.cli:add_codec_subcommand", ("torch", "torchvision", "compressai")),
    "estimate": Command("R(D) bounds from samples (.npy/.npz) with held-out intervals",
                        "rdtheory.empirical.cli:add_estimate_subcommand"),
}
MOVED = {"check": "the paper checks are not part of the library CLI: run rdtheory-check (or python -m paper_checks)"}


# ---- argument types: a bad value is an argparse error (one line, exit 2), before any work ----

def _number(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"expected a finite number; got {text!r}")
    return x


def positive_float(text: str) -> float:
    x = _number(text)
    if x <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0; got {text}")
    return x


def nonnegative_float(text: str) -> float:
    x = _number(text)
    if x < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0; got {text}")
    return x


def positive_int(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {text}")
    return k


def output_file(text: str) -> Path:
    """A file we can create or replace: its folder exists, is a folder and is writable, and the
    path itself is not a folder. Checked at parse time so that a typo costs no computation."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name inside it")
    folder = path.parent
    if not folder.is_dir():
        existing = next((a for a in (folder, *folder.parents) if a.exists()), None)
        if existing is not None and not existing.is_dir():
            raise argparse.ArgumentTypeError(f"{existing} is a file, not a folder (in {text})")
        raise argparse.ArgumentTypeError(f"folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"folder {folder} is not writable")
    return path


def figure_file(text: str) -> Path:
    """An :func:`output_file` whose suffix is a format matplotlib can write."""
    path = output_file(text)
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lstrip(".").lower() not in formats:
        raise argparse.ArgumentTypeError(f"{text}: the suffix must be one of {', '.join(sorted(formats))}")
    return path


# ---- rd ----

def _load_array(path: str, name: str):
    import numpy as np

    f = Path(path)
    if not f.is_file():
        raise ValueError(f"--{name} file not found: {f} (give a .npy or .csv file)")
    if f.suffix not in (".npy", ".csv", ".txt"):
        raise ValueError(f"--{name} must be a .npy or .csv file; got {f.suffix!r}")
    try:
        if f.suffix == ".npy":
            return np.load(f, allow_pickle=False)
        return np.loadtxt(f, delimiter=",", ndmin=1)
    except Exception as err:  # a corrupt or mis-formatted file is the user's to fix: say which
        raise ValueError(f"--{name}: cannot read {f} ({type(err).__name__}: {err})") from None


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


def _check_rd_args(args) -> None:
    point = "--at-distortion" if args.at_distortion is not None else "--at-rate" if args.at_rate is not None else None
    if point:
        extra = [flag for flag, v in (("--out", args.out), ("--plot", args.plot), ("--betas", args.betas)) if v]
        if extra:
            raise ValueError(f"{' and '.join(extra)} {'describe' if len(extra) > 1 else 'describes'} a curve; "
                             f"{point} computes one point "
                             f"(drop {point} for a curve, or drop {' and '.join(extra)})")


def cmd_rd(args) -> int:
    _check_rd_args(args)
    p, d, desc = _problem(args)
    from . import discrete
    from ._io import atomic_savefig, atomic_write_text

    print(f"# {desc}: n={d.shape[0]}, m={d.shape[1]}")
    if not args.quiet:  # the first solve compiles the solver for this problem size: say so
        print(f"# compiling the solver for a {d.shape[0]} x {d.shape[1]} problem (first call: seconds), "
              "then solving ...", file=sys.stderr, flush=True)
    if args.at_distortion is not None:
        pt = discrete.rate_at_distortion(p, d, args.at_distortion, tol=args.tol)
        print(f"R({pt.distortion:.10g}) in [{pt.lower:.10f}, {pt.rate:.10f}] bits (gap {pt.gap:.2e}, {pt.solves} solves)")
        return 0
    if args.at_rate is not None:
        pt = discrete.distortion_at_rate(p, d, args.at_rate)
        print(f"D({args.at_rate:g} bits) in [{pt.distortion_lower:.10g}, {pt.distortion:.10g}] ({pt.solves} solves)")
        return 0
    import numpy as np
    import pandas as pd

    betas = None if args.betas is None else np.array(args.betas, dtype=float)
    curve = discrete.rd_curve(p, d, betas, num=args.num, tol=args.tol, method=args.method,
                              progress=not args.quiet)
    df = curve.to_frame()
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


def add_rd_subcommand(subparsers) -> argparse.ArgumentParser:
    """Add ``rd`` to an ``argparse`` subparsers object; sets ``func=cmd_rd``."""
    rd = subparsers.add_parser("rd", help=COMMANDS["rd"].help, description=COMMANDS["rd"].help)
    src = rd.add_argument_group("problem")
    src.add_argument("--example", help="built-in: binary:p=0.3, uniform-hamming:m=8, gaussian:n=512, "
                                       "dirichlet-squared:n=1024,seed=0, uniform-squared:n=256")
    src.add_argument("--source", help="p(x) as .npy or .csv (n values)")
    src.add_argument("--distortion", help="d(x, xhat) as .npy or .csv (n x m)")
    rd.add_argument("--betas", type=positive_float, nargs="+",
                    help="slopes (nats per unit distortion); default: a geometric grid")
    rd.add_argument("--num", type=positive_int, default=64, help="number of slopes of the default grid")
    rd.add_argument("--tol", type=positive_float, default=1e-7, help="certified gap in bits")
    rd.add_argument("--method", default="accelerated", choices=["accelerated", "squarem", "plain"])
    point = rd.add_mutually_exclusive_group()
    point.add_argument("--at-distortion", type=nonnegative_float, help="only R(D) at this distortion")
    point.add_argument("--at-rate", type=nonnegative_float, help="only D(R) at this rate (bits)")
    rd.add_argument("--out", type=output_file, help="write the curve as CSV (the folder must exist)")
    rd.add_argument("--plot", type=figure_file, help="write a plot (png/pdf/svg; the folder must exist)")
    rd.add_argument("--quiet", action="store_true", help="no progress messages or bar")
    rd.set_defaults(func=cmd_rd)
    return rd


# ---- the parser and the entry point ----

def build_parser(commands: Iterable[str] | None = None) -> ArgumentParser:
    """The ``rdtheory`` parser. The subcommands named in ``commands`` (default: all) get their
    options, which imports the module that defines them (never torch); the others are listed
    with their one-line help only, so ``rdtheory --help`` imports nothing heavy."""
    from . import __version__

    full = set(COMMANDS if commands is None else commands)
    ap = ArgumentParser(prog="rdtheory", description="Rate-distortion theory for coding for machines.",
                        epilog="The paper's claims and figures: rdtheory-check (python -m paper_checks).")
    ap.add_argument("--version", action="version", version=f"rdtheory {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, cmd in COMMANDS.items():
        if name in full:
            module, _, func = cmd.register.partition(":")
            getattr(importlib.import_module(module), func)(sub)
        else:
            sub.add_parser(name, help=cmd.help, add_help=False)
    return ap


def missing_modules(names: Iterable[str]) -> list[str]:
    """The modules of ``names`` that cannot be imported (looked up, not imported)."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def _extra_hint(missing: list[str]) -> str:
    hint = "install the [torch] extra: pip install 'rdtheory[torch]'"
    if "compressai" in missing:
        hint += " and pip install --no-deps compressai==1.2.8 (as make setup does)"
    return f"needs {', '.join(missing)}; {hint}"


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    """Run ``rdtheory`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in MOVED:
        print(f"rdtheory: error: {MOVED[argv[0]]}", file=sys.stderr)
        return 2
    try:
        args = build_parser([argv[0]] if argv[:1] and argv[0] in COMMANDS else []).parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error already printed
        return stop.code if isinstance(stop.code, int) else 2
    cmd = COMMANDS[args.command]
    missing = missing_modules(cmd.needs)
    if missing:
        print(f"rdtheory {args.command}: error: {_extra_hint(missing)}", file=sys.stderr)
        return 2
    if cmd.needs:  # CompressAI's own use of torch.jit.script: noise the user cannot act on
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        print(f"rdtheory {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rdtheory {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # python -m rdtheory.cli (torchrun too): run the one imported copy of this module
    from rdtheory.cli import main as _main

    sys.exit(_main())
