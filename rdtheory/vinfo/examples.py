r"""Known-answer generators and the worked examples of ``docs/vinfo.md`` (all values in bits).

- :func:`gaussian_mi_bits`, :func:`sample_gaussian_pair` - jointly Gaussian pairs, where the
  linear-Gaussian family attains :math:`I(X;Y) = -\tfrac12\log_2(1-r^2)`.
- :data:`EXAMPLE_JOINT`, :func:`sample_discrete`, :func:`plugin_mi_sd`, :func:`first_order_bias`
  - a known finite joint, the sampling spread and first-order bias of plug-in estimates.
- :func:`one_time_pad`, :func:`decrypt`, :func:`cipher_example` - V-information increases
  under computation and is asymmetric (Xu et al. 2020, Sec. 3).
- :func:`bias_study` - finite-sample bias of in-sample vs held-out estimates against ``n``.
- :func:`digits_tradeoff` - the slides' base-layer trade-off
  :math:`\sup_f I_{\mathcal V_b}(f(X)\to Z_b) + \beta I_{\mathcal V_a}(f(X)\to X)` on sklearn's digits.

References
----------
.. [1] Y. Xu, S. Zhao, J. Song, R. Stewart and S. Ermon, "A Theory of Usable Information under
   Computational Constraints", ICLR 2020 (Sec. 3: V-information can increase under computation
   and is asymmetric).
.. [2] Untitled slides on scalable coding and V-information (the text has no title page or
   authors), ``shared/reference/scalable-coding-v-information-slides.txt``; they build on [1]
   (the base-layer trade-off of :func:`digits_tradeoff`).
.. [3] G. A. Miller, "Note on the bias of information estimates", in H. Quastler (ed.),
   Information Theory in Psychology: Problems and Methods, Free Press, pp. 95-100, 1955 (the
   first-order bias of plug-in estimates).
.. [4] H. Akaike, "A new look at the statistical model identification", IEEE Trans. Automat.
   Control 19(6):716-723, 1974 (the k/(2n) optimism of a maximum-likelihood fit).
.. [5] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006
   (Ch. 8: mutual information of jointly Gaussian variables).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..info import LN2 as _LN2, binary_entropy, mutual_information
from .estimators import VInformation, paired_difference, v_information
from .families import LinearGaussianFamily, LogisticFamily, MLPFamily, TabularFamily

__all__ = [
    "gaussian_mi_bits", "sample_gaussian_pair", "EXAMPLE_JOINT", "sample_discrete", "plugin_mi_sd",
    "first_order_bias", "one_time_pad", "decrypt", "CipherExample", "cipher_example", "BiasStudy", "bias_study",
    "DigitsTradeoff", "digits_transforms", "digits_tradeoff", "tradeoff_gain",
]


#: A fixed 4x3 joint p(x, y) with dependent X, Y (used by tests, claims and the bias figure).
EXAMPLE_JOINT = np.array([[0.20, 0.05, 0.05],
                          [0.05, 0.20, 0.05],
                          [0.05, 0.05, 0.10],
                          [0.10, 0.05, 0.05]])


# --------------------------------------------------------------------------------------
# known answers
# --------------------------------------------------------------------------------------

def gaussian_mi_bits(r: float) -> float:
    r"""Mutual information of a bivariate normal with correlation ``r``: :math:`-\tfrac12\log_2(1-r^2)` bits.

    Cover & Thomas [5]_, Ch. 8.

    >>> round(gaussian_mi_bits(0.8), 4)
    0.737
    """
    if not (-1 < r < 1):
        raise ValueError(f"r must be a correlation in (-1, 1); got {r}")
    return float(-0.5 * math.log2(1.0 - r * r))


def sample_gaussian_pair(n: int, r: float, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of standard bivariate normal ``(X, Y)`` with correlation ``r``; shapes ``(n,)``, ``(n,)``."""
    gaussian_mi_bits(r)  # validates r
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = r * x + math.sqrt(1.0 - r * r) * rng.standard_normal(n)
    return x, y


