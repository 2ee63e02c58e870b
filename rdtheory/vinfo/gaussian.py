r"""Gaussian predictive families for continuous targets (Xu et al., ICLR 2020, Sec. 2).

:class:`LinearGaussianFamily` (:math:`Y \sim \mathcal N(Wx + b, \Sigma)`, closed form) and
:class:`GaussianDecoderFamily` (:math:`Y \sim \mathcal N(g(x), \Sigma)` for a fixed decoder
or a trainable JAX decoder, the :math:`\mathcal V_a` of the scalable-coding slides), with the
tiny JAX decoder :func:`jax_mlp`. Their null members are a constant mean with the same
variance model (optional ignorance). The protocol is in :mod:`rdtheory.vinfo.families`.

References
----------
.. [1] Y. Xu, S. Zhao, J. Song, R. Stewart and S. Ermon, "A Theory of Usable Information
   under Computational Constraints", ICLR 2020.
.. [2] D. P. Kingma and J. Ba, "Adam: A method for stochastic optimization", ICLR 2015
   (the optimiser of the trainable decoder, via ``optax.adam``).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np

__all__ = ["LinearGaussianFamily", "GaussianDecoderFamily", "GaussianPredictor", "jax_mlp"]

_LOG_2PI = math.log(2.0 * math.pi)
#: Relative floor under which a fitted variance counts as collapsed (residuals are zero up
#: to float64 round-off): the Gaussian likelihood would be infinite, so we refuse instead.
_VAR_RTOL = 1e-12

# --------------------------------------------------------------------------------------
# Gaussian families for continuous targets
# --------------------------------------------------------------------------------------

_VARIANCE_MODELS = ("isotropic", "diagonal", "full")


def _check_variance(variance) -> None:
    if isinstance(variance, str):
        if variance not in _VARIANCE_MODELS:
            raise ValueError(f"variance must be one of {_VARIANCE_MODELS} (learned by maximum likelihood) "
                             f"or a positive number (fixed); got {variance!r}")
        return
    try:
        v = float(variance)
    except (TypeError, ValueError):
        raise ValueError(f"variance must be one of {_VARIANCE_MODELS} or a positive number; got {variance!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"a fixed variance must be a finite number > 0; got {variance!r}")


def _fit_covariance(resid: np.ndarray, variance, scale: float, who: str) -> np.ndarray:
    """ML covariance of residuals ``(n, k)`` under the variance model, as a ``(k, k)`` matrix."""
    k = resid.shape[1]
    if not isinstance(variance, str):
        return float(variance) * np.eye(k)
    floor = _VAR_RTOL * max(scale, 1e-300)
    if variance == "isotropic":
        s2 = float(np.mean(resid ** 2))
        cov = s2 * np.eye(k)
        bad = s2 <= floor
    elif variance == "diagonal":
        s2 = np.mean(resid ** 2, axis=0)
        cov = np.diag(s2)
        bad = bool(np.any(s2 <= floor))
    else:
        cov = resid.T @ resid / resid.shape[0]
        eig = np.linalg.eigvalsh(cov)
        bad = bool(eig.min() <= floor)
    if bad:
        raise ValueError(f"{who}: the maximum-likelihood variance collapsed to 0 (y is an exact function of the "
                         "input within the family, or a target column is constant), so the Gaussian likelihood "
                         "is unbounded. Pass a fixed variance (variance=<float>), use variance='isotropic', "
                         "or drop constant target columns")
    return cov


@dataclasses.dataclass(frozen=True)
class GaussianPredictor:
    r"""Predictor :math:`f[x] = \mathcal N(\mu(x), \Sigma)`; ``mean_of(x)`` returns ``(n, k)`` means."""

    mean_of: Callable[[np.ndarray | None, int], np.ndarray]
    cov: np.ndarray  # (k, k)

    def log_prob(self, x, y):
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        r = y - self.mean_of(x, len(y))
        chol = np.linalg.cholesky(self.cov)
        z = np.linalg.solve(chol, r.T)
        logdet = 2.0 * np.sum(np.log(np.diag(chol)))
        k = y.shape[1]
        return -0.5 * (np.sum(z * z, axis=0) + logdet + k * _LOG_2PI)


def _as_2d(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return y.reshape(len(y), -1)


def _constant_mean(mu: np.ndarray):
    return lambda x, n: np.broadcast_to(mu, (n, mu.size))


def _null_gaussian(y: np.ndarray, variance, who: str) -> GaussianPredictor:
    mu = y.mean(0)
    cov = _fit_covariance(y - mu, variance, float(np.mean(y.var(0))) if y.size else 1.0, who)
    return GaussianPredictor(_constant_mean(mu), cov)


@dataclasses.dataclass(frozen=True)
class LinearGaussianFamily:
    r"""Linear-Gaussian regression :math:`f[x] = \mathcal N(Wx + b, \Sigma)`.

    :math:`W, b` by (ridge-regularised, penalty ``ridge`` on :math:`W` only) least squares,
    which is maximum likelihood for every variance model; :math:`\Sigma` by maximum likelihood
    on the training residuals: ``"isotropic"`` (:math:`\sigma^2 I`), ``"diagonal"``,
    ``"full"``, or a fixed number :math:`\sigma^2` (then :math:`I_\mathcal V` is a scaled
    reduction in mean squared error, Xu et al.'s link to the coefficient of determination).
    For jointly Gaussian :math:`(X, Y)` with learned ``"full"`` covariance, the family
    contains the true conditional, so :math:`I_\mathcal V(X\to Y) = I(X;Y)`; for scalar
    :math:`X, Y` with correlation :math:`r` this is :math:`-\tfrac12\log_2(1-r^2)` bits.

    Targets are continuous: ``y`` of shape ``(n,)`` or ``(n, k)``; V-information (a difference
    of two log-losses on the same target) is in bits and independent of the unit of ``y``.

    Example
    -------
    >>> import numpy as np
    >>> from rdtheory.vinfo import v_information, LinearGaussianFamily
    >>> rng = np.random.default_rng(0); x = rng.normal(size=5000)
    >>> y = 0.8 * x + 0.6 * rng.normal(size=5000)      # correlation r = 0.8
    >>> v_information(x, y, LinearGaussianFamily()).contains(-0.5 * np.log2(1 - 0.8 ** 2))   # 0.737 bits
    True
    """

    ridge: float = 0.0
    variance: Any = "full"
    target: str = dataclasses.field(default="continuous", init=False)

    def __post_init__(self):
        if not (np.isfinite(self.ridge) and self.ridge >= 0):
            raise ValueError(f"ridge must be a finite number >= 0; got {self.ridge}")
        _check_variance(self.variance)

    def fit(self, x, y, *, seed: int = 0, n_classes: int | None = None) -> GaussianPredictor:
        y = _as_2d(y)
        if x is None:
            return _null_gaussian(y, self.variance, "LinearGaussianFamily")
        x = np.asarray(x, dtype=np.float64)
        n, d = x.shape
        if self.ridge == 0 and n <= d:
            raise ValueError(f"LinearGaussianFamily cannot be fitted: {n} training rows for {d} input features "
                             "(least squares is underdetermined). Use more data, fewer features, or ridge > 0")
        xm, ym = x.mean(0), y.mean(0)
        xc, yc = x - xm, y - ym
        if self.ridge > 0:
            w = np.linalg.solve(xc.T @ xc + self.ridge * np.eye(d), xc.T @ yc)
        else:
            w, *_ = np.linalg.lstsq(xc, yc, rcond=None)
        cov = _fit_covariance(yc - xc @ w, self.variance, float(np.mean(y.var(0))), "LinearGaussianFamily")

        def mean_of(xe, n_rows, w=w, xm=xm, ym=ym):
            return (np.asarray(xe, dtype=np.float64) - xm) @ w + ym

        return GaussianPredictor(mean_of, cov)


# --------------------------------------------------------------------------------------
# decoder given as a callable (numpy / JAX / torch) -- the slides' V_a
# --------------------------------------------------------------------------------------

def _looks_like_torch_module(obj) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__)


def _call_decoder(fn, x: np.ndarray, params=None) -> np.ndarray:
    """Evaluate a decoder on a float array; torch modules are handled by duck typing (lazy import)."""
    if _looks_like_torch_module(fn):
        import torch  # only reached when the user passed a torch module

        param = next(iter(fn.parameters()), None)
        kw = {"dtype": param.dtype, "device": param.device} if param is not None else {"dtype": torch.float32}
        with torch.no_grad():
            out = fn(torch.as_tensor(x, **kw))
    else:
        out = fn(x) if params is None else fn(params, x)
    if hasattr(out, "detach"):  # a torch tensor from a plain callable
        out = out.detach().cpu().numpy()
    return np.asarray(out, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class GaussianDecoderFamily:
    r"""Gaussian decoder family :math:`f[x] = \mathcal N(g(x), \Sigma)` (the slides' :math:`\mathcal V_a`).

    The scalable-coding slides take :math:`\mathcal V_a` = normal distributions centred at a
    reconstruction :math:`\hat X = g_a(\hat Y_b)` produced by a simple synthesis transform.
    Two ways to give :math:`g`:

    - **fixed decoder**: ``mean_fn(x) -> (n, k)`` any callable (numpy, ``jax.jit``-ed function,
      a torch ``nn.Module`` -- detected by duck typing, evaluated under ``no_grad``; torch is
      imported only then). Nothing about :math:`g` is fitted, so the family is
      :math:`\{\mathcal N(g(x), \Sigma)\}` with :math:`\Sigma` fitted (or fixed).
    - **trainable JAX decoder**: ``mean_fn(params, x)`` with initial ``init_params`` (any JAX
      pytree, e.g. from :func:`jax_mlp`); the mean is fitted by full-batch Adam (Kingma and Ba 2015, ``optax.adam``) on the mean
      squared error (maximum likelihood for fixed or isotropic variance) for ``steps`` steps,
      then :math:`\Sigma` by maximum likelihood. Training runs in float32 (JAX's default);
      the log-likelihoods are evaluated in float64 numpy.

    The null member is a constant mean (the training mean of ``y``) with the same variance
    model. ``variance`` is ``"isotropic"`` (default, :math:`\sigma^2 I`, as in the slides'
    :math:`\|\hat X - X\|` loss), ``"diagonal"``, ``"full"`` or a fixed positive number.

    Example
    -------
    >>> import numpy as np
    >>> from rdtheory.vinfo import v_information, GaussianDecoderFamily
    >>> rng = np.random.default_rng(0); x = rng.normal(size=(2000, 1))
    >>> y = np.tanh(x) + 0.1 * rng.normal(size=(2000, 1))
    >>> v_information(x, y, GaussianDecoderFamily(np.tanh)).value > 2
    True
    """

    mean_fn: Callable
    init_params: Any = None
    variance: Any = "isotropic"
    steps: int = 500
    learning_rate: float = 1e-2
    target: str = dataclasses.field(default="continuous", init=False)

    def __post_init__(self):
        if not callable(self.mean_fn):
            raise ValueError(f"mean_fn must be callable (x -> mean, or (params, x) -> mean with init_params); "
                             f"got {type(self.mean_fn).__name__}")
        _check_variance(self.variance)
        if int(self.steps) < 0 or not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"steps must be >= 0 and learning_rate > 0; got {self.steps}, {self.learning_rate}")

    def _mean(self, params, x: np.ndarray, k: int) -> np.ndarray:
        try:
            out = _call_decoder(self.mean_fn, x, params)
        except Exception as err:  # a user callable failing is reported with its context
            raise ValueError(f"mean_fn failed on an input of shape {x.shape}: {type(err).__name__}: {err}") from None
        out = out.reshape(len(x), -1) if out.ndim == 1 else out
        if out.shape != (len(x), k):
            raise ValueError(f"mean_fn must map x of shape {x.shape} to means of shape {(len(x), k)} "
                             f"(one mean per target column); got shape {out.shape}")
        if not np.all(np.isfinite(out)):
            raise ValueError("mean_fn returned NaN/inf means; check the decoder (and its parameters)")
        return out

    def fit(self, x, y, *, seed: int = 0, n_classes: int | None = None) -> GaussianPredictor:
        y = _as_2d(y)
        if x is None:
            return _null_gaussian(y, self.variance, "GaussianDecoderFamily")
        x = np.asarray(x, dtype=np.float64)
        params = None
        if self.init_params is not None:
            params = _train_jax_decoder(self.mean_fn, self.init_params, x, y, int(self.steps),
                                        float(self.learning_rate))
        k = y.shape[1]
        resid = y - self._mean(params, x, k)
        cov = _fit_covariance(resid, self.variance, float(np.mean(y.var(0))), "GaussianDecoderFamily")
        return GaussianPredictor(lambda xe, n, params=params: self._mean(params, np.asarray(xe, np.float64), k), cov)


def _train_jax_decoder(apply, params, x, y, steps: int, lr: float):
    """Full-batch Adam (``optax.adam``; Kingma and Ba, ICLR 2015) on the mean squared error of ``apply(params, x)`` against ``y``."""
    import jax
    import jax.numpy as jnp
    import optax

    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)

    def loss(p):
        return jnp.mean(jnp.sum((apply(p, xj).reshape(yj.shape) - yj) ** 2, axis=1))

    opt = optax.adam(lr)

    @jax.jit
    def step(carry, _):
        p, state = carry
        updates, state = opt.update(jax.grad(loss)(p), state, p)
        return (optax.apply_updates(p, updates), state), None

    try:
        p0 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)
        (p, _), _ = jax.lax.scan(step, (p0, opt.init(p0)), None, length=steps)
    except Exception as err:
        raise ValueError(f"the JAX decoder could not be trained (mean_fn(params, x) with init_params): "
                         f"{type(err).__name__}: {err}") from None
    return p


def jax_mlp(sizes: tuple[int, ...], *, seed: int = 0):
    """A tiny JAX MLP decoder: returns ``(init_params, apply)`` for :class:`GaussianDecoderFamily`.

    ``sizes = (d_in, h_1, ..., d_out)``; tanh hidden layers, linear output; Glorot-scaled
    normal initialisation from ``seed``.

    >>> params, apply = jax_mlp((2, 8, 3))
    >>> apply(params, np.zeros((5, 2))).shape
    (5, 3)
    """
    import jax.numpy as jnp

    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must list at least an input and an output width, all >= 1; got {sizes}")
    rng = np.random.default_rng(seed)
    params = [(rng.normal(size=(a, b)) * np.sqrt(2.0 / (a + b)), np.zeros(b)) for a, b in zip(sizes[:-1], sizes[1:])]

    def apply(p, x):
        h = jnp.asarray(x, jnp.float32)
        for i, (w, b) in enumerate(p):
            h = h @ w + b
            if i < len(p) - 1:
                h = jnp.tanh(h)
        return h

    return params, apply
