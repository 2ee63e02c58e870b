"""Torch side I/O: checkpoints never run code, data paths resolve in one documented order, the
CIFAR python-pickle layouts read correctly, recorded paths are portable, the train CLI's models."""
from __future__ import annotations

import argparse
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rdtheory import _training  # noqa: E402
from rdtheory.vision import cifar_pickle, paths  # noqa: E402
from rdtheory.vision import data as vdata  # noqa: E402


class _Payload:
    """Unpickling this object would call ``open(marker, "w")`` (a stand-in for any code)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ("RDTHEORY_DATA", "RDTHEORY_CIFAR10_JPEG", "RDTHEORY_CIFAR_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path / "repo" / "checkout")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ----------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("loader", ["load_checkpoint", "load_trained", "load_codec"])
def test_a_checkpoint_whose_pickle_runs_code_is_refused_and_nothing_runs(tmp_path, loader):
    marker = tmp_path / "marker"
    evil = tmp_path / "model.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "config": _Payload(str(marker))}, evil)
    # sanity: the file really would run code under a full unpickler (so the refusal below is meaningful)
    torch.load(evil, weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match="refusing to load"):
        if loader == "load_checkpoint":
            _training.load_checkpoint(evil)
        elif loader == "load_trained":
            from rdtheory.vision.train import load_trained

            load_trained(evil)
        else:
            pytest.importorskip("compressai")
            from rdtheory.codecs.train import load_codec

            load_codec(evil, torch.zeros(2, 3, 32, 32))
    assert not marker.exists()


def test_save_checkpoint_stores_plain_data_only(tmp_path):
    state = {"model": {"w": torch.arange(3.0)}, "config": {"a": 1, "b": [1.5, None, "x"]}, "epoch": 2}
    p = _training.save_checkpoint(tmp_path / "c.pt", state)
    back = torch.load(p, weights_only=True)  # what every loader here does
    assert back["format"] == _training.FORMAT and back["config"] == state["config"]
    assert torch.equal(back["model"]["w"], state["model"]["w"])
    with pytest.raises(ValueError, match=r"checkpoint\['config'\]\['p'\] is a PosixPath"):
        _training.save_checkpoint(tmp_path / "d.pt", {"model": {}, "config": {"p": Path("x")}})
    assert not (tmp_path / "d.pt").exists()


def test_committed_checkpoints_are_plain_data():
    root = Path(__file__).resolve().parents[1]
    files = sorted((root / "experiments" / "checkpoints").rglob("model.pt"))
    if not files:
        pytest.skip("no committed checkpoints in this checkout")
    for f in files:
        state = _training.load_checkpoint(f)
        assert state["format"] == _training.FORMAT, f
        cfg = state["config"]
        for key in ("data_dir", "weights", "init_from", "out_dir", "cache_dir"):
            assert not str(cfg.get(key) or "").startswith("/"), (f, key, cfg.get(key))


# ----------------------------------------------------------------------------- data paths
def test_find_data_order_argument_env_cache_repo(clean_env, monkeypatch):
    tmp = clean_env
    repo_data = tmp / "repo" / "shared" / "data"  # <repo>/../shared/data, from the package location
    cache = tmp / "xdg" / "rdtheory"
    env_root = tmp / "envroot"
    for root in (repo_data, cache, env_root):
        (root / "cifar10-jpeg.zip").parent.mkdir(parents=True, exist_ok=True)
        (root / "cifar10-jpeg.zip").write_bytes(b"")
    assert paths.find_data("cifar10-jpeg.zip") == cache / "cifar10-jpeg.zip"  # cache before the repo's
    (cache / "cifar10-jpeg.zip").unlink()
    assert paths.find_data("cifar10-jpeg.zip") == repo_data / "cifar10-jpeg.zip"
    monkeypatch.setenv("RDTHEORY_DATA", str(env_root))
    assert paths.find_data("cifar10-jpeg.zip") == env_root / "cifar10-jpeg.zip"
    special = tmp / "elsewhere.zip"
    special.write_bytes(b"")
    monkeypatch.setenv("RDTHEORY_CIFAR10_JPEG", str(special))
    assert paths.find_data("cifar10-jpeg.zip") == special  # the file's own variable first
    given = tmp / "given.zip"
    given.write_bytes(b"")
    assert paths.find_data(given) == given  # an explicit argument wins
    assert paths.find_data("given.zip") == Path("given.zip")  # relative to the current directory
    weights = tmp / "w"
    (weights / "resnet20-12fca82f.th").parent.mkdir()
    (weights / "resnet20-12fca82f.th").write_bytes(b"")
    monkeypatch.setenv("RDTHEORY_CIFAR_WEIGHTS", str(weights))
    assert paths.find_data("cifar10-resnet-weights/resnet20-12fca82f.th") == weights / "resnet20-12fca82f.th"
    with pytest.raises(ValueError, match=r"nowhere\.zip.*not found.*cifar-10-batches-py.*--download.*akamaster"):
        paths.find_data("nowhere.zip")
    with pytest.raises(ValueError, match="does not exist"):
        paths.find_data(tmp / "absent.zip")


def test_portable_path_is_relative_to_repo_or_data_root(clean_env, monkeypatch):
    tmp = clean_env
    monkeypatch.setenv("RDTHEORY_DATA", str(tmp / "d"))
    assert paths.portable_path(tmp / "d" / "cifar10-jpeg.zip") == "cifar10-jpeg.zip"
    assert paths.portable_path(paths.REPO_ROOT / "experiments" / "x") == "experiments/x"
    monkeypatch.setenv("RDTHEORY_CIFAR_WEIGHTS", str(tmp / "ww"))
    assert paths.portable_path(tmp / "ww" / "r.th") == "cifar10-resnet-weights/r.th"
    assert paths.portable_path("/somewhere/else.zip") == "/somewhere/else.zip"  # nothing to anchor to
    assert paths.portable_path(None) is None


def test_library_defaults_hold_no_machine_paths():
    from rdtheory.codecs.config import CodecConfig
    from rdtheory.vision.config import TrainConfig

    for cfg in (CodecConfig(), TrainConfig()):
        for k, v in cfg.as_dict().items():
            assert not (isinstance(v, str) and v.startswith("/")), (k, v)


# ----------------------------------------------------------------------------- CIFAR python pickles
def test_cifar10_python_layout(tmp_path):
    folder = cifar_pickle.make_cifar_python_fixture(tmp_path, "cifar10", n_per_file=6)
    assert sorted(p.name for p in folder.iterdir()) == ["batches.meta", "data_batch_1", "data_batch_2",
                                                         "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    with open(folder / "data_batch_2", "rb") as fh:
        raw = pickle.load(fh, encoding="latin1")
    tr = vdata.load_dataset("cifar10", tmp_path, "train")  # the parent folder
    assert tr.images.shape == (30, 32, 32, 3) and tr.images.dtype == np.uint8 and len(tr.classes) == 10
    # pixel (row 0, col 1) of the first image of batch 2: R at 1, G at 1024 + 1, B at 2048 + 1 (row-major planes)
    np.testing.assert_array_equal(tr.images[6, 0, 1], raw["data"][0, [1, 1025, 2049]])
    assert tr.labels[6:12].tolist() == raw["labels"]
    te = vdata.load_dataset("cifar10", folder, "test")  # the batches folder itself
    assert len(te) == 6 and te.classes[0] == "class0" and "CIFAR-10 (original) test" == te.name


def test_cifar100_python_layout_fine_and_coarse(tmp_path):
    folder = cifar_pickle.make_cifar_python_fixture(tmp_path, "cifar100", n_per_file=7)
    assert sorted(p.name for p in folder.iterdir()) == ["meta", "test", "train"]
    fine = cifar_pickle.load_cifar_python("cifar100", tmp_path, "train")
    coarse = cifar_pickle.load_cifar_python("cifar100", tmp_path, "train", label="coarse")
    assert fine.labels.tolist() == list(range(7)) and coarse.labels.tolist() == [k // 5 for k in range(7)]
    assert len(fine.classes) == 100 and len(coarse.classes) == 20
    np.testing.assert_array_equal(fine.images, coarse.images)


def test_cifar_batch_pickle_that_runs_code_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "marker"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": _Payload(str(marker)), "labels": []}, fh, protocol=2)
    with pytest.raises(ValueError, match="not allowed"):
        cifar_pickle.load_cifar_python("cifar10", tmp_path, "test")
    assert not marker.exists()


def test_nothing_is_downloaded_without_the_flag(clean_env, monkeypatch):
    calls = []
    monkeypatch.setattr(cifar_pickle, "download_cifar", lambda name, root: calls.append((name, root)) or
                        cifar_pickle.make_cifar_python_fixture(root, name, n_per_file=2))
    with pytest.raises(ValueError, match="--download"):
        vdata.load_dataset("cifar10", None, "test")
    assert calls == []
    te = vdata.load_dataset("cifar10", None, "test", download=True)
    assert calls == [("cifar10", paths.user_cache_dir())] and len(te) == 2
    assert vdata.load_dataset("cifar10", None, "test").name == te.name  # found in the cache next time
    assert len(calls) == 1


def test_folder_source_accepts_the_parent_of_an_export(tmp_path):
    root = vdata.make_fixture(tmp_path / "f", n_classes=2, n_train=2, n_test=3, as_zip=False)
    a = vdata.load_dataset("folder", root, "test")  # holds cifar10-jpeg/{train,test}
    b = vdata.load_dataset("folder", root / "cifar10-jpeg", "test")
    np.testing.assert_array_equal(a.images, b.images)
    assert len(a) == 6


# ----------------------------------------------------------------------------- train CLI
def test_every_offered_model_has_a_config_and_cifar_resnets_train(tmp_path):
    from rdtheory.vision.cli import _MODELS, add_train_subcommand
    from rdtheory.vision.config import CONFIGS, config_for
    from rdtheory.vision.models import MODELS

    assert set(_MODELS) == set(MODELS) == {m for m, _ in CONFIGS}
    assert config_for("resnet20", "cpu").width == 1.0 and config_for("resnet56", "paper").epochs == 200
    parser = argparse.ArgumentParser()
    add_train_subcommand(parser.add_subparsers())
    cifar = cifar_pickle.make_cifar_python_fixture(tmp_path, "cifar10", n_per_file=4)
    torch.set_num_threads(1)
    args = parser.parse_args(["train", "--model", "resnet20", "--dataset", "cifar10", "--data-dir", str(cifar),
                              "--epochs", "1", "--train-per-class", "2", "--out-dir", str(tmp_path / "r20"),
                              "--no-progress"])
    assert args.func(args) == 0
    m = json.loads((tmp_path / "r20" / "metrics.json").read_text())
    assert m["finished"] and m["config"]["model"] == "resnet20" and m["config"]["data_dir"] == str(cifar)


def test_cli_modules_import_without_torch():
    import subprocess
    import sys

    code = ("import sys, rdtheory.vision.cli, rdtheory.codecs.cli; "
            "bad = [m for m in ('torch', 'compressai') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1],
                   env={**os.environ})
