"""Known-answer, bad-input and reproducibility tests of rdtheory.empirical.neural.

Truth: a Gaussian source N(0, diag(s2)) under squared error has
R(D) = sum_i 0.5 log2(s2_i / D_i), D_i = min(theta, s2_i), sum_i D_i = D (reverse
water-filling, Cover & Thomas Thm 10.3.3); the optimal code at slope beta (nats per unit of
distortion) has theta = 1 / (2 beta). A rotation does not change R(D).
"""
from __future__ import annotations

import numpy as np
import pytest

from rdtheory.empirical import neural
from rdtheory.empirical.neural import evaluate_neural, fit_neural, neural_bound
from rdtheory.empirical.record import RDBound
from rdtheory.empirical.sources import GaussianSource


def gaussian_rd(s2, d):
    """Reverse water-filling: R(D) in bits of N(0, diag(s2)) under squared error (Cover & Thomas Thm 10.3.3)."""
    return float(GaussianSource(tuple(s2)).rd(d))


def gaussian(s2, n, seed, rotate_to=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(s2))) * np.sqrt(s2)
    if rotate_to is not None:  # embed in rotate_to dimensions and rotate randomly
        q, _ = np.linalg.qr(rng.normal(size=(rotate_to, rotate_to)))
        x = np.pad(x, ((0, 0), (0, rotate_to - len(s2)))) @ q.T
    return x


# Held-out evaluation on 10k points: the rate's 95% half-width is ~0.01-0.03 bits at 1-3 bits.
N_FIT, N_EVAL = 4000, 10000
# A trained model's gap above the truth: measured +0.00..+0.02 bits on these sources at these
# settings (800 steps); 0.06 bits leaves room for the held-out interval plus optimisation slack.
# An under-trained model (test_tolerance_has_teeth) is far outside it.
TOL_BITS = 0.06
FAST = dict(steps=800, batch_size=256, learning_rate=1e-2, prior_components=1, seed=0)


def check_against_truth(b: RDBound, s2):
    """Rate and distortion are both sample means: the bound must not sit below the truth at the
    top of the distortion interval by more than the rate's half-width (R(D) decreases in D)."""
    for d, (d_lo, d_hi), r, (lo, hi) in zip(b.distortion, b.info["distortion_interval"], b.rate, b.interval):
        floor = gaussian_rd(s2, d_hi) - 0.5 * (hi - lo)
        assert r >= floor, f"bound {r:.4f} below truth {gaussian_rd(s2, d):.4f} beyond its intervals ({floor:.4f})"
        assert r <= gaussian_rd(s2, d) + TOL_BITS, \
            f"bound {r:.4f} more than {TOL_BITS} bits above truth {gaussian_rd(s2, d):.4f}"


@pytest.fixture(scope="module")
def bound_2d():
    s2 = np.array([1.0, 0.25])
    x = gaussian(s2, N_FIT + N_EVAL, seed=1)
    return s2, neural_bound(x[:N_FIT], x[N_FIT:], [1.0, 4.0], hidden=(16,), **FAST)


def test_1d_gaussian_mse_known_answer():
    s2 = np.array([1.0])
    x = gaussian(s2, N_FIT + N_EVAL, seed=0)
    b = neural_bound(x[:N_FIT], x[N_FIT:], [1.0, 4.0], hidden=(), **FAST)
    assert b.kind == "upper" and b.method == "neural" and b.n_fit == N_FIT and b.n_eval == N_EVAL
    check_against_truth(b, s2)
    # at slope beta the optimal distortion is 1/(2 beta) (theta < 1): the fit found it within 5%
    np.testing.assert_allclose(b.distortion, [0.5, 0.125], rtol=0.05)


def test_2d_gaussian_mse_known_answer(bound_2d):
    s2, b = bound_2d
    check_against_truth(b, s2)
    np.testing.assert_array_equal(b.beta, [1.0, 4.0])
    assert not b.capped.any()
    assert len(b.info["distortion_interval"]) == 2


def test_truth_check_has_teeth(bound_2d):
    """The known-answer check fails when the truth moves by its tolerance, and on a poor fit."""
    s2, b = bound_2d
    # 0.05 bits lower (the size of gap this bound is meant to resolve) must be caught
    shifted = RDBound(**{**b.__dict__, "rate": b.rate - 0.05, "interval": b.interval - 0.05})
    with pytest.raises(AssertionError, match="below truth"):
        check_against_truth(shifted, s2)
    x = gaussian(s2, N_FIT + N_EVAL, seed=1)   # same shapes as the fixture: no new compilation
    poor = neural_bound(x[:N_FIT], x[N_FIT:], [1.0, 4.0], hidden=(16,), **{**FAST, "steps": 20})
    with pytest.raises(AssertionError, match="above truth"):
        check_against_truth(poor, s2)


def test_low_rank_gaussian_in_higher_dimension():
    """Rank 2 in ambient dimension 12, randomly rotated; the latent is wider than the rank."""
    s2 = np.array([1.0, 0.3])
    x = gaussian(s2, N_FIT + N_EVAL, seed=2, rotate_to=12)
    b = neural_bound(x[:N_FIT], x[N_FIT:], [4.0], hidden=(), latent_dim=4, **FAST)
    check_against_truth(b, s2)   # zero-variance directions contribute nothing to R(D)


