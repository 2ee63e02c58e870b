r"""Csiszár's dual lower bound on R(D), estimated on held-out samples.

**Dual bound** (:func:`dual_bound`). For every :math:`\beta\ge0` and every
:math:`\lambda(x)>0` (Csiszár [1]_; Yang & Mandt [2]_), in nats,

.. math::
    R(D) \;\ge\; \mathbb E_P\log\lambda(X) - \beta D
    - \log\sup_{y}\mathbb E_P\big[\lambda(X)e^{-\beta d(X,y)}\big].

*Proof.* For a channel :math:`Q` with :math:`\mathbb E d\le D` and output law :math:`q_Y`,
Donsker–Varadhan gives :math:`I(X;Y) \ge \mathbb E_{PQ}\log f - \log\mathbb E_{P\otimes q_Y}f`
for :math:`f = \lambda(x)e^{-\beta d(x,y)}`, and
:math:`\mathbb E_{P\otimes q_Y}f \le \sup_y\mathbb E_P[\lambda e^{-\beta d(X,y)}]`.
With :math:`\lambda = 1/Z_q`, :math:`Z_q(x) = \sum_j q_j e^{-\beta d(x,\hat x_j)}` from a
Blahut–Arimoto fit on a fit split (:func:`fit_dual_potential`), this is Blahut's bound [3]_
for the true source. Evaluated on held-out samples, the first term is an unbiased mean; the
supremum of the empirical mean (found by multi-start ascent) over-estimates the supremum of
the mean (conservative) but its logarithm is biased by :math:`O(1/n)` the other way, so the
guarantee is **asymptotic**: the interval (delta method at the maximiser) covers the bound
as :math:`n\to\infty`. :mod:`rdtheory.empirical.lcb` turns it into a finite-n guarantee.

**Clipping.** A plug-in ``q`` has no mass in the tails, so :math:`1/Z_q` is huge there and
one held-out tail point can dominate the supremum (for N(0,1) at :math:`\beta = 5` the
unclipped estimate was -2.4 bits against a truth of 1.65). The potential is therefore
:math:`\lambda = 1/\max(Z_q, z_0)` (:class:`DualPotential`), with ``q`` fitted on one half
of the fit split and :math:`z_0` chosen on the other (:func:`fit_dual_potential`); the bound
holds for any positive :math:`\lambda`, so the clip costs tightness, never validity.

All rates are returned in bits.

References
----------
.. [1] I. Csiszár, "On an extremum problem of information theory", Studia Sci. Math.
   Hungarica 9:57-71, 1974.
.. [2] Y. Yang and S. Mandt, "Towards Empirical Sandwich Bounds on the Rate-Distortion
   Function", ICLR 2022.
.. [3] R. E. Blahut, "Computation of channel capacity and rate-distortion functions",
   IEEE Trans. Inf. Theory 18(4):460-473, 1972.
.. [4] D. Comaniciu and P. Meer, "Mean shift: a robust approach toward feature space
   analysis", IEEE TPAMI 24(5):603-619, 2002 (the ascent used for squared error).
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp
from scipy import special

from .._validation import as_samples
from ..discrete import blahut_arimoto
from ..info import LN2
from .channel import TILE_ENTRIES, _t_interval, channel_terms
from ..discrete.point_distortions import check_point_distortion, dense_matrix
from .estimate import register_method, split_samples
from .lower import _check_betas, _check_D, _check_level
from .record import RDBound

__all__ = ["DualPotential", "ba_weights", "fit_dual_potential", "log_mean_kernel", "dual_bound", "CLIP_QUANTILES"]


class DualPotential(NamedTuple):
    r"""A fitted :math:`\lambda(x) = 1/\max(Z_q(x), z_0)`, :math:`Z_q(x) = \sum_j q_j e^{-\beta d(x,\hat x_j)}`.

    ``atoms (m, k)``, ``q (m,)``, ``beta`` (nats per unit distortion), ``log_z0`` (nats; the
    clip keeps :math:`\log\lambda \in [0, -\log z_0]` and :math:`\lambda \le 1/z_0`).
    """

    atoms: np.ndarray
    q: np.ndarray
    beta: float
    log_z0: float

    def log_lambda(self, x, distortion="squared") -> np.ndarray:
        r""":math:`\log\lambda(x_i)` in nats for the rows of ``x``."""
        with jax.enable_x64(True):
            log_z = channel_terms(x, self.atoms, self.q, self.beta, distortion).log_z
        return -np.maximum(np.asarray(log_z, np.float64), self.log_z0)


#: Quantiles of log Z_q on the selection split tried as the clip level log z0 (0: no clip).
CLIP_QUANTILES = (0.0, 0.001, 0.01, 0.03, 0.1, 0.2, 0.3)


def ba_weights(x_fit, betas, distortion="squared", *, atoms=None, max_atoms: int = 256,
               max_rows: int = 1024, seed: int = 0, tol: float = 1e-4):
    r"""Blahut–Arimoto on the empirical measure of ``x_fit``: atoms and weights :math:`q_\beta`.

    The rows (at most ``max_rows``, a seeded subset) get equal mass; the reproduction points
    are ``atoms`` if given (e.g. a finite reproduction alphabet) else a seeded subset of at
    most ``max_atoms`` rows. Solved at every slope at once (``blahut_arimoto`` batched over
    ``betas``; any ``q`` gives a valid bound, ``tol`` only affects tightness). Returns
    ``(atoms (m, k), q (len(betas), m))``.
    """
    x_fit = as_samples(x_fit, "x_fit", min_n=1)
    betas = _check_betas(betas)
    rng = np.random.default_rng(seed)
    rows = x_fit if x_fit.shape[0] <= max_rows else x_fit[rng.choice(x_fit.shape[0], max_rows, replace=False)]
    if atoms is None:
        atoms = rows if rows.shape[0] <= max_atoms else rows[rng.choice(rows.shape[0], max_atoms, replace=False)]
    atoms = as_samples(atoms, "atoms", min_n=1, dim=x_fit.shape[1])
    check_point_distortion(distortion, rows, atoms)
    # pad to fixed shapes so a few compiled solvers serve every call: rows to max_rows with
    # zero mass, atoms to a power of two by repeating the first (Z_q is unchanged however q
    # splits over copies), slopes to a power of two by repeating the last
    n_r, m, nb = rows.shape[0], atoms.shape[0], betas.size
    size = lambda v: 1 << max(0, (v - 1).bit_length())
    atoms = np.concatenate([atoms, np.repeat(atoms[:1], size(m) - m, axis=0)])
    d = dense_matrix(distortion, rows, atoms)
    d = np.concatenate([d, np.zeros((max_rows - n_r, d.shape[1]))])
    p = np.concatenate([np.full(n_r, 1.0 / n_r), np.zeros(max_rows - n_r)])
    res = blahut_arimoto(p, d, np.concatenate([betas, np.repeat(betas[-1:], size(nb) - nb)]), tol=tol)
    return atoms, np.asarray(res.r, np.float64).reshape(size(nb), atoms.shape[0])[:nb]


def dual_score(log_lam, log_g, log_z0, beta):
    """Plug-in value of the dual bound (nats, without -beta D): mean log lambda - log sup g."""
    return float(np.mean(log_lam)) - log_g


def fit_dual_potential(x_fit, betas, distortion="squared", *, atoms=None, score=dual_score, seed: int = 0,
                       max_select: int = 4096, max_cand: int = 256) -> list[DualPotential]:
    r"""Fit :math:`\lambda_\beta` on ``x_fit`` only: ``q`` on one half, the clip on the other.

    ``q_beta`` comes from :func:`ba_weights` on the first half of ``x_fit``; the clip level
    :math:`z_0` is the quantile (:data:`CLIP_QUANTILES`) of :math:`Z_q` on the second half
    that maximises ``score(log_lambda, log_sup_g, log_z0, beta)`` there, the supremum taken over
    the atoms and up to ``max_cand`` second-half points. The second half is independent of
    ``q``, so it sees the tails where a plug-in ``q`` over-fits (an unclipped
    :math:`1/Z_q` can be huge there, and the supremum with it); the held-out samples are
    never used.
    """
    x_fit = as_samples(x_fit, "x_fit", min_n=2)
    betas = _check_betas(betas)
    half = x_fit.shape[0] // 2
    x_q, x_sel = x_fit[:half], x_fit[half:][:max_select]
    atoms, q = ba_weights(x_q, betas, distortion, atoms=atoms, seed=seed)
    rng = np.random.default_rng(seed)
    out = []
    for b, qb in zip(betas, q):
        with jax.enable_x64(True):
            log_z = np.asarray(channel_terms(x_sel, atoms, qb, b, distortion).log_z, np.float64)
        cand = np.concatenate([atoms[qb > 0][:max_cand],
                               x_sel[rng.choice(x_sel.shape[0], min(max_cand, x_sel.shape[0]), replace=False)]])
        log_k = -b * dense_matrix(distortion, x_sel, cand)               # (n_sel, S)
        best = (-np.inf, 0.0)
        for c in np.quantile(log_z, CLIP_QUANTILES):
            c = min(float(c), 0.0)
            log_lam = -np.maximum(log_z, c)
            log_g = float(np.max(special.logsumexp(log_lam[:, None] + log_k, axis=0))) - math.log(x_sel.shape[0])
            best = max(best, (score(log_lam, log_g, c, float(b)), c))
        out.append(DualPotential(atoms, qb, float(b), best[1]))
    return out


def _log_mean_kernel(ys, x, log_w, beta, fn, rows):
    s, k = ys.shape
    pad = (-s) % rows
    yp = jnp.concatenate([ys, jnp.broadcast_to(ys[:1], (pad, k))]).reshape(-1, rows, k)
    out = jax.lax.map(lambda yc: logsumexp(log_w[:, None] - beta * fn(x, yc), axis=0), yp)
    return out.reshape(-1)[:s] - jnp.log(x.shape[0])


def log_mean_kernel(ys, x, log_w, beta: float, distortion="squared") -> np.ndarray:
    r""":math:`\log\frac1n\sum_i w_i e^{-\beta d(x_i, y_s)}` (nats) for each row ``y_s``.

    ``log_w``: ``(n,)`` log weights (``log lambda(x_i)``). Tiled over ``ys`` so at most
    :data:`~rdtheory.empirical.channel.TILE_ENTRIES` kernel entries are held. float64.
    """
    ys, x = np.asarray(ys, np.float64), np.asarray(x, np.float64)
    fn = check_point_distortion(distortion, x, ys)
    rows = max(1, min(ys.shape[0], TILE_ENTRIES // x.shape[0]))
    with jax.enable_x64(True):
        out = jax.jit(_log_mean_kernel, static_argnums=(4, 5))(jnp.asarray(ys), jnp.asarray(x),
                                                                jnp.asarray(log_w, jnp.float64), float(beta), fn, rows)
        return np.asarray(out, np.float64)


def _ascend(ys, x, log_w, beta, fn, steps, scale):
    """Multi-start ascent of log g(y) = log mean_i w_i exp(-beta d(x_i, y)); best iterate kept."""
    f = lambda y: logsumexp(log_w - beta * fn(x, y[None, :])[:, 0])
    val_grad = jax.vmap(jax.value_and_grad(f))

    def body(t, c):
        y, best_y, best_v = c
        v, g = val_grad(y)
        better = v > best_v
        best_y = jnp.where(better[:, None], y, best_y)
        best_v = jnp.where(better, v, best_v)
        step = scale * (1.0 - t / steps)
        y = y + step * g / (jnp.linalg.norm(g, axis=1, keepdims=True) + 1e-300)
        return y, best_y, best_v

    init = (ys, ys, jnp.full(ys.shape[0], -jnp.inf))
    _, best_y, _ = jax.lax.fori_loop(0, steps, body, init)
    return best_y


@functools.partial(jax.jit, static_argnums=(4,))
def _mean_shift(ys, x, log_w, beta, steps):
    """Mean-shift for the Gaussian kernel: y <- sum_i w_i(y) x_i, a monotone ascent of g."""
    def body(_, y):
        lw = log_w[None, :] - beta * jnp.sum((y[:, None, :] - x[None, :, :]) ** 2, axis=-1)
        w = jax.nn.softmax(lw, axis=1)
        return w @ x

    return jax.lax.fori_loop(0, steps, body, ys)


def _sup_points(x, log_w, beta, distortion, starts_pts, steps, reproduction):
    """Candidate maximisers of g: the reproduction alphabet (exact sup) or ascended starts."""
    if reproduction is not None:
        return reproduction
    with jax.enable_x64(True):
        xs, lw, ys = jnp.asarray(x), jnp.asarray(log_w), jnp.asarray(starts_pts)
        if distortion == "squared" and x.shape[0] * ys.shape[0] * x.shape[1] <= TILE_ENTRIES:
            moved = _mean_shift(ys, xs, lw, beta, steps)
        else:
            fn = check_point_distortion(distortion, x, starts_pts)
            scale = 0.1 * float(np.mean(np.std(x, axis=0))) + 1e-12
            moved = jax.jit(_ascend, static_argnums=(4, 5))(ys, xs, lw, beta, fn, steps, scale)
        return np.concatenate([starts_pts, np.asarray(moved)])


def _start_points(atoms, q, x_eval, starts, rng):
    keep = atoms[q > 0] if np.any(q > 0) else atoms
    keep = keep[np.argsort(-q[q > 0])[:starts]] if np.any(q > 0) else keep[:starts]
    pick = x_eval[rng.choice(x_eval.shape[0], min(starts, x_eval.shape[0]), replace=False)]
    return np.concatenate([keep, pick])


def _dual_lines(x_eval, pots, distortion, reproduction, starts, steps, seed):
    """Per potential: intercept a (nats), held-out distortion D_beta, influence terms of a."""
    rng = np.random.default_rng(seed)
    out = []
    for pot in pots:
        b = pot.beta
        log_lam = pot.log_lambda(x_eval, distortion)
        with jax.enable_x64(True):
            d_beta = float(np.mean(channel_terms(x_eval, pot.atoms, pot.q, b, distortion).distortion))
        cand = _sup_points(x_eval, log_lam, b, distortion, _start_points(pot.atoms, pot.q, x_eval, starts, rng),
                           steps, reproduction)
        lg = log_mean_kernel(cand, x_eval, log_lam, b, distortion)
        y_star = cand[int(np.argmax(lg))][None, :]
        log_g = float(np.max(lg))
        w = np.exp(log_lam - b * dense_matrix(distortion, x_eval, y_star)[:, 0] - log_g)
        out.append((float(np.mean(log_lam)) - log_g, d_beta, log_lam - w))
    return out


def dual_bound(samples, D=None, distortion="squared", *, betas, holdout: float = 0.5, atoms=None,
               reproduction=None, level: float = 0.95, starts: int = 32, steps: int = 100,
               seed: int = 0) -> RDBound:
    r"""Csiszár's dual lower bound (bits) with :math:`\lambda = 1/Z_q` fitted on a split.

    Parameters
    ----------
    samples : array (n, k)
        Source draws; a seeded ``1 - holdout`` of them fits :math:`q_\beta`
        (:func:`fit_dual_potential`), the rest evaluates the bound.
    D : float or array (p,), optional
        Distortions; each gets the best line over ``betas``. ``None``: one point per slope
        at the held-out distortion :math:`D_\beta` of the fitted channel (the tangent point).
    distortion : str or callable
        A point distortion (:mod:`rdtheory.discrete.point_distortions`).
    betas : float or array
        Slopes (nats per unit distortion).
    atoms : array (m, k), optional
        Reproduction points for the fit (default: a subset of the fit rows).
    reproduction : array (r, k), optional
        The whole reproduction alphabet when it is finite (e.g. ``[[0], [1]]`` for binary
        Hamming): the supremum over y is then exact (and ``atoms`` defaults to it).
        Otherwise the supremum is found by multi-start ascent from the top ``starts`` atoms
        and ``starts`` held-out points (mean-shift for squared error).
    level : float
        Level of the asymptotic delta-method interval.

    Returns
    -------
    RDBound
        ``kind="lower"``; the guarantee is asymptotic (module docstring). ``info["intercept_bits"]``
        holds each slope's line :math:`R(D) \ge a - \beta D/\ln 2`.
    """
    level = _check_level(level)
    betas = _check_betas(betas)
    x_fit, x_eval = split_samples(samples, holdout, seed)
    if reproduction is not None:
        reproduction = as_samples(reproduction, "reproduction", min_n=1, dim=x_fit.shape[1])
        atoms = reproduction if atoms is None else atoms
    pots = fit_dual_potential(x_fit, betas, distortion, atoms=atoms, seed=seed)
    lines = _dual_lines(x_eval, pots, distortion, reproduction, starts, steps, seed)
    a = np.array([ln[0] for ln in lines])
    if D is None:
        Dv = np.array([ln[1] for ln in lines])
        pick = np.arange(betas.size)
    else:
        Dv = _check_D(D)
        pick = np.argmax(a[None, :] - betas[None, :] * Dv[:, None], axis=1)
    rate = (a[pick] - betas[pick] * Dv) / LN2
    # the influence terms log lambda_i - w_i / g(y*) have the spread of the estimate; centre on it
    half = np.array([np.subtract(*_t_interval(lines[j][2], level)[::-1]) / 2 for j in pick])
    iv = (rate * LN2)[:, None] + half[:, None] * np.array([-1.0, 1.0])
    return RDBound("dual", "lower", Dv, rate, iv / LN2, level, betas[pick], np.zeros(Dv.shape, bool),
                   x_fit.shape[0], x_eval.shape[0],
                   dict(intercept_bits=(a / LN2).tolist(), betas=betas.tolist(), seed=seed,
                        log_z0=[p.log_z0 for p in pots],
                        guarantee="asymptotic (delta-method interval at the maximiser of the empirical sup)"))


@register_method("dual", accepts=dual_bound)
def _dual_method(x, distortion, *, betas=None, holdout=0.5, level=0.95, seed=0, progress=True,
                 distortions=None, **options) -> RDBound:
    """``estimate_rd(..., method="dual", betas=[...])`` (default slopes: the plug-in's data grid)."""
    if betas is None:
        from .plugin import data_betas
        betas = data_betas(x, x, distortion, num=12)
    return dual_bound(x, distortions, distortion, betas=betas, holdout=holdout, level=level, seed=seed, **options)
