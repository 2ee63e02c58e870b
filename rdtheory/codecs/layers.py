"""Small torch layers used by the codecs (depthwise-separable convolutions).

References
----------
.. [1] F. Chollet, "Xception: Deep learning with depthwise separable convolutions", Proc. CVPR,
   2017.
.. [2] P. Datta, N. Ahuja, V. S. Somayazulu and O. Tickoo, "A low-complexity approach to
   rate-distortion optimized variable bit-rate compression for split DNN computing", Proc. ICPR,
   pp. 182-188, 2022 (the light depthwise-separable latent encoder of the model-splitting codec).
.. [3] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (App. B-A, Fig. 12: where these layers are used).
"""
from __future__ import annotations

from torch import nn


class DepthwiseSeparableConv2d(nn.Sequential):
    r"""Depthwise ``k×k`` convolution (one filter per channel) then a pointwise ``1×1``.

    The depthwise separable convolution of Chollet [1]_.

    Shape: ``(B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride)``
    (``H`` and ``W`` divisible by ``stride``). Parameters: ``in·k² + in·out + in + out``,
    versus ``in·out·k²`` for a full convolution — the light latent encoder of Datta et al.
    used by the paper's model-splitting codec (Fig. 12).

    Examples
    --------
    >>> import torch
    >>> layer = DepthwiseSeparableConv2d(8, 3, stride=2)
    >>> tuple(layer(torch.zeros(2, 8, 12, 12)).shape)
    (2, 3, 6, 6)
    >>> sum(p.numel() for p in layer.parameters())  # 8·3² + 8·3 + 8 + 3, against 8·3·3² = 216
    107
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 3):
        super().__init__(
            nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                      groups=in_channels),
            nn.Conv2d(in_channels, out_channels, 1),
        )


class DepthwiseSeparableConvTranspose2d(nn.Sequential):
    r"""Mirror of :class:`DepthwiseSeparableConv2d`: pointwise ``1×1`` then a depthwise
    transposed ``k×k`` convolution that upsamples by ``stride``.

    The transposed counterpart of Chollet's [1]_ depthwise separable convolution, for the decoder of
    Fig. 12 of Harell et al. [3]_.

    Shape: ``(B, in_channels, H, W) -> (B, out_channels, H·stride, W·stride)``.

    Examples
    --------
    >>> import torch
    >>> tuple(DepthwiseSeparableConvTranspose2d(3, 8, stride=2)(torch.zeros(2, 3, 6, 6)).shape)
    (2, 8, 12, 12)
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 3):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 1),
            nn.ConvTranspose2d(out_channels, out_channels, kernel_size, stride=stride,
                               padding=kernel_size // 2, output_padding=stride - 1, groups=out_channels),
        )
