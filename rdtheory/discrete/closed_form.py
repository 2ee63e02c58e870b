r"""Closed-form rate-distortion functions (bits), used by tests, checks and docs.

Each function takes the distortion ``D`` (scalar or array) and returns ``R(D)`` in bits.

References
----------
.. [1] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Thm. 10.3.1: Bernoulli source, Hamming distortion; Thm. 10.3.2: Gaussian source, squared
   error; Ch. 10 problems: uniform source with Hamming distortion, erasure distortion, and the
   bound R(D) <= 1/2 log(Var/D) of any source under squared error). The bracket of
   :func:`gaussian_grid_bracket` is derived in its docstring from these; it has no separate
   published source.
"""
from __future__ import annotations

import numpy as np

from ..info import binary_entropy

__all__ = ["binary_hamming", "mary_hamming", "gaussian_squared", "discretised_gaussian",
           "gaussian_grid_bracket", "erasure", "erasure_matrix"]


def _d(D):
    """``D`` as a float64 array; ValueError unless every entry is finite and >= 0."""
    try:
        D = np.asarray(D, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"D must be a number or an array of numbers; got {type(D).__name__}") from None
    if np.any(~np.isfinite(D)) or np.any(D < 0):
        bad = D[~(np.isfinite(D) & (D >= 0))].ravel()[:3].tolist()
        raise ValueError(f"D must be finite and >= 0 (a distortion); got {bad}")
    return D


def _count(m, name: str, least: int) -> int:
    """An alphabet size: an integer >= ``least`` (ValueError otherwise, naming ``name``)."""
    if isinstance(m, (bool, np.bool_)) or not isinstance(m, (int, np.integer)) or m < least:
        raise ValueError(f"{name} must be an integer >= {least} (an alphabet size); got {m!r}")
    return int(m)


