r"""A lower confidence bound on R(D) of the true source, valid at finite n.

With probability at least :math:`1-\delta` over the held-out sample, :func:`dual_lcb`
returns :math:`\underline R(D) \le R(D)` for every ``D`` at once (bits). It is Csiszár's
dual bound (:mod:`rdtheory.empirical.lower`) with a clipped potential
:math:`\lambda(x) = 1/\max(Z_q(x), z_0)` fitted on a fit split, so that on the held-out
sample (independent of the fit) both terms are means of bounded i.i.d. variables:

- :math:`\log\lambda(X) \in [0, L]`, :math:`L = \log(1/z_0)`: Maurer–Pontil's empirical
  Bernstein bound [1]_ gives :math:`\mathbb E\log\lambda \ge \bar\ell - \sqrt{2V\ln(2/\delta_1)/n}
  - 7L\ln(2/\delta_1)/(3(n-1))` with probability :math:`\ge 1-\delta_1`;
- :math:`g(y) = \mathbb E[\lambda(X)e^{-\beta d(X,y)}]`, values in :math:`[0, 1/z_0]`:
  Hoeffding's relative-entropy (Chernoff) bound [2]_ gives
  :math:`g \le b\,\sup\{p : \mathrm{kl}(\hat g/b\,\|\,p) \le \ln(1/\delta')/n\}`,
  :math:`b = 1/z_0`, with probability :math:`\ge 1-\delta'`, made uniform over ``y`` by:

  * a finite reproduction alphabet (``reproduction=``, e.g. Hamming): a union bound over
    its ``N`` points, :math:`\delta' = \delta_2/N`;
  * squared or absolute error with the source supported in a known box
    :math:`B` (``support=``, an assumption): projecting ``y`` onto ``B`` shrinks
    :math:`|x_i - y_i|` for every :math:`x\in B` and coordinate, so
    :math:`\sup_{\mathbb R^k} g = \sup_B g`. Cover ``B`` by the :math:`N = 2^{k\ell^*}` cells
    of the dyadic partition at depth :math:`\ell^*` (fixed before seeing the held-out data,
    from :math:`\beta` and ``eps``). For a cell with centre ``c`` and radius
    :math:`\rho` (the norm of its half-width vector) and any ``y`` in it,
    :math:`\|x-y\| \ge (\|x-c\|-\rho)_+`, so :math:`g(y) \le \mathbb E\,u_C(X)` with
    :math:`u_C = \lambda(x)e^{-\beta\phi((\|x-c\|-\rho)_+)}` (:math:`\phi(t) = t^2`, Euclidean,
    for squared error; :math:`\phi(t) = t`, :math:`\ell_1`, for absolute error), again in
    :math:`[0, 1/z_0]`. A union bound over the ``N`` cells and the monotonicity of the
    Chernoff bound in :math:`\hat u` reduce the statement to :math:`\max_C \hat u_C`,
    computed exactly by branch and bound: a child cell's :math:`u` is pointwise below its
    parent's (:math:`\|c-c'\| = \rho_{child}`, :math:`\rho_{parent} = 2\rho_{child}`), so a
    parent bounds all its descendants and cells below the best value seen are pruned.

With :math:`\delta_1 = \delta_2 = \delta/(2|\beta\text{-grid}|)` every slope of the grid
holds at once, so :math:`R(D) \ge \max_\beta [\underline{\mathbb E\log\lambda_\beta}
- \beta D - \log\overline{\sup_y g_\beta}]` for all ``D`` simultaneously. The derivation is
written out in ``docs/empirical_lower.md``. Lower bounds of this kind cannot exceed
:math:`O(\log n)` without assumptions on the source [3]_: expect looseness that shrinks
with ``n`` and grows with the rate.

References
----------
.. [1] A. Maurer and M. Pontil, "Empirical Bernstein bounds and sample variance
   penalization", COLT 2009 (Thm. 4).
.. [2] W. Hoeffding, "Probability inequalities for sums of bounded random variables",
   J. Amer. Statist. Assoc. 58:13-30, 1963 (Thm. 1, Eq. 2.1).
.. [3] D. McAllester and K. Stratos, "Formal limitations on the measurement of mutual
   information", AISTATS 2020.
.. [4] I. Csiszár, "On an extremum problem of information theory", Studia Sci. Math.
   Hungarica 9:57-71, 1974.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from .._validation import as_finite_array, as_samples
from ..discrete.point_distortions import POINT_DISTORTIONS
from ..info import LN2
from .channel import TILE_ENTRIES, channel_terms
from .dual import fit_dual_potential, log_mean_kernel
from .estimate import register_method, split_samples
from .lower import _check_betas, _check_D
from .record import RDBound

__all__ = ["kl_upper", "bernstein_lower", "box_sup", "dual_lcb"]

#: Distortions for which the box argument (projection + cell bound) holds.
BOX_DISTORTIONS = ("squared", "absolute")


def _kl_bern(m, p):
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(m > 0, m * np.log(m / p), 0.0)
        b = np.where(m < 1, (1 - m) * np.log((1 - m) / (1 - p)), 0.0)
    return a + b


def kl_upper(mean, b: float, n: int, delta: float) -> float:
    r"""Upper confidence bound on :math:`\mathbb E Z` for i.i.d. :math:`Z \in [0, b]` (Hoeffding [2]_).

    :math:`b\cdot\sup\{p \in [\hat m, 1] : \mathrm{kl}(\hat m\|p) \le \ln(1/\delta)/n\}`,
    :math:`\hat m` = ``mean / b``; holds with probability :math:`\ge 1-\delta`
    (bisection to 1e-12 relative, rounded up).
    """
    m = min(max(float(mean) / b, 0.0), 1.0)
    t = math.log(1.0 / delta) / n
    lo, hi = m, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _kl_bern(m, mid) <= t:
            lo = mid
        else:
            hi = mid
    return b * min(1.0, hi * (1 + 1e-12))


def _mp_lower(mean: float, var: float, n: int, b: float, delta: float) -> float:
    """Maurer–Pontil lower bound on E Z, Z in [0, b], from the mean and sample variance."""
    if b <= 0:
        return 0.0
    lg = math.log(2.0 / delta)
    lower = mean / b - math.sqrt(2 * (var / b**2) * lg / n) - 7 * lg / (3 * (n - 1))
    return b * max(lower, 0.0)


def bernstein_lower(values, b: float, delta: float) -> float:
    r"""Lower confidence bound on :math:`\mathbb E Z` from i.i.d. ``values`` in :math:`[0, b]`.

    Maurer–Pontil [1]_ (Thm. 4): :math:`\bar Z - \sqrt{2V_n\ln(2/\delta)/n} -
    7b\ln(2/\delta)/(3(n-1))`, :math:`V_n` the unbiased sample variance; probability
    :math:`\ge 1-\delta`; floored at 0 (the variables are non-negative). Needs ``n >= 2``.
    """
    v = np.asarray(values, np.float64)
    return _mp_lower(float(np.mean(v)), float(np.var(v, ddof=1)), v.size, b, delta)


def _cell_stats(centres, rad, x, log_lam, beta, squared, rows):
    """Per cell: log mean u_C (the cell bound) and log mean of the kernel at the centre."""
    s, k = centres.shape
    pad = (-s) % rows
    cp = jnp.concatenate([centres, jnp.broadcast_to(centres[:1], (pad, k))]).reshape(-1, rows, k)
    tile = POINT_DISTORTIONS["squared" if squared else "absolute"]

    def chunk(c):
        dist = tile(x, c)
        dist = jnp.sqrt(dist) if squared else dist
        gap = jnp.maximum(dist - rad, 0.0)
        phi = (lambda t: t * t) if squared else (lambda t: t)
        up = logsumexp(log_lam[:, None] - beta * phi(gap), axis=0)
        at = logsumexp(log_lam[:, None] - beta * phi(dist), axis=0)
        return up, at

    up, at = jax.lax.map(chunk, cp)
    ln = jnp.log(x.shape[0])
    return up.reshape(-1)[:s] - ln, at.reshape(-1)[:s] - ln


_cell_stats_jit = jax.jit(_cell_stats, static_argnums=(5, 6))


def _cells(centres, rad, x, log_lam, beta, squared):
    """:func:`_cell_stats` with the cell count padded to a power of two (few compiled shapes)."""
    s = len(centres)
    size = 1 << max(0, (s - 1).bit_length())
    padded = np.concatenate([centres, np.repeat(centres[:1], size - s, axis=0)])
    rows = min(size, 1 << max(0, (TILE_ENTRIES // x.shape[0]).bit_length() - 1))
    up, at = _cell_stats_jit(jnp.asarray(padded), rad, x, log_lam, beta, squared, rows)
    return np.asarray(up)[:s], np.asarray(at)[:s]


def _norm(v, squared: bool) -> float:
    return float(np.linalg.norm(v)) if squared else float(np.sum(np.abs(v)))


def box_depth(low, high, beta: float, distortion: str, eps: float) -> int:
    r"""Depth :math:`\ell^*` of the dyadic partition: cell radius :math:`\le` ``eps`` times
    the kernel's length scale (:math:`1/\sqrt\beta` squared, :math:`1/\beta` absolute)."""
    squared = distortion == "squared"
    rho0 = _norm((np.asarray(high) - np.asarray(low)) / 2, squared)
    scale = 1 / math.sqrt(beta) if squared else 1 / beta
    return 0 if rho0 <= 0 else max(0, math.ceil(math.log2(rho0 / (eps * scale))))


