r"""The record every estimator of :mod:`rdtheory.empirical` returns: :class:`RDBound`.

A bound on :math:`R(D)` (bits) at a set of distortions, evaluated on *held-out* samples (not
the ones it was fitted on), with a confidence interval for the value of the bound itself:

- ``kind="upper"``: :math:`R(D) \le` ``rate`` in expectation over the held-out sample (an
  operational or variational upper bound), ``interval`` its ``level`` confidence interval;
- ``kind="lower"``: :math:`R(D) \ge` ``rate``; ``interval[:, 0]`` is a lower confidence
  bound at ``level`` when the method has one (see each method's docstring for what the
  guarantee holds under);
- ``kind="plug-in"``: :math:`R(D)` of the empirical measure (certified to ``gap`` bits), an
  estimate, not a bound on the true source's :math:`R(D)`.

``capped`` flags points within ``cap_margin`` bits of the largest rate the method can
express (:math:`\log_2 n` for the plug-in on ``n`` atoms): such a rate is a floor, not an
estimate, and is never reported silently.
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["RDBound"]


@dataclasses.dataclass(frozen=True)
class RDBound:
    """A bound (or plug-in estimate) on R(D) in bits at ``distortion`` (units of ``d``).

    Attributes
    ----------
    method : str
        The estimator's name (``"plugin"``, ``"wgd"``, ``"neural"``, ``"shannon"``, ...).
    kind : str
        ``"upper"``, ``"lower"`` or ``"plug-in"`` (see the module docstring).
    distortion, rate : float arrays (k,)
        The curve: expected distortion and rate (bits) at each point, measured on held-out
        samples.
    interval : float array (k, 2)
        ``level`` confidence interval of ``rate`` (bits); ``nan`` where the method has none.
    level : float
        Confidence level of ``interval`` (e.g. 0.95).
    beta : float array (k,)
        The slope each point was computed at (``nan`` for target-D methods).
    capped : bool array (k,)
        Points within ``cap_margin`` of the method's largest expressible rate.
    n_fit, n_eval : int
        Samples the bound was fitted on and evaluated on.
    info : dict
        Method-specific diagnostics (certified gaps, iterations, seeds), plain data. Held-out
        upper bounds from a finite test channel (``plugin``, ``wgd``) also keep it in
        ``info["channel"]``: ``atoms`` ((m, k), or (K, m, k) one set per slope) and ``weights``
        (K, m), so that ``channel_terms(x, atoms, weights[i], beta[i])`` gives its terms on any
        other sample (e.g. the population value its interval is for).
    """

    method: str
    kind: str
    distortion: np.ndarray
    rate: np.ndarray
    interval: np.ndarray
    level: float
    beta: np.ndarray
    capped: np.ndarray
    n_fit: int
    n_eval: int
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in ("upper", "lower", "plug-in"):
            raise ValueError(f"kind must be 'upper', 'lower' or 'plug-in'; got {self.kind!r}")
        k = np.shape(self.rate)[0]
        for name in ("distortion", "rate", "beta", "capped"):
            v = np.array(getattr(self, name), dtype=bool if name == "capped" else np.float64)
            if v.shape != (k,):
                raise ValueError(f"{name} must have shape ({k},) like rate; got {v.shape}")
            v.setflags(write=False)
            object.__setattr__(self, name, v)
        iv = np.array(self.interval, dtype=np.float64).reshape(k, 2)
        iv.setflags(write=False)
        object.__setattr__(self, "interval", iv)

    def as_rows(self) -> list[dict]:
        """One plain dict per point (for CSV / JSON)."""
        return [dict(method=self.method, kind=self.kind, distortion=float(d), rate_bits=float(r),
                     ci_low_bits=float(lo), ci_high_bits=float(hi), level=self.level, beta=float(b),
                     capped=bool(c), n_fit=self.n_fit, n_eval=self.n_eval)
                for d, r, (lo, hi), b, c in zip(self.distortion, self.rate, self.interval, self.beta, self.capped)]
