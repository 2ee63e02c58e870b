r"""Plug-in Blahut–Arimoto on samples: R(D) of the empirical measure, scored on held-out data.

The samples are split (seeded) into a *fit* part :math:`x_1..x_n` and a *held-out* part.

1. **Empirical measure.** :math:`\hat P_n = \frac1n\sum_i \delta_{x_i}` with a finite
   reproduction alphabet :math:`\hat x_1..\hat x_m` (:func:`reproduction_atoms`: the fit
   samples themselves, a random subset of them, or k-means centres) is a finite R(D)
   problem; the engine (:mod:`rdtheory.discrete`) solves it at each slope :math:`\beta` with
   Blahut's certificate ``lower <= R_n(D) <= rate``. This is the plug-in estimate of
   Harrison & Kontoyiannis [2]_ (consistent as :math:`n\to\infty` with the samples as
   alphabet), returned with ``kind="plug-in"``: an *estimate* of the true :math:`R(D)`,
   not a bound on it, and ``interval`` is the certified bracket of :math:`R_n` (``level`` 1:
   a statement about the empirical measure, not a sampling interval).
2. **Held-out upper bound.** The solved output marginal :math:`r_\beta` on the atoms and the
   slope define a test channel; :func:`~rdtheory.empirical.channel.heldout_bound` scores it
   on the held-out samples, giving a rate that upper-bounds the *true* source's
   :math:`R` at the held-out distortion, with Student-t intervals. This is the record
   :func:`plugin_rd` returns first (``kind="upper"``) and what ``estimate_rd(...,
   method="plugin")`` returns; the plug-in curve rides along in ``info["empirical"]``.

**The cap.** With :math:`m` atoms, :math:`R_n(D) \le \log_2 m` (and
:math:`\le H(\hat P_n) \le \log_2 n`), and the held-out channel's rate is bounded by the same
ceiling, whereas the true :math:`R(D)\to\infty` as :math:`D\to 0` for a continuous source.
Points within :data:`CAP_MARGIN_BITS` of the ceiling are flagged ``capped`` and a
:class:`CappedWarning` is issued, unless every held-out sample *is* one of the atoms (a
discrete source whose support the alphabet covers: there the ceiling is the source's own
entropy, not an artefact).

References
----------
.. [1] R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE
   Trans. Inf. Theory 18(4):460-473, 1972.
.. [2] M. T. Harrison and I. Kontoyiannis, "Estimation of the rate-distortion function",
   IEEE Trans. Inf. Theory 54(8):3757-3763, 2008.
.. [3] S. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28(2):129-137,
   1982 (k-means centres as the alphabet).
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
import jax

from .._validation import as_finite_array, as_samples
from ..discrete import certified_search
from ..discrete.curves import _sequential
from ..discrete.matrix_free import rd_points
from ..discrete.point_distortions import check_point_distortion, dense_matrix
from .channel import heldout_bound
from .estimate import check_targets, register_method, split_samples
from .record import RDBound

__all__ = ["plugin_rd", "PluginFit", "reproduction_atoms", "data_betas", "CappedWarning",
           "CAP_MARGIN_BITS", "DENSE_MAX_ENTRIES", "ALPHABETS"]

#: Points whose rate is within this many bits of the ceiling :math:`\log_2 m` are flagged.
#: Reason: within 3 bits the channel spreads over the equivalent of at least m/8 atoms, and
#: there the alphabet, not the source, drives the rate. Measured on Gaussian samples with
#: m = 400 atoms (ceiling 8.64 bits; ``docs/empirical.md``), the plug-in rate at 3 bits under
#: the ceiling was below the true R at the same distortion by 0.34 / 0.64 / 1.7 bits in
#: 1 / 2 / 4 dimensions, and by more the closer it came. The flag catches the ceiling
#: only: the plug-in estimate of a continuous source is biased low well before it (0.1 bits
#: at about 5 / 7 / 7.5 bits under the ceiling in 1 / 2 / 4 dimensions, one seed each); the
#: held-out upper bound is what is guaranteed, and ``info["overfit_ratio"]`` (held-out over
#: fit distortion) shows where the bias sets in.
CAP_MARGIN_BITS = 3.0

#: Largest ``n x m`` distortion matrix the dense engine is given (float64: 256 MiB); larger
#: problems go to the matrix-free tiled solver (slopes only; far slower per solve on a CPU,
#: see docs/engine.md, "Kernels beyond memory").
DENSE_MAX_ENTRIES = 1 << 25

#: Bytes of conditionals q (n x m float64, one per slope) the dense engine holds at once.
CHUNK_BYTES = 1 << 29

#: Reproduction alphabets :func:`reproduction_atoms` builds.
ALPHABETS = ("samples", "subset", "kmeans")

#: Default number of atoms for ``alphabet="subset"`` / ``"kmeans"`` (capped at n_fit).
DEFAULT_ATOMS = 512


class CappedWarning(UserWarning):
    """Some rates are within :data:`CAP_MARGIN_BITS` of the method's ceiling (flagged ``capped``)."""


