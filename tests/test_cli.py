"""The ``rdtheory`` command line and ``python -m paper_checks``: a core install without torch,
lazy subcommands, one-line errors with exit status 2, progress messages, and the output files
of :mod:`rdtheory._io` (permissions, interrupted writes, strict JSON, the cache folder) and the
axis choice of :func:`rdtheory.plotting.rd_curve_figure`.

Subprocess tests block torch with a finder at the front of ``sys.meta_path`` (a core install
without the ``[torch]`` extra); the others call ``main`` in-process to keep the suite cheap.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# A core install: importing torch, torchvision or compressai fails as if they were not installed.
NO_TORCH = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in ('torch', 'torchvision', 'compressai'):
            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)', name=name)
        return None
sys.meta_path.insert(0, _NoTorch())
"""
RUN_CLI = "from rdtheory.cli import main; sys.exit(main(sys.argv[1:]))"


def _python(code: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _one_line_error(err: str, prefix: str) -> str:
    """The single stderr line of a user mistake (no traceback, no usage block)."""
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


def _cli(capsys, *argv: str) -> tuple[int, str]:
    from rdtheory.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().err


# ---- a core install: no torch ----

def test_help_imports_neither_torch_nor_jax():
    # with torch installed (if it is): --help must not import it, nor JAX or numpy
    probe = ("import sys; from rdtheory.cli import main; code = main(['--help']); "
             "print(sorted({m.partition('.')[0] for m in sys.modules} & {'torch', 'compressai', 'jax', 'numpy'}))")
    out = _python(probe)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert all(cmd in out.stdout for cmd in ("rd", "train", "codec"))


@pytest.mark.parametrize("argv", [["--help"], ["rd", "--help"], ["train", "--help"], ["codec", "--help"]])
def test_help_without_torch(argv):
    out = _python(NO_TORCH + RUN_CLI, *argv)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert out.stdout.startswith(f"usage: rdtheory {argv[0] if len(argv) > 1 else ''}".rstrip())


def test_core_subpackages_import_without_torch():
    mods = ["rdtheory", "rdtheory.discrete", "rdtheory.machines", "rdtheory.info", "rdtheory.appropriateness",
            "rdtheory.toy", "rdtheory.vinfo", "rdtheory.metrics", "rdtheory.plotting", "rdtheory.cli",
            "rdtheory._io", "rdtheory.vision.cli", "rdtheory.codecs.cli", "rdtheory.codecs"]
    code = NO_TORCH + "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in mods) + (
        "import rdtheory.codecs\n"
        "try:\n    rdtheory.codecs.DirectCodec\nexcept ModuleNotFoundError as e:\n    print('blocked', e.name)\n")
    out = _python(code)
    assert out.returncode == 0, out.stderr
    # the codec classes themselves need torch: the lazy package must not hide that
    assert out.stdout.split() == ["blocked", "torch"]


def test_rd_runs_without_torch_and_brackets_the_closed_form(tmp_path):
    out = _python(NO_TORCH + RUN_CLI, "rd", "--example", "binary:p=0.3", "--num", "8", "--out", str(tmp_path / "c.csv"))
    assert out.returncode == 0, out.stderr
    # progress: the user is told before the first (slow) JAX compilation starts
    assert "compiling the solver for a 2 x 2 problem" in out.stderr
    rows = np.genfromtxt(tmp_path / "c.csv", delimiter=",", names=True)
    assert len(rows) == 8
    D = np.clip(rows["distortion"], 1e-300, None)
    h = lambda x: -x * np.log2(x) - (1 - x) * np.log2(1 - x)
    exact = np.where(D < 0.3, h(0.3) - h(np.minimum(D, 0.3)), 0.0)
    # the certificate: lower <= R(D) <= rate at every point; 1e-12 bits is float64 rounding of h
    assert np.all(rows["lower_bits"] - 1e-12 <= exact) and np.all(exact <= rows["rate_bits"] + 1e-12)


@pytest.mark.parametrize("argv", [["train", "--model", "vgg16_bn", "--out-dir", "OUT"],
                                  ["codec", "--out-dir", "OUT", "--lmbdas", "1"]])
def test_torch_commands_without_torch_say_install_the_extra(argv, tmp_path):
    argv = [str(tmp_path / "run") if a == "OUT" else a for a in argv]
    out = _python(NO_TORCH + RUN_CLI, *argv)
    assert out.returncode == 2
    line = _one_line_error(out.stderr, f"rdtheory {argv[0]}: error: needs torch")
    assert "pip install 'rdtheory[torch]'" in line
    assert not (tmp_path / "run").exists()  # refused before any work


def test_check_left_the_library_cli(capsys):
    code, err = _cli(capsys, "check")
    assert code == 2
    assert "rdtheory-check" in _one_line_error(err, "rdtheory: error:")


def test_library_never_imports_paper_checks():
    hits = [p for p in (ROOT / "rdtheory").rglob("*.py") if re.search(r"^\s*(from|import) paper_checks",
                                                                       p.read_text(), re.M)]
    assert hits == []