def box_sup(x, log_lam, beta: float, low, high, distortion: str = "squared", *, eps: float = 0.01,
            max_cells: int = 4096, points=None):
    r"""Upper bound on :math:`\max_C \log\hat u_C` over the depth-:math:`\ell^*` cells of the box.

    Branch and bound over the dyadic tree (module docstring). ``points``: extra points in
    the box whose kernel mean seeds the pruning threshold (e.g. the atoms). If a level
    would hold more than ``max_cells`` cells the search stops and returns the frontier's
    maximum, still an upper bound (a parent bounds its descendants), only a looser one.

    Returns ``(log_u_max, depth, info)``; ``log_u_max`` in nats.
    """
    squared = distortion == "squared"
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    k = low.size
    depth = box_depth(low, high, beta, distortion, eps)
    xj, lj = jnp.asarray(x), jnp.asarray(log_lam)
    best = -np.inf
    with jax.enable_x64(True):
        if points is not None and len(points):
            pts = np.clip(np.asarray(points, np.float64), low, high)
            best = float(np.max(_cells(pts, 0.0, xj, lj, beta, squared)[1]))
        centres, h = ((low + high) / 2)[None, :], (high - low) / 2
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=k)))
        for level in range(depth + 1):
            up, at = _cells(centres, _norm(h, squared), xj, lj, beta, squared)
            best = max(best, float(at.max()))
            keep = up >= best
            centres, up = centres[keep], up[keep]
            if level == depth or len(centres) * len(signs) > max_cells:
                break
            h = h / 2
            centres = (centres[:, None, :] + signs[None, :, :] * h).reshape(-1, k)
    return max(float(up.max()), best), depth, dict(level=level, cells=int(len(centres)), best_centre=best)


