"""CIFAR data as uint8 arrays: the offline JPEG zip, ImageFolder exports, the original python pickles.

Every source is decoded once into an :class:`ImageArrays` record — ``images`` (N, 32, 32, 3)
uint8 and integer ``labels`` — because CIFAR is small (150 MB for the 50,000 training
images) and decoding JPEG every epoch would dominate a CPU run. Batches are then cut from
the arrays with seeded permutations (:func:`iterate_batches`), normalised and augmented as
tensors (:func:`to_tensor`, :func:`augment`), which keeps training deterministic and
exactly resumable (the order of epoch ``e`` depends only on ``(seed, e)``).

Sources
-------
``"cifar10-jpeg"``
    The shipped CIFAR-10 JPEG q75 re-export: a zip (read in place, no extraction) or its
    extracted folder, layout ``cifar10-jpeg/{train,test}/<class>/<NNNN>.jpg``. Labels
    follow the sorted class-folder names, which is CIFAR-10's label order. Results made from
    it must say "CIFAR-10 (JPEG q75 re-export)" (:data:`JPEG_VARIANT`).
``"folder"``
    Any ImageFolder-style export ``<root>/{train,test}/<class>/*.{jpg,png}`` (e.g. a
    CIFAR-100 export), or a folder holding one such ``<root>``.
``"cifar10"``, ``"cifar100"``
    The original python pickles ``cifar-10-batches-py/`` / ``cifar-100-python/``
    (:mod:`rdtheory.vision.cifar_pickle`, read without executing code); torchvision's
    downloader fetches them only when ``download=True`` (``--download``).

Paths are resolved by :func:`rdtheory.vision.paths.find_data` (argument, environment
variables, user cache, the repository's ``../shared/data``). Missing data raises a
ValueError naming the places tried and how to get the data.
A decoded split can be cached as ``.npz`` in ``cache_dir`` (default: none for tests,
``.cache/rdtheory`` in the experiment scripts — git-ignored).

References
----------
.. [1] A. Krizhevsky, "Learning multiple layers of features from tiny images", technical
   report, University of Toronto, 2009 (CIFAR-10 and CIFAR-100).
.. [2] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-B.2: ρ on CIFAR).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

__all__ = [
    "ImageArrays", "JPEG_VARIANT", "CIFAR10_CLASSES", "SOURCES", "MEAN_STD",
    "load_cifar10_jpeg", "load_image_folder", "load_dataset",
    "make_fixture", "iterate_batches", "to_tensor", "augment", "stratified_indices",
]

JPEG_VARIANT = "CIFAR-10 (JPEG q75 re-export)"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SOURCES = ("cifar10-jpeg", "folder", "cifar10", "cifar100")
SPLITS = ("train", "test")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")

#: Per-channel (mean, std) for normalisation. ``"jpeg"``: measured on the JPEG re-export's
#: training split (data README); ``"imagenet"``: what the shipped pretrained CIFAR ResNets
#: (Idelbayev) were trained with; ``"cifar100"``: the usual CIFAR-100 values.
MEAN_STD = {
    "jpeg": ((0.4913, 0.4821, 0.4465), (0.2452, 0.2428, 0.2606)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "cifar100-chenyaofo": ((0.507, 0.4865, 0.4409), (0.2673, 0.2564, 0.2761)),  # the shipped CIFAR-100 ResNet-56
}


@dataclasses.dataclass(frozen=True)
class ImageArrays:
    """A decoded image split.

    Attributes
    ----------
    images : (N, H, W, 3) uint8 array
    labels : (N,) int64 array, values in ``range(len(classes))``
    classes : tuple of str, class names in label order
    name : str, human-readable provenance, e.g. ``"CIFAR-10 (JPEG q75 re-export) test"``
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple
    name: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def subset(self, indices, name: str | None = None) -> "ImageArrays":
        idx = np.asarray(indices, dtype=np.int64)
        return ImageArrays(self.images[idx], self.labels[idx], self.classes, name or f"{self.name} (subset {idx.size})")

    def stratified(self, n: int, seed: int = 0) -> "ImageArrays":
        """A class-stratified random subset of ``n`` images (equal share per class, sorted indices)."""
        return self.subset(stratified_indices(self.labels, n, seed=seed),
                           f"{self.name} (stratified subsample of {n}, seed {seed})")


def stratified_indices(labels, n: int, seed: int = 0) -> np.ndarray:
    """Indices of a class-stratified random subsample of size ``n`` (``n // C`` per class, rest spread).

    Raises ValueError if ``n`` exceeds the data or a class has too few samples.
    """
    labels = np.asarray(labels)
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer; got {n}")
    if n > labels.shape[0]:
        raise ValueError(f"n={n} exceeds the {labels.shape[0]} samples available; pass n <= {labels.shape[0]}")
    classes = np.unique(labels)
    rng = np.random.default_rng(seed)
    base, extra = divmod(int(n), classes.size)
    out = []
    for k, c in enumerate(classes):
        members = np.flatnonzero(labels == c)
        take = base + (1 if k < extra else 0)
        if take > members.size:
            raise ValueError(f"class {c} has {members.size} samples but the stratified subsample needs {take}; "
                             f"pass a smaller n")
        out.append(rng.choice(members, take, replace=False))
    return np.sort(np.concatenate(out))


