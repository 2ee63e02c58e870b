r"""Per-layer ρ sufficient statistics, cached on disk under a key of (weights, data, protocol).

Table I (Sec. III-B.2) needs one pass of every model over a whole split (50,000 training
images); on a CPU that is minutes to an hour per model, too long for ``make check``. For MSE
with the class-mean centroid, ρ and its grouped-jackknife interval depend on the data only
through, per (group g, class c), the count :math:`n_{gc}`, the mean :math:`\bar x_{gc}` (F
floats) and :math:`M_{2,gc} = \sum \|x - \bar x_{gc}\|^2`
(:mod:`rdtheory.appropriateness.bias`). Those statistics — G·C·(F + 2) float64s per layer,
independent of the number of images — are what this module stores, one ``.npz`` per
(model, split, protocol), so that every estimate (plug-in, bias-corrected, either interval)
is recomputed from them in milliseconds.

Cache key (:func:`statistics_key`): the SHA-256 of the weights file's *content* (any change
to a checkpoint gives a new key), the SHA-256 of the data file(s), the split, the layers, the
normalisation the model expects, the number of groups, the seed of the group assignment,
an optional stratified subset size, and :data:`PROTOCOL_VERSION` (bumped whenever the
computation changes). A missing or unreadable entry is recomputed and written atomically;
nothing is ever read under a stale key. The cache lives in the user cache folder
(:func:`rdtheory._io.cache_dir`, ``~/.cache/rdtheory/rho_statistics``), never in the
repository.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-A, Eqs. 13-18; Sec. III-B.2, Table I).
.. [2] M. H. Quenouille, "Notes on bias in estimation", Biometrika 43:353-360, 1956 (the
   jackknife correction behind the bias-corrected point).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .._io import atomic_write_bytes, cache_dir

__all__ = ["PROTOCOL_VERSION", "LayerStatistics", "file_sha256", "statistics_key", "cached_statistics", "is_cached",
           "compute_statistics", "layer_rho"]

#: Bump when the computation of the statistics changes (invalidates every cached entry).
PROTOCOL_VERSION = 1
#: Default cache folder (user cache, not the repository).
CACHE = "rho_statistics"


@dataclasses.dataclass(frozen=True)
class LayerStatistics:
    """Sufficient statistics of one layer on one split: ``counts`` (G, C), ``means`` (G, C, F), ``m2`` (G, C)."""

    layer: str
    counts: np.ndarray
    means: np.ndarray
    m2: np.ndarray
    shape: tuple

    @property
    def n(self) -> int:
        return int(self.counts.sum())


def file_sha256(path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (the checkpoint / data identity in the cache key)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"cannot hash {str(p)!r}: not a file; pass the weights or data file itself")
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def statistics_key(*, weights: str, data: str, split: str, layers: Sequence[str], mean_std, n_groups: int = 20,
                   seed: int = 0, subset: int | None = None) -> str:
    """24-hex key of one cache entry. ``weights``/``data``: content hashes (``"none"`` for the input row)."""
    if not weights or not data:
        raise ValueError("weights and data must be non-empty content hashes (use 'none' for a model-free input row)")
    spec = {"version": PROTOCOL_VERSION, "weights": weights, "data": data, "split": split, "layers": list(layers),
            "mean_std": mean_std if isinstance(mean_std, str) else [list(map(float, v)) for v in mean_std],
            "n_groups": int(n_groups), "seed": int(seed), "subset": subset}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:24]


def compute_statistics(model, data, layers: Sequence[str], *, mean_std="jpeg", n_groups: int = 20, seed: int = 0,
                       batch_size: int = 250, progress: bool = False) -> tuple[dict[str, LayerStatistics], dict]:
    """Stream ``data`` once through ``model`` (None: input pixels only); per-layer statistics and run info.

    Run info: ``correct`` top-1 predictions, ``n`` images, ``seconds``, ``data`` (the split's name).
    """
    from .taps import stream_layers

    t0 = time.time()
    accs, correct = stream_layers(model, data, layers, mean_std=mean_std, batch_size=batch_size, n_groups=n_groups,
                                  seed=seed, progress=progress)
    out = {}
    for name, g in accs.items():
        n, mu, m2, _ = g.statistics()
        out[name] = LayerStatistics(name, np.asarray(n), np.asarray(mu), np.asarray(m2), tuple(g.feature_shape))
    return out, {"correct": int(correct), "n": len(data), "seconds": time.time() - t0, "data": data.name}


def _save(path: Path, stats: dict[str, LayerStatistics], info: dict) -> None:
    arrays = {}
    for k, (name, s) in enumerate(stats.items()):
        arrays.update({f"counts{k}": s.counts, f"means{k}": s.means, f"m2{k}": s.m2})
    meta = {"info": info, "layers": [[name, list(s.shape)] for name, s in stats.items()]}
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _load(path: Path) -> tuple[dict[str, LayerStatistics], dict]:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        stats = {name: LayerStatistics(name, z[f"counts{k}"], z[f"means{k}"], z[f"m2{k}"], tuple(shape))
                 for k, (name, shape) in enumerate(meta["layers"])}
    return stats, meta["info"]


def _entry(key: str, folder=None) -> Path:
    if not key or any(c not in "0123456789abcdef" for c in key):
        raise ValueError(f"key must be a hex string from statistics_key(...); got {key!r}")
    return (Path(folder) if folder is not None else cache_dir(CACHE)) / f"{key}.npz"


def is_cached(key: str, *, folder=None) -> bool:
    """Whether the entry ``key`` exists (it may still be recomputed if unreadable)."""
    return _entry(key, folder).exists()


def cached_statistics(key: str, compute: Callable[[], tuple[dict, dict]], *, folder=None,
                      log: Callable[[str], None] = lambda _m: None) -> tuple[dict[str, LayerStatistics], dict]:
    """The entry ``key`` from the cache folder, or ``compute()`` (then stored atomically).

    Returns ``(stats, info)``; ``info["cached"]`` says whether it was read from the cache.
    An unreadable entry (truncated, other format) is recomputed and overwritten.
    """
    path = _entry(key, folder)
    if path.exists():
        try:
            stats, info = _load(path)
            return stats, {**info, "cached": True}
        except (OSError, ValueError, KeyError) as err:
            log(f"cache entry {path} unreadable ({err}); recomputing")
    stats, info = compute()
    _save(path, stats, info)
    return stats, {**info, "cached": False}


def layer_rho(s: LayerStatistics, confidence: float = 0.95) -> dict:
    """Both estimators of ρ from one layer's statistics, each with its grouped-jackknife interval.

    ``rho``/``low``/``high``: the bias-corrected point (unbiased moments + Quenouille's
    correction) and its interval, which always contains it; ``rho_plain``/``plain_low``/
    ``plain_high``: the paper's plug-in definition (Eq. 18 with sample moments) and its
    jackknife t-interval (docs/appropriateness.md, §5).
    """
    from ..appropriateness import grouped_interval, pool_groups, rho_from_statistics

    bc = grouped_interval(s.counts, s.means, s.m2, confidence=confidence, bias_correction=True)
    pl = grouped_interval(s.counts, s.means, s.m2, confidence=confidence, bias_correction=False)
    n, mean, m2 = pool_groups(s.counts, s.means, s.m2)
    plain = rho_from_statistics(n, mean, m2).rho
    return {"layer": s.layer, "rho": bc.estimate, "low": bc.low, "high": bc.high, "se": bc.standard_error,
            "rho_plain": plain, "plain_low": pl.low, "plain_high": pl.high, "n_images": s.n,
            "n_features": int(np.prod(s.shape)), "n_groups": int(s.counts.shape[0])}
