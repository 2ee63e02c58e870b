"""CIFAR-scale codec pieces (issue 16): the scalar-quantiser reference, the feature cache, the KL
distortion, training on cached features, and the goal / bound decisions of
``paper_checks/claims_codecs_goals.py`` with their mutation tests. Random-weight ResNet-20 and
synthetic data: every check is exact, analytic or a coder bound."""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

pytestmark = pytest.mark.torch

from rdtheory.codecs import feature_quantiser as fq  # noqa: E402
from rdtheory.codecs import train as train_mod  # noqa: E402
from rdtheory.codecs.features import cut_features, pooled_features, teacher_logits  # noqa: E402
from rdtheory.codecs.losses import RateDistortionLoss  # noqa: E402
from rdtheory.codecs.train import CodecConfig, TaskSpec, train_codec  # noqa: E402
from test_codecs_train import _data, _task  # noqa: E402  (the shared untrained ResNet-20 task and random data)

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")


# ----------------------------------------------------------------------------- scalar quantiser
def _balanced(d=4, levels=8, reps=50, step=0.5):
    """Every coordinate takes each of ``levels`` values on the grid exactly ``reps`` times."""
    rng = np.random.default_rng(0)
    cols = [rng.permutation(np.repeat(np.arange(levels), reps)) for _ in range(d)]
    return step * np.stack(cols, 1).astype(float), step


def test_ideal_code_length_of_a_uniform_grid_is_log2_levels():
    f, step = _balanced()
    q = fq.fit_scalar_quantiser(f, step)
    # add-1/2 counts on equal counts stay uniform: exactly log2(8) = 3 bits per coordinate
    assert np.allclose(fq.code_lengths(q, f), 4 * 3.0, atol=1e-12)
    assert np.array_equal(fq.dequantise(q, f), f)  # on-grid values decode exactly
    assert fq.table_bits(q) == 4 * (32 + 16 * 8)


def test_real_rans_stream_spends_the_ideal_length_plus_its_flush():
    f, step = _balanced()
    q = fq.fit_scalar_quantiser(f, step)
    ac = fq.arithmetic_code(q, f)
    assert ac["exact"]
    # one stream: ideal bits + the coder's flush (<= 64 + 32 bits, tests/test_codecs.py) + the 16-bit CDF's
    # rounding (the escape symbol's minimum mass 2^-16 costs <= 2^-16/ln 2 bits per symbol)
    assert ac["ideal_bits"] <= ac["bits"] <= ac["ideal_bits"] + 96 + f.size * 1e-4


def test_dequantisation_error_is_at_most_half_a_step_inside_the_range():
    rng = np.random.default_rng(1)
    f = rng.gamma(2.0, 0.5, size=(500, 8))
    q = fq.fit_scalar_quantiser(f, 0.3)
    assert np.abs(fq.dequantise(q, f) - f).max() <= 0.15 + 1e-12


def test_curve_needs_disjoint_halves_and_a_positive_step():
    f, _ = _balanced()
    with pytest.raises(ValueError, match="overlap"):
        fq.scalar_quantiser_curve(f, np.zeros(len(f)), lambda a: np.zeros(len(a)), [1.0], fit_idx=[0, 1],
                                  eval_idx=[1, 2])
    with pytest.raises(ValueError, match="step"):
        fq.fit_scalar_quantiser(f, 0.0)


# ----------------------------------------------------------------------------- feature cache
def test_cut_features_are_the_front_end_in_float16_and_are_reused(tmp_path):
    task, (x, _) = _task(), _data(12)
    with torch.no_grad():
        want = task.run(x, taps=("layer2",))["layer2"]
        want_flip = task.run(x.flip(-1), taps=("layer2",))["layer2"]
    f = cut_features(task, x, "layer2", key="t", flips=True, root=tmp_path, log=None)
    assert f.dtype == torch.float16 and f.shape == (24, *want.shape[1:])
    # float16 keeps 11 significant bits: relative error <= 2^-11 (plus subnormals near 0)
    both = torch.cat([want, want_flip])
    assert torch.all((f.float() - both).abs() <= 2 ** -11 * both.abs() + 1e-7)
    path = tmp_path / "t-layer2-flips.npy"
    stamp = path.stat().st_mtime_ns
    assert torch.equal(cut_features(task, x, "layer2", key="t", flips=True, root=tmp_path, log=None), f)
    assert path.stat().st_mtime_ns == stamp  # read back, not rebuilt
    logits = teacher_logits(task, f, "layer2", key="t", root=tmp_path)
    with torch.no_grad():
        assert torch.allclose(logits, task.run(f.float(), start="layer2")["output"], atol=1e-5)


def test_pooled_features_feed_the_linear_classifier():
    task, (x, _) = _task(), _data(6)
    with torch.no_grad():
        logits = task.run(x)["output"]
        assert torch.allclose(task.stages["output"][2](pooled_features(task, x)), logits, atol=1e-5)