# ---- one-line errors, exit status 2 ----

@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if the rd command gets as far as building the problem."""
    import rdtheory.cli

    def boom(args):
        raise AssertionError("computed before validating the arguments")

    monkeypatch.setattr(rdtheory.cli, "_problem", boom)


def test_out_into_a_missing_folder(capsys, tmp_path, no_compute):
    code, err = _cli(capsys, "rd", "--example", "binary:p=0.3", "--out", str(tmp_path / "nope" / "c.csv"))
    assert code == 2 and "does not exist" in _one_line_error(err, "rdtheory rd: error: argument --out:")


def test_out_through_a_file(capsys, tmp_path, no_compute):
    (tmp_path / "f.txt").write_text("x")
    code, err = _cli(capsys, "rd", "--example", "binary:p=0.3", "--out", str(tmp_path / "f.txt" / "sub" / "c.csv"))
    assert code == 2 and "f.txt is a file, not a folder" in _one_line_error(err, "rdtheory rd: error:")


def test_out_is_a_folder(capsys, tmp_path, no_compute):
    code, err = _cli(capsys, "rd", "--example", "binary:p=0.3", "--out", str(tmp_path))
    assert code == 2 and "is a folder" in _one_line_error(err, "rdtheory rd: error:")


def test_plot_with_an_unknown_format(capsys, tmp_path, no_compute):
    code, err = _cli(capsys, "rd", "--example", "binary:p=0.3", "--plot", str(tmp_path / "c.foo"))
    assert code == 2 and "suffix must be one of" in _one_line_error(err, "rdtheory rd: error: argument --plot:")


@pytest.mark.parametrize("num", ["0", "-3", "2.5"])
def test_num_must_be_positive(capsys, num, no_compute):
    code, err = _cli(capsys, "rd", "--example", "binary:p=0.3", "--num", num)
    assert code == 2 and num in _one_line_error(err, "rdtheory rd: error: argument --num:")


@pytest.mark.parametrize("tol", ["-1", "0", "nan"])
def test_tol_must_be_positive_and_is_reported_as_given(capsys, tol, no_compute):
    code, err = _cli(capsys, "rd", "--example", "binary:p=0.3", "--tol", tol)
    assert code == 2 and tol in _one_line_error(err, "rdtheory rd: error: argument --tol:")


def test_at_rate_and_at_distortion_conflict(capsys, no_compute):
    code, err = _cli(capsys, "rd", "--example", "binary:p=0.3", "--at-rate", "0.1", "--at-distortion", "0.1")
    assert code == 2 and "not allowed with" in _one_line_error(err, "rdtheory rd: error:")


@pytest.mark.parametrize("flag", ["--out", "--plot"])
@pytest.mark.parametrize("point", ["--at-rate", "--at-distortion"])
def test_curve_outputs_are_refused_for_a_point(capsys, tmp_path, flag, point, no_compute):
    code, err = _cli(capsys, "rd", "--example", "binary:p=0.3", point, "0.1", flag, str(tmp_path / "x.png"))
    assert code == 2
    assert f"{flag} describes a curve; {point} computes one point" in _one_line_error(err, "rdtheory rd: error:")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("spec, says", [("binary:p=1.5", "p must be a probability in [0, 1]"),
                                        ("binary:p", "must be key=value"),
                                        ("binary:q=0.2", "unexpected keyword argument 'q'"),
                                        ("binary:p=abc", "must be a number"),
                                        ("binary:p=0.2,p=0.3", "given twice"),
                                        ("uniform-hamming:m=1.5", "m must be a whole number"),
                                        ("nope", "unknown example")])
def test_bad_example_specs(capsys, spec, says):
    code, err = _cli(capsys, "rd", "--example", spec, "--num", "2")
    assert code == 2 and says in _one_line_error(err, "rdtheory rd: error:")


@pytest.mark.torch
def test_codec_unknown_task(capsys, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("compressai")
    code, err = _cli(capsys, "codec", "--task", "no-such-task", "--out-dir", str(tmp_path / "run"), "--lmbdas", "1")
    assert code == 2 and "task must be one of" in _one_line_error(err, "rdtheory codec: error:")
    assert not (tmp_path / "run").exists()


def test_paper_checks_only_matching_nothing(capsys, tmp_path):
    from paper_checks.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(["--only", "nomatch*", "--out", str(tmp_path), "--figures", str(tmp_path)])
    assert stop.value.code == 2
    assert "matches no claim or figure" in _one_line_error(capsys.readouterr().err, "python -m paper_checks: error:")
    assert list(tmp_path.iterdir()) == []


def test_paper_checks_progress_per_claim_and_figure(capsys, tmp_path, monkeypatch):
    import paper_checks
    from matplotlib.figure import Figure
    from paper_checks.__main__ import discover, main

    discover()  # main discovers again; the registry is then complete and our fakes stay
    for cid in ("zz.one", "zz.two"):
        monkeypatch.setitem(paper_checks.CLAIMS, cid, ("-", "-", lambda quick, cid=cid: paper_checks.make(
            cid, expected=1, measured=1, tolerance=0, tolerance_why="test", status=paper_checks.PASS)))
    monkeypatch.setitem(paper_checks.FIGURES, "zz.png", lambda quick: Figure())
    assert main(["--only", "zz*", "--out", str(tmp_path), "--figures", str(tmp_path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [ln for ln in err if ln.startswith("[")] == ["[1/2] zz.one ...", "[2/2] zz.two ...",
                                                       "[figure 1/1] zz.png ..."]
    assert (tmp_path / "zz.png").stat().st_size > 0


# ---- plotting: log D axis ----

class _Curve(NamedTuple):
    distortion: np.ndarray
    rate: np.ndarray
    lower: np.ndarray
    gap: np.ndarray


def _curve(D):
    D = np.asarray(D, float)
    r = np.maximum(0.0, 1.0 - D)
    return _Curve(D, r, r, np.zeros_like(D))


@pytest.mark.parametrize("D, scale", [([1e-4, 1e-2, 0.3], "log"),        # three decades
                                      ([0.02, 0.1, 0.21], "log"),        # just over one decade
                                      ([0.05, 0.1, 0.5], "linear"),      # exactly one decade: not more
                                      ([0.0, 1e-3, 0.5], "linear"),      # D = 0 has no place on a log axis
                                      ([0.2], "linear")])
def test_rd_curve_figure_axis_scale(D, scale):
    from rdtheory.plotting import rd_curve_figure

    fig = rd_curve_figure(_curve(D), closed_form=lambda d: np.maximum(0.0, 1.0 - d))
    assert fig.axes[0].get_xscale() == scale


# ---- _io: permissions, interrupted writes, strict JSON, cache folder ----

@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_keep_the_umask(tmp_path, umask):
    from rdtheory._io import atomic_write_bytes, atomic_write_json, atomic_write_text

    old = os.umask(umask)
    try:
        for i, write in enumerate((atomic_write_text, atomic_write_json, atomic_write_bytes)):
            path = write(tmp_path / f"f{i}", b"x" if write is atomic_write_bytes else "x")
            assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # what open(path, "w") gives
    finally:
        os.umask(old)


class _InterruptingFigure:
    def savefig(self, fh, **kwargs):
        fh.write(b"half a figure")  # bytes reach the temp file, then Ctrl-C
        raise KeyboardInterrupt


def test_interrupted_write_leaves_the_old_file_and_no_temp(tmp_path):
    from rdtheory._io import atomic_savefig

    target = tmp_path / "fig.png"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        atomic_savefig(_InterruptingFigure(), target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]


def test_json_is_strict(tmp_path):
    from rdtheory._io import atomic_write_json

    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")

    path = atomic_write_json(tmp_path / "r.json", {
        "nan": float("nan"), "inf": [np.inf, -np.inf, 1.5], "f32": np.float32("nan"), "arr": np.array([1.0, np.nan]),
        "i": np.int64(3), "b": np.bool_(True), "nested": ({"x": -np.inf},), "s": "NaN"})
    got = json.loads(path.read_text(), parse_constant=refuse)
    assert got == {"nan": None, "inf": [None, None, 1.5], "f32": None, "arr": [1.0, None], "i": 3, "b": True,
                   "nested": [{"x": None}], "s": "NaN"}


def test_json_refuses_unknown_types(tmp_path):
    from rdtheory._io import atomic_write_json

    with pytest.raises(TypeError, match="cannot serialise object"):
        atomic_write_json(tmp_path / "r.json", {"x": object()})
    assert list(tmp_path.iterdir()) == []


def test_cache_dir_order(monkeypatch, tmp_path):
    from rdtheory._io import cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RDTHEORY_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir("data") == tmp_path / "home" / ".cache" / "rdtheory" / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    assert cache_dir("data") == tmp_path / "home" / ".cache" / "rdtheory" / "data"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("paper_checks/codecs_toy") == tmp_path / "xdg" / "rdtheory" / "paper_checks" / "codecs_toy"
    monkeypatch.setenv("RDTHEORY_CACHE", str(tmp_path / "mine"))
    assert cache_dir("data") == tmp_path / "mine" / "data"
    assert not (tmp_path / "mine").exists()  # asking for the folder creates nothing
    for bad in ("", "../x", "/abs"):
        with pytest.raises(ValueError, match="cache name"):
            cache_dir(bad)


def test_no_cache_in_the_working_directory():
    # every cache outside the torch packages goes through rdtheory._io.cache_dir
    roots = [ROOT / d for d in ("rdtheory", "paper_checks", "experiments", "benchmarks")]
    skip = {ROOT / "rdtheory" / "vision", ROOT / "rdtheory" / "codecs"}  # listed for their owner
    hits = [str(p.relative_to(ROOT)) for r in roots for p in r.rglob("*.py")
            if not skip.intersection(p.parents) and p.name != "_io.py"  # _io: the helper, under ~
            and re.search(r"""["']\.cache\b""", p.read_text())]
    assert hits == []
