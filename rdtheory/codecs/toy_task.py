r"""The circles/squares toy of Sec. III-B.1 as a torch task model for the codec training machinery.

Registered in :data:`rdtheory.codecs.tasks.TASKS` as ``"toy"``: the pieces of its
:class:`~rdtheory.codecs.tasks.TaskSpec` are :func:`model`, :func:`data`,
:func:`pixels_per_sample` and :func:`codec`.

Task model (points ``"input"`` = X = (u, v), ``"y"`` = Y = g(X), ``"output"`` = logits):

* :class:`G` is exactly :func:`rdtheory.toy.g` (same formula and order of operations; in float64
  it equals the numpy version bit for bit, see ``tests/test_codecs_toy.py``);
* :class:`H` is a differentiable surrogate of :func:`rdtheory.toy.h` ("circle if v > 2"): logits

  .. math:: \ell(y) = \bigl(-(v-2)/\tau,\ +(v-2)/\tau\bigr), \qquad \tau = 0.1,

  so :math:`\arg\max \ell = 1` (circle) iff v > 2 (a tie at v = 2 gives index 0, square, as
  h does): **evaluation by argmax is the exact h**, while the cross-entropy
  :math:`-\log\operatorname{softmax}(\ell)_T` is a smooth training distortion. On uncoded data
  |v − 2| ≥ 0.8, so the task model's own cross-entropy is at most
  :math:`\log(1 + e^{-16}) \approx 1.1\cdot10^{-7}` nats.

Data: :func:`rdtheory.toy.sample` (balanced classes), ``train_n`` samples from seed ``cfg.seed``
and ``test_n`` from seed ``cfg.seed + 1`` (the convention of
:func:`rdtheory.toy.quantized_task_error`); labels :math:`T = f(X) = h(g(X))` (the class). The
rate unit is bits per *sample* (``pixels_per_sample`` = 1).

Codecs (:func:`codec`): a :class:`~rdtheory.codecs.vector.FactorizedVectorCodec` with
``latent_dim = cfg.latent_channels``, ``hidden = cfg.channels``, ``quant_step = cfg.quant_step``;
2 → 2 for every approach (full input X → X̂, model splitting Y → Ŷ, direct X → Ŷ).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-B.1, Fig. 2: the circles/squares toy, ``g``
   and ``h``).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from .system import INPUT, SplitTaskModel
from .vector import FactorizedVectorCodec

if TYPE_CHECKING:  # only for annotations: tasks.py imports this module
    from .config import CodecConfig

__all__ = ["TAU", "G", "H", "model", "data", "pixels_per_sample", "codec"]

#: Temperature of the surrogate back end's logits ±(v − 2)/τ (v units).
TAU = 0.1


class _IeeeSqrt(torch.autograd.Function):
    r"""Correctly rounded (IEEE 754) square root with gradient :math:`1/(2\sqrt a)` (0 where a = 0).

    torch's CPU ``sqrt`` in this build is not correctly rounded (525 of 40,000 float64 values
    of the toy differ from IEEE ``sqrt`` by one ulp), so the forward uses numpy's.
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor) -> torch.Tensor:
        import numpy as np

        root = torch.from_numpy(np.sqrt(a.detach().cpu().numpy())).to(a.device)
        ctx.save_for_backward(root)
        return root

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (root,) = ctx.saved_tensors
        safe = torch.where(root > 0, root, torch.ones_like(root))
        return torch.where(root > 0, grad / (2 * safe), torch.zeros_like(grad))


