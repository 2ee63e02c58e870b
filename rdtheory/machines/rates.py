r"""Rate-distortion functions of coding for machines (Eqs. 3-11), as certified engine problems.

Every rate of Sec. II is an ordinary rate-distortion problem :math:`(p, d)` for the engine
:mod:`rdtheory.discrete`; only the source, the reproduction alphabet and the distortion
change. For a cut layer :math:`C` (the layer that is quantised) and a distortion target
:math:`J` at or after it, with :math:`\varphi_{C\to J}` the composed layer maps:

====================  ==================  ========================  ==================================================
rate                  source              reproductions             distortion ``d[s, c_hat]``
====================  ==================  ========================  ==================================================
R_X(D;J)  (5),(11)    X with p(x)         :math:`\hat{\mathcal X}`  :math:`d_J(\varphi_{X\to J}(x), \varphi_{X\to J}(\hat x))`
R_C(D;J)  (6)         C with p_C          :math:`\hat{\mathcal C}`  :math:`d_J(\varphi_{C\to J}(c), \varphi_{C\to J}(\hat c))`
R_XC(D;J) (8)         X with p(x)         :math:`\hat{\mathcal C}`  :math:`d_J(\varphi_{X\to J}(x), \varphi_{C\to J}(\hat c))`
====================  ==================  ========================  ==================================================

with :math:`p_C` the pushforward of :math:`p(x)` through :math:`\varphi_{X\to C}` (zeros on
values no input reaches). So ``R_X(D;T)`` is ``task_induced(f, d_T)``, ``R_Y(D;T)`` has
source :math:`p_Y` and ``R_XY(D;T)`` (direct coding, Eq. 8) has encoder :math:`q(\hat y|x)`
and decoder output at the cut layer. All rates are in **bits**.

:func:`certified_rates` evaluates many such problems of one shape at given distortions with
the engine's batched search :func:`rdtheory.discrete.certified_search` (one ``vmap`` call per
slope step): the upper bound is the exact mutual information of the time-sharing mixture of
the two bracketing solutions (distortion exactly D), the lower bound the best supporting line
at D of all slopes solved (Blahut 1972). This module only builds the problems.

References
----------
A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo, A. de
Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its Applications",
arXiv:2305.17295, 2023 (Eqs. 3-11).

R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE Trans.
Inf. Theory 18(4):460-473, 1972.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..discrete import certified_search, rd_curve
from ..discrete.search import MAX_EXPAND
from .model import FiniteTaskModel, Layer

__all__ = ["RateProblem", "RatePoints", "rate_problem", "certified_rates", "rate", "rate_x", "rate_y",
           "rate_xy", "rate_curve", "stack_problems"]


class RateProblem(NamedTuple):
    """One engine problem: source ``p`` (n,), distortion ``d`` (n, m) between source symbols
    and reproductions; ``reproductions`` (m,) are indices into layer ``cut``'s alphabet.
    ``cut``/``target`` are layer indices; ``direct`` marks Eq. 8 (source X, decoder at cut)."""

    p: np.ndarray
    d: np.ndarray
    reproductions: np.ndarray
    cut: int
    target: int
    direct: bool


class RatePoints(NamedTuple):
    """Certified values ``lower <= R(D) <= rate`` (bits) at target distortions ``D``.

    Shapes: ``D, rate, lower, distortion, beta`` are ``batch + (K,)``; ``q`` is
    ``batch + (K, n, m)``, a conditional that achieves ``distortion`` (== D up to rounding,
    or the zero-rate distortion when ``D >= D_max``) at rate ``rate``. ``beta`` is the slope
    (nats per unit distortion) of the bracketing solve used for the upper end, 0 when D >= D_max.
    ``bracketed`` is False where D sat so close to D_min that no solve reached below it
    (then ``rate`` is only the rate at ``distortion`` > D). ``converged``: ``gap <= tol``.
    """

    D: np.ndarray
    rate: np.ndarray
    lower: np.ndarray
    distortion: np.ndarray
    beta: np.ndarray
    q: np.ndarray
    bracketed: np.ndarray
    converged: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """Certified error ``rate - lower`` (bits)."""
        return self.rate - self.lower


def rate_problem(model: FiniteTaskModel, *, cut: Layer = 0, target: Layer = -1, direct: bool = False) -> RateProblem:
    r"""The engine problem :math:`(p, d)` for :math:`R_C(D;J)` or, with ``direct``, :math:`R_{XC}(D;J)`.

    ``cut`` is the layer quantised (0 = full-input compression, Eq. 5), ``target`` the layer
    where distortion is measured (default T). See the module table.
    """
    c, t = model.index(cut), model.index(target)
    if c > t:
        raise ValueError(f"the distortion target {model.names[t]} must be at or after the cut layer "
                         f"{model.names[c]} (distortion is measured downstream of the reproduction)")
    reps = model.reproductions[c]
    d_t = model.distortions[t]
    col = model.push(c, t)[reps]
    if direct:
        p = model.p_x
        row = model.push(0, t)
    else:
        p = model.marginal(c)
        row = model.push(c, t)
    return RateProblem(p, d_t[np.ix_(row, col)], reps, c, t, bool(direct))


def stack_problems(problems) -> tuple[np.ndarray, np.ndarray]:
    """Stack problems of one shape into batched arrays ``p (B, n)`` and ``d (B, n, m)``."""
    problems = list(problems)
    shapes = {pr.d.shape for pr in problems}
    if len(shapes) != 1:
        raise ValueError(f"problems must share one shape (n, m) to be batched; got {sorted(shapes)}")
    return np.stack([pr.p for pr in problems]), np.stack([pr.d for pr in problems])


def certified_rates(p, d, D, *, tol: float = 1e-7, max_steps: int = 80, beta_rtol: float | None = None,
                    max_iter: int = 5000) -> RatePoints:
    r"""Certified :math:`R(D)` for a batch of problems at a batch of distortions (bits).

    Parameters
    ----------
    p : array (B, n) or (n,)
        Source distributions.
    d : array (B, n, m) or (n, m)
        Distortion matrices (same shape for the whole batch).
    D : array (B, K), (K,) or scalar
        Target distortions per problem (in units of ``d``); must be >= D_min of the problem.
    tol : float
        Target certified gap ``rate - lower`` in bits.
    max_steps : int
        Cap on engine solves per target beyond an allowance of ``1 + MAX_EXPAND`` (17) for
        bracketing it (each solve is one batched engine call over all unfinished targets).
    max_iter : int
        Cap on engine iterations per solve: one stubborn problem cannot hold up the batch;
        the certificate holds for any iterate and later solves are warm-started.
    beta_rtol : float, optional
        Also continue until the slope bracket satisfies ``beta_hi / beta_lo - 1 <= beta_rtol``
        (used by :mod:`~rdtheory.machines.optimal_sets`, which needs the optimal slope).

    Returns
    -------
    RatePoints with shapes ``(B, K)`` (or ``(K,)`` for a single problem); answers whose gap
    is above ``tol`` have ``converged`` False and raise an
    :class:`~rdtheory.discrete.UnconvergedWarning`.

    This is :func:`rdtheory.discrete.certified_search` with ``at="distortion"`` (which owns the
    slope search, padding, deduplication and certificate).

    References
    ----------
    R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE
    Trans. Inf. Theory 18(4):460-473, 1972.
    """
    single = np.asarray(p).ndim == 1
    res = certified_search(p, d, D, at="distortion", tol=tol, max_solves=max_steps + 1 + MAX_EXPAND,
                           beta_rtol=beta_rtol, max_iter=max_iter)
    out = RatePoints(res.target, res.rate, res.lower, res.distortion, res.beta, res.q, res.bracketed, res.converged)
    if single:
        out = RatePoints(*(np.asarray(x)[0] for x in out))
    return out


def rate(model: FiniteTaskModel, D, *, cut: Layer = 0, target: Layer = -1, direct: bool = False,
         tol: float = 1e-7) -> RatePoints:
    r"""Certified :math:`R_C(D;J)` (or :math:`R_{XC}(D;J)` with ``direct``) at distortions ``D`` (bits).

    ``D`` is a scalar or a 1-D grid; the result has shape ``(K,)``.
    """
    pr = rate_problem(model, cut=cut, target=target, direct=direct)
    return certified_rates(pr.p, pr.d, np.atleast_1d(np.asarray(D, dtype=np.float64)), tol=tol)


def rate_x(model: FiniteTaskModel, D, *, target: Layer = -1, tol: float = 1e-7) -> RatePoints:
    """Full-input compression :math:`R_X(D;J)` (Eq. 5; Eq. 11 for an intermediate target)."""
    return rate(model, D, cut=0, target=target, tol=tol)


def rate_y(model: FiniteTaskModel, D, *, cut: Layer = 1, target: Layer = -1, tol: float = 1e-7) -> RatePoints:
    """Model splitting :math:`R_Y(D;J)` (Eq. 6): quantise the cut layer, measure at ``target``."""
    return rate(model, D, cut=cut, target=target, tol=tol)


def rate_xy(model: FiniteTaskModel, D, *, cut: Layer = 1, target: Layer = -1, tol: float = 1e-7) -> RatePoints:
    r"""Direct coding for machines :math:`R_{XY}(D;J)` (Eq. 8): encoder :math:`q(\hat y|x)`, decoder at ``cut``."""
    return rate(model, D, cut=cut, target=target, direct=True, tol=tol)


def rate_curve(model: FiniteTaskModel, *, cut: Layer = 0, target: Layer = -1, direct: bool = False,
               betas=None, num: int = 48, tol: float = 1e-7):
    """The whole certified curve of a rate (an :class:`rdtheory.discrete.RDCurve`), for plots."""
    pr = rate_problem(model, cut=cut, target=target, direct=direct)
    return rd_curve(pr.p, pr.d, betas, num=num, tol=tol)
