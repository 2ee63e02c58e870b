r"""Seeded random task models, the paper's structured cases, and counterexamples.

Random models (:func:`random_model`, :func:`random_models`) come in two kinds, the two the
paper discusses after Theorem 2:

- ``"classification"``: every layer map is onto the next layer's image and T is a set of
  classes, so :math:`\mathcal I_f(\mathcal X) = \mathcal T` and the image condition
  :math:`h(\hat{\mathcal Y}) \subseteq \mathcal I_f(\mathcal X)` holds trivially — even when
  hidden layers have ``extra`` feature values that no input produces.
- ``"regression"``: T is a grid of real values with squared error, only some of which are
  outputs of f; ``extra`` feature values of the hidden layer map to task values outside
  :math:`\mathcal I_f(\mathcal X)`, either inside the gaps between image values
  (``extra_where="inside"``: the image condition and Theorem 2.A's substitute both fail) or
  beyond its ends (``"outside"``: Theorem 2.A's condition holds).

Every generator takes an explicit ``seed``; the same seed gives the same model.

The counterexamples are small, hand-built and documented with their exact values
(``docs/machines.md``).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. II-B/C: the task model; Theorems 2 and 4,
   Corollary 4.1; App. A: Theorem 2.A).
"""
from __future__ import annotations

import numpy as np

from ..discrete import squared_error
from .model import FiniteTaskModel

__all__ = ["random_model", "random_models", "image_condition_counterexample", "theorem2a_model",
           "theorem4_injective_counterexample", "theorem4_equal_posteriors_counterexample",
           "distillation_example", "ambiguous_features"]


def _onto(rng, n_in: int, n_out: int) -> np.ndarray:
    """A random map {0..n_in-1} -> {0..n_out-1} that hits every output (needs n_in >= n_out)."""
    m = np.concatenate([rng.permutation(n_out), rng.integers(0, n_out, n_in - n_out)])
    return rng.permutation(m)


def _embedded(rng, n: int, dim: int = 2) -> np.ndarray:
    """Squared-error distortion of ``n`` random points in the unit square (a feature-space metric)."""
    return squared_error(rng.random((n, dim)))


def _random_metricish(rng, n: int) -> np.ndarray:
    d = rng.random((n, n)) + 0.05
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    return d


