"""Mutation tests of ``empirical.interval_coverage``'s decision (no estimator runs).

:func:`coverage_family_verdict` must pass on counts recorded by
``benchmarks/results/empirical_coverage.md`` and fail when one count drops by the smallest
amount that makes coverage >= 0.95 implausible at the family's Bonferroni level.
"""
from paper_checks.claims_empirical_coverage import ALPHA, coverage_family_verdict
from paper_checks.claims_empirical import FAIL, PASS, coverage_pvalue

# recorded (100 draws): plug-in Bernoulli rate/distortion at two slopes, Shannon 1-d Gaussian
RECORDED = [96, 96, 96, 96, 97]


def test_recorded_counts_pass():
    assert coverage_family_verdict(RECORDED, 100) == PASS


def test_one_count_at_the_bonferroni_edge_flips():
    # 5 tests: each at 1e-3 / 5 = 2e-4. P(X <= 85 | 100, 0.95) = 1.4e-4 < 2e-4 <= P(X <= 86) = 4.6e-4
    assert coverage_pvalue(86, 100) >= ALPHA / 5 > coverage_pvalue(85, 100)
    assert coverage_family_verdict(RECORDED[:-1] + [86], 100) == PASS
    assert coverage_family_verdict(RECORDED[:-1] + [85], 100) == FAIL


def test_quick_mode_threshold_with_30_draws():
    # quick mode (30 draws, 9 tests, each at 1.1e-4): 23/30 passes (p = 5.7e-4), 22/30 fails (p = 8.5e-5)
    ok = [30] * 8
    assert coverage_family_verdict(ok + [23], 30) == PASS
    assert coverage_family_verdict(ok + [22], 30) == FAIL


def test_more_tests_make_each_stricter():
    # 85/100 (p = 1.4e-4) is below 1e-3 / 5 = 2e-4 (fails among 5 tests) but above 1e-3 / 50 = 2e-5
    # (passes among 50): the Bonferroni split is applied
    assert coverage_family_verdict([85] + [100] * 4, 100) == FAIL
    assert coverage_family_verdict([85] + [100] * 49, 100) == PASS