def _positive(x, name: str, what: str) -> float:
    """A finite number > 0 (ValueError otherwise, naming ``name``)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0 ({what}); got {x!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0 ({what}); got {x!r}")
    return v


def binary_hamming(D, p: float = 0.5):
    r"""Bernoulli(p) source, Hamming distortion: :math:`R(D) = h(p) - h(D)` for
    :math:`0 \le D < \min(p, 1-p)`, else 0 (Cover & Thomas [1]_, Thm. 10.3.1)."""
    D = _d(D)
    if not 0 <= p <= 1:
        raise ValueError(f"p must be a probability in [0, 1] (the Bernoulli parameter); got {p!r}")
    dmax = min(p, 1 - p)
    out = np.where(D < dmax, binary_entropy(p) - binary_entropy(np.minimum(D, dmax)), 0.0)
    return float(out) if out.ndim == 0 else out


def mary_hamming(D, m: int):
    r"""Uniform source on m symbols, Hamming distortion:
    :math:`R(D) = \log_2 m - h(D) - D\log_2(m-1)` for :math:`0 \le D \le 1 - 1/m`, else 0.

    The uniform-source Hamming problem of Ch. 10 of Cover & Thomas [1]_.
    """
    D = _d(D)
    m = _count(m, "m", 2)
    Dc = np.minimum(D, 1 - 1 / m)
    out = np.log2(m) - binary_entropy(Dc) - Dc * np.log2(m - 1)
    out = np.where(D < 1 - 1 / m, np.maximum(out, 0.0), 0.0)
    return float(out) if out.ndim == 0 else out


def gaussian_squared(D, variance: float = 1.0):
    r"""Gaussian N(0, σ²) with squared error: :math:`R(D) = \max(0, \tfrac12\log_2(σ^2/D))`.

    Cover & Thomas [1]_, Thm. 10.3.2.
    """
    D = _d(D)
    variance = _positive(variance, "variance", "the source variance sigma^2")
    with np.errstate(divide="ignore"):
        out = np.maximum(0.0, 0.5 * np.log2(variance / D))
    return float(out) if out.ndim == 0 else out


def erasure(D, m: int):
    r"""Uniform source on m symbols with *erasure* distortion: reproduction alphabet
    :math:`\{0..m-1\} \cup \{e\}`, :math:`d(x,x)=0`, :math:`d(x,e)=1`, and :math:`d(x,\hat x)=\infty`
    otherwise. :math:`R(D) = (1-D)\log_2 m` for :math:`0 \le D \le 1` (each symbol is either
    sent exactly or erased). See :func:`erasure_matrix` for the matrix (with ``inf``
    replaced by a finite penalty L; the finite-L R(D) is below the closed form and above
    it minus :math:`\log_2(1 + (m-1)e^{-\beta L})`-order terms, negligible for βL > 40).

    The erasure-distortion problem of Ch. 10 of Cover & Thomas [1]_.
    """
    D = _d(D)
    m = _count(m, "m", 1)
    out = np.clip(1 - D, 0, 1) * np.log2(m)
    return float(out) if out.ndim == 0 else out


def erasure_matrix(m: int, penalty: float = 1e3) -> np.ndarray:
    """(m, m+1) erasure distortion: 0 on the diagonal, 1 in the erasure column, ``penalty`` elsewhere."""
    m = _count(m, "m", 1)
    penalty = _positive(penalty, "penalty", "the finite stand-in for an infinite distortion, e.g. 1e3")
    d = np.full((m, m + 1), penalty)
    d[np.arange(m), np.arange(m)] = 0.0
    d[:, m] = 1.0
    return d


def discretised_gaussian(n: int, variance: float = 1.0, width: float = 8.0):
    r"""A Gaussian discretised on ``n`` equal cells of ``[-width σ, width σ]``.

    Returns ``(values, p)`` with cell midpoints and cell probabilities (renormalised).
    Its R(D) with squared error approaches :func:`gaussian_squared` as the grid refines;
    :func:`gaussian_grid_bracket` bounds how far it can be.
    """
    from scipy.stats import norm

    n = _count(n, "n", 1)
    variance = _positive(variance, "variance", "the source variance sigma^2")
    width = _positive(width, "width", "half-width of the grid in standard deviations")
    s = np.sqrt(variance)
    edges = np.linspace(-width * s, width * s, n + 1)
    p = np.diff(norm.cdf(edges / s))
    p = p / p.sum()
    return 0.5 * (edges[1:] + edges[:-1]), p


def gaussian_grid_bracket(D, values, p, variance: float = 1.0):
    r"""Rigorous bracket on R(D) of a discretised Gaussian with grid reproduction (bits).

    Derived here, not taken from a publication; it combines Thm. 10.3.2 of Cover & Thomas [1]_ with
    the Ch. 10 bound R(D) <= 1/2 log(Var/D) for any source under squared error.

    Let X ~ N(0, σ²), :math:`X_d` its cell midpoint on a grid of cell width ``h`` (so
    :math:`|X - X_d| \le h/2`), and :math:`R_{grid}` the R(D) of :math:`X_d` with reproduction
    restricted to the same grid. Then, for squared error,

    .. math:: \tfrac12\log_2\frac{σ^2}{(\sqrt D + h/2)^2} \;\le\; R_{grid}(D) \;\le\;
              \tfrac12\log_2\frac{\mathrm{Var}(X_d)}{(\sqrt D - h/2)^2}.

    Lower: a grid code for :math:`X_d` at distortion D serves X at distortion
    :math:`\le(\sqrt D + h/2)^2` (Minkowski) with no more information (Markov chain
    :math:`X - X_d - \hat X`). Upper: the Gaussian bound :math:`R(D) \le \tfrac12\log(\mathrm{Var}/D)`
    holds for any source, and rounding the reproduction to the grid costs at most h/2 in
    L2. The bracket width is O(h/√D): it is the discretisation error of the comparison.
    Both sides are clipped at 0 and the upper side at :math:`H(X_d)`.
    """
    from ..info import entropy

    D = _d(D)
    variance = _positive(variance, "variance", "the source variance sigma^2")
    values = np.asarray(values, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    h = float(np.min(np.diff(np.sort(values))))
    var_d = float(p @ values**2 - (p @ values) ** 2)
    lo = np.maximum(0.0, 0.5 * np.log2(variance / (np.sqrt(D) + h / 2) ** 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        hi = np.where(np.sqrt(D) > h / 2, 0.5 * np.log2(var_d / (np.sqrt(D) - h / 2) ** 2), np.inf)
    hi = np.clip(hi, 0.0, entropy(p))
    return lo, hi
