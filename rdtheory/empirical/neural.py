r"""Neural upper bound on R(D): a β-VAE-style compressor with a learned prior.

An encoder maps a point :math:`x \in \mathbb R^k` to a Gaussian
:math:`q(z|x) = \mathcal N(\mu(x), \mathrm{diag}\,\sigma(x)^2)` on :math:`\mathbb R^L`, a
decoder maps a latent to a reproduction :math:`\hat x = g(z)`, and a learned prior
:math:`m(z)` (a factorised mixture of ``prior_components`` Gaussians per latent coordinate)
stands in for the latent marginal. Because :math:`X \to Z \to \hat X` is a Markov chain and
:math:`m` need not be the marginal of :math:`Z`,

.. math::
    R\big(\mathbb E\, d(X, g(Z))\big) \;\le\; I(X;\hat X) \;\le\; I(X;Z)
    \;\le\; \mathbb E_X\, \mathrm{KL}\big(q(\cdot|X)\,\|\,m\big)

(data processing, then the variational bound of [1]_ Lemma 10.8.1), for *any* encoder,
decoder and prior, trained well or not. Training minimises, at a slope :math:`\beta` (nats
per unit of distortion), the β-VAE objective of [2]_

.. math::
    \mathcal L_\beta = \mathbb E_X\Big[\mathrm{KL}\big(q(\cdot|X)\|m\big)
        + \beta\, \mathbb E_{q(z|X)}\, d\big(X, g(z)\big)\Big]

with one reparameterised sample [3]_ :math:`z = \mu + \sigma \odot \varepsilon` per point
(``optax`` Adam [4]_, cosine-decayed learning rate, minibatches drawn with replacement). The KL is
:math:`-H(q(\cdot|x)) - \mathbb E_q \log m(z)`: the entropy of the Gaussian is exact
(:math:`\sum_l \log\sigma_l + \tfrac L2 \log 2\pi e`), the cross-entropy term is Monte Carlo,
so the estimate is unbiased with less variance than MC of :math:`\log q - \log m`.

The bound is evaluated on held-out points ``x_eval`` (never the fitted ones): per point, the
KL with ``mc_samples`` latent draws and the distortion averaged over the same draws; the
per-point terms are i.i.d., so their means are unbiased for the population values and the
Student-t intervals are asymptotically valid. The reported rate is an upper bound on
:math:`R(D)` at the reported distortion *in expectation* (the curve's point sits above R(D)
up to the sampling error that the interval states).

Encoder and decoder are a linear map plus an MLP branch whose last layer starts at zero
(``hidden=()``: linear only), so a Gaussian's optimal linear code is representable exactly.
Inputs are standardised per coordinate with the fit sample's mean and std (the decoder output
is mapped back; distortion in the original units). All slopes train at once (``vmap`` over
independent models, shared minibatches); float32.

References
----------
.. [1] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Ch. 10, Lemma 10.8.1).
.. [2] Y. Yang and S. Mandt, "Towards Empirical Sandwich Bounds on the Rate-Distortion
   Function", ICLR 2022 (the upper bound: a β-VAE with a learned prior; code
   mandt-lab/RD-sandwich).
.. [3] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (the
   reparameterisation).
.. [4] D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
"""
from __future__ import annotations

import functools
import hashlib
import io
import math
import operator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import jax
import jax.numpy as jnp
import equinox as eqx
import optax
from jax.scipy.special import logsumexp
from tqdm.auto import tqdm

from .._io import atomic_write_bytes
from .._jax import enable_compilation_cache
from .._validation import as_finite_array, as_samples, positive
from ..discrete.point_distortions import check_point_distortion
from ..info import LN2
from .channel import _t_interval
from .estimate import no_targets, register_method, split_samples
from .record import RDBound

__all__ = ["NeuralConfig", "NeuralFit", "fit_neural", "evaluate_neural", "neural_bound"]

