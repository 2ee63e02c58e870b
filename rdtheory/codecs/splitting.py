r"""Model-splitting codec for a cut-point feature tensor (reference paper Sec. IV-A, Fig. 12).

A task network is split at a cut point; the feature tensor ``Y`` there (shape
``(B, C, H, W)``) is coded and the back end runs on the reconstruction ``Ŷ``. The latent
encoder ``g_a`` / decoder ``g_s`` are depthwise-separable (``C → C_r`` channels, spatial
stride ``S``, GDN between); entropy coding is the shared scale hyperprior of
:mod:`rdtheory.codecs.hyperprior`.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. IV-A; App. B-A, Fig. 12: the model-splitting
   codec).
.. [2] P. Datta, N. Ahuja, V. S. Somayazulu and O. Tickoo, "A low-complexity approach to
   rate-distortion optimized variable bit-rate compression for split DNN computing", Proc. ICPR,
   pp. 182-188, 2022 (the latent encoder/decoder design and its hyper-parameter search).
.. [3] J. Ballé, D. Minnen, S. Singh, S. J. Hwang and N. Johnston, "Variational image
   compression with a scale hyperprior", ICLR 2018.
.. [4] F. Chollet, "Xception: Deep learning with depthwise separable convolutions", Proc. CVPR,
   2017.
.. [5] J. Ballé, V. Laparra and E. P. Simoncelli, "Density modeling of images using a
   generalized normalization transformation", ICLR 2016 (arXiv:1511.06281) (GDN).
"""
from __future__ import annotations

import torch
from compressai.layers import GDN
from torch import nn

from .hyperprior import HYPER_STRIDE, HyperpriorCodec, positive_int
from .layers import DepthwiseSeparableConv2d, DepthwiseSeparableConvTranspose2d


class ModelSplittingCodec(HyperpriorCodec):
    r"""Latent codec at a cut point: depthwise-separable encoder/decoder + scale hyperprior.

    The model-splitting codec of Harell et al. [1]_ (Sec. IV-A, Fig. 12), with the latent encoder of
    Datta et al. [2]_ and the scale hyperprior of Ballé et al. [3]_.

    Args:
        in_channels: ``C``, channels of the cut-point tensor ``Y``.
        latent_channels: ``C_r``, channels of the coded latent ``Z`` (usually ``< C``).
        stride: ``S``, spatial downsampling of the latent encoder (1 or 2 typical).
        quant_step: ``Q > 0``, quantisation step of ``Z``.
        hyper_channels: channels of the hyper-latent ``Z_h``.

    Input ``Y``: ``(B, C, H, W)`` float, ``H`` and ``W`` divisible by ``S·2`` (the hyperprior
    halves the latent once more). The output ``Ŷ`` has ``Y``'s shape.

    >>> codec = ModelSplittingCodec(16, 4, stride=2, quant_step=0.5)
    >>> out = codec(torch.zeros(2, 16, 8, 8))
    >>> out["output"].shape, sorted(out["likelihoods"])
    (torch.Size([2, 16, 8, 8]), ['z', 'z_h'])
    """

    def __init__(self, in_channels: int, latent_channels: int, *, stride: int = 2,
                 quant_step: float = 1.0, hyper_channels: int = 32):
        self_stride = positive_int(stride, "stride", "Use 1 (no downsampling) or 2")
        super().__init__(latent_channels, quant_step=quant_step, hyper_channels=hyper_channels,
                         input_multiple=self_stride * HYPER_STRIDE)
        self.in_channels = positive_int(in_channels, "in_channels", "Pass the cut-point tensor's channel count")
        self.stride = self_stride
        C, Cr = in_channels, latent_channels
        self.g_a = nn.Sequential(DepthwiseSeparableConv2d(C, C, stride=stride), GDN(C),
                                 DepthwiseSeparableConv2d(C, Cr))
        self.g_s = nn.Sequential(DepthwiseSeparableConvTranspose2d(Cr, C), GDN(C, inverse=True),
                                 DepthwiseSeparableConvTranspose2d(C, C, stride=stride))

    def check_input(self, y) -> None:
        if not isinstance(y, torch.Tensor) or not y.is_floating_point():
            raise ValueError(f"y must be a floating-point torch.Tensor of shape (B, C, H, W); got {type(y).__name__}"
                             + (f" of dtype {y.dtype}" if isinstance(y, torch.Tensor) else ""))
        if y.ndim != 4 or y.shape[1] != self.in_channels:
            raise ValueError(f"y must have shape (B, {self.in_channels}, H, W) (in_channels={self.in_channels}); "
                             f"got {tuple(y.shape)}")
        self._check_spatial(y, "y")
