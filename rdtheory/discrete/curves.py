r"""Whole R(D) curves and the two inverse problems, all with certified bounds.

- :func:`rd_curve` solves many slopes in one call (``vmap`` over chunks of slopes, each
  chunk warm-started from the previous one) and returns every point's certificate.
- :func:`rate_at_distortion` finds :math:`R(D)` at a requested distortion and
  :func:`distortion_at_rate` finds :math:`D(R)`: thin wrappers (one problem, one target)
  over :func:`~rdtheory.discrete.search.certified_search`, which owns the slope search and
  the certificate (time-sharing upper bound, supporting-line lower bound; Blahut 1972).

References
----------
R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE Trans.
Inf. Theory 18(4):460-473, 1972.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validation import as_finite_array, distortion_matrix, probability_vector
from ..info import LN2
from .config import SolverConfig, _check_config as _check_solver_args, warm_config
from .search import certified_search
from .solver import blahut_arimoto, solve_warm

AUTO_NEWTON_SIZES = SolverConfig.auto_newton_sizes

__all__ = ["RDCurve", "RDPoint", "rd_curve", "rate_at_distortion", "distortion_at_rate",
           "default_betas", "distortion_range"]


class RDCurve(NamedTuple):
    """Solutions at many slopes (arrays of shape (num,), sorted by increasing beta).

    rate / lower in bits, distortion in units of ``d``; ``intercept`` gives each point's
    supporting line (see :class:`~rdtheory.discrete.blahut_arimoto.BAResult`).
    """

    beta: np.ndarray
    rate: np.ndarray
    lower: np.ndarray
    distortion: np.ndarray
    intercept: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    q: np.ndarray | None = None   # (num, n, m) conditionals, with ``rd_curve(..., keep_q=True)``

    @property
    def gap(self) -> np.ndarray:
        return self.rate - self.lower

    def lower_envelope(self, D) -> np.ndarray:
        """Certified lower bound on R at any distortion(s) D: the best supporting line (bits)."""
        D = np.asarray(D, dtype=np.float64)
        lines = self.intercept[:, None] - (self.beta / LN2)[:, None] * D.reshape(1, -1)
        return np.maximum(lines.max(0), 0.0).reshape(D.shape)

    def to_frame(self):
        """The curve as a pandas DataFrame (columns carry units)."""
        import pandas as pd

        return pd.DataFrame({"beta_nats_per_unit": self.beta, "distortion": self.distortion,
                             "rate_bits": self.rate, "lower_bits": self.lower, "gap_bits": self.gap,
                             "iterations": self.iterations, "converged": self.converged})


class RDPoint(NamedTuple):
    """Certified value at one target: ``lower <= R(distortion) <= rate`` (bits).

    For :func:`distortion_at_rate`, ``distortion_lower <= D(target_rate) <= distortion``.
    ``q`` achieves ``(distortion, rate)`` exactly; ``beta`` is the slope of the closest
    solved point; ``solves`` counts Blahut–Arimoto solves used; ``converged``: the certified
    gap (bits, or units of distortion for :func:`distortion_at_rate`) is within ``tol``.
    """

    rate: float
    lower: float
    distortion: float
    distortion_lower: float
    beta: float
    q: np.ndarray
    solves: int
    converged: bool = True

    @property
    def gap(self) -> float:
        return self.rate - self.lower


def distortion_range(p, d) -> tuple[float, float]:
    r""":math:`(D_{\min}, D_{\max})`: :math:`D_{\min} = \sum_x p(x)\min_{\hat x} d(x,\hat x)` is the
    least achievable distortion and :math:`D_{\max} = \min_{\hat x}\sum_x p(x)d(x,\hat x)` the
    least distortion at rate 0 (R(D) = 0 for D >= D_max). ValueError on NaN/inf in ``p`` or
    ``d``, negative ``d`` or mismatched shapes."""
    p = as_finite_array(p, "p", ndim=1)  # not renormalised: callers see p bit for bit
    d = distortion_matrix(d, "d", n=p.shape[0])
    return float(p @ d.min(1)), float((p @ d).min())


def default_betas(p, d, num: int = 64) -> np.ndarray:
    r"""A geometric slope grid spanning the curve from near :math:`D_{\max}` to near :math:`D_{\min}`.

    From ``0.1 / spread`` (``spread`` = mean excess distortion of a uniform guess; the curve
    is flat there) to ``30 / δ`` (``δ`` = smallest positive excess distortion in a row, so
    :math:`e^{-βδ} < 10^{-13}` and the solution sits at :math:`D_{\min}`). ValueError on
    NaN/inf in ``p`` or ``d``, negative ``d``, mismatched shapes, or ``num`` < 1.
    """
    p = as_finite_array(p, "p", ndim=1)  # not renormalised: callers see p bit for bit
    d = distortion_matrix(d, "d", n=p.shape[0])
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num must be an integer >= 1 (number of slopes); got {num!r}")
    excess = d - d.min(1, keepdims=True)
    spread = float(p @ excess.mean(1))
    pos = excess[excess > 0]
    if spread <= 0 or pos.size == 0:
        raise ValueError("d is constant along every row: every reproduction is equally good, R(D) = 0")
    with np.errstate(over="ignore"):
        lo, hi = 0.1 / spread, 30.0 / float(pos.min())
    if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(10 * lo)):
        raise ValueError(f"d's smallest positive excess distortion ({float(pos.min()):.3g}) is too small "
                         f"for float64 slopes; multiply d by a constant (R(D) scales: R_cd(cD) = R_d(D))")
    return np.geomspace(lo, max(hi, 10 * lo), num)


def _validate(p, d):
    p = probability_vector(p, "p")
    if p.ndim != 1:
        raise ValueError(f"p must be one source distribution of shape (n,); got {p.shape} (batch with blahut_arimoto)")
    d = distortion_matrix(d, "d", n=p.shape[0])
    if d.ndim != 2:
        raise ValueError(f"d must be one (n, m) matrix; got shape {d.shape}")
    return p, d


def rd_curve(p, d, betas=None, *, num: int = 64, tol: float = 1e-7, method: str = "accelerated",
             chunk: int | None = None, progress: bool = False, dtype="float64",
             newton_size: int | str = "auto", max_iter: int = 100_000, keep_q: bool = False) -> RDCurve:
    """R(D) at many slopes, every point with its own certificate.

    With ``method="accelerated"`` and no ``chunk`` (the default) the slopes are solved one
    after the other in increasing order, each warm-started from its neighbour
    (:func:`_sequential`). Otherwise (another method, or an explicit ``chunk``) chunks of
    slopes are solved together by one ``vmap``, each chunk warm-started from the last.

    Parameters
    ----------
    p, d : source (n,) and distortion (n, m), as for :func:`blahut_arimoto`.
    betas : array, optional
        Slopes (nats per unit distortion, > 0). Default: :func:`default_betas` with ``num`` points.
    chunk : int, optional
        Slopes solved together by one ``vmap`` (for methods other than ``"accelerated"`` the
        default is as many as fit in ~256 MB of kernels).
    progress : bool
        Show a tqdm progress bar (over slopes, or over chunks).
    keep_q : bool
        Also return every point's conditional ``q`` (num, n, m), e.g. to evaluate another
        distortion under the R(D)-optimal codes (off by default: it is num * n * m floats).

    Returns
    -------
    RDCurve
        Sorted by increasing beta (decreasing distortion).
    """
    p, d = _validate(p, d)
    betas = default_betas(p, d, num) if betas is None else np.sort(as_finite_array(betas, "betas", ndim=1))
    if np.any(betas <= 0):
        raise ValueError("betas must all be > 0 (nats per unit distortion)")
    n, m = d.shape
    if method == "accelerated" and chunk is None:
        _check_solver_args(tol, max_iter, method, newton_size, dtype)
        parts = _sequential(p, d, betas, tol=tol, dtype=dtype, newton_size=newton_size, max_iter=max_iter,
                            progress=progress)
        return _as_curve(parts, keep_q)
    if chunk is None:
        chunk = int(max(1, min(len(betas), (256 << 20) // (8 * n * m))))
    parts, init = [], None
    starts = range(0, len(betas), chunk)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="rd_curve", unit="chunk")
    for s in starts:
        res = blahut_arimoto(p, d, betas[s:s + chunk], tol=tol, method=method, init=init, dtype=dtype,
                             newton_size=newton_size, max_iter=max_iter)
        parts.append(res)
        init = np.asarray(res.r[-1])
    return _as_curve(parts, keep_q)


def _as_curve(parts, keep_q: bool = False) -> RDCurve:
    """Concatenate solved points (scalars or chunks of :class:`BAResult`) into an RDCurve."""
    cat = lambda f: np.concatenate([np.atleast_1d(np.asarray(getattr(r, f))) for r in parts])
    q = np.concatenate([np.asarray(r.q).reshape((-1,) + np.shape(r.q)[-2:]) for r in parts]) if keep_q else None
    return RDCurve(beta=cat("beta"), rate=cat("rate"), lower=cat("lower"), distortion=cat("distortion"),
                   intercept=cat("intercept"), iterations=cat("iterations"), converged=cat("converged"), q=q)


#: a point counts as in the support of a solved r when it carries at least this share of
#: the mass of an average support point (warm starts and SQUAREM leave tiny mass everywhere)
SUPPORT_SHARE = 1e-3


def _support_size(r) -> int:
    """Number of reproduction points carrying non-negligible mass (sizes the next candidate set)."""
    r = np.asarray(r)
    s = max(int(np.sum(r > 0)), 1)
    return int(np.sum(r >= SUPPORT_SHARE / s))


def _candidate_sizes(newton_size, m: int) -> list[int]:
    if newton_size == "auto":
        return sorted({min(k, m) for k in AUTO_NEWTON_SIZES})
    return [int(min(newton_size, m))]


#: share of the candidate slots the previous support may fill before the next slope starts
#: at the next larger k
SIZE_UP_SHARE = 0.9


def _next_size_index(sizes, last: int, support: int) -> int:
    """Candidate-set size for the next slope: the one that certified the previous slope,
    one step smaller when the previous support fits it twice over, one step larger when the
    support fills more than ``SIZE_UP_SHARE`` of it (the slots hold the support and then the
    points that can enter; the support grows with beta, and a failed attempt at too small a
    k cost ~3 s at m = 1024), never more than one step at a time."""
    if last > 0 and sizes[last - 1] >= 2 * support + 32:
        return last - 1
    if last + 1 < len(sizes) and support > SIZE_UP_SHARE * sizes[last]:
        return last + 1
    return last


def _fits(res) -> bool:
    """A usable answer: converged and finite (the certificate itself is always valid)."""
    return bool(res.converged) and bool(np.isfinite(res.rate) and np.isfinite(res.lower)
                                        and np.all(np.isfinite(res.r)))


def _sequential(p, d, betas, *, tol, dtype, newton_size, max_iter, progress=False, trace=None):
    r"""Solve increasing slopes one after the other, each warm-started from its neighbour.

    Neighbouring slopes have nearly the same optimal output marginal, so each point starts
    from the previous point's ``r`` (:func:`~rdtheory.discrete.blahut_arimoto.solve_warm`:
    a 30-map SQUAREM warm-up instead of 600) with the candidate-set size that certified the
    previous point (:func:`_next_size_index`), not restarting the schedule at its smallest
    ``k``. If an attempt does not certify ``tol``, the same slope is retried warm with the next larger ``k`` (the largest with more rounds and a
    short SQUAREM tail, :func:`~rdtheory.discrete.blahut_arimoto.warm_config`); only if that
    fails too (or gives a non-finite result) does the full :func:`blahut_arimoto` (600-map
    warm-up, k schedule, SQUAREM to ``max_iter``, NaN safety net) decide, from a cold start; after
    that, the remaining slopes are solved cold too. Every returned point carries its own
    certificate, so the warm start only affects speed.

    ``trace``, if a list, receives one dict per slope (k tried, support size, iterations).
    """
    sizes = _candidate_sizes(newton_size, d.shape[1])
    r_prev = np.full(d.shape[1], 1.0 / d.shape[1])
    last = 0  # index of the k that certified the previous slope
    cold = False  # set once every warm attempt at a slope failed: later slopes start cold
    out = []
    slopes = betas
    if progress:
        from tqdm.auto import tqdm

        slopes = tqdm(betas, desc="rd_curve", unit="slope")
    for beta in slopes:
        supp = _support_size(r_prev)
        i = _next_size_index(sizes, last, supp)
        tried, iters, newton, res = [], 0, 0, None
        start = r_prev
        for k in ([] if cold else sizes[i:]):
            cfg = warm_config(k, d.shape[1], tol, final=k == sizes[-1], max_iter=max_iter)
            res = solve_warm(p, d, beta, start, cfg, dtype)
            tried.append(k)
            iters, newton = iters + int(res.iterations), newton + int(res.newton_steps)
            if _fits(res):
                last = sizes.index(k)
                break
            if np.all(np.isfinite(res.r)):
                start = res.r
        if res is None or not _fits(res):
            last = len(sizes) - 1
            # once warm starts fail they keep failing on the higher slopes (the 1024-cell
            # Gaussian from beta = 50 on: ~17 s of failed attempts per slope, ~1 s cold)
            cold = True
            # a cold start: from a failed attempt's iterate, and even from the neighbour's
            # solution, the warm-started steps can stall (seen on 96- and 512-point grids)
            # where the cold 600-map warm-up does not
            res = blahut_arimoto(p, d, beta, tol=tol, dtype=dtype, newton_size=newton_size,
                                 max_iter=max_iter)
            tried.append("full")
            iters, newton = iters + int(res.iterations), newton + int(res.newton_steps)
        res = res._replace(iterations=np.asarray(iters), newton_steps=np.asarray(newton))
        out.append(res)
        if trace is not None:
            trace.append({"beta": float(beta), "support_prev": supp, "k": tried, "iterations": iters,
                          "newton_steps": newton, "gap": float(res.gap)})
        if np.all(np.isfinite(res.r)) and np.sum(res.r) > 0:
            r_prev = np.asarray(res.r)
    return out


def _point(res) -> RDPoint:
    """The single answer of a B = K = 1 :class:`~rdtheory.discrete.search.SearchResult`."""
    f = lambda name: np.asarray(getattr(res, name))[0, 0]
    return RDPoint(float(f("rate")), float(f("lower")), float(f("distortion")), float(f("distortion_lower")),
                   float(f("beta")), f("q"), int(f("solves")), bool(f("converged")))


def rate_at_distortion(p, d, D: float, *, tol: float = 1e-7, max_solves: int = 60,
                       method: str = "accelerated", newton_size: int | str = "auto") -> RDPoint:
    r"""Certified :math:`R(D)` at a target distortion ``D`` (bits), ``lower <= R(D) <= rate``.

    :func:`~rdtheory.discrete.search.certified_search` for one problem and one target (see
    there for the certificate and the slope search). Raises ``ValueError`` if ``D`` is below
    the least achievable distortion :math:`D_{\min}`; for :math:`D \ge D_{\max}` the answer is
    exactly 0. ``converged`` is False (and an :class:`UnconvergedWarning` is issued) when the
    certified gap is above ``tol`` after ``max_solves`` solves.

    >>> import numpy as np
    >>> from rdtheory.discrete import hamming, closed_form
    >>> pt = rate_at_distortion([0.5, 0.5], hamming(2), 0.11)
    >>> bool(pt.lower - 1e-9 <= closed_form.binary_hamming(0.11) <= pt.rate + 1e-9)
    True

    References
    ----------
    R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE Trans.
    Inf. Theory 18(4):460-473, 1972.
    """
    p, d = _validate(p, d)
    D = float(as_finite_array(D, "D", ndim=0))
    return _point(certified_search(p, d, D, at="distortion", tol=tol, max_solves=max_solves, method=method,
                                   newton_size=newton_size))


def distortion_at_rate(p, d, R: float, *, tol: float | None = None, max_solves: int = 60,
                       method: str = "accelerated", newton_size: int | str = "auto") -> RDPoint:
    r"""Certified distortion-rate function :math:`D(R) = \min\{D : R(D) \le R\}`.

    Returns an :class:`RDPoint` with ``distortion_lower <= D(R) <= distortion`` and a ``q``
    achieving ``distortion`` at rate ``rate <= R``. ``tol`` is in units of distortion
    (default ``1e-7 * (D_max - D_min)``). ``R`` in bits, ``>= 0``. One problem and one target
    of :func:`~rdtheory.discrete.search.certified_search`.
    """
    p, d = _validate(p, d)
    R = float(as_finite_array(R, "R", ndim=0))
    if R < 0:
        raise ValueError(f"R must be >= 0 bits; got {R:g}")
    if tol is not None and not tol > 0:
        raise ValueError("tol must be > 0 (units of distortion)")
    return _point(certified_search(p, d, R, at="rate", tol=tol, max_solves=max_solves, method=method,
                                   newton_size=newton_size))
