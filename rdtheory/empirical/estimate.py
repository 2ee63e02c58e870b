r"""One entry point for R(D) from samples: :func:`estimate_rd`, dispatching to a method registry.

A *method* is a function

.. code-block:: python

    fn(x, distortion, *, betas, holdout, level, seed, progress, **options) -> RDBound

receiving validated samples ``x`` (float64, shape (n, k)), the distortion as the user gave
it (a name of :data:`~rdtheory.discrete.point_distortions.POINT_DISTORTIONS` or a callable,
already checked on the samples), and the common options; it splits the samples with
:func:`split_samples` (so that every method holds out the same rows for the same seed) and
returns an :class:`~rdtheory.empirical.record.RDBound` in bits. A module adds one with

.. code-block:: python

    from rdtheory.empirical.estimate import register_method

    @register_method("wgd")
    def _wgd(x, distortion, *, betas=None, holdout=0.5, level=0.95, seed=0, progress=True, **options):
        ...

and is imported on first use of its name through :data:`METHOD_MODULES` (so importing
:mod:`rdtheory.empirical` loads no estimator). The methods and their guarantees are in
``docs/empirical.md``.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Callable

import numpy as np
import jax

from .._validation import as_finite_array, as_samples
from ..discrete.point_distortions import check_point_distortion
from .record import RDBound

__all__ = ["estimate_rd", "register_method", "known_methods", "split_samples", "check_targets", "no_targets",
           "METHODS", "METHOD_MODULES", "METHOD_OPTIONS"]

#: name -> method function, filled by :func:`register_method` (on import of the defining module).
METHODS: dict[str, Callable[..., RDBound]] = {}

#: name -> module that registers it when imported (loaded lazily by :func:`estimate_rd`).
METHOD_MODULES: dict[str, str] = {
    "plugin": "rdtheory.empirical.plugin",
    "shannon": "rdtheory.empirical.lower",
    "dual": "rdtheory.empirical.dual",
    "lcb": "rdtheory.empirical.lcb",
    "wgd": "rdtheory.empirical.wgd",
    "neural": "rdtheory.empirical.neural",
}


#: name -> keyword options the method accepts (None: not declared, anything is passed on).
METHOD_OPTIONS: dict[str, frozenset | None] = {}

#: Options :func:`estimate_rd` itself takes (never counted as a method's own option).
_COMMON = frozenset({"samples", "distortion", "method", "betas", "holdout", "level", "seed", "progress"})


def _keywords(fn) -> set[str]:
    """Keyword-only parameters of ``fn`` (its options; positional ones are supplied by the method)."""
    return {p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY}


def register_method(name: str, *, accepts=()):
    """Decorator: register ``fn`` as method ``name`` of :func:`estimate_rd` (returns ``fn``).

    ``accepts``: the functions ``fn`` passes its ``**options`` on to; their keyword-only
    parameters, with ``fn``'s own, are the options :func:`estimate_rd` lets through (any other raises a
    ``ValueError`` naming it, before anything is fitted). Empty: options are not checked.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a method name must be a non-empty string; got {name!r}")
    accepts = tuple(accepts) if isinstance(accepts, (tuple, list)) else (accepts,)

    def add(fn):
        METHODS[name] = fn
        allowed = set().union(*map(_keywords, (fn, *accepts)))
        METHOD_OPTIONS[name] = frozenset(allowed - _COMMON) if accepts else None
        return fn

    return add


def _check_options(name: str, options: dict) -> None:
    allowed = METHOD_OPTIONS.get(name)
    unknown = sorted(set(options) - allowed) if allowed is not None else []
    if unknown:
        raise ValueError(f"method {name!r} has no option {', '.join(map(repr, unknown))}; its options are "
                         f"{', '.join(sorted(allowed))} (and estimate_rd's betas, holdout, level, seed, progress)")


def check_targets(distortions) -> np.ndarray:
    """Target distortions as a finite 1-D float64 array, all ``>= 0`` (``ValueError`` naming them)."""
    d = as_finite_array(distortions, "distortions", ndim=(0, 1)).reshape(-1)
    if np.any(d < 0):
        raise ValueError(f"distortions must all be >= 0 (target distortions); got {d[d < 0][:3].tolist()}")
    return d


def no_targets(method: str, distortions) -> None:
    """Refuse ``distortions=`` for a method fitted at slopes (its distortions are measured)."""
    if distortions is not None:
        raise ValueError(f"method {method!r} is fitted at slopes, not at target distortions: pass betas=[...] "
                         f"(nats per unit distortion) instead of distortions=; each point's distortion is "
                         f"measured on the held-out samples")


def known_methods() -> list[str]:
    """Every method name :func:`estimate_rd` accepts (registered or loadable), sorted."""
    return sorted(set(METHODS) | set(METHOD_MODULES))


