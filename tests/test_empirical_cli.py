"""``rdtheory estimate`` (:mod:`rdtheory.empirical.cli`) and :func:`rdtheory.plotting.rd_bound_figure`:
the CSV and plot it writes, ``.npy`` / ``.npz[:key]`` input, one-line errors with exit status 2.

The runs use Bernoulli samples with Hamming distortion (two atoms: the solver compiles once
and solves in milliseconds), so the CSV can be checked against the closed form.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from rdtheory.cli import COMMANDS, build_parser, main
from rdtheory.discrete import closed_form
from rdtheory.empirical import BernoulliSource, GaussianSource, RDBound
from rdtheory.plotting import rd_bound_figure


@pytest.fixture(scope="module")
def bern(tmp_path_factory):
    folder = tmp_path_factory.mktemp("samples")
    x = BernoulliSource(0.3).sample(2000, seed=0)
    np.save(folder / "x.npy", x)
    np.savez(folder / "many.npz", a=x, b=x[:10])
    np.savez(folder / "one.npz", only=x)
    return folder, x


def test_estimate_is_registered_lazily():
    assert COMMANDS["estimate"].register == "rdtheory.empirical.cli:add_estimate_subcommand"
    assert "estimate" in build_parser(["estimate"])._subparsers._group_actions[0].choices


def test_writes_csv_and_plot(bern, tmp_path, capsys):
    folder, _ = bern
    out, plot = tmp_path / "curve.csv", tmp_path / "curve.png"
    code = main(["estimate", "--samples", str(folder / "x.npy"), "--distortion", "hamming", "--betas", "1.5", "3",
                 "--out", str(out), "--plot", str(plot), "--quiet"])
    assert code == 0, capsys.readouterr().err
    df = pd.read_csv(out)
    assert list(df["kind"]) == ["upper", "upper", "plug-in", "plug-in"]
    assert {"distortion", "rate_bits", "ci_low_bits", "ci_high_bits", "capped", "n_fit", "n_eval"} <= set(df)
    # the held-out bound brackets the truth (p = 0.3) at its distortion, within its 0.95
    # interval widened by the distortion's sampling error (|dR/dD| = log2((1-D)/D) <= 5 bits
    # per unit here, times the distortion's standard error ~ sqrt(0.25/1000) = 0.016: 0.08 bits)
    up = df[df.kind == "upper"]
    truth = closed_form.binary_hamming(up.distortion.to_numpy(), 0.3)
    assert np.all(truth <= up.ci_high_bits + 0.08)
    assert plot.stat().st_size > 0


@pytest.mark.parametrize("spec", ["one.npz", "many.npz:a"])
def test_reads_npz(bern, spec, capsys):
    folder, _ = bern
    assert main(["estimate", "--samples", str(folder / spec), "--distortion", "hamming", "--betas", "2",
                 "--quiet"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("args, says", [
    (["--samples", "{f}/many.npz"], r"holds 2 arrays \(a, b\); name one"),
    (["--samples", "{f}/many.npz:c"], "no array 'c'"),
    (["--samples", "{f}/missing.npy"], "not found"),
    (["--samples", "{f}/x.csv"], ".npy or .npz"),
    (["--samples", "{f}/x.npy", "--method", "nope"], "known methods"),
    (["--samples", "{f}/x.npy", "--holdout", "1.5"], "must be in \\(0, 1\\)"),
    (["--samples", "{f}/x.npy", "--distortion", "cosine"], "invalid choice"),
    (["--samples", "{f}/x.npy", "--out", "{f}/no/such/c.csv"], "does not exist"),
    (["--samples", "{f}/x.npy", "--plot", "{f}/c.xyz"], "suffix"),
])
def test_errors_are_one_line_exit_2(bern, args, says, capsys):
    folder, _ = bern
    code = main(["estimate", *[a.format(f=folder) for a in args], "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("rdtheory estimate: error:") and err.count("\n") == 1
    assert re.search(says, err)


def _bound(kind, capped):
    D = np.array([0.5, 0.1, 0.01])
    return RDBound(method="plugin", kind=kind, distortion=D, rate=-np.log2(D), interval=np.c_[-np.log2(D) - 0.1,
                   -np.log2(D) + 0.1], level=0.95, beta=np.ones(3), capped=capped, n_fit=10, n_eval=10)


def test_rd_bound_figure_draws_bands_caps_and_truth():
    fig = rd_bound_figure([_bound("upper", [False, False, True]), _bound("plug-in", [False] * 3)],
                          truth=GaussianSource((1.0,)).rd)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["plugin: upper bound", "capped", "plugin: plug-in estimate", "true R(D)"]
    capped = ax.lines[1]
    assert list(capped.get_xdata()) == [0.01] and capped.get_marker() == "x"
    assert len(ax.collections) == 2 and ax.get_xscale() == "log"   # two interval bands; D spans 1.7 decades