def _lcb_score(n_eval: int, delta1: float, delta2: float, log_union):
    """Score for choosing the clip on the fit split: the LCB intercept it would give at n_eval."""
    def score(log_lam, log_g, log_z0, beta):
        L = -log_z0
        low = _mp_lower(float(np.mean(log_lam)), float(np.var(log_lam, ddof=1)), n_eval, L, delta1)
        return low - math.log(kl_upper(math.exp(log_g), math.exp(L), n_eval, delta2 * math.exp(-log_union(beta))))
    return score


def _check_box(support, x):
    try:
        low, high = support
    except (TypeError, ValueError):
        raise ValueError("support must be a pair (low, high) of bounds (scalars or arrays of shape (k,)) "
                         f"of the box that contains the source; got {support!r}") from None
    k = x.shape[1]
    low, high = as_finite_array(low, "support low"), as_finite_array(high, "support high")
    for name, v in (("low", low), ("high", high)):
        if v.shape not in ((), (1,), (k,)):
            raise ValueError(f"support {name} has shape {v.shape} but the samples have {k} coordinate(s); pass a "
                             f"scalar or an array of shape ({k},)")
    low, high = (np.broadcast_to(v, (k,)).astype(np.float64) for v in (low, high))
    if np.any(low > high):
        raise ValueError(f"support low must be <= high in every coordinate; got low={low}, high={high}")
    out = np.any((x < low) | (x > high), axis=1)
    if np.any(out):
        raise ValueError(f"{int(out.sum())} sample(s) lie outside the support box [{low}, {high}]; the bound "
                         "assumes the source is supported in the box: pass a box that contains it")
    return low, high


