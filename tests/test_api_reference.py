"""The API reference (mkdocs + mkdocstrings, ``make docs``) builds in strict mode: a docstring
section griffe cannot parse, a broken cross-reference or a missing page fails this test, not
only the docs build."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mkdocs_strict_build(tmp_path):
    pytest.importorskip("mkdocstrings", reason="the docs extra (pip install -e '.[docs]') is not installed")
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "discrete" / "index.html").exists()
    shutil.rmtree(tmp_path / "site", ignore_errors=True)
