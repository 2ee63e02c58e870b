r"""Direct coding for machines and the full-input baseline (reference paper Sec. IV-B, Fig. 1).

Both encode the *image* ``X`` with a GDN analysis transform and the shared scale hyperprior
(:mod:`rdtheory.codecs.hyperprior`); they differ only in what the decoder synthesises:

- **direct** (:class:`DirectCodec`): the task model's feature tensor ``Ỹ`` at a cut point
  (``C`` channels at ``1/out_downsample`` of the image resolution), fed to the task back end;
- **full input** (:func:`full_input_codec`): the image ``X̂`` itself (3 channels at full
  resolution), fed to the whole task model — ``DirectCodec(3, 3, out_downsample=1)``.

Transforms (``N`` channels, ``s = log2(latent_downsample)`` stride-2 stages):

.. math::
    g_a:\ [\mathrm{conv}_{5\times5}^{\downarrow2} \to \mathrm{GDN}]^{s} \to \mathrm{conv}_{3\times3} \to Z
    \qquad
    g_s:\ \mathrm{conv}_{3\times3} \to \mathrm{IGDN} \to [\mathrm{conv}^{\top\,\uparrow2}_{5\times5} \to \mathrm{IGDN}]^{u}
          \to \mathrm{conv}_{3\times3}

with ``u = log2(latent_downsample / out_downsample)`` upsampling stages.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. IV-B, Fig. 1(c); App. B-C, Fig. 14: the
   direct-coding codec; Fig. 14's context model and entropy parameters (CTX, EP) are in
   :mod:`rdtheory.codecs.context`).
.. [2] J. Ballé, D. Minnen, S. Singh, S. J. Hwang and N. Johnston, "Variational image
   compression with a scale hyperprior", ICLR 2018 (the scale hyperprior).
.. [3] J. Ballé, V. Laparra and E. P. Simoncelli, "Density modeling of images using a
   generalized normalization transformation", ICLR 2016 (arXiv:1511.06281) (GDN / IGDN).
.. [4] H. Choi and I. V. Bajić, "Scalable image coding for humans and machines", IEEE
   Trans. Image Process. 31:2739-2754, 2022 (the base layer on which Fig. 14 of [1] is based).
"""
from __future__ import annotations

import math

import torch  # noqa: F401  (doctests)
from compressai.layers import GDN
from torch import nn

from .hyperprior import HYPER_STRIDE, HyperpriorCodec, positive_int


def _log2(value: int, name: str) -> int:
    positive_int(value, name, "Use a power of two: 1, 2, 4, 8")
    k = int(math.log2(value))
    if 2 ** k != value:
        raise ValueError(f"{name} must be a power of two (1, 2, 4, 8, ...); got {value}")
    return k


def analysis_transform(in_channels: int, channels: int, latent_channels: int, downsample: int) -> nn.Sequential:
    """``g_a``: ``(B, in, H, W) → (B, C_r, H/d, W/d)`` with ``log2(d)`` stride-2 conv + GDN stages.

    The analysis transform of Fig. 14 of Harell et al. [1]_, with GDN [3]_.
    """
    layers: list[nn.Module] = []
    c = in_channels
    for _ in range(_log2(downsample, "latent_downsample")):
        layers += [nn.Conv2d(c, channels, 5, stride=2, padding=2), GDN(channels)]
        c = channels
    layers.append(nn.Conv2d(c, latent_channels, 3, padding=1))
    return nn.Sequential(*layers)


def synthesis_transform(latent_channels: int, channels: int, out_channels: int, upsample: int) -> nn.Sequential:
    """``g_s``: ``(B, C_r, h, w) → (B, out, h·u, w·u)`` with ``log2(u)`` stride-2 transposed conv + IGDN stages.

    The synthesis transform of Fig. 14 of Harell et al. [1]_, with IGDN [3]_.
    """
    layers: list[nn.Module] = [nn.Conv2d(latent_channels, channels, 3, padding=1), GDN(channels, inverse=True)]
    for _ in range(_log2(upsample, "latent_downsample / out_downsample")):
        layers += [nn.ConvTranspose2d(channels, channels, 5, stride=2, padding=2, output_padding=1),
                   GDN(channels, inverse=True)]
    layers.append(nn.Conv2d(channels, out_channels, 3, padding=1))
    return nn.Sequential(*layers)


