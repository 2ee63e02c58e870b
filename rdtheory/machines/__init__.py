r"""Coding-for-machines theory on finite task models (Sec. II of the reference paper).

- :mod:`~rdtheory.machines.model` — :class:`FiniteTaskModel`: p(x) and layer maps X -> Y -> T
- :mod:`~rdtheory.machines.rates` — :func:`rate_x`, :func:`rate_y`, :func:`rate_xy` (Eqs. 5, 6, 8, 11)
  for any cut layer and distortion target, certified by the R(D) engine
- :mod:`~rdtheory.machines.optimal_sets` — X-optimal sets, :func:`induced_distortion_set`,
  Theorem 4's merge
- :mod:`~rdtheory.machines.theorems` — one checker per theorem/corollary (Theorems 1-4,
  Corollaries 2.1-4.2), returning :class:`TheoremCheck` records
- :mod:`~rdtheory.machines.checks` — the records: :class:`SideSpec` (which rate a side is),
  :class:`Side` (its certified value), :class:`TheoremCheck`
- :mod:`~rdtheory.machines.conditions` — the hypotheses of Theorems 2 and 2.A
- :mod:`~rdtheory.machines.instances` — seeded random models, structured cases, counterexamples

All rates in bits. See ``docs/machines.md``.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. II).
"""
from . import instances
from .model import FiniteTaskModel
from .optimal_sets import (InducedDistortionSet, MergeCandidate, induced_distortion_set, induced_set,
                           merge_candidates, merge_rate_drop, merge_reproductions)
from .rates import (RatePoints, RateProblem, certified_rates, rate, rate_curve, rate_problem,
                    rate_x, rate_xy, rate_y, stack_problems)
from .theorems import (SLACK, Side, SideSpec, TheoremCheck, check_corollary21, check_corollary22, check_corollary23,
                       check_corollary24, check_corollary31, check_corollary32, check_corollary41, check_corollary42,
                       check_supervised_pair, corollary31_equality, check_theorem1, check_theorem2, check_theorem2a, check_theorem3, check_theorem4,
                       covering_condition, distortion_grid, image_condition, theorem2a_condition)

__all__ = [
    "FiniteTaskModel", "instances",
    "RateProblem", "RatePoints", "rate_problem", "certified_rates", "rate", "rate_x", "rate_y", "rate_xy",
    "rate_curve", "stack_problems",
    "InducedDistortionSet", "induced_distortion_set", "induced_set", "MergeCandidate", "merge_reproductions",
    "merge_rate_drop", "merge_candidates",
    "SLACK", "Side", "SideSpec", "TheoremCheck", "image_condition", "covering_condition", "theorem2a_condition",
    "distortion_grid", "check_theorem1", "check_theorem2", "check_theorem2a", "check_corollary21",
    "check_corollary22", "check_corollary23", "check_corollary24", "check_theorem3", "check_corollary31",
    "check_corollary32", "check_theorem4", "check_corollary41", "check_corollary42", "check_supervised_pair",
    "corollary31_equality",
]
