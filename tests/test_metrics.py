"""BD-rate / BD-metric: analytic cases, the `bjontegaard` reference package, bad input."""
import doctest
import sys

import numpy as np
import pytest

import rdtheory.metrics as metrics
from rdtheory.metrics import bd_metric, bd_rate, bd_table, format_bd_table, pareto_front
from rdtheory.metrics import bd as bd_module

METHODS = ["cubic", "pchip"]
# Rounding only: every analytic case below is reproduced exactly by both fits (see each
# test), so the only error is float64 rounding in polyfit / PCHIP integration.
EXACT = 1e-9

# A realistic, noisy, non-polynomial anchor curve (bpp, top-1 %).
RATE_A = np.array([0.031, 0.058, 0.11, 0.19, 0.36, 0.71])
ACC_A = np.array([52.3, 61.8, 68.4, 72.9, 74.6, 75.8])


def test_import_does_not_pull_torch_or_jax():
    import subprocess
    code = "import rdtheory, rdtheory.metrics, sys; print('torch' in sys.modules, 'jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_doctests():
    res = doctest.testmod(bd_module)
    assert res.attempted > 0 and res.failed == 0, res  # attempted > 0: no vacuous pass


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("c", [0.5, 0.8, 1.0, 1.37, 3.0])
def test_rate_scaled_by_constant_gives_exact_bd_rate(method, c):
    # log R_B(m) = log R_A(m) + log c exactly; both fits are equivariant to adding a constant
    # to y (least squares / interpolation are linear in y), so BD-rate = (c - 1) * 100.
    assert bd_rate(RATE_A, ACC_A, c * RATE_A, ACC_A, method) == pytest.approx((c - 1) * 100, abs=EXACT)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("delta", [-3.0, 0.0, 0.25, 2.0])
def test_metric_shifted_by_constant_gives_exact_bd_metric(method, delta):
    assert bd_metric(RATE_A, ACC_A, RATE_A, ACC_A + delta, method) == pytest.approx(delta, abs=EXACT)


@pytest.mark.parametrize("method", METHODS)
def test_linear_curves_closed_form(method):
    # A: log10 R = m, B: log10 R = 2 m on m in [0, 1]. Both fits reproduce linear data exactly,
    # so Delta r = int_0^1 m dm = 1/2 and BD-rate = (10**0.5 - 1) * 100.
    m = np.linspace(0.0, 1.0, 5)
    assert bd_rate(10 ** m, m, 10 ** (2 * m), m, method) == pytest.approx((10 ** 0.5 - 1) * 100, abs=EXACT)
    # BD-metric over r in [0, 1] (B's r range is [0, 2]): m_A = r, m_B = r / 2, mean diff = -1/4.
    assert bd_metric(10 ** m, m, 10 ** (2 * m), m, method) == pytest.approx(-0.25, abs=EXACT)


@pytest.mark.parametrize("method", METHODS)
def test_antisymmetry_and_order_invariance(method):
    rng = np.random.default_rng(0)
    rate_b = RATE_A * np.array([0.7, 0.75, 0.8, 0.78, 0.85, 0.9])
    acc_b = ACC_A + rng.normal(0, 0.3, ACC_A.size)
    fwd = bd_metric(RATE_A, ACC_A, rate_b, acc_b, method)
    assert bd_metric(rate_b, acc_b, RATE_A, ACC_A, method) == pytest.approx(-fwd, abs=EXACT)
    perm = rng.permutation(ACC_A.size)  # points may come in any order
    assert bd_rate(RATE_A[perm], ACC_A[perm], rate_b, acc_b, method) == pytest.approx(
        bd_rate(RATE_A, ACC_A, rate_b, acc_b, method), abs=EXACT)


