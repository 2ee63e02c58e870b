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

Names are imported on first use (PEP 562), so ``rdtheory.codecs.cli`` parses arguments without
torch; using any codec imports torch and compressai. ``import rdtheory`` imports neither.
See ``docs/codecs.md``.
"""
import importlib

_EXPORTS = {
    "direct": ("DirectCodec", "full_input_codec"),
    "hyperprior": ("HyperpriorCodec", "stream_bits"),
    "layers": ("DepthwiseSeparableConv2d", "DepthwiseSeparableConvTranspose2d"),
    "losses": ("DISTORTIONS", "RateDistortionLoss", "rate_bits"),
    "scalable": ("EnhancementCodec", "ReconstructionHead"),
    "splitting": ("ModelSplittingCodec",),
    "system": ("APPROACHES", "MachineCodec", "SplitTaskModel"),
    "train": ("CodecConfig", "evaluate_codec", "lambda_sweep", "load_codec", "run", "train_codec"),
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    # lazy: `rdtheory codec --help` (rdtheory.codecs.cli) must import without torch
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
