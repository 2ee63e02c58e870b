r"""Decisions of the engine and machines claims, as small pure functions (issue 18).

Each claim in :mod:`paper_checks.claims_engine` and :mod:`paper_checks.claims_machines`
computes its numbers and hands them to one of these functions, which returns ``"pass"`` or
``"fail"``. They take plain numbers/arrays, so ``tests/test_claim_mutations_engine_machines.py``
can feed the recorded values perturbed by the smallest amount that matters and see a FAIL.

Units are bits unless a name says otherwise.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. II, Theorems 1-4).
.. [2] T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley, 2006
   (Thm. 10.3.2, the Gaussian R(D)).
.. [3] W. F. Sheppard, "On the calculation of the most probable values of frequency-constants,
   for data arranged according to equidistant divisions of a scale", Proc. London Math. Soc.
   29 (1898) 353-380 (the h^2/12 variance of grouping).
"""
from __future__ import annotations

import math

import numpy as np

FAIL, PASS = "fail", "pass"

#: float64 rounding of the certificate arithmetic (terms are O(1) bits).
FP = 1e-12
#: The engine's default certified gap target (``tol=1e-7``) plus float headroom: a solve that
#: stopped early (iteration cap, lost bracket) shows a larger gap and fails the claim.
GAP_CAP = 1e-7 + 1e-9


def bracket_verdict(worst_outside: float, max_gap: float, *, fp: float = FP, gap_cap: float = GAP_CAP) -> str:
    """A closed form inside every certified bracket ``[lower, rate]`` (to ``fp``) *and* every
    bracket no wider than ``gap_cap``: a bracket that is merely wide cannot hide an error."""
    return PASS if worst_outside <= fp and max_gap <= gap_cap else FAIL


def aliasing_bits(D, h: float) -> np.ndarray:
    r"""Bound on how far a grid problem's R(D) can sit from :math:`\tfrac12\log_2(\mathrm{Var}/D)`
    through lattice aliasing, bits: :math:`(2 + 4a)e^{-a}/\ln 2`, :math:`a = 2\pi^2 D/h^2`.

    By Poisson summation a Gaussian of variance D sampled on spacing h has normaliser
    :math:`\frac{\sqrt{2\pi D}}{h}(1 + 2\sum_{k\ge1} e^{-a k^2})`: its entropy is within
    :math:`(2 + 2a)e^{-a}` nats of :math:`\tfrac12\ln(2\pi e D/h^2)` and its variance within
    :math:`4a e^{-a}D` of D (leading terms), which moves :math:`\tfrac12\ln(\mathrm{Var}/D)` by
    :math:`2a e^{-a}`. Checked numerically for a in [1, 12] on both lattice offsets. At the
    claim's grid (h = 1/64, D >= 1.2e-3, a >= 100) it is below 1e-40 bits.
    """
    a = 2 * math.pi**2 * np.asarray(D, dtype=np.float64) / h**2
    return (2 + 4 * a) * np.exp(-a) / math.log(2)


def gaussian_grid_verdict(rate, lower, D, var_d: float, h: float, *, fp: float = FP,
                          gap_cap: float = GAP_CAP) -> tuple[str, float]:
    r"""Grid Gaussian against the Gaussian R(D) *of the grid source's own variance*.

    ``rate``/``lower`` are the certified brackets at distortions ``D`` of :math:`X_d`, the
    N(0,1) source on a grid of cell width ``h``; ``var_d`` is :math:`\mathrm{Var}(X_d)`
    computed from the grid pmf (:math:`1 + h^2/12`, Sheppard). The reference is
    :math:`\tfrac12\log_2(\mathrm{Var}(X_d)/D)`: the backward test channel on the lattice is
    a discrete Gaussian, exact up to aliasing (:func:`aliasing_bits`), and the pmf's departure
    from a discrete Gaussian is :math:`O(h^4)` in shape with its variance matched, so it enters
    the rate at second order (:math:`O(h^8)`, ~1e-15 bits at h = 1/64). Returns the status
    and the worst excess ``max(ref - rate, lower - ref) - aliasing`` (bits, <= fp to pass);
    every bracket must also be no wider than ``gap_cap``.
    """
    rate, lower, D = (np.asarray(v, dtype=np.float64) for v in (rate, lower, D))
    ref = 0.5 * np.log2(var_d / D)
    excess = float(np.max(np.maximum(ref - rate, lower - ref) - aliasing_bits(D, h)))
    ok = excess <= fp and float(np.max(rate - lower)) <= gap_cap
    return (PASS if ok else FAIL), excess


