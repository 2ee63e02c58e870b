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

The Gaussian families live in :mod:`rdtheory.vinfo.gaussian` and are re-exported here.

References
----------
.. [1] Y. Xu, S. Zhao, J. Song, R. Stewart and S. Ermon, "A Theory of Usable Information
   under Computational Constraints", ICLR 2020.
.. [2] D. P. Kingma and J. Ba, "Adam: A method for stochastic optimization", ICLR 2015
   (the optimiser of :class:`MLPFamily`, sklearn's ``solver="adam"``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .gaussian import GaussianDecoderFamily, LinearGaussianFamily, jax_mlp

__all__ = [
    "PredictiveFamily", "Predictor", "TabularFamily", "LogisticFamily", "MLPFamily",
    "LinearGaussianFamily", "GaussianDecoderFamily", "IgnoreInput", "jax_mlp",
]



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

    Fitted by L2-regularised maximum likelihood with Adam [2]_ (sklearn ``MLPClassifier``,
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
