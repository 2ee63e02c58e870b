r"""Model-splitting codec for a cut-point feature tensor (reference paper Sec. IV-A, Fig. 12).

A task network is split at a cut point; the feature tensor ``Y`` there (shape
``(B, C, H, W)``) is coded and the back end runs on the reconstruction ``Ŷ``:

.. math::
    Z = g_a(Y),\quad \hat Z = Q\cdot\operatorname{round}(Z / Q),\quad
    Z_h = h_a(|Z/Q|),\quad \hat Z_h = \operatorname{round}(Z_h),\quad
    \hat Y = g_s(\hat Z),

with ``g_a`` / ``g_s`` the depthwise-separable latent encoder / decoder (``C → C_r`` channels,
spatial stride ``S``), ``Q`` the quantisation step, and a Gaussian scale hyperprior
(Ballé et al. 2018): :math:`Z/Q \mid \hat Z_h \sim \mathcal N(0, \sigma^2)`,
:math:`\sigma = h_s(\hat Z_h)`, convolved with a unit-width uniform (i.e. the probability
of each quantisation bin), and :math:`\hat Z_h` under a factorised learned prior
(CompressAI's ``EntropyBottleneck``). The rate (paper Eq. 21), in bits:

.. math:: \mathcal R = -\log_2 p(\hat Z_h) - \log_2 p(\hat Z \mid \hat Z_h).

During training (``model.train()``) rounding is replaced by additive uniform noise
(CompressAI's convention), so ``forward`` is differentiable; in ``model.eval()`` it rounds,
and ``forward``'s likelihoods are then the ones the entropy coder uses (up to the coder's
CDF quantisation and per-stream overhead, measured in ``tests/test_codecs.py``).

Naming: the paper's ``Z`` / ``Z_h`` are CompressAI's ``y`` / ``z``; here keys follow the paper.
"""
from __future__ import annotations

import math

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from compressai.models.base import CompressionModel
from torch import nn

from .layers import DepthwiseSeparableConv2d, DepthwiseSeparableConvTranspose2d

#: The hyperprior analysis downsamples the latent by this factor (one stride-2 conv).
HYPER_STRIDE = 2


def _positive_int(value, name: str, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}. {fix}")
    return value


