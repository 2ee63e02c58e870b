"""Sanity claims of the R(D) engine (foundation issue): closed forms inside the certified
bracket, an independent convex solver inside it, and why plain BA is not enough."""
from __future__ import annotations

import math
import time
import warnings

import numpy as np

from paper_checks import FAIL, PASS, claim, figure, make
from paper_checks.verdicts_engine_machines import (FP, GAP_CAP, bracket_verdict, cross_check_verdict,
                                                   gaussian_grid_verdict)
from rdtheory.discrete import (blahut_arimoto, closed_form as cf, examples, hamming, rate_at_distortion, rd_curve,
                               squared_error)

WHY_CERT = "certificate: lower <= R(D) <= rate holds exactly; 1e-12 bits for float64 rounding"
WHY_GAP = (f"; every bracket no wider than {GAP_CAP:.3g} bits (the engine's tol 1e-7 + 1e-9), so a wide, "
           "inaccurate bracket cannot hide an error")
#: Clarabel's default tolerances (tol_gap_abs = tol_gap_rel = tol_feas = 1e-8); a solve it reports as
#: 'optimal_inaccurate' meets only its reduced ones (reduced_tol_gap_* = 5e-5)
CLARABEL_TOL, CLARABEL_REDUCED_TOL = 1e-8, 5e-5


