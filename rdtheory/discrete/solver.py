r"""The discrete R(D) solver's entry point: :func:`blahut_arimoto`, certified at every slope.

It solves the rate-distortion problem of the paper's Eq. 2 at a slope :math:`\beta` by
maximising :math:`\Phi(r) = \sum_x p(x)\log Z_r(x)` over output marginals (the BA map of
:mod:`~rdtheory.discrete.ba_map`) and returns Blahut's certificate
``lower <= R(distortion) <= rate`` (:mod:`~rdtheory.discrete.certificate`).

**Why plain BA is slow, and what the solver does about it.** The optimal :math:`r^*` is
supported on few points; points just outside the support decay only like :math:`1/k`. The
default ``method="accelerated"`` (:func:`solve`) combines

1. SQUAREM extrapolation (Varadhan & Roland 2008, scheme S3) of the BA map in
   :math:`\log r`, with a monotonicity safeguard on :math:`\Phi`;
2. certified elimination: any :math:`\hat x` with
   :math:`\sum_x p(x)e^{-\beta d(x,\hat x)} w_{\max}(x)/Z_r(x) < 1` lies outside every
   optimal support (:func:`~rdtheory.discrete.certificate.eliminate`), so its mass is set
   to zero;
3. Wang's (2007) constrained Newton method (CNM), its model solved over every alive point
   by a Lawson–Hanson active set on an updated QR factorisation, never the normal equations
   (:func:`~rdtheory.discrete.newton.newton_round`; ``k`` = the factor's capacity).

None of these is trusted: the returned bounds are recomputed from scratch in the log domain.
Every tuning constant lives in :class:`~rdtheory.discrete.config.SolverConfig`.

**Scale.** The solution depends on ``d`` and ``beta`` only through ``beta * d``, and
:math:`R_{cd}(cD) = R_d(D)` with :math:`\beta \to \beta/c`. :func:`_run` therefore solves
with ``d / s`` and ``beta * s``, ``s`` the power of two just above ``max d`` (per batch
member), and scales ``distortion`` and ``beta`` back: exact in floating point (a power of
two), so results are bit-identical to the unscaled solve for ordinary ``d``, while a ``d``
of order 1e-300 no longer loses precision in subnormal products ``p q d``.

:func:`solve` is pure and jit/vmap-able; :func:`blahut_arimoto` validates its input
(outside jit), batches with ``vmap`` and spreads a batch over devices with ``jax.shard_map``;
:func:`solve_warm` is the unvalidated warm-started solve used by ``rd_curve``.

References
----------
.. [1] R. E. Blahut, "Computation of channel capacity and rate-distortion functions",
   IEEE Trans. Inf. Theory 18(4):460-473, 1972.
.. [2] S. Arimoto, "An algorithm for computing the capacity of arbitrary discrete memoryless
   channels", IEEE Trans. Inf. Theory 18(1):14-20, 1972.
.. [3] R. Varadhan and C. Roland, "Simple and globally convergent methods for accelerating
   the convergence of any EM algorithm", Scand. J. Stat. 35(2):335-353, 2008 (SQUAREM).
.. [4] Y. Wang, "On fast computation of the non-parametric maximum likelihood estimate of a
   mixing distribution", J. R. Stat. Soc. B 69(2):185-198, 2007 (CNM).
.. [5] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Eq. 2).

Example
-------
>>> import numpy as np
>>> from rdtheory.discrete import blahut_arimoto, hamming
>>> res = blahut_arimoto([0.5, 0.5], hamming(2), beta=2.0)
>>> bool(res.lower <= res.rate <= res.lower + 1e-7)
True
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import numpy as np
import jax
import jax.numpy as jnp
from jax import lax

from .._jax import enable_compilation_cache
from .._validation import as_finite_array, distortion_matrix, positive, probability_vector
from .ba_map import _plain_round, _squarem_round
from .certificate import BAResult, _State, _gap, _grad, _mass, _normalise, eliminate, evaluate, kernel
from .config import SolverConfig, _check_config
from .newton import newton_round

__all__ = ["blahut_arimoto", "BAResult", "SolverConfig", "solve", "solve_warm"]

#: accepted string values of ``devices``
DEVICE_NAMES = ("all", "cpu", "gpu", "tpu")


def solve(p, d, beta, theta0, cfg: SolverConfig) -> BAResult:
    """Solve one instance (pure; ``jit``/``vmap`` it). ``theta0`` is the initial log r."""
    K = kernel(d, beta)
    m = d.shape[1]
    alive = jnp.ones((m,), bool)
    theta0 = _normalise(theta0.astype(d.dtype), alive)
    r0 = _mass(theta0, alive)
    _, c0, _ = _grad(r0, K, p)
    s = _State(theta0, alive, jnp.asarray(0), jnp.asarray(0), _gap(r0, c0, alive))

    def not_done(st):
        return (st.gap > cfg.tol_nats) & (st.it < cfg.max_iter)

    if cfg.method == "plain":
        s = lax.while_loop(not_done, lambda st: _plain_round(st, K, p, cfg), s)
    else:
        if cfg.method == "accelerated":
            warm = dataclasses.replace(cfg, round_len=cfg.warmup)
            s = _squarem_round(s, K, p, warm)

            def newton_cond(c):
                rnd, st, _, fits = c
                return (rnd < cfg.max_rounds) & not_done(st) & fits

            def newton_body(c):
                # steps need not improve the gap monotonically: keep the best iterate
                rnd, st, best, _ = c
                st = st._replace(alive=eliminate(st.theta, st.alive, K, p))
                st = st._replace(theta=_normalise(st.theta, st.alive))
                st, solved = newton_round(st, K, p, cfg)
                best = jax.tree.map(lambda a, b: jnp.where(st.gap < best.gap, a, b), st, best)
                # in a non-final stage (no SQUAREM tail), a minimiser that does not fit the
                # factor's capacity ends the steps: the "auto" schedule moves to a larger one
                return rnd + 1, st, best, solved | cfg.squarem_tail

            _, last, s, _ = lax.while_loop(newton_cond, newton_body, (0, s, s, jnp.asarray(True)))
            s = s._replace(it=last.it, nt=last.nt)
        # SQUAREM to finish (or as the whole method for method="squarem")
        if cfg.squarem_tail or cfg.method != "accelerated":
            s = lax.while_loop(not_done, lambda st: _squarem_round(st, K, p, cfg), s)
    return evaluate(p, d, beta, s.theta, s.alive, s.it, s.nt, cfg.tol)


# --------------------------------------------------------------------------------------
# Public entry point: validation (outside jit), batching (vmap), devices (shard_map)
# --------------------------------------------------------------------------------------

def _check_devices(devices) -> tuple | None:
    """``devices`` as a tuple of distinct JAX devices (or None); ValueError otherwise."""
    accepted = f"None, one of {DEVICE_NAMES}, or a non-empty sequence of distinct jax devices"
    if devices is None:
        return None
    if isinstance(devices, str):
        if devices not in DEVICE_NAMES:
            raise ValueError(f"devices must be {accepted}; got {devices!r}")
        try:
            found = jax.devices() if devices == "all" else jax.devices(devices)
        except RuntimeError:
            have = sorted({dev.platform for dev in jax.devices()})
            raise ValueError(f"devices={devices!r}: no such devices on this machine (platforms present: "
                             f"{have}); pass devices=None, 'all', or one of {have}") from None
        return tuple(found)
    if isinstance(devices, jax.Device):
        devices = (devices,)
    try:
        devices = tuple(devices)
    except TypeError:
        raise ValueError(f"devices must be {accepted}; got {type(devices).__name__}") from None
    if not devices or not all(isinstance(dev, jax.Device) for dev in devices):
        raise ValueError(f"devices must be {accepted}; got {devices!r} (e.g. devices=jax.devices())")
    if len(set(devices)) != len(devices):
        raise ValueError(f"devices lists a device more than once: {devices!r}; pass each device once")
    return devices


@functools.lru_cache(maxsize=64)
def _compiled(cfg: SolverConfig, in_axes: tuple, devices: tuple | None):
    enable_compilation_cache()  # persistent across processes; opt out with RDTHEORY_JAX_CACHE=0
    fn = functools.partial(solve, cfg=cfg)
    if in_axes is not None:
        fn = jax.vmap(fn, in_axes=in_axes)
    if devices is not None:
        from jax.sharding import Mesh, PartitionSpec as P

        mesh = Mesh(np.array(devices), ("batch",))
        specs = tuple(P("batch") if a == 0 else P() for a in in_axes)
        fn = jax.shard_map(fn, mesh=mesh, in_specs=specs, out_specs=P("batch"), check_vma=False)
    return jax.jit(fn)


def blahut_arimoto(p, d, beta, *, tol: float = 1e-7, max_iter: int = 100_000,
                   method: str = "accelerated", init=None, dtype="float64",
                   newton_size: int | str = "auto", devices: Sequence | str | None = None) -> BAResult:
    r"""Solve R(D) at slope ``beta`` with a certified error bound.

    Parameters
    ----------
    p : array (..., n)
        Source distribution(s); non-negative, each summing to 1 within 1e-6.
    d : array (..., n, m)
        Distortion matrix d[x, x_hat] >= 0, finite. Any scale works (e.g. 1e-300 or 1e300):
        the solve runs on ``d`` normalised by a power of two (module docstring, "Scale").
    beta : float or array (...)
        Slope parameter > 0, in nats per unit of distortion (the solution minimises
        :math:`I(X;\hat X)[\text{nats}] + \beta\,\mathbb E d`); ``beta * max d`` must be finite.
    tol : float
        Target certified gap ``rate - lower`` in bits (default 1e-7).
    max_iter : int
        Cap on BA map evaluations; if hit, ``converged`` is False but the bounds still hold.
    method : {"accelerated", "squarem", "plain"}
        See the module docstring. All three return the same certificate.
    init : array (..., m), optional
        Warm start for the output marginal r (e.g. the ``r`` of a nearby beta); mixed with
        weight ``SolverConfig.init_mix`` (1e-3) of the uniform distribution so no point
        starts at ~zero mass.
    dtype : "float64" (default) or "float32"
        float64 is enabled for this call only (``jax.enable_x64``), not globally.
    newton_size : "auto" or int
        Capacity k of the Newton steps' QR factor (a static shape). ``"auto"`` tries
        ``SolverConfig.auto_newton_sizes`` (k = 256, 512, 1024, 4096, capped at min(n + 1, m)) in turn,
        each stage warm-started from the last and given a few rounds, re-solving only the
        batch members that have not converged; an int fixes k. The certificate never
        depends on k, only the speed.
    devices : None, "all", "cpu", "gpu", "tpu", or a sequence of JAX devices
        Spread the batch over these devices with ``jax.shard_map`` (the batch is padded
        to a multiple of the device count). A platform name takes all its devices; one
        that this machine lacks raises ``ValueError``.

    Returns
    -------
    BAResult
        Fields as numpy arrays, with ``lower <= R(distortion) <= rate`` (bits).

    Notes
    -----
    Leading batch dimensions of ``p``, ``d``, ``beta`` and ``init`` broadcast together and
    are solved with ``vmap``; the result's fields carry the batch shape.

    References
    ----------
    .. [1] R. E. Blahut, "Computation of channel capacity and rate-distortion functions",
       IEEE Trans. Inf. Theory 18(4):460-473, 1972.
    """
    dt = _check_config(tol, max_iter, method, newton_size, dtype)
    p = probability_vector(p, "p")
    d = distortion_matrix(d, "d", n=p.shape[-1])
    beta = positive(beta, "beta")
    devices = _check_devices(devices)
    n, m = d.shape[-2:]
    batch_parts = [p.shape[:-1], d.shape[:-2], beta.shape]
    if init is not None:
        init = as_finite_array(init, "init", dtype=np.float64)
        if init.shape[-1] != m or np.any(init < 0) or np.any(init.sum(-1) <= 0):
            raise ValueError(f"init must be non-negative weights over the m={m} reproduction points "
                             f"(shape (..., {m})) with positive sum; got shape {init.shape}")
        batch_parts.append(init.shape[:-1])
    try:
        batch = np.broadcast_shapes(*batch_parts)
    except ValueError:
        raise ValueError(f"batch shapes of p {p.shape[:-1]}, d {d.shape[:-2]}, beta {beta.shape}"
                         f"{'' if init is None else f', init {init.shape[:-1]}'} do not broadcast") from None
    with np.errstate(over="ignore"):
        if not np.all(np.isfinite(beta * _unit_scale(d))):
            raise ValueError("beta * max(d) overflows float64; lower beta or rescale d "
                             "(only their product matters)")
    cfg = SolverConfig(method=method, tol=float(tol), max_iter=int(max_iter))
    theta0 = np.zeros(m) if init is None else _warm_theta(init, cfg.init_mix)
    if method != "accelerated":
        sizes = [2]
    elif newton_size == "auto":
        sizes = sorted({min(k, m) for k in cfg.auto_newton_sizes})
    else:
        sizes = [int(min(newton_size, m))]
    with jax.enable_x64(dt == np.float64):
        out = _staged(p, d, beta, theta0, batch, cfg, dt, devices, sizes)
        bad = ~(np.isfinite(out.rate) & np.isfinite(out.lower) & np.all(np.isfinite(out.r), axis=-1))
        if np.any(bad) and method != "squarem":
            # safety net: never hand back a NaN; SQUAREM has no linear algebra to break
            fix = _staged(p, d, beta, theta0, batch, dataclasses.replace(cfg, method="squarem"), dt, devices, [2])
            out = jax.tree.map(lambda a, b: np.where(bad.reshape(bad.shape + (1,) * (a.ndim - bad.ndim)), b, a), out, fix)
        return out


def _staged(p, d, beta, theta0, batch, cfg, dt, devices, sizes) -> BAResult:
    """Run the k-schedule; only unconverged members move on to the next (larger) k."""
    out = None
    todo = None  # flat indices still to solve (None: all)
    flat = lambda a, core: np.broadcast_to(a, batch + a.shape[a.ndim - core:]).reshape((-1,) + a.shape[a.ndim - core:])
    for i, k in enumerate(sizes):
        last = i == len(sizes) - 1
        stage = dataclasses.replace(cfg, newton_size=k) if last else dataclasses.replace(
            cfg, newton_size=k, max_rounds=cfg.stage_rounds, squarem_tail=False)
        if i > 0:  # warm-started from the previous stage: no second cold warm-up
            stage = dataclasses.replace(stage, warmup=min(cfg.warmup, cfg.warm_warmup))
        if todo is None:
            # numpy out (as _run returns): float64 JAX arrays would be silently truncated to
            # float32 by any arithmetic done outside this x64 context
            out = _run(p, d, beta, theta0, batch, stage, dt, devices)
        else:
            sub = lambda a, core: flat(a, core)[todo] if a.ndim > core else a
            init = _warm_theta(flat_out.r[todo], cfg.init_mix)
            res = _run(sub(p, 1), sub(d, 2), sub(beta, 0), init, (len(todo),), stage, dt, devices)
            prev = jax.tree.map(lambda a: a[todo], flat_out)
            res = res._replace(iterations=res.iterations + prev.iterations,
                               newton_steps=res.newton_steps + prev.newton_steps)
            flat_out = jax.tree.map(lambda a, b: _scatter(a, todo, b), flat_out, res)
            out = jax.tree.map(lambda a: a.reshape(batch + a.shape[1:]), flat_out)
        if last:
            break
        flat_out = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[len(batch):]), out)
        todo = np.flatnonzero(~flat_out.converged)
        if todo.size == 0:
            break
    return out


def solve_warm(p, d, beta, r0, cfg: SolverConfig, dtype=np.float64) -> BAResult:
    """Solve one slope from the output marginal ``r0`` of a nearby slope (no validation:
    callers pass arrays that :func:`blahut_arimoto` would accept). Returns numpy fields.

    ``r0`` is mixed with weight ``cfg.init_mix`` of uniform (:func:`_warm_theta`). The
    certificate is that of :func:`~rdtheory.discrete.certificate.evaluate`, so a poor ``r0``
    or ``cfg`` costs only ``converged = False``, never a wrong bound.
    """
    dt = np.dtype(dtype)
    with jax.enable_x64(dt == np.float64):
        theta0 = _warm_theta(np.asarray(r0, np.float64), cfg.init_mix)
        return _run(p, d, np.asarray(beta, np.float64), theta0, (), cfg, dt, None)


def _warm_theta(r, mix: float):
    """log of a warm start mixed with weight ``mix`` of uniform: a point a warm start left
    at ~1e-300 would otherwise need thousands of multiplicative BA steps to come back."""
    m = r.shape[-1]
    return np.log((1 - mix) * r / r.sum(-1, keepdims=True) + mix / m)


def _scatter(a, idx, b):
    a = a.copy()
    a[idx] = b
    return a


def _unit_scale(d) -> np.ndarray:
    """Per batch member, the power of two ``s`` with ``max d / s`` in [0.5, 1) (1 if d = 0).

    Dividing ``d`` by ``s`` and multiplying ``beta`` by it is exact in floating point, so
    the solve is unchanged for ordinary ``d`` and immune to ``d``'s scale otherwise."""
    return np.ldexp(1.0, np.frexp(np.max(d, axis=(-2, -1)))[1])


