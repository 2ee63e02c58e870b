r"""Held-out evaluation of a test channel: an upper bound on R(D) of the true source.

A fitted reproduction distribution :math:`q` on atoms :math:`\hat x_1..\hat x_m` and a
slope :math:`\beta` define the channel
:math:`Q(\hat x_j|x) = q_j e^{-\beta d(x,\hat x_j)}/Z(x)`,
:math:`Z(x) = \sum_j q_j e^{-\beta d(x,\hat x_j)}`. For *any* source :math:`P`,

.. math::
    R_P\big(\mathbb E_P\, d_Q(X)\big) \;\le\; I(X;\hat X) \;\le\;
    \mathbb E_P\, \mathrm{KL}\big(Q(\cdot|X)\,\|\,q\big)
    = \mathbb E_P\big[-\beta\, d_Q(X) - \log Z(X)\big],

with :math:`d_Q(x) = \sum_j Q(\hat x_j|x)\,d(x,\hat x_j)` (the first inequality is the
definition of R(D); the second holds because :math:`q` need not be the output marginal).
Evaluated on samples the fit never saw, the per-sample terms are i.i.d., so the sample means
are unbiased and their Student-t interval is a valid asymptotic confidence interval. This is
how every upper-bound method of :mod:`rdtheory.empirical` (plug-in atoms, WGD particles) is
scored: :func:`heldout_bound`.

The ``n x m`` matrix is never held: rows are processed in chunks of at most
:data:`TILE_ENTRIES` entries (``jax.lax.map``), so memory is independent of ``n``.

References
----------
.. [1] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Ch. 10; Lemma 10.8.1: :math:`I(X;\hat X) \le \mathbb E\,\mathrm{KL}(Q(\cdot|X)\|q)`).
.. [2] Y. Yang, S. Eckstein, M. Nutz and S. Mandt, "Estimating the Rate-Distortion Function
   by Wasserstein Gradient Descent", NeurIPS 2023 (the same evaluation of particle bounds).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp
from scipy import stats

from .._validation import as_finite_array, as_samples, positive
from ..discrete.point_distortions import check_point_distortion
from ..info import LN2

__all__ = ["ChannelTerms", "channel_terms", "heldout_bound", "TILE_ENTRIES"]

#: Largest number of kernel entries held at once (chunk rows so that rows x m <= this).
TILE_ENTRIES = 1 << 22


class ChannelTerms(NamedTuple):
    r"""Per-sample terms of the channel at ``beta`` (arrays of shape ``(n,)``).

    ``rate``: :math:`\mathrm{KL}(Q(\cdot|x)\|q)` in bits; ``distortion``: :math:`d_Q(x)`
    in the units of ``d``; ``log_z``: :math:`\log Z(x)` in nats.
    """

    rate: np.ndarray
    distortion: np.ndarray
    log_z: np.ndarray


def _terms(x, atoms, log_q, beta, fn, rows):
    n, k = x.shape
    pad = (-n) % rows
    xs = jnp.concatenate([x, jnp.broadcast_to(x[:1], (pad, k))]).reshape(-1, rows, k)

    def chunk(xc):
        d = fn(xc, atoms)                                  # (rows, m)
        logits = log_q[None, :] - beta * d
        log_z = logsumexp(logits, axis=1)
        w = jnp.exp(logits - log_z[:, None])
        dq = jnp.sum(w * d, axis=1)
        return -beta * dq - log_z, dq, log_z

    r, dq, lz = jax.lax.map(chunk, xs)
    return r.reshape(-1)[:n] / LN2, dq.reshape(-1)[:n], lz.reshape(-1)[:n]


def channel_terms(x, atoms, q, beta: float, distortion="squared") -> ChannelTerms:
    r"""Per-sample rate (bits) and distortion of the channel :math:`Q` at slope ``beta``.

    Parameters
    ----------
    x : array (n, k)
        Evaluation samples (held out from the fit).
    atoms : array (m, k)
        Reproduction points :math:`\hat x_j`.
    q : array (m,)
        Weights of the atoms (non-negative, summing to 1; zero weights are allowed).
    beta : float
        Slope in nats per unit of distortion (> 0).
    distortion : str or callable
        A point distortion (:mod:`rdtheory.discrete.point_distortions`).
    """
    x = as_samples(x, "x", min_n=1)
    atoms = as_samples(atoms, "atoms", min_n=1, dim=x.shape[1])
    q = as_finite_array(q, "q", ndim=1)
    if q.shape[0] != atoms.shape[0]:
        raise ValueError(f"q has {q.shape[0]} weights but there are {atoms.shape[0]} atoms; pass one weight per atom")
    if np.any(q < 0) or not q.sum() > 0:
        raise ValueError("q must be non-negative with a positive sum (the atoms' weights)")
    beta = float(positive(beta, "beta"))
    fn = check_point_distortion(distortion, x, atoms)
    rows = max(1, min(x.shape[0], TILE_ENTRIES // atoms.shape[0]))
    with np.errstate(divide="ignore"):
        log_q = np.log(q / q.sum())
    with jax.enable_x64(True):  # float64 like the engine: the terms are differences of logs
        r, dq, lz = jax.jit(_terms, static_argnums=(4, 5))(jnp.asarray(x), jnp.asarray(atoms), jnp.asarray(log_q),
                                                           beta, fn, rows)
    return ChannelTerms(np.asarray(r), np.asarray(dq), np.asarray(lz))


def _t_interval(v: np.ndarray, level: float) -> tuple[float, float]:
    m = float(np.mean(v))
    if v.size < 2:
        return (math.nan, math.nan)
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * np.std(v, ddof=1) / math.sqrt(v.size))
    return (m - half, m + half)


def heldout_bound(x_eval, atoms, q, beta: float, distortion="squared", *, level: float = 0.95) -> dict:
    r"""Upper bound on :math:`R(D)` of the source of ``x_eval`` at :math:`D = \mathbb E\,d_Q`.

    Returns a dict with ``rate`` and ``distortion`` (sample means; bits and units of ``d``),
    ``rate_interval`` and ``distortion_interval`` (Student-t intervals at ``level``) and
    ``n_eval``. See the module docstring for why this is an upper bound in expectation.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}")
    t = channel_terms(x_eval, atoms, q, beta, distortion)
    return dict(rate=float(np.mean(t.rate)), distortion=float(np.mean(t.distortion)),
                rate_interval=_t_interval(t.rate, level), distortion_interval=_t_interval(t.distortion, level),
                n_eval=int(t.rate.size))
