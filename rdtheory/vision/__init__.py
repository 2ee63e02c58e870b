"""Torch side of rdtheory: CIFAR data, models with the paper's layer names, feature taps, training.

Needs the ``torch`` extra (``pip install -e ".[torch]"``); ``import rdtheory`` never imports
this package. See ``docs/vision.md``.

* :mod:`.paths` — where data and weights are found (argument → environment → user cache →
  the repository's ``../shared/data``) and how paths are recorded (portable); no torch.
* :mod:`.data` — CIFAR-10 JPEG zip / ImageFolder / CIFAR-10/100 python pickles
  (:mod:`.cifar_pickle`) as uint8 arrays, a generated fixture, batching, normalisation and
  augmentation.
* :mod:`.models` — ``vgg16_bn`` (torchvision ``features`` indices), ``resnet50`` (CIFAR stem),
  ``cifar_resnet`` (He et al., option A) and the shipped pretrained ResNet-20/56 loader.
* :mod:`.taps` — forward-hook taps by module name streaming into the ρ accumulator, with a
  group-bootstrap interval (``rho_profile``).
* :mod:`.rho_cache` — per-layer ρ sufficient statistics over a whole split, cached in the user
  cache under the SHA-256 of the weights and data plus the protocol (Table I).
* :mod:`.config` — ``TrainConfig`` and the named configs (no torch); :mod:`.train` — seeded,
  checkpointed, exactly resumable training (CPU / CUDA / DDP) on :func:`rdtheory._training.fit`.
* :mod:`.cli` — ``rdtheory train`` (``add_train_subcommand``, ``main_train``).

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. III-B.2, Table I, Fig. 3).
.. [2] K. Simonyan and A. Zisserman, "Very deep convolutional networks for large-scale image
   recognition", ICLR 2015.
.. [3] K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
   CVPR 2016.
"""
from .._lazy import attach

_EXPORTS = {
    "data": ("JPEG_VARIANT", "MEAN_STD", "ImageArrays", "load_cifar10_jpeg", "load_dataset", "load_image_folder",
             "make_fixture", "stratified_indices"),
    "cifar_pickle": ("download_cifar", "load_cifar_python", "make_cifar_python_fixture"),
    "paths": ("find_data", "portable_path"),
    "config": ("CONFIGS", "TrainConfig", "config_for"),
    "models": ("PAPER_LAYERS", "block_names", "build_model", "cifar_resnet", "load_pretrained_cifar_resnet",
               "resnet50", "vgg16_bn"),
    "taps": ("GroupedRho", "LayerTaps", "Profile", "balanced_groups", "collect_features", "resolve_layers",
             "rho_profile", "stream_layers"),
    "rho_cache": ("LayerStatistics", "cached_statistics", "compute_statistics", "file_sha256", "layer_rho",
                  "statistics_key"),
    "train": ("evaluate", "load_trained", "train"),
}
__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