def _cvx_rate(p, d, D):
    """R(D) in bits from an independent convex program (cvxpy + Clarabel, exponential cones), and
    whether Clarabel reached its full accuracy (status 'optimal')."""
    import cvxpy as cp

    n, m = d.shape
    Q = cp.Variable((n, m), nonneg=True)
    joint = cp.multiply(p[:, None], Q)
    mi = cp.sum(cp.rel_entr(joint, np.outer(p, np.ones(m)) @ cp.diag(p @ Q)))
    prob = cp.Problem(cp.Minimize(mi), [cp.sum(Q, axis=1) == 1, cp.sum(cp.multiply(joint, d)) <= float(D)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # 'may be inaccurate' is handled through the status
        prob.solve(solver="CLARABEL")
    return prob.value / math.log(2), prob.status == cp.OPTIMAL


def _cvx_tol(rate_bits, beta, dmax, accurate):
    """Clarabel's accuracy in bits: gap tolerance 1e-8 (1 + |value| nats) plus the distortion
    constraint met to 1e-8 (x d_max), which moves the optimum by the slope beta (nats per unit);
    5e-5 instead of 1e-8 where it reported only reduced accuracy."""
    t = np.where(accurate, CLARABEL_TOL, CLARABEL_REDUCED_TOL)
    return t * (1 + np.asarray(rate_bits) * math.log(2) + np.asarray(beta) * dmax) / math.log(2)


def _worst_outside(lower, rate, exact):
    """Largest distance by which ``exact`` falls outside ``[lower, rate]`` (0 if inside)."""
    return float(np.max(np.maximum(0.0, np.maximum(lower - exact, exact - rate))))


@claim("engine.binary_hamming", "Cover & Thomas Thm 10.3.1",
       "Bernoulli(p) with Hamming distortion: R(D) = h(p) - h(D) lies in every certified bracket")
def binary_hamming(quick: bool):
    worst, gaps = 0.0, []
    for p1 in (0.5, 0.3, 0.11):
        c = rd_curve([1 - p1, p1], hamming(2), num=16 if quick else 64)
        worst = max(worst, _worst_outside(c.lower, c.rate, cf.binary_hamming(c.distortion, p1)))
        gaps.append(float(c.gap.max()))
    return make("engine.binary_hamming", expected="outside-bracket distance 0", measured=worst, tolerance=FP,
                tolerance_why=WHY_CERT + WHY_GAP, status=bracket_verdict(worst, max(gaps)),
                details={"max_gap_bits": max(gaps)})


@claim("engine.mary_hamming", "Cover & Thomas Problem 10.5",
       "uniform m-ary source, Hamming: R(D) = log m - h(D) - D log(m-1) lies in every certified bracket")
def mary_hamming(quick: bool):
    worst, gap = 0.0, 0.0
    for m in (3, 16, 256):
        c = rd_curve(np.ones(m) / m, hamming(m), num=12 if quick else 48)
        worst = max(worst, _worst_outside(c.lower, c.rate, cf.mary_hamming(c.distortion, m)))
        gap = max(gap, float(c.gap.max()))
    return make("engine.mary_hamming", expected="outside-bracket distance 0", measured=worst, tolerance=FP,
                tolerance_why=WHY_CERT + WHY_GAP, status=bracket_verdict(worst, gap), details={"max_gap_bits": gap})


@claim("engine.erasure", "Cover & Thomas Problem 10.7",
       "uniform source with erasure distortion: R(D) = (1 - D) log m in every certified bracket")
def erasure(quick: bool):
    m = 32
    c = rd_curve(np.ones(m) / m, cf.erasure_matrix(m, 1e3), betas=np.geomspace(0.2, 40, 12))
    worst = _worst_outside(c.lower, c.rate, cf.erasure(c.distortion, m))
    gap = float(c.gap.max())
    return make("engine.erasure", expected="outside-bracket distance 0", measured=worst, tolerance=FP,
                tolerance_why=WHY_CERT + " (penalty 1e3 stands for infinity: exp(-beta*1e3) underflows)" + WHY_GAP,
                status=bracket_verdict(worst, gap), details={"max_gap_bits": gap})


@claim("engine.gaussian_grid", "Cover & Thomas Thm 10.3.2",
       "N(0,1) on a 1024-cell grid (2048 under --full) with squared error: certified R(D) brackets "
       "1/2 log2(Var(X_d)/D), the Gaussian R(D) of the grid source's own variance (1 + h^2/12), and lies in "
       "the rigorous discretisation bracket around 1/2 log2(1/D)")
def gaussian_grid(quick: bool):
    x, p = cf.discretised_gaussian(1024 if quick else 2048)
    c = rd_curve(p, squared_error(x), betas=np.geomspace(0.8, 400, 10 if quick else 30))
    lo, hi = cf.gaussian_grid_bracket(c.distortion, x, p)
    inside = bool(np.all(lo <= c.rate + FP) and np.all(c.lower <= hi + FP))
    h = float(x[1] - x[0])
    var_d = float(p @ x**2 - (p @ x) ** 2)
    status, excess = gaussian_grid_verdict(c.rate, c.lower, c.distortion, var_d, h)
    dev = float(np.max(np.abs(c.rate - cf.gaussian_squared(c.distortion))))
    ok = status == PASS and inside and bool(np.all(c.converged))
    return make("engine.gaussian_grid", expected=f"1/2 log2(Var(X_d)/D), Var(X_d) = {var_d:.10f} (1 + h^2/12 = "
                                                 f"{1 + h * h / 12:.10f})",
                measured=f"worst distance outside [lower, rate] beyond the aliasing term {excess:.1e} bits; "
                         f"max certified gap {float(c.gap.max()):.1e}; max |R - 1/2 log2(1/D)| = {dev:.2e} bits "
                         f"(= 1/2 log2 Var(X_d) = {0.5 * math.log2(var_d):.2e}: the grid's variance inflation)",
                tolerance=f"{FP:g} bits + aliasing (2+4a)e^-a/ln2, a = 2 pi^2 D/h^2 (< 1e-40 here); gap <= {GAP_CAP:.3g}",
                tolerance_why="reference is the Gaussian R(D) of the discretised source's own variance; the grid's "
                              "test channel is a discrete Gaussian, exact up to lattice aliasing (Poisson summation, "
                              "verdicts_engine_machines.aliasing_bits); the pmf's O(h^4) shape change enters at "
                              "second order (~1e-15 bits)" + WHY_GAP,
                status=PASS if ok else FAIL,
                details={"max_gap_bits": float(c.gap.max()), "points": len(c.rate), "cells": len(x),
                         "excess_bits": excess, "discretisation_bracket_holds": inside})


@claim("engine.cvxpy_cross_check", "Eq. 2 (definition of R(D))",
       "an independent convex solver (cvxpy/Clarabel, exponential cones) lands inside the certified bracket")
def cvxpy_cross_check(quick: bool):
    rng = np.random.default_rng(11)
    worst, trials = 0.0, 4 if quick else 20
    for _ in range(trials):
        n, m = rng.integers(3, 7), rng.integers(2, 6)
        p = rng.dirichlet(np.ones(n))
        d = rng.uniform(0, 1, (n, m))
        res = blahut_arimoto(p, d, float(rng.uniform(1, 10)))
        worst = max(worst, _worst_outside(res.lower, res.rate, _cvx_rate(p, d, float(res.distortion))[0]))
    return make("engine.cvxpy_cross_check", expected="outside-bracket distance 0", measured=worst, tolerance=1e-6,
                tolerance_why="Clarabel's default accuracy (~1e-8 relative) allowed 1e-6 bits; none for rdtheory",
                status=PASS if worst <= 1e-6 else FAIL, details={"instances": trials})


@claim("engine.random_batch", "Blahut 1972 Thm 7",
       "on a vmapped batch of random instances every solve converges, lower <= rate, and an independent convex "
       "solver lands inside the certified bracket on a subset")
def random_batch(quick: bool):
    rng = np.random.default_rng(0)
    B = 64 if quick else 512
    P = rng.dirichlet(np.ones(24), size=B)
    D = rng.uniform(0, 1, (B, 24, 16)) ** 2
    betas = rng.uniform(0.5, 50, B)
    t = time.perf_counter()
    res = blahut_arimoto(P, D, betas)
    s = time.perf_counter() - t
    worst = float(np.max(res.lower - res.rate))
    sub = np.arange(0, B, B // (8 if quick else 32))   # every (B/8)-th instance: 8 quick, 32 full
    ref, accurate = map(np.array, zip(*(_cvx_rate(P[i], D[i], float(res.distortion[i])) for i in sub)))
    tol = _cvx_tol(ref, betas[sub], D[sub].max(axis=(1, 2)), accurate)
    cstat, cworst = cross_check_verdict(res.rate[sub], res.lower[sub], ref, tol + FP)
    # most comparisons must be at Clarabel's full accuracy, or the cross-check says little
    ok = (bool(np.all(res.converged)) and worst <= FP and cstat == PASS and float(res.gap.max()) <= GAP_CAP
          and accurate.mean() >= 0.75)
    return make("engine.random_batch", expected="all converged, lower - rate <= 0, convex solver inside [lower, rate]",
                measured=f"max(lower - rate) = {worst:.1e}; cvxpy on {len(sub)} instances: worst outside "
                         f"{cworst:.1e} bits (tolerance up to {float(tol.max()):.1e}; Clarabel at full accuracy on "
                         f"{int(accurate.sum())}/{len(sub)})",
                tolerance=f"{FP:g} (certificate); Clarabel 1e-8 (1 + R ln2 + beta d_max)/ln2 per instance "
                          "(cross-check; >= 75% of them at full accuracy)",
                tolerance_why=WHY_CERT + "; the convex optimum is accurate to Clarabel's gap and feasibility "
                              "tolerances (1e-8; 5e-5 where it reports reduced accuracy), the latter moving R by the slope "
                              "beta" + WHY_GAP,
                status=PASS if ok else FAIL,
                details={"instances": B, "seconds": s, "max_gap_bits": float(res.gap.max()),
                         "cross_checked": sub.tolist(), "cross_check_worst_bits": cworst,
                         "clarabel_full_accuracy": accurate.tolist()})


@claim("engine.plain_ba_not_enough", "foundation issue, 'Why plain BA is not enough'",
       "on the 1024-point Dirichlet/squared-error case (beta = 50) plain BA's certified gap decays ~1/k "
       "while the accelerated solver certifies 1e-7 bits")
def plain_ba_not_enough(quick: bool):
    ex = examples.dirichlet_squared(1024, seed=0)
    gaps = {}
    for k in (1000, 5000):
        gaps[k] = float(blahut_arimoto(ex.p, ex.d, 50.0, method="plain", max_iter=k, tol=1e-12).gap)
    acc = blahut_arimoto(ex.p, ex.d, 50.0)
    order = math.log(gaps[1000] / gaps[5000]) / math.log(5)  # ~1 for a 1/k decay
    ok = bool(acc.converged) and gaps[5000] > 1e-5 and 0.5 <= order <= 2.0
    return make("engine.plain_ba_not_enough", expected="issue: 7e-4 after 1000, 1.4e-4 after 5000 (order ~1)",
                measured=f"plain {gaps[1000]:.1e} / {gaps[5000]:.1e} (order {order:.2f}); accelerated {float(acc.gap):.1e}",
                tolerance="order of decay in [0.5, 2]; accelerated gap <= 1e-7",
                tolerance_why="the seed of the issue's Dirichlet draw is not known, so magnitudes are compared by order",
                status=PASS if ok else FAIL,
                details={"accelerated_cnm_steps": int(acc.newton_steps), "accelerated_maps": int(acc.iterations)})


@claim("engine.rate_at_distortion", "Eq. 2",
       "rate_at_distortion(D) brackets h(1/2) - h(D) for D in (0, 1/2) to 1e-8 bits, hitting D exactly")
def rate_at_distortion_claim(quick: bool):
    worst, gap = 0.0, 0.0
    for D in (0.01, 0.11, 0.3, 0.45):
        pt = rate_at_distortion([0.5, 0.5], hamming(2), D, tol=1e-8)
        worst = max(worst, _worst_outside(pt.lower, pt.rate, cf.binary_hamming(D)), abs(pt.distortion - D))
        gap = max(gap, pt.gap)
    return make("engine.rate_at_distortion", expected="outside-bracket distance 0", measured=worst, tolerance=FP,
                tolerance_why=WHY_CERT, status=PASS if worst <= FP and gap <= 1e-8 else FAIL,
                details={"max_gap_bits": gap})


@figure("engine_closed_forms.png")
def closed_forms_figure(quick: bool):
    from matplotlib.figure import Figure

    from rdtheory.plotting import plot_rd_curve

    fig = Figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2)
    c = rd_curve([0.7, 0.3], hamming(2), num=32)
    plot_rd_curve(axes[0], c, title="Bernoulli(0.3), Hamming", closed_form=lambda D: cf.binary_hamming(D, 0.3))
    x, p = cf.discretised_gaussian(1024)
    c = rd_curve(p, squared_error(x), betas=np.geomspace(0.6, 300, 32))
    plot_rd_curve(axes[1], c, title="N(0,1) on 1024 cells, squared error", closed_form=cf.gaussian_squared)
    axes[1].set_xscale("log")
    return fig
