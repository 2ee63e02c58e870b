r"""Feature taps by module name, streaming into the task-appropriateness accumulator.

:class:`LayerTaps` registers forward hooks on named modules (the names of
``model.named_modules()``, e.g. ``"features.19"``, ``"layer3"``, ``"layer2.4"``) plus the
pseudo-layer ``"input"`` (the pixels scaled to [0, 1], the same for every model, so the
"Input" row of Table I does not depend on a model's normalisation). Each hooked output is
handed to a callback batch by batch and then dropped: no layer's features are ever held in
full.

:class:`GroupedRho` is the streaming ρ (Eqs. 13–18, MSE with the mean centroid) of one
layer, with a *group bootstrap* (basic, bias-aware) interval. It feeds :class:`rdtheory.appropriateness.
TaskAppropriatenessAccumulator` (public API only) with composite labels
``label * G + group``, where each sample's group in ``0..G-1`` is a seeded hash of its
index in the dataset (so it does not depend on the batch order or on the number of
workers). From the per-(class, group) counts :math:`n_{gc}`, means :math:`\mu_{gc}` and
:math:`M_{2,gc}` it pools exactly the per-class statistics of all the data — ``result()``
equals ``task_appropriateness`` on the concatenated features (tested to 1e-10) — and a
bootstrap replicate resamples the G groups with replacement (multiplicities
:math:`w_g`), which is the pooled statistic of the data with each group's samples repeated
:math:`w_g` times. All replicates are computed from the Gram matrix of the centred group
means (:math:`GC\times GC`), so 1,000 replicates cost no more than one pass over the
(class, group) means. It is a cluster bootstrap with G random clusters of iid samples, so
with G = 20 the interval is approximate. The plug-in ρ is biased up (D^(i,j) by about
tr Σ_i/n_i + tr Σ_j/n_j), and the replicates by about as much again, so the *basic*
interval 2ρ̂ − q is reported (a percentile interval sat above the estimate on 500 images).

:func:`rho_profile` runs a model over an :class:`~rdtheory.vision.data.ImageArrays` split
once and returns ρ with its interval for every requested layer, plus the model's top-1
accuracy from the same pass.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-A, Eqs. 13-18: task-appropriateness rho;
   Sec. III-B.2, Table I: rho per layer).
.. [2] P. J. Rousseeuw, "Silhouettes: a graphical aid to the interpretation and validation of
   cluster analysis", J. Comput. Appl. Math. 20:53-65, 1987 (the silhouette that rho resembles).
.. [3] A. C. Davison and D. V. Hinkley, "Bootstrap Methods and their Application", Cambridge
   University Press, 1997 (the basic bootstrap interval; resampling clusters).
.. [4] G. L. Steele Jr., D. Lea and C. H. Flood, "Fast splittable pseudorandom number
   generators", Proc. OOPSLA, 2014 (SplitMix64 and its 64-bit finaliser).
"""
from __future__ import annotations

import dataclasses
import difflib
import time
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..appropriateness import (RhoInterval, TaskAppropriateness, TaskAppropriatenessAccumulator, grouped_interval,
                              rho_from_moments)
from .data import ImageArrays, iterate_batches, to_tensor

__all__ = ["INPUT", "balanced_groups", "hash_groups", "resolve_layers", "LayerTaps", "GroupedRho", "LayerRho", "Profile", "rho_profile",
           "stream_layers", "collect_features"]

INPUT = "input"


def resolve_layers(model: nn.Module, layers: Sequence[str]) -> dict[str, nn.Module | None]:
    """Map layer names to modules (``"input"`` → None); unknown names raise a ValueError with suggestions."""
    if isinstance(layers, str):
        layers = [layers]
    if not layers:
        raise ValueError("layers is empty; pass module names such as ['input', 'features.19'] or ['layer2']")
    mods = dict(model.named_modules())
    out: dict[str, nn.Module | None] = {}
    for name in layers:
        if name in out:
            raise ValueError(f"layer {name!r} listed twice in layers; pass each name once")
        if name == INPUT:
            out[name] = None
        elif name in mods and name != "":
            out[name] = mods[name]
        else:
            close = difflib.get_close_matches(str(name), [m for m in mods if m], n=5)
            top = [m for m in mods if m and "." not in m]
            raise ValueError(f"unknown layer name {name!r} for {type(model).__name__}: pass 'input' or a name from "
                             f"model.named_modules(){f'; did you mean {close}' if close else ''} (top-level: {top})")
    return out


