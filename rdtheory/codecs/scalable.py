r"""Scalable human/machine coding with a V-information reward (scalable-coding slides).

Two layers over the same image ``X``:

- **base** — a :class:`~rdtheory.codecs.direct.DirectCodec` whose latent ``Ŷ_b`` (the
  slides' base representation; here the dequantised latent ``Q_b·Ẑ_b``) feeds the machine
  task, plus a light :class:`ReconstructionHead` ``X̂ = G_a(Ŷ_b)``. Base loss (slides)

  .. math:: L_b = \lambda_b\,\mathbb E[d_b] + \hat h(\hat Y_b) + \beta\,\mathbb E\,\mathrm{MSE}(\hat X, X),
            \qquad \beta \ll \lambda_b,

  the β term being the reward on the capacity of ``Ŷ_b`` to reconstruct ``X`` (a Gaussian
  decoder centred on ``X̂``, i.e. a squared error; :class:`~rdtheory.codecs.losses.RateDistortionLoss`
  with ``beta=``). β = 0 is the baseline, β = 0.01 the slides' proposal.
- **enhancement** — :class:`EnhancementCodec`, a hyperprior codec whose entropy model and
  synthesis are conditioned on the (frozen) base latent:
  :math:`L_e = \lambda_e\,\mathbb E[d_e] + \hat h(\hat Y_e \mid \hat Y_b)`; it reconstructs ``X``
  from ``(Ŷ_e, Ŷ_b)``. The scalable rate is the sum of the base and enhancement rates.

References
----------
.. [1] Untitled slides on scalable coding and V-information (the text has no title page or
   authors), ``shared/reference/scalable-coding-v-information-slides.txt``; they build on [2]
   (the base and enhancement losses, beta = 0.01).
.. [2] Y. Xu, S. Zhao, J. Song, R. Stewart and S. Ermon, "A Theory of Usable Information under
   Computational Constraints", ICLR 2020 (predictive V-information, the reward the β term stands
   for).
.. [3] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (App. C-A, Eq. 27, Fig. 18: the paper's scalable
   setting, whose joint loss is not the one implemented here).
.. [4] H. Choi and I. V. Bajić, "Scalable image coding for humans and machines", IEEE
   Trans. Image Process. 31:2739-2754, 2022 (the scalable codec of App. C-A of [3]).
.. [5] J. Ballé, D. Minnen, S. Singh, S. J. Hwang and N. Johnston, "Variational image
   compression with a scale hyperprior", ICLR 2018 (the hyperprior both layers use).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .direct import analysis_transform, synthesis_transform
from .hyperprior import HYPER_STRIDE, HyperpriorCodec, positive_int


class ReconstructionHead(nn.Module):
    """``G_a``: the base latent ``Ŷ_b`` (B, C_r, h, w) → an image estimate (B, 3, h·d, w·d).

    The slides' [1]_ reconstruction decoder ``G_a`` of the base layer.
    """

    def __init__(self, latent_channels: int, *, out_channels: int = 3, channels: int = 64, upsample: int = 4):
        super().__init__()
        self.net = synthesis_transform(latent_channels, channels, out_channels, upsample)

    def forward(self, y_b: torch.Tensor) -> torch.Tensor:
        return self.net(y_b)


class EnhancementCodec(HyperpriorCodec):
    r"""Image codec conditioned on the base latent (the scalable enhancement layer).

    The slides' [1]_ enhancement layer, a conditional scale-hyperprior codec (Ballé et al. [5]_).

    ``σ = h_s(Ẑ_h) + softplus(h_c(Ŷ_b))`` and ``X̂ = g_s([Q·Ẑ_e, Ŷ_b])``, so the rate is
    :math:`-\log_2 p(\hat Z_e \mid \hat Z_h, \hat Y_b)` and the base latent is side
    information both ends already have. ``condition`` (``Ŷ_b``, shape
    ``(B, base_channels, H/d, W/d)``) is required by ``forward``/``compress``/``decompress``.

    >>> enh = EnhancementCodec(base_channels=8, latent_channels=4, channels=16)
    >>> enh(torch.zeros(2, 3, 32, 32), torch.zeros(2, 8, 8, 8))["output"].shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(self, base_channels: int, *, in_channels: int = 3, latent_channels: int = 32, channels: int = 64,
                 latent_downsample: int = 4, quant_step: float = 1.0, hyper_channels: int = 32):
        super().__init__(latent_channels, quant_step=quant_step, hyper_channels=hyper_channels,
                         input_multiple=latent_downsample * HYPER_STRIDE)
        self.in_channels = positive_int(in_channels, "in_channels", "Pass 3 for RGB images")
        self.base_channels = positive_int(base_channels, "base_channels", "Pass the base codec's latent_channels")
        self.latent_downsample = latent_downsample
        self.g_a = analysis_transform(in_channels, channels, latent_channels, latent_downsample)
        self.g_s = synthesis_transform(latent_channels + base_channels, channels, in_channels, latent_downsample)
        self.h_c = nn.Sequential(nn.Conv2d(base_channels, channels, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(channels, latent_channels, 3, padding=1))

    def check_input(self, x) -> None:
        self._check_image(x)

    def _check_condition(self, condition, spatial) -> None:
        want = (self.base_channels, *spatial)
        if not isinstance(condition, torch.Tensor) or tuple(condition.shape[1:]) != want:
            raise ValueError(f"condition (the base latent) must have shape (B, {want[0]}, {want[1]}, {want[2]}); got "
                             f"{getattr(condition, 'shape', condition)}")

    def scales(self, z_h_hat, condition=None):
        self._check_condition(condition, tuple(s * HYPER_STRIDE for s in z_h_hat.shape[-2:]))
        return self.h_s(z_h_hat) + F.softplus(self.h_c(condition))

    def synthesis(self, z_hat, condition=None):
        self._check_condition(condition, tuple(z_hat.shape[-2:]))
        return self.g_s(torch.cat([z_hat * self.quant_step, condition], dim=1))
