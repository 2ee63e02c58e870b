"""Direct / full-input / scalable codecs, the split task model, and the training driver:
shapes, exact bitstreams, a few steps reduce the loss, resume == uninterrupted, clear errors.

The task model is a randomly initialised CIFAR ResNet-20 (no data or weights needed) fed with
a fixed random "image" set; every check is structural or exact, so random weights suffice.
"""
import dataclasses
import doctest
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

pytestmark = pytest.mark.torch

from rdtheory.codecs import direct as direct_mod, scalable as scalable_mod, system as system_mod  # noqa: E402
from rdtheory.codecs import train as train_mod  # noqa: E402
from rdtheory.codecs.direct import DirectCodec, full_input_codec  # noqa: E402
from rdtheory.codecs.hyperprior import stream_bits  # noqa: E402
from rdtheory.codecs.scalable import EnhancementCodec  # noqa: E402
from rdtheory.codecs.system import MachineCodec, SplitTaskModel  # noqa: E402
from rdtheory.codecs.evaluate import evaluate_codec  # noqa: E402
from rdtheory.codecs.train import CodecConfig, TaskSpec, build, lambda_sweep, train_codec  # noqa: E402
from rdtheory.vision.models import cifar_resnet  # noqa: E402

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")


def _task(_cfg=None) -> SplitTaskModel:
    torch.manual_seed(123)
    return SplitTaskModel.from_cifar_resnet(cifar_resnet(20).eval())