_SOFTPLUS_INV_1 = math.log(math.expm1(1.0))  # softplus(raw + this) = 1 at raw = 0
_EVAL_ROWS = 4096                               # held-out rows per compiled evaluation call


def _diag_squared(x, y):
    return jnp.sum((x - y) ** 2)


def _diag_absolute(x, y):
    return jnp.sum(jnp.abs(x - y))


#: Distortions evaluated on a pair (x, x_hat) directly (exact, no |x|^2 + |y|^2 - 2<x, y>).
_DIAGONAL = {"squared": _diag_squared, "absolute": _diag_absolute}


def _tile_pair(tile, x, y):
    """d(x, y) of one pair from a tile function ``tile((1, k), (1, k)) -> (1, 1)``."""
    return tile(x[None, :], y[None, :])[0, 0]


class NeuralConfig(NamedTuple):
    """Static shape of the model and the optimiser (hashable: it keys the compiled code)."""

    dim: int                      # k, point dimension
    latent_dim: int               # L
    hidden: tuple[int, ...]       # MLP widths of encoder and decoder branches
    prior_components: int         # Gaussians per latent coordinate in m(z)
    batch_size: int
    pair: object                  # d(x, x_hat) of one pair, in jax.numpy


class _Net(eqx.Module):
    """``linear(x) + mlp(x)``; the MLP's last layer starts at zero."""

    linear: eqx.nn.Linear
    layers: tuple

    def __init__(self, n_in, n_out, hidden, key):
        k0, *ks = jax.random.split(key, len(hidden) + 2)
        self.linear = eqx.nn.Linear(n_in, n_out, key=k0)
        sizes = (n_in, *hidden, n_out) if hidden else ()
        layers = tuple(eqx.nn.Linear(a, b, key=k) for a, b, k in zip(sizes[:-1], sizes[1:], ks))
        if layers:
            last = layers[-1]
            last = eqx.tree_at(lambda m: (m.weight, m.bias), last,
                               (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)))
            layers = layers[:-1] + (last,)
        self.layers = layers

    def __call__(self, x):
        out = self.linear(x)
        if self.layers:
            h = x
            for layer in self.layers[:-1]:
                h = jax.nn.gelu(layer(h))
            out = out + self.layers[-1](h)
        return out


class _Prior(eqx.Module):
    r"""Factorised mixture :math:`m(z) = \prod_l \sum_c \pi_{lc}\,\mathcal N(z_l; a_{lc}, s_{lc}^2)`."""

    logits: jax.Array
    loc: jax.Array
    raw_scale: jax.Array

    def __init__(self, latent_dim, components, key):
        self.logits = jnp.zeros((latent_dim, components))
        self.loc = jax.random.normal(key, (latent_dim, components)) if components > 1 \
            else jnp.zeros((latent_dim, 1))
        self.raw_scale = jnp.zeros((latent_dim, components))

    def log_prob(self, z):
        """:math:`\\log m(z)` (nats) of one latent ``z: (L,)``."""
        scale = jax.nn.softplus(self.raw_scale + _SOFTPLUS_INV_1)
        log_w = jax.nn.log_softmax(self.logits, axis=1)
        lp = jax.scipy.stats.norm.logpdf(z[:, None], self.loc, scale) + log_w
        return jnp.sum(logsumexp(lp, axis=1))


class _Model(eqx.Module):
    encoder: _Net
    decoder: _Net
    prior: _Prior


def _init_model(key, cfg: NeuralConfig) -> _Model:
    ke, kd, kp = jax.random.split(key, 3)
    return _Model(_Net(cfg.dim, 2 * cfg.latent_dim, cfg.hidden, ke),
                  _Net(cfg.latent_dim, cfg.dim, cfg.hidden, kd),
                  _Prior(cfg.latent_dim, cfg.prior_components, kp))


def _static(cfg: NeuralConfig):
    return eqx.partition(_init_model(jax.random.PRNGKey(0), cfg), eqx.is_inexact_array)[1]


