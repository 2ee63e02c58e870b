r"""A frozen task model ``f = h∘g`` cut into named points, and a codec placed at a cut point.

:class:`SplitTaskModel` names the points of a task model in forward order —
``"input"``, then one name per stage (for the CIFAR ResNets: ``"layer1"``, ``"layer2"``,
``"layer3"``, ``"output"`` = the logits) — and runs it from any point to any later points.
Its parameters are frozen and it stays in eval mode (BatchNorm statistics fixed), but
gradients flow *through* it: the mid-model and back end of the paper's Fig. 4.

:class:`MachineCodec` is one of the paper's three approaches (Fig. 1) around a codec:

============== ======================== ============================ =================
approach        codec input              codec output                 back end from
============== ======================== ============================ =================
full_input      image X                  X̂ (same shape)               ``"input"``
model_splitting Y = g(X) at ``cut``      Ŷ at ``cut``                 ``cut``
direct          image X                  Ỹ at ``cut``                 ``cut``
============== ======================== ============================ =================

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. II-B, Fig. 1: the three approaches; Sec. IV-A,
   Fig. 4: cut point, mid-model and back end).
.. [2] K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
   Proc. CVPR, 2016 (the CIFAR ResNets).
"""
from __future__ import annotations

import difflib
from typing import Sequence

import torch
from torch import nn

INPUT = "input"
APPROACHES = ("full_input", "model_splitting", "direct")


class SplitTaskModel(nn.Module):
    """A frozen task model as an ordered list of named stages.

    The task model ``f = h∘g`` of Harell et al. [1]_ (Sec. II-B), cut at named points.

    Args:
        stages: ``[(name, module), ...]`` in forward order; the point *after* stage ``name``
            is called ``name``; the point before the first stage is ``"input"``.

    >>> m = SplitTaskModel([("y", nn.Identity()), ("output", nn.Flatten())])
    >>> m.points
    ('input', 'y', 'output')
    """

    def __init__(self, stages: Sequence[tuple[str, nn.Module]]):
        super().__init__()
        stages = list(stages)
        names = [n for n, _ in stages]
        if not stages or len(set(names)) != len(names) or INPUT in names:
            raise ValueError(f"stages must be a non-empty list of (name, module) with unique names other than "
                             f"{INPUT!r}; got names {names}")
        self.stages = nn.ModuleDict(stages)
        self.points = (INPUT, *names)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "SplitTaskModel":
        return super().train(False)  # frozen: BatchNorm statistics never change

    def index(self, point: str) -> int:
        """Position of ``point`` in :attr:`points`; unknown names raise a ValueError with suggestions."""
        if point not in self.points:
            close = difflib.get_close_matches(str(point), self.points, n=3)
            raise ValueError(f"unknown layer {point!r}; the points of this task model are {self.points}"
                             + (f" (did you mean {close}?)" if close else ""))
        return self.points.index(point)

    def run(self, x: torch.Tensor, start: str = INPUT, taps: Sequence[str] = ("output",)) -> dict:
        """Run from the tensor ``x`` at point ``start`` and return ``{point: tensor}`` for ``taps``.

        Every tap must be at or after ``start`` (a tap equal to ``start`` returns ``x``).
        """
        i0 = self.index(start)
        want = {t: self.index(t) for t in taps}
        early = [t for t, i in want.items() if i < i0]
        if early:
            raise ValueError(f"taps {early} come before start={start!r}; a distillation point cannot be shallower "
                             f"than the cut point")
        out = {t: x for t, i in want.items() if i == i0}
        last = max(want.values(), default=i0)
        for k, (name, stage) in enumerate(self.stages.items(), start=1):
            if k <= i0:
                continue
            if k > last:
                break
            x = stage(x)
            if name in want:
                out[name] = x
        return out

    @classmethod
    def from_cifar_resnet(cls, model: nn.Module) -> "SplitTaskModel":
        """Points ``input, layer1, layer2, layer3, output`` of a He et al. CIFAR ResNet
        (:func:`rdtheory.vision.models.cifar_resnet`); ``layer1`` includes the stem."""
        stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.layer1)
        head = nn.Sequential(model.avgpool, nn.Flatten(1), model.linear)
        return cls([("layer1", stem), ("layer2", model.layer2), ("layer3", model.layer3), ("output", head)])


class MachineCodec(nn.Module):
    """A codec at a cut point of a frozen task model (one of :data:`APPROACHES`).

    The three approaches are those of Fig. 1 of Harell et al. [1]_.

    ``forward(x)`` returns the codec's dict plus ``"cut"`` (the decoded tensor the back end
    starts from). :meth:`encoder_input` is what the codec sees (the image, or ``g(X)`` at the
    cut point for model splitting).
    """

    def __init__(self, codec: nn.Module, task: SplitTaskModel, approach: str, cut: str = INPUT):
        super().__init__()
        if approach not in APPROACHES:
            raise ValueError(f"approach must be one of {APPROACHES}; got {approach!r}")
        task.index(cut)
        if approach == "full_input" and cut != INPUT:
            raise ValueError(f"approach='full_input' reconstructs the input; pass cut={INPUT!r}, got {cut!r}")
        if approach != "full_input" and cut == INPUT:
            raise ValueError(f"approach={approach!r} needs a cut point after the input, one of {task.points[1:]}")
        self.codec, self.task, self.approach, self.cut = codec, task, approach, cut

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.approach != "model_splitting":
            return x
        with torch.no_grad():
            return self.task.run(x, taps=(self.cut,))[self.cut]

    def forward(self, x: torch.Tensor) -> dict:
        out = self.codec(self.encoder_input(x))
        out["cut"] = out["output"]
        return out

    def back_end(self, cut_tensor: torch.Tensor, taps: Sequence[str] = ("output",)) -> dict:
        """The task model from the cut point on, returning the requested points."""
        return self.task.run(cut_tensor, start=self.cut, taps=taps)
