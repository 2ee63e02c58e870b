r"""Coverage of the intervals of :mod:`rdtheory.empirical` (issue 14, item 5), in repeated draws.

- ``empirical.interval_coverage``: the held-out intervals of the plug-in (Bernoulli/Hamming,
  n = 200) and WGD (1-d Gaussian, n = 2000, so 1000 held out) upper bounds cover the
  population rate and distortion of their fitted test channel, and the Shannon lower
  bound's interval covers the true :math:`h(X)`-based bound (1-d Gaussian), each at least
  95% of the time: no one-sided binomial test of "coverage >= 0.95" rejects at level
  :data:`ALPHA` / (number of tests) (Bonferroni). The targets are computed exactly (a sum
  over {0, 1}; Gauss–Hermite quadrature; :math:`h` in
  closed form) by :mod:`benchmarks.empirical_coverage`, which also runs the neural bound and
  the 2-d cases (``benchmarks/results/empirical_coverage.md``). There, with only 100 held-out
  samples, the *distortion* interval of a 1-d Gaussian channel at a large slope under-covers
  (0.80 for WGD, 0.83 for the plug-in: heavy-tailed terms); at 1000 held-out samples it is
  0.89 (p = 0.012 against 0.95): the Student-t interval is asymptotic, and this claim states
  the regime where it is measured to hold.

Quick mode runs :data:`QUICK_REPS` draws per case (about 20 s here; the test then has little
power against coverage slightly below 0.95, stated in the record); full mode runs 100.

References
----------
.. [1] C. J. Clopper and E. S. Pearson, "The use of confidence or fiducial limits illustrated
   in the case of the binomial", Biometrika 26, 1934.
"""
from __future__ import annotations

import functools

from paper_checks import FAIL, PASS, claim, make
from paper_checks.claims_empirical import REF, coverage_pvalue

#: family-wise significance of the coverage tests: a correct set of intervals fails in < 1/1000 runs.
ALPHA = 1e-3
NOMINAL = 0.95
QUICK_REPS = 30
FULL_REPS = 100


def coverage_family_verdict(hits, reps: int, nominal: float = NOMINAL, alpha: float = ALPHA) -> str:
    """``pass`` unless some count in ``hits`` rejects "coverage >= nominal" at ``alpha / len(hits)``.

    Each count is the number of ``reps`` draws whose interval covered its target; under
    coverage >= ``nominal`` the chance of that many or fewer is at least
    :func:`~paper_checks.claims_empirical.coverage_pvalue` (one-sided binomial), and the
    Bonferroni split keeps the family's false-fail rate below ``alpha``.
    """
    hits = list(hits)
    worst = min(coverage_pvalue(int(h), reps, nominal) for h in hits)
    return PASS if worst >= alpha / len(hits) else FAIL


@functools.lru_cache(maxsize=None)
def _study(quick: bool):
    from benchmarks.empirical_coverage import QUICK_CASES, run_case

    reps = QUICK_REPS if quick else FULL_REPS
    return reps, [run_case(name, reps) for name in QUICK_CASES]


@claim("empirical.interval_coverage", REF,
       "The held-out intervals of the plug-in (Bernoulli/Hamming, n = 200) and WGD (1-d Gaussian, n = 2000) "
       "upper bounds cover their fitted channel's population rate and distortion, and the Shannon lower bound's "
       "interval covers the true bound (1-d Gaussian, n = 2000), at >= 0.95 in repeated draws (one-sided "
       "binomial tests, Bonferroni; at n_eval = 100 the distortion interval under-covers, see "
       "benchmarks/results/empirical_coverage.md)")
def interval_coverage(quick: bool = True):
    reps, rows = _study(quick)
    tests = {f"{r['case']}/{key}/{i}": e["hits"] for r in rows for key, per in r["intervals"].items()
             if key != "bound_holds" for i, e in enumerate(per)}
    status = coverage_family_verdict(tests.values(), reps)
    worst = min(tests, key=tests.get)
    return make("empirical.interval_coverage", expected=f">= {NOMINAL} for each of {len(tests)} intervals",
                measured={k: f"{v}/{reps}" for k, v in tests.items()},
                tolerance=f"one-sided binomial P(X <= hits | {NOMINAL}) >= {ALPHA}/{len(tests)}",
                tolerance_why=f"a correct family fails in < 1/1000 runs; worst {worst}: {tests[worst]}/{reps}, "
                              f"p = {coverage_pvalue(tests[worst], reps):.3g}. With {reps} draws the test rejects "
                              f"only coverage well below 0.95 (quick mode: low power; full mode and "
                              f"benchmarks/results/empirical_coverage.md use 100)",
                status=status,
                details=dict(reps=reps, quick=quick, seconds_per_rep={r["case"]: round(r["seconds_per_rep"], 3)
                                                                      for r in rows},
                             bound_holds={r["case"]: [e["hits"] for e in r["intervals"].get("bound_holds", [])]
                                          for r in rows}))
