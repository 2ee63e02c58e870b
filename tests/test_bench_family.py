"""The benchmark family's members and its end-to-end run at a tiny size (benchmarks/family.py)."""
import json

import numpy as np
import pytest

from benchmarks import family


@pytest.mark.parametrize("name", family.SOURCES)
def test_sources_are_distributions(name):
    p = family.source(name, 64)
    # normalised by construction: exact up to float64 rounding of a 64-term sum
    assert p.shape == (64,) and np.all(p > 0) and abs(p.sum() - 1) < 1e-12


def test_laplace_is_unit_variance_laplace_truncated_to_the_grid():
    # Laplace with scale b = 1/sqrt 2 (variance 1) truncated to [-4, 4] and renormalised:
    # E[X^2; |X| > 4] = e^{-4/b} (16 + 8b + 2b^2), P(|X| > 4) = e^{-4/b}. The cell-midpoint
    # second moment differs from the exact one by O(h^2) = O((8/4096)^2) ~ 4e-6; tolerance 1e-4.
    b = 1 / np.sqrt(2)
    tail = np.exp(-4 / b)
    exact = (1 - tail * (16 + 8 * b + 2 * b**2)) / (1 - tail)
    x, p = family.grid(4096), family.source("laplace", 4096)
    assert abs(p @ x**2 - exact) < 1e-4


def test_slopes_span_trivial_to_large():
    p, d = family.source("gaussian", 64), family.distortion("absolute", 64)
    b = family.member_betas(p, d, 5)
    from rdtheory.discrete import default_betas

    assert b[0] == pytest.approx(default_betas(p, d, 2)[0], rel=1e-12)
    assert b[-1] * d.max() >= 1e4 * (1 - 1e-12) and np.all(np.diff(b) > 0)


def test_unknown_member_names_raise():
    with pytest.raises(ValueError, match="source"):
        family.source("cauchy", 8)
    with pytest.raises(ValueError, match="distortion"):
        family.distortion("cosine", 8)


def test_tiny_run_writes_tables(tmp_path):
    family.main(["--sizes", "16", "--budget", "0.5", "--betas-per-member", "2", "--curves",
                 "--sources", "uniform", "--distortions", "hamming", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "family.json").read_text())
    rows = res["rows"]["16"]
    # uniform source, Hamming distortion: R(D) = log2(16) - h(D) - D log2(15) at every slope;
    # the solver's certified rate must match to its 1e-7-bit gap (plus float rounding)
    from rdtheory.discrete.closed_form import mary_hamming

    assert len(rows) == 2 and all(r["converged"] for r in rows)
    for r in rows:
        assert r["rate_bits"] - r["gap_bits"] - 1e-9 <= float(mary_hamming(r["distortion"], 16)) <= r["rate_bits"] + 1e-9
    assert "incomplete" not in res and "## Per size" in (tmp_path / "family.md").read_text()