class DirectCodec(HyperpriorCodec):
    r"""Image → quantised latent (hyperprior) → a feature tensor at a cut point (direct coding).

    The direct-coding codec of Harell et al. [1]_ (Sec. IV-B, Fig. 14); entropy model: the scale
    hyperprior of Ballé et al. [2]_, or with ``context_model=True`` Fig. 14's context model too.

    Args:
        in_channels: channels of the input image (3 for RGB).
        out_channels: ``C``, channels of the cut-point tensor to synthesise (3 and
            ``out_downsample=1`` reconstruct the image: the full-input codec).
        out_downsample: the cut point's spatial size is the image's divided by this
            (ResNet-20 on CIFAR: 1 after ``layer1``, 2 after ``layer2``).
        latent_channels: ``C_r``; channels: ``N`` of the transforms;
        latent_downsample: the latent's spatial size is the image's divided by this
            (a power of two ≥ ``out_downsample``).
        quant_step, hyper_channels: as in :class:`~rdtheory.codecs.hyperprior.HyperpriorCodec`.
        context_model: True builds :class:`~rdtheory.codecs.context.ContextDirectCodec` instead — the
            autoregressive context model and entropy parameters of Fig. 14 (serial decoding).

    Input: ``(B, in_channels, H, W)``, ``H``, ``W`` divisible by ``latent_downsample·2``.
    Output: ``(B, out_channels, H / out_downsample, W / out_downsample)``.

    >>> codec = DirectCodec(3, 16, out_downsample=2, latent_channels=8, channels=16)
    >>> codec(torch.zeros(2, 3, 32, 32))["output"].shape
    torch.Size([2, 16, 16, 16])
    """

    def __new__(cls, *args, context_model: bool = False, **kwargs):
        # context_model=True builds the paper's full Fig. 14 entropy model (rdtheory.codecs.context)
        if context_model and cls is DirectCodec:
            from .context import ContextDirectCodec
            return super().__new__(ContextDirectCodec)
        return super().__new__(cls)

    def __init__(self, in_channels: int, out_channels: int, *, out_downsample: int = 1, latent_channels: int = 32,
                 channels: int = 64, latent_downsample: int = 4, quant_step: float = 1.0, hyper_channels: int = 32,
                 context_model: bool = False):
        positive_int(latent_downsample, "latent_downsample", "Use a power of two, e.g. 4")
        positive_int(out_downsample, "out_downsample", "Use 1 for the input resolution")
        if latent_downsample % out_downsample or _log2(out_downsample, "out_downsample") > _log2(
                latent_downsample, "latent_downsample"):
            raise ValueError(f"latent_downsample ({latent_downsample}) must be a multiple of out_downsample "
                             f"({out_downsample}): the decoder only upsamples")
        super().__init__(latent_channels, quant_step=quant_step, hyper_channels=hyper_channels,
                         input_multiple=latent_downsample * HYPER_STRIDE)
        self.in_channels = positive_int(in_channels, "in_channels", "Pass 3 for RGB images")
        self.out_channels = positive_int(out_channels, "out_channels", "Pass the cut-point tensor's channel count")
        self.out_downsample = out_downsample
        positive_int(channels, "channels", "Use e.g. 64")
        self.g_a = analysis_transform(in_channels, channels, latent_channels, latent_downsample)
        self.g_s = synthesis_transform(latent_channels, channels, out_channels, latent_downsample // out_downsample)

    def check_input(self, x) -> None:
        self._check_image(x)


def full_input_codec(in_channels: int = 3, *, latent_channels: int = 32, channels: int = 64,
                     latent_downsample: int = 4, quant_step: float = 1.0, hyper_channels: int = 32) -> DirectCodec:
    """The full-input codec: reconstruct the image ``X̂`` (then run the whole task model on it)."""
    return DirectCodec(in_channels, in_channels, out_downsample=1, latent_channels=latent_channels,
                       channels=channels, latent_downsample=latent_downsample, quant_step=quant_step,
                       hyper_channels=hyper_channels)