class PluginFit(NamedTuple):
    """:func:`plugin_rd`'s answer: the held-out upper bound and the empirical-measure curve."""

    upper: RDBound
    empirical: RDBound


class _Solved(NamedTuple):
    """The engine's answer on the empirical measure, one entry per slope (sorted by beta)."""

    beta: np.ndarray        # (K,) nats per unit distortion
    rate: np.ndarray        # (K,) achievable rate of R_n (bits)
    lower: np.ndarray       # (K,) certified lower bound (bits)
    distortion: np.ndarray  # (K,) distortion on the fit samples
    r: np.ndarray           # (K, m) output marginal on ``atoms``
    atoms: np.ndarray       # (m, k) the distinct atoms ``r`` lives on
    n_support: int          # distinct fit samples
    converged: np.ndarray   # (K,) bool


def reproduction_atoms(x_fit, alphabet="samples", n_atoms: int | None = None, seed: int = 0) -> np.ndarray:
    """The reproduction alphabet (m, k): ``"samples"`` (the fit samples), ``"subset"`` (``n_atoms``
    of them drawn without replacement), ``"kmeans"`` (``n_atoms`` k-means centres, Lloyd [3]_ as
    in scikit-learn, seeded), or an explicit ``(m, k)`` array. ``n_atoms`` defaults to
    ``min(n_fit, DEFAULT_ATOMS)``."""
    x_fit = as_samples(x_fit, "x_fit", min_n=1)
    if not isinstance(alphabet, str):
        return as_samples(alphabet, "alphabet", min_n=1, dim=x_fit.shape[1])
    if alphabet not in ALPHABETS:
        raise ValueError(f"alphabet must be one of {ALPHABETS} or an (m, k) array of atoms; got {alphabet!r}")
    if alphabet == "samples":
        if n_atoms is not None:
            raise ValueError("n_atoms applies to alphabet='subset' or 'kmeans'; alphabet='samples' uses every fit sample")
        return x_fit
    n_fit = x_fit.shape[0]
    m = min(n_fit, DEFAULT_ATOMS) if n_atoms is None else n_atoms
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= n_fit:
        raise ValueError(f"n_atoms must be an integer in [1, {n_fit}] (at most the fit samples); got {n_atoms!r}")
    if alphabet == "subset":
        return x_fit[np.sort(np.random.default_rng(seed).choice(n_fit, int(m), replace=False))]
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=int(m), random_state=seed, n_init=1).fit(x_fit)
    return np.asarray(km.cluster_centers_, dtype=np.float64)


def data_betas(x_fit, atoms, distortion="squared", num: int = 24, probe: int = 512) -> np.ndarray:
    r"""A geometric slope grid (nats per unit distortion) read off the distortions of the data.

    From :math:`0.1/s` (:math:`s` the mean excess distortion over each sample's nearest atom:
    the curve is flat there) to :math:`30/\delta` (:math:`\delta` the median over samples of
    the smallest positive excess, so a typical sample keeps :math:`e^{-30}` of its mass off
    its nearest atom: the curve's capped end). Computed on the first ``probe`` samples and
    atoms (the fit part is already a random permutation).
    """
    fn = check_point_distortion(distortion, x_fit, atoms)
    d = dense_matrix(fn, np.asarray(x_fit)[:probe], np.asarray(atoms)[:probe])
    excess = d - d.min(1, keepdims=True)
    spread = float(excess.mean())
    pos = np.where(excess > 0, excess, np.inf).min(1)
    pos = pos[np.isfinite(pos)]
    if not spread > 0 or pos.size == 0:
        raise ValueError("the distortion between the samples and the atoms is constant: R(D) = 0 everywhere")
    lo, hi = 0.1 / spread, 30.0 / float(np.median(pos))
    return np.geomspace(lo, max(hi, 10 * lo), num)


