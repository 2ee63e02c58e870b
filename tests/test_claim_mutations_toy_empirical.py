"""Mutation tests of ``toy.empirical_rd_x_y``'s decision (issue 14, the toy from samples).

:func:`paper_checks.claims_toy_empirical.bound_verdict` is fed the numbers recorded from a quick
run (``python -m paper_checks --only 'toy.empirical*'``: 1000 samples per class per layer, half
held out, 64 k-means atoms) and must PASS on them, and FAIL when the measured rates move by the
smallest amount that matters. The bracket helpers are checked on their closed forms. No
estimator runs.
"""
import math

import numpy as np
import pytest

from paper_checks.claims_toy_empirical import (EXCESS_BITS, FAIL, PASS, bound_verdict, cell_mse, grid_lower,
                                               grid_upper)

# per layer, per target: rate interval [lo, hi] (bits), truth lower bracket at D_hi, truth upper at D_lo
REC = {
    "x": np.array([[3.34995, 3.38062, 2.92057, 3.44455], [2.80952, 2.84402, 2.4522, 2.87111],
                   [2.20853, 2.24105, 1.84739, 2.22071], [1.47828, 1.51583, 1.02612, 1.38854],
                   [0.76265, 0.80272, 0.45721, 0.68453]]),
    "y": np.array([[0.9726, 0.97437, 0.95035, 0.97754], [0.92999, 0.93238, 0.91422, 0.93977],
                   [0.86011, 0.86343, 0.84359, 0.87681], [0.74725, 0.7515, 0.73049, 0.76687],
                   [0.57273, 0.57737, 0.54528, 0.58355]]),
}


def verdict(rows, shift=0.0):
    return bound_verdict(rows[:, :2] + shift, rows[:, 2], rows[:, 3])


@pytest.mark.parametrize("layer", ["x", "y"])
def test_passes_on_recorded_values(layer):
    assert verdict(REC[layer]) == PASS


def test_fails_when_the_bound_drops_below_the_truth():
    # tightest validity room: Y at D = 0.30, rate_hi - truth_lo = 0.018 bits; 0.019 lower breaks it
    room = min(float(np.min(r[:, 1] - r[:, 2])) for r in REC.values())
    assert room == pytest.approx(0.01816, abs=1e-5)
    assert verdict(REC["y"], -(room + 1e-3)) == FAIL
    assert verdict(REC["y"], -(room - 1e-3)) == PASS


def test_fails_when_the_bound_is_absurdly_above_the_truth():
    # largest excess: X at D = 2.05, rate_lo - truth_hi = 0.090 bits; the allowance is EXCESS_BITS
    excess = float(np.max(REC["x"][:, 0] - REC["x"][:, 3]))
    assert excess == pytest.approx(0.08974, abs=1e-5)
    room = EXCESS_BITS - excess
    assert verdict(REC["x"], room + 1e-3) == FAIL
    assert verdict(REC["x"], room - 1e-3) == PASS


def test_one_bad_point_fails_the_layer():
    rows = REC["x"].copy()
    rows[0, :2] -= rows[0, 1] - rows[0, 2] + 1e-3  # first target only, just under the truth
    assert verdict(rows) == FAIL


def test_cell_mse_x_is_the_within_cell_variance():
    # 20 x 4 cells of 0.5 x 0.1: (0.5^2 + 0.1^2) / 12
    assert cell_mse("x") == pytest.approx((0.25 + 0.01) / 12, rel=1e-12)


def test_cell_mse_y_matches_monte_carlo():
    # Monte Carlo of E||Y - g(midpoint)||^2 on 2e5 samples gave 0.0016974 (std err ~1e-5)
    assert cell_mse("y") == pytest.approx(0.0016974, abs=5e-5)


class _Curve:  # R(D) = max(0, 1 - D) in bits on three solved points, slope ln 2 nats (= 1 bit) per unit
    mse = np.array([0.0, 0.5, 1.0])
    rate = np.array([1.0, 0.5, 0.0])
    rate_lower = rate - 1e-9
    beta = np.full(3, math.log(2))


def test_grid_brackets_on_a_linear_curve():
    d = np.array([0.25, 0.75])
    assert np.allclose(grid_upper(_Curve, d), 1 - d)
    assert np.allclose(grid_lower(_Curve, d), 1 - d, atol=1e-8)
    assert np.all(grid_lower(_Curve, d) <= grid_upper(_Curve, d))
    assert np.isinf(grid_upper(_Curve, [-0.1])).all()


def test_cell_mse_rejects_an_unknown_layer():
    with pytest.raises(ValueError, match="layer"):
        cell_mse("z")
