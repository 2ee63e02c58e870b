"""Paper claims as code.

Each claim is one function, registered with :func:`claim`, that *computes* its measured
value and returns a :class:`Claim` record: id, paper reference, expected value, measured
value, tolerance and why that tolerance, and a status. Figures are registered with
:func:`figure` (a function returning a matplotlib Figure). Modules named ``claims_*.py``
in this package are discovered automatically, so adding a claim means adding a function.

Run everything with ``python -m paper_checks`` (or the console script ``rdtheory-check``); it writes
``paper_checks/REPORT.md``, ``paper_checks/report.json`` and the figures in ``figures/``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

__all__ = ["Claim", "claim", "figure", "CLAIMS", "FIGURES", "FigureSkipped", "within", "skipped"]

PASS, FAIL, SKIP, ERROR = "pass", "fail", "skip", "error"


@dataclasses.dataclass(frozen=True)
class Claim:
    """One checked statement of the paper (or of the toolkit's own guarantees).

    ``expected`` and ``measured`` are human-readable (numbers or short strings);
    ``tolerance_why`` says where the tolerance comes from (an analytic value, a certified
    bound, or a sampling interval). ``status`` is ``pass``/``fail``/``skip``/``error``.
    """

    claim_id: str
    paper_ref: str
    statement: str
    expected: Any
    measured: Any
    tolerance: Any
    tolerance_why: str
    status: str
    details: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def within(measured: float, expected: float, tol: float) -> str:
    """``pass`` when ``|measured - expected| <= tol``, else ``fail``."""
    return PASS if abs(measured - expected) <= tol else FAIL


#: id -> (paper_ref, statement, function). Functions take ``quick: bool``.
CLAIMS: dict[str, tuple[str, str, Callable[..., Claim]]] = {}
#: name -> function returning a matplotlib Figure. Functions take ``quick: bool``.
FIGURES: dict[str, Callable[..., Any]] = {}


def claim(claim_id: str, paper_ref: str, statement: str):
    """Register a claim function ``f(quick) -> Claim``.

    The decorated function receives ``quick`` (True under ``make check``'s time budget)
    and returns a Claim; :func:`make` fills the id, reference and statement for it.
    """

    def deco(fn):
        if claim_id in CLAIMS:
            raise ValueError(f"duplicate claim id {claim_id!r}")
        CLAIMS[claim_id] = (paper_ref, statement, fn)
        return fn

    return deco


class FigureSkipped(Exception):
    """Raised by a figure function that cannot be drawn here (data or weights absent) or is kept as
    committed in quick mode; the message, reported as ``skipped: ...``, says why and how to make it."""


def figure(name: str):
    """Register a figure function ``f(quick) -> matplotlib.figure.Figure`` saved as ``figures/<name>``."""

    def deco(fn):
        if name in FIGURES:
            raise ValueError(f"duplicate figure name {name!r}")
        FIGURES[name] = fn
        return fn

    return deco


def make(claim_id: str, *, expected, measured, tolerance, tolerance_why: str, status: str,
         details: dict | None = None) -> Claim:
    """Build the Claim record for a registered id (fills paper_ref and statement)."""
    paper_ref, statement, _ = CLAIMS[claim_id]
    return Claim(claim_id, paper_ref, statement, expected, measured, tolerance, tolerance_why,
                 status, details or {})


def skipped(claim_id: str, why: str) -> Claim:
    """The record of a claim that cannot be computed here (missing data, extra or checkpoint): ``why``."""
    return make(claim_id, expected="-", measured="-", tolerance="-", tolerance_why=why, status=SKIP)