def _point_terms(model, x, eps, center, scale, pair):
    """KL(q(.|x) || m) in nats (exact entropy, MC cross-entropy over the rows of ``eps``) and
    the mean distortion over the same draws, for one point ``x: (k,)``; ``eps: (S, L)``."""
    h = model.encoder((x - center) / scale)
    latent = eps.shape[1]
    mu, sigma = h[:latent], jax.nn.softplus(h[latent:] + _SOFTPLUS_INV_1)
    neg_entropy = -jnp.sum(jnp.log(sigma)) - 0.5 * latent * math.log(2 * math.pi * math.e)
    z = mu + sigma * eps
    cross = -jnp.mean(jax.vmap(model.prior.log_prob)(z))
    x_hat = center + scale * jax.vmap(model.decoder)(z)
    dist = jnp.mean(jax.vmap(pair, in_axes=(None, 0))(x, x_hat))
    return neg_entropy + cross, dist


def _optimizer(learning_rate, steps):
    """Adam with a cosine decay from ``learning_rate`` to 1% of it over ``steps`` (both may be
    traced, so one compiled step serves every run length)."""
    def schedule(count):
        frac = jnp.minimum(count / steps, 1.0)
        return learning_rate * (0.01 + 0.99 * 0.5 * (1.0 + jnp.cos(jnp.pi * frac)))

    return optax.adam(schedule)


def _train_chunk(params, opt_state, x, betas, center, scale, key, start, stop, learning_rate, steps,
                 cfg: NeuralConfig):
    """Adam steps ``start .. stop - 1`` of every model (``vmap`` over the leading axis of
    ``params``); returns the last step's (objective, rate, distortion) per model, nats."""
    static = _static(cfg)
    opt = _optimizer(learning_rate, steps)
    n = x.shape[0]

    def loss(p, beta, xb, k):
        model = eqx.combine(p, static)
        eps = jax.random.normal(k, (xb.shape[0], 1, cfg.latent_dim))
        r, d = jax.vmap(_point_terms, in_axes=(None, 0, 0, None, None, None))(model, xb, eps, center, scale,
                                                                             cfg.pair)
        return jnp.mean(r + beta * d), (jnp.mean(r), jnp.mean(d))

    def one(p, s, beta, xb, k):
        (val, aux), g = jax.value_and_grad(loss, has_aux=True)(p, beta, xb, k)
        upd, s = opt.update(g, s, p)
        return optax.apply_updates(p, upd), s, jnp.stack([val, *aux])

    def body(step, carry):
        p, s, _ = carry
        kb, kn = jax.random.split(jax.random.fold_in(key, step))
        xb = x[jax.random.randint(kb, (cfg.batch_size,), 0, n)]
        keys = jax.random.split(kn, betas.shape[0])
        return jax.vmap(one, in_axes=(0, 0, 0, None, 0))(p, s, betas, xb, keys)

    stats = jnp.full((betas.shape[0], 3), jnp.nan, x.dtype)
    return jax.lax.fori_loop(start, stop, body, (params, opt_state, stats))


_train_chunk_jit = jax.jit(_train_chunk, static_argnames=("cfg",))


class NeuralFit(NamedTuple):
    """Fitted models (one per slope, stacked on the leading axis of ``params``)."""

    params: object
    cfg: NeuralConfig
    betas: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    train_loss: np.ndarray        # last minibatch's objective per slope (nats)
    n_fit: int
    seed: int
    steps: int
    learning_rate: float


def _as_int(v, name, low):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {v!r}")
    return int(v)


def _resolve_pair(distortion, x):
    if isinstance(distortion, str) and distortion in _DIAGONAL:
        return _DIAGONAL[distortion]
    if isinstance(distortion, str) and distortion == "hamming":
        raise ValueError("distortion='hamming' has zero gradient almost everywhere, so the neural bound "
                         "cannot be trained on it; use the plug-in estimator for discrete sources")
    return functools.partial(_tile_pair, check_point_distortion(distortion, x, x))


