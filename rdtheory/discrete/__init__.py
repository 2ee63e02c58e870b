"""Finite-alphabet rate-distortion engine in JAX, with certified bounds.

One entry point per capability:

- :func:`blahut_arimoto` — R(D) at a slope (batched with vmap, sharded over devices)
- :func:`rd_curve` — a whole curve; :func:`rate_at_distortion`, :func:`distortion_at_rate`
- :func:`certified_search` — R(D) at target D (or D(R) at target R) for a batch of problems;
  answers above ``tol`` carry ``converged=False`` and raise an :class:`UnconvergedWarning`
- :func:`rd_points` — R(D) of a point source (samples), dense or matrix-free (tiled, sharded)
- :mod:`~rdtheory.discrete.distortions` — Hamming, squared/absolute error, task-induced
- :mod:`~rdtheory.discrete.closed_form` — analytic R(D) for tests and docs

Every result carries ``lower <= R <= rate`` in bits (see :class:`BAResult`).

The solver's modules, by concern: :mod:`~rdtheory.discrete.ba_map` (the BA map of Eq. 2,
plain and SQUAREM rounds), :mod:`~rdtheory.discrete.certificate` (kernel, Blahut's dual
lower bound, elimination, :func:`~rdtheory.discrete.certificate.evaluate`),
:mod:`~rdtheory.discrete.newton` (constrained Newton steps solved by QR, :mod:`~rdtheory.discrete.nnls`),
:mod:`~rdtheory.discrete.config` (:class:`SolverConfig`: every tuning constant) and
:mod:`~rdtheory.discrete.solver` (the entry point: staging, batching, sharding).
"""
from . import closed_form
from .config import SolverConfig
from .solver import BAResult, blahut_arimoto
from .curves import RDCurve, RDPoint, default_betas, distortion_at_rate, distortion_range, rate_at_distortion, rd_curve
from .search import SearchResult, UnconvergedWarning, certified_search
from .matrix_free import PointsResult, blahut_arimoto_points, rd_points
from .distortions import absolute_error, from_matrix, hamming, squared_error, task_induced, uniform_grid

__all__ = [
    "blahut_arimoto", "BAResult", "SolverConfig",
    "rd_curve", "rate_at_distortion", "distortion_at_rate", "RDCurve", "RDPoint", "default_betas",
    "distortion_range", "hamming", "squared_error", "absolute_error", "from_matrix", "task_induced",
    "uniform_grid", "closed_form", "rd_points", "blahut_arimoto_points", "PointsResult", "certified_search", "SearchResult", "UnconvergedWarning",
]
