"""rdtheory.machines: models, rates, optimal sets, merge, counterexamples (fast tests)."""
from __future__ import annotations

import numpy as np
import pytest

from rdtheory.discrete import closed_form, hamming, rate_at_distortion, task_induced
from rdtheory.info import binary_entropy, channel_mutual_information as mutual_information
from rdtheory.machines import (SLACK, FiniteTaskModel, certified_rates, check_corollary31, check_corollary41,
                               check_theorem1, check_theorem2, check_theorem2a, check_theorem3, check_theorem4,
                               image_condition, induced_distortion_set, induced_set, merge_candidates,
                               merge_rate_drop, merge_reproductions, rate_problem, rate_x,
                               rate_xy, rate_y, theorem2a_condition)
from rdtheory.machines import instances as I


# ------------------------------------------------------------------------------- model
def test_model_basics():
    m = FiniteTaskModel([0.25, 0.25, 0.5], maps=[[0, 0, 1], [1, 0]])
    assert m.names == ("X", "Y", "T") and m.sizes == (3, 2, 2)
    assert m.f.tolist() == [1, 1, 0]
    np.testing.assert_allclose(m.marginal("Y"), [0.5, 0.5])
    np.testing.assert_allclose(m.marginal("T"), [0.5, 0.5])
    assert m.image().tolist() == [0, 1]
    assert m.index("T") == 2 == m.index(-1)
    assert m.push("Y", "T").tolist() == [1, 0]
    m2 = FiniteTaskModel([0.5, 0.5], maps=[[0, 1], [0, 1, 2]], sizes=[3, 3])
    assert m2.image("T", "Y", reproductions=True).tolist() == [0, 1, 2]
    assert m2.image().tolist() == [0, 1]
    m3 = m2.with_reproductions(Y=[0, 1])
    assert image_condition(m3) and not image_condition(m2)
    assert repr(m) == "FiniteTaskModel(X[3] -> Y[2] -> T[2])"
    with pytest.raises(ValueError):  # immutable arrays
        m.p_x[0] = 1.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(p_x=[0.5, 0.6], maps=[[0, 1]]), "sum to 1"),
    (dict(p_x=[1.5, -0.5], maps=[[0, 1]]), "negative"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 2]], sizes=[2]), "out of range"),
    (dict(p_x=[0.5, 0.5], maps=[[0, -1]]), "out of range"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 1, 1]]), "has 3 entries"),
    (dict(p_x=[0.5, 0.5], maps=[[0.5, 1]]), "integer indices"),
    (dict(p_x=[0.5, 0.5], maps=[]), "at least one"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 1]], reproductions=[[], None]), "empty"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 1]], reproductions=[[0, 5], None]), "outside"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 1]], reproductions=[[0, 0], None]), "repeated"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 1]], distortions=[np.zeros((3, 3)), None]), r"shape \(3, 3\)"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 1]], distortions=[None]), "one entry per layer"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 1]], distortions=[None, -np.eye(2)]), "negative"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 1]], distortions=[None, [[0, np.nan], [1, 0]]]), "NaN"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 1]], names=("A", "A")), "distinct"),
    (dict(p_x=[0.5, 0.5], maps=[[0, 1]], sizes=[0]), "positive alphabet sizes"),
])
def test_model_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FiniteTaskModel(**kwargs)


def test_bad_layers_and_targets():
    m = I.distillation_example()
    with pytest.raises(ValueError, match="unknown layer"):
        m.index("Z")
    with pytest.raises(ValueError, match="must be at or after"):
        rate_problem(m, cut="T", target="Y")
    with pytest.raises(ValueError, match="shallower"):
        m.push("T", "X")
    with pytest.raises(ValueError, match="below the minimum"):
        certified_rates([0.5, 0.5], hamming(2) + 0.1, 0.05)
    with pytest.raises(ValueError, match="kind"):
        I.random_model(0, kind="ranking")


