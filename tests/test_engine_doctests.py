"""The docstring examples of the engine modules run and give what they show."""
import doctest
import importlib

import pytest

MODULES = ["rdtheory.info", "rdtheory.discrete.distortions", "rdtheory.discrete.solver",
           "rdtheory.discrete.curves", "rdtheory.discrete.matrix_free", "rdtheory.discrete.point_distortions"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_cli_rd_and_errors(tmp_path, capsys):
    import numpy as np

    from rdtheory.cli import main

    out = tmp_path / "c.csv"
    assert main(["rd", "--example", "binary:p=0.3", "--num", "6", "--quiet", "--out", str(out),
                 "--plot", str(tmp_path / "c.png")]) == 0
    import pandas as pd

    df = pd.read_csv(out)
    from rdtheory.discrete import closed_form as cf
    # every row brackets the closed form (certificate, 1e-12 bits rounding)
    exact = cf.binary_hamming(df.distortion.to_numpy(), 0.3)
    assert np.all(df.lower_bits - 1e-12 <= exact) and np.all(exact <= df.rate_bits + 1e-12)
    assert (tmp_path / "c.png").stat().st_size > 0
    np.save(tmp_path / "p.npy", np.array([0.5, 0.5]))
    np.savetxt(tmp_path / "d.csv", np.array([[0, 1], [1, 0.0]]), delimiter=",")
    assert main(["rd", "--source", str(tmp_path / "p.npy"), "--distortion", str(tmp_path / "d.csv"),
                 "--at-distortion", "0.11"]) == 0
    assert "R(0.11) in [0.50008" in capsys.readouterr().out
    assert main(["rd", "--example", "nope"]) == 2
    assert main(["rd", "--source", str(tmp_path / "missing.npy"), "--distortion", str(tmp_path / "d.csv")]) == 2
    err = capsys.readouterr().err
    assert "unknown example" in err and "file not found" in err
