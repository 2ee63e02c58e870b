"""The standard CIFAR-10 / CIFAR-100 python-pickle layouts: reader, test-fixture writer, opt-in download.

Layouts (as distributed at https://www.cs.toronto.edu/~kriz/cifar.html and read by
torchvision's ``CIFAR10``/``CIFAR100``):

* ``cifar-10-batches-py/``: ``data_batch_1`` … ``data_batch_5`` (training, 10,000 images
  each) and ``test_batch``; each a pickled dict with ``data`` (N, 3072) uint8 — the 1024 red,
  then green, then blue values of a 32×32 image in row-major order — and ``labels`` (N ints);
  ``batches.meta`` holds ``label_names``.
* ``cifar-100-python/``: ``train`` and ``test``, dicts with ``data``, ``fine_labels`` (100
  classes) and ``coarse_labels`` (20 superclasses); ``meta`` holds ``fine_label_names`` and
  ``coarse_label_names``.

The files are Python-2 pickles. They are read with a *restricted* unpickler that rebuilds
only dicts, lists, strings, numbers and numpy arrays (it refuses any other global, so a
tampered file cannot run code), with ``encoding="latin1"`` as torchvision does.

References
----------
.. [1] A. Krizhevsky, "Learning multiple layers of features from tiny images", technical
   report, University of Toronto, 2009.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

__all__ = ["FOLDERS", "load_cifar_python", "make_cifar_python_fixture", "download_cifar"]

#: Folder name of each dataset's python version.
FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_FILES = {("cifar10", "train"): tuple(f"data_batch_{i}" for i in range(1, 6)), ("cifar10", "test"): ("test_batch",),
          ("cifar100", "train"): ("train",), ("cifar100", "test"): ("test",)}
_META = {"cifar10": ("batches.meta", "label_names"), "cifar100": ("meta", "fine_label_names")}
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch file")


def _read(path: Path) -> dict:
    with open(path, "rb") as fh:
        try:
            obj = _SafeUnpickler(fh, encoding="latin1").load()
        except pickle.UnpicklingError as err:
            raise ValueError(f"{str(path)!r} is not a plain CIFAR batch pickle ({err}); refusing to load it") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{str(path)!r} holds a {type(obj).__name__}, not the dict of a CIFAR batch")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _folder(name: str, root) -> Path:
    """``root`` may be the dataset folder itself or its parent."""
    root = Path(root)
    return root if root.name == FOLDERS[name] or not (root / FOLDERS[name]).is_dir() else root / FOLDERS[name]


def load_cifar_python(name: str, root, split: str = "test", *, label: str = "fine"):
    """CIFAR-10/100 from the python pickles as an :class:`~rdtheory.vision.data.ImageArrays`.

    Parameters
    ----------
    name : {"cifar10", "cifar100"}
    root : path
        ``cifar-10-batches-py`` / ``cifar-100-python``, or the folder that holds it.
    split : {"train", "test"}
    label : {"fine", "coarse"}
        CIFAR-100 only: the 100 fine classes or the 20 superclasses.

    Images come back (N, 32, 32, 3) uint8 in the files' order; labels int64.
    """
    from .data import ImageArrays, _check_split

    _check_split(split)
    if name not in FOLDERS:
        raise ValueError(f"name must be 'cifar10' or 'cifar100'; got {name!r}")
    if label not in ("fine", "coarse") or (label == "coarse" and name == "cifar10"):
        raise ValueError(f"label must be 'fine' (or 'coarse' for cifar100); got {label!r}")
    folder = _folder(name, root)
    files = [folder / f for f in _FILES[(name, split)]]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        from .paths import HOW_TO_GET

        raise ValueError(f"{name} {split} split not found: missing {missing} (the standard python pickles "
                         f"{FOLDERS[name]}/). {HOW_TO_GET}")
    key = "labels" if name == "cifar10" else f"{label}_labels"
    images, labels = [], []
    for f in files:
        d = _read(f)
        if "data" not in d or key not in d:
            raise ValueError(f"{str(f)!r} lacks 'data' or {key!r} (keys: {sorted(d)}); is it a {name} batch file?")
        data = np.asarray(d["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072:
            raise ValueError(f"{str(f)!r}: 'data' has shape {data.shape}, expected (N, 3072) = 3 × 32 × 32 values")
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(d[key], dtype=np.int64))
    meta_file, meta_key = _META[name]
    if label == "coarse":
        meta_key = "coarse_label_names"
    classes = None
    if (folder / meta_file).is_file():
        classes = tuple(str(c) for c in _read(folder / meta_file).get(meta_key, ()))
    y = np.concatenate(labels)
    if not classes:
        classes = tuple(str(k) for k in range(int(y.max()) + 1))
    title = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}[name]
    return ImageArrays(np.ascontiguousarray(np.concatenate(images)), y, classes, f"{title} (original) {split}")


def make_cifar_python_fixture(root, name: str = "cifar10", *, n_per_file: int = 6, seed: int = 0) -> Path:
    """Write a tiny dataset in the exact python-pickle layout and field names (protocol 2, as the
    originals) under ``root``; returns the dataset folder. Small random images; labels cycle over
    the classes (10 for CIFAR-10; 100 fine / 20 coarse for CIFAR-100, coarse = fine // 5)."""
    if name not in FOLDERS:
        raise ValueError(f"name must be 'cifar10' or 'cifar100'; got {name!r}")
    rng = np.random.default_rng(seed)
    folder = Path(root) / FOLDERS[name]
    folder.mkdir(parents=True, exist_ok=True)
    n_classes = 10 if name == "cifar10" else 100
    start = 0
    for split in ("train", "test"):
        for fname in _FILES[(name, split)]:
            fine = [(start + i) % n_classes for i in range(n_per_file)]
            start += n_per_file
            d = {"batch_label": f"{fname} of fixture", "data": rng.integers(0, 256, (n_per_file, 3072), dtype=np.uint8),
                 "filenames": [f"img_{fname}_{i}.png" for i in range(n_per_file)]}
            if name == "cifar10":
                d["labels"] = fine
            else:
                d.update(fine_labels=fine, coarse_labels=[c // 5 for c in fine])
            with open(folder / fname, "wb") as fh:
                pickle.dump(d, fh, protocol=2)
    meta = ({"label_names": [f"class{k}" for k in range(10)], "num_cases_per_batch": n_per_file}
            if name == "cifar10" else {"fine_label_names": [f"fine{k}" for k in range(100)],
                                       "coarse_label_names": [f"coarse{k}" for k in range(20)]})
    with open(folder / _META[name][0], "wb") as fh:
        pickle.dump(meta, fh, protocol=2)
    return folder


def download_cifar(name: str, root) -> Path:
    """Fetch the python version of CIFAR-10/100 with torchvision's downloader (checksummed) into
    ``root``; only ever called when a user passes ``--download`` / ``download=True``."""
    if name not in FOLDERS:
        raise ValueError(f"name must be 'cifar10' or 'cifar100'; got {name!r}")
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    Path(root).mkdir(parents=True, exist_ok=True)
    for train in (True, False):
        cls(root=str(root), train=train, download=True)
    return Path(root) / FOLDERS[name]
