"""Learned codecs for machines (torch; built on CompressAI's entropy models and rANS coder).

Codecs (all share the scale-hyperprior core :class:`HyperpriorCodec`; real bitstreams via
``compress`` / ``decompress``):

- :class:`ModelSplittingCodec` — latent codec at a cut point (paper Fig. 12, Eq. 21)
- :class:`DirectCodec` — image → features at a cut point (direct coding, Sec. IV-B);
  :func:`full_input_codec` — image → image (the full-input baseline)
- :class:`EnhancementCodec`, :class:`ReconstructionHead` — scalable coding (slides): an
  enhancement layer conditioned on the base latent, and the base layer's ``G_a``

Around them:

- :class:`SplitTaskModel`, :class:`MachineCodec` — a frozen task model cut into named points,
  and a codec placed at a cut point (full input / model splitting / direct)
- :class:`RateDistortionLoss`, :func:`rate_bits` — R + λD (Eq. 1) with supervised, MSE, Eq. 22,
  Eq. 23 distortions and the scalable base's β reconstruction reward
- :mod:`.train` — :class:`CodecConfig`, ``train_codec`` (checkpoint/resume, DDP, device),
  ``evaluate_codec`` (real bitstreams), ``run``, ``lambda_sweep``
- :mod:`.baselines` — JPEG / WebP at several qualities (PIL, real file sizes)

Importing this package imports torch and compressai; ``import rdtheory`` does not.
See ``docs/codecs.md``.
"""
from .direct import DirectCodec, full_input_codec
from .hyperprior import HyperpriorCodec, stream_bits
from .layers import DepthwiseSeparableConv2d, DepthwiseSeparableConvTranspose2d
from .losses import DISTORTIONS, RateDistortionLoss, rate_bits
from .scalable import EnhancementCodec, ReconstructionHead
from .splitting import ModelSplittingCodec
from .system import APPROACHES, MachineCodec, SplitTaskModel
from .train import CodecConfig, evaluate_codec, lambda_sweep, load_codec, run, train_codec

__all__ = ["APPROACHES", "CodecConfig", "DISTORTIONS", "DepthwiseSeparableConv2d",
           "DepthwiseSeparableConvTranspose2d", "DirectCodec", "EnhancementCodec", "HyperpriorCodec",
           "MachineCodec", "ModelSplittingCodec", "RateDistortionLoss", "ReconstructionHead", "SplitTaskModel",
           "evaluate_codec", "full_input_codec", "lambda_sweep", "load_codec", "rate_bits", "run", "stream_bits",
           "train_codec"]
