r"""Every setting of the discrete R(D) solver, in one frozen (hashable) record.

:class:`SolverConfig` is passed to the jitted solver as a *static* argument: its fields are
Python numbers, strings and tuples, they key the compilation cache, and changing one
recompiles. Each field says what it does and, where it was tuned, the measurement that
chose it. :func:`warm_config` derives the config of one warm-started attempt (used by
``rd_curve``), :func:`_check_config` validates the user-facing subset of the settings.

References
----------
.. [1] R. E. Blahut, "Computation of channel capacity and rate-distortion functions",
   IEEE Trans. Inf. Theory 18(4):460-473, 1972.
.. [2] R. Varadhan and C. Roland, "Simple and globally convergent methods for accelerating
   the convergence of any EM algorithm", Scand. J. Stat. 35(2):335-353, 2008 (SQUAREM).
.. [3] Y. Wang, "On fast computation of the non-parametric maximum likelihood estimate of a
   mixing distribution", J. R. Stat. Soc. B 69(2):185-198, 2007 (CNM).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..info import LN2  # noqa: F401  (the one LN2, re-exported for the engine modules)

#: accepted values of ``method``
METHODS = ("accelerated", "squarem", "plain")

__all__ = ["SolverConfig", "warm_config", "METHODS", "LN2"]


@dataclasses.dataclass(frozen=True)
class SolverConfig:
    """Static solver settings (hashable, so they key the jit cache).

    The defaults were tuned on the Dirichlet/squared-error grid cases (n = 1024, 2048,
    beta = 0.6..3e7) and a discretised Gaussian, by time to a 1e-7-bit gap. None of them
    can change a certificate (that is recomputed from the final iterate), only speed and
    ``converged``.
    """

    # ---- what to solve, and the budget -------------------------------------------------
    #: ``"accelerated"`` (SQUAREM + elimination + Newton steps), ``"squarem"`` (SQUAREM only) or
    #: ``"plain"`` (the classical BA map of Eq. 2); see :data:`METHODS`
    method: str = "accelerated"
    #: target certified gap ``rate - lower`` in bits
    tol: float = 1e-7
    #: cap on BA map evaluations
    max_iter: int = 100_000
    #: BA map evaluations per SQUAREM/plain round (between gap checks of the loop)
    round_len: int = 30

    # ---- schedule of method="accelerated" (one cold solve) -------------------------------
    #: SQUAREM map evaluations before the first Newton step
    warmup: int = 600
    #: capacity ``k`` of a Newton step's QR factor (the most points its model's minimiser may
    #: use; a static shape). Every alive point is a candidate whatever ``k``
    newton_size: int = 256
    #: cap on Newton steps before falling back to SQUAREM
    max_rounds: int = 30
    #: whether ``"accelerated"`` continues with SQUAREM up to ``max_iter`` when the Newton
    #: steps end without certifying ``tol``
    squarem_tail: bool = True
    #: factor capacities tried in turn by ``newton_size="auto"`` (capped at min(n + 1, m))
    auto_newton_sizes: tuple = (256, 512, 1024, 4096)
    #: Newton steps given to each non-final stage of the ``"auto"`` schedule (a stage also
    #: ends as soon as a step's minimiser does not fit its capacity)
    stage_rounds: int = 6

    # ---- the Newton step (:func:`~rdtheory.discrete.newton.newton_round`) ------------------
    #: a column enters the QR factor only if its distance from the span of the passive
    #: columns exceeds this share of its norm (relative to ||a||, not squared; float32 uses
    #: 100 eps instead when larger)
    qr_dependent: float = 1e-10
    #: a column enters when a_j^T (e - A x) exceeds this times ||a_j|| ||e||
    qr_enter: float = 1e-10
    #: a point counts as support of the current iterate (the warm start of the active set)
    #: when its mass is at least this
    support_mass: float = 1e-9
    #: mass given to points with c > 1 left at the floor after a Newton step (kept only if
    #: it lowers the gap; see :func:`~rdtheory.discrete.newton.newton_round`)
    inject_mass: float = 1e-12
    #: cap on active-set changes in one Newton step is ``2 k + newton_inner_extra``
    #: (:meth:`newton_inner`): from an empty start the minimiser's ~k columns enter one by
    #: one, and a few leave again
    newton_inner_extra: int = 64

    # ---- warm starts (rd_curve's sequential path, :func:`warm_config`) -------------------
    #: weight of the uniform distribution mixed into a warm start ``init``: a point a warm
    #: start left at ~1e-300 would otherwise need thousands of multiplicative BA steps to
    #: come back
    init_mix: float = 1e-3
    #: SQUAREM map evaluations before the first Newton step of a warm-started solve (a later
    #: ``"auto"`` stage, or :func:`~rdtheory.discrete.solver.solve_warm`); a neighbouring
    #: slope's solution is already close, so the 600-map warm-up of a cold start would be wasted
    warm_warmup: int = 30
    #: ... and when the capacity is the whole grid (k = m): a Newton step may then add up
    #: to m columns one by one, while the high-beta slopes there (support ~ every
    #: point, near-diagonal kernel) are nearly certified by SQUAREM alone; 100 maps beat 30
    #: and 300 on the 1024-point Dirichlet/squared-error curve (slopes 8.7e5..3e7: 7.4 s,
    #: 9.2 s, 16.5 s)
    warm_warmup_full: int = 100
    #: Newton steps of a warm-started attempt that may still move on to a larger k
    warm_rounds: int = 12
    #: Newton steps of a final warm-started attempt whose capacity is every point of a large
    #: grid (m >= ``full_rounds_min_m``): 2-6 are needed there; a slope still open after 8
    #: goes to SQUAREM
    full_rounds: int = 8
    #: grid size from which ``full_rounds`` applies
    full_rounds_min_m: int = 512
    #: SQUAREM maps after the Newton steps of a final warm-started attempt
    warm_tail: int = 1000

    @property
    def tol_nats(self) -> float:
        """``tol`` in nats (the unit of the iteration)."""
        return self.tol * LN2

    def newton_inner(self, k: int) -> int:
        """Cap on active-set changes in one Newton step with capacity ``k`` (``newton_inner_extra``)."""
        return 2 * k + self.newton_inner_extra


def warm_config(k: int, m: int, tol: float, *, final: bool = False, max_iter: int = 100_000,
                base: SolverConfig | None = None) -> SolverConfig:
    """Config of one warm-started attempt with ``k`` of the ``m`` points as candidates.

    The SQUAREM warm-up is short (``warm_warmup``), longer when ``k >= m``
    (``warm_warmup_full``). A non-final attempt gets ``warm_rounds`` Newton steps and no
    SQUAREM tail, so too small a ``k`` fails fast instead of grinding; the final one gets
    the default number of steps (``full_rounds`` when k = m >= ``full_rounds_min_m``) and a
    SQUAREM tail of at most ``warm_tail`` maps (within ``max_iter``): a slope that still
    fails goes to the full solver, which is cheaper than a long tail. The other settings
    come from ``base`` (default: :class:`SolverConfig`'s defaults)."""
    base = SolverConfig() if base is None else base
    warmup = base.warm_warmup_full if k >= m else base.warm_warmup
    if final:
        rounds = base.full_rounds if k >= m >= base.full_rounds_min_m else base.max_rounds
        return dataclasses.replace(base, tol=float(tol), warmup=warmup, newton_size=int(k), max_rounds=rounds,
                                   max_iter=int(min(max_iter, warmup + base.warm_tail)))
    return dataclasses.replace(base, tol=float(tol), warmup=warmup, newton_size=int(k),
                               max_rounds=base.warm_rounds, max_iter=int(max_iter), squarem_tail=False)


def _check_config(tol, max_iter, method, newton_size, dtype) -> np.dtype:
    """Validate the user-facing solver settings (outside jit); return the numpy dtype."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number of bits (e.g. 1e-7); got {tol!r}")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"max_iter must be a positive integer; got {max_iter!r}")
    if newton_size != "auto" and not (isinstance(newton_size, (int, np.integer)) and newton_size >= 2):
        raise ValueError(f"newton_size must be 'auto' or an integer >= 2; got {newton_size!r}")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {dtype!r}")
    if dt == np.float32 and tol < 1e-5:
        raise ValueError(f"tol={tol:g} bits is below float32 resolution; use tol >= 1e-5 or dtype='float64'")
    return dt
