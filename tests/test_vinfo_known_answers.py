"""Known-answer tests for rdtheory.vinfo (bits).

Every assertion compares with an analytic value or a sampling interval; the comment next to
each tolerance says where it comes from. Seeds are fixed, so the tests are deterministic; the
intervals are chosen wide enough (99.9 % normal, z = 3.29) that another seed would pass too.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, assume, strategies as st

from rdtheory.info import conditional_mutual_information, mutual_information
from rdtheory.vinfo import (GaussianDecoderFamily, IgnoreInput, LinearGaussianFamily, LogisticFamily,
                            TabularFamily, conditional_v_information, jax_mlp, paired_difference,
                            pointwise_v_information, v_information)
from rdtheory.vinfo.examples import (EXAMPLE_JOINT, first_order_bias, gaussian_mi_bits, plugin_mi_sd,
                                     sample_discrete, sample_gaussian_pair)

Z999 = 3.2905  # two-sided 99.9 % normal quantile


def empirical_joint(x, y):
    xs, xi = np.unique(np.asarray(x).reshape(len(x), -1), axis=0, return_inverse=True)
    ys, yi = np.unique(y, return_inverse=True)
    j = np.zeros((len(xs), len(ys)))
    np.add.at(j, (xi.reshape(-1), yi.reshape(-1)), 1.0)
    return j / j.sum()


# --- unrestricted tabular family = Shannon MI -------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.integers(2, 80), st.integers(1, 5), st.integers(2, 4), st.integers(1, 2), st.integers(0, 10 ** 6))
def test_tabular_in_sample_equals_plugin_mi(n, kx, ky, cols, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, kx, size=(n, cols))
    y = rng.integers(0, ky, size=n)
    assume(np.unique(y).size >= 2)
    r = v_information(x, y, TabularFamily(alpha=0.0), split="none")
    # identity of the ML table with the empirical conditional: only float round-off separates them
    assert r.value == pytest.approx(mutual_information(empirical_joint(x, y)), abs=1e-10)
    assert r.value == pytest.approx(r.pvi.mean(), abs=1e-12)  # the estimate is the mean PVI


def test_tabular_conditional_equals_plugin_cmi():
    rng = np.random.default_rng(3)
    c = rng.integers(0, 3, 600)
    x = rng.integers(0, 2, 600)
    y = (x + c + (rng.random(600) < 0.2)) % 3
    r = conditional_v_information(x, y, c, TabularFamily(alpha=0.0), split="none")
    j = np.zeros((2, 3, 3))
    np.add.at(j, (x, y, c), 1.0)
    # exact identity (ML tables): round-off only
    assert r.value == pytest.approx(conditional_mutual_information(j / j.sum()), abs=1e-10)


def test_tabular_pvi_is_log_ratio_of_empirical_conditionals():
    x = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    y = np.array([0, 0, 1, 1, 1, 1, 0, 0])
    pvi = pointwise_v_information(x, y, TabularFamily(alpha=0.0), x_eval=[0, 1], y_eval=[0, 0])
    # p(y=0|x=0) = 3/4, p(y=0|x=1) = 1/4, p(y=0) = 1/2  (counted by hand)
    np.testing.assert_allclose(pvi, [math.log2(0.75 / 0.5), math.log2(0.25 / 0.5)], atol=1e-12)


@pytest.mark.parametrize("n", [2_000, 20_000, 200_000])
def test_tabular_converges_to_true_mi(n):
    truth = mutual_information(EXAMPLE_JOINT)
    x, y = sample_discrete(EXAMPLE_JOINT, n, seed=n)
    est = v_information(x, y, TabularFamily(alpha=0.0), split="none").value
    kx, ky = EXAMPLE_JOINT.shape
    bias = first_order_bias((kx - 1) * (ky - 1), n)  # Miller-Madow: the plug-in's leading bias
    # sampling interval: delta-method sd of the plug-in MI, 4 sd (p ~ 6e-5 two-sided)
    assert abs(est - truth - bias) <= 4 * plugin_mi_sd(EXAMPLE_JOINT, n)


def test_tabular_holdout_interval_covers_true_mi():
    truth = mutual_information(EXAMPLE_JOINT)
    x, y = sample_discrete(EXAMPLE_JOINT, 100_000, seed=1)
    r = v_information(x, y, TabularFamily(alpha=0.5), split="holdout", seed=1)
    # 99.9 % interval of the mean PVI; the fitting bias (~k/(2 n_train ln2) = 6e-5 bits) is far below its width
    assert abs(r.value - truth) <= Z999 * r.stderr
    assert r.h_null == pytest.approx(-np.sum(EXAMPLE_JOINT.sum(0) * np.log2(EXAMPLE_JOINT.sum(0))), abs=0.01)


# --- Gaussian families -------------------------------------------------------------------

@pytest.mark.parametrize("r", [0.3, 0.8, -0.95])
@pytest.mark.parametrize("split", ["holdout", "crossfit"])
def test_linear_gaussian_recovers_gaussian_mi(r, split):
    x, y = sample_gaussian_pair(5000, r, seed=11)
    res = v_information(x, y, LinearGaussianFamily(), split=split, seed=2)
    # 99.9 % sampling interval of the mean PVI around the analytic -0.5*log2(1-r^2)
    assert abs(res.value - gaussian_mi_bits(r)) <= Z999 * res.stderr


def test_linear_gaussian_multivariate_full_covariance():
    rng = np.random.default_rng(5)
    n = 6000
    a = np.array([[1.0, 0.5], [0.0, -0.7], [0.3, 0.2]])
    noise_cov = np.array([[0.5, 0.2], [0.2, 0.4]])
    x = rng.standard_normal((n, 3))
    y = x @ a + rng.multivariate_normal([0, 0], noise_cov, size=n)
    truth = 0.5 * math.log2(np.linalg.det(a.T @ a + noise_cov) / np.linalg.det(noise_cov))
    res = v_information(x, y, LinearGaussianFamily(variance="full"), split="crossfit", seed=0)
    assert abs(res.value - truth) <= Z999 * res.stderr  # 99.9 % interval around the analytic MI


def test_fixed_variance_gives_scaled_mse_reduction():
    # fixed sigma^2 = 1: I_V = (Var Y - E[(Y - rX)^2]) / (2 ln 2) = r^2 / (2 ln 2) for unit-variance Y
    r = 0.7
    x, y = sample_gaussian_pair(8000, r, seed=4)
    res = v_information(x, y, LinearGaussianFamily(variance=1.0), split="holdout", seed=0)
    assert abs(res.value - r * r / (2 * math.log(2))) <= Z999 * res.stderr


def test_normal_intervals_cover_at_nominal_rate():
    from scipy.stats import binom

    r, truth, reps = 0.5, gaussian_mi_bits(0.5), 1000
    hits = sum(v_information(*sample_gaussian_pair(500, r, seed=s), LinearGaussianFamily(), seed=s).contains(truth)
               for s in range(reps))
    # two-sided 99.9 % binomial band around the nominal 95 % at 1000 reps: [926, 971] hits. Intervals whose
    # half-width is off by x0.8 / x1.5 cover 88 % / 99.7 % and fall outside it (measured here: 943).
    lo, hi = binom.interval(0.999, reps, 0.95)
    assert lo <= hits <= hi


def test_bootstrap_interval_matches_normal_interval():
    x, y = sample_gaussian_pair(5000, 0.6, seed=8)
    a = v_information(x, y, LinearGaussianFamily(), ci="normal", seed=1)
    b = v_information(x, y, LinearGaussianFamily(), ci="bootstrap", n_bootstrap=2000, seed=1)
    assert a.value == b.value  # same split, same fits: only the interval differs
    # bootstrap se of a mean over 1500 PVIs vs s/sqrt(n): Monte-Carlo error of 2000 resamples is ~1.6 %
    assert b.stderr == pytest.approx(a.stderr, rel=0.08)
    assert b.ci_low == pytest.approx(a.ci_low, abs=0.25 * (a.ci_high - a.ci_low))


def test_decoder_family_fixed_true_mean_and_trainable_jax_mlp():
    rng = np.random.default_rng(0)
    n = 4000
    x = rng.standard_normal((n, 1))
    y = np.sin(2 * x) + 0.3 * rng.standard_normal((n, 1))
    # Var sin(2X) = (1 - e^-8)/2 for X ~ N(0,1); the Gaussian family with the true mean attains
    # 0.5*log2(Var Y / 0.09); the best linear mean explains Cov(X, sin 2X)^2 = (2 e^-2)^2
    var_y = (1 - math.exp(-8)) / 2 + 0.09
    best = 0.5 * math.log2(var_y / 0.09)
    linear = 0.5 * math.log2(var_y / (var_y - (2 * math.exp(-2)) ** 2))
    fixed = v_information(x, y, GaussianDecoderFamily(lambda v: np.sin(2 * v)), seed=0)
    assert abs(fixed.value - best) <= Z999 * fixed.stderr  # 99.9 % interval
    lin = v_information(x, y, LinearGaussianFamily(), seed=0)
    assert abs(lin.value - linear) <= Z999 * lin.stderr  # 99.9 % interval
    params, apply = jax_mlp((1, 16, 1), seed=0)
    mlp = v_information(x, y, GaussianDecoderFamily(apply, init_params=params, steps=1500, learning_rate=2e-2), seed=0)
    # one-sided: a 16-unit network can only approach the true mean; 0.05 bits allows ~7 % excess MSE
    assert best - 0.05 - Z999 * mlp.stderr <= mlp.value <= best + Z999 * mlp.stderr
    assert paired_difference(mlp, lin).ci_low > 1.0  # the richer decoder family sees > 1 bit more


def test_decoder_family_accepts_tensor_like_outputs():
    class TensorLike:  # what a torch tensor looks like to the family (duck typing, no torch import)
        def __init__(self, a):
            self.a = a

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.a

    x, y = sample_gaussian_pair(3000, 0.8, seed=2)
    res = v_information(x, y, GaussianDecoderFamily(lambda v: TensorLike(0.8 * v)), seed=0)
    assert abs(res.value - gaussian_mi_bits(0.8)) <= Z999 * res.stderr  # 99.9 % interval


def test_torch_module_path_with_a_stub(monkeypatch):
    # torch is optional and absent here: a stub `torch` exercises the duck-typed module path
    import contextlib
    import sys
    import types

    class Tensor:
        def __init__(self, a):
            self.a = np.asarray(a, dtype=np.float32)

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.a

    stub = types.ModuleType("torch")
    stub.float32 = "float32"
    stub.as_tensor = lambda x, dtype=None, device=None: Tensor(x)
    stub.no_grad = contextlib.nullcontext
    monkeypatch.setitem(sys.modules, "torch", stub)
    module_base = type("Module", (), {"__module__": "torch.nn.modules.module"})
    seen = []

    class Linear(module_base):
        def parameters(self):
            return iter([])

        def __call__(self, t):
            seen.append(type(t))
            return Tensor(0.8 * t.a)

    x, y = sample_gaussian_pair(3000, 0.8, seed=2)
    res = v_information(x, y, GaussianDecoderFamily(Linear()), seed=0)
    assert seen and all(t is Tensor for t in seen)  # the module was fed tensors, not numpy arrays
    assert abs(res.value - gaussian_mi_bits(0.8)) <= Z999 * res.stderr  # 99.9 % interval


def test_torch_module_as_fixed_decoder():
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(0.8)
    x, y = sample_gaussian_pair(3000, 0.8, seed=2)
    res = v_information(x, y, GaussianDecoderFamily(lin), seed=0)
    assert abs(res.value - gaussian_mi_bits(0.8)) <= Z999 * res.stderr  # 99.9 % interval


# --- no access / independence ------------------------------------------------------------

def test_family_without_access_to_x_gives_exactly_zero():
    x, y = sample_discrete(EXAMPLE_JOINT, 3000, seed=0)
    for fam in (IgnoreInput(LogisticFamily()), IgnoreInput(TabularFamily())):
        r = v_information(x, y, fam, split="crossfit")
        assert r.value == 0.0 and np.all(r.pvi == 0.0)  # identical null and conditional fits
    gx, gy = sample_gaussian_pair(1000, 0.9, seed=0)
    assert v_information(gx, gy, IgnoreInput(LinearGaussianFamily())).value == 0.0


def test_independent_input_gives_zero_within_interval():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4000, 3))
    y = rng.integers(0, 3, 4000)
    r = v_information(x, y, LogisticFamily(), split="crossfit", seed=0)
    assert abs(r.value) <= Z999 * r.stderr  # population value is 0: the best predictor is the marginal


def test_conditioning_on_the_key_reveals_the_message():
    rng = np.random.default_rng(1)
    c = rng.integers(0, 2, 3000)
    x = rng.integers(0, 2, 3000)
    y = x ^ c
    # I(X;Y) = 0 but I(X;Y|C) = 1 bit; alpha=0.5 smoothing costs ~ (counts+0.5)/(counts+1) on log-loss
    uncond = v_information(x, y, TabularFamily(), split="crossfit")
    cond = conditional_v_information(x, y, c, TabularFamily(), split="crossfit")
    assert abs(uncond.value) <= Z999 * uncond.stderr
    assert cond.value == pytest.approx(1.0, abs=0.01)


def test_pvi_cross_fitted_mean_is_the_estimate():
    x, y = sample_discrete(EXAMPLE_JOINT, 1000, seed=2)
    pvi = pointwise_v_information(x, y, TabularFamily(), n_folds=4, seed=3)
    res = v_information(x, y, TabularFamily(), split="crossfit", n_folds=4, seed=3)
    assert pvi.shape == (1000,)
    np.testing.assert_allclose(pvi.mean(), res.value, atol=1e-12)  # definitionally identical


def test_conditional_linear_gaussian_known_answer():
    # Y = X + C + s N with independent standard X, C: I(X;Y|C) = 1/2 log2((1 + s^2) / s^2)
    rng = np.random.default_rng(12)
    n, s = 6000, 0.5
    x, c = rng.standard_normal(n), rng.standard_normal(n)
    y = x + c + s * rng.standard_normal(n)
    res = conditional_v_information(x, y, c, LinearGaussianFamily(), split="crossfit", seed=0)
    assert abs(res.value - 0.5 * math.log2((1 + s * s) / (s * s))) <= Z999 * res.stderr  # 99.9 % interval
    # and I(X;Y) alone is 1/2 log2((2 + s^2) / (1 + s^2)): C acts as noise without conditioning
    un = v_information(x, y, LinearGaussianFamily(), split="crossfit", seed=0)
    assert abs(un.value - 0.5 * math.log2((2 + s * s) / (1 + s * s))) <= Z999 * un.stderr


def test_gaussian_pvi_matches_analytic_log_density_ratio():
    r = 0.8
    x, y = sample_gaussian_pair(100_000, r, seed=13)
    xe = np.array([-1.5, 0.0, 0.7, 2.0])
    ye = np.array([-1.0, 0.3, 1.2, -0.5])
    pvi = pointwise_v_information(x, y, LinearGaussianFamily(), x_eval=xe, y_eval=ye)

    def log2_normal(v, mean, var):
        return (-0.5 * (v - mean) ** 2 / var - 0.5 * np.log(2 * np.pi * var)) / math.log(2)

    truth = log2_normal(ye, r * xe, 1 - r * r) - log2_normal(ye, 0.0, 1.0)
    # the fitted slope has sd sqrt((1 - r^2)/n) = 0.0019 at n = 1e5; at the worst point (x = 2, a 3.5-sd
    # residual) the PVI moves by |resid| x / ((1 - r^2) ln 2) = 17 bits per unit slope: 3 sd = 0.1 bits
    np.testing.assert_allclose(pvi, truth, atol=0.1)