# One small configuration shared by the reproducibility tests (one compilation).
SMALL = dict(hidden=(8,), steps=60, checkpoint_every=20, prior_components=2)
X_SMALL, X_SMALL_EVAL = gaussian([1.0, 0.5], 600, seed=3), gaussian([1.0, 0.5], 200, seed=4)


def test_seeded_runs_are_bit_identical_and_seed_matters():
    a, b, c = (neural_bound(X_SMALL, X_SMALL_EVAL, [2.0, 6.0], seed=s, **SMALL) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.rate, b.rate)
    np.testing.assert_array_equal(a.distortion, b.distortion)
    assert np.all(a.rate != c.rate)


def test_checkpoint_resume_is_bit_identical(tmp_path, monkeypatch):
    whole = fit_neural(X_SMALL, [2.0, 6.0], **SMALL)
    ckpt = tmp_path / "fit.eqx"
    real, calls = neural._train_chunk_jit, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:        # killed during the last of three 20-step chunks
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(neural, "_train_chunk_jit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit_neural(X_SMALL, [2.0, 6.0], checkpoint=ckpt, **SMALL)
    monkeypatch.setattr(neural, "_train_chunk_jit", real)
    assert ckpt.exists()
    resumed = fit_neural(X_SMALL, [2.0, 6.0], checkpoint=ckpt, **SMALL)
    a, b = evaluate_neural(whole, X_SMALL_EVAL), evaluate_neural(resumed, X_SMALL_EVAL)
    np.testing.assert_array_equal(a.rate, b.rate)
    np.testing.assert_array_equal(a.distortion, b.distortion)
    with pytest.raises(ValueError, match="checkpoint"):   # another fit's checkpoint is refused
        fit_neural(X_SMALL, [2.0, 6.0], checkpoint=ckpt, **{**SMALL, "seed": 1})
    with pytest.raises(ValueError, match="checkpoint"):
        fit_neural(X_SMALL, [2.0], checkpoint=ckpt, **SMALL)


X = np.random.default_rng(5).normal(size=(50, 2))


@pytest.mark.parametrize("x_fit, x_eval, match", [
    (np.zeros((0, 2)), X, "empty"),
    (X[:1], X, "at least 2"),
    (np.where(np.arange(100).reshape(50, 2) == 7, np.nan, X), X, "NaN"),
    (X, X[:, :1], "dimension"),
    (X, X[:1], "at least 2"),
    (X, np.full((3, 2), np.inf), "NaN/inf"),
    (np.zeros((2, 2, 2)), X, "dimension"),
])
def test_bad_samples(x_fit, x_eval, match):
    with pytest.raises(ValueError, match=match):
        neural_bound(x_fit, x_eval, [1.0], steps=1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(betas=[0.0]), "betas"), (dict(betas=[-1.0]), "betas"), (dict(betas=[np.nan]), "betas"),
    (dict(betas=[[1.0]]), "betas"), (dict(betas=[]), "betas"),
    (dict(steps=0), "steps"), (dict(steps=2.5), "steps"), (dict(steps=True), "steps"),
    (dict(learning_rate=0.0), "learning_rate"), (dict(learning_rate=-1e-3), "learning_rate"),
    (dict(learning_rate=np.nan), "learning_rate"),
    (dict(latent_dim=0), "latent_dim"), (dict(batch_size=0), "batch_size"),
    (dict(prior_components=0), "prior_components"), (dict(hidden=(0,)), "hidden"),
    (dict(hidden=("a",)), "hidden"), (dict(seed=-1), "seed"), (dict(checkpoint_every=0), "checkpoint_every"),
    (dict(distortion="hamming"), "hamming"), (dict(distortion="cosine"), "distortion"),
    (dict(distortion=lambda a, b: a[:, :1] - b[:, 0][None, :]), "negative"),
    (dict(mc_samples=0), "mc_samples"), (dict(level=1.0), "level"),
])
def test_bad_arguments(kwargs, match):
    kwargs = {"betas": [1.0], "steps": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        neural_bound(X, X, **kwargs)


def test_callable_distortion_matches_named():
    """A user tile function gives the same bound as the named squared error (same seed)."""
    def sq(a, b):
        return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)

    a = neural_bound(X_SMALL, X_SMALL_EVAL, [2.0, 6.0], "squared", **SMALL)
    b = neural_bound(X_SMALL, X_SMALL_EVAL, [2.0, 6.0], sq, **SMALL)
    # float32 training on two algebraically equal but differently rounded losses
    np.testing.assert_allclose(b.rate, a.rate, rtol=1e-3)
    np.testing.assert_allclose(b.distortion, a.distortion, rtol=1e-3)


def test_module_does_not_import_torch():
    """rdtheory.empirical is torch-free (equinox + optax only): checked in a fresh process."""
    import subprocess
    import sys
    code = "import sys, rdtheory.empirical.neural; assert 'torch' not in sys.modules, 'torch imported'"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
