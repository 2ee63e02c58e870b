"""Learned codecs for machines (torch; built on CompressAI's entropy models and rANS coder).

- :class:`ModelSplittingCodec` — latent codec at a cut point: quantisation step Q,
  depthwise-separable encoder/decoder, Gaussian scale hyperprior (paper Fig. 12, Eq. 21)
- :class:`RateDistortionLoss`, :func:`rate_bits` — R + λD (Eq. 1) with supervised,
  single-layer MSE, Eq. 22 and Eq. 23 distortions
- :class:`DepthwiseSeparableConv2d`, :class:`DepthwiseSeparableConvTranspose2d`

Importing this package imports torch and compressai; ``import rdtheory`` does not.
See ``docs/codecs.md`` for what is measured and what of issue 8 remains.
"""
from .layers import DepthwiseSeparableConv2d, DepthwiseSeparableConvTranspose2d
from .losses import DISTORTIONS, RateDistortionLoss, rate_bits
from .splitting import ModelSplittingCodec

__all__ = ["DISTORTIONS", "DepthwiseSeparableConv2d", "DepthwiseSeparableConvTranspose2d",
           "ModelSplittingCodec", "RateDistortionLoss", "rate_bits"]