def _fingerprint(cfg: NeuralConfig, steps, lr, x, betas, seed) -> np.ndarray:
    """SHA-256 of the settings, data and slopes: a checkpoint resumes only the fit that wrote it."""
    fn = cfg.pair.args[0] if isinstance(cfg.pair, functools.partial) else cfg.pair
    pair = getattr(fn, "__qualname__", type(fn).__name__)  # a user callable: by name only
    h = hashlib.sha256(repr((cfg._replace(pair=pair), steps, lr, seed)).encode())
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(betas).tobytes())
    return np.frombuffer(h.digest(), dtype=np.uint8).copy()


def _save(path, params, opt_state, step, fp):
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, (params, opt_state, jnp.asarray(step, jnp.int32), jnp.asarray(fp)))
    atomic_write_bytes(path, buf.getvalue())


def _load(path, params, opt_state, fp):
    like = (params, opt_state, jnp.asarray(0, jnp.int32), jnp.asarray(fp))
    try:
        p, s, step, saved = eqx.tree_deserialise_leaves(io.BytesIO(Path(path).read_bytes()), like)
    except Exception as err:
        raise ValueError(f"checkpoint {path} does not match this fit ({type(err).__name__}); "
                         f"delete it or pass another checkpoint path") from None
    if not np.array_equal(np.asarray(saved), fp):
        raise ValueError(f"checkpoint {path} was written by a fit with other data, slopes, seed or "
                         f"settings; delete it or pass another checkpoint path")
    return p, s, int(step)


def fit_neural(x, betas, distortion="squared", *, latent_dim: int | None = None, hidden=(64, 64),
               prior_components: int = 4, steps: int = 5000, batch_size: int = 256,
               learning_rate: float = 1e-2, seed: int = 0, checkpoint=None, checkpoint_every: int = 500,
               progress: bool = False) -> NeuralFit:
    r"""Train one β-VAE compressor per slope in ``betas`` on the samples ``x`` (see the module).

    Parameters
    ----------
    x : array (n, k)
        Fit samples (n >= 2; 1-D input is ``(n, 1)``).
    betas : float or array (b,)
        Slopes :math:`\beta > 0` in nats per unit of distortion; larger means lower distortion.
    distortion : ``"squared"``, ``"absolute"`` or callable
        A point distortion (:mod:`rdtheory.discrete.point_distortions`), differentiable in
        :math:`\hat x`; ``"hamming"`` is refused.
    latent_dim : int, optional
        :math:`L \ge 1`; default ``k``.
    hidden : tuple of int
        Widths of the MLP branch of encoder and decoder (``()``: linear only).
    prior_components : int
        Gaussians per latent coordinate in the prior.
    steps, batch_size, learning_rate : int, int, float
        Adam steps, minibatch size (capped at n), peak learning rate (cosine decay to 1%).
    seed : int
        Initialisation, minibatches and noise; a seeded fit is bit-identical.
    checkpoint : path, optional
        Parameters and optimiser state are written there (atomically) every
        ``checkpoint_every`` steps, and a fit with the same data, slopes, seed and settings
        resumes from it (bit-identical to an uninterrupted fit).
    progress : bool
        Show a tqdm progress bar.
    """
    x = as_samples(x, "x", min_n=2)
    betas = np.atleast_1d(positive(as_finite_array(betas, "betas", ndim=(0, 1)), "betas")).astype(np.float64)
    n, k = x.shape
    latent_dim = k if latent_dim is None else _as_int(latent_dim, "latent_dim", 1)
    try:
        hidden = tuple(_as_int(operator.index(h), "hidden widths", 1) for h in hidden)
    except TypeError:
        raise ValueError(f"hidden must be a tuple of positive integers; got {hidden!r}") from None
    lr = float(positive(learning_rate, "learning_rate"))
    steps = _as_int(steps, "steps", 1)
    cfg = NeuralConfig(k, latent_dim, hidden, _as_int(prior_components, "prior_components", 1),
                       min(_as_int(batch_size, "batch_size", 1), n), _resolve_pair(distortion, x))
    seed = _as_int(seed, "seed", 0)
    every = _as_int(checkpoint_every, "checkpoint_every", 1)

    center = x.mean(axis=0)
    std = x.std(axis=0)
    scale = np.where(std > 1e-12 * max(float(std.max()), 1e-300), std, 1.0)
    base = jax.random.PRNGKey(seed)
    models = eqx.filter_vmap(lambda kk: _init_model(kk, cfg))(jax.random.split(jax.random.fold_in(base, 0),
                                                                              betas.size))
    params = eqx.filter(models, eqx.is_inexact_array)
    opt_state = jax.vmap(_optimizer(lr, steps).init)(params)
    fp = _fingerprint(cfg, steps, lr, x, betas, seed)
    step = 0
    if checkpoint is not None and Path(checkpoint).exists():
        params, opt_state, step = _load(checkpoint, params, opt_state, fp)

    enable_compilation_cache()
    args = (jnp.asarray(x, jnp.float32), jnp.asarray(betas, jnp.float32), jnp.asarray(center, jnp.float32),
            jnp.asarray(scale, jnp.float32), jax.random.fold_in(base, 1))
    last = np.full(betas.size, np.nan)
    with tqdm(total=steps, initial=step, disable=not progress, desc="neural R(D)", unit="step") as bar:
        while step < steps:
            stop = min(step + every, steps)
            params, opt_state, stats = _train_chunk_jit(params, opt_state, *args, jnp.int32(step), jnp.int32(stop),
                                                        jnp.float32(lr), jnp.float32(steps), cfg=cfg)
            stats = np.asarray(stats, dtype=np.float64)
            last = stats[:, 0]
            if not np.all(np.isfinite(last)):
                raise RuntimeError(f"training diverged (objective {last}) by step {stop}; "
                                   f"lower learning_rate (now {lr:g})")
            bar.update(stop - step)
            step = stop
            if checkpoint is not None:
                _save(checkpoint, params, opt_state, step, fp)
            bar.set_postfix(rate_bits=f"{stats[:, 1].mean() / LN2:.3g}", distortion=f"{stats[:, 2].mean():.3g}")
    return NeuralFit(params, cfg, betas, center, scale, last, n, seed, steps, lr)