class G(nn.Module):
    r"""The front end g of Sec. III-B.1 in torch: ``(B, 2)`` → ``(B, 2)``, exactly :func:`rdtheory.toy.g`.

    Harell et al. [1]_, Sec. III-B.1.

    .. math:: g(u, v) = (c_u + \operatorname{sgn}(u-5)\sqrt{|0.2^2 - (v-c_v)^2|},\ v),\quad
              (c_u, c_v) = (2.5, 3) \text{ if } v > 2 \text{ else } (7.5, 1).

    The square root is IEEE-exact (:class:`_IeeeSqrt`) and its gradient is set to 0 where the
    argument is 0 (on the circle's rim), so gradients stay finite.
    """

    def __init__(self):
        super().__init__()
        from .. import toy

        self.radius_sq = toy.RADIUS ** 2
        self.upper_centre = toy.CENTRE_Y[toy.CIRCLE]
        self.lower_centre = toy.CENTRE_Y[toy.SQUARE]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"g needs inputs of shape (B, 2) (columns u, v); got {getattr(x, 'shape', type(x))}")
        u, v = x[:, 0], x[:, 1]
        upper = v > 2.0
        centre_u = torch.where(upper, x.new_tensor(self.upper_centre[0]), x.new_tensor(self.lower_centre[0]))
        centre_v = torch.where(upper, x.new_tensor(self.upper_centre[1]), x.new_tensor(self.lower_centre[1]))
        d = v - centre_v
        a = torch.abs(self.radius_sq - d * d)  # d * d, as numpy's d ** 2 (torch's pow may differ by 1 ulp)
        root = _IeeeSqrt.apply(a)
        return torch.stack([centre_u + torch.sign(u - 5.0) * root, v], dim=1)


class H(nn.Module):
    r"""Surrogate back end: logits :math:`(-(v-2)/\tau, (v-2)/\tau)` of (square, circle); argmax = h exactly.

    The back end h is that of Harell et al. [1]_, Sec. III-B.1.
    """

    def __init__(self, tau: float = TAU):
        super().__init__()
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not math.isfinite(tau) or tau <= 0:
            raise ValueError(f"tau must be a finite number > 0 (logit temperature, v units); got {tau!r}")
        self.tau = float(tau)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[1] != 2:
            raise ValueError(f"h needs features of shape (B, 2) (columns u, v); got {getattr(y, 'shape', type(y))}")
        margin = (y[:, 1] - 2.0) / self.tau
        return torch.stack([-margin, margin], dim=1)


def model(cfg: "CodecConfig | None" = None) -> SplitTaskModel:
    """The frozen task model ``f = h∘g`` with points ``("input", "y", "output")`` (``cfg`` unused)."""
    return SplitTaskModel([("y", G()), ("output", H())])


def data(cfg: "CodecConfig", split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x float32 (n, 2), labels int64 (n,))`` of ``split`` ("train": ``cfg.train_n`` samples,
    seed ``cfg.seed``; "test": ``cfg.test_n``, seed ``cfg.seed + 1``); labels = f(X)."""
    from .. import toy

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    n = cfg.train_n if split == "train" else cfg.test_n
    name = "train_n" if split == "train" else "test_n"
    if isinstance(n, bool) or not isinstance(n, int) or n < 2 or n % 2:
        raise ValueError(f"{name} must be an even int >= 2 for the toy (balanced classes); got {n!r}")
    s = toy.sample(n // 2, seed=cfg.seed + (0 if split == "train" else 1))
    return torch.from_numpy(s.x).float(), torch.from_numpy(toy.task_model(s.x)).long()


def pixels_per_sample(x: torch.Tensor) -> int:
    """1: rates of the toy are in bits per sample."""
    return 1


def codec(cfg: "CodecConfig", task: SplitTaskModel, x_example: torch.Tensor) -> FactorizedVectorCodec:
    """The vector codec of ``cfg.approach``: X → X̂ (full input), Y → Ŷ (model splitting), X → Ŷ (direct)."""
    cut = INPUT if cfg.approach == "full_input" else cfg.cut
    with torch.no_grad():
        at_cut = task.run(x_example, taps=(cut,))[cut]
    in_dim = at_cut.shape[1] if cfg.approach == "model_splitting" else x_example.shape[1]
    return FactorizedVectorCodec(in_dim, at_cut.shape[1], latent_dim=cfg.latent_channels, hidden=cfg.channels,
                                 quant_step=cfg.quant_step)