def _empirical_measure(x_fit, atoms):
    """(distinct fit samples, their weights p, distinct atoms)."""
    support, counts = np.unique(x_fit, axis=0, return_counts=True)
    return support, counts / counts.sum(), np.unique(atoms, axis=0)


def _solve_atoms(x_fit, atoms, distortion, *, betas=None, targets=None, tol=1e-6, progress=False) -> _Solved:
    """R(D) of the empirical measure of ``x_fit`` with reproduction ``atoms``, certified.

    The one place the engine is called. Up to :data:`DENSE_MAX_ENTRIES` kernel entries: the
    dense engine (``rd_curve``'s warm-started slope-by-slope solver, or ``certified_search`` at
    target distortions); beyond: the matrix-free tiled solver
    (:func:`~rdtheory.discrete.matrix_free.rd_points`, slopes only), warm-started along the
    slopes. ``targets`` below the least achievable distortion raise ``ValueError``.
    """
    fn = check_point_distortion(distortion, x_fit, atoms)
    support, p, atoms = _empirical_measure(x_fit, atoms)
    if support.shape[0] * atoms.shape[0] > DENSE_MAX_ENTRIES:
        if targets is not None:
            raise ValueError(f"{support.shape[0]} distinct samples x {atoms.shape[0]} atoms exceeds the dense engine's "
                             f"{DENSE_MAX_ENTRIES} entries, and target distortions need it: pass betas=, or "
                             f"alphabet='kmeans' / 'subset' with fewer n_atoms")
        return _solve_tiled(support, p, atoms, fn, np.sort(betas), tol, progress)
    d = dense_matrix(fn, support, atoms)
    n_support = support.shape[0]
    if targets is not None:
        d_min = float(p @ d.min(axis=1))
        low = np.asarray(targets) < d_min
        if np.any(low):
            raise ValueError(f"distortions {np.asarray(targets)[low][:3].tolist()} are below D_min = {d_min:.6g}, the "
                             f"least distortion the empirical measure reaches with these {atoms.shape[0]} atoms (each "
                             f"sample at its nearest atom); pass distortions >= D_min, or more atoms / alphabet='samples'")
        res = certified_search(p, d, targets, at="distortion", tol=tol, beta_rtol=1e-3)
        r = np.einsum("n,knm->km", p, res.q[0])
        beta = np.where(res.beta[0] > 0, res.beta[0], 1.0)  # the zero-rate answer: any slope, r is a point mass
        return _Solved(beta, res.rate[0], res.lower[0], res.distortion[0], r, atoms, n_support, res.converged[0])
    betas = np.sort(betas)
    # rd_curve's slope-by-slope warm-started solver; chunks bound the conditionals held at once
    chunk = max(1, CHUNK_BYTES // (8 * d.size))
    starts = range(0, betas.size, chunk)
    bar = progress and len(starts) > 1     # a bar over chunks; one chunk: rd_curve's bar over slopes
    if bar:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="plug-in BA", unit="chunk")
    out = []
    for s in starts:
        out += [o._replace(q=None) for o in _sequential(p, d, betas[s:s + chunk], tol=tol, dtype="float64",
                                                        newton_size="auto", max_iter=100_000,
                                                        progress=progress and not bar)]
    cat = lambda f: np.array([np.asarray(getattr(o, f)) for o in out])
    return _Solved(cat("beta"), cat("rate"), cat("lower"), cat("distortion"), cat("r"), atoms, n_support,
                   cat("converged").astype(bool))


