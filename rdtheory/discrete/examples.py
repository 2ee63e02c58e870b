"""Named example problems ``(p, d)`` used by the CLI, benchmarks, checks and docs.

``get("dirichlet-squared:n=1024,seed=0")`` parses a name with optional ``key=value``
parameters; :data:`EXAMPLES` lists them.

References
----------
.. [1] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Thm. 10.3.1 and the Ch. 10 problem on the uniform source with Hamming distortion: the closed
   forms of :func:`binary` and :func:`uniform_hamming`; Thm. 10.3.2: the Gaussian that
   :func:`gaussian` discretises). The Dirichlet and uniform-grid squared-error cases have no
   closed form and no published source.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import closed_form
from .._validation import as_finite_array, positive
from .distortions import hamming, squared_error, uniform_grid

__all__ = ["Example", "EXAMPLES", "get"]


class Example(NamedTuple):
    p: np.ndarray
    d: np.ndarray
    description: str


def _count(name: str, value, minimum: int) -> int:
    """A whole number >= minimum (2.0 from a spec string counts as 2)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating)) \
        and float(value).is_integer() and value >= minimum
    if not ok:
        raise ValueError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    return int(value)


def binary(p: float = 0.5) -> Example:
    """Bernoulli(p) source, Hamming distortion (closed form: h(p) - h(D))."""
    p = float(as_finite_array(p, "binary: p", ndim=0))
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"binary: p must be a probability in [0, 1]; got {p}")
    return Example(np.array([1 - p, p]), hamming(2), f"Bernoulli({p}) source, Hamming distortion")


def uniform_hamming(m: int = 8) -> Example:
    """Uniform source on m symbols, Hamming distortion (closed form: log m - h(D) - D log(m-1))."""
    m = _count("uniform-hamming: m", m, 1)
    return Example(np.full(m, 1.0 / m), hamming(m), f"uniform source on {m} symbols, Hamming distortion")


def gaussian(n: int = 512, width: float = 8.0) -> Example:
    """N(0,1) discretised on n cells of [-width, width], squared error on the same grid."""
    n, width = _count("gaussian: n", n, 2), float(positive(width, "gaussian: width"))
    x, p = closed_form.discretised_gaussian(n, 1.0, width)
    return Example(p, squared_error(x), f"N(0,1) on {n} cells of [-{width}, {width}], squared error")


def dirichlet_squared(n: int = 1024, seed: int = 0) -> Example:
    """The foundation issue's hard case: Dirichlet(1) probabilities on an n-point grid of [0, 1),
    squared error (grid k/n, as measured in the issue)."""
    n, seed = _count("dirichlet-squared: n", n, 1), _count("dirichlet-squared: seed", seed, 0)
    p = np.random.default_rng(seed).dirichlet(np.ones(n))
    g = np.arange(n) / n
    return Example(p, squared_error(g), f"Dirichlet(1) source on {n} grid points of [0,1) (seed {seed}), squared error")


def uniform_grid_squared(n: int = 256) -> Example:
    """Uniform source on n cell midpoints of [0, 1), squared error."""
    n = _count("uniform-squared: n", n, 1)
    x = uniform_grid(n)
    return Example(np.full(n, 1.0 / n), squared_error(x), f"uniform source on {n} cells of [0,1), squared error")


EXAMPLES: dict[str, Callable[..., Example]] = {
    "binary": binary,
    "uniform-hamming": uniform_hamming,
    "gaussian": gaussian,
    "dirichlet-squared": dirichlet_squared,
    "uniform-squared": uniform_grid_squared,
}


def get(spec: str) -> Example:
    """Build a named example from ``"name"`` or ``"name:key=value,key=value"``."""
    name, _, params = spec.partition(":")
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; choose from {sorted(EXAMPLES)}")
    kwargs = {}
    for item in filter(None, params.split(",")):
        key, eq, val = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"example parameters must be key=value; got {item!r} in {spec!r}")
        if key.strip() in kwargs:
            raise ValueError(f"parameter {key.strip()!r} is given twice in {spec!r}")
        try:
            kwargs[key.strip()] = int(val) if val.strip().lstrip("-").isdigit() else float(val)
        except ValueError:
            raise ValueError(f"parameter {key!r} of {name!r} must be a number; got {val!r}") from None
    try:
        return EXAMPLES[name](**kwargs)
    except TypeError as err:
        raise ValueError(f"bad parameters for example {name!r}: {err}") from None
