r"""Certified value at a target distortion (or rate), for a batch of problems: one search.

:func:`certified_search` finds :math:`R(D)` at target distortions ``D`` (``at="distortion"``)
or :math:`D(R)` at target rates ``R`` (``at="rate"``) for a batch of problems ``p`` (B, n),
``d`` (B, n, m) and targets (B, K). It searches the slope β of
:func:`~rdtheory.discrete.blahut_arimoto` for every target at once: each step solves every
unfinished target in one batched call, warm-started from the closer end of its bracket.

**Certificate** (Blahut 1972, Thm. 2-3). Each solved slope gives an achievable point
:math:`(D_i, I_i)` (its ``q``) and a supporting line :math:`R(D) \ge a_i - s_i D`
(``intercept``, :math:`s_i = β_i/\ln 2` bits per unit distortion), valid for every D. For a
target between two solved distortions :math:`D_b \le D \le D_a`, the time-sharing mixture
:math:`q = λ q_b + (1-λ) q_a`, :math:`λ = (D_a - D)/(D_a - D_b)`, has distortion exactly D
and, mutual information being convex in the channel, :math:`I(p, q) \le λ I_b + (1-λ) I_a`;
the upper bound is the exact :math:`I(p, q)`. The lower bound is the best supporting line at
D over *all* slopes solved. For ``at="rate"`` the mixture is taken at rate R instead; its
distortion bounds D(R) from above and the lines give :math:`D(R) \ge (a_i - R)/s_i`.

**Slope update**: Illinois regula falsi in :math:`\log β` on the tracked value (distortion,
or rate), safeguarded by bisection whenever the bracket did not halve in two steps; with
``beta_rtol`` the search also continues until :math:`β_{hi}/β_{lo} - 1 \le` ``beta_rtol``
(the optimal slope itself, for :mod:`rdtheory.machines.optimal_sets`).

**Shapes**: the batch, source and reproduction sizes are padded to powers of two (zero-mass
symbols; reproduction columns ``max_row d + 1``, strictly worse than every real one, so R(D)
and the optimal codes are unchanged) so the engine compiles once per bucket, and identical
reproduction columns are solved once (moving mass between copies changes neither rate nor
distortion, and the engine's interior-point rounds stall on the singular Hessian).

**Failure rule** (the only one): a solve whose result is not finite is re-run with
``method="squarem"`` from the same start; if that is not finite either, the solve is
discarded (it moves no bracket and adds no line). Every answer carries ``converged``
(certified gap <= ``tol``); an :class:`UnconvergedWarning` lists the ones that are not.

References
----------
R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE Trans.
Inf. Theory 18(4):460-473, 1972.
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .._validation import as_finite_array, distortion_matrix, probability_vector
from ..info import LN2, _channel_mi_nats
from .solver import blahut_arimoto

__all__ = ["SearchResult", "UnconvergedWarning", "certified_search"]


class UnconvergedWarning(UserWarning):
    """A certified answer whose gap is above the requested ``tol`` (the bounds still hold)."""


class SearchResult(NamedTuple):
    """Certified answers at targets, every field of shape (B, K) (``q``: (B, K, n, m)).

    ``lower <= R(distortion) <= rate`` (bits) and ``distortion_lower <= D(target) <= distortion``
    for ``at="rate"`` (for ``at="distortion"``, ``distortion_lower == distortion``). ``q``
    achieves ``(distortion, rate)`` exactly. ``beta``: slope (nats per unit distortion) of the
    bracket end closer to the answer (0 at the zero-rate end). ``solves``: engine solves used.
    ``bracketed``: False where the target sat so close to the curve's end (D near D_min, or R
    at or above R(D_min)) that no solve reached past it; then ``distortion`` is the least one
    reached (``at="distortion"``). ``converged``: certified gap <= ``tol``.
    """

    target: np.ndarray
    rate: np.ndarray
    lower: np.ndarray
    distortion: np.ndarray
    distortion_lower: np.ndarray
    beta: np.ndarray
    q: np.ndarray
    solves: np.ndarray
    bracketed: np.ndarray
    converged: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """Certified error ``rate - lower`` (bits)."""
        return self.rate - self.lower


def _bucket(k: int, least: int = 1) -> int:
    return max(least, 1 << (int(k) - 1).bit_length())


class _Padded(NamedTuple):
    """The B problems deduplicated and padded once (the search solves subsets of them)."""

    p: np.ndarray         # (B, nb)
    d: np.ndarray         # (B, nb, mb)
    p0: np.ndarray        # (B, n) the problems as given
    d0: np.ndarray        # (B, n, m)
    kept: np.ndarray      # (B, m) bool: column is its own representative
    slot: np.ndarray      # (B, m) padded slot of each column's representative
    size: np.ndarray      # (B,) distinct columns


def _pad(p, d) -> _Padded:
    B, n, m = d.shape
    reps = [np.unique(d[i].T, axis=0, return_index=True, return_inverse=True)[1:] for i in range(B)]
    mk = max(first.size for first, _ in reps)
    nb, mb = _bucket(n, 8), _bucket(mk, 8)
    pp, dd = np.zeros((B, nb)), np.zeros((B, nb, mb))
    kept, slot, size = np.zeros((B, m), bool), np.zeros((B, m), np.int64), np.zeros(B, np.int64)
    for i, (first, inv) in enumerate(reps):
        k = np.sort(first)
        pos = np.empty(m, dtype=np.int64)
        pos[k] = np.arange(k.size)
        kept[i, k], slot[i], size[i] = True, pos[first[np.ravel(inv)]], k.size
        pp[i, :n] = p[i]
        dd[i, :n, :k.size] = d[i][:, k]
        dd[i, :n, k.size:] = d[i].max(-1, keepdims=True) + 1.0
    return _Padded(pp, dd, p, d, kept, slot, size)


class _Sol(NamedTuple):
    logb: np.ndarray
    rate: np.ndarray
    distortion: np.ndarray
    intercept: np.ndarray
    q: np.ndarray
    r: np.ndarray


#: lanes of a batch are padded to at least this many when a lane is small (<= SMALL_LANE
#: cells): there compile time (~15 s per batch shape) dominates, and every search with up to
#: MIN_LANES targets shares one program
MIN_LANES, SMALL_LANE = 32, 4096


def _lanes(targets: int, pad: _Padded) -> int:
    """The one batch size of every solve of a search: the active targets shrink as they
    finish, but each new batch shape would compile anew, so the rest is padded with repeats."""
    small = pad.d.shape[1] * pad.d.shape[2] <= SMALL_LANE
    return 1 if targets == 1 else _bucket(targets, MIN_LANES if small else 1)


def _solve(pad: _Padded, prob, logb, init, *, lanes, tol, n, m, kw) -> tuple[_Sol, np.ndarray]:
    """Solve problems ``prob`` (indices into B) at slopes ``exp(logb)`` in a batch of ``lanes``;
    returns the cropped solutions and a mask of the finite ones (the module's failure rule)."""
    S = prob.size
    P = lanes
    idx = np.r_[prob, np.repeat(prob[-1:], P - S)]
    mb = pad.d.shape[-1]
    ii = np.zeros((P, mb))
    if init is None:
        ii[np.arange(P)[:, None], np.arange(mb)[None, :]] = np.arange(mb)[None, :] < pad.size[idx][:, None]
    else:
        # keep every reproduction alive: a warm start with ~1e-300 mass on a point the new slope
        # needs costs the engine ~1e5 multiplicative steps (docs/machines.md)
        init = 0.99 * np.maximum(init, 0.0) + 0.01 / m
        np.add.at(ii, (np.arange(S)[:, None], pad.slot[prob]), init)
        ii[S:] = ii[S - 1]
    ii /= ii.sum(-1, keepdims=True)
    beta = np.exp(np.r_[logb, np.repeat(logb[-1:], P - S)])
    res = _engine(pad.p[idx], pad.d[idx], beta, ii, tol, kw)
    fields = lambda r: (r.rate, r.distortion, r.intercept, r.lower)
    finite = lambda r: np.isfinite(np.asarray(r.r)).all(-1) & np.all([np.isfinite(np.asarray(f)) for f in fields(r)], 0)
    ok = finite(res)
    if not ok.all() and kw.get("method", "accelerated") == "accelerated":
        alt = _engine(pad.p[idx], pad.d[idx], beta, ii, tol, {**kw, "method": "squarem"})
        use = ~ok & finite(alt)
        res = type(res)(*(np.where(use.reshape((-1,) + (1,) * (np.ndim(a) - 1)), np.asarray(a), np.asarray(b))
                          for a, b in zip(alt, res)))
        ok = ok | use
    kept, slot = pad.kept[prob], pad.slot[prob]
    q = np.where(kept[:, None, :], np.take_along_axis(np.asarray(res.q)[:S, :n, :], slot[:, None, :], -1), 0.0)
    r = np.where(kept, np.take_along_axis(np.asarray(res.r)[:S], slot, -1), 0.0)
    # the padding columns keep ~1e-10 of mass: drop it and renormalise, and take rate and
    # distortion of this q exactly (else the time-sharing mixture misses D by ~1e-8)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = q / q.sum(-1, keepdims=True)
    p, d = pad.p0[prob], pad.d0[prob]
    rate = _channel_mi_nats(p, q) / LN2
    sol = _Sol(np.asarray(logb, float), rate, np.einsum("sn,snm->s", p, q * d), np.asarray(res.intercept)[:S], q, r)
    return sol, ok[:S] & np.isfinite(rate) & np.isfinite(q).all((-2, -1))


def _engine(p, d, beta, init, tol, kw):
    """The engine on a batch; a batch of one is solved unbatched (measured: the batched
    program costs ~2x per warm solve at n = m = 256, 0.05 s vs 0.02-0.045 s)."""
    if beta.size > 1:
        return blahut_arimoto(p, d, beta, tol=tol, init=init, **kw)
    res = blahut_arimoto(p[0], d[0], float(beta[0]), tol=tol, init=init[0], **kw)
    return type(res)(*(np.asarray(f)[None] for f in res))


def _take(sol: _Sol, i) -> _Sol:
    return _Sol(*(np.asarray(f)[i] for f in sol))


def _put(dst: _Sol, i, src: _Sol, mask=None) -> None:
    """dst[i] = src (where ``mask``), in place."""
    for a, b in zip(dst, src):
        if mask is None:
            a[i] = b
        else:
            a[i[mask]] = b[mask]


def _first_probe(pp, dd) -> np.ndarray:
    """Log slope between the flat end (0.1 / mean excess distortion) and the D_min end
    (30 / least positive excess distortion) of the curve, per problem."""
    excess = dd - dd.min(-1, keepdims=True)
    spread = np.einsum("pn,pn->p", pp, excess.mean(-1))
    pos = np.where(excess > 0, excess, np.inf).min((-2, -1))
    pos = np.where(np.isfinite(pos), pos, 1.0)
    lo = np.log(0.1 / np.maximum(spread, 1e-300))
    hi = np.log(np.maximum(30.0 / pos, 10.0 * np.exp(lo)))
    return 0.5 * (lo + hi)


#: bracket expansion factor in beta, and the cap on expansions per target (4**16 ~ 4e9: the
#: first probe already sits between the flat end and the D_min end of the curve)
EXPAND, MAX_EXPAND = math.log(4.0), 16


def certified_search(p, d, target, *, at: str = "distortion", tol: float | None = None, max_solves: int = 60,
                     beta_rtol: float | None = None, max_iter: int = 100_000, method: str = "accelerated",
                     newton_size: int | str = "auto", warn: bool = True) -> SearchResult:
    r"""Certified :math:`R(D)` at target distortions, or :math:`D(R)` at target rates (bits).

    Parameters
    ----------
    p : array (B, n) or (n,)
        Source distributions.
    d : array (B, n, m) or (n, m)
        Distortion matrices (one shape for the batch; a single matrix is shared).
    target : array (B, K), (K,) or scalar
        Target distortions (units of ``d``, >= D_min) or rates (bits, >= 0), per problem.
    at : {"distortion", "rate"}
        What the targets are.
    tol : float, optional
        Requested certified gap: bits for ``at="distortion"`` (default 1e-7), units of
        distortion for ``at="rate"`` (default ``1e-7 (D_max - D_min)``).
    max_solves : int
        Cap on engine solves per target (bracket and refinement together).
    beta_rtol : float, optional
        Also continue until the slope bracket has ``beta_hi / beta_lo - 1 <= beta_rtol``.
    max_iter, method, newton_size
        Passed to :func:`~rdtheory.discrete.blahut_arimoto`; the certificate holds for any
        iterate, so ``max_iter`` only trades speed for gap.
    warn : bool
        Issue an :class:`UnconvergedWarning` when some answer's gap is above ``tol``.

    Returns
    -------
    A :class:`SearchResult` of shape (B, K).

    Examples
    --------
    >>> from rdtheory.discrete import hamming, closed_form
    >>> res = certified_search([0.5, 0.5], hamming(2), [0.11, 0.25])
    >>> res.rate.shape
    (1, 2)
    >>> exact = closed_form.binary_hamming(0.11)
    >>> bool(res.lower[0, 0] - 1e-9 <= exact <= res.rate[0, 0] + 1e-9 and res.converged.all())
    True

    References
    ----------
    R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE
    Trans. Inf. Theory 18(4):460-473, 1972.
    """
    if at not in ("distortion", "rate"):
        raise ValueError(f"at must be 'distortion' or 'rate'; got {at!r}")
    p = probability_vector(np.atleast_2d(p), "p")
    d = distortion_matrix(d, "d", n=p.shape[-1])
    if d.ndim == 2:
        d = np.broadcast_to(d, (p.shape[0],) + d.shape)
    if d.ndim != 3 or d.shape[0] != p.shape[0]:
        raise ValueError(f"d must have shape (B, n, m) matching p (B, n); got p {p.shape}, d {d.shape}")
    B, n, m = d.shape
    t = as_finite_array(target, "target")
    if t.ndim <= 1:
        t = np.broadcast_to(t.reshape(1, -1), (B, t.size))
    if t.ndim != 2 or t.shape[0] != B:
        raise ValueError(f"target must have shape (B, K) with B={B} problems, (K,) or be a scalar; got {t.shape}")
    if int(max_solves) != max_solves or max_solves < 1:
        raise ValueError(f"max_solves must be a positive integer; got {max_solves!r}")
    K = t.shape[1]
    col = np.einsum("bn,bnm->bm", p, d)
    dmin, dmax = np.einsum("bn,bn->b", p, d.min(-1)), col.min(-1)
    if at == "distortion":
        tol = 1e-7 if tol is None else float(tol)
        low = t < (dmin - 1e-12 * np.maximum(dmax - dmin, 1e-300))[:, None]
        if low.any():
            b, k = np.argwhere(low)[0]
            raise ValueError(f"D={t[b, k]:g} is below the minimum achievable distortion D_min={dmin[b]:.12g} "
                             f"(sum_x p(x) min_xhat d(x, xhat)) of problem {b}; choose D >= D_min")
        trivial = t >= dmax[:, None]
    else:
        if np.any(t < 0):
            raise ValueError(f"R must be >= 0 bits; got {t[t < 0].ravel()[:3].tolist()}")
        trivial = (t == 0) | (dmax <= dmin)[:, None]
    if not (tol is None or tol > 0):
        raise ValueError(f"tol must be > 0; got {tol!r}")
    if not (beta_rtol is None or beta_rtol > 0):
        raise ValueError(f"beta_rtol must be > 0 (relative width of the slope bracket) or None; got {beta_rtol!r}")
    default_tol = 1e-7 * np.maximum(dmax - dmin, 1e-300)[:, None]   # at="rate": units of distortion
    tols = np.full((B, K), tol) if tol is not None else np.broadcast_to(default_tol, (B, K))
    # the zero-rate answer: every x to the best single reproduction (D_max, rate 0), exact
    q0 = np.zeros((B, n, m))
    q0[np.arange(B), :, np.argmin(col, -1)] = 1.0
    shape = (B, K)
    out = dict(target=t.astype(np.float64).copy(), rate=np.zeros(shape), lower=np.zeros(shape),
               distortion=np.broadcast_to(dmax[:, None], shape).copy(),
               distortion_lower=np.broadcast_to(dmax[:, None], shape).copy(), beta=np.zeros(shape),
               q=np.broadcast_to(q0[:, None], (B, K, n, m)).copy(), solves=np.zeros(shape, np.int64),
               bracketed=np.ones(shape, bool), converged=np.ones(shape, bool))
    if at == "rate":   # R > 0 with D_max == D_min: D(R) = D_min = D_max
        out["distortion_lower"] = np.where(t == 0, dmax[:, None], dmin[:, None])
    act = np.flatnonzero(~trivial.ravel())
    if act.size:
        tol_solve = tol / 4 if at == "distortion" else 1e-9
        kw = dict(max_iter=int(max_iter), method=method, newton_size=newton_size)
        res = _search(_pad(p, d), act // K, t.ravel()[act], at, tols.ravel()[act], int(max_solves), beta_rtol,
                      dmin[act // K], dmax[act // K], col[act // K], p[act // K], d[act // K], tol_solve, kw)
        for key, val in res.items():
            out[key].reshape((B * K,) + out[key].shape[2:])[act] = val
    result = SearchResult(**out)
    if warn and not result.converged.all():
        bad = np.argwhere(~result.converged)
        err = result.gap if at == "distortion" else result.distortion - result.distortion_lower
        worst = float(np.max(np.where(result.converged, -np.inf, err)))
        warnings.warn(UnconvergedWarning(
            f"{len(bad)} of {B * K} certified answers did not reach tol={tol if tol is not None else 'default'} "
            f"(worst certified gap {worst:.3g} {'bits' if at == 'distortion' else 'units of distortion'}; first at "
            f"problem {bad[0][0]}, target {bad[0][1]}); the bounds still hold. Raise max_solves/max_iter "
            f"or loosen tol"),
            stacklevel=2)
    return result


def _search(pad, prob, t, at, tols, max_solves, beta_rtol, dmin, dmax, col, p, d, tol_solve, kw) -> dict:
    """The batched bracket-and-refine loop over the non-trivial targets (P of them, flattened)."""
    P, n, m = prob.size, d.shape[1], d.shape[2]
    lanes = _lanes(P, pad)
    solve = lambda i, logb, init: _solve(pad, prob[i], logb, init, lanes=lanes, tol=tol_solve, n=n, m=m, kw=kw)
    sign = -1.0 if at == "distortion" else 1.0   # tracked value v increases with beta
    val = lambda s: sign * (s.distortion if at == "distortion" else s.rate)
    tv = sign * t
    # bracket ends: a (low beta, v <= t), b (high beta, v > t). ``a`` starts at the exact
    # zero-rate point (beta -> 0); ``has_b`` marks where a solve has reached past the target.
    zero_q = np.zeros((P, n, m))
    zero_q[np.arange(P), :, np.argmin(col, -1)] = 1.0
    a = _Sol(np.full(P, -np.inf), np.zeros(P), dmax.copy(), np.zeros(P), zero_q, zero_q[:, 0, :].copy())
    b = _Sol(np.full(P, np.inf), np.full(P, np.nan), np.full(P, np.nan), np.zeros(P), zero_q.copy(),
             zero_q[:, 0, :].copy())
    has_a, has_b = np.zeros(P, bool), np.zeros(P, bool)   # a solve (not the zero-rate end) is there
    solves = np.zeros(P, np.int64)
    lines_i, lines_s = [], []   # every certified supporting line: intercept (bits), slope (bits/unit)

    def record(i, s, ok):
        solves[i] += 1
        li, ls = np.full(P, -np.inf), np.zeros(P)
        li[i[ok]], ls[i[ok]] = s.intercept[ok], np.exp(s.logb[ok]) / LN2
        lines_i.append(li)
        lines_s.append(ls)
        go_a = ok & (val(s) <= tv[i])
        go_b = ok & ~go_a
        _put(a, i, s, go_a)
        _put(b, i, s, go_b)
        has_a[i[go_a]] = True
        has_b[i[go_b]] = True
        return go_a, go_b

    # 1. bracket: one probe per target mid-curve, then steps of x4 outwards until the
    # target lies between two solves, each warm-started from the solve it steps from
    i = np.arange(P)
    s, ok = solve(i, _first_probe(p, d), None)
    record(i, s, ok)
    last = s.logb.copy()
    for _ in range(MAX_EXPAND):
        i = np.flatnonzero((~has_a | ~has_b) & (solves < max_solves))
        if not i.size:
            break
        up = ~has_b[i]
        logb = np.where(up, np.where(has_a[i], a.logb[i], last[i]) + EXPAND,
                        np.where(has_b[i], b.logb[i], last[i]) - EXPAND)
        s, ok = solve(i, logb, np.where(up[:, None], a.r[i], b.r[i]))
        last[i] = logb
        record(i, s, ok)
    # 2. refine: Illinois regula falsi in log beta, bisection when the bracket stalls
    width = lambda: np.where(has_a & has_b, b.logb - np.where(has_a, a.logb, b.logb), np.inf)
    hist = [np.full(P, np.inf), np.full(P, np.inf)]
    moved = np.zeros(P, np.int8)  # 1: a moved last, 2: b moved last, 0: none
    stale = np.zeros(P, np.int8)  # the end retained twice in a row (its f is halved)
    while True:
        ans = _answer(a, b, has_a, has_b, at, t, p, d, dmin, lines_i, lines_s)
        done = ans["err"] <= tols
        if beta_rtol is not None:
            done &= np.expm1(width()) <= beta_rtol
        done |= ~has_b | (solves >= max_solves)
        i = np.flatnonzero(~done)
        if not i.size:
            break
        la, lb = a.logb[i], b.logb[i]
        la = np.where(np.isfinite(la), la, lb - EXPAND)  # ``a`` still the zero-rate end: step below b
        fa = (val(_take(a, i)) - tv[i]) * np.where(stale[i] == 1, 0.5, 1.0)
        fb = (val(_take(b, i)) - tv[i]) * np.where(stale[i] == 2, 0.5, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = lb - fb * (lb - la) / (fb - fa)
        w = lb - la
        bisect = ~((x > la) & (x < lb)) | (w > 0.5 * hist[0][i])
        x = np.where(bisect, 0.5 * (la + lb), x)
        init = np.where((np.abs(fa) < np.abs(fb))[:, None] & has_a[i][:, None], a.r[i], b.r[i])
        hist = [hist[1], width()]
        s, ok = solve(i, x, init)
        go_a, go_b = record(i, s, ok)
        now = np.where(go_a, 1, np.where(go_b, 2, 0)).astype(np.int8)
        stale[i] = np.where((now != 0) & (now == moved[i]), 3 - now, 0)
        moved[i] = now
    return _final(ans, a, b, has_a, has_b, solves, tols)


def _answer(a, b, has_a, has_b, at, t, p, d, dmin, lines_i, lines_s) -> dict:
    """The certified answer from the current bracket (see the module docstring)."""
    key_a, key_b = (a.distortion, b.distortion) if at == "distortion" else (a.rate, b.rate)
    den = key_a - key_b
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(den != 0, (key_a - t) / np.where(den != 0, den, 1.0), 1.0)
    # unbracketed (no b): the solve that reached furthest, at its own distortion
    lam = np.where(has_b, np.clip(lam, 0.0, 1.0), 0.0)
    q = lam[:, None, None] * b.q + (1 - lam)[:, None, None] * a.q
    rate = _channel_mi_nats(p, q) / LN2
    dist = np.einsum("pn,pnm->p", p, q * d)
    li, ls = np.stack(lines_i), np.stack(lines_s)
    lower = np.minimum(np.maximum((li - ls * dist).max(0), 0.0), rate)
    if at == "distortion":
        dist_lower, err = dist, rate - lower
    else:   # where each line meets R, and D_min: D(R) lies above both
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = np.where(ls > 0, (li - t) / np.where(ls > 0, ls, 1.0), -np.inf)
        dist_lower = np.minimum(np.maximum(cross.max(0), dmin), dist)
        err = dist - dist_lower
    return dict(rate=rate, lower=lower, distortion=dist, distortion_lower=dist_lower, q=q, lam=lam, err=err)


def _final(ans, a, b, has_a, has_b, solves, tols) -> dict:
    beta = np.exp(np.where(ans["lam"] >= 0.5, b.logb, a.logb))
    return dict(rate=ans["rate"], lower=ans["lower"], distortion=ans["distortion"],
                distortion_lower=ans["distortion_lower"], beta=np.where(np.isfinite(beta), beta, 0.0), q=ans["q"],
                solves=solves, bracketed=has_b.copy(), converged=(ans["err"] <= tols) & (has_a | has_b))