# ------------------------------------------------------------------------------- rates
def test_rate_problems_match_the_definitions():
    m = I.random_model(3, n_x=6, hidden=(4,), n_t=3, extra=1)
    px = rate_problem(m)                                   # R_X(D;T), Eq. 5
    np.testing.assert_array_equal(px.d, task_induced(m.f, m.distortion("T")))
    py = rate_problem(m, cut="Y")                          # R_Y(D;T), Eq. 6
    np.testing.assert_allclose(py.p, np.bincount(m.maps[0], m.p_x, minlength=m.sizes[1]))
    assert py.p[-1] == 0.0                                 # the extra feature value is never produced
    pxy = rate_problem(m, cut="Y", direct=True)           # R_XY(D;T), Eq. 8
    assert pxy.d.shape == (6, m.sizes[1])
    np.testing.assert_array_equal(pxy.d, m.distortion("T")[np.ix_(m.f, m.maps[1])])
    pxx = rate_problem(m, cut=0, target=0)                 # R_X(D;X)
    np.testing.assert_array_equal(pxx.d, m.distortion("X"))


def test_certified_rates_match_engine_and_closed_form():
    pt = certified_rates([0.5, 0.5], hamming(2), [0.05, 0.11, 0.3, 0.6])
    exact = [closed_form.binary_hamming(D) for D in (0.05, 0.11, 0.3)] + [0.0]
    assert np.all(pt.lower - SLACK <= exact) and np.all(np.array(exact) <= pt.rate + SLACK)
    assert pt.gap.max() <= 1e-7 and pt.bracketed.all() and pt.converged.all()
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), 3)
    d = rng.random((3, 5, 5))
    D = np.einsum("bn,bn->b", p, d.min(-1))[:, None] + 0.1
    pts = certified_rates(p, d, D)
    for b in range(3):
        if b == 0:  # one engine cross-check (each new shape costs the engine a compile)
            ref = rate_at_distortion(p[b], d[b], D[b, 0])
            assert pts.lower[b, 0] <= ref.rate + SLACK and ref.lower <= pts.rate[b, 0] + SLACK
        np.testing.assert_allclose(np.einsum("n,nm->", p[b], pts.q[b, 0] * d[b]), pts.distortion[b, 0], atol=1e-12)
        assert pts.distortion[b, 0] <= D[b, 0] + 1e-12
        np.testing.assert_allclose(mutual_information(p[b], pts.q[b, 0]), pts.rate[b, 0], atol=1e-12)


def test_rate_functions_named_after_paper():
    m = I.distillation_example()
    D = [0.1, 0.3]
    rx, ry, rxy = rate_x(m, D), rate_y(m, D), rate_xy(m, D)
    exact = [1 - binary_entropy(x) for x in D]           # binary uniform classes, Hamming
    for r in (rx, ry, rxy):
        assert np.all(r.lower - SLACK <= exact) and np.all(np.array(exact) <= r.rate + SLACK)
    ryy = rate_y(m, D, target="Y")                        # 4-ary uniform Hamming
    exact4 = [closed_form.mary_hamming(x, 4) for x in D]
    assert np.all(ryy.lower - SLACK <= exact4) and np.all(np.array(exact4) <= ryy.rate + SLACK)


# ---------------------------------------------------------------------------- merge
def test_merge_rate_drop_is_exact_and_needs_different_posteriors():
    p = np.array([0.3, 0.7])
    q = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    merged = merge_reproductions(q, 1, 2)
    assert merged[:, 2].sum() == 0 and np.allclose(merged.sum(1), 1)
    drop = merge_rate_drop(p, q, 1, 2)
    np.testing.assert_allclose(drop, mutual_information(p, q) - mutual_information(p, merged), atol=1e-14)
    assert drop > 0
    q_same = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]) * 0 + np.array([[0.4, 0.4, 0.2], [0.1, 0.6, 0.3]])
    q_same[:, 2] = q_same[:, 1] / 2
    q_same[:, 1] /= 2
    q_same /= q_same.sum(1, keepdims=True)   # columns 1 and 2 proportional: equal posteriors
    assert merge_rate_drop(p, q_same, 1, 2) <= 1e-15
    assert merge_candidates(p, q_same, labels=[0, 1, 1]) == []
    cands = merge_candidates(p, q, labels=[0, 1, 1])
    assert len(cands) == 1 and cands[0].rate_drop == pytest.approx(drop)
    with pytest.raises(ValueError):
        merge_reproductions(q, 1, 1)