def _shared_inputs():
    rng = np.random.default_rng(12345)
    cases = []
    for _ in range(25):
        n = int(rng.integers(4, 8))
        r = np.sort(rng.uniform(0.02, 1.0, n))
        acc = np.sort(50 + 25 * (1 - np.exp(-8 * r)) + rng.normal(0, 0.2, n))
        scale = rng.uniform(0.5, 1.5)
        r_b = r * scale * rng.uniform(0.9, 1.1, n)
        acc_b = np.sort(acc + rng.normal(0, 0.5, n))
        cases.append((r, acc, np.sort(r_b), acc_b))
    cases.append((RATE_A, ACC_A, RATE_A * 0.8, ACC_A + 0.4))
    return cases


@pytest.mark.parametrize("method", METHODS)
def test_agrees_with_bjontegaard_package(method):
    bj = pytest.importorskip("bjontegaard")
    # Same definition (log10 rate, least-squares cubic / scipy PCHIP, overlap interval), so only
    # float64 rounding differs. PCHIP: 1e-9 (absolute, in % and in accuracy points) is ~1e5 ulps
    # of values of size ~10. Cubic: the package fits np.polyfit on raw accuracies of 50-75, a
    # Vandermonde matrix of condition ~1e10, and is off the exact least-squares answer by up to
    # 3.6e-6 relative on these cases (ours, fitted centred and scaled, by 6e-13: see
    # test_cubic_matches_exact_least_squares), so the comparison allows 1e-5 relative.
    rel = 1e-5 if method == "cubic" else 0
    n_checked = 0
    for r_a, m_a, r_b, m_b in _shared_inputs():
        ours = bd_rate(r_a, m_a, r_b, m_b, method)
        ref = bj.bd_rate(r_a, m_a, r_b, m_b, method=method, min_overlap=0)
        assert ours == pytest.approx(ref, abs=1e-9, rel=rel)
        ours_m = bd_metric(r_a, m_a, r_b, m_b, method)
        ref_m = bj.bd_psnr(r_a, m_a, r_b, m_b, method=method, min_overlap=0)
        assert ours_m == pytest.approx(ref_m, abs=1e-9, rel=rel)
        n_checked += 1
    assert n_checked == 26


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="akima"), "method must be one of"),
    (dict(rate_a=[1, 2, 3], metric_a=[1, 2, 3]), "needs at least 4 points"),
    (dict(rate_a=[1, 2, 3, 4], metric_a=[1, 2, 3]), "same length"),
    (dict(rate_a=[0, 2, 3, 4]), "must be > 0"),
    (dict(rate_a=[-1, 2, 3, 4]), "must be > 0"),
    (dict(metric_b=[1, np.nan, 3, 4]), "NaN"),
    (dict(rate_b=[1, 2, np.inf, 4]), "NaN"),
    (dict(metric_b=[10, 11, 12, 13]), "do not overlap"),
    (dict(metric_a=[1, 2, 2, 4]), "repeated metric"),
    (dict(rate_a=[[1, 2, 3, 4]]), "must be 1-D"),
    (dict(rate_a="abcd"), "numeric"),
])
def test_bd_rate_bad_input(kwargs, match):
    args = dict(rate_a=[1, 2, 3, 4], metric_a=[1, 2, 3, 4], rate_b=[1, 2, 3, 4], metric_b=[1.5, 2, 3, 4.5])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        bd_rate(**args)


def test_pchip_needs_two_points_and_metric_checks_rates():
    assert bd_rate([1, 2], [1, 2], [2, 4], [1, 2], method="pchip") == pytest.approx(100.0, abs=EXACT)
    with pytest.raises(ValueError, match="needs at least 2 points"):
        bd_rate([1], [1], [2, 4], [1, 2], method="pchip")
    with pytest.raises(ValueError, match="log-rate ranges do not overlap"):
        bd_metric([1, 2, 3, 4], [1, 2, 3, 4], [10, 20, 30, 40], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="repeated log-rate"):
        bd_metric([1, 2, 2, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4])


def test_public_api():
    assert set(metrics.__all__) == {"BD_METHODS", "bd_metric", "bd_rate", "bd_table", "format_bd_table", "pareto_front"}


