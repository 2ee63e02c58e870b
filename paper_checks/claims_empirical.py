r"""Claims on R(D) estimated from samples (:mod:`rdtheory.empirical`, issue 14), in bits.

Each claim draws samples from a source whose R(D) is known
(:mod:`rdtheory.empirical.sources`), runs :func:`rdtheory.empirical.estimate_rd` and hands the
numbers to a small pure ``*_verdict`` function, so ``tests/test_claim_mutations_empirical.py``
can feed perturbed numbers and see the decision flip.

- ``empirical.bernoulli_plugin``: Bernoulli(0.2), Hamming. The held-out upper bound's
  interval is consistent with :math:`h(p)-h(D)` at the held-out distortion, and the plug-in
  curve :math:`R_n(D) = h(\hat p) - h(D)` lies within the Clopper-Pearson sampling band of the
  truth (its bias is :math:`O(1/n)`; the band is :math:`O(n^{-1/2})`).
- ``empirical.lcb_coverage``: the finite-n lower confidence bound (:math:`\delta = 0.05`) lies
  below the truth in repeated draws, decided by a one-sided binomial test.
- ``empirical.neural_40d``: the neural held-out upper bound on NERD's 40-d Gaussian at 8.4 bits
  is a valid upper bound within its interval; ``empirical.neural_40d_goal`` is the issue's
  0.01-bit target (quick mode uses a short fit and is expected to miss it).
- ``empirical.gaussian_sandwich_2d``: held-out plug-in upper bound, Shannon and dual lower
  bounds bracket the reverse water-filling R(D) of a 2-d Gaussian; the sandwich width is
  reported against the issue's goal of 0.05 nats (``empirical.gaussian_sandwich_goal``, which
  may fail honestly).
- ``empirical.laplace_slb``: the Shannon lower bound estimate of a Laplacian under absolute
  error contains :math:`-\log_2(\alpha D)` for :math:`D \le 1/\alpha`.

References
----------
.. [1] M. T. Harrison and I. Kontoyiannis, "Estimation of the rate-distortion function",
   IEEE Trans. Inf. Theory 54(8), 2008 (the plug-in estimator).
.. [2] C. J. Clopper and E. S. Pearson, "The use of confidence or fiducial limits illustrated
   in the case of the binomial", Biometrika 26, 1934.
.. [3] T. Berger, *Rate Distortion Theory*, Prentice-Hall, 1971 (Shannon lower bound, Sec. 4.3;
   the Laplacian source).
.. [4] Y. Yang and S. Mandt, "Towards Empirical Sandwich Bounds on the Rate-Distortion
   Function", ICLR 2022 (the dual lower bound, the 2-d Gaussian demo).
.. [5] E. Lei, H. Hassani and S. Saeedi Bidokhti, "Neural Estimation of the Rate-Distortion
   Function With Applications to Operational Source Coding", IEEE JSAIT, 2022 (the 40-d source).
.. [6] T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley, 2006
   (Thm. 10.3.3, reverse water-filling).
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from paper_checks import FAIL, PASS, claim, figure, make

#: float headroom for comparisons of certified engine brackets (their gap is <= 1e-6 bits).
FP = 1e-9
#: significance of the binomial coverage test: a correct LCB fails it in < 1 run in 1000.
ALPHA = 1e-3
#: the issue's sandwich goal (upper - lower), nats, at n = 1e5 in 2-d.
GOAL_NATS = 0.05
REF = "issue 14 (empirical R(D) from samples)"
P_BERN = 0.2
BERN_BETAS = (2.5, 4.0)              # nats; D = 1/(1+e^beta) = 0.076, 0.018 < p
LCB_D = (0.02, 0.05)
GAUSS_VARS = (1.0, 0.25)
GAUSS_BETAS = (10.0, 1 / 0.3)        # nats; total D = 1/beta while both components are active
LAPLACE_ALPHA = 2.0
LAPLACE_D = (0.05, 0.2, 0.5)         # all <= 1/alpha


# --------------------------------------------------------------------------------------
# decide (pure)
# --------------------------------------------------------------------------------------

def interval_contains_verdict(lo, hi, truth, *, fp: float = 0.0) -> str:
    """``pass`` when every ``truth[i]`` lies in ``[lo[i] - fp, hi[i] + fp]`` (bits)."""
    lo, hi, truth = (np.asarray(v, dtype=np.float64) for v in (lo, hi, truth))
    return PASS if bool(np.all((lo - fp <= truth) & (truth <= hi + fp))) else FAIL


def heldout_upper_verdict(ci_low, ci_high, truth_at_d_low, truth_at_d_high) -> str:
    r"""Two-sided consistency of a held-out upper bound with the truth (bits).

    The bound's guarantee is :math:`R(D_{hi}) \le` ``ci_high`` (upper end of the rate interval
    against the truth at the upper end of the distortion interval): the bound is not *below*
    the truth. It must also not be absurdly *above*: the lower end of its interval must not
    exceed the truth at the most favourable distortion of its interval, ``truth_at_d_low``
    (a tight estimator's interval straddles the truth; a loose one sits wholly above it).
    """
    up_ok = interval_contains_verdict(-np.inf, ci_high, truth_at_d_high)
    tight_ok = interval_contains_verdict(ci_low, np.inf, truth_at_d_low)
    return PASS if up_ok == PASS and tight_ok == PASS else FAIL


def lower_bound_verdict(ci_low, truth) -> str:
    """A lower-bound estimate's interval reaches down to the truth: ``ci_low <= truth`` (bits)."""
    return PASS if bool(np.all(np.asarray(ci_low, dtype=np.float64) <= np.asarray(truth, dtype=np.float64))) else FAIL


def coverage_pvalue(hits: int, reps: int, nominal: float = 0.95) -> float:
    """P(X <= hits) for X ~ Binomial(reps, nominal): small means coverage below ``nominal``."""
    from scipy.stats import binom

    return float(binom.cdf(hits, reps, nominal))


def lcb_coverage_verdict(hits: int, reps: int, nominal: float = 0.95, alpha: float = ALPHA) -> str:
    """``pass`` unless the hits reject "coverage >= nominal" at level ``alpha`` (one-sided binomial).

    With a true coverage of at least ``nominal`` the chance of ``hits`` or fewer is at least
    :func:`coverage_pvalue`; below ``alpha`` the bound under-covers.
    """
    return PASS if coverage_pvalue(hits, reps, nominal) >= alpha else FAIL


def goal_verdict(width: float, goal: float) -> str:
    """``pass`` when the measured width (same unit as ``goal``) is at most ``goal``."""
    return PASS if width <= goal else FAIL


# --------------------------------------------------------------------------------------
# compute helpers
# --------------------------------------------------------------------------------------

def _h(p):
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((p > 0) & (p < 1), -p * np.log2(p) - (1 - p) * np.log2(1 - p), 0.0)


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def _upper_terms(bound, src):
    """(ci_low, ci_high, truth(D_lo), truth(D_hi)) of a held-out upper bound record."""
    d_lo, d_hi = np.asarray(bound.info["distortion_interval"]).T
    return bound.interval[:, 0], bound.interval[:, 1], src.rd_bounds(d_lo)[1], src.rd_bounds(d_hi)[0]


# --------------------------------------------------------------------------------------
# claims
# --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _bernoulli_study(quick: bool):
    """Plug-in fit (samples as alphabet, slopes :data:`BERN_BETAS`) at each n; per n: the held-out
    terms, the plug-in curve and the 0.999 Clopper-Pearson band of ``h(p) - h(p_hat)`` (bits)."""
    from scipy import stats

    from rdtheory.empirical import split_samples
    from rdtheory.empirical.plugin import plugin_rd
    from rdtheory.empirical.sources import BernoulliSource

    src = BernoulliSource(P_BERN)
    rows = []
    for n in ((1_000, 10_000) if quick else (1_000, 10_000, 100_000)):
        x = src.sample(n, seed=n + 7)
        fit_all = _quiet(plugin_rd, x, "hamming", betas=list(BERN_BETAS), seed=1, progress=False)
        b, emp = fit_all.upper, fit_all.empirical
        fit = split_samples(x, 0.5, 1)[0]
        k, m = int(fit.sum()), len(fit)
        a, c = stats.beta.ppf(0.0005, k, m - k + 1), stats.beta.ppf(0.9995, k + 1, m - k)
        off_lo, off_hi = float(_h(a) - _h(k / m)), float(_h(c) - _h(k / m))   # h increasing below 1/2
        rows.append(dict(n=n, upper=_upper_terms(b, src), rate=b.rate, D_upper=b.distortion,
                         truth_point=src.rd(b.distortion), emp_lo=emp.interval[:, 0],
                         emp_hi=emp.interval[:, 1], emp_truth=src.rd(emp.distortion), off=(off_lo, off_hi),
                         bias_pred=1 / (2 * m * math.log(2))))
    return rows


@claim("empirical.bernoulli_plugin", REF,
       "Bernoulli(0.2)/Hamming from n samples: the held-out plug-in upper bound's interval is consistent "
       "with h(p)-h(D) at its held-out distortion, and the plug-in curve h(p_hat)-h(D) is within the "
       "0.999 Clopper-Pearson band of the truth (bias O(1/n))")
def bernoulli_plugin(quick: bool = True):
    rows = _bernoulli_study(quick)
    up = [heldout_upper_verdict(*r["upper"]) for r in rows]
    cp = [interval_contains_verdict(r["emp_lo"] + r["off"][0], r["emp_hi"] + r["off"][1], r["emp_truth"], fp=FP)
          for r in rows]
    ok = all(v == PASS for v in up + cp)
    measured = {r["n"]: dict(upper_minus_truth=np.round(r["rate"] - r["truth_point"], 4).tolist(),
                             plugin_minus_truth=np.round(r["emp_lo"] - r["emp_truth"], 4).tolist(),
                             cp_band=np.round(r["off"], 4).tolist(), bias_pred=round(r["bias_pred"], 6))
                for r in rows}
    return make("empirical.bernoulli_plugin", expected="truth inside both intervals at every n", measured=measured,
                tolerance="Student-t 0.95 (held-out), Clopper-Pearson 0.999 (plug-in)",
                tolerance_why="held-out: R(D_hi) <= ci_high is the bound's guarantee, ci_low <= R(D_lo) says it is "
                              "not wholly above; plug-in: R_n - truth = h(p_hat) - h(p), whose sampling band "
                              "(O(n^-1/2)) is the CP interval of p mapped through h; the O(1/n) bias "
                              "1/(2 n ln 2) is well inside it", status=PASS if ok else FAIL,
                details=dict(heldout=up, plugin=cp))


@functools.lru_cache(maxsize=None)
def _lcb_study(quick: bool):
    """``reps`` seeded draws of n samples; returns (n, LCB values (reps, 2) bits, truth (2,) bits)."""
    from rdtheory.empirical.lcb import dual_lcb
    from rdtheory.empirical.sources import BernoulliSource

    src = BernoulliSource(P_BERN)
    n, reps = (1_000, 100) if quick else (10_000, 100)
    truth = src.rd(np.array(LCB_D))
    vals = []
    for rep in range(reps):
        x = src.sample(n, seed=1000 + rep)
        r = _quiet(dual_lcb, x, np.array(LCB_D), "hamming", reproduction=[[0.0], [1.0]], delta=0.05, seed=rep)
        vals.append(r.rate)
    return n, np.array(vals), truth


@claim("empirical.lcb_coverage", REF,
       "The finite-n dual lower confidence bound (delta = 0.05) on Bernoulli(0.2)/Hamming lies below "
       "h(p)-h(D) at D = 0.02 and 0.05 (both at once) in repeated draws: a one-sided binomial test does "
       "not reject coverage >= 0.95")
def lcb_coverage(quick: bool = True):
    n, vals, truth = _lcb_study(quick)
    reps = len(vals)
    hits = int(np.sum(np.all(vals <= truth, axis=1)))
    status = lcb_coverage_verdict(hits, reps)
    return make("empirical.lcb_coverage", expected=f">= 0.95 of {reps}", measured=f"{hits}/{reps}",
                tolerance=f"binomial P(X <= hits | 0.95) >= {ALPHA}",
                tolerance_why=f"if the coverage were >= 0.95, {hits} or fewer hits of {reps} has probability "
                              f"{coverage_pvalue(hits, reps):.3g}; a correct LCB fails in < 1/1000 runs. "
                              f"(If it were only 0.90, {hits}+ hits would have probability "
                              f"{1 - coverage_pvalue(hits - 1, reps, 0.90):.3g}.)",
                status=status,
                details=dict(n=n, D=list(LCB_D), truth=np.round(truth, 4).tolist(),
                             looseness_mean_bits=np.round(truth - vals.mean(0), 4).tolist(),
                             lcb_mean_bits=np.round(vals.mean(0), 4).tolist()))


@functools.lru_cache(maxsize=None)
def _gaussian_study(quick: bool):
    """Upper bound (held-out plug-in, k-means atoms) at :data:`GAUSS_BETAS`, then the Shannon and
    dual lower bounds at the upper bound's held-out distortions, each on its own fresh samples."""
    from rdtheory.empirical import estimate_rd
    from rdtheory.empirical.sources import GaussianSource

    src = GaussianSource(GAUSS_VARS)
    n_slb, n_up, n_dual = (100_000, 20_000, 4_000) if quick else (100_000, 100_000, 20_000)
    up = _quiet(estimate_rd, src.sample(n_up, seed=21), "squared", method="plugin", betas=list(GAUSS_BETAS),
                alphabet="kmeans", n_atoms=256 if quick else 512, seed=1, progress=False)
    D = up.distortion                      # the lower bounds at the upper bound's held-out distortions
    slb = _quiet(estimate_rd, src.sample(n_slb, seed=22), "squared", method="shannon", distortions=D, seed=1,
                 progress=False)
    dual = _quiet(estimate_rd, src.sample(n_dual, seed=23), "squared", method="dual", distortions=D, seed=1,
                  progress=False)
    return src, up, slb, dual


@claim("empirical.gaussian_sandwich_2d", REF,
       "2-d Gaussian (variances 1, 0.25) under summed squared error: the held-out plug-in upper bound and "
       "the Shannon and dual lower bounds bracket the reverse water-filling R(D) within their intervals")
def gaussian_sandwich_2d(quick: bool = True):
    src, up, slb, dual = _gaussian_study(quick)
    truth = src.rd(up.distortion)
    v_up = heldout_upper_verdict(*_upper_terms(up, src))
    v_slb = interval_contains_verdict(slb.interval[:, 0], slb.interval[:, 1], src.rd(slb.distortion))
    v_dual = lower_bound_verdict(dual.interval[:, 0], src.rd(dual.distortion))
    ok = v_up == v_slb == v_dual == PASS
    return make("empirical.gaussian_sandwich_2d", expected=np.round(truth, 4).tolist(),
                measured=dict(upper=np.round(up.rate, 4).tolist(), shannon=np.round(slb.rate, 4).tolist(),
                              dual=np.round(dual.rate, 4).tolist(), D=np.round(up.distortion, 4).tolist()),
                tolerance="each method's 0.95 interval",
                tolerance_why="upper: R(D_hi) <= ci_high (guarantee) and ci_low <= R(D_lo); Shannon: the SLB "
                              "equals R(D) for a Gaussian, so its interval must contain it; dual: an asymptotic "
                              "lower bound, its interval's lower end must be below R(D)",
                status=PASS if ok else FAIL,
                details=dict(upper=v_up, shannon=v_slb, dual=v_dual, n_upper=up.n_fit + up.n_eval,
                             upper_terms=[np.round(t, 4).tolist() for t in _upper_terms(up, src)],
                             shannon_interval=np.round(slb.interval, 4).tolist(),
                             dual_interval=np.round(dual.interval, 4).tolist()))


def sandwich_width_nats(upper_ci_high, lower_ci_low) -> np.ndarray:
    """Sandwich width (nats) from the bounds' interval ends (bits in): ``upper_ci_high - lower_ci_low``.

    Conservative: the width a user sees without knowing the truth, including both bounds'
    sampling uncertainty. Both are taken at the upper bound's held-out distortion.
    """
    return (np.asarray(upper_ci_high, dtype=np.float64) - np.asarray(lower_ci_low, dtype=np.float64)) * math.log(2)


@claim("empirical.gaussian_sandwich_goal", REF,
       "Issue 14 goal: sandwich width (upper bound's 0.95 upper end - best lower bound's 0.95 lower end) "
       "<= 0.05 nats for the 2-d Gaussian (n = 1e5 for the lower bound; the upper bound uses 2e4 samples in "
       "quick mode, 1e5 in full mode)")
def gaussian_sandwich_goal(quick: bool = True):
    src, up, slb, dual = _gaussian_study(quick)
    best_low = np.maximum(slb.interval[:, 0], dual.interval[:, 0])
    width = sandwich_width_nats(up.interval[:, 1], best_low)
    w = float(np.max(width))
    return make("empirical.gaussian_sandwich_goal", expected=f"<= {GOAL_NATS} nats", measured=f"{w:.4f} nats",
                tolerance="goal", tolerance_why="the issue's target, applied to interval ends (what is known "
                                                "without the truth); the best lower end is the Shannon bound's, "
                                                "an estimate of a lower bound with no finite-n guarantee",
                status=goal_verdict(w, GOAL_NATS),
                details=dict(width_nats=np.round(width, 4).tolist(), n_upper=up.n_fit + up.n_eval,
                             n_shannon=slb.n_fit + slb.n_eval, n_dual=dual.n_fit + dual.n_eval,
                             dual_gap_to_truth_bits=np.round(src.rd(dual.distortion) - dual.rate, 3).tolist(),
                             quick=quick))


@claim("empirical.laplace_slb", REF,
       "Laplacian (alpha = 2) under absolute error: the Shannon lower bound estimate's interval contains "
       "R(D) = -log2(alpha D) at D = 0.05, 0.2, 0.5 (<= 1/alpha)")
def laplace_slb(quick: bool = True):
    from rdtheory.empirical import estimate_rd
    from rdtheory.empirical.sources import LaplaceSource

    src = LaplaceSource(LAPLACE_ALPHA)
    n = 20_000 if quick else 100_000
    D = np.array(LAPLACE_D)
    r = _quiet(estimate_rd, src.sample(n, seed=31), "absolute", method="shannon", distortions=D, level=0.999,
               seed=1, progress=False)
    truth = src.rd(D)
    return make("empirical.laplace_slb", expected=np.round(truth, 4).tolist(), measured=np.round(r.rate, 4).tolist(),
                tolerance=np.round(r.interval, 4).tolist(),
                tolerance_why="the SLB is tight for the Laplacian when D <= 1/alpha, so its 0.999 batch-means "
                              "interval (one seeded draw) must contain the truth",
                status=interval_contains_verdict(r.interval[:, 0], r.interval[:, 1], truth), details=dict(n=n))


def _errorbars(ax, D, bound, label, fmt):
    lo, hi = bound.interval[:, 0], bound.interval[:, 1]
    hi = np.where(np.isfinite(hi), hi, bound.rate)
    ax.errorbar(D, bound.rate, yerr=[bound.rate - lo, hi - bound.rate], fmt=fmt, capsize=3, label=label)


@figure("empirical_bounds.png")
def bounds_figure(quick: bool):
    """Estimated bounds (0.95 intervals) against the exact R(D): Bernoulli(0.2) and the 2-d Gaussian."""
    from matplotlib.figure import Figure

    from rdtheory.empirical.sources import BernoulliSource

    fig = Figure(figsize=(10, 3.8))
    ax_b, ax_g = fig.subplots(1, 2)
    grid = np.linspace(0.005, 0.195, 100)
    ax_b.plot(grid, BernoulliSource(P_BERN).rd(grid), "k-", lw=1, label="h(p) - h(D)")
    for r, fmt in zip(_bernoulli_study(quick), ("o", "s", "^")):
        ci_low, ci_high = r["upper"][0], r["upper"][1]
        d = r["D_upper"]
        ax_b.errorbar(d, r["rate"], yerr=[r["rate"] - ci_low, ci_high - r["rate"]], fmt=fmt, capsize=3,
                      label=f"held-out upper, n = {r['n']:g}")
    n_lcb, vals, truth = _lcb_study(quick)
    ax_b.plot(LCB_D, vals.mean(0), "v", label=f"LCB mean (delta 0.05), n = {n_lcb:g}")
    ax_b.set(xlabel="D (Hamming)", ylabel="R (bits)", title="Bernoulli(0.2)")
    ax_b.legend(fontsize=7)
    src, up, slb, dual = _gaussian_study(quick)
    grid = np.geomspace(0.05, 1.0, 100)
    ax_g.plot(grid, src.rd(grid), "k-", lw=1, label="water-filling R(D)")
    _errorbars(ax_g, up.distortion, up, "held-out plug-in (upper)", "o")
    _errorbars(ax_g, slb.distortion, slb, "Shannon LB (estimate)", "s")
    _errorbars(ax_g, dual.distortion, dual, "dual LB", "^")
    ax_g.set(xscale="log", xlabel="D (summed squared error)", ylabel="R (bits)", title="2-d Gaussian (1, 0.25)")
    ax_g.legend(fontsize=7)
    fig.tight_layout()
    return fig


#: target rate of the 40-d claim (bits): NERD's +0.11-bit point.
NERD_BITS = 8.4
#: the issue's goal for the 40-d upper bound (bits above the truth).
NEURAL_GOAL_BITS = 0.01


@functools.lru_cache(maxsize=None)
def _neural_study(quick: bool):
    """One neural fit on NERD's 40-d source at the slope where R = 8.4 bits (beta = 1/(2 theta)).

    Quick: 1e4 fit samples, 3000 steps, 2e4 held-out (a short fit, looser than the docs'
    measurements); full: 5e4 fit samples, 2e4 steps of batch 512, 3e5 held-out (the long fit of
    benchmarks/results, +0.012 bits there)."""
    from rdtheory.empirical.neural import evaluate_neural, fit_neural
    from rdtheory.empirical.sources import nerd_gaussian, water_filling_level

    src = nerd_gaussian()
    beta = 1.0 / (2.0 * float(water_filling_level(src.variances, src.dr(NERD_BITS))))
    n_fit, steps, batch, n_eval = (10_000, 3_000, 256, 20_000) if quick else (50_000, 20_000, 512, 300_000)
    fit = fit_neural(src.sample(n_fit, seed=41), [beta], steps=steps, batch_size=batch, seed=0)
    b = evaluate_neural(fit, src.sample(n_eval, seed=42))
    return src, b, dict(n_fit=n_fit, steps=steps, batch=batch, n_eval=n_eval)


@claim("empirical.neural_40d", REF,
       "NERD's 40-d Gaussian (sigma_k = 2 e^{-k/2}, rotated): the neural held-out upper bound at ~8.4 bits "
       "is consistent with the water-filling truth (a valid upper bound within its interval)")
def neural_40d(quick: bool = True):
    src, b, cfg = _neural_study(quick)
    terms = _upper_terms(b, src)
    status = heldout_upper_verdict(*terms)
    cfg = dict(cfg, truth_at_d_low=round(float(terms[2][0]), 4), truth_at_d_high=round(float(terms[3][0]), 4))
    gap = float(b.rate[0] - src.rd(b.distortion)[0])
    return make("empirical.neural_40d", expected=f"R(D) = {src.rd(b.distortion)[0]:.3f} bits",
                measured=f"{b.rate[0]:.3f} bits (gap {gap:+.4f})", tolerance=np.round(b.interval[0], 4).tolist(),
                tolerance_why="held-out 0.95 Student-t interval: R(D_hi) <= ci_high (the bound's guarantee) and "
                              "ci_low <= R(D_lo) (not wholly above the truth)",
                status=status, details=dict(cfg, quick=quick, gap_bits=round(gap, 4)))


@claim("empirical.neural_40d_goal", REF,
       "Issue 14 goal: the 40-d upper bound within 0.01 bits of the truth at ~8.4 bits (quick mode: a short "
       "fit, not the goal's budget)")
def neural_40d_goal(quick: bool = True):
    src, b, cfg = _neural_study(quick)
    gap = float(b.rate[0] - src.rd(b.distortion)[0])
    return make("empirical.neural_40d_goal", expected=f"<= {NEURAL_GOAL_BITS} bits", measured=f"{gap:+.4f} bits",
                tolerance="goal", tolerance_why="the issue's target on the point value (NERD: +0.11 bits)",
                status=goal_verdict(gap, NEURAL_GOAL_BITS), details=dict(cfg, quick=quick))