# ----------------------------------------------------------------------------- decoding
def _decode(blob: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _stack(items: list[tuple[str, str, bytes]], split: str, name: str) -> ImageArrays:
    """items: (class, file name, bytes); labels follow sorted class names (ImageFolder order)."""
    if not items:
        raise ValueError(f"no images found for split {split!r} of {name}")
    classes = tuple(sorted({c for c, _, _ in items}))
    index = {c: k for k, c in enumerate(classes)}
    items.sort(key=lambda t: (index[t[0]], t[1]))
    imgs = [_decode(b) for _, _, b in items]
    shapes = {im.shape for im in imgs}
    if len(shapes) != 1:
        raise ValueError(f"images of {name} {split} have different shapes {sorted(shapes)}; resize them to one size")
    return ImageArrays(np.stack(imgs), np.array([index[c] for c, _, _ in items], dtype=np.int64), classes,
                       f"{name} {split}")


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    return split


def _cached(cache_dir, key: str, build) -> ImageArrays:
    if cache_dir is None:
        return build()
    path = Path(cache_dir) / f"{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return ImageArrays(z["images"], z["labels"], tuple(str(c) for c in z["classes"]), str(z["name"]))
    arr = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # per-process: concurrent jobs may build it
    with open(tmp, "wb") as fh:
        np.savez(fh, images=arr.images, labels=arr.labels, classes=np.array(arr.classes), name=np.array(arr.name))
    tmp.replace(path)
    return arr


def _file_key(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]


def load_cifar10_jpeg(path, split: str = "test", *, cache_dir=None) -> ImageArrays:
    """The CIFAR-10 JPEG q75 re-export, from its zip (read in place) or the extracted folder.

    Parameters
    ----------
    path : str or Path
        ``cifar10-jpeg.zip``, or a folder that contains ``cifar10-jpeg/{train,test}`` or
        ``{train,test}`` directly.
    split : {"train", "test"}
    cache_dir : path or None
        Where to keep the decoded split as ``.npz`` (keyed by the zip's path, size, mtime).

    Examples
    --------
    ``load_cifar10_jpeg("cifar10-jpeg.zip", "test")`` (found under the data root,
    :func:`rdtheory.vision.paths.find_data`) → 10,000 images, 1,000 per class.
    """
    from .paths import find_data

    _check_split(split)
    p = find_data(path, what="--data-dir (cifar10-jpeg.zip or its extracted folder)")
    if p.is_file():
        if not zipfile.is_zipfile(p):
            raise ValueError(f"data path {str(p)!r} is a file but not a zip; pass cifar10-jpeg.zip or its folder")

        def build():
            items = []
            with zipfile.ZipFile(p) as z:
                for info in z.infolist():
                    parts = info.filename.rstrip("/").split("/")
                    if info.is_dir() or not parts[-1].lower().endswith(_IMAGE_SUFFIXES):
                        continue
                    if len(parts) >= 3 and parts[-3] == split:
                        items.append((parts[-2], parts[-1], z.read(info)))
            if not items:
                raise ValueError(f"zip {str(p)!r} holds no images under */{split}/<class>/; expected the layout "
                                 f"cifar10-jpeg/{{train,test}}/<class>/<NNNN>.jpg")
            return _stack(items, split, JPEG_VARIANT)

        return _cached(cache_dir, f"cifar10jpeg-{split}-{_file_key(p)}", build)
    root = p / "cifar10-jpeg" if (p / "cifar10-jpeg").is_dir() else p
    arr = load_image_folder(root, split, name=JPEG_VARIANT, cache_dir=cache_dir)
    return arr


def load_image_folder(root, split: str = "test", *, name: str | None = None, cache_dir=None) -> ImageArrays:
    """An ImageFolder-style export ``<root>/<split>/<class>/*.{jpg,png}`` (labels: sorted class names).

    ``root`` may also be a folder whose only sub-folder is such a ``<root>`` (e.g. the parent
    of an extracted ``cifar10-jpeg/``).
    """
    from .paths import find_data

    _check_split(split)
    root = find_data(root, what="--data-dir (an ImageFolder export)")
    subs = [c for c in root.iterdir() if c.is_dir()] if root.is_dir() and not (root / split).is_dir() else []
    if len(subs) == 1 and (subs[0] / split).is_dir():
        root = subs[0]
    d = Path(root) / split
    if not d.is_dir():
        raise ValueError(f"expected the folder {str(d)!r} (layout <root>/{{train,test}}/<class>/*.jpg); pass "
                         f"--data-dir pointing to <root>")
    label = name or f"ImageFolder {Path(root).name}"

    def build():
        items = [(f.parent.name, f.name, f.read_bytes()) for f in sorted(d.glob("*/*"))
                 if f.suffix.lower() in _IMAGE_SUFFIXES]
        return _stack(items, split, label)

    key = hashlib.sha256(str(d.resolve()).encode()).hexdigest()[:12]
    return _cached(cache_dir, f"folder-{split}-{key}", build)


def load_dataset(source: str, data_dir=None, split: str = "test", *, cache_dir=None,
                 download: bool = False) -> ImageArrays:
    """Dispatch on ``source`` in :data:`SOURCES` (see the module docstring).

    ``data_dir``: a path or a name under the data root, resolved by
    :func:`rdtheory.vision.paths.find_data` (``None``: the source's default name,
    :data:`rdtheory.vision.config.DEFAULT_DATA`). ``download=True`` (``--download``) lets
    ``cifar10``/``cifar100`` fetch the python pickles with torchvision into the user cache
    (``~/.cache/rdtheory``) when they are found nowhere; nothing is downloaded otherwise.
    """
    from .config import DEFAULT_DATA
    from .paths import find_data, user_cache_dir

    if source not in SOURCES:
        raise ValueError(f"dataset source must be one of {SOURCES}; got {source!r}")
    if data_dir is None:
        if source not in DEFAULT_DATA:
            raise ValueError(f"dataset {source!r} has no default location; pass data_dir (--data-dir)")
        data_dir = DEFAULT_DATA[source]
    if source in ("cifar10", "cifar100"):
        from .cifar_pickle import download_cifar, load_cifar_python

        try:
            root = find_data(data_dir, what="--data-dir")
        except ValueError:
            if not download:
                raise
            root = download_cifar(source, user_cache_dir())
        return load_cifar_python(source, root, split)
    if source == "cifar10-jpeg":
        return load_cifar10_jpeg(data_dir, split, cache_dir=cache_dir)
    return load_image_folder(data_dir, split, cache_dir=cache_dir)


# ----------------------------------------------------------------------------- fixture
def make_fixture(root, *, n_classes: int = 4, n_train: int = 8, n_test: int = 4, size: int = 32,
                 as_zip: bool = True, seed: int = 0) -> Path:
    """Write a tiny CIFAR-like JPEG dataset for tests, in the shipped zip's layout.

    Class k has a distinct mean colour and stripe frequency plus noise, so a model can
    learn it and rho is well above 0. Returns the zip path (``as_zip``) or the folder that
    holds ``cifar10-jpeg/{train,test}``.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = Path(root)
    names = CIFAR10_CLASSES[:n_classes] if n_classes <= 10 else tuple(f"class{k:03d}" for k in range(n_classes))
    files = {}
    yy = np.arange(size)[:, None, None]
    for split, n in (("train", n_train), ("test", n_test)):
        for k, cname in enumerate(names):
            colour = np.array([(37 * k) % 256, (91 * k + 60) % 256, (53 * k + 120) % 256], dtype=float)
            stripes = 40 * np.sin(2 * np.pi * (k + 1) * yy / size)
            for t in range(n):
                img = np.clip(colour + stripes + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, format="JPEG", quality=75)
                files[f"cifar10-jpeg/{split}/{cname}/{t:04d}.jpg"] = buf.getvalue()
    if as_zip:
        root.mkdir(parents=True, exist_ok=True)
        path = root / "fixture.zip"
        with zipfile.ZipFile(path, "w") as z:
            for rel, blob in files.items():
                z.writestr(rel, blob)
        return path
    for rel, blob in files.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(blob)
    return root


# ----------------------------------------------------------------------------- batches
def iterate_batches(n: int, batch_size: int, *, shuffle: bool = False, seed: int = 0, epoch: int = 0,
                    rank: int = 0, world_size: int = 1, drop_last: bool = False) -> Iterator[np.ndarray]:
    """Index batches over ``range(n)``; the permutation depends only on ``(seed, epoch)``.

    With ``world_size > 1`` each rank gets every ``world_size``-th index of the same
    permutation (padded by wrapping so all ranks do the same number of steps, like
    DistributedSampler).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    if world_size > 1:
        per = -(-n // world_size)
        order = np.resize(order, per * world_size)[rank::world_size]
    stop = len(order) - (len(order) % batch_size if drop_last else 0)
    for s in range(0, stop, batch_size):
        yield order[s:s + batch_size]


def to_tensor(images: np.ndarray, mean_std: str | Sequence = "jpeg", device=None):
    """uint8 (B, H, W, 3) → normalised float32 torch tensor (B, 3, H, W) on ``device``."""
    import torch

    mean, std = MEAN_STD[mean_std] if isinstance(mean_std, str) else mean_std
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device=device)
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


def augment(x, generator, *, pad: int = 4):
    """Standard CIFAR augmentation on a batch: random crop with ``pad`` zero padding + horizontal flip.

    ``generator`` is a seeded ``torch.Generator`` (on CPU) so training is reproducible.
    """
    import torch
    import torch.nn.functional as F

    b, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).tolist()
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).tolist()
    flip = torch.rand(b, generator=generator).lt(0.5).tolist()
    out = torch.empty_like(x)
    for i in range(b):
        crop = xp[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out
