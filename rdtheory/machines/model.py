r"""Finite task models :math:`X \to Y_1 \to \dots \to T` (Sec. II-B/C of the reference paper).

A :class:`FiniteTaskModel` is a source distribution :math:`p(x)` on a finite input alphabet
and a chain of deterministic layers given as index maps, so that the task model is
:math:`f = h \circ g` (or :math:`f = h_2 \circ g_2 \circ g_1` with more layers) and every cut
point (split point) or distortion target (distillation point) can be named.

Layer ``k`` has a finite alphabet ``{0, ..., n_k - 1}``. The alphabet may be larger than the
image of the previous layer (a feature space contains more points than the features of the
inputs): the paper's :math:`\mathcal Y` versus :math:`g(\mathcal X)`. Each layer also has a
*reproduction alphabet* :math:`\hat{\mathcal Y} \subseteq \mathcal Y` (the paper's "set of all
possible approximations of Y"), by default the whole layer alphabet; choosing a layer alphabet
larger than the image, with reproductions outside it, is how Theorem 2's image condition
:math:`h(\hat{\mathcal Y}) \subseteq \mathcal I_f(\mathcal X)` is broken. Each layer carries a
distortion matrix ``d_k`` of shape ``(n_k, n_k)`` (Hamming by default): ``d_T`` at the output,
``d_Y``/``d_X`` elsewhere (e.g. squared error on embedded coordinates, see
:func:`rdtheory.discrete.squared_error`).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. II-B/C: task models, cut and distillation points,
   reproduction alphabets, Theorem 2's image condition).

Example
-------
>>> import numpy as np
>>> from rdtheory.machines import FiniteTaskModel
>>> m = FiniteTaskModel([0.25, 0.25, 0.5], maps=[[0, 0, 1], [1, 0]])   # X -> Y -> T
>>> m.names, m.sizes
(('X', 'Y', 'T'), (3, 2, 2))
>>> m.f.tolist(), m.marginal('Y').tolist()
([1, 1, 0], [0.5, 0.5])
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence, Union

import numpy as np

from .._validation import distortion_matrix, probability_vector

__all__ = ["FiniteTaskModel", "Layer"]

#: A layer is named by its index (0 = input X, -1 = task output T) or by its name.
Layer = Union[int, str]


def _index_map(v, name: str, n_in: int, n_out: int | None) -> np.ndarray:
    a = np.asarray(v)
    if a.ndim != 1 or a.size == 0 or not (np.issubdtype(a.dtype, np.integer) or
                                          (np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)))):
        raise ValueError(f"{name} must be a 1-D array of integer indices (one per symbol of the previous "
                         f"layer); got dtype {a.dtype}, shape {a.shape}")
    a = a.astype(np.int64)
    if a.size != n_in:
        raise ValueError(f"{name} has {a.size} entries but the layer it maps from has {n_in} symbols; "
                         f"give one output index per input symbol")
    if a.min() < 0 or (n_out is not None and a.max() >= n_out):
        hi = "" if n_out is None else f"..{n_out - 1}"
        raise ValueError(f"{name} maps out of range: values {a.min()}..{a.max()} but the next layer has "
                         f"alphabet 0{hi}; fix the map or enlarge that layer's size")
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class FiniteTaskModel:
    r"""A finite task model: :math:`p(x)` and layer maps :math:`X \to Y_1 \to \dots \to T`.

    The task model of Sec. II-B/C of Harell et al. [1]_.

    Parameters
    ----------
    p_x : array (n_0,)
        Input distribution :math:`p(x)` (non-negative, sums to 1; zeros allowed).
    maps : sequence of L int arrays
        ``maps[k][i]`` is the index, in layer ``k+1``, of symbol ``i`` of layer ``k``; so
        ``maps[0]`` is :math:`g` (or :math:`g_1`) and ``maps[-1]`` ends at the task output T.
        At least one map (then X -> T directly; f has no cut point).
    sizes : sequence of L ints, optional
        Alphabet sizes of layers 1..L (default: ``max(map) + 1``). A size larger than the
        image of the previous layer adds feature values no input produces.
    distortions : sequence of L+1 matrices or None, or mapping layer -> matrix, optional
        Distortion ``d_k[z, z_hat]`` of layer k, shape ``(n_k, n_k)``, >= 0 (default Hamming).
    reproductions : sequence of L+1 index arrays or None, or mapping layer -> indices, optional
        Reproduction alphabet of each layer as indices into its alphabet (default: all).
    names : sequence of L+1 str, optional
        Layer names (default ``X, Y, T`` for one hidden layer, else ``X, Y1, Y2, ..., T``).

    Notes
    -----
    Attributes are normalised numpy arrays (read-only); the model is immutable.
    """

    p_x: np.ndarray
    maps: tuple
    sizes: tuple = None
    distortions: tuple = None
    reproductions: tuple = None
    names: tuple = None

    def __post_init__(self):
        p = probability_vector(self.p_x, "p_x")
        if p.ndim != 1:
            raise ValueError(f"p_x must be one distribution of shape (n,); got shape {p.shape}")
        if isinstance(self.maps, np.ndarray) and self.maps.ndim == 1:
            raise ValueError("maps must be a sequence of index arrays (one per layer), e.g. maps=[g, h]")
        maps_in = list(self.maps) if self.maps is not None else []
        if len(maps_in) == 0:
            raise ValueError("maps must contain at least one layer map (X -> T)")
        L = len(maps_in)
        if self.sizes is not None:
            sizes_in = [int(s) for s in self.sizes]
            if len(sizes_in) != L or any(s < 1 for s in sizes_in):
                raise ValueError(f"sizes must give {L} positive alphabet sizes (layers 1..{L}); got {self.sizes!r}")
        else:
            sizes_in = [None] * L
        sizes = [p.shape[0]]
        maps = []
        for k, m in enumerate(maps_in):
            a = _index_map(m, f"maps[{k}]", sizes[-1], sizes_in[k])
            maps.append(a)
            sizes.append(sizes_in[k] if sizes_in[k] is not None else int(a.max()) + 1)
        if self.names is None:
            names = ("X", "Y", "T") if L == 2 else ("X", *[f"Y{k}" for k in range(1, L)], "T")
            if L == 1:
                names = ("X", "T")
        else:
            names = tuple(str(s) for s in self.names)
            if len(names) != L + 1 or len(set(names)) != L + 1:
                raise ValueError(f"names must be {L + 1} distinct layer names (X, hidden layers, T); got {self.names!r}")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "sizes", tuple(sizes))  # needed by index() below
        dists = self._per_layer(self.distortions, "distortions", L + 1)
        dlist = []
        for k, d in enumerate(dists):
            if d is None:
                d = 1.0 - np.eye(sizes[k])
            else:
                d = distortion_matrix(d, f"distortions[{names[k]}]")
                if d.shape != (sizes[k], sizes[k]):
                    raise ValueError(f"distortions[{names[k]}] has shape {d.shape} but layer {names[k]} has "
                                     f"{sizes[k]} symbols; give a ({sizes[k]}, {sizes[k]}) matrix d[z, z_hat]")
            dlist.append(d)
        reps = self._per_layer(self.reproductions, "reproductions", L + 1)
        rlist = []
        for k, r in enumerate(reps):
            if r is None:
                r = np.arange(sizes[k])
            else:
                r = np.asarray(r)
                if r.size == 0:
                    raise ValueError(f"reproductions[{names[k]}] is empty: a layer needs at least one "
                                     f"reproduction value (omit it to use the whole alphabet)")
                if r.ndim != 1 or not np.issubdtype(r.dtype, np.integer):
                    raise ValueError(f"reproductions[{names[k]}] must be a 1-D integer index array; "
                                     f"got dtype {r.dtype}, shape {r.shape}")
                if r.min() < 0 or r.max() >= sizes[k]:
                    raise ValueError(f"reproductions[{names[k]}] has indices outside 0..{sizes[k] - 1} "
                                     f"(the alphabet of layer {names[k]})")
                if np.unique(r).size != r.size:
                    raise ValueError(f"reproductions[{names[k]}] has repeated indices; list each value once")
                r = r.astype(np.int64)
            rlist.append(r)
        for arr in [p, *maps, *dlist, *rlist]:
            arr.setflags(write=False)
        object.__setattr__(self, "p_x", p)
        object.__setattr__(self, "maps", tuple(maps))
        object.__setattr__(self, "sizes", tuple(sizes))
        object.__setattr__(self, "distortions", tuple(dlist))
        object.__setattr__(self, "reproductions", tuple(rlist))

    def _per_layer(self, v, what: str, count: int) -> list:
        if v is None:
            return [None] * count
        if isinstance(v, Mapping):
            out = [None] * count
            for key, val in v.items():
                out[self.index(key)] = val
            return out
        v = list(v)
        if len(v) != count:
            raise ValueError(f"{what} must have one entry per layer ({count}: {', '.join(self.names)}), "
                             f"use None for the default; got {len(v)}")
        return v

    # ----------------------------------------------------------------- naming
    @property
    def num_layers(self) -> int:
        """Number of layers including X and T (L + 1)."""
        return len(self.sizes)

    def index(self, layer: Layer) -> int:
        """Index of a layer given by index (negative counts from T) or name."""
        if isinstance(layer, str):
            if layer not in self.names:
                raise ValueError(f"unknown layer {layer!r}; this model's layers are {self.names}")
            return self.names.index(layer)
        if isinstance(layer, (int, np.integer)) and -self.num_layers <= layer < self.num_layers:
            return int(layer) % self.num_layers
        raise ValueError(f"layer must be a name in {self.names} or an index in "
                         f"-{self.num_layers}..{self.num_layers - 1}; got {layer!r}")

    # ------------------------------------------------------------------ maps
    def push(self, source: Layer, target: Layer) -> np.ndarray:
        r"""Composed map :math:`\varphi_{s\to t}` from layer ``source`` to a deeper ``target``.

        Returns an int array of shape ``(n_source,)`` with values in ``0..n_target-1``
        (the identity when ``source == target``).
        """
        s, t = self.index(source), self.index(target)
        if s > t:
            raise ValueError(f"target {self.names[t]} is shallower than source {self.names[s]}; "
                             f"maps only go from X towards T")
        out = np.arange(self.sizes[s])
        for k in range(s, t):
            out = self.maps[k][out]
        return out

    @property
    def f(self) -> np.ndarray:
        """The task model :math:`f: \\mathcal X \\to \\mathcal T` as an index array (n_X,)."""
        return self.push(0, -1)

    def marginal(self, layer: Layer) -> np.ndarray:
        """Distribution of layer ``layer``: the pushforward of :math:`p(x)` (shape (n_layer,))."""
        k = self.index(layer)
        return np.bincount(self.push(0, k), weights=self.p_x, minlength=self.sizes[k])

    def image(self, target: Layer = -1, source: Layer = 0, *, reproductions: bool = False) -> np.ndarray:
        r"""Sorted image :math:`\varphi_{s\to t}(\cdot)` of layer ``source`` at layer ``target``.

        ``image()`` is the paper's :math:`\mathcal I_f(\mathcal X)` (the image of f on all
        inputs); with ``reproductions=True`` the map is applied to the reproduction alphabet
        of ``source`` instead, e.g. ``image('T', 'Y', reproductions=True)`` is
        :math:`h(\hat{\mathcal Y})`.
        """
        s = self.index(source)
        phi = self.push(s, target)
        return np.unique(phi[self.reproductions[s]] if reproductions else phi)

    def distortion(self, layer: Layer) -> np.ndarray:
        """Distortion matrix ``d_k`` of a layer, shape (n_k, n_k)."""
        return self.distortions[self.index(layer)]

    def with_reproductions(self, **per_layer) -> "FiniteTaskModel":
        """Copy with some reproduction alphabets replaced, e.g. ``m.with_reproductions(Y=[0, 2])``."""
        reps = list(self.reproductions)
        for name, r in per_layer.items():
            reps[self.index(name)] = r
        return dataclasses.replace(self, reproductions=tuple(reps), sizes=self.sizes[1:])

    def __repr__(self) -> str:
        chain = " -> ".join(f"{n}[{s}]" for n, s in zip(self.names, self.sizes))
        return f"FiniteTaskModel({chain})"