def _solve_tiled(support, p, atoms, fn, betas, tol, progress) -> _Solved:
    """Slope by slope on the matrix-free path, each solve started from the previous marginal."""
    it = betas
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(betas, desc="plug-in BA (tiled)", unit="slope")
    out, init = [], None
    for b in it:
        res = rd_points(support, atoms, beta=float(b), distortion=fn, p=p, tol=tol, init=init, path="tiled")
        out.append(res)
        init = np.maximum(np.asarray(res.r), 1e-300)   # eliminated points keep a sliver: they may return
    cat = lambda f: np.array([np.asarray(getattr(o, f)) for o in out])
    return _Solved(cat("beta"), cat("rate"), cat("lower"), cat("distortion"), cat("r"), atoms, support.shape[0],
                   cat("converged").astype(bool))


def _covers(x_eval, atoms) -> bool:
    """Whether every held-out sample is (bit for bit) one of the atoms."""
    have = {row.tobytes() for row in np.ascontiguousarray(atoms)}
    return all(row.tobytes() in have for row in np.ascontiguousarray(x_eval))


def _ratio(heldout_d, fit_d) -> np.ndarray:
    """Held-out over fit distortion at each slope (1 when both are 0): above 1, the empirical
    channel fits the fit samples better than new ones, and the plug-in rate is biased low."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(fit_d > 0, heldout_d / np.where(fit_d > 0, fit_d, 1.0), np.where(heldout_d > 0, np.inf, 1.0))


def _cap(rate, ceiling: float, margin: float, covered: bool) -> np.ndarray:
    return np.zeros(np.shape(rate), bool) if covered else np.asarray(rate) >= ceiling - margin


def plugin_rd(x, distortion="squared", *, betas=None, distortions=None, holdout: float = 0.5,
              alphabet="samples", n_atoms: int | None = None, num: int = 24, level: float = 0.95,
              seed: int = 0, tol: float = 1e-6, cap_margin: float = CAP_MARGIN_BITS,
              progress: bool = False) -> PluginFit:
    r"""Plug-in R(D) of samples ``x`` (n, k) and its held-out upper bound (bits).

    Parameters
    ----------
    x : array (n, k) or (n,)
        Samples (rows), at least 2 in each of the fit and held-out parts.
    distortion : str or callable
        A point distortion (:mod:`rdtheory.discrete.point_distortions`).
    betas : array, optional
        Slopes in nats per unit distortion; default :func:`data_betas` with ``num`` points.
    distortions : array, optional
        Target distortions of the empirical measure instead of slopes (certified search;
        ``ValueError`` below its least achievable distortion).
    holdout : float
        Share of the samples held out for scoring, in (0, 1).
    alphabet, n_atoms
        The reproduction alphabet (:func:`reproduction_atoms`).
    level : float
        Confidence level of the held-out intervals.
    seed : int
        Seeds the split, the subset and k-means; equal seeds give bit-identical results.
    tol : float
        Certified gap of the engine on the empirical measure (bits).
    cap_margin : float
        Bits under the ceiling :math:`\log_2 m` from which points are flagged ``capped``.

    Returns
    -------
    PluginFit
        ``upper`` (``kind="upper"``, held-out) and ``empirical`` (``kind="plug-in"``), each
        sorted by increasing slope. See the module docstring for what each guarantees.
    """
    with jax.enable_x64(True):  # float64 tiles: a float32 matmul differs between tile halves
        return _plugin_rd(x, distortion, betas, distortions, holdout, alphabet, n_atoms, num, level, seed, tol,
                          cap_margin, progress)


def _plugin_rd(x, distortion, betas, distortions, holdout, alphabet, n_atoms, num, level, seed, tol, cap_margin,
               progress) -> PluginFit:
    x = as_samples(x, "samples")
    if not (isinstance(cap_margin, (int, float)) and math.isfinite(cap_margin) and cap_margin >= 0):
        raise ValueError(f"cap_margin must be a finite number of bits >= 0; got {cap_margin!r}")
    x_fit, x_eval = split_samples(x, holdout, seed)
    atoms = reproduction_atoms(x_fit, alphabet, n_atoms, seed)
    fn = check_point_distortion(distortion, x_fit, atoms)
    if distortions is not None:
        if betas is not None:
            raise ValueError("give betas (slopes) or distortions (targets), not both")
        distortions = check_targets(distortions)
        sol = _solve_atoms(x_fit, atoms, fn, targets=distortions, tol=tol)
    else:
        if betas is None:
            betas = data_betas(x_fit, atoms, fn, num)
        betas = as_finite_array(betas, "betas", ndim=(0, 1)).reshape(-1)
        if np.any(betas <= 0):
            raise ValueError("betas must all be > 0 (nats per unit distortion)")
        sol = _solve_atoms(x_fit, atoms, fn, betas=betas, tol=tol, progress=progress)
    covered = _covers(x_eval, sol.atoms)
    emp = _empirical_record(sol, x_fit.shape[0], cap_margin, covered)
    upper = _heldout_record(sol, x_eval, fn, level, cap_margin, covered, n_fit=x_fit.shape[0], progress=progress)
    upper.info.update(alphabet=alphabet if isinstance(alphabet, str) else "array", holdout=holdout, seed=seed,
                      empirical=emp.as_rows(), empirical_gap_max=float(np.max(sol.rate - sol.lower)),
                      overfit_ratio=_ratio(upper.distortion, sol.distortion).tolist())
    _warn_capped(upper, emp, cap_margin)
    return PluginFit(upper, emp)


def _empirical_record(sol: _Solved, n_fit: int, cap_margin: float, covered: bool) -> RDBound:
    """The plug-in curve: R_n with its certified bracket (level 1), capped under log2 min(m, n)."""
    ceiling = math.log2(min(sol.atoms.shape[0], sol.n_support))
    return RDBound(method="plugin", kind="plug-in", distortion=sol.distortion, rate=sol.rate,
                   interval=np.stack([sol.lower, sol.rate], 1), level=1.0, beta=sol.beta,
                   capped=_cap(sol.rate, ceiling, cap_margin, covered), n_fit=n_fit, n_eval=0,
                   info=dict(gap=(sol.rate - sol.lower).tolist(), converged=sol.converged.tolist(),
                             ceiling_bits=ceiling, n_atoms=sol.atoms.shape[0], n_support=sol.n_support))


def _heldout_record(sol: _Solved, x_eval, fn, level: float, cap_margin: float, covered: bool, *, n_fit: int,
                    progress: bool) -> RDBound:
    """Each solved (r, beta) scored on ``x_eval`` by :func:`heldout_bound`, capped under log2 m."""
    slopes = list(zip(sol.beta, sol.r))
    if progress:
        from tqdm.auto import tqdm

        slopes = tqdm(slopes, desc="held-out score", unit="slope")
    scores = [heldout_bound(x_eval, sol.atoms, r, float(beta), fn, level=level) for beta, r in slopes]
    col = lambda key: np.array([s[key] for s in scores])
    ceiling = math.log2(sol.atoms.shape[0])
    return RDBound(method="plugin", kind="upper", distortion=col("distortion"), rate=col("rate"),
                   interval=col("rate_interval"), level=level, beta=sol.beta,
                   capped=_cap(col("rate"), ceiling, cap_margin, covered), n_fit=n_fit, n_eval=x_eval.shape[0],
                   info=dict(distortion_interval=col("distortion_interval").tolist(), n_atoms=sol.atoms.shape[0],
                             channel=dict(atoms=sol.atoms, weights=sol.r),
                             ceiling_bits=ceiling, cap_margin_bits=cap_margin, covered=covered))


def _warn_capped(upper: RDBound, emp: RDBound, margin: float) -> None:
    k = int(upper.capped.sum() + emp.capped.sum())
    if k:
        warnings.warn(CappedWarning(
            f"{int(upper.capped.sum())} held-out and {int(emp.capped.sum())} plug-in points are within {margin:g} bits "
            f"of the ceiling log2(#atoms) = {upper.info['ceiling_bits']:.3g} bits (flagged capped=True): there the "
            f"alphabet, not the source, sets the rate. Use more samples/atoms or smaller slopes"), stacklevel=4)


@register_method("plugin", accepts=plugin_rd)
def _plugin_method(x, distortion, *, betas=None, holdout=0.5, level=0.95, seed=0, progress=True, **options) -> RDBound:
    """``estimate_rd`` adapter: the held-out upper bound, the plug-in curve in ``info["empirical"]``."""
    return plugin_rd(x, distortion, betas=betas, holdout=holdout, level=level, seed=seed, progress=progress,
                     **options).upper
