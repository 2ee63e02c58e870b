"""Point distortions: named tiles against the dense formulas, and the checks on callables."""
import numpy as np
import pytest
import jax.numpy as jnp

from rdtheory.discrete.point_distortions import (POINT_DISTORTIONS, check_point_distortion, dense_matrix,
                                                 point_distortion)

X = np.random.default_rng(0).integers(-3, 4, (9, 3)).astype(float) / 2
Y = np.random.default_rng(1).integers(-3, 4, (7, 3)).astype(float) / 2

REFERENCE = {  # the definitions, by broadcasting in numpy float64
    "squared": lambda x, y: ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1),
    "absolute": lambda x, y: np.abs(x[:, None, :] - y[None, :, :]).sum(-1),
    "hamming": lambda x, y: (x[:, None, :] != y[None, :, :]).sum(-1).astype(float),
}


@pytest.mark.parametrize("name", sorted(POINT_DISTORTIONS))
def test_named_tiles_match_the_definitions(name):
    got = dense_matrix(name, X, Y)
    # half-integer coordinates: every entry is exact in float64 (the matmul form of
    # "squared" included), so equality is the right test
    np.testing.assert_array_equal(got, REFERENCE[name](X, Y))
    assert got.dtype == np.float64 and got.shape == (9, 7)


def test_squared_is_never_negative_under_cancellation():
    # near-duplicate points far from the origin: the matmul form cancels badly, and without
    # the clip some entries come out slightly negative (seen: ~-1e-8 here)
    x = 1e4 + np.random.default_rng(2).standard_normal((50, 4)) * 1e-6
    got = dense_matrix("squared", x, x)
    assert got.min() >= 0.0
    # ... while the definition is tiny: the absolute error is what float64 allows at |x|^2 ~ 4e8
    assert np.max(np.abs(got - REFERENCE["squared"](x, x))) < 1e-6


def test_unknown_name_and_non_callable():
    with pytest.raises(ValueError, match="one of"):
        point_distortion("cosine")
    with pytest.raises(ValueError, match="one of"):
        point_distortion(3)


@pytest.mark.parametrize("fn, match", [
    (lambda a, b: -jnp.ones((a.shape[0], b.shape[0])), "negative"),
    (lambda a, b: jnp.full((a.shape[0], b.shape[0]), jnp.inf), "NaN/inf"),
    (lambda a, b: jnp.ones((b.shape[0], a.shape[0] + 1)), "shape"),
    (lambda a: a, "failed"),
    (lambda a, b: ((a[:, None, :] - b[None]) ** 2).sum(-1) / a.shape[0], "not a function of the two points"),
])
def test_callable_checks(fn, match):
    with pytest.raises(ValueError, match=match):
        check_point_distortion(fn, X, Y)


def test_good_callable_passes_and_is_returned():
    fn = lambda a, b: jnp.abs(a[:, None, 0] - b[None, :, 0])
    assert check_point_distortion(fn, X, Y) is fn
    np.testing.assert_array_equal(dense_matrix(fn, X, Y), np.abs(X[:, None, 0] - Y[None, :, 0]))
