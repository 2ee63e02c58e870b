"""The sequential warm-started curve (``rd_curve``'s default for ``method="accelerated"``)
against independent solves, plus the pieces it is built from.

Every point carries its own certificate ``lower <= R(D) <= rate``, so a warm start may only
change speed: the sequential curve and independent cold solves must agree through each
other's certified bounds (FP: float64 rounding of the bound arithmetic).
"""
import jax
import numpy as np
import pytest

from rdtheory.discrete import absolute_error, blahut_arimoto, rd_curve, squared_error
from rdtheory.discrete.config import SolverConfig, warm_config
from rdtheory.discrete.solver import solve_warm
from rdtheory.discrete.curves import _next_size_index, _sequential, _support_size

FP = 1e-12


def _grid_case(n=96, seed=0):
    p = np.random.default_rng(seed).dirichlet(np.ones(n))
    return p, squared_error(np.arange(n) / n)


def test_sequential_curve_matches_independent_solves():
    p, d = _grid_case()
    betas = np.geomspace(2.0, 2e4, 14)
    seq = rd_curve(p, d, betas=betas)
    ind = blahut_arimoto(p, d, betas)  # one vmap batch, cold starts
    assert np.all(seq.converged) and np.all(seq.gap <= 1e-7) and np.all(seq.gap >= -FP)
    assert np.all(np.isfinite(seq.rate)) and np.all(np.isfinite(seq.lower))
    for i in range(len(betas)):
        # each point is bracketed by the other's certificate at its own distortion
        assert float(ind.intercept[i] - ind.beta[i] / np.log(2) * seq.distortion[i]) <= seq.rate[i] + FP
        assert seq.intercept[i] - seq.beta[i] / np.log(2) * float(ind.distortion[i]) <= float(ind.rate[i]) + FP
        # same slope, both within 1e-7 of the optimum of I + beta D: rates agree to ~the gaps
        obj_s = seq.rate[i] + seq.beta[i] / np.log(2) * seq.distortion[i]
        obj_i = float(ind.rate[i] + ind.beta[i] / np.log(2) * ind.distortion[i])
        assert abs(obj_s - obj_i) <= 2e-7


def test_sequential_equals_chunked_curve_within_gaps():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(30))
    d = absolute_error(np.linspace(0, 1, 30))
    seq = rd_curve(p, d, num=10)
    chunked = rd_curve(p, d, num=10, chunk=4)
    assert np.all(seq.converged) and np.all(chunked.converged)
    np.testing.assert_allclose(seq.beta, chunked.beta)
    obj = lambda c: c.rate + c.beta / np.log(2) * c.distortion
    assert np.all(np.abs(obj(seq) - obj(chunked)) <= 2e-7)


def test_sequential_trace_and_fallback_to_the_full_solver():
    p, d = _grid_case(64, seed=3)
    trace = []
    # a map budget too small to certify (2 maps: the loops stop before any Newton step; with
    # 40 maps the QR Newton step already certifies slope 30): every warm attempt fails, the
    # full solver decides, and the points come back unconverged but finite and still certified
    out = _sequential(p, d, np.array([30.0, 300.0]), tol=1e-7, dtype="float64", newton_size=8,
                      max_iter=2, trace=trace)
    assert [t["k"][-1] for t in trace] == ["full", "full"]
    for r, t in zip(out, trace):
        assert np.isfinite(r.rate) and np.isfinite(r.lower) and r.lower <= r.rate + FP
        assert int(r.iterations) == t["iterations"] and t["gap"] == pytest.approx(float(r.gap))
    # with the normal budget the same slopes certify
    out = _sequential(p, d, np.array([30.0, 300.0]), tol=1e-7, dtype="float64", newton_size="auto",
                      max_iter=100_000)
    assert all(bool(r.converged) and float(r.gap) <= 1e-7 for r in out)


def test_warm_start_from_a_neighbour():
    p, d = _grid_case(64, seed=1)
    prev = blahut_arimoto(p, d, 100.0)
    res = solve_warm(p, d, 120.0, prev.r, warm_config(64, 64, 1e-7, final=True))
    cold = blahut_arimoto(p, d, 120.0)
    assert bool(res.converged) and float(res.gap) <= 1e-7
    assert float(cold.lower_bound_at(res.distortion)) <= float(res.rate) + FP


def test_warm_config_budgets():
    WARM_TAIL, WARM_WARMUP, WARM_WARMUP_FULL = SolverConfig.warm_tail, SolverConfig.warm_warmup, SolverConfig.warm_warmup_full
    small, full = warm_config(128, 1024, 1e-7), warm_config(1024, 1024, 1e-7, final=True, max_iter=5000)
    assert small.warmup == WARM_WARMUP and not small.squarem_tail and full.squarem_tail
    assert full.warmup == WARM_WARMUP_FULL and full.max_rounds < SolverConfig.max_rounds
    assert full.max_iter == WARM_WARMUP_FULL + WARM_TAIL
    assert warm_config(1024, 1024, 1e-7, final=True, max_iter=50).max_iter == 50
    assert warm_config(512, 1024, 1e-7, final=True).max_rounds == SolverConfig.max_rounds
    assert warm_config(96, 96, 1e-7, final=True).max_rounds == SolverConfig.max_rounds  # small grid


def test_size_schedule_and_support():
    sizes = [128, 256, 512, 1024]
    assert _next_size_index(sizes, 2, support=40) == 1       # one step down at a time
    assert _next_size_index(sizes, 2, support=200) == 2      # stays: 256 < 2*200 + 32
    assert _next_size_index(sizes, 0, support=1) == 0
    assert _next_size_index(sizes, 2, support=500) == 3      # 500 fills > 90 % of 512 slots
    assert _next_size_index(sizes, 3, support=1024) == 3     # already the largest
    r = np.zeros(100)
    r[:5] = 0.2
    r[5:] = 1e-12                                            # warm-start dust is not support
    assert _support_size(r) == 5