def _default_betas(D, distortion, k, reproduction):
    if distortion == "squared":
        return k / (2 * D)
    if distortion == "absolute":
        return k / D
    if distortion == "hamming" and reproduction is not None and k == 1 and len(reproduction) > 1 and np.all(D < 1):
        # the slope of the uniform m-ary Hamming curve at D: log((m-1)(1-D)/D)
        return np.maximum(np.log((len(reproduction) - 1) * (1 - D) / D), 1e-3)
    raise ValueError("pass betas= (slopes in nats per unit distortion): no default for this distortion")


def dual_lcb(samples, D=None, distortion="squared", *, delta: float = 0.05, betas=None, support=None,
             reproduction=None, holdout: float = 0.5, eps: float = 0.01, max_cells: int = 4096,
             seed: int = 0) -> RDBound:
    r"""Lower confidence bound on :math:`R(D)` (bits), valid with probability :math:`\ge 1-\delta`.

    Parameters
    ----------
    samples : array (n, k)
        i.i.d. source draws; a seeded ``1 - holdout`` fits the potentials
        (:func:`~rdtheory.empirical.lower.fit_dual_potential`, clip chosen for this bound),
        the rest certifies.
    D : float or array (p,), optional
        Distortions > 0; each gets the best slope. ``None``: one point per slope at the
        held-out distortion of the fitted channel.
    distortion : "squared", "absolute", "hamming" or callable
        ``support=`` needs squared or absolute; any distortion works with ``reproduction=``.
    delta : float in (0, 1)
        Error probability: the bound holds for all points at once with probability
        :math:`\ge 1-\delta` (``level = 1 - delta``).
    betas : float or array, optional
        Slope grid (union bound over it); default one slope per ``D`` (squared: k/(2D),
        absolute: k/D, scalar Hamming: log((m-1)(1-D)/D)).
    support : (low, high), optional
        A box known to contain the source (an assumption; the samples are checked against it).
    reproduction : array (r, k), optional
        The whole (finite) reproduction alphabet, e.g. ``[[0], [1]]`` for binary Hamming.
    eps : float
        Finest cell radius of the box partition, in kernel length scales.
    max_cells : int
        Cap on the branch-and-bound frontier (a looser but valid bound when hit).
    seed : int
        Seed of the split and the fit.

    Returns
    -------
    RDBound
        ``kind="lower"``, ``rate`` = ``interval[:, 0]`` = the lower confidence bound (floored
        at 0), ``interval[:, 1]`` = nan, ``level = 1 - delta``; ``info`` holds each slope's
        terms (nats) and the union-bound sizes.
    """
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ValueError(f"delta must be a number in (0, 1) (the error probability); got {delta!r}")
    x = as_samples(samples, "samples", min_n=8)
    if (support is None) == (reproduction is None):
        raise ValueError("pass exactly one of support=(low, high) (a box that contains the source, squared or "
                         "absolute error) or reproduction= (the finite reproduction alphabet)")
    if support is not None:
        if distortion not in BOX_DISTORTIONS:
            raise ValueError(f"support= needs distortion in {BOX_DISTORTIONS}; got {distortion!r} "
                             "(pass reproduction= for a finite alphabet instead)")
        low, high = _check_box(support, x)
    else:
        reproduction = as_samples(reproduction, "reproduction", min_n=1, dim=x.shape[1])
    Dv = None if D is None else _check_D(D)
    if betas is None:
        if Dv is None:
            raise ValueError("pass D= or betas= (the slopes to certify)")
        betas = _default_betas(Dv, distortion, x.shape[1], reproduction)
    betas = _check_betas(betas)
    x_fit, x_eval = split_samples(x, holdout, seed)
    if len(x_eval) < 4:
        raise ValueError(f"holdout={holdout:g} leaves {len(x_eval)} held-out samples; the bound needs at least 4 "
                         f"(pass more samples or a larger holdout)")
    n = x_eval.shape[0]
    d1 = d2 = delta / (2 * betas.size)
    # log of the union-bound size over y at each slope (fixed before the held-out data is seen)
    log_union = ((lambda b: x.shape[1] * box_depth(low, high, b, distortion, eps) * LN2) if support is not None
                 else (lambda b: math.log(len(reproduction))))
    pots = fit_dual_potential(x_fit, betas, distortion, atoms=reproduction, seed=seed,
                              score=_lcb_score(n, d1, d2, log_union))
    terms = []
    for b, pot in zip(betas, pots):
        log_n = log_union(b)
        log_lam = pot.log_lambda(x_eval, distortion)
        L = -pot.log_z0
        if support is not None:
            log_u, depth, info = box_sup(x_eval, log_lam, b, low, high, distortion, eps=eps, max_cells=max_cells,
                                         points=pot.atoms[pot.q > 0])
            info = dict(info, depth=depth)
        else:
            log_u, info = float(np.max(log_mean_kernel(reproduction, x_eval, log_lam, b, distortion))), {}
        low_log = bernstein_lower(log_lam, L, d1)
        up_g = kl_upper(math.exp(log_u), math.exp(L), n, d2 * math.exp(-log_n))
        with jax.enable_x64(True):
            d_b = float(np.mean(channel_terms(x_eval, pot.atoms, pot.q, b, distortion).distortion))
        terms.append(dict(beta=float(b), intercept=low_log - math.log(up_g), mean_log_lambda=float(np.mean(log_lam)),
                          lcb_log_lambda=low_log, log_sup_hat=log_u, ucb_sup=up_g, log_z0=pot.log_z0,
                          log_union=log_n, d_beta=d_b, **info))
    a = np.array([t["intercept"] for t in terms])
    if Dv is None:
        Dv, pick = np.array([t["d_beta"] for t in terms]), np.arange(betas.size)
    else:
        pick = np.argmax(a[None, :] - betas[None, :] * Dv[:, None], axis=1)
    rate = np.maximum((a[pick] - betas[pick] * Dv) / LN2, 0.0)
    iv = np.stack([rate, np.full(rate.shape, np.nan)], axis=1)
    return RDBound("lcb", "lower", Dv, rate, iv, 1 - delta, betas[pick], np.zeros(Dv.shape, bool),
                   x_fit.shape[0], n, dict(terms=terms, delta=delta, seed=seed,
                                           guarantee="finite-n: P(R(D) >= rate for all D) >= 1 - delta"))


@register_method("lcb", accepts=dual_lcb)
def _lcb_method(x, distortion, *, betas=None, holdout=0.5, level=0.95, seed=0, progress=True,
                distortions=None, delta=None, **options) -> RDBound:
    """``estimate_rd(..., method="lcb", distortions=[...], support=(low, high) | reproduction=...)``;
    ``level`` sets ``delta = 1 - level``."""
    if delta is not None:
        raise ValueError(f"delta is set by estimate_rd's level (delta = 1 - level): pass level={1 - delta!r} "
                         f"instead of delta={delta!r}")
    return dual_lcb(x, distortions, distortion, delta=1.0 - level, betas=betas, holdout=holdout, seed=seed,
                    **options)
