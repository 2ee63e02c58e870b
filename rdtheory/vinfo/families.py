r"""Predictive families :math:`\mathcal V` for V-information (Xu et al., ICLR 2020, Sec. 2).

A *predictive family* is a set of predictors :math:`f` that map a side input
:math:`x \in \mathcal X \cup \{\varnothing\}` to a distribution :math:`f[x]` over the
target :math:`Y`. Xu et al. require *optional ignorance*: for every :math:`f \in \mathcal V`
the family also contains a predictor that ignores :math:`x` and outputs :math:`f[\varnothing]`.
Every family below satisfies it: its "null" member (fitted with ``x=None``) is the best
*constant* prediction inside the same family (class frequencies for classifiers, a constant
mean with the family's variance model for Gaussian families).

Protocol
--------
A family is any object with

``target``
    ``"categorical"`` (class labels; the estimator passes integer codes ``0..K-1``) or
    ``"continuous"`` (real targets of shape ``(n,)`` or ``(n, k)``).
``fit(x, y, *, seed, n_classes=None) -> predictor``
    Fit by (regularised) maximum likelihood on training rows. ``x`` is a float array
    ``(n, d)`` or ``None`` for the empty input :math:`\varnothing`. ``n_classes`` is the
    number of classes ``K`` of the whole data set (categorical targets only).

and a *predictor* is any object with ``log_prob(x, y) -> (n,)`` natural-log likelihoods
:math:`\log f[x](y)` (nats; the estimators convert to bits). ``x`` is ``None`` for a
null predictor. Families are frozen dataclasses (pure configuration); fitted predictors
are frozen records of arrays (plus the fitted sklearn estimator or the decoder closure).

Families here
-------------
- :class:`TabularFamily` - all conditionals :math:`p(y\mid x)` of discrete data (the
  unrestricted family :math:`\Omega`, where V-information is Shannon mutual information).
- :class:`LogisticFamily` - multinomial logistic regression (sklearn).
- :class:`MLPFamily` - small multilayer-perceptron classifiers (sklearn).
- :class:`LinearGaussianFamily` - :math:`Y \sim \mathcal N(Wx + b, \Sigma)` with fixed,
  isotropic, diagonal or full covariance, fitted in closed form.
- :class:`GaussianDecoderFamily` - :math:`Y \sim \mathcal N(g(x), \Sigma)` for a decoder
  ``g`` given as any callable (numpy/JAX function, a torch module by duck typing) or a
  trainable JAX ``apply(params, x)`` - the :math:`\mathcal V_a` of the scalable-coding slides.
- :class:`IgnoreInput` - wraps a family so that it never looks at :math:`x` (a family with
  *no access* to the input: its V-information is exactly 0).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "PredictiveFamily", "Predictor", "TabularFamily", "LogisticFamily", "MLPFamily",
    "LinearGaussianFamily", "GaussianDecoderFamily", "IgnoreInput", "jax_mlp",
]

_LOG_2PI = math.log(2.0 * math.pi)
#: Relative floor under which a fitted variance counts as collapsed (residuals are zero up
#: to float64 round-off): the Gaussian likelihood would be infinite, so we refuse instead.
_VAR_RTOL = 1e-12


@runtime_checkable
class Predictor(Protocol):
    """A fitted member :math:`f` of a family: ``log_prob(x, y)`` = :math:`\\log f[x](y)` in nats."""

    def log_prob(self, x: np.ndarray | None, y: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class PredictiveFamily(Protocol):
    """A predictive family :math:`\\mathcal V` (see the module docstring for the contract)."""

    target: str

    def fit(self, x: np.ndarray | None, y: np.ndarray, *, seed: int, n_classes: int | None = None) -> Predictor: ...


# --------------------------------------------------------------------------------------
# categorical families
# --------------------------------------------------------------------------------------

def _class_frequencies(y: np.ndarray, n_classes: int, alpha: float = 0.0) -> np.ndarray:
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return (counts + alpha) / (counts.sum() + alpha * n_classes)


def _log_or_neg_inf(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(p)


@dataclasses.dataclass(frozen=True)
class ConstantCategorical:
    """Null predictor :math:`f[\\varnothing](y) = q_y` (a fixed distribution over classes)."""

    probs: np.ndarray  # (K,)

    def log_prob(self, x, y):
        return _log_or_neg_inf(self.probs)[np.asarray(y, dtype=np.int64)]


def _n_classes(y: np.ndarray, n_classes: int | None) -> int:
    return int(n_classes) if n_classes is not None else int(y.max()) + 1


@dataclasses.dataclass(frozen=True)
class TabularPredictor:
    """Conditional table :math:`p(y\\mid x)` over the distinct training rows of ``x``."""

    rows: dict  # row (tuple of floats) -> index into table
    table: np.ndarray  # (n_rows, K) conditional probabilities
    fallback: np.ndarray  # (K,) used for rows never seen in training

    def log_prob(self, x, y):
        y = np.asarray(y, dtype=np.int64)
        if x is None:
            return _log_or_neg_inf(self.fallback)[y]
        idx = np.array([self.rows.get(tuple(r), -1) for r in np.asarray(x)], dtype=np.int64)
        probs = np.where(idx[:, None] >= 0, self.table[np.maximum(idx, 0)], self.fallback[None, :])
        return _log_or_neg_inf(probs[np.arange(len(y)), y])


@dataclasses.dataclass(frozen=True)
class TabularFamily:
    r"""All conditionals :math:`p(y\mid x)` of discrete data: the unrestricted family :math:`\Omega`.

    Fitted by additive smoothing :math:`\hat p(y\mid x) = (n_{xy}+\alpha)/(n_x+K\alpha)`;
    ``alpha=0`` is exact maximum likelihood, for which the in-sample (``split="none"``)
    V-information equals the plug-in mutual information of the empirical joint
    (Xu et al. 2020: with :math:`\mathcal V = \Omega`, :math:`I_\mathcal V = I`). A row of ``x``
    that never occurred in training gets the (smoothed) marginal, which is itself a member of
    the family. ``alpha > 0`` (default 0.5, Krichevsky–Trofimov) keeps held-out log-losses
    finite when an evaluation pair was never seen in training.

    ``x`` must hold discrete values (integer codes, any number of columns; each distinct row
    is one symbol). Continuous ``x`` is refused: discretise it first (``np.digitize``).

    Example
    -------
    >>> from rdtheory.vinfo import v_information, TabularFamily
    >>> x = [0, 0, 1, 1]; y = [0, 0, 1, 1]
    >>> round(v_information(x, y, TabularFamily(alpha=0.0), split="none").value, 6)
    1.0
    """

    alpha: float = 0.5
    target: str = dataclasses.field(default="categorical", init=False)

    def __post_init__(self):
        if not (np.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be a finite number >= 0 (0 = maximum likelihood); got {self.alpha}")

    def fit(self, x, y, *, seed: int = 0, n_classes: int | None = None) -> TabularPredictor:
        y = np.asarray(y, dtype=np.int64)
        k = _n_classes(y, n_classes)
        marginal = _class_frequencies(y, k, self.alpha)
        if x is None:
            return TabularPredictor({}, np.zeros((0, k)), marginal)
        x = np.asarray(x)
        if not np.all(x == np.round(x)):
            raise ValueError("TabularFamily needs discrete x (integer codes); x has non-integer values. "
                             "Discretise it first (e.g. np.digitize) or use LogisticFamily/MLPFamily")
        uniq, inv = np.unique(x, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        counts = np.zeros((len(uniq), k))
        np.add.at(counts, (inv, y), 1.0)
        table = (counts + self.alpha) / (counts.sum(1, keepdims=True) + self.alpha * k)
        rows = {tuple(r): i for i, r in enumerate(uniq)}
        return TabularPredictor(rows, table, marginal)


@dataclasses.dataclass(frozen=True)
class SklearnClassifierPredictor:
    """A fitted sklearn classifier (plus input standardisation) as a predictor.

    Log-probabilities are computed as a log-softmax of the model's logits (not as
    ``log(predict_proba)``), so a confident wrong prediction costs its true, finite log-loss
    instead of underflowing to ``-inf``.
    """

    model: Any
    mean: np.ndarray
    scale: np.ndarray
    n_classes: int

    def log_prob(self, x, y):
        y = np.asarray(y, dtype=np.int64)
        logp = _sklearn_log_proba(self.model, (np.asarray(x, dtype=np.float64) - self.mean) / self.scale)
        full = np.full((len(y), self.n_classes), -np.inf)
        full[:, self.model.classes_.astype(np.int64)] = logp
        return full[np.arange(len(y)), y]


def _sklearn_log_proba(model, x: np.ndarray) -> np.ndarray:
    """Exact log class probabilities ``(n, n_seen_classes)`` of a fitted sklearn classifier."""
    from scipy.special import log_softmax

    if hasattr(model, "coefs_"):  # MLPClassifier: redo the forward pass to get the logits
        acts = {"relu": lambda h: np.maximum(h, 0), "tanh": np.tanh, "identity": lambda h: h,
                "logistic": lambda h: 0.5 * (1 + np.tanh(0.5 * h))}
        h = x
        for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_)):
            h = h @ w + b
            if i < len(model.coefs_) - 1:
                h = acts[model.activation](h)
        logits = h
    else:  # linear models expose their logits directly
        logits = model.decision_function(x)
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 1 or logits.shape[1] == 1:  # binary: one logit z for class 1
        z = logits.reshape(-1)
        return np.stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)], axis=1)
    return log_softmax(logits, axis=1)


def _standardiser(x: np.ndarray, standardize: bool):
    if not standardize:
        return np.zeros(x.shape[1]), np.ones(x.shape[1])
    scale = x.std(0)
    # constant columns carry no information; scaling them by 1 keeps them constant (not NaN)
    return x.mean(0), np.where(scale > 0, scale, 1.0)


def _fit_sklearn_classifier(model, x, y, k: int, standardize: bool, name: str):
    if np.unique(y).size < 2:
        raise ValueError(f"{name} cannot be fitted: the training labels hold a single class. "
                         "Every class needs samples in every training split (use split='none' or more data)")
    mean, scale = _standardiser(x, standardize)
    try:
        model.fit((x - mean) / scale, y)
    except ValueError as err:
        raise ValueError(f"{name} could not be fitted: {err}") from None
    return SklearnClassifierPredictor(model, mean, scale, k)


@dataclasses.dataclass(frozen=True)
class LogisticFamily:
    r"""Multinomial logistic regression :math:`f[x](y) = \mathrm{softmax}(Wx + b)_y`.

    Fitted by L2-regularised maximum likelihood (sklearn ``LogisticRegression`` with inverse
    penalty ``C``; ``C=None`` means no penalty). Inputs are standardised with training
    statistics when ``standardize`` (an affine reparametrisation: it changes only what the
    penalty prefers, not the family). The null member is the softmax of a bias alone, whose
    maximum-likelihood fit is the training class frequencies.

    Example
    -------
    >>> import numpy as np
    >>> from rdtheory.vinfo import v_information, LogisticFamily
    >>> rng = np.random.default_rng(0); x = rng.normal(size=(400, 1)); y = (x[:, 0] > 0).astype(int)
    >>> v_information(x, y, LogisticFamily()).value > 0.5
    True
    """

    C: float | None = 1.0
    max_iter: int = 2000
    standardize: bool = True
    target: str = dataclasses.field(default="categorical", init=False)

    def __post_init__(self):
        if self.C is not None and not (np.isfinite(self.C) and self.C > 0):
            raise ValueError(f"C must be > 0 (inverse L2 penalty) or None for no penalty; got {self.C}")

    def fit(self, x, y, *, seed: int = 0, n_classes: int | None = None):
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y, dtype=np.int64)
        k = _n_classes(y, n_classes)
        if x is None:
            return ConstantCategorical(_class_frequencies(y, k))
        model = LogisticRegression(C=np.inf if self.C is None else self.C, max_iter=self.max_iter)
        return _fit_sklearn_classifier(model, np.asarray(x, dtype=np.float64), y, k, self.standardize,
                                       "LogisticFamily")


@dataclasses.dataclass(frozen=True)
class MLPFamily:
    r"""Small MLP classifiers :math:`f[x](y) = \mathrm{softmax}(\mathrm{MLP}_\theta(x))_y`.

    Fitted by L2-regularised maximum likelihood with Adam (sklearn ``MLPClassifier``,
    ``alpha`` = L2 weight, ``random_state`` = the estimator's ``seed``). The null member is
    the bias-only network, whose maximum-likelihood fit is the training class frequencies.
    """

    hidden: tuple[int, ...] = (32,)
    alpha: float = 1e-3
    max_iter: int = 500
    learning_rate_init: float = 1e-3
    standardize: bool = True
    target: str = dataclasses.field(default="categorical", init=False)

    def __post_init__(self):
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive layer widths; got {self.hidden}")
        if not (np.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be >= 0 (L2 weight); got {self.alpha}")

    def fit(self, x, y, *, seed: int = 0, n_classes: int | None = None):
        from sklearn.neural_network import MLPClassifier

        y = np.asarray(y, dtype=np.int64)
        k = _n_classes(y, n_classes)
        if x is None:
            return ConstantCategorical(_class_frequencies(y, k))
        model = MLPClassifier(hidden_layer_sizes=tuple(int(h) for h in self.hidden), alpha=self.alpha,
                              max_iter=self.max_iter, learning_rate_init=self.learning_rate_init,
                              random_state=int(seed))
        return _fit_sklearn_classifier(model, np.asarray(x, dtype=np.float64), y, k, self.standardize,
                                       "MLPFamily")


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
      pytree, e.g. from :func:`jax_mlp`); the mean is fitted by full-batch Adam on the mean
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
    """Full-batch Adam on the mean squared error of ``apply(params, x)`` against ``y``."""
    import jax
    import jax.numpy as jnp

    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)

    def loss(p):
        return jnp.mean(jnp.sum((apply(p, xj).reshape(yj.shape) - yj) ** 2, axis=1))

    b1, b2, eps = 0.9, 0.999, 1e-8

    @jax.jit
    def step(carry, t):
        p, m, v = carry
        g = jax.grad(loss)(p)
        m = jax.tree_util.tree_map(lambda a, b: b1 * a + (1 - b1) * b, m, g)
        v = jax.tree_util.tree_map(lambda a, b: b2 * a + (1 - b2) * b * b, v, g)
        bc1, bc2 = 1 - b1 ** (t + 1.0), 1 - b2 ** (t + 1.0)
        p = jax.tree_util.tree_map(lambda a, mm, vv: a - lr * (mm / bc1) / (jnp.sqrt(vv / bc2) + eps), p, m, v)
        return (p, m, v), None

    try:
        p0 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), params)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, p0)
        (p, _, _), _ = jax.lax.scan(step, (p0, zeros, zeros), jnp.arange(steps, dtype=jnp.float32))
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


# --------------------------------------------------------------------------------------
# a family that never sees the input
# --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class IgnoreInput:
    r"""Restrict ``family`` to its members that ignore :math:`x`: :math:`f[x] = f[\varnothing]`.

    A family with *no access* to the input. Its conditional and null fits coincide, so its
    V-information is exactly 0 for any data (Xu et al. 2020: :math:`I_\mathcal V \ge 0` with
    equality when :math:`\mathcal V` cannot use :math:`X`).
    """

    family: Any

    @property
    def target(self) -> str:
        return self.family.target

    def fit(self, x, y, *, seed: int = 0, n_classes: int | None = None):
        inner = self.family.fit(None, y, seed=seed, n_classes=n_classes)
        return _Ignoring(inner)


@dataclasses.dataclass(frozen=True)
class _Ignoring:
    inner: Any

    def log_prob(self, x, y):
        return self.inner.log_prob(None, y)
