r"""The shared entropy-coding core of every learned codec here: scale hyperprior + rANS.

A codec maps an input tensor ``X`` (a cut-point feature tensor, or an image) to a latent
``Z = g_a(X)``, quantises it with step ``Q`` and codes it under a Gaussian scale hyperprior
(Ballé et al. 2018), then synthesises an output ``g_s(Ẑ)`` (a feature tensor, or an image):

.. math::
    \tilde Z = Z / Q,\quad \hat Z = \operatorname{round}(\tilde Z),\quad
    Z_h = h_a(|\tilde Z|),\quad \hat Z_h = \operatorname{round}(Z_h),\quad
    \tilde Z \mid \hat Z_h \sim \mathcal N(0, \sigma^2),\ \sigma = h_s(\hat Z_h),\quad
    \text{output} = g_s(Q\,\hat Z),

with :math:`\hat Z_h` under a factorised learned prior (CompressAI's ``EntropyBottleneck``).
The rate (paper Eq. 21), in bits:

.. math:: \mathcal R = -\log_2 p(\hat Z_h) - \log_2 p(\hat Z \mid \hat Z_h).

In ``train()`` mode rounding is replaced by additive uniform noise (CompressAI), so
``forward`` is differentiable; in ``eval()`` mode it rounds, and ``forward``'s likelihoods are
the ones the entropy coder uses (up to the coder's 16-bit CDFs, its 64-level scale table and
a 30–65-bit flush per stream, measured in ``tests/test_codecs.py``).

A *conditional* codec (the scalable enhancement layer) also receives a ``condition`` tensor
(the decoded base latent) at both ends: subclasses override :meth:`HyperpriorCodec.scales`
and :meth:`HyperpriorCodec.synthesis` to use it, so the rate becomes
:math:`-\log_2 p(\hat Z \mid \hat Z_h, \text{condition})`.

Naming: the paper's ``Z`` / ``Z_h`` are CompressAI's ``y`` / ``z``; keys follow the paper.

References
----------
.. [1] J. Ballé, D. Minnen, S. Singh, S. J. Hwang and N. Johnston, "Variational image
   compression with a scale hyperprior", ICLR 2018 (the Gaussian scale hyperprior, ``h_a`` /
   ``h_s``, and additive uniform noise for rounding in training).
.. [2] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Eq. 21: the rate).
.. [3] J. Bégaint, F. Racapé, S. Feltman and A. Pushparaja, "CompressAI: a PyTorch library and
   evaluation platform for end-to-end compression research", arXiv:2011.03029, 2020
   (``CompressionModel``, ``EntropyBottleneck``, ``GaussianConditional`` and its rANS coder).
.. [4] J. Duda, "Asymmetric numeral systems", arXiv:0902.0271, 2009 (rANS, the entropy coder of
   the bitstreams).
"""
from __future__ import annotations

import math

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.models.base import CompressionModel
from torch import nn

#: The hyperprior analysis downsamples the latent by this factor (one stride-2 conv).
HYPER_STRIDE = 2


