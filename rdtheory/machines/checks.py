r"""Records of the theorem checkers: what a side is, and how a relation between sides is judged.

:class:`SideSpec` names one rate of a statement (which layer is coded, where distortion is
measured, direct or split coding); :class:`Side` is that rate computed, with its certified
bounds; :class:`TheoremCheck` compares the sides of one statement. The judging rules (``=``,
``<=``, ``<`` with :data:`SLACK`) are in :mod:`rdtheory.machines.theorems`.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. II, Theorems 1-4).
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from .model import Layer

__all__ = ["SLACK", "SideSpec", "Side", "TheoremCheck"]

#: Float headroom (bits) added to every certified comparison; see the module docstring.
SLACK = 1e-9


class SideSpec(NamedTuple):
    r"""Which rate one side of a statement is: :math:`R_{cut}(D;target)`, or :math:`R_{X\,cut}(D;target)`.

    label: the side as the paper writes it (e.g. ``"R_XY(D;T)"``); cut: the layer that is
    coded (0 = the input X); target: the layer where distortion is measured; direct: True
    for direct coding with the input available (:math:`R_{XY}`, Eq. 8), False for coding
    the cut layer alone (:math:`R_Y`, Eq. 6).
    """

    label: str
    cut: Layer
    target: Layer
    direct: bool = False


@dataclasses.dataclass(frozen=True)
class Side:
    """One side of a statement: certified ``lower <= R <= rate`` (bits) at distortions ``D``, all (B, K)."""

    label: str
    D: np.ndarray
    rate: np.ndarray
    lower: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        return self.rate - self.lower


@dataclasses.dataclass(frozen=True)
class TheoremCheck:
    """Result of a checker (arrays over B models and K distortions).

    name / statement: the paper's label and formula. relation: ``=``, ``<=`` or ``<``.
    sides: the rates compared, in the order of the statement. condition: (B,) or (B, K) whether
    the theorem's hypothesis holds for each model/point (``condition_text`` says which). violation and
    slack: see the module docstring (bits). details: checker-specific extras.
    """

    name: str
    statement: str
    relation: str
    sides: tuple[Side, ...]
    condition: np.ndarray
    condition_text: str
    violation: np.ndarray
    slack: np.ndarray
    details: dict = dataclasses.field(default_factory=dict)

    @property
    def holds(self) -> np.ndarray:
        """(B, K) whether the relation is certified within tolerance at each point."""
        if self.relation == "<":
            return self.violation < -self.slack
        return self.violation <= self.slack

    @property
    def mask(self) -> np.ndarray:
        """(B, K) points where the hypothesis holds (``condition`` is (B,) or (B, K))."""
        c = np.asarray(self.condition, dtype=bool)
        return np.broadcast_to(c[:, None] if c.ndim == 1 else c, self.violation.shape)

    @property
    def verified(self) -> bool:
        """True when the relation holds at every point where the hypothesis holds."""
        return bool(np.all(self.holds[self.mask]))

    @property
    def worst(self) -> float:
        """Largest ``violation - slack`` over applicable points (bits). For ``=``/``<=`` it must
        be <= 0; for ``<`` it must be < 0 and ``-worst`` is the smallest certified strict gap."""
        v = (self.violation - self.slack)[self.mask]
        return float(v.max()) if v.size else float("nan")

    @property
    def max_certified_error(self) -> float:
        """Largest certified error (rate - lower) of any side at an applicable point (bits)."""
        gaps = [s.gap[self.mask] for s in self.sides]
        return float(max((g.max() for g in gaps if g.size), default=float("nan")))

    @property
    def max_difference(self) -> float:
        """For ``=``: certified upper bound on max |R_i - R_j| over applicable points
        (``max_ij up_i - lo_j``, bits); NaN for ``<=``/``<`` (see :attr:`worst`)."""
        if self.relation != "=" or not self.mask.any():
            return float("nan")
        return max(float((a.rate - b.lower)[self.mask].max()) for a in self.sides for b in self.sides if a is not b)

    def summary(self) -> dict:
        """Counts and worst numbers (bits) as a plain dict, for reports."""
        return {"name": self.name, "statement": self.statement, "instances": int(self.violation.shape[0]),
                "applicable": int(self.mask.any(1).sum()), "points": int(self.mask.sum()),
                "verified": self.verified, "worst_violation_minus_slack": self.worst,
                "max_certified_error": self.max_certified_error, "max_difference_bound": self.max_difference}