# ----------------------------------------------------------------------------- bd_table
@pytest.mark.parametrize("method", METHODS)
def test_bd_table_analytic_rows(method):
    # "scaled": same accuracies at c times the rate -> BD-rate (c - 1) * 100 exactly and, with the
    # rates shifted in log by log10(c), BD-metric is not analytic; "shifted": same rates,
    # accuracy + delta -> BD-metric delta exactly and BD-rate is checked against bd_rate itself.
    c, delta = 0.8, 1.5
    curves = {"anchor": (RATE_A, ACC_A), "scaled": (c * RATE_A, ACC_A), "shifted": (RATE_A, ACC_A + delta),
              "same": (RATE_A.tolist(), ACC_A.tolist())}
    rows = bd_table(curves, anchor="anchor", method=method)
    assert [r["curve"] for r in rows] == ["scaled", "shifted", "same"]  # anchor excluded, order kept
    by = {r["curve"]: r for r in rows}
    assert by["scaled"]["bd_rate_percent"] == pytest.approx((c - 1) * 100, abs=EXACT)
    assert by["scaled"]["bd_metric"] == pytest.approx(bd_metric(RATE_A, ACC_A, c * RATE_A, ACC_A, method), abs=EXACT)
    assert by["shifted"]["bd_metric"] == pytest.approx(delta, abs=EXACT)
    assert by["shifted"]["bd_rate_percent"] == pytest.approx(
        bd_rate(RATE_A, ACC_A, RATE_A, ACC_A + delta, method), abs=EXACT)
    assert by["same"]["bd_rate_percent"] == pytest.approx(0.0, abs=EXACT)
    assert by["same"]["bd_metric"] == pytest.approx(0.0, abs=EXACT)
    # overlap intervals: metric for BD-rate, rate (not log-rate) for BD-metric
    assert by["scaled"]["metric_overlap"] == (ACC_A.min(), ACC_A.max())
    assert by["scaled"]["rate_overlap"] == pytest.approx((RATE_A.min(), c * RATE_A.max()))
    assert by["shifted"]["metric_overlap"] == (ACC_A.min() + delta, ACC_A.max())
    assert by["shifted"]["rate_overlap"] == (RATE_A.min(), RATE_A.max())
    for r in rows:
        assert r["anchor"] == "anchor" and r["method"] == method and r["n_points"] == RATE_A.size
        assert r["note"] == ""


def test_bd_table_non_overlap_is_a_row_not_an_error():
    curves = {"A": ([1, 2, 4], [70, 75, 80]),
              "low_metric": ([1, 2, 4], [10, 20, 30]),    # rates overlap, metrics do not
              "high_rate": ([100, 200], [72, 78]),       # metrics overlap, rates do not
              "neither": ([100, 200], [10, 20])}
    by = {r["curve"]: r for r in bd_table(curves, "A")}
    r = by["low_metric"]
    assert r["bd_rate_percent"] is None and r["metric_overlap"] is None
    # both linear in log R (PCHIP reproduces that): difference -60, -55, -50 at R = 1, 2, 4 -> mean -55
    assert r["bd_metric"] == pytest.approx(-55.0, abs=EXACT)
    assert "metric ranges do not overlap ([70, 80] vs [10, 30])" in r["note"] and "BD-metric" not in r["note"]
    r = by["high_rate"]
    assert r["bd_metric"] is None and r["rate_overlap"] is None and r["bd_rate_percent"] is not None
    assert "rate ranges do not overlap ([1, 4] vs [100, 200])" in r["note"]
    r = by["neither"]
    assert r["bd_rate_percent"] is None and r["bd_metric"] is None
    assert "no BD-rate" in r["note"] and "no BD-metric" in r["note"]