def _method(name) -> Callable[..., RDBound]:
    if not isinstance(name, str) or name not in known_methods():
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(known_methods())}")
    if name not in METHODS:
        try:
            importlib.import_module(METHOD_MODULES[name])
        except ModuleNotFoundError as err:
            if err.name != METHOD_MODULES[name]:
                raise
            raise ValueError(f"method {name!r} is not available in this version ({METHOD_MODULES[name]} is not "
                             f"installed); available: {', '.join(sorted(METHODS))}") from None
        if name not in METHODS:
            raise ValueError(f"{METHOD_MODULES[name]} did not register method {name!r}")
    return METHODS[name]


def _seed(seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    return int(seed)


def _fraction(v, name: str, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not (0 < float(v) < 1):
        raise ValueError(f"{name} must be a number in (0, 1) ({what}); got {v!r}")
    return float(v)


def split_samples(x, holdout: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split samples (n, k) into ``(fit, held_out)`` by a seeded permutation.

    ``round(holdout * n)`` rows are held out; both parts must keep at least 2 samples (an
    interval needs a spread; a fit needs more than one point).
    """
    x = as_samples(x, "samples")
    holdout = _fraction(holdout, "holdout", "the share of samples held out for evaluation")
    n = x.shape[0]
    n_eval = int(round(holdout * n))
    if n_eval < 2 or n - n_eval < 2:
        raise ValueError(f"holdout={holdout:g} of {n} samples leaves {n - n_eval} to fit and {n_eval} to evaluate; "
                         f"each needs at least 2 (pass more samples or another holdout)")
    perm = np.random.default_rng(_seed(seed)).permutation(n)
    return x[perm[n_eval:]], x[perm[:n_eval]]


def estimate_rd(samples, distortion="squared", method: str = "plugin", *, betas=None, holdout: float = 0.5,
                level: float = 0.95, seed: int = 0, progress: bool = True, **method_options) -> RDBound:
    r"""R(D) of the source of ``samples`` (bits), as a bound evaluated on held-out samples.

    Parameters
    ----------
    samples : array (n, k) or (n,)
        i.i.d. samples of the source, one per row (finite; n >= 4 so that fit and held-out
        parts both have 2).
    distortion : str or callable
        ``"squared"`` (:math:`\|x-\hat x\|_2^2`), ``"absolute"``, ``"hamming"``, or a
        function ``tile(x: (a, k), y: (b, k)) -> (a, b)`` in ``jax.numpy`` (checked on the
        samples: it must be a function of the two points).
    method : str
        A name of :func:`known_methods`: ``"plugin"`` (:mod:`~rdtheory.empirical.plugin`,
        upper bound), and where installed ``"shannon"``, ``"dual"``, ``"lcb"`` (lower
        bounds), ``"wgd"``, ``"neural"`` (upper bounds).
    betas : array, optional
        Slopes in nats per unit distortion; default: a grid from the data (per method).
    holdout : float
        Share of the samples held out for evaluation, in (0, 1).
    level : float
        Confidence level of the intervals, in (0, 1).
    seed : int
        Seeds every random choice; equal seeds give bit-identical records.
    progress : bool
        tqdm progress bars on long loops.
    **method_options
        Passed to the method (e.g. ``alphabet="kmeans", n_atoms=256, distortions=[...]`` for
        ``"plugin"``). An option the method does not take raises ``ValueError`` listing the
        ones it does; ``distortions`` (target distortions) is checked here (finite, >= 0, at
        most 1-D) and refused by the methods fitted at slopes (``wgd``, ``neural``).

    Returns
    -------
    RDBound
        ``kind`` says which side of R(D) the curve is on; see ``docs/empirical.md``.

    Examples
    --------
    >>> import numpy as np
    >>> from rdtheory.empirical import estimate_rd, BernoulliSource
    >>> src = BernoulliSource(0.3)
    >>> b = estimate_rd(src.sample(400, seed=1), "hamming", betas=[3.0], progress=False)
    >>> b.kind, b.rate.shape
    ('upper', (1,))
    """
    fn = _method(method)
    x = as_samples(samples, "samples")
    with jax.enable_x64(True):  # float64 tiles, as the methods evaluate them
        check_point_distortion(distortion, x, x)
    holdout = _fraction(holdout, "holdout", "the share of samples held out for evaluation")
    level = _fraction(level, "level", "the confidence level of the intervals, e.g. 0.95")
    seed = _seed(seed)
    if betas is not None:
        betas = as_finite_array(betas, "betas", ndim=(0, 1)).reshape(-1)
        if np.any(betas <= 0):
            raise ValueError(f"betas must all be > 0 (nats per unit distortion); got {betas[betas <= 0][:3].tolist()}")
    _check_options(method, method_options)
    if method_options.get("distortions") is not None:
        method_options["distortions"] = check_targets(method_options["distortions"])
    out = fn(x, distortion, betas=betas, holdout=holdout, level=level, seed=seed, progress=bool(progress),
             **method_options)
    if not isinstance(out, RDBound):
        raise TypeError(f"method {method!r} returned {type(out).__name__}, not an RDBound")
    return out