def _eval_rows(params, x, center, scale, key, first, cfg: NeuralConfig, mc_samples: int):
    static = _static(cfg)
    rows = first + jnp.arange(x.shape[0])

    def one_model(p):
        model = eqx.combine(p, static)

        def one_point(xi, row):
            eps = jax.random.normal(jax.random.fold_in(key, row), (mc_samples, cfg.latent_dim))
            return _point_terms(model, xi, eps, center, scale, cfg.pair)

        return jax.vmap(one_point)(x, rows)

    return jax.vmap(one_model)(params)


_eval_rows_jit = jax.jit(_eval_rows, static_argnames=("cfg", "mc_samples"))


def _check_eval_args(mc_samples, level) -> tuple[int, float]:
    mc = _as_int(mc_samples, "mc_samples", 1)
    level = float(as_finite_array(level, "level", ndim=0))
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level}")
    return mc, level


def evaluate_neural(fit: NeuralFit, x_eval, *, mc_samples: int = 16, level: float = 0.95) -> RDBound:
    """The held-out upper bound of a :class:`NeuralFit` on ``x_eval`` (n_eval >= 2 points).

    Per point and slope: KL (bits) with ``mc_samples`` latent draws and the distortion over the
    same draws; ``rate``/``distortion`` are their means, ``interval`` the Student-t interval of
    the rate at ``level`` (``info["distortion_interval"]`` that of the distortion).
    """
    x_eval = as_samples(x_eval, "x_eval", min_n=2, dim=fit.cfg.dim)
    mc, level = _check_eval_args(mc_samples, level)
    key = jax.random.fold_in(jax.random.PRNGKey(fit.seed), 2)
    xs = jnp.asarray(x_eval, jnp.float32)
    c, s = jnp.asarray(fit.center, jnp.float32), jnp.asarray(fit.scale, jnp.float32)
    n_eval = xs.shape[0]
    rows = min(_EVAL_ROWS, 1 << (n_eval - 1).bit_length())       # one compiled shape per power of 2
    xs = jnp.concatenate([xs, jnp.broadcast_to(xs[:1], ((-n_eval) % rows, xs.shape[1]))])
    parts = [_eval_rows_jit(fit.params, xs[a:a + rows], c, s, key, jnp.int32(a), cfg=fit.cfg,
                            mc_samples=mc) for a in range(0, xs.shape[0], rows)]
    rate = np.concatenate([np.asarray(p[0], np.float64) for p in parts], axis=1)[:, :n_eval] / LN2  # bits
    dist = np.concatenate([np.asarray(p[1], np.float64) for p in parts], axis=1)[:, :n_eval]
    if not (np.all(np.isfinite(rate)) and np.all(np.isfinite(dist))):
        raise RuntimeError("the fitted model gives non-finite rates or distortions on x_eval")
    cfg = fit.cfg
    info = dict(distortion_interval=[_t_interval(d, level) for d in dist], mc_samples=mc, steps=fit.steps,
                latent_dim=cfg.latent_dim, hidden=list(cfg.hidden), prior_components=cfg.prior_components,
                batch_size=cfg.batch_size, learning_rate=fit.learning_rate, seed=fit.seed,
                train_objective_nats=fit.train_loss.tolist())
    return RDBound(method="neural", kind="upper", distortion=dist.mean(axis=1), rate=rate.mean(axis=1),
                   interval=np.array([_t_interval(r, level) for r in rate]), level=float(level),
                   beta=fit.betas, capped=np.zeros(fit.betas.size, bool), n_fit=fit.n_fit,
                   n_eval=int(x_eval.shape[0]), info=info)