def test_bd_table_errors():
    good = ([1, 2, 4], [70, 75, 80])
    with pytest.raises(ValueError, match="anchor 'X' is not one of the curves"):
        bd_table({"A": good, "B": good}, anchor="X")
    with pytest.raises(ValueError, match="method must be one of"):
        bd_table({"A": good, "B": good}, anchor="A", method="akima")
    with pytest.raises(ValueError, match=r"curve 'B': .*needs at least 4 points"):
        bd_table({"A": ([1, 2, 3, 4], [1, 2, 3, 4]), "B": good}, anchor="A", method="cubic")
    with pytest.raises(ValueError, match=r"curves\['B'\] must be a \(rates, metrics\) pair"):
        bd_table({"A": good, "B": ([1, 2], [1, 2], [3, 4])}, anchor="A")
    with pytest.raises(ValueError, match="curves must be a mapping"):
        bd_table([good, good], anchor="A")
    with pytest.raises(ValueError, match=r"curve 'B' against anchor 'A': .*repeated metric"):
        bd_table({"A": good, "B": ([1, 2, 4], [72, 72, 78])}, anchor="A")
    assert bd_table({"A": good}, anchor="A") == []


def test_format_bd_table():
    rows = bd_table({"A": ([1, 2, 4], [70, 75, 80]), "B": ([0.5, 1, 2], [70, 75, 80]),
                     "C": ([1, 2, 4], [10, 20, 30])}, "A")
    text = format_bd_table(rows, metric_label="top-1 (%)", rate_label="bpp")
    lines = text.splitlines()
    assert lines[0] == "| curve (anchor A) | BD-rate (%) | BD-top-1 (%) | top-1 (%) overlap | bpp overlap | note |"
    assert lines[2].startswith("| B | -50.00 | +")
    assert lines[3].startswith("| C | — | -55.00 | — | [1, 4] | metric ranges do not overlap")
    assert len(lines) == 4 and all(line.count("|") == 7 for line in lines)
    assert format_bd_table([]).splitlines()[0].startswith("| curve |")
    with pytest.raises(ValueError, match="digits must be a non-negative integer"):
        format_bd_table(rows, digits=-1)


# ----------------------------------------------------------------------------- pareto_front
def test_pareto_front_drops_dominated_points():
    # A measured codec curve with a dip (index 4) and a plateau (index 6): both are dominated.
    rate = [2.6, 2.8, 3.2, 3.5, 4.2, 4.7, 5.2, 5.7]
    acc = [26.5, 42.1, 57.3, 65.5, 64.9, 80.8, 80.1, 80.9]
    assert pareto_front(rate, acc).tolist() == [0, 1, 2, 3, 5, 7]
    # order of the input does not matter; output is sorted by rate
    perm = [7, 3, 0, 5, 1, 6, 2, 4]
    kept = pareto_front(np.take(rate, perm), np.take(acc, perm))
    assert np.take(perm, kept).tolist() == [0, 1, 2, 3, 5, 7]
    # ties: equal rate -> the better metric; equal metric -> the lower rate; exact duplicate -> first index
    assert pareto_front([1, 1, 2, 3], [5, 6, 6, 7]).tolist() == [1, 3]
    assert pareto_front([1, 1], [5, 5]).tolist() == [0]
    # kept points are strictly increasing in both, so bd_rate accepts them
    k = pareto_front(rate, acc)
    assert np.all(np.diff(np.take(rate, k)) > 0) and np.all(np.diff(np.take(acc, k)) > 0)


def test_pareto_front_errors():
    with pytest.raises(ValueError, match="same length"):
        pareto_front([1, 2], [1])
    with pytest.raises(ValueError, match="finite"):
        pareto_front([1, np.nan], [1, 2])


