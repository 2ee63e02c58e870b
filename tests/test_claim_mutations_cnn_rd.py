"""Mutation tests of ``cnn_rd.rho_vs_bits_resnet20``'s decision (issue 14: R(D) of CNN features vs rho).

:func:`paper_checks.claims_cnn_rd.pair_verdicts` / :func:`rho_rate_verdict` are fed synthetic
replicates with a known answer, then the smallest perturbation that matters must flip the
verdict. The claim on the committed results is checked to be computed (not hard-coded): moving
one layer's rate moves its verdict. No network runs.
"""
import json

import numpy as np
import pytest

from paper_checks import claims_cnn_rd as cc
from paper_checks.claims_cnn_rd import FAIL, PASS, pair_verdicts, rho_rate_verdict

RHO = {"a": (1.0, 0.9, 1.1), "b": (0.5, 0.40, 0.60), "c": (0.55, 0.45, 0.65)}


def _reps(mean, sd=0.1, n=2000, seed=0):
    r = np.random.default_rng(seed).normal(mean, sd, n)
    return np.concatenate([[mean], r])


def test_only_pairs_with_disjoint_rho_intervals_are_tested():
    ratios = {("a", "b"): _reps(-1.0), ("a", "c"): _reps(-1.0), ("b", "c"): _reps(0.0)}
    pairs = pair_verdicts(RHO, ratios)
    assert {(p["higher_rho"], p["lower_rho"]) for p in pairs} == {("a", "b"), ("a", "c")}
    assert all(p["verdict"] == "agrees" for p in pairs) and rho_rate_verdict(pairs) == PASS


def test_orientation_of_the_ratio_is_taken_from_rho():
    # given as lower-over-higher, the ratio is negated
    pairs = pair_verdicts({"a": RHO["a"], "b": RHO["b"]}, {("b", "a"): _reps(+1.0)})
    assert pairs[0]["verdict"] == "agrees" and pairs[0]["log2_bits_ratio"] == -1.0


@pytest.mark.parametrize("shift, verdict", [(-0.2, "agrees"), (0.0, "tie"), (+0.2, "disagrees")])
def test_smallest_shift_that_matters_flips_the_pair(shift, verdict):
    # replicates N(mu, 0.05): the 95% interval is mu +- 0.098; at mu = -0.2 it is wholly below 0, at 0 it
    # straddles, at +0.2 wholly above
    pairs = pair_verdicts({"a": RHO["a"], "b": RHO["b"]}, {("a", "b"): _reps(shift, sd=0.05)})
    assert pairs[0]["verdict"] == verdict
    assert rho_rate_verdict(pairs) == (PASS if verdict == "agrees" else FAIL)


def test_one_disagreeing_pair_fails_the_claim_and_no_pairs_fail_it():
    ratios = {("a", "b"): _reps(-1.0), ("a", "c"): _reps(+0.5)}
    assert rho_rate_verdict(pair_verdicts(RHO, ratios)) == FAIL
    assert rho_rate_verdict([]) == FAIL


def test_infinite_replicates_make_a_tie():
    r = _reps(-1.0)
    r[1:100] = np.inf   # the target accuracy not reached in 5% of the resamples
    assert pair_verdicts({"a": RHO["a"], "b": RHO["b"]}, {("a", "b"): r})[0]["verdict"] == "tie"


def _claim_with(monkeypatch, tmp_path, res):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(res))
    monkeypatch.setattr(cc, "RESULTS", path)
    cc._result.cache_clear()
    try:
        return cc.rho_vs_bits(True)
    finally:
        cc._result.cache_clear()


def _pairs(rec):
    return {(p["higher_rho"], p["lower_rho"]): p for p in rec.details["pairs"]}


def _scaled(res, point, factor):
    out = json.loads(json.dumps(res))
    out["points"][point]["groups"]["rate"] = (np.asarray(out["points"][point]["groups"]["rate"]) * factor).tolist()
    return out


def test_claim_is_computed_from_the_committed_results(monkeypatch, tmp_path):
    # scaling one layer's rates by k shifts log2(bits ratio) by exactly log2 k (interpolation in log2 rate), so
    # the smallest change that flips a pair is known: move the first pair that does not agree just past 0 (it
    # must agree), and just short of it (it must not)
    if not cc.RESULTS.is_file():
        pytest.skip("experiments/results/cifar_feature_rd.json not committed")
    cc._result.cache_clear()
    res = json.loads(cc.RESULTS.read_text())
    base = cc.rho_vs_bits(True)
    pairs = _pairs(base)
    bad = [k for k, p in pairs.items() if p["verdict"] != "agrees"]
    if not bad:  # all agree: make the best pair disagree instead
        key = min(pairs, key=lambda k: pairs[k]["interval"][1])
        low = pairs[key]["interval"][0]
        for eps, expect in ((0.02, "disagrees"), (-0.02, "tie")):
            # multiply the higher-rho layer's rates by 2^(eps - low): the ratio's interval moves to [eps, ...]
            rec = _claim_with(monkeypatch, tmp_path, _scaled(res, key[0], 2.0 ** (eps - low)))
            assert _pairs(rec)[key]["verdict"] == expect and rec.status == FAIL
        return
    key = bad[0]
    high = pairs[key]["interval"][1]
    assert base.status == FAIL
    just_past = _claim_with(monkeypatch, tmp_path, _scaled(res, key[0], 2.0 ** (-(high + 0.02))))
    assert _pairs(just_past)[key]["verdict"] == "agrees"
    if len(bad) == 1:
        assert just_past.status == PASS   # the only failing pair fixed, the others unchanged or helped
    short = _claim_with(monkeypatch, tmp_path, _scaled(res, key[0], 2.0 ** (-(high - 0.02))))
    assert _pairs(short)[key]["verdict"] != "agrees" and short.status == FAIL


def test_undefined_ratio_is_a_tie_and_one_sided_infinity_keeps_its_sign():
    r = _reps(-1.0)
    r[5] = np.nan      # both layers never reach the target in one resample
    assert pair_verdicts({"a": RHO["a"], "b": RHO["b"]}, {("a", "b"): r})[0]["verdict"] == "tie"
    r = _reps(-1.0)
    r[1:1000] = -np.inf  # the lower-rho layer never reaches the target in half the resamples: still below 0
    assert pair_verdicts({"a": RHO["a"], "b": RHO["b"]}, {("a", "b"): r})[0]["verdict"] == "agrees"
