"""Where the data and pretrained weights are: one resolution order, and portable recorded paths.

No torch import here: the command-line parsers use it for their help text.

Resolution (:func:`find_data`)
------------------------------
A path that a caller gives explicitly — absolute, or relative and existing from the current
directory — is used as is (and an absolute one that does not exist is an error). Any other
relative path, e.g. the library defaults ``"cifar10-jpeg.zip"`` or
``"cifar10-resnet-weights/resnet20-12fca82f.th"``, is a name under a *data root*, looked up in
this order:

1. the variable of its first component, when set: ``RDTHEORY_CIFAR10_JPEG`` (the CIFAR-10
   JPEG zip itself) or ``RDTHEORY_CIFAR_WEIGHTS`` (the ``cifar10-resnet-weights`` folder);
2. ``$RDTHEORY_DATA/<name>``;
3. the user cache ``$XDG_CACHE_HOME/rdtheory/<name>`` (default ``~/.cache/rdtheory``), where
   ``--download`` puts what it fetches;
4. ``<repository>/../shared/data/<name>``, found from this package's location (not the
   current directory), for a development checkout next to a shared data folder.

A name found nowhere raises a ``ValueError`` that lists the places tried and how to get the
data (:data:`HOW_TO_GET`).

Recorded paths (:func:`portable_path`)
--------------------------------------
``result.json``, ``metrics.json`` and checkpoints record paths relative to the repository
(``experiments/checkpoints/...``) or to the data root they were found in
(``cifar10-jpeg.zip``), never this machine's absolute paths; :func:`find_data` and
:func:`repo_path` resolve them again elsewhere.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VARS", "HOW_TO_GET", "REPO_ROOT", "data_roots", "find_data", "portable_path", "repo_path",
           "user_cache_dir"]

#: The repository checkout that holds this package (``rdtheory/vision/paths.py`` → 2 levels up).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Environment variables that point at one top-level data entry (file or folder) directly.
ENV_VARS = {"cifar10-jpeg.zip": "RDTHEORY_CIFAR10_JPEG", "cifar10-resnet-weights": "RDTHEORY_CIFAR_WEIGHTS"}

HOW_TO_GET = (
    "Put the data in one data root and point RDTHEORY_DATA at it (or pass the path): "
    "(a) the standard CIFAR python pickles cifar-10-batches-py/ (data_batch_1..5, test_batch) and "
    "cifar-100-python/ (train, test) from https://www.cs.toronto.edu/~kriz/cifar.html — use --dataset cifar10 / "
    "cifar100, or add --download to fetch them with torchvision into ~/.cache/rdtheory (never done by default); "
    "(b) a CIFAR-10 JPEG export cifar10-jpeg.zip or a folder <root>/{train,test}/<class>/*.jpg (--dataset "
    "cifar10-jpeg / folder); (c) the pretrained CIFAR-10 ResNet-20/56 weights resnet20-12fca82f.th and "
    "resnet56-4bfd9763.th in cifar10-resnet-weights/, from https://github.com/akamaster/pytorch_resnet_cifar10 "
    "(pretrained_models/, BSD-2-Clause), and the CIFAR-100 ResNet-56 cifar100_resnet56-f2eff4c8.pt in "
    "cifar100-resnet-weights/, from https://github.com/chenyaofo/pytorch-cifar-models (releases, BSD-3-Clause). "
    "See docs/vision.md (Data).")


def user_cache_dir() -> Path:
    """The user cache root, :func:`rdtheory._io.cache_root` (``$RDTHEORY_CACHE``, else
    ``$XDG_CACHE_HOME/rdtheory``, else ``~/.cache/rdtheory``)."""
    from .._io import cache_root

    return cache_root()


def data_roots() -> list[Path]:
    """The data roots in lookup order: ``$RDTHEORY_DATA``, the user cache, ``<repo>/../shared/data``."""
    roots = []
    if os.environ.get("RDTHEORY_DATA"):
        roots.append(Path(os.environ["RDTHEORY_DATA"]).expanduser())
    roots += [user_cache_dir(), REPO_ROOT.parent / "shared" / "data"]
    return roots


def _candidates(name: Path) -> list[Path]:
    out = []
    env = ENV_VARS.get(name.parts[0]) if name.parts else None
    if env and os.environ.get(env):
        out.append(Path(os.environ[env]).expanduser().joinpath(*name.parts[1:]))
    return out + [root / name for root in data_roots()]


def find_data(path, *, what: str = "data") -> Path:
    """Resolve a data path (see the module docstring for the order); raise ``ValueError`` if absent.

    Parameters
    ----------
    path : str or Path
        Absolute, relative to the current directory, or a name under a data root
        (``"cifar10-jpeg.zip"``, ``"cifar-10-batches-py"``, ``"cifar10-resnet-weights/resnet20-12fca82f.th"``).
    what : str
        Words for the error message, e.g. ``"--data-dir"`` or ``"weights"``.

    Examples
    --------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp(); open(os.path.join(root, "x.zip"), "wb").close()
    >>> os.environ["RDTHEORY_DATA"] = root
    >>> find_data("x.zip").name
    'x.zip'
    >>> del os.environ["RDTHEORY_DATA"]
    """
    if path is None or str(path) == "":
        raise ValueError(f"{what} is empty; pass a path or a name under the data root. {HOW_TO_GET}")
    p = Path(path).expanduser()
    if p.is_absolute():
        if p.exists():
            return p
        raise ValueError(f"{what} {str(p)!r} not found: it does not exist. {HOW_TO_GET}")
    if p.exists():
        return p
    tried = _candidates(p)
    for c in tried:
        if c.exists():
            return c
    raise ValueError(f"{what} {str(p)!r} not found from the current directory nor under the data roots "
                     f"{[str(c) for c in tried]}. {HOW_TO_GET}")


def repo_path(path) -> Path:
    """A recorded path (``init_from``, ``out_dir``): as given if it exists or is absolute, else from the repo root."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists() or not (REPO_ROOT / p).exists():
        return p
    return REPO_ROOT / p


def portable_path(path) -> str | None:
    """``path`` as it should be recorded: relative to the repository if inside it, else relative to the
    data root (or the ``ENV_VARS`` entry) that holds it, else unchanged. ``None`` and ``""`` stay.

    Examples
    --------
    >>> portable_path(REPO_ROOT / "experiments" / "checkpoints" / "run")
    'experiments/checkpoints/run'
    >>> portable_path("cifar10-jpeg.zip")
    'cifar10-jpeg.zip'
    """
    if path is None or str(path) == "":  # unset fields (the toy task has no data files) stay as they are
        return path
    p = Path(path).expanduser()
    if not p.is_absolute():
        return p.as_posix()
    p = Path(os.path.normpath(p))
    anchors = [(REPO_ROOT, Path())]
    for name, env in ENV_VARS.items():
        if os.environ.get(env):
            anchors.append((Path(os.path.normpath(Path(os.environ[env]).expanduser())), Path(name)))
    anchors += [(Path(os.path.normpath(r)), Path()) for r in data_roots()]
    for anchor, prefix in anchors:
        for a in {anchor, anchor.resolve()}:
            if p == a or a in p.parents:
                return (prefix / p.relative_to(a)).as_posix()
    return p.as_posix()