# ----------------------------------------------------------------------------- KL distortion
def test_kl_distortion_is_zero_on_the_teacher_and_analytic_otherwise():
    loss = RateDistortionLoss(1.0, "kl", ("output",))
    lik = {"z": torch.full((2, 4), 0.5)}
    t = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    assert float(loss(lik, 8, targets={"output": t}, estimates={"output": t})["distortion"]) == pytest.approx(0, abs=1e-7)
    e = torch.zeros(2, 2)  # student uniform: KL(p||u) = log 2 − H(p) nats per row, averaged
    p = torch.softmax(t, 1)
    want = float((math.log(2) + (p * p.log()).sum(1)).mean())
    assert float(loss(lik, 8, targets={"output": t}, estimates={"output": e})["distortion"]) == pytest.approx(want)
    with pytest.raises(ValueError, match="exactly one layer"):
        RateDistortionLoss(1.0, "kl", ())


# ----------------------------------------------------------------------------- training on cached features
def test_training_on_cached_features_reduces_the_loss_and_validates(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("RDTHEORY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(train_mod, "data_key", lambda cfg: "fake")
    monkeypatch.setitem(train_mod.TASKS, "fake", TaskSpec(_task, lambda cfg, split: _data(48, int(split == "test")),
                                                          lambda x: 32 * 32, lambda x: x))
    cfg = CodecConfig(task="fake", approach="model_splitting", cut="layer2", distortion="kl", layers=("output",),
                      lmbda=10.0, latent_channels=8, hyper_channels=8, stride=2, quant_step=0.05, epochs=5,
                      batch_size=16, lr=3e-3, cached_features=True, val_n=20, out_dir=str(tmp_path / "run"))
    m = train_codec(cfg, progress=False)
    losses = [h["train_loss"] for h in m["history"]]
    assert m["finished"] and losses[-1] < 0.8 * losses[0], losses
    assert all({"val_bpp_estimate", "val_accuracy", "val_loss"} <= set(h) for h in m["history"])
    assert list((tmp_path / "cache/codecs/features").glob("fake-layer2-flips*.npy"))
    d = cfg.as_dict()
    assert d["cached_features"] is True and d["val_n"] == 20
    assert "cached_features" not in CodecConfig().as_dict()  # older runs' configs stay equal


def test_cached_features_need_model_splitting():
    with pytest.raises(ValueError, match="model-splitting"):
        CodecConfig(approach="direct", cut="layer2", cached_features=True).validate()


# ----------------------------------------------------------------------------- goal decisions (mutation tests)
def _goals():
    return pytest.importorskip("paper_checks.claims_codecs_goals")


def test_goal_point_and_its_mutations():
    g = _goals()
    pts = [{"bpp": 0.5, "accuracy": 0.79}, {"bpp": 0.6, "accuracy": 0.81}]
    assert g.goal_ok(g.goal_point(pts))  # exactly at both limits passes
    assert not g.goal_ok(g.goal_point([{"bpp": 0.5, "accuracy": 0.7899}, pts[1]]))  # 0.01 point short
    assert g.goal_point([{"bpp": 0.5001, "accuracy": 0.8}]) is None  # just over the rate limit: no candidate
    assert g.stretch_ok({"bpp": 0.1, "accuracy": 0.8003}, 0.8103)
    assert not g.stretch_ok({"bpp": 0.1, "accuracy": 0.8002}, 0.8103)
    assert g.bd_ok(-50.0) and not g.bd_ok(-49.99) and not g.bd_ok(None)


def test_bound_gap_and_the_engine_bound_for_a_uniform_class_output():
    g = _goals()
    assert (g.bound_gaps([10.0], [10.0]) >= 0).all() and not (g.bound_gaps([9.99], [10.0]) >= 0).all()
    D = np.array([0.0, 0.1, 0.3])
    hb = np.array([0.0] + [-d * math.log2(d) - (1 - d) * math.log2(1 - d) for d in D[1:]])
    closed = math.log2(10) - hb - D * math.log2(9)  # Hamming R(D) of a uniform 10-ary source
    assert np.allclose(g.supervised_bound(np.full(10, 0.1), D), closed, atol=1e-5)  # certified bracket tol 1e-7


def test_decoding_a_subset_gives_the_same_evaluation(tmp_path, monkeypatch):
    from rdtheory.codecs.evaluate import evaluate_codec

    monkeypatch.setitem(train_mod.TASKS, "fake", TaskSpec(_task, lambda cfg, split: _data(48, int(split == "test")),
                                                          lambda x: 32 * 32, lambda x: x))
    cfg = CodecConfig(task="fake", approach="model_splitting", cut="layer2", distortion="kl", layers=("output",),
                      latent_channels=8, hyper_channels=8, stride=2, quant_step=0.05, epochs=1, batch_size=16,
                      out_dir=str(tmp_path / "run"))
    train_codec(cfg, progress=False)
    x, y = _data(48, 1)
    model, _, _ = train_mod.load_codec(tmp_path / "run" / "model.pt", x[:2])
    full = evaluate_codec(model, x, y, pixels_per_sample=1024, batch_size=16)
    part = evaluate_codec(model, x, y, pixels_per_sample=1024, batch_size=16, decode_n=16)
    assert part["decoded_n"] == 16 and full["decoded_n"] == 48
    # the decoded tensor equals the eval-mode forward, so nothing measured changes
    assert {k: part[k] for k in ("bpp", "accuracy", "disagreement")} == {k: full[k] for k in ("bpp", "accuracy",
                                                                                             "disagreement")}
    assert full["decode_max_abs_diff"] < 1e-4
