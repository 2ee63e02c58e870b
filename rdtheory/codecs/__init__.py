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
- :mod:`.config` — :class:`CodecConfig` (one run, stored as plain data); :mod:`.tasks` — the
  task registry ``TASKS``; :mod:`.train` — ``train_codec`` (checkpoint/resume, DDP, device,
  through :func:`rdtheory._training.fit`), ``load_codec``, ``run``, ``lambda_sweep``;
  :mod:`.evaluate` — ``evaluate_codec`` (real bitstreams)
- :mod:`.baselines` — JPEG / WebP at several qualities (PIL, real file sizes)

Importing this package imports nothing heavy: each name loads its module (torch, compressai) on
first use, so ``rdtheory.codecs.cli`` parses arguments without torch; ``import rdtheory`` never
imports it.
See ``docs/codecs.md``.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Figs. 12–14, Eqs. 22–23).
.. [2] J. Ballé, D. Minnen, S. Singh, S. J. Hwang and N. Johnston, "Variational image
   compression with a scale hyperprior", ICLR 2018.
.. [3] D. Minnen, J. Ballé and G. Toderici, "Joint autoregressive and hierarchical priors for
   learned image compression", NeurIPS 2018.
.. [4] J. Bégaint, F. Racapé, S. Feltman and A. Pushparaja, "CompressAI: a PyTorch library and
   evaluation platform for end-to-end compression research", arXiv:2011.03029, 2020.
"""
from .._lazy import attach

_EXPORTS = {
    "config": ("CodecConfig",),
    "direct": ("DirectCodec", "full_input_codec"),
    "evaluate": ("evaluate_codec",),
    "hyperprior": ("HyperpriorCodec", "stream_bits"),
    "layers": ("DepthwiseSeparableConv2d", "DepthwiseSeparableConvTranspose2d"),
    "losses": ("DISTORTIONS", "RateDistortionLoss", "rate_bits"),
    "scalable": ("EnhancementCodec", "ReconstructionHead"),
    "splitting": ("ModelSplittingCodec",),
    "system": ("APPROACHES", "MachineCodec", "SplitTaskModel"),
    "tasks": ("TASKS", "TaskSpec"),
    "train": ("lambda_sweep", "load_codec", "run", "train_codec"),
}
__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