@pytest.mark.parametrize("call, match", [
    # p sums to 1.8: the drop would be computed for a measure that is not a distribution
    (lambda p, q: merge_rate_drop(p * 1.8, q, 1, 2), r"p must sum to 1 .*off by 0.8"),
    # a negative index would silently count from the end (-1 is column 2 here)
    (lambda p, q: merge_reproductions(q, -1, 1), r"keep must be a column index of q in 0\.\.2"),
    (lambda p, q: merge_rate_drop(p, q, 1, -2), r"drop must be a column index of q in 0\.\.2"),
    (lambda p, q: merge_reproductions(q, 0, 3), r"drop must be a column index of q in 0\.\.2"),
    (lambda p, q: merge_rate_drop(p, q, 1.0, 2), r"keep must be a column index"),
    (lambda p, q: merge_rate_drop(p, q, 2, 2), "two different reproductions"),
    (lambda p, q: merge_reproductions(q * 2, 0, 1), r"q \(each row, a conditional p\(x\^\|x\)\) must sum to 1"),
    (lambda p, q: merge_rate_drop([0.2, 0.3, 0.5], q, 0, 1), "p has 3 entries but q has 2 rows"),
])
def test_merge_refuses_bad_arguments_by_name(call, match):
    p = np.array([0.3, 0.7])
    q = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    with pytest.raises(ValueError, match=match):
        call(p, q)


def test_theorem_sides_are_named_records():
    from rdtheory.machines import SideSpec, distortion_grid

    spec = SideSpec("R_Y(D;T)", cut=1, target=-1)
    assert (spec.label, spec.cut, spec.target, spec.direct) == ("R_Y(D;T)", 1, -1, False)
    m = I.random_model(seed=0)
    specs = [spec, spec._replace(label="R_X(D;T)", cut=0)]
    grid = distortion_grid([m], (0.5,), problems=specs)
    # D = midpoint of [largest least distortion, largest zero-rate distortion] over the two problems
    probs = [rate_problem(m, cut=sp.cut, target=sp.target, direct=sp.direct) for sp in specs]
    lo = max(float(pr.p @ pr.d.min(1)) for pr in probs)
    hi = max(float((pr.p @ pr.d).min()) for pr in probs)
    np.testing.assert_allclose(grid, [[lo + 0.5 * (hi - lo)]], rtol=1e-15)
    with pytest.raises(ValueError, match="problems must hold SideSpec records"):
        distortion_grid([m], (0.5,), problems=[(1, -1, False)])


# ------------------------------------------------------------------- optimal sets
def test_induced_set_two_methods_agree_on_ambiguous_model():
    m = I.ambiguous_features()
    for D in (0.1, 0.25):
        g = induced_distortion_set(m, D, method="gibbs")
        c = induced_distortion_set(m, D, method="convex")
        # the convex interval is a certified outer bound of the true one; the LP's witnesses
        # are (near-)optimal codes, so they lie inside it up to the LP tolerance
        assert c.minimum <= g.minimum + 1e-6 and g.maximum <= c.maximum + 1e-6
        assert g.width > 0.01                         # a proper interval: the set is not a point
        assert c.width - g.width < 5e-3               # and the two methods agree closely
        assert np.all(np.abs(g.witness_rate - g.rate) < 1e-6)
        assert np.all(np.abs(g.witness_distortion - D) < 1e-6)


def test_induced_set_cross_check_on_random_models():
    for m in I.random_models(7, 3, n_x=5, hidden=(3,), n_t=2):
        opt, ind = rate_problem(m, cut=0, target=0), rate_problem(m)
        D = float(opt.p @ opt.d.min(1) + 0.4 * ((opt.p @ opt.d).min() - opt.p @ opt.d.min(1)))
        g = induced_set(opt.p, opt.d, ind.d, D, method="gibbs")
        c = induced_set(opt.p, opt.d, ind.d, D, method="convex")
        assert c.minimum <= g.minimum + 1e-6 and g.maximum <= c.maximum + 1e-6
        assert c.width < 0.05 * max(ind.d.max(), 1e-12)   # generic models: (nearly) one optimal code