def neural_bound(x_fit, x_eval, betas, distortion="squared", *, mc_samples: int = 16, level: float = 0.95,
                 **fit_kwargs) -> RDBound:
    r"""Upper bound on :math:`R(D)` (bits) of the source of ``x_fit``/``x_eval``, one point per slope.

    Fits :func:`fit_neural` on ``x_fit`` (``fit_kwargs``: ``latent_dim``, ``hidden``,
    ``prior_components``, ``steps``, ``batch_size``, ``learning_rate``, ``seed``,
    ``checkpoint``, ``progress``) and evaluates it on the held-out ``x_eval`` with
    :func:`evaluate_neural`. Returns ``RDBound(kind="upper", method="neural")``.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(600, 1))
    >>> b = neural_bound(x[:400], x[400:], [2.0], hidden=(), steps=300, prior_components=1)
    >>> b.kind, b.rate.shape
    ('upper', (1,))
    """
    x_fit = as_samples(x_fit, "x_fit", min_n=2)
    x_eval = as_samples(x_eval, "x_eval", min_n=2, dim=x_fit.shape[1])
    _check_eval_args(mc_samples, level)      # before the fit, not after minutes of training
    fit = fit_neural(x_fit, betas, distortion, **fit_kwargs)
    return evaluate_neural(fit, x_eval, mc_samples=mc_samples, level=level)


@register_method("neural", accepts=(neural_bound, fit_neural))
def _neural_method(x, distortion, *, betas=None, holdout=0.5, level=0.95, seed=0, progress=True,
                   distortions=None, **options) -> RDBound:
    """``estimate_rd(..., method="neural")``: default slopes from the data (the plug-in's grid)."""
    no_targets("neural", distortions)
    x_fit, x_eval = split_samples(x, holdout, seed)
    if betas is None:
        from .plugin import data_betas
        betas = data_betas(x_fit, x_fit, distortion, num=8)
    return neural_bound(x_fit, x_eval, betas, distortion, level=level, seed=seed, progress=progress, **options)