def random_model(seed: int, *, kind: str = "classification", n_x: int = 6, hidden=(4,), n_t: int = 3,
                 extra: int = 0, extra_where: str = "inside", task_distortion: str = "hamming",
                 layer_distortion: str = "embedded", zeros: int = 0) -> FiniteTaskModel:
    r"""A seeded random finite task model :math:`X \to Y_1 \to \dots \to T`.

    Parameters
    ----------
    seed : int
        Seed of the numpy generator (explicit, reproducible).
    kind : {"classification", "regression"}
        See the module docstring.
    n_x : int
        Input alphabet size.
    hidden : tuple of int
        Sizes of the images of the hidden layers (each map is onto its image); need
        ``n_x >= hidden[0] >= hidden[1] >= ... >= n_t`` (``n_t`` counts image values).
    n_t : int
        Number of task values that f produces. For regression T has ``2 n_t + 1`` grid values.
    extra : int
        Feature values added to the *last* hidden layer that no input produces.
    extra_where : {"inside", "outside"}
        Regression only: extra task values in the gaps of the image, or beyond its ends.
    task_distortion : {"hamming", "random"}
        Classification only: Hamming d_T or a random symmetric matrix with zero diagonal.
    layer_distortion : {"embedded", "random", "hamming"}
        d_X and d_Y: squared error of random points in the plane, random symmetric, or Hamming.
    zeros : int
        Number of inputs with p(x) = 0.
    """
    if kind not in ("classification", "regression"):
        raise ValueError(f"kind must be 'classification' or 'regression'; got {kind!r}")
    sizes = [n_x, *hidden, n_t]
    if any(a < b for a, b in zip(sizes, sizes[1:])) or n_t < 1 or not hidden:
        raise ValueError(f"need n_x >= hidden[0] >= ... >= n_t >= 1 and at least one hidden layer; got {sizes}")
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(n_x))
    if zeros:
        p[rng.choice(n_x, zeros, replace=False)] = 0.0
        p /= p.sum()
    maps = [_onto(rng, a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    layer_sizes = list(sizes[1:])
    if kind == "classification":
        t_sizes = n_t
        d_t = 1.0 - np.eye(n_t) if task_distortion == "hamming" else _random_metricish(rng, n_t)
        extra_targets = rng.integers(0, n_t, extra)
    else:
        # task values on a grid 0, 1, ..., 2 n_t; f produces the even ones (a subset)
        t_sizes = 2 * n_t + 1
        values = np.arange(t_sizes, dtype=np.float64)
        maps[-1] = 2 * maps[-1]
        d_t = squared_error(values) / float(n_t) ** 2
        if extra_where == "inside":       # odd grid values between two image values
            odd = np.arange(1, 2 * n_t - 2, 2)
            extra_targets = rng.choice(odd, extra) if odd.size else np.full(extra, 2 * n_t)
        elif extra_where == "outside":    # the grid value 2 n_t, beyond the largest image value
            extra_targets = np.full(extra, 2 * n_t)
        else:
            raise ValueError(f"extra_where must be 'inside' or 'outside'; got {extra_where!r}")
    layer_sizes[-1] = t_sizes
    if extra:
        last = len(maps) - 1
        layer_sizes[last - 1] += extra
        maps[last] = np.concatenate([maps[last], extra_targets])
    dist = []
    for n in [n_x, *layer_sizes[:-1]]:
        if layer_distortion == "embedded":
            dist.append(_embedded(rng, n))
        elif layer_distortion == "random":
            dist.append(_random_metricish(rng, n))
        else:
            dist.append(1.0 - np.eye(n))
    dist.append(d_t)
    return FiniteTaskModel(p, maps, sizes=layer_sizes, distortions=dist)


def random_models(seed: int, count: int, **kw) -> list[FiniteTaskModel]:
    """``count`` independent models of one shape (seeds spawned from ``seed``), for batched checks."""
    seeds = np.random.SeedSequence(seed).generate_state(count)
    return [random_model(int(s), **kw) for s in seeds]


def image_condition_counterexample() -> FiniteTaskModel:
    r"""Theorem 2's image condition violated, and :math:`R_Y(D;T) < R_X(D;T)` strictly.

    Theorem 2 of Harell et al. [1]_.

    X = {0, 1} uniform, Y = {0, 1, 2} with g(x) = x, task values T = (0, 1, 0.5) with squared
    error and h the identity: the feature value y = 2 (which no input produces) gives the
    task output 0.5, the midpoint, which is not in :math:`\mathcal I_f = \{0, 1\}`. Always
    decoding 0.5 costs distortion 0.25 at rate 0, so :math:`R_Y(0.25;T) = 0`, whereas the
    full-input code can only output 0 or 1: :math:`R_X(0.25;T) = 1 - h_b(0.25) \approx 0.189`
    bits. Each y separately has a better image value (0 for y = 0, 1 for y = 1), so a
    *pointwise* reading of Theorem 2.A's condition holds — the proof needs one substitute
    :math:`\tilde y(\hat y)` that is no worse for *every* y, which does not exist here.
    """
    values = np.array([0.0, 1.0, 0.5])
    d = squared_error(values)
    return FiniteTaskModel([0.5, 0.5], maps=[[0, 1], [0, 1, 2]], sizes=[3, 3], distortions=[None, d, d])


def theorem2a_model() -> FiniteTaskModel:
    r"""Image condition violated but Theorem 2.A's substitute holds: :math:`R_Y = R_X`.

    Theorem 2.A of Harell et al. [1]_ (App. A).

    As :func:`image_condition_counterexample` but the extra task value is 1.5, beyond the
    image {0, 1}: the image value 1 is at least as close to every task value, so every
    reproduction of y = 2 can be replaced by y = 1 at no cost.
    """
    values = np.array([0.0, 1.0, 1.5])
    d = squared_error(values)
    return FiniteTaskModel([0.5, 0.5], maps=[[0, 1], [0, 1, 2]], sizes=[3, 3], distortions=[None, d, d])


def theorem4_injective_counterexample() -> FiniteTaskModel:
    r"""Theorem 4's condition fails (no two used reproductions share f) and equality holds.

    Theorem 4 of Harell et al. [1]_.

    X = {0, 1, 2, 3}, p = (1/2, 0, 1/2, 0), f(x) = x // 2 (two classes), Hamming d_X and d_T.
    Reproductions 1 and 3 are never used (they are at distortion 1 from every likely input),
    so each class has one used reproduction; then
    :math:`R_X(D_T^{\min};T) = R_X(D_X;X) = 1 - h_b(D_X)` with :math:`D_T^{\min} = D_X`.
    """
    return FiniteTaskModel([0.5, 0.0, 0.5, 0.0], maps=[[0, 0, 1, 1], [0, 1]], names=("X", "Y", "T"))


def theorem4_equal_posteriors_counterexample() -> FiniteTaskModel:
    r"""Two used reproductions share f but have *equal posteriors*: no strict gain, equality.

    Theorem 4 of Harell et al. [1]_.

    X = {0, 1, 2}, p = (1/2, 1/2, 0), f = (0, 1, 1); d_X is Hamming except that inputs 1 and 2
    are indistinguishable (d_X(1, 2) = d_X(2, 1) = 0, identical rows and columns). X-optimal
    codes may split the mass of reproduction 1 between x_hat = 1 and x_hat = 2 in any
    proportion; the two have the same task output and identical posteriors, so merging them
    (Theorem 4's construction) lowers nothing: :math:`R_X(D_T^{\min};T) = R_X(D_X;X)`.
    """
    d_x = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    return FiniteTaskModel([0.5, 0.5, 0.0], maps=[[0, 1, 1], [0, 1]], distortions=[d_x, None, None])


def distillation_example() -> FiniteTaskModel:
    r"""Corollary 4.1: distilling at Y instead of T loses rate.

    Corollary 4.1 of Harell et al. [1]_.

    Y = X = {0, 1, 2, 3} uniform (g the identity), T = y // 2, Hamming d_Y and d_T. The
    Y-optimal code at :math:`D_Y` keeps y w.p. :math:`1 - D_Y` and otherwise sends one of the
    three others, so :math:`D_T^{\min} = 2 D_Y / 3` and
    :math:`R_Y(D_T^{\min};T) = 1 - h_b(2D_Y/3) < R_Y(D_Y;Y) = 2 - h_b(D_Y) - D_Y\log_2 3`.
    """
    return FiniteTaskModel(np.full(4, 0.25), maps=[[0, 1, 2, 3], [0, 0, 1, 1]])


def ambiguous_features() -> FiniteTaskModel:
    r"""The illustrative model of the figure: X-optimal codes that differ at the task.

    Six inputs on a line at positions (0, 1, 2, 2, 3, 4) with squared-error d_X; inputs 2 and
    3 sit at the same position but belong to different classes (f = 0, 0, 0, 1, 1, 1). For the
    input distortion they are interchangeable, so the X-optimal set is not a single code and
    the induced task distortion set :math:`\mathcal D_T^*(D_X;X)` is a proper interval. The
    hidden layer Y (4 values at positions 0.5, 1.8, 2.2, 3.5, squared error) separates them.
    """
    pos_x = np.array([0.0, 1.0, 2.0, 2.0, 3.0, 4.0])
    pos_y = np.array([0.5, 1.8, 2.2, 3.5])
    p = np.array([0.1, 0.2, 0.2, 0.15, 0.2, 0.15])
    return FiniteTaskModel(p, maps=[[0, 0, 1, 2, 3, 3], [0, 0, 1, 1]],
                           distortions=[squared_error(pos_x) / 4.0, squared_error(pos_y) / 4.0, None])
