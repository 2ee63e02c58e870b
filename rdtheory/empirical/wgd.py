r"""Particle upper bounds on R(D): Wasserstein gradient descent, optionally hybridised with BA.

The reproduction distribution is a weighted particle measure
:math:`\nu = \sum_{j=1}^m w_j \delta_{y_j}`. At slope :math:`\beta` (nats per unit of
distortion) and fit samples :math:`x_1..x_n` the Blahut-Arimoto (BA) functional is

.. math::
    L_\beta(\nu) = -\frac1n \sum_{i=1}^n \log Z(x_i), \qquad
    Z(x) = \sum_j w_j e^{-\beta d(x, y_j)}        \quad\text{(nats)},

whose minimum over all :math:`\nu` is :math:`\min_D R(D) + \beta D` of the empirical
measure [1]_ [3]_. Its first variation is :math:`\psi(y) = -\frac1n\sum_i
e^{-\beta d(x_i,y)}/Z(x_i) = -c(y)`, and Wasserstein gradient descent (WGD) [1]_ moves every
particle along :math:`-\nabla\psi(y_j)`, whatever its weight. For squared error
:math:`\nabla\psi(y_j)/\beta = 2c_j(y_j - \bar x_j)`, :math:`\bar x_j` the posterior mean of
the samples assigned to :math:`y_j`: a plain gradient step with ``learning_rate=0.5`` is
the centroid update of Rose's mapping approach [2]_. Methods (``method=``):

- ``"wgd"``: positions by an optax optimiser on :math:`\nabla\psi/\beta`, weights fixed
  uniform (the paper's WGD);
- ``"hybrid"``: each step also applies the BA map :math:`w_j \leftarrow w_j c_j` [1]_ [3]_
  (computed in the same pass over the samples as the gradient, so one kernel per step; with
  minibatches the averaged online-EM form :math:`w \leftarrow (1-\eta)w + \eta\, w\odot c`);
- ``"ba"``: weights only, particles fixed at their start (BA reweighting of fixed
  particles: the baseline).

Particles start at ``m`` distinct fit samples drawn with ``seed``. Each step uses all fit
samples (``batch_size=None``) or a seeded minibatch; a batch of slopes is fitted at once
(``vmap``, independent particles per slope); with ``devices=`` the samples are sharded over
devices (``jax.shard_map``) and the per-particle sums are ``psum``-med, so the full-batch
result equals the one-device result up to reduction order. Samples are processed in row
chunks of at most :data:`~rdtheory.empirical.channel.TILE_ENTRIES` kernel entries.

**Guarantee.** The fitted :math:`(y, w, \beta)` define a channel whose expected KL to
:math:`\nu`, evaluated on held-out samples by
:func:`~rdtheory.empirical.channel.heldout_bound`, is an upper bound on :math:`R(D)` of the
true source at the held-out distortion, in expectation over the held-out sample (with a
Student-t interval). Finite particles and finite fit samples only make it looser, never
invalid.

References
----------
.. [1] Y. Yang, S. Eckstein, M. Nutz and S. Mandt, "Estimating the Rate-Distortion Function
   by Wasserstein Gradient Descent", NeurIPS 2023 (WGD, the BA hybrid; code yiboyang/wgd).
.. [2] K. Rose, "A mapping approach to rate-distortion computation and analysis", IEEE Trans.
   Inf. Theory 40(6):1939-1952, 1994.
.. [3] R. E. Blahut, "Computation of channel capacity and rate-distortion functions", IEEE
   Trans. Inf. Theory 18(4):460-473, 1972.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import jax
import jax.numpy as jnp
import optax
from jax.scipy.special import logsumexp

from .._validation import as_finite_array, as_samples, positive
from ..discrete.point_distortions import check_point_distortion
from ..discrete.solver import _check_devices
from .channel import TILE_ENTRIES, heldout_bound
from .estimate import no_targets, register_method, split_samples
from .record import RDBound

__all__ = ["WGD_METHODS", "OPTIMIZERS", "SCHEDULES", "ParticleFit", "fit_particles", "wgd_bound"]

#: ``method=`` values (module docstring).
WGD_METHODS = ("wgd", "hybrid", "ba")
#: ``optimizer=`` values: optax optimisers for the particle positions.
OPTIMIZERS = {"sgd": optax.sgd, "adam": optax.adam}
#: Step of the averaged BA update with minibatches (module docstring); 1 (plain BA) with all samples.
MINIBATCH_BA_STEP = 0.5
#: ``schedule=`` values: constant step size, or cosine decay to 0 over the run (for minibatches).
SCHEDULES = ("constant", "cosine")


class ParticleFit(NamedTuple):
    """Fitted particle measures, one per slope.

    ``particles`` (b, m, k); ``weights`` (b, m), each row summing to 1; ``beta`` (b,);
    ``objective`` (b, steps): :math:`L_\\beta` in nats on the samples of each step (the full
    fit set, or that step's minibatch), before the step's update.
    """

    particles: np.ndarray
    weights: np.ndarray
    beta: np.ndarray
    objective: np.ndarray


class _State(NamedTuple):
    y: jnp.ndarray          # (m, k) particle positions
    log_w: jnp.ndarray      # (m,) log weights
    opt: optax.OptState


# --------------------------------------------------------------------------------------
# Pure kernels (inside jit)
# --------------------------------------------------------------------------------------

def _chunk_sums(xc, muc, y, log_w, beta, fn):
    """Sums over one row chunk: objective, :math:`\\nabla\\psi` and the BA factors ``c``."""
    def surrogate(yy):
        d = fn(xc, yy)                                     # (rows, m)
        log_z = logsumexp(log_w[None, :] - beta * d, axis=1)
        kern = jnp.exp(jax.lax.stop_gradient(-log_z)[:, None] - beta * d)   # e^{-beta d}/Z
        c = muc @ kern
        return -jnp.sum(c), (-jnp.sum(muc * log_z), c)

    g, (loss, c) = jax.grad(surrogate, has_aux=True)(y)
    return loss, g, c


def _sums(x, mu, y, log_w, beta, fn, rows):
    """:math:`(L, \\nabla\\psi, c)` summed over the rows of ``x`` (chunked; ``mu`` the sample weights)."""
    xs, mus = x.reshape(-1, rows, x.shape[1]), mu.reshape(-1, rows)

    def body(acc, xm):
        out = _chunk_sums(xm[0], xm[1], y, log_w, beta, fn)
        return jax.tree.map(jnp.add, acc, out), None

    zero = (jnp.zeros((), x.dtype), jnp.zeros_like(y), jnp.zeros_like(log_w))
    return jax.lax.scan(body, zero, (xs, mus))[0]


def _step(state, xb, mub, beta, eta, cfg, fn, opt, axis):
    r"""One WGD / hybrid / BA step on the samples ``xb`` with weights ``mub`` (summing to 1 globally).

    ``eta``: step of the BA update :math:`w \leftarrow (1-\eta) w + \eta\, w \odot c` (1: the
    BA map; < 1: the averaged, online-EM step that keeps a particle a minibatch missed alive;
    :math:`\sum_j w_j c_j = 1`, so the weights stay normalised).
    """
    loss, g, c = _sums(xb, mub, state.y, state.log_w, beta, fn, cfg["rows"])
    if axis is not None:
        loss, g, c = jax.lax.psum((loss, g, c), axis)
    y, opt_state = state.y, state.opt
    if cfg["method"] != "ba":
        upd, opt_state = opt.update(g / beta, opt_state, y)
        y = optax.apply_updates(y, upd)
    log_w = state.log_w
    if cfg["method"] != "wgd":
        tiny = jnp.finfo(c.dtype).tiny
        log_w = log_w + jnp.log(jnp.maximum((1.0 - eta) + eta * c, tiny))
        log_w = log_w - logsumexp(log_w)
    return _State(y, log_w, opt_state), loss


def _segment(state, x, mu, n_real, beta, key, start, stop, *, cfg, fn, opt, axis):
    """``cfg['seg']`` steps from step index ``start`` for one slope (vmapped over slopes);
    steps with index ``>= stop`` leave the state unchanged (the last segment may overrun)."""
    def body(st, t):
        if cfg["batch"] is None:
            xb, mub = x, mu
        else:
            k = jax.random.fold_in(key, t)
            if axis is not None:
                k = jax.random.fold_in(k, jax.lax.axis_index(axis))
            idx = jax.random.randint(k, (cfg["batch"],), 0, n_real[0])
            xb, mub = x[idx], jnp.full((cfg["batch"],), cfg["batch_weight"], x.dtype)
        eta = cfg["eta0"]
        if cfg["steps"] is not None:
            eta = eta * 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(t, cfg["steps"]) / cfg["steps"]))
        new, loss = _step(st, xb, mub, beta, jnp.asarray(eta, x.dtype), cfg, fn, opt, axis)
        return jax.tree.map(lambda a, b: jnp.where(t < stop, a, b), new, st), loss

    return jax.lax.scan(body, state, start + jnp.arange(cfg["seg"]))


@functools.lru_cache(maxsize=32)
def _compiled(cfg_items: tuple, fn, opt_name: str, lr: float, devices):
    cfg = dict(cfg_items)
    opt = OPTIMIZERS[opt_name](lr if cfg["steps"] is None else optax.cosine_decay_schedule(lr, cfg["steps"]))
    axis = None if devices is None else "data"
    seg = functools.partial(_segment, cfg=cfg, fn=fn, opt=opt, axis=axis)
    seg = jax.vmap(seg, in_axes=(0, None, None, None, 0, None, None, None), out_axes=(0, 0))
    if devices is not None:
        from jax.sharding import Mesh, PartitionSpec as P

        mesh = Mesh(np.array(devices), ("data",))
        seg = jax.shard_map(seg, mesh=mesh, in_specs=(P(), P("data"), P("data"), P("data"), P(), P(), P(), P()),
                            out_specs=(P(), P()), check_vma=False)
    return jax.jit(seg), opt


# --------------------------------------------------------------------------------------
# Public functions (validation outside jit)
# --------------------------------------------------------------------------------------

def _check_int(v, name: str, lo: int, hint: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {v!r} ({hint})")
    return int(v)


def _check_options(method, optimizer, schedule, learning_rate, steps, m, n, batch_size, seed):
    if method not in WGD_METHODS:
        raise ValueError(f"method must be one of {WGD_METHODS}; got {method!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}; got {optimizer!r}")
    lr = float(positive(learning_rate, "learning_rate"))
    steps = _check_int(steps, "steps", 1, "the number of optimisation steps")
    m = _check_int(m, "m", 1, "the number of particles")
    if m > n:
        raise ValueError(f"m={m} particles but only {n} fit samples; particles start at distinct samples, "
                         f"so pass m <= {n}")
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch_size", 1, "samples per step, or None for all")
    _check_int(seed, "seed", 0, "a non-negative integer seed")
    return lr, steps, m, batch_size


def _layout(x, n_dev, rows):
    """Pad ``x`` to ``n_dev`` equal shards whose length is a multiple of ``rows``; sample weights."""
    n = x.shape[0]
    per = -(-n // n_dev)
    per = -(-per // rows) * rows
    xp = np.concatenate([x, np.broadcast_to(x[:1], (n_dev * per - n, x.shape[1]))])
    mu = np.zeros(n_dev * per)
    mu[:n] = 1.0 / n
    n_real = np.clip(n - per * np.arange(n_dev), 1, per).astype(np.int32)
    return xp, mu, n_real


def fit_particles(x, distortion="squared", beta=1.0, *, m: int = 256, steps: int = 500,
                  method: str = "hybrid", optimizer: str = "sgd", learning_rate: float = 0.5,
                  schedule: str = "constant", batch_size: int | None = None, seed: int = 0, devices=None, dtype="float64",
                  progress: bool = False) -> ParticleFit:
    r"""Fit particle reproduction measures to samples ``x`` at one or more slopes.

    Parameters
    ----------
    x : array (n, k)
        Fit samples (n >= 2).
    distortion : str or callable
        A point distortion (:mod:`rdtheory.discrete.point_distortions`); positions move only
        where it is differentiable in its second argument (for ``"hamming"`` the gradient is
        zero and only the BA weights change).
    beta : float or array (b,)
        Slopes in nats per unit distortion (> 0); one independent particle set each.
    m : int
        Particles per slope (<= n; they start at ``m`` distinct samples drawn with ``seed``).
    steps : int
        Optimisation steps.
    method : {"wgd", "hybrid", "ba"}
        See the module docstring.
    optimizer : {"sgd", "adam"}
        optax optimiser applied to :math:`\nabla\psi/\beta`; ``learning_rate`` its step size
        (``"sgd"`` with 0.5 is Rose's centroid update for squared error).
    schedule : {"constant", "cosine"}
        Step size schedule: constant, or cosine decay from ``learning_rate`` to 0 over
        ``steps``; with ``"cosine"`` the BA step :math:`\eta` decays by the same factor.
    batch_size : int or None
        Samples per step (drawn with replacement, seeded; per device when sharded); ``None``
        uses all fit samples every step. With minibatches the BA update is averaged,
        :math:`w \leftarrow (1-\eta)w + \eta\,w\odot c` with :math:`\eta` =
        :data:`MINIBATCH_BA_STEP` (online EM), so a particle one batch misses is not killed.
    seed : int
        Seeds the initial particles and the minibatches: reruns are bit-identical.
    devices : None, "all", "cpu", "gpu", "tpu" or a sequence of jax devices
        Shard the samples over these devices.
    dtype : {"float64", "float32"}
        Arithmetic precision (float64 is enabled for this call only).
    progress : bool
        Show a tqdm bar over step segments.
    """
    x = as_samples(x, "x", min_n=2)
    betas = as_finite_array(beta, "beta", ndim=(0, 1)).reshape(-1)
    positive(betas, "beta")
    lr, steps, m, batch_size = _check_options(method, optimizer, schedule, learning_rate, steps, m, x.shape[0], batch_size, seed)
    fn = check_point_distortion(distortion, x, x)
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32'; got {dtype!r}")
    devs = _check_devices(devices)
    n_dev = 1 if devs is None else len(devs)
    rows_cap = max(1, TILE_ENTRIES // (m * max(1, betas.size)))
    if batch_size is None:
        rows = min(rows_cap, -(-x.shape[0] // n_dev))
        batch = None
    else:
        per_dev = -(-batch_size // n_dev)
        rows = min(rows_cap, per_dev)
        batch = -(-per_dev // rows) * rows
    xp, mu, n_real = _layout(x, n_dev, rows)
    y0 = x[np.random.default_rng(seed).choice(x.shape[0], size=m, replace=False)]
    seg = min(steps, 50)
    cfg = (("method", method), ("rows", rows), ("batch", batch),
           ("batch_weight", None if batch is None else 1.0 / (batch * n_dev)), ("seg", seg),
           ("steps", None if schedule == "constant" else steps), ("eta0", 1.0 if batch is None else MINIBATCH_BA_STEP))
    run, opt = _compiled(cfg, fn, optimizer, lr, devs)
    with jax.enable_x64(dtype == "float64"):
        dt = jnp.dtype(dtype)
        ys = jnp.broadcast_to(jnp.asarray(y0, dt), (betas.size, m, x.shape[1]))
        state = _State(ys, jnp.full((betas.size, m), -math.log(m), dt), jax.vmap(opt.init)(ys))
        args = (jnp.asarray(xp, dt), jnp.asarray(mu, dt), jnp.asarray(n_real), jnp.asarray(betas, dt),
                jax.random.key(seed))
        losses = []
        n_seg = -(-steps // seg)
        it = range(n_seg)
        if progress:
            from tqdm.auto import tqdm
            it = tqdm(it, desc=f"{method} ({betas.size} slopes, m={m})", unit=f"x{seg} steps")
        for s in it:
            state, loss = run(state, *args, jnp.asarray(s * seg, jnp.int32), jnp.asarray(steps, jnp.int32))
            losses.append(np.asarray(loss))
        obj = np.concatenate(losses, axis=1)[:, :steps]
        w = np.exp(np.asarray(state.log_w, np.float64))
        return ParticleFit(np.asarray(state.y, np.float64), w / w.sum(axis=1, keepdims=True), betas.copy(),
                           obj.astype(np.float64))


def wgd_bound(samples, distortion="squared", beta=1.0, *, x_eval=None, holdout: float = 0.5,
              level: float = 0.95, cap_margin: float = 1.0, seed: int = 0, **fit_kwargs) -> RDBound:
    r"""Upper bound on :math:`R(D)` (bits) from particles fitted by WGD / hybrid / BA, scored held out.

    ``samples`` is split (seeded, :func:`~rdtheory.empirical.estimate.split_samples`) into a fit
    part and a held-out part of fraction ``holdout``, unless ``x_eval`` is given (then all ``samples`` are fitted). Each
    slope's particles are fitted by :func:`fit_particles` (``fit_kwargs``: ``m``, ``steps``,
    ``method``, ``optimizer``, ``learning_rate``, ``schedule``, ``batch_size``, ``devices``, ``dtype``,
    ``progress``) and scored by :func:`~rdtheory.empirical.channel.heldout_bound`: the
    ``rate`` is an upper bound on R at ``distortion`` in expectation over the held-out sample,
    ``interval`` its Student-t interval at ``level``. Points with rate above
    :math:`\log_2 m -` ``cap_margin`` are flagged ``capped`` (the particle count, not the
    source, limits the bound there; use more particles).

    Returns
    -------
    RDBound
        ``kind="upper"``, ``method="wgd"``; ``info`` holds the fit method, particle count,
        steps, the distortion intervals and the final fit objective (nats) per slope.
    """
    x = as_samples(samples, "samples", min_n=2 if x_eval is not None else 4)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}")
    if not (isinstance(cap_margin, (int, float)) and math.isfinite(cap_margin) and cap_margin >= 0):
        raise ValueError(f"cap_margin must be a finite number >= 0 (bits); got {cap_margin!r}")
    _check_int(seed, "seed", 0, "a non-negative integer seed")
    if x_eval is None:
        x_fit, x_ev = split_samples(x, holdout, seed)
    else:
        x_fit, x_ev = x, as_samples(x_eval, "x_eval", min_n=2, dim=x.shape[1])
    fit = fit_particles(x_fit, distortion, beta, seed=seed, **fit_kwargs)
    with jax.enable_x64(True):   # score in float64 whatever the fit's dtype
        scores = [heldout_bound(x_ev, y, w, b, distortion, level=level)
                  for y, w, b in zip(fit.particles, fit.weights, fit.beta)]
    m = fit.particles.shape[1]
    rate = np.array([s["rate"] for s in scores])
    info = dict(fit_method=fit_kwargs.get("method", "hybrid"), m=m, steps=int(fit.objective.shape[1]),
                seed=seed, distortion_interval=[list(s["distortion_interval"]) for s in scores],
                final_objective_nats=fit.objective[:, -1].tolist(), cap_bits=math.log2(m),
                channel=dict(atoms=fit.particles, weights=fit.weights))
    return RDBound(method="wgd", kind="upper", distortion=np.array([s["distortion"] for s in scores]),
                   rate=rate, interval=np.array([s["rate_interval"] for s in scores]), level=level,
                   beta=fit.beta, capped=rate > math.log2(m) - cap_margin, n_fit=x_fit.shape[0],
                   n_eval=x_ev.shape[0], info=info)


@register_method("wgd", accepts=(wgd_bound, fit_particles))
def _wgd_method(x, distortion, *, betas=None, holdout=0.5, level=0.95, seed=0, progress=True,
                distortions=None, **options) -> RDBound:
    """``estimate_rd(..., method="wgd")``: default slopes from the data (the plug-in's grid)."""
    no_targets("wgd", distortions)
    if betas is None:
        from .plugin import data_betas
        betas = data_betas(x, x, distortion, num=8)
    return wgd_bound(x, distortion, betas, holdout=holdout, level=level, seed=seed, progress=progress, **options)