class ModelSplittingCodec(CompressionModel):
    r"""Latent codec at a cut point: depthwise-separable encoder/decoder + scale hyperprior.

    Args:
        in_channels: ``C``, channels of the cut-point tensor ``Y``.
        latent_channels: ``C_r``, channels of the coded latent ``Z`` (usually ``< C``).
        stride: ``S``, spatial downsampling of the latent encoder (1 or 2 typical).
        quant_step: ``Q > 0``, quantisation step of ``Z`` (in units of ``Z``). Larger ``Q``
            means coarser ``Ẑ`` and fewer bits.
        hyper_channels: channels of the hyper-latent ``Z_h``.

    Input ``Y``: ``(B, C, H, W)`` float, ``H`` and ``W`` divisible by ``S·2`` (the hyperprior
    halves the latent once more). Outputs keep ``Y``'s shape.

    >>> codec = ModelSplittingCodec(16, 4, stride=2, quant_step=0.5)
    >>> out = codec(torch.zeros(2, 16, 8, 8))
    >>> out["y_hat"].shape, sorted(out["likelihoods"])
    (torch.Size([2, 16, 8, 8]), ['z', 'z_h'])
    """

    def __init__(self, in_channels: int, latent_channels: int, *, stride: int = 2,
                 quant_step: float = 1.0, hyper_channels: int = 32):
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Pass the cut-point tensor's channel count")
        self.latent_channels = _positive_int(latent_channels, "latent_channels", "Pass C_r >= 1")
        self.stride = _positive_int(stride, "stride", "Use 1 (no downsampling) or 2")
        hyper_channels = _positive_int(hyper_channels, "hyper_channels", "Use e.g. 32")
        if isinstance(quant_step, bool) or not isinstance(quant_step, (int, float)) \
                or not math.isfinite(quant_step) or quant_step <= 0:
            raise ValueError(f"quant_step must be a finite number > 0; got {quant_step!r}")
        self.quant_step = float(quant_step)
        C, Cr, N = in_channels, latent_channels, hyper_channels
        self.g_a = nn.Sequential(DepthwiseSeparableConv2d(C, C, stride=stride), GDN(C),
                                 DepthwiseSeparableConv2d(C, Cr))
        self.g_s = nn.Sequential(DepthwiseSeparableConvTranspose2d(Cr, C), GDN(C, inverse=True),
                                 DepthwiseSeparableConvTranspose2d(C, C, stride=stride))
        self.h_a = nn.Sequential(nn.Conv2d(Cr, N, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(N, N, 5, stride=HYPER_STRIDE, padding=2))
        self.h_s = nn.Sequential(nn.ConvTranspose2d(N, N, 5, stride=HYPER_STRIDE, padding=2, output_padding=1),
                                 nn.ReLU(), nn.Conv2d(N, Cr, 3, padding=1), nn.ReLU())
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional(None)

    # -- validation ---------------------------------------------------------------------------
    def _check_input(self, y) -> None:
        if not isinstance(y, torch.Tensor) or not y.is_floating_point():
            raise ValueError(f"y must be a floating-point torch.Tensor of shape (B, C, H, W); got {type(y).__name__}"
                             + (f" of dtype {y.dtype}" if isinstance(y, torch.Tensor) else ""))
        if y.ndim != 4 or y.shape[1] != self.in_channels:
            raise ValueError(f"y must have shape (B, {self.in_channels}, H, W) (in_channels={self.in_channels}); "
                             f"got {tuple(y.shape)}")
        mult = self.stride * HYPER_STRIDE
        if y.shape[-1] % mult or y.shape[-2] % mult:
            raise ValueError(f"y's H and W must be divisible by stride*{HYPER_STRIDE} = {mult}; got "
                             f"{tuple(y.shape[-2:])}. Pad the features or use another stride")
        if not torch.isfinite(y).all():
            raise ValueError("y contains NaN/inf; check the task model's features")

    # -- training / estimation --------------------------------------------------------------
    def forward(self, y: torch.Tensor) -> dict:
        """Return ``{"y_hat": (B,C,H,W), "likelihoods": {"z": ..., "z_h": ...}}``.

        Likelihoods are per-element bin probabilities; ``-log2`` of them summed is the rate
        estimate in bits (:func:`rdtheory.codecs.losses.rate_bits`).
        """
        self._check_input(y)
        z = self.g_a(y) / self.quant_step
        z_h = self.h_a(torch.abs(z))
        z_h_hat, z_h_likelihoods = self.entropy_bottleneck(z_h)
        scales = self.h_s(z_h_hat)
        z_hat, z_likelihoods = self.gaussian_conditional(z, scales)
        y_hat = self.g_s(z_hat * self.quant_step)
        return {"y_hat": y_hat, "likelihoods": {"z": z_likelihoods, "z_h": z_h_likelihoods}}

    # -- real bitstreams ----------------------------------------------------------------------
    @torch.no_grad()
    def compress(self, y: torch.Tensor) -> dict:
        """Encode ``y`` to bytes: ``{"strings": [z_strings, z_h_strings], "shape": (h, w)}``.

        One byte string per batch element in each list (the latent stream and the side
        stream); ``shape`` is the hyper-latent's spatial size that :meth:`decompress` needs.
        Call ``update()`` (CompressAI) once after training, before compressing.
        """
        self._check_input(y)
        if self.entropy_bottleneck._offset.numel() == 0 or self.gaussian_conditional._offset.numel() == 0:
            raise ValueError("the entropy coder tables are empty; call codec.update(force=True) after "
                             "training and before compress()")
        z = self.g_a(y) / self.quant_step
        z_h = self.h_a(torch.abs(z))
        z_h_strings = self.entropy_bottleneck.compress(z_h)
        z_h_hat = self.entropy_bottleneck.decompress(z_h_strings, z_h.shape[-2:])
        indexes = self.gaussian_conditional.build_indexes(self.h_s(z_h_hat))
        z_strings = self.gaussian_conditional.compress(z, indexes)
        return {"strings": [z_strings, z_h_strings], "shape": tuple(z_h.shape[-2:])}

    @torch.no_grad()
    def decompress(self, strings, shape) -> dict:
        """Decode :meth:`compress`'s output: ``{"y_hat": (B,C,H,W), "z_hat": integer-valued latent}``.

        ``z_hat`` is ``round(Z/Q)`` exactly as the encoder quantised it (bit-exact decoding).
        """
        if not isinstance(strings, (list, tuple)) or len(strings) != 2 or len(strings[0]) != len(strings[1]):
            raise ValueError("strings must be [z_strings, z_h_strings], two lists of equal length, as "
                             "returned by compress()")
        z_h_hat = self.entropy_bottleneck.decompress(strings[1], shape)
        indexes = self.gaussian_conditional.build_indexes(self.h_s(z_h_hat))
        z_hat = self.gaussian_conditional.decompress(strings[0], indexes, z_h_hat.dtype)
        return {"y_hat": self.g_s(z_hat * self.quant_step), "z_hat": z_hat}