def sample_discrete(joint, n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` i.i.d. pairs ``(x, y)`` (integer codes, shapes ``(n,)``) from a joint table ``p(x, y)``."""
    p = np.asarray(joint, dtype=np.float64)
    mutual_information(p)  # validates the joint (2-D, >= 0, sums to 1)
    cells = np.random.default_rng(seed).choice(p.size, size=n, p=p.ravel() / p.sum())
    return cells // p.shape[1], cells % p.shape[1]


def plugin_mi_sd(joint, n: int) -> float:
    r"""Asymptotic standard deviation of the plug-in MI from ``n`` samples (bits).

    :math:`\sqrt{\mathrm{Var}[i(X;Y)]/n}` with :math:`i = \log_2 \frac{p(x,y)}{p(x)p(y)}`
    (delta method; the leading term whenever :math:`X, Y` are dependent).
    """
    p = np.asarray(joint, dtype=np.float64)
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    mask = p > 0
    i = np.log2(p[mask] / (px * py)[mask])
    var = float(np.sum(p[mask] * i * i) - np.sum(p[mask] * i) ** 2)
    return math.sqrt(max(var, 0.0) / n)


def first_order_bias(extra_params: int, n: int) -> float:
    r"""First-order bias :math:`k/(2n\ln 2)` bits of a log-likelihood-ratio estimate with ``k`` extra parameters.

    Miller [3]_; the optimism of a maximum-likelihood fit as in Akaike [4]_.

    In-sample (``split="none"``) V-information is biased *up* by about this much, held-out
    estimates *down* by about this much with ``n`` the training size (the expected optimism of
    a maximum-likelihood fit is :math:`k/(2n)` nats per sample on either side, as in AIC).
    For the unrestricted table, :math:`k = (|\mathcal X|-1)(|\mathcal Y|-1)`: the
    Miller–Madow correction of plug-in mutual information.
    """
    return extra_params / (2.0 * n * _LN2)


# --------------------------------------------------------------------------------------
# computation creates usable information; V-information is not symmetric
# --------------------------------------------------------------------------------------

def one_time_pad(n: int, *, noise: float = 0.1, seed: int) -> tuple[np.ndarray, np.ndarray]:
    r"""A one-bit one-time pad: message :math:`M`, key :math:`K`, ciphertext :math:`C = M\oplus K`.

    The example of Xu et al. [1]_, Sec. 3.

    Returns ``x = [C, K]`` (shape ``(n, 2)``, ints) and the noisy message ``y = M \oplus N`` with
    :math:`N\sim\mathrm{Bern}(\text{noise})` (shape ``(n,)``). :math:`I(X;Y) = 1 - h(\text{noise})`
    since :math:`M = C\oplus K`; yet :math:`P(Y\mid X)` depends on :math:`X` only through the
    XOR, which no linear logit can express.
    """
    if not (0 <= noise < 0.5):
        raise ValueError(f"noise must be a flip probability in [0, 0.5); got {noise}")
    rng = np.random.default_rng(seed)
    m, k = rng.integers(0, 2, n), rng.integers(0, 2, n)
    y = m ^ (rng.random(n) < noise).astype(np.int64)
    return np.stack([m ^ k, k], axis=1), y


def decrypt(x) -> np.ndarray:
    """The computation :math:`t(X) = C \\oplus K` that recovers the message; shape ``(n, 1)``."""
    x = np.asarray(x, dtype=np.int64)
    return (x[:, 0] ^ x[:, 1]).reshape(-1, 1)


@dataclasses.dataclass(frozen=True)
class CipherExample:
    r"""Results of :func:`cipher_example` (bits).

    ``shannon`` is the exact :math:`I(X;Y) = I(t(X);Y) = 1 - h(\text{noise})`. The analytic
    V-informations are ``linear_x`` = 0 (the population-optimal linear logit is constant:
    the loss is strictly convex and invariant under :math:`(c,k)\mapsto(1-c,1-k)`, which flips
    the sign of the weights), and ``linear_decrypted`` = ``reverse`` = ``shannon`` (a
    logistic model with a binary input represents every conditional).
    """

    noise: float
    shannon: float
    linear_x: VInformation  # logistic, X = (C, K) -> Y
    mlp_x: VInformation  # MLP, X -> Y: a richer family computes the XOR itself
    linear_decrypted: VInformation  # logistic, t(X) -> Y
    reverse: VInformation  # logistic, Y -> X (X coded as one of 4 classes)


def cipher_example(n: int = 4000, *, noise: float = 0.1, seed: int = 0, mlp: bool = True) -> CipherExample:
    """Run the one-time-pad example: V-information rises under decryption and is asymmetric.

    Xu et al. [1]_, Sec. 3.

    All estimates use the same 5-fold cross-fitting folds, so :func:`paired_difference`
    applies between any two of them. ``mlp=False`` skips the (slower) MLP estimate
    (``mlp_x`` is then ``None``).
    """
    from sklearn.model_selection import StratifiedKFold

    x, y = one_time_pad(n, noise=noise, seed=seed)
    x_code = 2 * x[:, 0] + x[:, 1]
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(x, 4 * y + x_code))
    kw = dict(split=folds, seed=seed)
    lin = LogisticFamily(C=None)
    return CipherExample(
        noise=noise,
        shannon=float(1.0 - binary_entropy(noise)) if noise > 0 else 1.0,
        linear_x=v_information(x, y, lin, **kw),
        mlp_x=v_information(x, y, MLPFamily(hidden=(8,), alpha=1e-4, max_iter=300, learning_rate_init=1e-2),
                            **kw) if mlp else None,
        linear_decrypted=v_information(decrypt(x), y, lin, **kw),
        reverse=v_information(y, x_code, lin, **kw),
    )


# --------------------------------------------------------------------------------------
# finite-sample behaviour
# --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class BiasStudy:
    """Estimates over ``reps`` repetitions at each ``n`` (bits); arrays are ``(len(ns), reps)``.

    ``tab_*``: :class:`TabularFamily` on :data:`EXAMPLE_JOINT` (in-sample with ``alpha=0`` =
    plug-in MI; held-out 70/30 with ``alpha=0.5``). ``gauss_*``: :class:`LinearGaussianFamily`
    on a bivariate normal with correlation ``r``. ``*_k`` are the extra-parameter counts for
    :func:`first_order_bias`.
    """

    ns: np.ndarray
    reps: int
    tab_truth: float
    tab_k: int
    tab_insample: np.ndarray
    tab_holdout: np.ndarray
    r: float
    gauss_truth: float
    gauss_k: int
    gauss_insample: np.ndarray
    gauss_holdout: np.ndarray


def bias_study(ns=(100, 200, 400, 800, 1600, 3200), reps: int = 30, *, r: float = 0.6, seed: int = 0) -> BiasStudy:
    """Repeat in-sample and held-out estimates at each sample size ``n`` (see :class:`BiasStudy`)."""
    ns = np.asarray(ns, dtype=np.int64)
    out = {k: np.empty((ns.size, reps)) for k in ("ti", "th", "gi", "gh")}
    seeds = np.random.default_rng(seed).integers(0, 2 ** 31 - 1, size=(ns.size, reps))
    for i, n in enumerate(ns):
        for j in range(reps):
            s = int(seeds[i, j])
            x, y = sample_discrete(EXAMPLE_JOINT, int(n), seed=s)
            out["ti"][i, j] = v_information(x, y, TabularFamily(alpha=0.0), split="none", seed=s).value
            out["th"][i, j] = v_information(x, y, TabularFamily(alpha=0.5), split="holdout", seed=s).value
            gx, gy = sample_gaussian_pair(int(n), r, seed=s)
            out["gi"][i, j] = v_information(gx, gy, LinearGaussianFamily(), split="none", seed=s).value
            out["gh"][i, j] = v_information(gx, gy, LinearGaussianFamily(), split="holdout", seed=s).value
    kx, ky = EXAMPLE_JOINT.shape
    return BiasStudy(ns=ns, reps=reps, tab_truth=mutual_information(EXAMPLE_JOINT), tab_k=(kx - 1) * (ky - 1),
                     tab_insample=out["ti"], tab_holdout=out["th"], r=r, gauss_truth=gaussian_mi_bits(r),
                     gauss_k=1, gauss_insample=out["gi"], gauss_holdout=out["gh"])


# --------------------------------------------------------------------------------------
# the slides' base-layer trade-off on sklearn's digits
# --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DigitsTradeoff:
    r"""Results of :func:`digits_tradeoff`.

    ``names[i]`` labels candidate analysis transform :math:`f_i` (``k``-dimensional, linear);
    ``base[i]`` = :math:`I_{\mathcal V_b}(f_i(X)\to Z_b)` (digit label, multinomial logistic) and
    ``recon[i]`` = :math:`I_{\mathcal V_a}(f_i(X)\to X)` (pixels, linear decoder with isotropic
    Gaussian), both cross-fitted on rows not used to design :math:`f_i`. ``choice[beta]`` is the
    index maximising ``base + beta * recon`` (the slides' base objective over the candidates).
    """

    k: int
    names: tuple[str, ...]
    base: tuple[VInformation, ...]
    recon: tuple[VInformation, ...]
    betas: tuple[float, ...]
    choice: dict

    def objective(self, beta: float) -> np.ndarray:
        """``I_Vb + beta * I_Va`` of every candidate (bits)."""
        return np.array([b.value + beta * a.value for b, a in zip(self.base, self.recon)])


def digits_transforms(x, labels, k: int, shrinkages=(0.001, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0),
                      mixes=(0.25, 0.5, 1.0)) -> dict[str, np.ndarray]:
    r"""Candidate linear analysis transforms ``W`` (``(d, k)``) from design data, task-first to reconstruction-first.

    - ``lda s``: top-``k`` generalised eigenvectors of :math:`(S_B, (1-s)S_W + s\,\bar\sigma^2 I)`
      (shrinkage LDA; ``s=1`` spans the class means' principal directions);
    - ``mix g``: top-``k`` eigenvectors of :math:`(1-g)\,S_B/\mathrm{tr}S_B + g\,S_T/\mathrm{tr}S_T`
      (``g=1`` is PCA).

    :math:`S_B, S_W, S_T` are the between-class, within-class and total covariances.
    """
    from scipy.linalg import eigh

    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    d = x.shape[1]
    mu = x.mean(0)
    st = np.cov(x.T, bias=True)
    classes = np.unique(labels)
    pri = np.array([np.mean(labels == c) for c in classes])
    dm = np.array([x[labels == c].mean(0) for c in classes]) - mu
    sb = (pri[:, None] * dm).T @ dm
    sw = st - sb
    out = {}
    for s in shrinkages:
        reg = (1 - s) * sw + s * np.trace(sw) / d * np.eye(d)
        _, v = eigh(sb, reg)
        out[f"lda s={s:g}"] = v[:, ::-1][:, :k]
    for g in mixes:
        _, v = np.linalg.eigh((1 - g) * sb / np.trace(sb) + g * st / np.trace(st))
        out[f"mix g={g:g}"] = v[:, ::-1][:, :k]
    return out


def digits_tradeoff(k: int = 4, *, betas=(0.0, 0.003, 0.01, 0.03, 0.1), seed: int = 0, n_folds: int = 5,
                    shrinkages=(0.001, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0), mixes=(0.25, 0.5, 1.0)) -> DigitsTradeoff:
    r"""The base-layer trade-off of the slides on sklearn's digits (1797 images, 8x8, offline).

    The trade-off of the scalable-coding slides [2]_.

    Half of the images (``seed``-permuted) design the candidate transforms
    (:func:`digits_transforms`); on the other half each representation :math:`f(X)` is scored
    by :math:`I_{\mathcal V_b}(f(X)\to Z_b)` (primary task: the digit, logistic family) and
    :math:`I_{\mathcal V_a}(f(X)\to X)` (reconstruction of the pixels scaled to [0, 1],
    linear decoder + isotropic Gaussian: the slides' :math:`\mathcal V_a`), with the same
    cross-fitting folds for every candidate so differences are paired.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedKFold

    images, digits = load_digits(return_X_y=True)
    images = images / 16.0
    perm = np.random.default_rng(seed).permutation(len(images))
    design, est = perm[: len(perm) // 2], perm[len(perm) // 2:]
    cands = digits_transforms(images[design], digits[design], k, shrinkages, mixes)
    mu = images[design].mean(0)
    folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(est, digits[est]))
    base, recon = [], []
    for w in cands.values():
        rep = (images[est] - mu) @ w
        base.append(v_information(rep, digits[est], LogisticFamily(), split=folds, seed=seed))
        recon.append(v_information(rep, images[est], LinearGaussianFamily(variance="isotropic"), split=folds,
                                   seed=seed))
    res = DigitsTradeoff(k=k, names=tuple(cands), base=tuple(base), recon=tuple(recon), betas=tuple(betas), choice={})
    choice = {float(b): int(np.argmax(res.objective(b))) for b in betas}
    return dataclasses.replace(res, choice=choice)


def tradeoff_gain(res: DigitsTradeoff, beta: float):
    """Paired differences (choice at ``beta``) - (choice at 0) of ``(I_Vb, I_Va)`` (bits)."""
    i, j = res.choice[float(beta)], res.choice[0.0]
    return paired_difference(res.base[i], res.base[j]), paired_difference(res.recon[i], res.recon[j])
