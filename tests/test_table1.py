"""Table I on the paper's protocol: cached ρ statistics, the CIFAR-100 ResNet-56 wiring, bad inputs.

Exactness checks compare with :func:`task_appropriateness` on the concatenated features
(the streaming statistics are a re-association of the same sums: 1e-10 relative is float64
rounding over a few hundred samples, far below any ρ difference that matters).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rdtheory.appropriateness import grouped_interval, task_appropriateness  # noqa: E402
from rdtheory.vision import rho_cache  # noqa: E402
from rdtheory.vision.cifar_pickle import make_cifar_python_fixture  # noqa: E402
from rdtheory.vision.data import ImageArrays  # noqa: E402
from rdtheory.vision.models import cifar_resnet, load_pretrained_cifar_resnet  # noqa: E402
from rdtheory.vision.taps import balanced_groups, collect_features  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RDTHEORY_DATA", ROOT.parent / "shared" / "data"))
C100 = SHARED / "cifar100-resnet-weights" / "cifar100_resnet56-f2eff4c8.pt"


def _experiment():
    spec = importlib.util.spec_from_file_location("cifar_table1", ROOT / "experiments" / "cifar_table1.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


def _tiny_data(n_per_class=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    img = rng.integers(0, 256, (y.size, 8, 8, 3), dtype=np.uint8)
    img[..., 0] = np.clip(img[..., 0].astype(int) // 2 + 60 * y[:, None, None], 0, 255)  # class-dependent red
    return ImageArrays(img, y, tuple(f"c{k}" for k in range(classes)), "tiny")


def _tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 64, 3)).eval()


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RDTHEORY_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ----------------------------------------------------------------------------- statistics and cache
def test_statistics_equal_one_shot_rho_per_layer():
    data, model = _tiny_data(), _tiny_model()
    stats, info = rho_cache.compute_statistics(model, data, ["input", "1"], mean_std=((0, 0, 0), (1, 1, 1)),
                                               n_groups=2, batch_size=5)
    feats = collect_features(model, data, ["input", "1"], mean_std=((0, 0, 0), (1, 1, 1)), dtype=np.float64,
                             batch_size=5)  # same batches: float32 convolutions depend on the batch size
    assert info["n"] == 36 and stats["1"].counts.shape == (2, 3)
    for name in ("input", "1"):
        r = rho_cache.layer_rho(stats[name])
        ref = task_appropriateness(feats[name], data.labels)
        assert r["rho_plain"] == pytest.approx(ref.rho, rel=1e-10)  # the paper's plug-in, exactly
        s = stats[name]
        bc = grouped_interval(s.counts, s.means, s.m2)
        assert (r["rho"], r["low"], r["high"]) == (bc.estimate, bc.low, bc.high)
        assert r["low"] <= r["rho"] <= r["high"]
        # the groups are the class-balanced ones of rho_profile (seed 0): same per-cell counts
        assert np.array_equal(s.counts.sum(axis=0), np.bincount(data.labels))
        assert np.array_equal(s.counts[1], np.bincount(data.labels[balanced_groups(data.labels, 2, 0) == 1]))


def test_input_only_pass_needs_no_model():
    data = _tiny_data()
    stats, info = rho_cache.compute_statistics(None, data, ["input"], n_groups=2)
    ref = task_appropriateness(data.images.reshape(len(data), -1) / 255.0, data.labels)
    assert rho_cache.layer_rho(stats["input"])["rho_plain"] == pytest.approx(ref.rho, rel=1e-10)
    assert info["correct"] == 0
    with pytest.raises(ValueError, match="model=None streams only"):
        rho_cache.compute_statistics(None, data, ["input", "1"])


def test_cache_computes_once_then_reads_and_recomputes_a_broken_entry(cache):
    data = _tiny_data()
    calls = []

    def compute():
        calls.append(1)
        return rho_cache.compute_statistics(None, data, ["input"], n_groups=2)

    key = rho_cache.statistics_key(weights="none", data="d" * 8, split="test", layers=["input"], mean_std="none")
    assert not rho_cache.is_cached(key)
    a, ia = rho_cache.cached_statistics(key, compute)
    b, ib = rho_cache.cached_statistics(key, compute)
    assert len(calls) == 1 and (ia["cached"], ib["cached"]) == (False, True)
    assert np.array_equal(a["input"].means, b["input"].means) and a["input"].shape == b["input"].shape
    assert (cache / "rho_statistics" / f"{key}.npz").is_file()  # in the user cache, not the repository
    (cache / "rho_statistics" / f"{key}.npz").write_bytes(b"truncated")
    _, ic = rho_cache.cached_statistics(key, compute)
    assert len(calls) == 2 and ic["cached"] is False


def test_key_changes_with_weights_data_and_protocol(tmp_path):
    base = dict(weights="a" * 64, data="b" * 64, split="train", layers=["layer1"], mean_std="imagenet")
    k0 = rho_cache.statistics_key(**base)
    for change in (dict(weights="c" * 64), dict(data="c" * 64), dict(split="test"), dict(layers=["layer2"]),
                   dict(mean_std="jpeg"), dict(n_groups=10), dict(seed=1), dict(subset=2000)):
        assert rho_cache.statistics_key(**{**base, **change}) != k0, change
    f = tmp_path / "w.pt"
    f.write_bytes(b"weights v1")
    h1 = rho_cache.file_sha256(f)
    f.write_bytes(b"weights v2")  # a retrained checkpoint at the same path gets a new key
    assert rho_cache.file_sha256(f) != h1


def test_bad_inputs_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        rho_cache.file_sha256(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="weights and data"):
        rho_cache.statistics_key(weights="", data="x", split="train", layers=["input"], mean_std="none")
    with pytest.raises(ValueError, match="key must be a hex"):
        rho_cache.cached_statistics("../etc", lambda: None)
    with pytest.raises(ValueError, match="shortcut must be"):
        cifar_resnet(20, 10, shortcut="C")


# ----------------------------------------------------------------------------- CIFAR-100 ResNet-56
@pytest.mark.skipif(not C100.is_file(), reason=f"{C100} not present (RDTHEORY_DATA)")
def test_cifar100_resnet56_loads_strictly_with_option_b_shortcuts():
    m = load_pretrained_cifar_resnet(C100)
    assert m.fc.weight.shape == (100, 64) and m.depth == 56
    assert m.layer2[0].downsample is not None and m.layer1[0].downsample is None
    # the CIFAR-10 files keep the parameter-free option A
    m10 = cifar_resnet(20, 10)
    assert m10.layer2[0].downsample is None and not hasattr(m10, "fc")


@pytest.mark.skipif(not C100.is_file(), reason=f"{C100} not present (RDTHEORY_DATA)")
def test_cifar100_split_and_model_load_through_the_table_code(tmp_path, monkeypatch):
    """The table's loaders on the real pickle layout: split, label order, data key, the model's forward."""
    root = tmp_path / "data"
    make_cifar_python_fixture(root, "cifar100", n_per_file=40, seed=1)
    (root / "cifar100-resnet-weights").symlink_to(C100.parent)
    monkeypatch.setenv("RDTHEORY_DATA", str(root))
    mod = _experiment()
    spec = next(s for s in mod.SPECS if s.name == "cifar100_resnet56")
    assert mod.data_file("cifar100", "train") == root / "cifar-100-python" / "train"
    test = mod.load_split("cifar100", "test")
    assert len(test) == 40 and test.classes[:2] == ("fine0", "fine1") and test.labels[:3].tolist() == [40, 41, 42]
    model, _ = mod.load_model(spec)
    from rdtheory.vision.data import to_tensor

    with torch.no_grad():
        logits = model(to_tensor(test.images[:4], spec.mean_std))
    assert logits.shape == (4, 100) and torch.isfinite(logits).all()


@pytest.mark.slow  # ~20 s of ResNet-56 forward passes on an idle core (minutes on a loaded one)
@pytest.mark.skipif(not C100.is_file(), reason=f"{C100} not present (RDTHEORY_DATA)")
def test_cifar100_rows_from_a_pickle_fixture(tmp_path, monkeypatch, cache):
    """A user with cifar-100-python/ gets the ResNet-56 rows; here with the real layout and field names."""
    root = tmp_path / "data"
    make_cifar_python_fixture(root, "cifar100", n_per_file=1000, seed=1)  # 10 images per fine class
    (root / "cifar100-resnet-weights").symlink_to(C100.parent)
    monkeypatch.setenv("RDTHEORY_DATA", str(root))
    mod = _experiment()
    spec = next(s for s in mod.SPECS if s.name == "cifar100_resnet56")
    rows = mod.rows_for(spec, "cifar100", splits=("test",), log=lambda *_: None)
    assert [r["layer"] for r in rows] == list(mod.STAGES)
    assert all(r["n_images"] == 1000 and r["n_groups"] == 2 and r["low"] <= r["rho"] <= r["high"] for r in rows)
    assert rows[0]["data"] == "CIFAR-100 (original) test"
    # random pixels: the accuracy of 100 classes is near chance (binomial 99.9% bound for p = 0.01, n = 1000)
    assert rows[0]["accuracy"] <= 0.035
    again = mod.rows_for(spec, "cifar100", splits=("test",), log=lambda *_: None)
    assert all(r["cached"] for r in again) and [r["rho"] for r in again] == [r["rho"] for r in rows]


def test_cifar100_missing_is_skipped_with_a_clear_note(tmp_path, monkeypatch, cache):
    monkeypatch.setenv("RDTHEORY_DATA", str(tmp_path))
    mod = _experiment()
    rows, notes, models = mod.run(["cifar100_resnet56"], splits=("test",), write=False, log=lambda *_: None)
    assert rows == [] and models == {}
    assert len(notes) == 1 and notes[0].startswith("cifar100: skipped — cifar100 data not found")
    assert "cifar-100-python" in notes[0] and "cifar100_resnet56" in notes[0]