def test_induced_set_zero_rate_region():
    m = I.distillation_example()
    s = induced_distortion_set(m, 0.9, cut="Y")
    assert s.rate == 0.0 and s.method == "zero-rate" and s.minimum <= s.maximum


# --------------------------------------------------------------------- counterexamples
def test_image_condition_counterexample_strict():
    m = I.image_condition_counterexample()
    assert not image_condition(m)
    assert theorem2a_condition(m, uniform=False)[0]       # per-y reading holds ...
    assert not theorem2a_condition(m)[0]                  # ... the proof's uniform one does not
    c = check_theorem2(m, [0.1, 0.25])
    assert not c.condition.any()
    # R_Y < R_X strictly, certified: the gap exceeds both certified errors
    assert np.all(c.details["strict_gap"] > SLACK)
    rx, ry = c.sides
    assert rx.lower[0, 1] - SLACK <= 1 - binary_entropy(0.25) <= rx.rate[0, 1] + SLACK
    assert ry.rate[0, 1] == 0.0
    assert np.all(c.details["splitting_le"] <= SLACK)      # [17]'s R_Y <= R_X still holds
    a = check_theorem2a(m, [0.25])
    assert not a.condition.any() and a.details["strict_gap"][0, 0] > 0.18


def test_theorem2a_model_equal():
    m = I.theorem2a_model()
    assert not image_condition(m) and theorem2a_condition(m)[0]
    c = check_theorem2a(m)
    # '=' by overlapping intervals: also cap their width (the engine's tol), or a sloppy solve passes
    assert c.condition.all() and c.verified and c.max_certified_error <= 1e-7 + SLACK


def test_theorem4_counterexamples_condition_fails_and_equality_holds():
    for m in (I.theorem4_injective_counterexample(), I.theorem4_equal_posteriors_counterexample()):
        c = check_theorem4(m, fractions=(0.3, 0.6), convex=False)
        assert not c.condition.any()
        assert np.all(c.details["merge_rate_drop"] <= 1e-9)
        lhs, rhs = c.sides
        # equality within certified errors (+ the witness's optimality defect)
        tol = lhs.gap + rhs.gap + SLACK + c.details["witness_defect_bits"] + 1e-7
        assert np.all(np.abs(c.details["lhs_at_witness_upper"] - rhs.rate) <= tol)


def test_distillation_loses_rate_corollary41():
    m = I.distillation_example()
    D = np.array([0.15, 0.3])
    c = check_corollary41(m, D)
    assert c.condition.all() and c.verified
    lhs, rhs = c.sides
    exact_rhs = [closed_form.mary_hamming(x, 4) for x in D]
    exact_lhs = [1 - binary_entropy(2 * x / 3) for x in D]
    # certified brackets are <= 1e-7 wide; the LHS is read at the LP witness, placed within 1e-8
    # of D^min, where |dR/dD| = log2((1-x)/x) <= 2.6 at x = 2D/3 = 0.1: 1e-7 + 2.6e-8
    np.testing.assert_allclose(rhs.rate[0], exact_rhs, atol=1e-7 + SLACK)
    np.testing.assert_allclose(c.details["lhs_at_witness_upper"][0], exact_lhs, atol=1.3e-7)
    np.testing.assert_allclose(c.details["D_min_witness"][0], 2 * D / 3, atol=1e-8)
    assert np.all(-c.violation > 0.2)


def test_corollary31_equality_part_needs_image_condition():
    m = I.image_condition_counterexample()
    c = check_corollary31(m, [0.1, 0.2])
    assert c.verified                                     # the inequality part holds
    eq = c.details["x_equals_y"]
    assert not eq.condition.any()
    rx, ry = eq.sides
    assert np.all(rx.lower - ry.rate > 1e-3)              # R_Y(D;Y) < R_X(D;Y) strictly


def test_theorems_on_ambiguous_model():
    m = I.ambiguous_features()
    for eq in (check_theorem1(m), check_theorem2(m)):
        assert eq.verified and eq.max_certified_error <= 1e-7 + SLACK   # overlap of narrow intervals
    t3 = check_theorem3(m)
    assert t3.verified and np.all(t3.violation < 0)
    t4 = check_theorem4(m)
    assert t4.mask.all() and t4.verified
    assert np.all(t4.details["merge_rate_drop"] > 0.01)
