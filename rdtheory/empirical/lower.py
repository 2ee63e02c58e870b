r"""Lower bounds on R(D) from samples: the Shannon lower bound and Csiszár's dual bound.

**Shannon lower bound** (:func:`shannon_lower_bound`). For a difference distortion
:math:`d(x,\hat x) = \rho(x-\hat x)` on :math:`\mathbb R^k` and a source with a density,
:math:`R(D) \ge h(X) - \max\{h(Z) : \mathbb E\rho(Z) \le D\}` [1]_. The maximum-entropy
noise gives, in nats,

- squared error :math:`\|x-\hat x\|_2^2` (summed over the ``k`` coordinates):
  :math:`R(D) \ge h(X) - \tfrac k2 \log(2\pi e D/k)` (Gaussian noise, variance ``D/k``);
- absolute error :math:`\|x-\hat x\|_1`: :math:`R(D) \ge h(X) - k\log(2eD/k)` (Laplace
  noise, mean absolute value ``D/k``).

It is tight for a Gaussian source under squared error (all ``D`` below the variance) and
for a Laplace source :math:`\tfrac\alpha2 e^{-\alpha|x|}` under absolute error for
:math:`D \le 1/\alpha` (:math:`R = -\log(\alpha D)`). :math:`h(X)` is estimated by the
Kozachenko–Leonenko k-nearest-neighbour estimator (:func:`kl_entropy`) with a batch-means
interval, so the result is an **estimate** of a lower bound: no finite-n guarantee is
possible without assumptions on the density (a density with a thin spike has any entropy
below what a sample shows).

**Dual bound** (:func:`dual_bound`). For every :math:`\beta\ge0` and every
:math:`\lambda(x)>0` (Csiszár [2]_; Yang & Mandt [3]_), in nats,

.. math::
    R(D) \;\ge\; \mathbb E_P\log\lambda(X) - \beta D
    - \log\sup_{y}\mathbb E_P\big[\lambda(X)e^{-\beta d(X,y)}\big].

*Proof.* For a channel :math:`Q` with :math:`\mathbb E d\le D` and output law :math:`q_Y`,
Donsker–Varadhan gives :math:`I(X;Y) \ge \mathbb E_{PQ}\log f - \log\mathbb E_{P\otimes q_Y}f`
for :math:`f = \lambda(x)e^{-\beta d(x,y)}`, and
:math:`\mathbb E_{P\otimes q_Y}f \le \sup_y\mathbb E_P[\lambda e^{-\beta d(X,y)}]`.
With :math:`\lambda = 1/Z_q`, :math:`Z_q(x) = \sum_j q_j e^{-\beta d(x,\hat x_j)}` from a
Blahut–Arimoto fit on a fit split (:func:`fit_dual_potential`), this is Blahut's bound [4]_
for the true source. Evaluated on held-out samples, the first term is an unbiased mean; the
supremum of the empirical mean (found by multi-start ascent) over-estimates the supremum of
the mean (conservative) but its logarithm is biased by :math:`O(1/n)` the other way, so the
guarantee is **asymptotic**: the interval (delta method at the maximiser) covers the bound
as :math:`n\to\infty`. :mod:`rdtheory.empirical.lcb` turns it into a finite-n guarantee.

All rates are returned in bits.

References
----------
.. [1] T. Berger, "Rate Distortion Theory", Prentice-Hall, 1971 (Sec. 4.3: the Shannon
   lower bound); T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed.,
   Wiley, 2006 (Ch. 10, Problem 10.6 and Thm. 8.6.5).
.. [2] I. Csiszár, "On an extremum problem of information theory", Studia Sci. Math.
   Hungarica 9:57-71, 1974.
.. [3] Y. Yang and S. Mandt, "Towards Empirical Sandwich Bounds on the Rate-Distortion
   Function", ICLR 2022.
.. [4] R. E. Blahut, "Computation of channel capacity and rate-distortion functions",
   IEEE Trans. Inf. Theory 18(4):460-473, 1972.
.. [5] L. F. Kozachenko and N. N. Leonenko, "Sample estimate of the entropy of a random
   vector", Probl. Inf. Transm. 23(2):95-101, 1987; A. Kraskov, H. Stögbauer and
   P. Grassberger, "Estimating mutual information", Phys. Rev. E 69:066138, 2004 (Eq. 20);
   T. B. Berrett, R. J. Samworth and M. Yuan, "Efficient multivariate entropy estimation
   via k-nearest neighbour distances", Ann. Statist. 47(1):288-318, 2019.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp
from scipy import special, stats
from scipy.spatial import cKDTree

from .._validation import as_finite_array, as_samples, positive
from ..discrete import blahut_arimoto
from ..discrete import point_distortions
from ..info import LN2
from .channel import TILE_ENTRIES, _t_interval, channel_terms
from .record import RDBound

__all__ = ["EntropyEstimate", "kl_entropy", "shannon_lower_bound", "split_samples", "fit_dual_potential",
           "log_mean_kernel", "dual_bound"]


def check_point_distortion(distortion, x, y):
    """:func:`~rdtheory.discrete.point_distortions.check_point_distortion` in float64 (in float32
    the matmul form of squared error rounds differently on the two halves of a tile)."""
    with jax.enable_x64(True):
        return point_distortions.check_point_distortion(distortion, np.asarray(x, np.float64), np.asarray(y, np.float64))


def dense_matrix(distortion, x, y) -> np.ndarray:
    """:func:`~rdtheory.discrete.point_distortions.dense_matrix` computed in float64."""
    with jax.enable_x64(True):
        return point_distortions.dense_matrix(distortion, np.asarray(x, np.float64), np.asarray(y, np.float64))


class EntropyEstimate(NamedTuple):
    """Differential entropy estimate in bits, with its ``level`` interval (batch means)."""

    value: float
    interval: tuple[float, float]
    level: float
    k_nn: int
    n: int


def _check_level(level: float, name: str = "level") -> float:
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"{name} must be a number in (0, 1) (a confidence level); got {level!r}")
    return float(level)


def _kl_nats(x: np.ndarray, k_nn: int) -> float:
    """Kozachenko–Leonenko estimate (nats): psi(n) - psi(k) + log V_k + k_dim mean log eps."""
    n, k = x.shape
    eps = cKDTree(x).query(x, k=k_nn + 1)[0][:, k_nn]
    if np.any(eps <= 0):
        raise ValueError(f"samples have {int(np.sum(eps <= 0))} point(s) with {k_nn} exact duplicates; a "
                         "differential entropy needs a continuous source (drop duplicates or use a discrete method)")
    log_ball = 0.5 * k * math.log(math.pi) - special.gammaln(0.5 * k + 1)
    return float(special.digamma(n) - special.digamma(k_nn) + log_ball + k * np.mean(np.log(eps)))


def kl_entropy(samples, *, k_nn: int = 3, level: float = 0.95, batches: int = 10, seed: int = 0) -> EntropyEstimate:
    r"""Kozachenko–Leonenko differential entropy :math:`\hat h(X)` in bits, with an interval.

    :math:`\hat h = \psi(n) - \psi(k_{nn}) + \log V_k + \frac kn\sum_i\log\varepsilon_i`
    (nats), :math:`\varepsilon_i` the Euclidean distance from :math:`x_i` to its
    :math:`k_{nn}`-th neighbour, :math:`V_k` the volume of the unit ball ([5]_ of the module).
    The :math:`\psi` terms remove the estimator's bias for a locally uniform density; it is
    consistent, and for :math:`k \le 3` asymptotically normal with the efficient variance
    :math:`\mathrm{Var}\log f(X)/n` (Berrett et al.).

    Interval: the samples are split (seeded) into ``batches`` disjoint batches, the estimate
    computed on each, and ``value +- t_{B-1} sd/sqrt(B)`` reported: the batches are independent,
    so the spread is an honest variance estimate at size ``n/B`` scaled to ``n`` (the full
    estimate's residual bias, :math:`O(n^{-1/k})` for smooth densities, is not covered).

    Parameters
    ----------
    samples : array (n, k) or (n,)
        Draws of a continuous source (no duplicate points).
    k_nn : int
        Neighbour order (default 3).
    level : float
        Confidence level of the interval.
    batches : int
        Number of disjoint batches for the interval (>= 2; each needs >= k_nn + 2 samples).
    seed : int
        Seed of the batch split.
    """
    if not isinstance(k_nn, (int, np.integer)) or k_nn < 1:
        raise ValueError(f"k_nn must be an integer >= 1 (the neighbour order); got {k_nn!r}")
    if not isinstance(batches, (int, np.integer)) or batches < 2:
        raise ValueError(f"batches must be an integer >= 2; got {batches!r}")
    level = _check_level(level)
    x = as_samples(samples, "samples", min_n=batches * (k_nn + 2))
    h = _kl_nats(x, k_nn)
    idx = np.random.default_rng(seed).permutation(x.shape[0])
    hb = np.array([_kl_nats(x[part], k_nn) for part in np.array_split(idx, batches)])
    half = stats.t.ppf(0.5 + level / 2, batches - 1) * np.std(hb, ddof=1) / math.sqrt(batches)
    return EntropyEstimate(h / LN2, ((h - half) / LN2, (h + half) / LN2), level, int(k_nn), int(x.shape[0]))


#: log2 of the maximum-entropy noise term (bits) of each difference distortion, given (D, k).
SLB_NOISE_BITS = {
    "squared": lambda D, k: 0.5 * k * np.log2(2 * math.pi * math.e * D / k),
    "absolute": lambda D, k: k * np.log2(2 * math.e * D / k),
}


def _check_D(D, name: str = "D") -> np.ndarray:
    D = np.atleast_1d(as_finite_array(D, name, ndim=(0, 1)))
    if np.any(D <= 0):
        raise ValueError(f"{name} must be > 0 (target distortions); got {D[D <= 0][:3].tolist()}")
    return D


def shannon_lower_bound(samples, D, distortion: str = "squared", *, k_nn: int = 3, level: float = 0.95,
                        batches: int = 10, seed: int = 0) -> RDBound:
    r"""Shannon lower bound :math:`R(D) \ge \hat h(X) - \text{noise}(D)` in bits at each ``D``.

    See the module docstring for the forms. ``rate`` is :math:`\max(0, \cdot)` of the bound
    with the point estimate of :math:`h`; ``interval`` is the bound at the ends of
    :func:`kl_entropy`'s interval. An *estimate* of a lower bound with an asymptotic
    interval, not a finite-n guarantee (see the module docstring). Nothing is fitted
    (``n_fit = 0``).

    Parameters
    ----------
    samples : array (n, k)
        Draws of a continuous source.
    D : float or array (p,)
        Distortions > 0 (total over the ``k`` coordinates, in the units of ``distortion``).
    distortion : {"squared", "absolute"}
        :math:`\|x-\hat x\|_2^2` or :math:`\|x-\hat x\|_1`.
    """
    if distortion not in SLB_NOISE_BITS:
        raise ValueError(f"distortion must be one of {sorted(SLB_NOISE_BITS)} (a difference distortion with a "
                         f"known maximum-entropy noise); got {distortion!r}")
    D = _check_D(D)
    h = kl_entropy(samples, k_nn=k_nn, level=level, batches=batches, seed=seed)
    k = np.shape(as_samples(samples))[1]
    noise = SLB_NOISE_BITS[distortion](D, k)
    iv = np.maximum(np.stack([h.interval[0] - noise, h.interval[1] - noise], axis=1), 0.0)
    return RDBound("shannon", "lower", D, np.maximum(h.value - noise, 0.0), iv, level, np.full(D.shape, np.nan),
                   np.zeros(D.shape, bool), 0, h.n,
                   dict(entropy_bits=h.value, entropy_interval=h.interval, k_nn=k_nn, batches=batches, seed=seed,
                        guarantee="estimate of a lower bound; asymptotic interval"))


# ------------------------------------------------------------------------------------------
# Csiszár's dual bound
# ------------------------------------------------------------------------------------------

def split_samples(samples, fit_fraction: float, seed: int, *, min_eval: int = 2):
    """Seeded disjoint (fit, eval) split of the rows of ``samples``."""
    x = as_samples(samples, "samples", min_n=2)
    if not 0 < fit_fraction < 1:
        raise ValueError(f"fit_fraction must be in (0, 1); got {fit_fraction!r}")
    n_fit = int(round(fit_fraction * x.shape[0]))
    if n_fit < 1 or x.shape[0] - n_fit < min_eval:
        raise ValueError(f"samples has {x.shape[0]} rows: too few to split into a fit part and at least "
                         f"{min_eval} held-out rows at fit_fraction={fit_fraction}; pass more samples")
    idx = np.random.default_rng(seed).permutation(x.shape[0])
    return x[idx[:n_fit]], x[idx[n_fit:]]


def _check_betas(betas) -> np.ndarray:
    b = np.atleast_1d(positive(betas, "betas"))
    if b.ndim != 1:
        raise ValueError(f"betas must be a number or a 1-D array of slopes; got shape {b.shape}")
    return b


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


def dual_bound(samples, D=None, distortion="squared", *, betas, fit_fraction: float = 0.5, atoms=None,
               reproduction=None, level: float = 0.95, starts: int = 32, steps: int = 100,
               seed: int = 0) -> RDBound:
    r"""Csiszár's dual lower bound (bits) with :math:`\lambda = 1/Z_q` fitted on a split.

    Parameters
    ----------
    samples : array (n, k)
        Source draws; a seeded ``fit_fraction`` of them fits :math:`q_\beta`
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
    x_fit, x_eval = split_samples(samples, fit_fraction, seed)
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