def _data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.fixture(autouse=True)
def one_thread_and_fake_task(monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setitem(train_mod.TASKS, "fake", TaskSpec(_task, lambda cfg, split: _data(48, int(split == "test")),
                                                          lambda x: 32 * 32, lambda x: x))
    yield
    torch.set_num_threads(threads)


def _cfg(tmp_path, **kw) -> CodecConfig:
    base = dict(task="fake", approach="direct", cut="layer2", distortion="mse", layers=("layer3",), lmbda=1.0,
                latent_channels=8, channels=16, hyper_channels=8, epochs=2, batch_size=16, out_dir=str(tmp_path / "run"))
    base.update(kw)
    return CodecConfig(**base)


@pytest.mark.parametrize("mod", [direct_mod, scalable_mod, system_mod])
def test_doctests(mod):
    res = doctest.testmod(mod)
    # attempted > 0: a module whose examples vanish would otherwise pass with nothing run
    assert res.attempted > 0 and res.failed == 0, res


def test_split_task_model_equals_the_whole_model():
    model = cifar_resnet(20).eval()
    task = SplitTaskModel.from_cifar_resnet(model)
    x, _ = _data(4)
    out = task.run(x, taps=("layer1", "layer2", "layer3", "output"))
    assert torch.allclose(out["output"], model(x), atol=1e-5)  # float32 reassociation only
    from_cut = task.run(out["layer2"], start="layer2", taps=("layer2", "output"))
    assert from_cut["layer2"] is out["layer2"]
    assert torch.equal(from_cut["output"], out["output"])  # same ops on the same tensor
    assert not any(p.requires_grad for p in task.parameters())
    task.train()
    assert not task.training  # frozen BatchNorm statistics


@pytest.mark.parametrize("cut, ds, shape", [("layer1", 1, (16, 32, 32)), ("layer2", 2, (32, 16, 16))])
def test_direct_codec_shapes_match_cut_points(cut, ds, shape):
    codec = DirectCodec(3, shape[0], out_downsample=ds, latent_channels=8, channels=16)
    x, _ = _data(2)
    out = codec(x)
    assert tuple(out["output"].shape[1:]) == shape
    assert tuple(out["z_hat"].shape[1:]) == (8, 8, 8)  # latent_downsample 4
    assert full_input_codec(latent_channels=8, channels=16)(x)["output"].shape == x.shape


def test_direct_and_enhancement_bitstreams_decode_exactly():
    torch.manual_seed(0)
    x, _ = _data(3)
    base = DirectCodec(3, 32, out_downsample=2, latent_channels=8, channels=16).eval()
    base.update(force=True)
    comp = base.compress(x)
    dec = base.decompress(comp["strings"], comp["shape"])
    ref = base(x)
    with torch.no_grad():  # the quantiser by its defining property: integers nearest to g_a(x)/Q
        z = base.g_a(x) / base.quant_step
    assert torch.equal(dec["z_hat"], dec["z_hat"].round()) and float((z - dec["z_hat"]).abs().max()) <= 0.5 + 1e-6
    assert torch.allclose(dec["output"], ref["output"], atol=1e-5)
    assert all(b >= 2 * 64 for b in stream_bits(comp))  # two streams per image, >= 8 bytes each
    enh = EnhancementCodec(8, latent_channels=4, channels=16).eval()
    enh.update(force=True)
    cond = dec["z_hat"] * base.quant_step
    comp_e = enh.compress(x, cond)
    dec_e = enh.decompress(comp_e["strings"], comp_e["shape"], cond)
    assert torch.allclose(dec_e["output"], enh(x, cond)["output"], atol=1e-5)
    with pytest.raises(ValueError, match="condition"):
        enh(x, torch.zeros(3, 7, 8, 8))


def test_enhancement_rate_depends_on_the_base():
    """The enhancement's entropy model is conditional: a different base changes its likelihoods."""
    torch.manual_seed(0)
    enh = EnhancementCodec(8, latent_channels=4, channels=16).eval()
    x, _ = _data(2)
    a = enh(x, torch.zeros(2, 8, 8, 8))["likelihoods"]["z"]
    b = enh(x, torch.ones(2, 8, 8, 8))["likelihoods"]["z"]
    assert not torch.equal(a, b)


def test_a_few_training_steps_reduce_the_loss(tmp_path):
    cfg = _cfg(tmp_path, epochs=6, lr=3e-3)
    m = train_codec(cfg, progress=False)
    losses = [h["train_loss"] for h in m["history"]]
    assert m["finished"] and losses[-1] < 0.8 * losses[0], losses


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    a = _cfg(tmp_path / "a", epochs=2)
    b = dataclasses.replace(a, out_dir=str(tmp_path / "b"))
    train_codec(a, progress=False)
    train_codec(b, progress=False, max_epochs=1)
    state_mid = torch.load(f"{b.out_dir}/last.pt", weights_only=True)
    assert state_mid["epoch"] == 0
    train_codec(b, progress=False)  # resumes at epoch 2
    wa = torch.load(f"{a.out_dir}/model.pt", weights_only=True)["model"]
    wb = torch.load(f"{b.out_dir}/model.pt", weights_only=True)["model"]
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    with pytest.raises(ValueError, match="different config"):
        train_codec(dataclasses.replace(b, lmbda=2.0, epochs=3), progress=False)


def test_evaluate_uses_real_bitstreams(tmp_path):
    cfg = _cfg(tmp_path, epochs=1)
    res = train_mod.run(cfg, progress=False)
    assert res["n"] == 48 and 0.0 <= res["accuracy"] <= 1.0
    assert res["decode_max_abs_diff"] < 1e-4  # decoded tensor == eval-mode forward
    # bytes >= information content: the coder never beats its own model
    assert res["bpp"] >= res["bpp_estimate"]
    again = train_mod.run(cfg, progress=False)  # finished runs are read back, not redone
    assert again == res


def test_evaluate_per_sample_adds_up_to_the_totals(tmp_path):
    cfg = _cfg(tmp_path, epochs=1)
    train_mod.train_codec(cfg, progress=False)
    x, y = _data(48, 1)
    model, _, _ = train_mod.load_codec(tmp_path / "run" / "model.pt", x[:2])
    res = evaluate_codec(model, x, y, pixels_per_sample=32 * 32, batch_size=20, per_sample=True)
    bits, hits = res["bits_per_sample"], res["correct_per_sample"]
    assert len(bits) == len(hits) == 48 and set(hits) <= {0, 1}
    # each sample's bits are whole bytes of two streams (>= 8 bytes each, see above), and the totals
    # are exactly the reported bpp and accuracy (integer sums: no rounding)
    assert all(b % 8 == 0 and b >= 2 * 64 for b in bits)
    assert sum(bits) == res["bpp"] * 48 * 32 * 32 and sum(hits) == res["accuracy"] * 48
    single = evaluate_codec(model, x[7:8], y[7:8], pixels_per_sample=32 * 32)  # sample 7 coded alone
    assert single["bpp"] * 32 * 32 == bits[7] and single["accuracy"] == hits[7]


def test_scalable_base_with_beta_trains_the_head_and_reports_psnr(tmp_path):
    cfg = _cfg(tmp_path, distortion="supervised", layers=(), scalable=True, beta=0.01, epochs=1)
    res = train_mod.run(cfg, progress=False, refit_head_epochs=1)
    assert "psnr_db" in res and res["head_refit_mse"] is not None


def test_lambda_sweep_chains_warm_starts(tmp_path):
    cfg = _cfg(tmp_path, epochs=1)
    calls = []
    lambda_sweep(cfg, [2.0, 1.0], warm_start_epochs=1, run_fn=lambda c, **kw: calls.append(c) or {})
    assert [c.lmbda for c in calls] == [2.0, 1.0]
    assert calls[0].init_from is None and calls[1].init_from.endswith("lmbda=2/model.pt")
    with pytest.raises(ValueError, match="lmbdas"):
        lambda_sweep(cfg, [1.0, 0.0])


@pytest.mark.parametrize("kw, match", [
    (dict(cut="layer9"), "unknown layer 'layer9'"),
    (dict(layers=("layer1",)), "shallower than the cut point"),
    (dict(lmbda=0.0), "lmbda must be a finite number > 0"),
    (dict(lmbda=-1.0), "lmbda must be a finite number > 0"),
    (dict(approach="jpeg"), "approach must be one of"),
    (dict(distortion="l1"), "distortion must be one of"),
    (dict(beta=0.1), "set scalable=True"),
    (dict(task="imagenet"), "task must be one of"),
    (dict(approach="full_input", cut="layer2"), "full_input"),
    (dict(epochs=0), "epochs must be a positive int"),
])
def test_bad_configs_are_clear_errors(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        build(_cfg(tmp_path, **kw), _data(2)[0])


def test_wrong_input_shape_is_a_clear_error():
    codec = DirectCodec(3, 32, out_downsample=2, latent_channels=8, channels=16)
    with pytest.raises(ValueError, match=r"shape \(B, 3, H, W\)"):
        codec(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="divisible by 8"):
        codec(torch.zeros(2, 3, 30, 32))
    with pytest.raises(ValueError, match="power of two"):
        DirectCodec(3, 16, latent_downsample=6)
    with pytest.raises(ValueError, match="multiple of out_downsample"):
        DirectCodec(3, 16, out_downsample=8, latent_downsample=4)
    task = _task()
    with pytest.raises(ValueError, match="cut point after the input"):
        MachineCodec(codec, task, "direct", "input")


def test_cli_fields_equal_the_config_fields(tmp_path):
    import typing

    from rdtheory.cli import build_parser
    from rdtheory.codecs.cli import FIELDS, config_from_args

    hints = typing.get_type_hints(CodecConfig)
    assert list(FIELDS) == [f.name for f in dataclasses.fields(CodecConfig)]
    for name, typ in FIELDS.items():
        assert typ in (hints[name], *typing.get_args(hints[name])), name
    args = build_parser().parse_args(["codec", "--task", "fake", "--approach", "direct", "--cut", "layer2",
                                      "--distortion", "mse", "--layers", "layer3", "--out-dir", str(tmp_path),
                                      "--lmbdas", "2", "1"])
    cfg = config_from_args(args)
    assert (cfg.approach, cfg.cut, cfg.layers, cfg.out_dir) == ("direct", "layer2", ("layer3",), str(tmp_path))


@pytest.mark.slow
def test_ddp_under_torchrun_trains_and_rank0_writes(tmp_path):
    """Two gloo ranks on CPU: the run finishes, rank 0 writes model.pt, both ranks saw all epochs."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parent / "helpers" / "ddp_codec_run.py"
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
                    str(script), str(tmp_path)], check=True, capture_output=True, timeout=300)
    assert (tmp_path / "run" / "model.pt").exists()
    assert [(tmp_path / f"rank{r}.txt").read_text().split() for r in (0, 1)] == [["True", "2"]] * 2


def test_init_from_a_codec_without_head_starts_a_fresh_head(tmp_path):
    plain = _cfg(tmp_path / "plain", distortion="supervised", layers=(), epochs=1)
    train_codec(plain, progress=False)
    scal = _cfg(tmp_path / "scal", distortion="supervised", layers=(), epochs=1, scalable=True, beta=0.01,
                init_from=f"{plain.out_dir}/model.pt")
    assert train_codec(scal, progress=False)["finished"]
    other = _cfg(tmp_path / "other", cut="layer1", distortion="supervised", layers=(), epochs=1,
                 init_from=f"{plain.out_dir}/model.pt")
    with pytest.raises(ValueError, match="does not fit"):  # a codec for another cut point
        train_codec(other, progress=False)
