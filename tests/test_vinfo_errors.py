"""Bad inputs to rdtheory.vinfo raise ValueError naming the argument and the fix."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rdtheory.vinfo import (GaussianDecoderFamily, LinearGaussianFamily, LogisticFamily, MLPFamily, TabularFamily,
                            conditional_v_information, jax_mlp, paired_difference, pointwise_v_information,
                            v_information)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((60, 2))
Y = RNG.integers(0, 3, 60)


@pytest.mark.parametrize("x, y, match", [
    (X[:59], Y, "x has 59 rows but y has 60"),
    (X, np.zeros(60, dtype=int), "single class"),
    (np.where(np.arange(120).reshape(60, 2) == 7, np.nan, X), Y, "x contains 1 NaN/inf"),
    (X, np.where(np.arange(60) == 3, np.nan, Y), "y contains 1 NaN/inf"),
    (X, Y + 0.5, "non-integer values"),
    (X, Y.reshape(30, 2), "1-D array of class labels"),
    (np.zeros((60, 2, 2)), Y, "x must have 1 or 2 dimension"),
    ([], [], "empty"),
])
def test_bad_data_categorical(x, y, match):
    with pytest.raises(ValueError, match=match):
        v_information(x, y, LogisticFamily())


def test_bad_data_continuous():
    with pytest.raises(ValueError, match="y contains 1 NaN/inf"):
        v_information(X[:, 0], np.where(np.arange(60) == 0, np.inf, X[:, 1]), LinearGaussianFamily())
    with pytest.raises(ValueError, match="x has 50 rows but y has 60"):
        v_information(X[:50], X[:, 1], LinearGaussianFamily())


def test_class_with_one_sample_needs_in_sample_split():
    y = np.r_[np.zeros(30, int), np.ones(29, int), 2]
    with pytest.raises(ValueError, match="class 2 of y has 1 sample"):
        v_information(X, y, LogisticFamily())
    assert np.isfinite(v_information(X, y, LogisticFamily(), split="none").value)  # the suggested fix works


@pytest.mark.parametrize("kwargs, match", [
    (dict(split="bogus"), "split must be one of"),
    (dict(test_size=1.5), "test_size"),
    (dict(n_folds=1), "n_folds"),
    (dict(ci="wald"), "ci must be one of"),
    (dict(n_bootstrap=10), "n_bootstrap"),
    (dict(confidence=1.0), "confidence"),
    (dict(seed=None), "seed must be an int"),
    (dict(seed=1.5), "seed must be an int"),
    (dict(split=[]), "empty sequence"),
    (dict(split=[(np.arange(10), np.arange(100, 110))]), "index arrays within"),
    (dict(split="crossfit", n_folds=100), "exceeds the number of samples"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        v_information(X, Y, LogisticFamily(), **kwargs)


def test_objects_that_are_not_families():
    with pytest.raises(ValueError, match="family must be a predictive family"):
        v_information(X, Y, object())
    with pytest.raises(ValueError, match=r"instance, not the class LogisticFamily; pass e.g. LogisticFamily\(\)"):
        v_information(X, Y, LogisticFamily)

    class Broken:
        target = "categorical"

        def fit(self, x, y, *, seed, n_classes=None):
            raise RuntimeError("boom")

    with pytest.raises(ValueError, match="Broken could not be fitted: RuntimeError: boom"):
        v_information(X, Y, Broken())

    class NoPredictor:
        target = "categorical"

        def fit(self, x, y, *, seed, n_classes=None):
            return 42

    with pytest.raises(ValueError, match="must return a predictor"):
        v_information(X, Y, NoPredictor())


def test_families_that_cannot_fit():
    with pytest.raises(ValueError, match="TabularFamily needs discrete x"):
        v_information(X, Y, TabularFamily())
    with pytest.raises(ValueError, match="underdetermined"):
        v_information(RNG.standard_normal((20, 30)), RNG.standard_normal(20), LinearGaussianFamily())
    x = RNG.standard_normal(100)
    with pytest.raises(ValueError, match="variance collapsed"):
        v_information(x, 2 * x + 1, LinearGaussianFamily())
    with pytest.raises(ValueError, match="variance collapsed"):  # constant target column, diagonal model
        v_information(x, np.c_[x + RNG.standard_normal(100), np.ones(100)], LinearGaussianFamily(variance="diagonal"))
    xs = np.r_[np.zeros(50, int), np.ones(50, int)]
    ys = np.r_[np.arange(50) % 2, np.zeros(49, int), 1]  # the pair (x=1, y=1) occurs once, in the eval part
    folds = [(np.arange(90), np.arange(90, 100))]
    with pytest.raises(ValueError, match="zero likelihood"):  # the ML table (alpha=0) gives it probability 0
        v_information(xs, ys, TabularFamily(alpha=0.0), split=folds)
    assert np.isfinite(v_information(xs, ys, TabularFamily(alpha=0.5), split=folds).value)  # the suggested fix

def test_decoder_family_errors():
    x = RNG.standard_normal((50, 1))
    y = RNG.standard_normal((50, 2))
    with pytest.raises(ValueError, match=r"means of shape \(35, 2\)"):
        v_information(x, y, GaussianDecoderFamily(lambda v: v))
    with pytest.raises(ValueError, match="NaN/inf means"):
        v_information(x, y, GaussianDecoderFamily(lambda v: np.full((len(v), 2), np.nan)))
    with pytest.raises(ValueError, match="mean_fn failed"):
        v_information(x, y, GaussianDecoderFamily(lambda v: 1 / 0))
    params, apply = jax_mlp((3, 4, 2))  # wrong input width for x
    with pytest.raises(ValueError, match="could not be trained"):
        v_information(x, y, GaussianDecoderFamily(apply, init_params=params, steps=5))


@pytest.mark.parametrize("make, match", [
    (lambda: TabularFamily(alpha=-1), "alpha must be"),
    (lambda: LogisticFamily(C=0), "C must be > 0"),
    (lambda: MLPFamily(hidden=()), "hidden must be"),
    (lambda: LinearGaussianFamily(variance="bogus"), "variance must be one of"),
    (lambda: LinearGaussianFamily(variance=-1.0), "fixed variance must be"),
    (lambda: LinearGaussianFamily(ridge=-1.0), "ridge"),
    (lambda: GaussianDecoderFamily(3), "mean_fn must be callable"),
    (lambda: GaussianDecoderFamily(np.tanh, learning_rate=0), "learning_rate"),
    (lambda: jax_mlp((3,)), "sizes must list"),
])
def test_bad_family_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_pvi_and_conditional_and_difference_errors():
    with pytest.raises(ValueError, match="pass both x_eval and y_eval"):
        pointwise_v_information(X, Y, LogisticFamily(), x_eval=X)
    with pytest.raises(ValueError, match="never seen in y"):
        pointwise_v_information(X, Y, LogisticFamily(), x_eval=X[:2], y_eval=[0, 7])
    with pytest.raises(ValueError, match="x_eval has 2 rows but y_eval has 1"):
        pointwise_v_information(X, Y, LogisticFamily(), x_eval=X[:2], y_eval=[0])
    with pytest.raises(ValueError, match="feature column"):
        pointwise_v_information(X, Y, LogisticFamily(), x_eval=X[:2, :1], y_eval=[0, 1])
    with pytest.raises(ValueError, match="c has 59 rows"):
        conditional_v_information(X, Y, X[:59, 0], LogisticFamily())
    with pytest.raises(ValueError, match="unknown keyword"):
        conditional_v_information(X, Y, X[:, 0], LogisticFamily(), folds=3)
    a = v_information(X, Y, LogisticFamily(), seed=0)
    b = v_information(X, Y, LogisticFamily(), seed=1)
    with pytest.raises(ValueError, match="different rows"):
        paired_difference(a, b)
    with pytest.raises(ValueError, match="must be a VInformation"):
        paired_difference(a, 0.3)
    d = paired_difference(a, b, paired=False)  # the suggested fix works: independent-se combination
    assert d.stderr == pytest.approx(np.hypot(a.stderr, b.stderr))


def test_import_is_light():
    code = "import sys, rdtheory.vinfo, rdtheory.vinfo.examples; print('torch' in sys.modules, 'jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]  # neither torch nor JAX is imported until a family needs it