def cross_check_verdict(rate, lower, reference, solver_tol, *, gap_cap: float = GAP_CAP) -> tuple[str, float]:
    """An independent solver's optimum ``reference`` inside each certified bracket up to its own
    accuracy ``solver_tol`` (bits; scalar or one per instance), with every bracket no wider than
    ``gap_cap``. Returns the status and the worst outside-bracket distance."""
    rate, lower, reference = (np.asarray(v, dtype=np.float64) for v in (rate, lower, reference))
    outside = np.maximum(0.0, np.maximum(lower - reference, reference - rate))
    worst = float(np.max(outside))
    ok = bool(np.all(outside <= solver_tol)) and float(np.max(rate - lower)) <= gap_cap
    return (PASS if ok else FAIL), worst


def equality_verdict(verified: bool, applicable: int, max_certified_error: float, *, min_applicable: int,
                     gap_cap: float = GAP_CAP) -> str:
    """An ``=`` statement of Sec. II: certified intervals overlap everywhere the hypothesis
    holds (``verified``), on at least ``min_applicable`` models, *and* each interval is no wider
    than ``gap_cap`` (overlap alone passes more easily the less accurate the solver is)."""
    ok = verified and applicable >= min_applicable and max_certified_error <= gap_cap
    return PASS if ok else FAIL


def relation_verdict(verified: bool, applicable: int, *, min_applicable: int) -> str:
    """A ``<=``/``<`` statement: it holds at every applicable point, on enough models."""
    return PASS if verified and applicable >= min_applicable else FAIL


#: Constant of the outer bound's looseness on D^min, ``C sqrt(s) range(e)``: the measured
#: ``(D_w - outer) / (sqrt(s) range(e))`` over the quick-mode families (Theorem 3: 'sup', 400
#: points; Cor. 3.1: 'sup', 400; Cor. 3.2: 'sup_g', 400) is at most 6.2 (99th percentile ~2.2);
#: C = 20 leaves ~3x headroom. The sqrt(s) law itself is the module doc of optimal_sets.
OUTER_C = 20.0


def outer_bound_tol(rate_slack_bits, induced_range):
    r"""How far the convex program's certified lower bound on :math:`D^{\min}` may sit below
    :math:`D^{\min}`: :data:`OUTER_C` :math:`\sqrt{s}\,(\max e - \min e)`, ``s`` the program's
    rate slack in bits (certified gap + the conic solver's eps). Off the optimal set the rate
    grows quadratically, so a rate slack s admits codes ~sqrt(s) away, whose induced distortion
    moves by at most that times the range of the induced distortion ``e``."""
    return OUTER_C * np.sqrt(np.asarray(rate_slack_bits, dtype=np.float64)) * np.asarray(induced_range)[..., None]


def witness_match_verdict(d_witness, d_outer, tol, outer_excess, *, excess_cap: float = 1e-7,
                          min_fraction: float = 0.9) -> tuple[str, float, int]:
    r"""Theorem 3 / Cor. 3.x: the witness's induced distortion :math:`D_w` is :math:`D^{\min}`.

    ``d_outer`` is the convex program's lower bound on :math:`D^{\min}` (NaN where it was not
    computed), ``tol`` (scalar or per point) how loose that bound may be (:func:`outer_bound_tol`).
    The bound is certified only where the conic solver's own optimiser meets its rate
    constraint: ``outer_excess`` (bits by which it exceeds it) must be <= ``excess_cap``; other
    points are not compared, and at least ``min_fraction`` of all points must be. Passes when
    ``|D_w - d_outer| <= tol`` at every compared point. Returns the status, the worst
    ``|D_w - d_outer| - tol`` and the number of points compared.
    """
    d_witness, d_outer = np.asarray(d_witness, dtype=np.float64), np.asarray(d_outer, dtype=np.float64)
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), d_witness.shape)
    have = ~np.isnan(d_outer) & (np.asarray(outer_excess) <= excess_cap)
    if have.sum() < min_fraction * d_witness.size or not have.any():
        return FAIL, float("nan"), int(have.sum())
    worst = float(np.max(np.abs(d_witness - d_outer)[have] - tol[have]))
    return (PASS if worst <= 0 else FAIL), worst, int(have.sum())


def distillation_verdict(err: float, slope_max: float, max_gap: float, *, lp_tol: float = 1e-8,
                         fp: float = FP) -> tuple[str, float]:
    r"""Corollary 4.1's example: certified values against the closed forms.

    The left side is read at the LP witness's :math:`D_w`, which the LP places within
    ``lp_tol`` of :math:`D^{\min}`; R moves by at most ``slope_max * lp_tol`` over that (``slope_max``
    the largest :math:`|dR/dD|` of the closed form there), and the certified bracket adds its
    width. Returns the status and the tolerance used.
    """
    tol = slope_max * lp_tol + max_gap + fp
    return (PASS if err <= tol else FAIL), tol
