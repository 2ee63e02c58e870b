"""Pure verdicts of the CIFAR Table I / Eq. 20 claims: orderings decided on confidence intervals.

No data, no torch: each function takes the numbers a run produced, so the mutation tests
(``tests/test_claim_mutations_vinfo_toy_cifar.py``) feed them recorded values and the smallest
perturbations that matter.

A chain of layers with 95% intervals ``[low[k], high[k]]`` is decided step by step: ``'<'``
when the next interval lies wholly above, ``'>'`` wholly below, ``'~'`` (a tie: the data
cannot order them) when they overlap. Eq. 20 (ρ_X ≤ ρ_Y1 ≤ ρ_Y2 ≤ …) is refuted by a ``'>'``
step; "ρ increases" needs ``'<'`` at every step.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-B.2, Table I and Eq. 20).
"""
from __future__ import annotations

from paper_checks import FAIL, PASS

__all__ = ["order_steps", "increases_verdict", "chain_text", "contains_verdict"]


def order_steps(low, high) -> list[str]:
    """Each step of a chain of intervals ``[low[k], high[k]]``: ``'<'`` (next wholly above),
    ``'>'`` (next wholly below) or ``'~'`` (overlap: a tie)."""
    return ["<" if lo1 > hi0 else ">" if hi1 < lo0 else "~"
            for lo0, hi0, lo1, hi1 in zip(low, high, low[1:], high[1:])]


def increases_verdict(chains) -> str:
    """``pass`` when every step of every chain ``(low, high)`` is ``'<'`` (intervals separate upward)."""
    return PASS if all(set(order_steps(lo, hi)) <= {"<"} for lo, hi in chains) else FAIL


def contains_verdict(value: float, low: float, high: float) -> str:
    """``pass`` when ``value`` lies in ``[low, high]`` (a reproduced Table I number)."""
    return PASS if low <= value <= high else FAIL


def chain_text(layers, rho, low, high) -> str:
    """``input 0.038 [0.037, 0.039] > layer1 ...``: the chain with the decided step symbols."""
    steps = order_steps(low, high) + [""]
    return " ".join(f"{n} {v:.4g} [{lo:.4g}, {hi:.4g}] {s}".rstrip()
                    for n, v, lo, hi, s in zip(layers, rho, low, high, steps))
