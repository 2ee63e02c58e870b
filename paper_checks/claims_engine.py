"""Sanity claims of the R(D) engine (foundation issue): closed forms inside the certified
bracket, an independent convex solver inside it, and why plain BA is not enough."""
from __future__ import annotations

import math
import time

import numpy as np

from paper_checks import FAIL, PASS, claim, figure, make
from rdtheory.discrete import (blahut_arimoto, closed_form as cf, distortion_range, examples, hamming,
                               rate_at_distortion, rd_curve, squared_error)

FP = 1e-12  # float64 rounding of the certificate arithmetic, bits
WHY_CERT = "certificate: lower <= R(D) <= rate holds exactly; 1e-12 bits for float64 rounding"


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
                tolerance_why=WHY_CERT, status=PASS if worst <= FP and max(gaps) <= 1e-7 else FAIL,
                details={"max_gap_bits": max(gaps)})


@claim("engine.mary_hamming", "Cover & Thomas Problem 10.5",
       "uniform m-ary source, Hamming: R(D) = log m - h(D) - D log(m-1) lies in every certified bracket")
def mary_hamming(quick: bool):
    worst = 0.0
    for m in (3, 16, 256):
        c = rd_curve(np.ones(m) / m, hamming(m), num=12 if quick else 48)
        worst = max(worst, _worst_outside(c.lower, c.rate, cf.mary_hamming(c.distortion, m)))
    return make("engine.mary_hamming", expected="outside-bracket distance 0", measured=worst, tolerance=FP,
                tolerance_why=WHY_CERT, status=PASS if worst <= FP else FAIL)


@claim("engine.erasure", "Cover & Thomas Problem 10.7",
       "uniform source with erasure distortion: R(D) = (1 - D) log m in every certified bracket")
def erasure(quick: bool):
    m = 32
    c = rd_curve(np.ones(m) / m, cf.erasure_matrix(m, 1e3), betas=np.geomspace(0.2, 40, 12))
    worst = _worst_outside(c.lower, c.rate, cf.erasure(c.distortion, m))
    return make("engine.erasure", expected="outside-bracket distance 0", measured=worst, tolerance=FP,
                tolerance_why=WHY_CERT + " (penalty 1e3 stands for infinity: exp(-beta*1e3) underflows)",
                status=PASS if worst <= FP else FAIL)


@claim("engine.gaussian_grid", "Cover & Thomas Thm 10.3.2",
       "N(0,1) on a 2048-cell grid with squared error: certified R(D) within the rigorous discretisation "
       "bracket, and within its width of 1/2 log2(1/D)")
def gaussian_grid(quick: bool):
    x, p = cf.discretised_gaussian(1024 if quick else 2048)
    c = rd_curve(p, squared_error(x), betas=np.geomspace(0.8, 400, 10 if quick else 30))
    lo, hi = cf.gaussian_grid_bracket(c.distortion, x, p)
    inside = bool(np.all(lo <= c.rate + FP) and np.all(c.lower <= hi + FP))
    dev = float(np.max(np.abs(c.rate - cf.gaussian_squared(c.distortion))))
    width = float(np.max(hi - lo))
    return make("engine.gaussian_grid", expected="0.5 log2(1/D)", measured=f"max |R - closed form| = {dev:.2e} bits",
                tolerance=f"bracket width <= {width:.2e} bits",
                tolerance_why="discretisation bracket (cell width h, see closed_form.gaussian_grid_bracket)",
                status=PASS if inside and dev <= width and np.all(c.converged) else FAIL,
                details={"max_gap_bits": float(c.gap.max()), "points": len(c.rate)})


@claim("engine.cvxpy_cross_check", "Eq. 2 (definition of R(D))",
       "an independent convex solver (cvxpy/Clarabel, exponential cones) lands inside the certified bracket")
def cvxpy_cross_check(quick: bool):
    import cvxpy as cp

    rng = np.random.default_rng(11)
    worst, trials = 0.0, 4 if quick else 20
    for _ in range(trials):
        n, m = rng.integers(3, 7), rng.integers(2, 6)
        p = rng.dirichlet(np.ones(n))
        d = rng.uniform(0, 1, (n, m))
        res = blahut_arimoto(p, d, float(rng.uniform(1, 10)))
        Q = cp.Variable((n, m), nonneg=True)
        joint = cp.multiply(p[:, None], Q)
        mi = cp.sum(cp.rel_entr(joint, np.outer(p, np.ones(m)) @ cp.diag(p @ Q)))
        prob = cp.Problem(cp.Minimize(mi), [cp.sum(Q, axis=1) == 1, cp.sum(cp.multiply(joint, d)) <= float(res.distortion)])
        prob.solve(solver="CLARABEL")
        worst = max(worst, _worst_outside(res.lower, res.rate, prob.value / math.log(2)))
    return make("engine.cvxpy_cross_check", expected="outside-bracket distance 0", measured=worst, tolerance=1e-6,
                tolerance_why="Clarabel's default accuracy (~1e-8 relative) allowed 1e-6 bits; none for rdtheory",
                status=PASS if worst <= 1e-6 else FAIL, details={"instances": trials})


@claim("engine.random_batch", "Blahut 1972 Thm 7",
       "on a vmapped batch of random instances every solve converges and lower <= rate")
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
    ok = bool(np.all(res.converged)) and worst <= FP
    return make("engine.random_batch", expected="all converged, lower - rate <= 0", measured=f"max(lower - rate) = {worst:.1e}",
                tolerance=FP, tolerance_why=WHY_CERT, status=PASS if ok else FAIL,
                details={"instances": B, "seconds": s, "max_gap_bits": float(res.gap.max())})


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
