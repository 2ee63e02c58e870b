r"""R(D) on point sets whose kernel does not fit in memory: :func:`rd_points` and the tiled solver.

Plug-in R(D) on samples (paper Eq. 2 with the empirical source) needs the ``n x m`` kernel
:math:`e^{-\beta d(x_i,\hat x_j)}`; at :math:`n = m = 10^5` that is :math:`10^{10}` entries.
:func:`blahut_arimoto_points` never forms it: it takes the source points ``x (n, k)``, the
reproduction points ``x_hat (m, k)`` and a point distortion
(:mod:`~rdtheory.discrete.point_distortions`), and each BA map recomputes the kernel one
strip of rows at a time (:mod:`~rdtheory.discrete.tiles`: log-sum-exp by tiles). It runs

1. the BA map of Eq. 2 with SQUAREM (:func:`~rdtheory.discrete.ba_map.squarem_round_fn`,
   the dense engine's rounds with the tiled map plugged in, same safeguard on
   :math:`\Phi`);
2. certified elimination before every round (:func:`~rdtheory.discrete.tiles.eliminate`);
   between compiled stages the active set is **compacted** (when at most
   :data:`COMPACT_BELOW` of the current width is alive) to a width that is a multiple of
   :data:`COLUMN_QUANTUM`, so eliminated points cost nothing afterwards;
3. Blahut's certificate recomputed from scratch at the end
   (:func:`~rdtheory.discrete.tiles.evaluate`): :math:`\log Z` over the active points,
   :math:`\max\log c` over **all** ``m`` points, so ``lower <= R(distortion) <= rate`` holds
   whatever the iteration did.

``devices=`` spreads the strips of source rows over devices with ``jax.shard_map``: each
device sums its strips and ``lax.psum`` adds the column sums, so the iterate is replicated.

:func:`rd_points` is the one entry point: it builds the dense matrix and calls
:func:`~rdtheory.discrete.solver.blahut_arimoto` (with its Newton steps) when
``n * m <= DENSE_MAX_ENTRIES``, and the tiled solver otherwise. Both return a
:class:`PointsResult` (bits).

References
----------
.. [1] R. E. Blahut, "Computation of channel capacity and rate-distortion functions",
   IEEE Trans. Inf. Theory 18(4):460-473, 1972.
.. [2] R. Varadhan and C. Roland, "Simple and globally convergent methods for accelerating
   the convergence of any EM algorithm", Scand. J. Stat. 35(2):335-353, 2008 (SQUAREM).
.. [3] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Eq. 2).

Example
-------
>>> import numpy as np
>>> from rdtheory.discrete import rd_points
>>> x = np.random.default_rng(0).standard_normal((100, 2))
>>> res = rd_points(x, beta=2.0, path="tiled", tol=1e-5)
>>> bool(res.lower <= res.rate <= res.lower + 1e-5)
True
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple, Sequence

import numpy as np
import jax
import jax.numpy as jnp
from jax import lax

from .._validation import as_finite_array, as_samples, positive, probability_vector
from . import tiles
from .ba_map import squarem_round_fn
from .certificate import _State, _normalise
from .config import LN2, SolverConfig, _check_config
from .point_distortions import check_point_distortion, dense_matrix
from .solver import _check_devices, _warm_theta, blahut_arimoto

__all__ = ["rd_points", "blahut_arimoto_points", "PointsResult", "DENSE_MAX_ENTRIES", "TILE_ENTRIES"]

#: ``rd_points`` uses the dense engine when ``n * m`` is at most this (a 32 MB float64
#: matrix). Reason: the dense engine holds the kernel and adds Newton steps, while the tiled
#: solver recomputes every kernel entry at every map (600 Gaussian points in 2-d: dense 0.4-4 s
#: to 1e-7 bits, SQUAREM-only tiled 40-400 s); the crossover against the tiled solver with its
#: hand-over was not measured, and above ~4096^2 the dense engine's memory passes 2 GB.
DENSE_MAX_ENTRIES = 1 << 22
#: default kernel entries per tile (rows per strip = TILE_ENTRIES // active width): a
#: 32 MB float64 tile, a few of them live at once, so a solve stays well under 1 GB
TILE_ENTRIES = 1 << 22
#: rounds (elimination + ``SolverConfig.round_len`` SQUAREM maps) per compiled stage,
#: between the checks that compact the active set
STAGE_ROUNDS = 2
#: compact the active set when at most this share of the current width is alive
COMPACT_BELOW = 0.5
#: widths after compaction are multiples of this, so few shapes are compiled
COLUMN_QUANTUM = 128
#: the tiled solver hands the reduced problem (source x the points still alive) to the
#: dense engine once ``n * alive`` is at most this (a 128 MB matrix): SQUAREM alone is
#: sublinear near the optimum (on 600 Gaussian points in 2-d it stalls at ~1e-6 bits after
#: 1e5 maps), while the dense engine's Newton steps certify 1e-7 in a few hundred maps.
#: Elimination is certified, so the reduced problem has the same optimum.
REDUCED_MAX_ENTRIES = 1 << 24
#: the tiled solver tries column generation (:func:`_column_generation`) once its gap is
#: below each of these (nats), each once
CG_START_NATS = (1e-2, 1e-4, 1e-6)
#: restricted problems per column-generation attempt
CG_ROUNDS = 4
#: accepted values of ``path``
PATHS = ("auto", "dense", "tiled")


class PointsResult(NamedTuple):
    """R(D) of a point source at slope(s) ``beta`` (fields carry the batch shape of ``beta``).

    rate, lower:  ``lower <= R(distortion) <= rate`` in bits (Blahut's certificate).
    distortion:   :math:`\\mathbb E\\,d(X, \\hat X)` of the returned channel (units of ``d``).
    beta:         slope, nats per unit distortion.
    intercept:    :math:`R(D') \\ge` ``intercept - beta/ln2 * D'`` for every D' (bits).
    r:            (m,) output marginal over ``x_hat`` (the channel is
                  :math:`q(\\hat x|x) \\propto r(\\hat x)e^{-\\beta d(x,\\hat x)}`).
    iterations:   BA map evaluations.
    converged:    ``rate - lower <= tol``.
    active:       reproduction points not certified unused at the end (``m`` on the dense path).
    path:         ``"dense"`` or ``"tiled"``.
    """

    rate: np.ndarray
    lower: np.ndarray
    distortion: np.ndarray
    beta: np.ndarray
    intercept: np.ndarray
    r: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    active: np.ndarray
    path: str

    @property
    def gap(self):
        """Certified error ``rate - lower`` (bits)."""
        return self.rate - self.lower

    def lower_bound_at(self, distortion):
        """Certified lower bound on R at any other distortion, from the supporting line (bits)."""
        return self.intercept - self.beta / LN2 * distortion


# --------------------------------------------------------------------------------------
# compiled pieces (jit, optionally shard_map over the strips)
# --------------------------------------------------------------------------------------

def _stage(xs, ps, xh, alive, theta, it, gap, beta, *, fn, cfg, axis):
    """Up to STAGE_ROUNDS rounds of [eliminate, SQUAREM round]; returns (theta, alive, it, gap).
    The row shifts of the tiles are recomputed only when ``alive`` changes (once a round)."""
    data = (xs, ps, xh, beta, fn, axis)

    def cond(c):
        rnd, st, _ = c
        return (rnd < STAGE_ROUNDS) & (st.gap > cfg.tol_nats) & (st.it < cfg.max_iter)

    def body(c):
        rnd, st, shift = c
        keep = tiles.eliminate(st.theta, st.alive, *data, shift)
        st = st._replace(alive=keep, theta=_normalise(st.theta, keep))
        shift = tiles.row_shift(keep, xs, xh, beta, fn)
        st = squarem_round_fn(st, lambda t, a: tiles.ba_map(t, a, *data, shift), cfg)
        return rnd + 1, st, shift

    s = _State(theta, alive, it, jnp.asarray(0), gap)
    _, s, _ = lax.while_loop(cond, body, (0, s, tiles.row_shift(alive, xs, xh, beta, fn)))
    return s.theta, s.alive, s.it, s.gap


def _evaluate(xs, ps, xh, alive, theta, xh_all, beta, *, fn, axis):
    return tiles.evaluate(theta, alive, xs, ps, xh, xh_all, beta, fn, axis)


def _stats(xs, xh, *, fn, axis):
    return tiles.distortion_stats(xs, xh, fn, axis)


@functools.lru_cache(maxsize=32)
def _compiled(kind: str, fn, cfg, devices: tuple | None):
    """jit (and shard_map over ``devices``: strips split, everything else replicated)."""
    axis = None if devices is None else "rows"
    if kind == "stage":
        body, nargs = functools.partial(_stage, fn=fn, cfg=cfg, axis=axis), 8
    elif kind == "evaluate":
        body, nargs = functools.partial(_evaluate, fn=fn, axis=axis), 7
    else:
        body, nargs = functools.partial(_stats, fn=fn, axis=axis), 2
    if devices is not None:
        from jax.sharding import Mesh, PartitionSpec as P

        sharded = 1 if kind == "stats" else 2
        specs = tuple(P("rows") if i < sharded else P() for i in range(nargs))
        body = jax.shard_map(body, mesh=Mesh(np.array(devices), ("rows",)), in_specs=specs,
                             out_specs=P(), check_vma=False)
    return jax.jit(body)


# --------------------------------------------------------------------------------------
# host-side driver: layout, compaction, one slope
# --------------------------------------------------------------------------------------

def _rows(width: int, n: int, ndev: int, tile_rows: int | None) -> int:
    """Rows per strip: ``tile_rows``, else TILE_ENTRIES // width, at most a device's share."""
    rows = tile_rows if tile_rows is not None else max(1, TILE_ENTRIES // max(width, 1))
    return int(max(1, min(rows, -(-n // ndev))))


def _strips(x, p, rows: int, ndev: int):
    """``x (n, k)``, ``p (n,)`` as strips ``(S, rows, k)``, ``(S, rows)``; S a multiple of ndev.
    Padding rows repeat ``x[0]`` (finite distortions) with weight 0."""
    per = rows * ndev
    pad = (-len(x)) % per
    xp = np.concatenate([x, np.repeat(x[:1], pad, axis=0)])
    pp = np.concatenate([p, np.zeros(pad)])
    return xp.reshape(-1, rows, x.shape[1]), pp.reshape(-1, rows)


def _compact(cols, alive, theta):
    """Keep the alive columns, padded (dead, copies of the first) to a multiple of COLUMN_QUANTUM."""
    keep = np.flatnonzero(alive)
    width = min(len(cols), -(-len(keep) // COLUMN_QUANTUM) * COLUMN_QUANTUM)
    pad = width - len(keep)
    cols = np.concatenate([cols[keep], np.repeat(cols[keep[:1]], pad)])
    alive = np.concatenate([np.ones(len(keep), bool), np.zeros(pad, bool)])
    return cols, alive, np.concatenate([theta[keep], np.zeros(pad)])


def _reduced(x, p, x_hat, beta, fn, cfg, keep, theta, it, tol):
    """The dense engine on the points ``keep`` (warm start ``exp(theta)``); (log r, maps)."""
    d = dense_matrix(fn, x, x_hat[keep])
    init = np.exp(theta - np.max(theta))
    res = blahut_arimoto(p, d, beta, tol=tol, max_iter=max(1, cfg.max_iter - it), init=init)
    with np.errstate(divide="ignore"):
        return np.log(res.r), int(res.iterations)


def _certify(x, p, x_hat, beta, fn, cfg, cols, alive, theta, it, tile_rows, devices):
    """The certificate of ``r = exp(theta)`` on ``cols`` (tiled, from scratch): (result, log c (m,))."""
    ndev = 1 if devices is None else len(devices)
    n, m = len(x), len(x_hat)
    cols, alive, theta = _compact(cols, alive, np.where(alive, theta, 0.0))
    xs, ps = _strips(x, p, _rows(m, n, ndev, tile_rows), ndev)
    rate, intercept, dist, r_out, log_c = (np.asarray(v) for v in _compiled("evaluate", fn, None, devices)(
        xs, ps, x_hat[cols], alive, theta, x_hat, beta))
    r = np.zeros(m)
    r[cols[alive]] = r_out[alive]
    rate_bits = max(float(rate), 0.0) / LN2
    lower = max((float(intercept) - beta * float(dist)) / LN2, 0.0)
    return dict(rate=rate_bits, lower=lower, distortion=float(dist), beta=beta, intercept=float(intercept) / LN2,
                r=r, iterations=it, converged=rate_bits - lower <= cfg.tol, active=int(alive.sum())), log_c


def _column_generation(x, p, x_hat, beta, fn, cfg, cols, alive, theta, it, cap, tile_rows, devices):
    """Restricted problems on candidate sets: the heaviest alive points, solved by the dense
    engine, certified over all ``m`` points; points with ``c > 1`` join, up to ``cap``."""
    log_r = np.full(len(x_hat), -np.inf)
    log_r[cols[alive]] = theta[alive]
    cand = np.argsort(-log_r)[:max(1, min(int(alive.sum()), cap // 2))]
    out = None
    for _ in range(CG_ROUNDS):
        theta_c, maps = _reduced(x, p, x_hat, beta, fn, cfg, cand, log_r[cand], it, cfg.tol / 2)
        it += maps
        out, log_c = _certify(x, p, x_hat, beta, fn, cfg, cand, np.isfinite(theta_c), theta_c, it,
                              tile_rows, devices)
        if out["converged"]:
            break
        new = np.setdiff1d(np.flatnonzero(log_c > 0), cand)
        room = cap - len(cand)
        if room <= 0 or new.size == 0:
            break
        log_r[cand] = theta_c
        cand = np.concatenate([cand, new[np.argsort(-log_c[new])][:room]])
    return out


def _solve_one(x, p, x_hat, beta, fn, cfg, tile_rows, devices, theta0, dense_entries) -> dict:
    """One slope: staged SQUAREM + elimination + compaction; the dense engine on the reduced
    problem once it fits in ``dense_entries``, or on candidate sets (column generation) once
    the gap is below each of CG_START_NATS; then the certificate (numpy)."""
    ndev = 1 if devices is None else len(devices)
    n, m = len(x), len(x_hat)
    stage = _compiled("stage", fn, cfg, devices)
    cols, alive, theta = np.arange(m), np.ones(m, bool), theta0
    it, gap = 0, math.inf
    layout, starts = None, list(CG_START_NATS)
    cap = dense_entries // n
    while True:
        if n * alive.sum() <= dense_entries:
            keep = cols[alive]
            theta, maps = _reduced(x, p, x_hat, beta, fn, cfg, keep, theta[alive], it, cfg.tol)
            cols, alive, it = keep, np.isfinite(theta), it + maps
            break
        rows = _rows(len(cols), n, ndev, tile_rows)
        if layout is None or layout[0] != rows:
            layout = (rows, *_strips(x, p, rows, ndev))
        out = stage(layout[1], layout[2], x_hat[cols], alive, theta, it, gap, beta)
        theta, alive = np.asarray(out[0]), np.asarray(out[1])
        it, gap = int(out[2]), float(out[3])
        if gap <= cfg.tol_nats or it >= cfg.max_iter:
            break
        if cap >= 2 and starts and gap <= starts[0]:
            starts = [s for s in starts if s < gap]
            res = _column_generation(x, p, x_hat, beta, fn, cfg, cols, alive, theta, it, cap, tile_rows, devices)
            if res["converged"]:
                return res
            it = res["iterations"]
        if alive.sum() <= COMPACT_BELOW * len(cols) and len(cols) > COLUMN_QUANTUM:
            cols, alive, theta = _compact(cols, alive, theta)
    return _certify(x, p, x_hat, beta, fn, cfg, cols, alive, theta, it, tile_rows, devices)[0]


# --------------------------------------------------------------------------------------
# public entry points (validation here, outside jit)
# --------------------------------------------------------------------------------------

def _check_points(x, x_hat, p, beta, distortion, tol, max_iter, tile_rows, devices, init):
    """Validate every argument; returns (x, x_hat, p, beta, fn, devices, init)."""
    _check_config(tol, max_iter, "accelerated", "auto", "float64")
    x = as_samples(x, "x", min_n=1)
    x_hat = x if x_hat is None else as_samples(x_hat, "x_hat", min_n=1, dim=x.shape[1])
    if p is None:
        p = np.full(len(x), 1.0 / len(x))
    else:
        p = probability_vector(p, "p")
        if p.shape != (len(x),):
            raise ValueError(f"p must have one weight per source point, shape ({len(x)},); got shape {p.shape}")
    beta = positive(beta, "beta")
    if beta.ndim > 1:
        raise ValueError(f"beta must be a number or a 1-d array of slopes; got shape {beta.shape}")
    if tile_rows is not None and not (isinstance(tile_rows, (int, np.integer)) and not isinstance(tile_rows, bool)
                                      and tile_rows >= 1):
        raise ValueError(f"tile_rows must be None or a positive integer (rows per tile); got {tile_rows!r}")
    devices = _check_devices(devices)
    if init is not None:
        init = as_finite_array(init, "init", ndim=1)
        if init.shape != (len(x_hat),) or np.any(init < 0) or not init.sum() > 0:
            raise ValueError(f"init must be non-negative weights over the m={len(x_hat)} reproduction points "
                             f"with positive sum; got shape {init.shape}")
    fn = check_point_distortion(distortion, x, x_hat)
    return x, x_hat, p, beta, fn, devices, init


def _check_tiles(x, x_hat, beta, fn, devices):
    """One pass over every pair: a distortion that is negative, NaN/inf or overflows beta * d
    anywhere is refused before the solve (the probe of check_point_distortion sees 8 x 8)."""
    ndev = 1 if devices is None else len(devices)
    xs, _ = _strips(x, np.zeros(len(x)), _rows(len(x_hat), len(x), ndev, None), ndev)
    with jax.enable_x64(True):
        try:
            lo, hi, ok = (np.asarray(v) for v in _compiled("stats", fn, None, devices)(xs, x_hat))
        except Exception as err:  # a callable that cannot be traced by jax
            raise ValueError(f"distortion could not be evaluated inside jax.jit ({type(err).__name__}: "
                             f"{str(err)[:200]}); write it with jax.numpy operations") from None
    if not ok:
        raise ValueError("distortion returned NaN/inf for some pair of points; it must be finite everywhere "
                         "(for 'squared', are the coordinates so large that their squares overflow?)")
    if lo < 0:
        raise ValueError(f"distortion returned negative values (min {float(lo):.3g}); distortions must be >= 0")
    with np.errstate(over="ignore"):
        if not np.all(np.isfinite(np.max(beta) * float(hi))):
            raise ValueError("beta * max(d) overflows float64; lower beta or rescale the points")


def blahut_arimoto_points(x, x_hat=None, *, beta, distortion="squared", p=None, tol: float = 1e-6,
                          max_iter: int = 100_000, tile_rows: int | None = None,
                          devices: Sequence | str | None = None, init=None,
                          dense_entries: int = REDUCED_MAX_ENTRIES) -> PointsResult:
    r"""Certified R(D) of points at slope(s) ``beta``, matrix-free (tiled); see the module docstring.

    Parameters
    ----------
    x : array (n, k)
        Source points (1-d input is ``(n, 1)``); finite.
    x_hat : array (m, k), optional
        Reproduction points (default: ``x``); same ``k``.
    beta : float or 1-d array
        Slope(s), nats per unit distortion (> 0). A batch is solved slope by slope, each
        warm-started from the previous one's ``r``, so pass them sorted.
    distortion : "squared", "absolute", "hamming" or callable
        A point distortion ``tile(x (a, k), y (b, k)) -> (a, b)`` in ``jax.numpy``
        (:mod:`~rdtheory.discrete.point_distortions`); checked on every pair before solving.
    p : array (n,), optional
        Weights of the source points (default uniform, the empirical distribution).
    tol : float
        Target certified gap ``rate - lower`` in bits (default 1e-6).
    max_iter : int
        Cap on BA map evaluations; ``converged`` is False if it is hit, the bounds still hold.
    tile_rows : int, optional
        Source rows per tile; a tile spans all active reproduction points, so memory is
        about ``8 * tile_rows * m`` bytes per live temporary. Default ``TILE_ENTRIES // m``.
    devices : None, "all", "cpu", "gpu", "tpu" or a sequence of JAX devices
        Shard the strips of source rows over these devices (``jax.shard_map``).
    init : array (m,), optional
        Warm start for the output marginal (mixed with ``SolverConfig.init_mix`` of uniform).
    dense_entries : int
        Hand the reduced problem (``n`` x the points still alive) to the dense engine once it
        has at most this many entries (default :data:`REDUCED_MAX_ENTRIES`; 0: never). The
        certificate is recomputed over all ``m`` points either way.

    Returns
    -------
    PointsResult
        Bits; ``lower <= R(distortion) <= rate`` for the source ``p`` on ``x``.
    """
    x, x_hat, p, beta, fn, devices, init = _check_points(x, x_hat, p, beta, distortion, tol, max_iter,
                                                         tile_rows, devices, init)
    if isinstance(dense_entries, bool) or not (isinstance(dense_entries, (int, np.integer)) and dense_entries >= 0):
        raise ValueError(f"dense_entries must be an integer >= 0 (0: never hand over); got {dense_entries!r}")
    return _tiled(x, x_hat, p, beta, fn, tol, max_iter, tile_rows, devices, init, int(dense_entries))


def _tiled(x, x_hat, p, beta, fn, tol, max_iter, tile_rows, devices, init,
           dense_entries=REDUCED_MAX_ENTRIES) -> PointsResult:
    _check_tiles(x, x_hat, beta, fn, devices)
    cfg = dataclasses.replace(SolverConfig(), tol=float(tol), max_iter=int(max_iter))
    m = len(x_hat)
    theta = np.zeros(m) if init is None else _warm_theta(init, cfg.init_mix)
    outs = []
    with jax.enable_x64(True):
        for b in np.atleast_1d(beta):
            theta = theta - np.logaddexp.reduce(theta)
            outs.append(_solve_one(x, p, x_hat, float(b), fn, cfg, tile_rows, devices, theta, dense_entries))
            theta = _warm_theta(outs[-1]["r"], cfg.init_mix)
    stack = {k: np.asarray([o[k] for o in outs]) for k in outs[0]}
    if beta.ndim == 0:
        stack = {k: v[0] for k, v in stack.items()}
    return PointsResult(path="tiled", **stack)


def rd_points(x, x_hat=None, *, beta, distortion="squared", p=None, tol: float = 1e-6,
              max_iter: int = 100_000, tile_rows: int | None = None,
              devices: Sequence | str | None = None, init=None, path: str = "auto") -> PointsResult:
    r"""Certified R(D) of a point source at slope(s) ``beta``: dense engine or tiled solver.

    The one entry point for R(D) on samples (e.g. the plug-in estimator). Arguments as in
    :func:`blahut_arimoto_points`, plus ``path``: ``"auto"`` (default) takes the dense engine
    (:func:`~rdtheory.discrete.solver.blahut_arimoto` on
    :func:`~rdtheory.discrete.point_distortions.dense_matrix`) when
    ``n * m <= DENSE_MAX_ENTRIES``, else the tiled solver; ``"dense"`` / ``"tiled"`` force one.
    ``tile_rows`` only affects the tiled path; ``devices`` spreads a batch of slopes on the
    dense path and the strips of source rows on the tiled one.

    Returns
    -------
    PointsResult
        ``lower <= R(distortion) <= rate`` in bits, ``r`` over ``x_hat``; ``path`` says which
        solver ran.
    """
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}; got {path!r}")
    x, x_hat, p, beta, fn, devices, init = _check_points(x, x_hat, p, beta, distortion, tol, max_iter,
                                                         tile_rows, devices, init)
    if path == "tiled" or (path == "auto" and len(x) * len(x_hat) > DENSE_MAX_ENTRIES):
        return _tiled(x, x_hat, p, beta, fn, tol, max_iter, tile_rows, devices, init)
    with jax.enable_x64(True):
        d = dense_matrix(fn, x, x_hat)
    res = blahut_arimoto(p, d, beta, tol=tol, max_iter=max_iter, init=init, devices=devices)
    return PointsResult(rate=res.rate, lower=res.lower, distortion=res.distortion, beta=res.beta,
                        intercept=res.intercept, r=res.r, iterations=res.iterations, converged=res.converged,
                        active=np.full(np.shape(res.rate), len(x_hat)), path="dense")