class LayerTaps:
    """Context manager: forward hooks that call ``callback(name, output)`` for each named layer.

    ``"input"`` is called by :meth:`feed_input` (the caller passes the [0, 1] pixels).
    Hooks are removed on exit. Outputs are detached; a callback must copy what it keeps.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str], callback: Callable[[str, torch.Tensor], None]):
        self.model = model
        self.modules = resolve_layers(model, layers)
        self.callback = callback
        self._handles: list = []

    def __enter__(self) -> "LayerTaps":
        for name, mod in self.modules.items():
            if mod is not None:
                self._handles.append(mod.register_forward_hook(self._hook(name)))
        return self

    def _hook(self, name: str):
        def fn(_module, _inputs, output):
            if isinstance(output, (tuple, list)):
                output = output[0]
            self.callback(name, output.detach())
        return fn

    def feed_input(self, pixels: torch.Tensor) -> None:
        if INPUT in self.modules:
            self.callback(INPUT, pixels)

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


def balanced_groups(labels, n_groups: int, seed: int = 0) -> np.ndarray:
    """Group of each sample: within each class a seeded permutation dealt round-robin into ``n_groups``.

    Every (class, group) cell gets ``n_c // G`` or ``n_c // G + 1`` samples, so cells are never
    empty when each class has at least 2G samples.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, n_groups])
    out = np.empty(labels.shape[0], dtype=np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        out[rng.permutation(members)] = np.arange(members.size) % n_groups
    return out


def hash_groups(ids, n_groups: int, seed: int = 0) -> np.ndarray:
    """Seeded hash of sample indices → group in 0..n_groups-1 (SplitMix64 finaliser).

    The 64-bit finaliser of SplitMix64, Steele et al. [4]_.

    For streams whose size is not known in advance (e.g. one shard per DDP rank): depends
    only on the sample's index, not on the batch order or the number of workers.
    """
    with np.errstate(over="ignore"):  # wrap-around uint64 arithmetic is the point of the hash
        z = np.asarray(ids, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15) * np.uint64(seed + 1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(n_groups)).astype(np.int64)


class GroupedRho:
    r"""Streaming MSE ρ of one layer with a group-bootstrap interval (see the module docstring).

    Eqs. 13-18 of Harell et al. [1]_; the basic bootstrap interval over resampled clusters of
    Davison & Hinkley [3]_.

    Parameters
    ----------
    n_groups : int
        G >= 2 random sample groups (default 20). Every (class, group) cell needs at least 2
        samples, so use fewer groups for tiny data.
    seed : int
        Kept for the record (groups are assigned by the caller, see :meth:`update`).

    Notes
    -----
    Memory: G · C · (F + 2) float64s (e.g. 20 × 10 × 16,384 features = 26 MB), whatever N.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(400, 3)) + np.repeat([[0, 0, 0], [3, 0, 0]], 200, 0), np.repeat([0, 1], 200)
    >>> grp = balanced_groups(y, 4)
    >>> g = GroupedRho(n_groups=4).update(x[:150], y[:150], grp[:150]).update(x[150:], y[150:], grp[150:])
    >>> from rdtheory.appropriateness import task_appropriateness
    >>> bool(np.isclose(g.result().rho, task_appropriateness(x, y).rho, rtol=1e-10))
    True
    """

    def __init__(self, n_groups: int = 20, seed: int = 0):
        if int(n_groups) != n_groups or n_groups < 2:
            raise ValueError(f"n_groups must be an integer >= 2 (e.g. 20); got {n_groups}")
        self.n_groups = int(n_groups)
        self.seed = int(seed)
        self._acc = TaskAppropriatenessAccumulator()
        self.feature_shape: tuple[int, ...] | None = None
        self._stats = None

    @property
    def n_samples(self) -> int:
        return self._acc.n_samples

    def update(self, features, labels, groups) -> "GroupedRho":
        """Add a batch: ``features`` (B, ...) torch/numpy, integer ``labels`` (B,), ``groups`` (B,) in 0..G-1.

        ``groups`` come from :func:`balanced_groups` (data known in advance) or
        :func:`hash_groups` (a stream of sample indices).
        """
        lab = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)
        grp = np.asarray(groups)
        if lab.ndim != 1 or grp.shape != lab.shape:
            raise ValueError(f"labels and groups must be 1-D of the same length; got {lab.shape} and {grp.shape}")
        if grp.size and (grp.dtype.kind not in "iu" or grp.min() < 0 or grp.max() >= self.n_groups):
            raise ValueError(f"groups must be integers in [0, {self.n_groups}); use balanced_groups or hash_groups")
        if lab.size and (lab.dtype.kind not in "iu" or lab.min() < 0):
            raise ValueError("labels must be non-negative integers (class indices)")
        if hasattr(features, "detach"):
            features = features.detach().to("cpu", torch.float64)
        if self.feature_shape is None:
            self.feature_shape = tuple(features.shape[1:])
        self._acc.update(features, lab.astype(np.int64) * self.n_groups + grp)
        self._stats = None
        return self

    def _cells(self):
        """n (G, C), mu (G, C, F), m2 (G, C) and the class labels, from the accumulator's public result."""
        if self._stats is not None:
            return self._stats
        try:
            r = self._acc.result()
        except ValueError as err:
            raise ValueError(f"every (class, group) cell needs >= 2 samples; with {self.n_samples} samples use "
                             f"fewer groups than n_groups={self.n_groups} ({err})") from None
        comp = np.asarray(r.classes, dtype=np.int64)
        cls, grp = np.divmod(comp, self.n_groups)
        classes = np.unique(cls)
        ci = np.searchsorted(classes, cls)
        g, c, f = self.n_groups, classes.size, r.centroids.shape[1]
        n = np.zeros((g, c))
        mu = np.zeros((g, c, f))
        m2 = np.zeros((g, c))
        n[grp, ci] = r.counts
        mu[grp, ci] = r.centroids
        m2[grp, ci] = np.asarray(r.intra) * np.asarray(r.counts)
        if np.any(n.sum(axis=0) < 2):
            raise ValueError(f"class(es) {classes[n.sum(axis=0) < 2].tolist()} have fewer than 2 samples")
        self._stats = (n, mu, m2, classes)
        return self._stats

    def statistics(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(n (G, C), means (G, C, F), M2 (G, C), classes (C,))``: the sufficient statistics per (group, class)
        (read-only views), e.g. to cache them or to call :func:`rdtheory.appropriateness.grouped_interval`."""
        return self._cells()

    def result(self) -> TaskAppropriateness:
        """ρ of everything seen (pooled over groups): equals the one-shot estimate on the same data."""
        n, mu, m2, classes = self._cells()
        nc = n.sum(axis=0)
        mean = np.einsum("gc,gcf->cf", n / nc, mu)
        dev = mu - mean[None]
        intra = (m2.sum(axis=0) + np.einsum("gc,gcf,gcf->c", n, dev, dev)) / nc
        return rho_from_moments(mean, intra, nc / nc.sum(), classes=classes, counts=nc.astype(np.int64))

    def _replicates(self, w: np.ndarray) -> np.ndarray:
        """ρ for each row of group multiplicities ``w`` (B, G), via the Gram matrix of centred means."""
        n, mu, m2, _ = self._cells()
        g, c, f = mu.shape
        centre = np.einsum("gc,gcf->f", n, mu) / n.sum()
        z = (mu - centre).reshape(g * c, f)
        k = (z @ z.T).reshape(g, c, g, c)
        kcc = np.einsum("gchc->gch", k)  # K[(g,c),(h,c)]: same-class blocks
        kdiag = np.einsum("gcgc->gc", k)
        wn = w[:, :, None] * n[None]  # (B, G, C)
        nc = wn.sum(axis=1)  # (B, C)
        if np.any(nc < 2):
            raise ValueError("a bootstrap resample left a class with < 2 samples; use more data or fewer groups")
        a = wn / nc[:, None, :]
        q = np.einsum("bgc,gchd,bhd->bcd", a, k, a, optimize=True)  # <zbar_c, zbar_d>
        qd = np.einsum("bcc->bc", q)
        inter = qd[:, :, None] + qd[:, None, :] - 2 * q
        p = np.einsum("gch,bhc->bgc", kcc, a)
        spread = np.einsum("bgc,gc->bc", wn, kdiag) - 2 * np.einsum("bgc,bgc->bc", wn, p) + nc * qd
        intra = (np.einsum("bg,gc->bc", w, m2) + spread) / nc
        rho_ij = inter / np.sqrt(intra[:, :, None] * intra[:, None, :])
        idx = np.arange(c)
        rho_ij[:, idx, idx] = np.inf
        return np.einsum("bc,bc->b", nc / nc.sum(axis=1, keepdims=True), rho_ij.min(axis=2))

    def bootstrap(self, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0) -> RhoInterval:
        """Basic (reverse-percentile) group-bootstrap interval for ρ (resample the G groups with replacement).

        ``replicates`` holds the raw bootstrap ρ values; ``low, high = 2ρ̂ − q(1−α/2), 2ρ̂ − q(α/2)``
        (clipped at 0), which corrects for the upward small-sample bias of the plug-in ρ that
        the plain percentile interval would double.
        """
        if int(n_boot) != n_boot or n_boot < 20:
            raise ValueError(f"n_boot must be an integer >= 20; got {n_boot}")
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence}")
        est = self.result().rho
        rng = np.random.default_rng(seed)
        w = rng.multinomial(self.n_groups, np.full(self.n_groups, 1.0 / self.n_groups), size=int(n_boot)).astype(float)
        chunk = max(1, int(2e7 // (self.n_groups ** 2 * self._cells()[1].shape[1] ** 2 + 1)))
        reps = np.concatenate([self._replicates(w[s:s + chunk]) for s in range(0, int(n_boot), chunk)])
        alpha = (1 - confidence) / 2
        q_lo, q_hi = np.quantile(reps, [alpha, 1 - alpha])
        # basic (reverse-percentile) interval: resampling duplicates samples, which lowers the
        # effective n and inflates the replicates' plug-in D^(i,j) by about as much as the
        # estimate is inflated over the population value; 2*est - q moves the interval the
        # other way, where the percentile interval would sit above (even exclude) the estimate.
        return RhoInterval(estimate=float(est), low=float(max(0.0, 2 * est - q_hi)), high=float(2 * est - q_lo),
                           confidence=float(confidence), standard_error=float(reps.std(ddof=1)),
                           method=f"basic group bootstrap ({self.n_groups} groups)", replicates=reps)

    def jackknife(self, confidence: float = 0.95, *, bias_correction: bool = True) -> RhoInterval:
        """Bias-corrected point with its grouped-jackknife interval (always contains the point).

        :func:`rdtheory.appropriateness.grouped_interval` on this layer's (group, class)
        statistics: unbiased moments plus Quenouille's correction of the minimum over j,
        ``point ± t·se`` extended by the applied correction (docs/appropriateness.md, §5).
        """
        n, mu, m2, _ = self._cells()
        return grouped_interval(n, mu, m2, confidence=confidence, bias_correction=bias_correction)


@dataclasses.dataclass(frozen=True)
class LayerRho:
    """ρ of one layer: estimate, interval, feature shape, sample count.

    ``rho`` is the interval's point: the plug-in (``interval="basic"``) or the bias-corrected
    point (``interval="bias-corrected"``); ``rho_plugin`` is always the paper's plug-in.
    """

    layer: str
    rho: float
    low: float
    high: float
    standard_error: float
    n_features: int
    shape: tuple
    n: int
    confidence: float
    method: str
    rho_plugin: float | None = None


@dataclasses.dataclass(frozen=True)
class Profile:
    """Result of :func:`rho_profile`: one :class:`LayerRho` per layer (in the order asked) and accuracy."""

    layers: tuple
    accuracy: float
    n: int
    data: str
    seconds: float

    def records(self) -> list[dict]:
        return [dataclasses.asdict(r) for r in self.layers]

    def __getitem__(self, name: str) -> LayerRho:
        for r in self.layers:
            if r.layer == name:
                return r
        raise KeyError(name)


@torch.no_grad()
def rho_profile(model: nn.Module, data: ImageArrays, layers: Sequence[str], *, mean_std="jpeg",
                batch_size: int = 250, n_groups: int = 20, n_boot: int = 1000, confidence: float = 0.95,
                seed: int = 0, device="cpu", progress: bool = True, interval: str = "basic") -> Profile:
    """ρ (Eq. 18, MSE) with a group-bootstrap interval at each named layer, in one pass over ``data``.

    Eq. 18 of Harell et al. [1]_ (Table I reports it per layer).

    ``n_groups`` is lowered, if needed, so that every (class, group) cell holds >= 5 images.
    ``layers`` are module names (see :func:`resolve_layers`) or ``"input"`` ([0, 1] pixels).
    ``mean_std`` is the normalisation the model was trained with. The features of each
    batch stream into one :class:`GroupedRho` per layer and are dropped. Returns a
    :class:`Profile` with the model's top-1 accuracy on ``data`` from the same forward pass.
    ``interval="basic"``: plug-in ρ with the basic group bootstrap (:meth:`GroupedRho.bootstrap`);
    ``"bias-corrected"``: the bias-corrected point with its grouped-jackknife interval
    (:meth:`GroupedRho.jackknife`, docs/appropriateness.md §5), which always contains it.
    """
    if interval not in ("basic", "bias-corrected"):
        raise ValueError(f"interval must be 'basic' or 'bias-corrected'; got {interval!r}")
    t0 = time.time()
    accs, correct = stream_layers(model, data, layers, mean_std=mean_std, batch_size=batch_size, n_groups=n_groups,
                                  seed=seed, device=device, progress=progress)
    names = list(accs)
    out = []
    for name in names:
        g = accs[name]
        ci = (g.bootstrap(n_boot=n_boot, confidence=confidence, seed=seed) if interval == "basic"
              else g.jackknife(confidence))
        out.append(LayerRho(layer=name, rho=ci.estimate, low=ci.low, high=ci.high, standard_error=ci.standard_error,
                            n_features=int(np.prod(g.feature_shape)), shape=tuple(g.feature_shape), n=g.n_samples,
                            confidence=confidence, method=ci.method, rho_plugin=g.result().rho))
    return Profile(layers=tuple(out), accuracy=correct / len(data), n=len(data), data=data.name,
                   seconds=time.time() - t0)


@torch.no_grad()
def stream_layers(model: nn.Module | None, data: ImageArrays, layers: Sequence[str], *, mean_std="jpeg",
                  batch_size: int = 250, n_groups: int = 20, seed: int = 0, device="cpu",
                  progress: bool = True) -> tuple[dict[str, "GroupedRho"], int]:
    """One pass over ``data``: a :class:`GroupedRho` per layer and the number of correct top-1 predictions.

    The streaming core of :func:`rho_profile` (whose docstring gives the conventions).
    ``model=None`` streams the ``"input"`` pseudo-layer only (no forward pass; the count is 0).
    Groups are :func:`balanced_groups` of the labels with ``n_groups`` lowered so that every
    (class, group) cell holds >= 5 images. Memory: the G·C·(F+2) statistics per layer plus
    one batch of features, whatever ``len(data)``.
    """
    if len(data) == 0:
        raise ValueError("data is empty")
    if model is None:
        if list(layers) != [INPUT]:
            raise ValueError(f"model=None streams only layers=['input']; got {list(layers)}")
        names = [INPUT]
    else:
        model = model.to(device).eval()
        names = list(resolve_layers(model, layers))
    smallest = int(np.bincount(data.labels).min()) if data.labels.size else 0
    n_groups = max(2, min(n_groups, smallest // 5))  # >= 5 samples per (class, group) cell
    groups = balanced_groups(data.labels, n_groups, seed)
    accs = {name: GroupedRho(n_groups=n_groups, seed=seed) for name in names}
    current: dict = {}

    def feed(name, out):
        accs[name].update(out, current["y"], current["ids"])

    correct = 0
    batches = list(iterate_batches(len(data), batch_size))
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc=f"rho {type(model).__name__} ({len(names)} layers)", leave=False,
                       mininterval=5.0)
    with LayerTaps(model if model is not None else nn.Identity(), names, feed) as taps:
        for idx in batches:
            current["y"], current["ids"] = data.labels[idx], groups[idx]
            raw = data.images[idx]
            taps.feed_input(torch.from_numpy(raw).permute(0, 3, 1, 2).double() / 255.0)
            if model is not None:
                logits = model(to_tensor(raw, mean_std, device=device))
                correct += int((logits.argmax(1).cpu().numpy() == data.labels[idx]).sum())
    return accs, correct


@torch.no_grad()
def collect_features(model: nn.Module, data: ImageArrays, layers: Sequence[str], *, mean_std="jpeg",
                     batch_size: int = 250, device="cpu", dtype=np.float32) -> dict[str, np.ndarray]:
    """Flattened features (N, F) of *small* data (e.g. the 2,000-image t-SNE subsample) per layer.

    This holds the features in memory, so use it only on subsamples; ρ over a whole split
    should use :func:`rho_profile` (streaming).
    """
    model = model.to(device).eval()
    names = list(resolve_layers(model, layers))
    chunks: dict[str, list] = {n: [] for n in names}

    def keep(name, out):
        chunks[name].append(out.reshape(out.shape[0], -1).to("cpu").numpy().astype(dtype, copy=True))

    with LayerTaps(model, names, keep) as taps:
        for idx in iterate_batches(len(data), batch_size):
            raw = data.images[idx]
            taps.feed_input(torch.from_numpy(raw).permute(0, 3, 1, 2).double() / 255.0)
            model(to_tensor(raw, mean_std, device=device))
    return {n: np.concatenate(c) for n, c in chunks.items()}
