"""rdtheory.discrete.search: the one batched certified search (R at target D, D at target R)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import rdtheory.discrete.search as search
from rdtheory.discrete import (UnconvergedWarning, certified_search, closed_form as cf, distortion_range, hamming,
                               rate_at_distortion, rd_curve)
from rdtheory.info import binary_entropy, channel_mutual_information
from rdtheory.machines import certified_rates

FP = 1e-9  # float64 rounding of the certificate's sums, far below the 1e-7-bit tol asked for


def _random(seed, n=12, m=9):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(n)), rng.uniform(0, 2, (n, m))


def test_batched_rate_at_distortion_brackets_the_closed_form():
    # two Bernoulli sources, Hamming distortion: R(D) = h(p) - h(D) (Cover & Thomas 10.3.1)
    p = np.array([[0.5, 0.5], [0.2, 0.8]])
    D = np.array([[0.05, 0.11, 0.3], [0.02, 0.1, 0.15]])
    res = certified_search(p, hamming(2), D)
    exact = np.array([[cf.binary_hamming(x, q[0]) for x in row] for row, q in zip(D, p)])
    assert res.rate.shape == (2, 3) and res.q.shape == (2, 3, 2, 2)
    assert np.all(res.lower - FP <= exact) and np.all(exact <= res.rate + FP)
    assert np.all(res.gap <= 1e-7) and res.converged.all() and res.bracketed.all()
    # the time-sharing mixture has distortion exactly D and its rate is recomputed exactly
    np.testing.assert_allclose(res.distortion, D, atol=1e-12)
    np.testing.assert_allclose(channel_mutual_information(p[:, None], res.q), res.rate, atol=1e-12)
    assert np.all(res.beta > 0)


def test_distortion_at_rate_target_brackets_the_inverse():
    # D(R) of a uniform bit under Hamming: h(D) = 1 - R
    R = np.array([0.2, 0.5, 0.9])
    res = certified_search([0.5, 0.5], hamming(2), R, at="rate", tol=1e-8)
    from scipy.optimize import brentq

    inv = np.array([brentq(lambda x: 1 - binary_entropy(x) - r, 1e-12, 0.5) for r in R])
    # tolerance: the requested 1e-8 (units of distortion) plus rounding
    assert np.all(res.distortion_lower[0] - 1e-12 <= inv) and np.all(inv <= res.distortion[0] + 1e-12)
    assert np.all(res.distortion[0] - res.distortion_lower[0] <= 1e-8) and res.converged.all()
    assert np.all(res.rate[0] <= R + 1e-9)  # the returned code's rate is within the budget


def test_trivial_targets_are_exact():
    res = certified_search([0.5, 0.5], hamming(2), [0.5, 0.7])   # D >= D_max = 1/2: rate 0
    assert np.all(res.rate == 0) and np.all(res.solves == 0) and res.converged.all()
    res = certified_search([0.5, 0.5], hamming(2), 0.0, at="rate")
    assert res.distortion[0, 0] == 0.5 and res.distortion_lower[0, 0] == 0.5


def test_unconverged_answers_are_flagged_and_warned():
    p, d = _random(7)
    dmin, dmax = distortion_range(p, d)
    D = dmin + 0.3 * (dmax - dmin)
    with pytest.warns(UnconvergedWarning, match="did not reach tol"):
        pt = rate_at_distortion(p, d, D, max_solves=3)
    # 3 solves leave a gap of ~0.15 bits here (8 reach 1e-7); the bounds still hold
    assert not pt.converged and pt.gap > 1e-7
    full = rate_at_distortion(p, d, D)
    assert full.converged and full.gap <= 1e-7
    assert pt.lower <= full.rate + FP and full.lower <= pt.rate + FP
    # 3 engine iterations per solve cannot certify 1e-7 bits (the gaps stay ~3e-3..1e-2 bits)
    with pytest.warns(UnconvergedWarning):
        pts = certified_rates(p, d, [D, dmin + 0.6 * (dmax - dmin)], max_iter=3)
    assert not pts.converged.any() and np.all(pts.converged == (pts.gap <= 1e-7))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnconvergedWarning)   # converged answers warn nothing
        certified_rates(p, d, D)


def test_a_failing_engine_never_leaks_nan(monkeypatch):
    p, d = _random(3)
    dmin, dmax = distortion_range(p, d)
    D = dmin + 0.4 * (dmax - dmin)
    ref = certified_search(p, d, D)
    real = search.blahut_arimoto

    def nan_when_accelerated(*args, **kw):
        res = real(*args, **kw)
        if kw.get("method") == "accelerated":
            res = res._replace(r=np.full(np.shape(res.r), np.nan), lower=np.full(np.shape(res.lower), np.nan))
        return res

    monkeypatch.setattr(search, "blahut_arimoto", nan_when_accelerated)
    res = certified_search(p, d, D)   # the squarem re-solve takes over: same certified answer
    assert res.converged.all() and res.gap[0, 0] <= 1e-7
    assert abs(res.rate[0, 0] - ref.rate[0, 0]) <= 2e-7   # both within 1e-7 of R(D)

    def always_nan(*args, **kw):
        res = real(*args, **kw)
        return res._replace(r=np.full(np.shape(res.r), np.nan))

    monkeypatch.setattr(search, "blahut_arimoto", always_nan)
    with pytest.warns(UnconvergedWarning):
        res = certified_search(p, d, D, max_solves=4)
    # every solve discarded: the exact zero-rate point remains, flagged, no NaN anywhere
    assert not res.converged[0, 0] and not res.bracketed[0, 0]
    assert all(np.all(np.isfinite(np.asarray(f, dtype=float))) for f in res)


def test_bad_search_arguments():
    with pytest.raises(ValueError, match="at must be"):
        certified_search([0.5, 0.5], hamming(2), 0.1, at="slope")
    with pytest.raises(ValueError, match="below the minimum"):
        certified_search([0.5, 0.5], hamming(2) + 0.1, 0.05)
    with pytest.raises(ValueError, match="target must have shape"):
        certified_search(np.full((2, 2), 0.5), hamming(2), np.full((3, 1), 0.1))
    with pytest.raises(ValueError, match="NaN"):
        certified_search([0.5, 0.5], hamming(2), np.nan)


def test_rd_curve_keeps_the_conditionals():
    c = rd_curve([0.5, 0.5], hamming(2), num=6, keep_q=True)
    assert c.q.shape == (6, 2, 2) and rd_curve([0.5, 0.5], hamming(2), num=6).q is None
    # each q achieves its point: its exact I(p, q) is the reported rate
    np.testing.assert_allclose(channel_mutual_information([0.5, 0.5], c.q), c.rate, atol=1e-12)