def _exact_cubic_bd_rate(rate_a, metric_a, rate_b, metric_b):
    """BD-rate with the least-squares cubics solved in 60-digit arithmetic (mpmath)."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 60

    def integral(x, y, lo, hi):
        xs = [mp.mpf(float(v)) for v in x]
        vander = mp.matrix(len(xs), 4)
        for i, xi in enumerate(xs):
            for k in range(4):
                vander[i, k] = xi ** k
        c = mp.lu_solve(vander.T * vander, vander.T * mp.matrix(list(y)))
        prim = lambda t: sum(c[k] * mp.mpf(float(t)) ** (k + 1) / (k + 1) for k in range(4))  # noqa: E731
        return prim(hi) - prim(lo)

    lo, hi = max(metric_a.min(), metric_b.min()), min(metric_a.max(), metric_b.max())
    ia = integral(metric_a, [mp.log10(mp.mpf(float(v))) for v in rate_a], lo, hi)
    ib = integral(metric_b, [mp.log10(mp.mpf(float(v))) for v in rate_b], lo, hi)
    return float((mp.mpf(10) ** ((ib - ia) / (mp.mpf(float(hi)) - mp.mpf(float(lo)))) - 1) * 100)


def test_cubic_matches_exact_least_squares():
    # the centred, scaled cubic fit against the same least squares solved in 60 digits: the
    # remaining error is float64 rounding in a well-conditioned fit (measured 6e-13 relative on
    # these 26 cases, some of which extrapolate to 1e15 %); 1e-10 leaves a 100x margin while
    # the uncentred np.polyfit (3.6e-6 relative on the same cases) would fail it
    for r_a, m_a, r_b, m_b in _shared_inputs():
        exact = _exact_cubic_bd_rate(r_a, m_a, r_b, m_b)
        assert bd_rate(r_a, m_a, r_b, m_b, "cubic") == pytest.approx(exact, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_metric_offset_of_1e9_does_not_change_bd(method):
    # Known answer: B needs half of A's rate at every metric, and has +1 point at every rate
    # over the shared rates, so BD-rate = -50 % and BD-metric on (A, A+1) = +1 exactly.
    # Adding 1e9 to every metric must not change them: the values 1e9 + m are exact here
    # (integers and halves, ulp(1e9) = 1.2e-7), the fit is centred on the curve's own mean, so
    # what is left is rounding of O(1) numbers; 1e-9 absolute is ~1e6 ulps of 50. Before the
    # centring, the cubic's Vandermonde matrix held (1e9)^3 = 1e27 and np.polyfit lost every digit.
    rate = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    metric = np.array([70.0, 75.0, 80.0, 82.5, 85.0])
    for shift in (0.0, 1e9):
        assert bd_rate(rate, metric + shift, rate / 2, metric + shift, method) == pytest.approx(-50.0, abs=1e-9)
        assert bd_metric(rate, metric + shift, rate, metric + shift + 1, method) == pytest.approx(1.0, abs=1e-9)
    # a curve the cubic does not reproduce exactly: the shifted answer equals the unshifted one
    rng = np.random.default_rng(7)
    acc_b = np.sort(ACC_A + rng.normal(0, 0.3, ACC_A.size))
    rate_b = RATE_A * 0.8
    for fn in (bd_rate, bd_metric):
        # 1e9 + m rounds m to ulp(1e9)/2 = 6e-8 absolute; the fits are Lipschitz in the data with
        # constants O(1-10) on these curves, so 1e-5 (in % or points) leaves a wide margin
        assert fn(RATE_A, ACC_A + 1e9, rate_b, acc_b + 1e9, method) == pytest.approx(
            fn(RATE_A, ACC_A, rate_b, acc_b, method), abs=1e-5)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("which", ["a", "b"])
def test_non_monotone_curve_is_refused_with_the_fix(method, which):
    # accuracy dips at the third rate: neither rate(metric) nor metric(rate) is single-valued
    good = dict(rate=[1.0, 2.0, 4.0, 8.0], metric=[70.0, 75.0, 80.0, 85.0])
    dip = dict(rate=[1.0, 2.0, 4.0, 8.0], metric=[70.0, 78.0, 76.0, 85.0])
    a, b = (dip, good) if which == "a" else (good, dip)
    for fn in (bd_rate, bd_metric):
        with pytest.raises(ValueError, match=rf"curve '{which}' .*is not monotone.*pareto_front\(rate_{which}"):
            fn(a["rate"], a["metric"], b["rate"], b["metric"], method)
    # the documented fix works: the Pareto front of the dipping curve is monotone
    keep = pareto_front(dip["rate"], dip["metric"])
    assert bd_rate(np.take(dip["rate"], keep), np.take(dip["metric"], keep), good["rate"], good["metric"],
                   "pchip") > -100

