r"""The hypotheses of Theorems 2 and 2.A on a finite task model (image, covering, substitute).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. II, Theorem 2 and Appendix A).
"""
from __future__ import annotations

import numpy as np

from .model import FiniteTaskModel, Layer

__all__ = ["image_condition", "covering_condition", "theorem2a_condition"]


def _reach(model: FiniteTaskModel, layer: Layer, target: Layer) -> set:
    k = model.index(layer)
    return set(model.push(k, target)[model.reproductions[k]].tolist())


def image_condition(model: FiniteTaskModel, cut: Layer = 1, target: Layer = -1, reference: Layer = 0) -> bool:
    r"""Theorem 2's image condition :math:`h(\hat{\mathcal Y}) \subseteq \mathcal I_f(\hat{\mathcal X})`.

    The outputs at ``target`` of the cut layer's reproductions lie among those of the
    reference layer's reproductions (the input's by default; with the default
    :math:`\hat{\mathcal X} = \mathcal X` this is :math:`\mathcal I_f(\mathcal X)`).
    ``cut = target`` (e.g. Cor. 2.4) reads :math:`\hat{\mathcal Y}_2 \subseteq \varphi(\hat{\mathcal X})`.
    """
    return _reach(model, cut, target) <= _reach(model, reference, target)


def covering_condition(model: FiniteTaskModel, cut: Layer = 1, target: Layer = -1, reference: Layer = 0) -> bool:
    r"""The inclusion behind [17]'s :math:`R_Y \le R_X`: :math:`f(\hat{\mathcal X}) \subseteq h(\hat{\mathcal Y})`
    (true whenever :math:`g(\hat{\mathcal X}) \subseteq \hat{\mathcal Y}`, e.g. default alphabets)."""
    return _reach(model, reference, target) <= _reach(model, cut, target)


def theorem2a_condition(model: FiniteTaskModel, cut: Layer = 1, target: Layer = -1, reference: Layer = 0,
                        *, uniform: bool = True) -> tuple[bool, dict]:
    r"""Theorem 2.A's substitute condition, with a witness.

    For every output :math:`t = h(\hat y)` of a cut-layer reproduction outside the reference
    image :math:`\mathcal I`, find :math:`t' \in \mathcal I` with
    :math:`d_T(z, t') \le d_T(z, t)` for **all** task values z of positive probability
    (``uniform=True``, the form the proof needs). ``uniform=False`` checks the weaker,
    per-z reading (a t' for each z separately), which does *not* imply the theorem.

    Returns ``(holds, witness)`` with witness ``{t: t' or None}`` (per-z: ``{t: {z: t'}}``).
    """
    t_idx = model.index(target)
    image = sorted(_reach(model, reference, target))
    outside = sorted(_reach(model, cut, target) - set(image))
    d = model.distortions[t_idx]
    support = np.flatnonzero(model.marginal(t_idx) > 0)
    witness, ok = {}, True
    for t in outside:
        if uniform:
            good = [s for s in image if np.all(d[support, s] <= d[support, t])]
            witness[t] = good[0] if good else None
            ok &= bool(good)
        else:
            per = {}
            for z in support:
                good = [s for s in image if d[z, s] <= d[z, t]]
                per[int(z)] = good[0] if good else None
                ok &= bool(good)
            witness[t] = per
    return ok, witness
