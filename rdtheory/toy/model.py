"""The circles/squares model itself (Sec. III-B.1): the input distribution, the layer maps
g and h, samples, and the task-appropriateness ρ at X and Y, analytic and sampled. The model
and the closed forms are derived in :mod:`rdtheory.toy`'s docstring."""
from __future__ import annotations

import dataclasses

import numpy as np


from ..appropriateness import (RhoInterval, TaskAppropriateness, bootstrap_rho, rho_from_moments,
                               task_appropriateness)

SQUARE, CIRCLE = 0, 1
CLASS_NAMES = ("square", "circle")
U_RANGE = (0.0, 10.0)
V_RANGE = {SQUARE: (0.8, 1.2), CIRCLE: (2.8, 3.2)}
RADIUS = 0.2
CENTRE_Y = {CIRCLE: (2.5, 3.0), SQUARE: (7.5, 1.0)}
LAYERS = ("x", "y")


def _layer(layer: str) -> str:
    key = str(layer).lower()
    if key not in LAYERS:
        raise ValueError(f"layer must be 'x' (the input) or 'y' (the intermediate layer g(x)); got {layer!r}")
    return key


def _points(p, name: str) -> np.ndarray:
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2) (columns u, v); got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN/inf")
    return arr


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ToySample:
    """Samples of the toy model: ``x`` (n, 2) inputs (u, v), ``labels`` (n,) 0 = square,
    1 = circle, and ``y = g(x)`` (n, 2)."""

    x: np.ndarray
    labels: np.ndarray
    y: np.ndarray

    def layer(self, layer: str) -> np.ndarray:
        return self.x if _layer(layer) == "x" else self.y


def sample(n_per_class: int, *, seed: int = 0) -> ToySample:
    """Draw ``n_per_class`` squares and ``n_per_class`` circles (balanced, shuffled; seeded).

    Example
    -------
    >>> s = sample(3, seed=0)
    >>> s.x.shape, sorted(s.labels.tolist())
    ((6, 2), [0, 0, 0, 1, 1, 1])
    """
    if int(n_per_class) != n_per_class or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer; got {n_per_class}")
    n = int(n_per_class)
    rng = np.random.default_rng(seed)
    labels = np.repeat([SQUARE, CIRCLE], n)
    u = rng.uniform(*U_RANGE, 2 * n)
    v = np.r_[rng.uniform(*V_RANGE[SQUARE], n), rng.uniform(*V_RANGE[CIRCLE], n)]
    perm = rng.permutation(2 * n)
    x = np.c_[u, v][perm]
    return ToySample(x=x, labels=labels[perm], y=g(x))


def g(x) -> np.ndarray:
    r"""The front-end :math:`g` of Sec. III-B.1: (n, 2) inputs -> (n, 2) intermediate features.

    ``np.sign`` gives sgn(0) = 0, as in the paper's formula (a measure-zero event).

    >>> g([[7.0, 3.0], [1.0, 1.0]]).tolist()
    [[2.7, 3.0], [7.3, 1.0]]
    """
    x = _points(x, "x")
    u, v = x[:, 0], x[:, 1]
    s = np.sign(u - 5.0)
    upper = v > 2.0
    centre_u = np.where(upper, CENTRE_Y[CIRCLE][0], CENTRE_Y[SQUARE][0])
    centre_v = np.where(upper, CENTRE_Y[CIRCLE][1], CENTRE_Y[SQUARE][1])
    return np.c_[centre_u + s * np.sqrt(np.abs(RADIUS ** 2 - (v - centre_v) ** 2)), v]


def h(y) -> np.ndarray:
    """The back-end :math:`h`: circle (1) if v > 2 else square (0). (n, 2) -> (n,) ints."""
    return (_points(y, "y")[:, 1] > 2.0).astype(np.int64)


def task_model(x) -> np.ndarray:
    """:math:`f = h \\circ g` on inputs (n, 2) -> (n,) labels (0 square, 1 circle)."""
    return h(g(x))


# --------------------------------------------------------------------------------------
# task-appropriateness
# --------------------------------------------------------------------------------------
def rho_analytic(layer: str) -> TaskAppropriateness:
    r"""Exact MSE task-appropriateness of the toy at ``layer`` ("x" or "y"), see module doc.

    Classes in order (square, circle); priors 1/2 each; normalisation "sum" (footnote 6).

    >>> round(rho_analytic("x").rho, 6), round(rho_analytic("y").rho, 9)
    (0.479233, 725.0)
    """
    if _layer(layer) == "x":
        var_u = (U_RANGE[1] - U_RANGE[0]) ** 2 / 12
        intra = [var_u + (V_RANGE[c][1] - V_RANGE[c][0]) ** 2 / 12 for c in (SQUARE, CIRCLE)]
        cents = [[sum(U_RANGE) / 2, sum(V_RANGE[c]) / 2] for c in (SQUARE, CIRCLE)]
    else:
        intra = [RADIUS ** 2, RADIUS ** 2]  # every point of Y lies on the circle of radius 0.2
        cents = [list(CENTRE_Y[SQUARE]), list(CENTRE_Y[CIRCLE])]
    return rho_from_moments(cents, intra, [0.5, 0.5], classes=np.array(CLASS_NAMES))


@dataclasses.dataclass(frozen=True)
class SampledRho:
    """Plug-in rho at one layer from ``n_per_class`` samples per class, with its interval."""

    layer: str
    n_per_class: int
    record: TaskAppropriateness
    interval: RhoInterval
    analytic: float

    @property
    def covers_analytic(self) -> bool:
        return self.interval.contains(self.analytic)


def rho_sampled(layer: str, n_per_class: int = 10_000, *, seed: int = 0, n_boot: int = 1000,
                confidence: float = 0.95) -> SampledRho:
    """Sampled rho at ``layer`` with a stratified percentile-bootstrap interval (seeded).

    >>> r = rho_sampled("y", 2000, seed=1, n_boot=200)
    >>> r.covers_analytic
    True
    """
    key = _layer(layer)
    s = sample(n_per_class, seed=seed)
    feats = s.layer(key)
    rec = task_appropriateness(feats, s.labels)
    ci = bootstrap_rho(feats, s.labels, n_boot=n_boot, confidence=confidence, seed=seed + 1)
    return SampledRho(layer=key, n_per_class=int(n_per_class), record=rec, interval=ci,
                      analytic=rho_analytic(key).rho)
