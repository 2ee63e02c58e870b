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

:func:`certified_rates` evaluates many such problems of one shape at given distortions in
one batched (``vmap``) call per slope: a bisection on the slope :math:`\beta` of the engine's
:func:`~rdtheory.discrete.blahut_arimoto`, with the same certificate as
:func:`rdtheory.discrete.rate_at_distortion` — the upper bound is the exact mutual
information of the time-sharing mixture of the two bracketing solutions (distortion exactly
D), the lower bound the best supporting line at D of all slopes solved.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._validation import as_finite_array, distortion_matrix, probability_vector
from ..discrete import blahut_arimoto, rd_curve
from .model import FiniteTaskModel, Layer

__all__ = ["RateProblem", "RatePoints", "rate_problem", "certified_rates", "rate", "rate_x", "rate_y",
           "rate_xy", "rate_curve", "mutual_information", "stack_problems", "solve_padded"]

LN2 = math.log(2.0)


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
    (then ``rate`` is only the rate at ``distortion`` > D).
    """

    D: np.ndarray
    rate: np.ndarray
    lower: np.ndarray
    distortion: np.ndarray
    beta: np.ndarray
    q: np.ndarray
    bracketed: np.ndarray

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


def mutual_information(p, q) -> np.ndarray:
    r""":math:`I(X;\hat X)` in bits for sources ``p`` (..., n) and conditionals ``q`` (..., n, m)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    joint = p[..., :, None] * q
    r = joint.sum(-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(joint > 0, q / np.where(r > 0, r, 1.0), 1.0)
        terms = np.where(joint > 0, joint * np.log(ratio), 0.0)
    return np.maximum(terms.sum((-2, -1)) / LN2, 0.0)


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
        Cap on bisection steps (each one batched engine call over all B*K problems).
    max_iter : int
        Cap on engine iterations per solve (the returned gap says how far a problem got).
    beta_rtol : float, optional
        Also continue until the slope bracket satisfies ``beta_hi / beta_lo - 1 <= beta_rtol``
        (used by :mod:`~rdtheory.machines.optimal_sets`, which needs the optimal slope).

    Returns
    -------
    RatePoints with shapes ``(B, K)`` (or ``(K,)`` for a single problem).

    Each step solves every unfinished problem at the midpoint (in log beta) of its bracket,
    warm-started from the closer end; the certificate is recomputed from all solves.
    """
    single = np.asarray(p).ndim == 1
    p = probability_vector(np.atleast_2d(p), "p")
    d = distortion_matrix(d, "d", n=p.shape[-1])
    if d.ndim == 2:
        d = np.broadcast_to(d, (p.shape[0],) + d.shape)
    if d.ndim != 3 or d.shape[0] != p.shape[0]:
        raise ValueError(f"d must have shape (B, n, m) matching p (B, n); got p {p.shape}, d {d.shape}")
    B, n, m = d.shape
    D = as_finite_array(D, "D")
    if D.ndim == 0:
        D = np.full((B, 1), float(D))
    elif D.ndim == 1:
        D = np.broadcast_to(D[None, :], (B, D.shape[0]))
    if D.shape[0] != B:
        raise ValueError(f"D must have shape (B, K) with B={B} problems, (K,) or be a scalar; got {D.shape}")
    K = D.shape[1]
    P = B * K
    pp = np.repeat(p, K, axis=0)                # (P, n)
    dd = np.repeat(d, K, axis=0)                # (P, n, m)
    DD = D.reshape(P).astype(np.float64)
    dmin = np.einsum("pn,pn->p", pp, dd.min(-1))
    col = np.einsum("pn,pnm->pm", pp, dd)
    dmax = col.min(-1)
    scale = np.maximum(dmax - dmin, 1e-300)
    if np.any(DD < dmin - 1e-12 * scale):
        i = int(np.argmax(dmin - DD))
        raise ValueError(f"D={DD[i]:g} is below the minimum achievable distortion D_min={dmin[i]:.12g} of "
                         f"problem {i // K}; choose D >= D_min")
    zero = DD >= dmax
    # outputs
    rate = np.zeros(P)
    lower = np.zeros(P)
    dist = np.where(zero, dmax, DD)
    beta_out = np.zeros(P)
    bracketed = np.ones(P, dtype=bool)
    q_out = np.zeros((P, n, m))
    q_out[np.arange(P), :, np.argmin(col, -1)] = 1.0
    act = np.flatnonzero(~zero)
    if act.size:
        _bisect(pp[act], dd[act], DD[act], dmin[act], dmax[act], tol, max_steps, beta_rtol, max_iter,
                rate, lower, dist, beta_out, q_out, bracketed, act)
    shape = (B, K)
    out = RatePoints(D.astype(np.float64).reshape(shape), rate.reshape(shape), lower.reshape(shape),
                     dist.reshape(shape), beta_out.reshape(shape), q_out.reshape(shape + (n, m)),
                     bracketed.reshape(shape))
    if single:
        out = RatePoints(*(np.asarray(x)[0] for x in out))
    return out


def _bucket(k: int, least: int = 8) -> int:
    """Sizes are padded to powers of two so the engine compiles once per bucket, not per shape."""
    return max(least, 1 << (int(k) - 1).bit_length())


def solve_padded(p, d, beta, *, tol: float, init=None, method: str = "accelerated", max_iter: int = 100_000):
    r"""The engine's :func:`~rdtheory.discrete.blahut_arimoto` on a batch, padded to bucket shapes.

    ``p`` (P, n), ``d`` (P, n, m), ``beta`` (P,), ``init`` (P, m) or None. The batch is padded
    to a power of two (repeating the last problem), the source with zero-probability symbols
    and the reproductions with columns ``max_row d + 1`` — strictly worse than every real
    column in every row, so (merging such a column into any real one is a deterministic
    post-processing that lowers both rate and distortion) the padded problem has exactly the
    same R(D) and optimal codes. Compiling once per bucket instead of once per model shape
    is what makes many small, differently sized models cheap. Results are cropped back.
    """
    p = np.asarray(p, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    beta = np.broadcast_to(np.asarray(beta, dtype=np.float64), p.shape[:1])
    P0, n0, m0 = d.shape
    # identical columns (e.g. reproductions with the same task output) are solved once: moving
    # mass between copies changes neither rate nor distortion, and the interior-point rounds
    # of the engine stall on the resulting singular Hessian
    keep, rep_pos = [], []
    for i in range(P0):
        _, first, inv = np.unique(d[i].T, axis=0, return_index=True, return_inverse=True)
        k = np.sort(first)
        pos = np.empty(m0, dtype=np.int64)
        pos[k] = np.arange(k.size)
        keep.append(k)
        rep_pos.append(pos[first[np.ravel(inv)]])   # column c -> position of its representative
    mk = max(k.size for k in keep)
    P, n, m = _bucket(P0, 32), _bucket(n0), _bucket(mk)
    pp = np.zeros((P, n))
    pp[:P0, :n0] = p
    pp[P0:] = pp[P0 - 1]
    dd = np.zeros((P, n, m))
    ii = np.zeros((P, m))
    init = None if init is None else np.maximum(np.asarray(init, dtype=np.float64), 0.0)
    for i, k in enumerate(keep):
        dd[i, :n0, :k.size] = d[i][:, k]
        dd[i, :n0, k.size:] = d[i].max(-1, keepdims=True) + 1.0
        if init is None:
            ii[i, :k.size] = 1.0 / k.size
        else:   # the mass of every copy goes to its representative
            np.add.at(ii[i], rep_pos[i], init[i])
            if ii[i].sum() <= 0:
                ii[i, :k.size] = 1.0 / k.size
    dd[P0:] = dd[P0 - 1]
    ii[P0:] = ii[P0 - 1]
    bb = np.concatenate([beta, np.repeat(beta[-1:], P - P0)])
    res = blahut_arimoto(pp, dd, bb, tol=tol, init=ii, method=method, max_iter=max_iter)
    bad = ~(np.isfinite(res.r).all(-1) & np.isfinite(res.lower) & np.isfinite(res.distortion)
            & np.isfinite(res.intercept))
    if bad.any() and method == "accelerated":
        # engine issue (docs/machines.md): the accelerated method can return NaN from a warm
        # start; SQUAREM from the same start gives the same kind of certificate
        alt = blahut_arimoto(pp, dd, bb, tol=tol, init=ii, method="squarem", max_iter=max_iter)
        res = _where(bad, alt, res)
    if not (np.isfinite(res.r[:P0]).all() and np.isfinite(res.lower[:P0]).all()):
        raise RuntimeError("the R(D) engine returned non-finite values for some problems")
    q = np.zeros((P0, n0, m0))
    r = np.zeros((P0, m0))
    for i, k in enumerate(keep):
        q[i][:, k] = res.q[i, :n0, :k.size]
        r[i, k] = res.r[i, :k.size]
    return type(res)(res.rate[:P0], res.lower[:P0], res.distortion[:P0], res.beta[:P0], res.intercept[:P0],
                     q, r, res.iterations[:P0], res.newton_steps[:P0], res.converged[:P0])


def _bisect(p, d, D, dmin, dmax, tol, max_steps, beta_rtol, max_iter, rate, lower, dist, beta_out, q_out, bracketed, idx):
    P, n, m = d.shape
    excess = d - d.min(-1, keepdims=True)
    spread = np.einsum("pn,pn->p", p, excess.mean(-1))
    pos = np.where(excess > 0, excess, np.inf).min((-2, -1))
    pos = np.where(np.isfinite(pos), pos, 1.0)
    lo = np.log(0.1 / np.maximum(spread, 1e-300))
    hi = np.log(np.maximum(30.0 / pos, 10.0 * np.exp(lo)))
    tol_solve = tol / 4
    lines = np.zeros(P)  # best supporting line at D (bits), clipped at 0

    def solve(logb, init=None):
        if init is not None:
            # keep every reproduction alive: a warm start with ~1e-300 mass on a point that the
            # new slope needs costs the engine ~1e5 multiplicative steps (docs/machines.md)
            init = 0.99 * np.asarray(init) + 0.01 / m
        # a capped iteration count keeps one stubborn problem from holding up a vmapped batch;
        # the certificate holds for any iterate, and later steps are warm-started
        res = solve_padded(p, d, np.exp(logb), tol=tol_solve, init=init, max_iter=max_iter)
        np.maximum(lines, res.intercept - res.beta / LN2 * D, out=lines)
        return res

    ra = solve(lo)
    rb = solve(hi, init=ra.r)
    # expand the bracket where needed: a must have D_a >= D, b must have D_b <= D
    for _ in range(12):
        need_a = ra.distortion < D
        need_b = rb.distortion > D
        if not (need_a.any() or need_b.any()):
            break
        lo = np.where(need_a, lo - math.log(4.0), lo)
        hi = np.where(need_b, hi + math.log(4.0), hi)
        if need_a.any():
            new = solve(lo, init=ra.r)
            ra = _where(need_a, new, ra)
        if need_b.any():
            new = solve(hi, init=rb.r)
            rb = _where(need_b, new, rb)
    ok_b = rb.distortion <= D
    for step in range(max_steps + 1):
        lam = np.where(ra.distortion == rb.distortion, 1.0,
                       (ra.distortion - D) / np.where(ra.distortion == rb.distortion, 1.0, ra.distortion - rb.distortion))
        lam = np.clip(lam, 0.0, 1.0)
        q = lam[:, None, None] * rb.q + (1 - lam)[:, None, None] * ra.q
        up = mutual_information(p, q)
        done = (up - np.minimum(lines, up) <= tol) | ~ok_b
        if beta_rtol is not None:
            done &= (np.exp(hi - lo) - 1.0 <= beta_rtol) | ~ok_b
        if done.all() or step == max_steps:
            break
        mid = 0.5 * (lo + hi)
        closer_b = np.abs(rb.distortion - D) < np.abs(ra.distortion - D)
        init = np.where(closer_b[:, None], rb.r, ra.r)
        new = solve(mid, init=init)
        go_a = (new.distortion >= D) & ~done
        go_b = (new.distortion < D) & ~done
        ra = _where(go_a, new, ra)
        rb = _where(go_b, new, rb)
        lo = np.where(go_a, mid, lo)
        hi = np.where(go_b, mid, hi)
    rate[idx] = up
    lower[idx] = np.minimum(np.maximum(lines, 0.0), up)
    dist[idx] = np.einsum("pn,pnm->p", p, q * d)
    beta_out[idx] = np.where(lam >= 0.5, rb.beta, ra.beta)
    q_out[idx] = q
    bracketed[idx] = ok_b


def _where(mask, new, old):
    def pick(a, b):
        a, b = np.asarray(a), np.asarray(b)
        mk = mask.reshape(mask.shape + (1,) * (a.ndim - 1))
        return np.where(mk, a, b)
    return type(old)(*(pick(a, b) for a, b in zip(new, old)))


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