def positive_int(value, name: str, fix: str) -> int:
    """``value`` if it is an int ≥ 1, else a ValueError naming ``name`` and the fix."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}. {fix}")
    return value


def positive_float(value, name: str) -> float:
    """``value`` as a float if it is finite and > 0, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def hyper_analysis(latent_channels: int, hyper_channels: int) -> nn.Module:
    """``h_a``: ``|Z̃|`` (B, C_r, h, w) → ``Z_h`` (B, N, h/2, w/2).

    The hyper-analysis ``h_a`` of Ballé et al. [1]_ with one stride-2 stage instead of two.
    """
    return nn.Sequential(nn.Conv2d(latent_channels, hyper_channels, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(hyper_channels, hyper_channels, 5, stride=HYPER_STRIDE, padding=2))


def hyper_synthesis(hyper_channels: int, latent_channels: int) -> nn.Module:
    """``h_s``: ``Ẑ_h`` (B, N, h/2, w/2) → scales σ ≥ 0 (B, C_r, h, w).

    The hyper-synthesis ``h_s`` of Ballé et al. [1]_ with one stride-2 stage instead of two.
    """
    return nn.Sequential(nn.ConvTranspose2d(hyper_channels, hyper_channels, 5, stride=HYPER_STRIDE, padding=2,
                                            output_padding=1),
                         nn.ReLU(), nn.Conv2d(hyper_channels, latent_channels, 3, padding=1), nn.ReLU())


class HyperpriorCodec(CompressionModel):
    """Base class: subclasses set ``g_a``, ``g_s`` and implement :meth:`check_input`.

    The scale-hyperprior codec of Ballé et al. [1]_ on CompressAI [3]_; its rate is Eq. 21 of Harell
    et al. [2]_.

    Args:
        latent_channels: ``C_r``, channels of the coded latent ``Z``.
        quant_step: ``Q > 0``, quantisation step of ``Z`` (in units of ``Z``); larger ``Q``
            means coarser ``Ẑ`` and fewer bits.
        hyper_channels: ``N``, channels of the hyper-latent ``Z_h``.
        input_multiple: ``H`` and ``W`` of the input must be multiples of this (the total
            downsampling of ``g_a`` times :data:`HYPER_STRIDE`).
    """

    def __init__(self, latent_channels: int, *, quant_step: float, hyper_channels: int, input_multiple: int):
        super().__init__()
        self.latent_channels = positive_int(latent_channels, "latent_channels", "Pass C_r >= 1")
        self.hyper_channels = positive_int(hyper_channels, "hyper_channels", "Use e.g. 32")
        self.quant_step = positive_float(quant_step, "quant_step")
        self.input_multiple = input_multiple
        self.h_a = hyper_analysis(latent_channels, hyper_channels)
        self.h_s = hyper_synthesis(hyper_channels, latent_channels)
        self.entropy_bottleneck = EntropyBottleneck(hyper_channels)
        self.gaussian_conditional = GaussianConditional(None)

    # -- hooks for subclasses -----------------------------------------------------------------
    def check_input(self, x) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def _check_spatial(self, x: torch.Tensor, name: str) -> None:
        m = self.input_multiple
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"{name}'s H and W must be divisible by {m} (the codec's total downsampling); got "
                             f"{tuple(x.shape[-2:])}. Pad the input or use another stride")
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains NaN/inf")

    def _check_image(self, x) -> None:
        """Input check of the image codecs (``self.in_channels`` channels)."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim != 4 \
                or x.shape[1] != self.in_channels:
            raise ValueError(f"x must be a floating-point image tensor of shape (B, {self.in_channels}, H, W); got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        self._check_spatial(x, "x")

    def hyper_input(self, z: torch.Tensor) -> torch.Tensor:
        """What ``h_a`` sees: ``|Z̃|`` for this zero-mean prior (a mean-scale prior, e.g. the context
        model of :mod:`rdtheory.codecs.context`, overrides it with ``Z̃`` itself)."""
        return torch.abs(z)

    def scales(self, z_h_hat: torch.Tensor, condition=None) -> torch.Tensor:
        """σ of ``Z̃ | Ẑ_h`` (and the condition, in conditional subclasses)."""
        return self.h_s(z_h_hat)

    def synthesis(self, z_hat: torch.Tensor, condition=None) -> torch.Tensor:
        """The decoder output from the dequantised latent ``Q·Ẑ``."""
        return self.g_s(z_hat * self.quant_step)

    # -- training / estimation ------------------------------------------------------------------
    def forward(self, x: torch.Tensor, condition=None) -> dict:
        """``{"output": decoder output, "z_hat": quantised latent Ẑ (or its noisy proxy),
        "likelihoods": {"z": ..., "z_h": ...}}``.

        Likelihoods are per-element bin probabilities; ``-log2`` of them summed is the rate
        estimate in bits (:func:`rdtheory.codecs.losses.rate_bits`).
        """
        self.check_input(x)
        z = self.g_a(x) / self.quant_step
        z_h_hat, z_h_likelihoods = self.entropy_bottleneck(self.h_a(self.hyper_input(z)))
        z_hat, z_likelihoods = self.gaussian_conditional(z, self.scales(z_h_hat, condition))
        return {"output": self.synthesis(z_hat, condition), "z_hat": z_hat,
                "likelihoods": {"z": z_likelihoods, "z_h": z_h_likelihoods}}

    # -- real bitstreams --------------------------------------------------------------------------
    def _check_tables(self) -> None:
        if self.entropy_bottleneck._offset.numel() == 0 or self.gaussian_conditional._offset.numel() == 0:
            raise ValueError("the entropy coder tables are empty; call codec.update(force=True) after "
                             "training and before compress()")

    @torch.no_grad()
    def compress(self, x: torch.Tensor, condition=None) -> dict:
        """Encode to bytes: ``{"strings": [z_strings, z_h_strings], "shape": (h, w)}``.

        One byte string per batch element in each list (the latent stream and the side
        stream); ``shape`` is the hyper-latent's spatial size that :meth:`decompress` needs.
        Call ``update(force=True)`` (CompressAI) once after training, before compressing.
        """
        self.check_input(x)
        self._check_tables()
        z = self.g_a(x) / self.quant_step
        z_h = self.h_a(self.hyper_input(z))
        z_h_strings = self.entropy_bottleneck.compress(z_h)
        z_h_hat = self.entropy_bottleneck.decompress(z_h_strings, z_h.shape[-2:])
        indexes = self.gaussian_conditional.build_indexes(self.scales(z_h_hat, condition))
        z_strings = self.gaussian_conditional.compress(z, indexes)
        return {"strings": [z_strings, z_h_strings], "shape": tuple(z_h.shape[-2:])}

    @torch.no_grad()
    def decompress(self, strings, shape, condition=None) -> dict:
        """Decode :meth:`compress`'s output: ``{"output": decoder output, "z_hat": integer latent}``.

        ``z_hat`` is ``round(Z/Q)`` exactly as the encoder quantised it (bit-exact decoding).
        """
        if not isinstance(strings, (list, tuple)) or len(strings) != 2 or len(strings[0]) != len(strings[1]):
            raise ValueError("strings must be [z_strings, z_h_strings], two lists of equal length, as "
                             "returned by compress()")
        z_h_hat = self.entropy_bottleneck.decompress(strings[1], shape)
        indexes = self.gaussian_conditional.build_indexes(self.scales(z_h_hat, condition))
        z_hat = self.gaussian_conditional.decompress(strings[0], indexes, z_h_hat.dtype)
        return {"output": self.synthesis(z_hat, condition), "z_hat": z_hat}


def stream_bits(compressed: dict) -> list[int]:
    """Bits of each batch element's bitstreams (latent + side stream) from :meth:`compress`.

    The streams are CompressAI's [3]_ rANS [4]_ bitstreams, so these are real coded sizes.
    """
    z_strings, z_h_strings = compressed["strings"]
    return [8 * (len(a) + len(b)) for a, b in zip(z_strings, z_h_strings)]