def _run(p, d, beta, theta0, batch, cfg, dt, devices) -> BAResult:
    """Solve with ``d`` normalised by :func:`_unit_scale`; numpy fields in ``d``'s units."""
    s = _unit_scale(d)
    if s.ndim and np.all(s == s.flat[0]):
        s = s.flat[0]  # one scale: keep beta's batch shape (and the compiled function) as is
    d = d / (s[..., None, None] if np.ndim(s) else s)
    beta = beta * s
    size = int(np.prod(batch)) if batch else 1
    args, axes = [], []
    for arr, core in ((p, 1), (d, 2), (beta, 0), (theta0, 1)):
        own = arr.shape[: arr.ndim - core]
        if batch and own:
            arr = np.broadcast_to(arr, batch + arr.shape[arr.ndim - core:]).reshape((size,) + arr.shape[arr.ndim - core:])
            axes.append(0)
        else:
            axes.append(None)
        args.append(arr)
    if not batch:
        fn = _compiled(cfg, None, None)
        out = fn(*(jnp.asarray(a, dt) for a in args))
    elif devices is not None and len(devices) > 1:
        ndev = len(devices)
        pad = (-size) % ndev
        if all(a is None for a in axes):
            axes[2] = 0
            args[2] = np.broadcast_to(args[2], (size,))
        args = [np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]) if ax == 0 and pad else a
                for a, ax in zip(args, axes)]
        fn = _compiled(cfg, tuple(axes), devices)
        out = fn(*(jnp.asarray(a, dt) for a in args))
        out = jax.tree.map(lambda x: x[:size], out)
    else:
        fn = _compiled(cfg, tuple(axes), None)
        out = fn(*(jnp.asarray(a, dt) for a in args))
    out = jax.tree.map(lambda x: np.asarray(x).reshape(batch + x.shape[1:]) if batch else np.asarray(x), out)
    if np.any(s != 1.0):
        # back to d's units, in float64 (a power of two below float32's range must not round)
        back = lambda x, f: (x.astype(np.float64) * np.broadcast_to(f, x.shape)).astype(x.dtype)
        out = out._replace(distortion=back(out.distortion, s), beta=back(out.beta, 1.0 / s))
    return out
