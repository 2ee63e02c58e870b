r"""Rate–distortion training losses for coding for machines (reference paper Eq. 1, 21–23).

.. math:: \mathcal L = \mathcal R + \lambda\,\mathcal D \qquad \text{(Eq. 1)}

- Rate :math:`\mathcal R` (Eq. 21): :func:`rate_bits` — total :math:`-\log_2` likelihood in
  bits; :class:`RateDistortionLoss` divides by ``num_pixels`` to give bits per pixel (bpp) of
  the *input image*, the paper's rate unit.
- Distortion :math:`\mathcal D` at a distillation point, chosen by ``distortion=``:

  ``"supervised"``
      cross-entropy (nats, mean over the batch) of the back end's logits against the labels
      ``T`` (Sec. IV-A, supervised).
  ``"mse"``
      MSE between the pre-trained tensor ``Y`` and its estimate ``Ŷ`` at one layer.
  ``"multilayer_mse"`` (Eq. 22)
      :math:`\frac1K\sum_{i=1}^K \mathrm{MSE}(Y_i, \hat Y_i)` — each layer's mean weighs the same.
  ``"element_weighted_mse"`` (Eq. 23)
      :math:`\frac{1}{\sum_i E_i}\sum_{i=1}^K \lVert Y_i-\hat Y_i\rVert_2^2`, ``E_i`` the number of
      elements of ``Y_i`` — the MSE of all tensors flattened and concatenated.

Distortions are in squared feature units (MSEs) or nats (cross-entropy); λ converts them to
bits per pixel, so it is in bpp per distortion unit.

Scalable base layer (slides): ``beta > 0`` adds the reconstruction reward
:math:`\beta\,\mathrm{MSE}(\hat X, X)` (``reconstruction=(x_hat, x)`` in ``forward``), giving
:math:`\mathcal R + \lambda_b \mathcal D + \beta\,\mathrm{MSE}(\hat X, X)` with β ≪ λ_b.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Eq. 1: the loss; Eq. 21: the rate; Eqs. 22 and 23: the
   multi-layer distortions; Sec. IV-A: supervised and distillation distortions).
.. [2] Untitled slides on scalable coding and V-information (the text has no title page or
   authors), ``shared/reference/scalable-coding-v-information-slides.txt``; they build on [3]
   (the base-layer reconstruction reward ``beta``).
.. [3] Y. Xu, S. Zhao, J. Song, R. Stewart and S. Ermon, "A Theory of Usable Information under
   Computational Constraints", ICLR 2020.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

DISTORTIONS = ("supervised", "mse", "multilayer_mse", "element_weighted_mse", "kl")


def rate_bits(likelihoods: Mapping[str, torch.Tensor]) -> torch.Tensor:
    r"""Total rate estimate :math:`\sum -\log_2 p` in bits over all entries of ``likelihoods``
    (e.g. ``{"z": ..., "z_h": ...}`` from a codec's ``forward``); a 0-d tensor.

    Eq. 21 of Harell et al. [1]_ (before division by the pixel count).

    >>> round(float(rate_bits({"z": torch.full((1, 4), 0.5)})), 6)
    4.0
    """
    if not isinstance(likelihoods, Mapping) or not likelihoods:
        raise ValueError("likelihoods must be a non-empty mapping name -> tensor (a codec's "
                         "forward()['likelihoods'])")
    return sum(-torch.log2(p).sum() for p in likelihoods.values())


def _as_layer_dict(x, name: str) -> dict:
    if not isinstance(x, Mapping) or not all(isinstance(v, torch.Tensor) for v in x.values()):
        raise ValueError(f"{name} must be a mapping layer name -> torch.Tensor; got {type(x).__name__}")
    return dict(x)


class RateDistortionLoss(nn.Module):
    r""":math:`\mathcal R + \lambda\,\mathcal D` (Eq. 1) with a chosen distortion at chosen layers.

    Eq. 1 of Harell et al. [1]_, with the distortions of its Sec. IV-A and Eqs. 22-23; the ``beta``
    reconstruction reward is the scalable-coding slides' base loss [2]_.

    Args:
        lmbda: λ > 0 (bpp per distortion unit).
        distortion: one of :data:`DISTORTIONS`.
        layers: distillation-point tensor names, e.g. ``("layer2",)`` or the Eq. 22/23 set
            ``("layer2", "layer3")``; ``"mse"`` takes exactly one, ``"supervised"`` none
            (it uses ``logits`` and ``labels``).

    ``forward(likelihoods, num_pixels, *, targets=None, estimates=None, logits=None, labels=None)``:

    - ``likelihoods``: the codec's ``forward()["likelihoods"]``;
    - ``num_pixels``: input-image pixels in the batch (``B·H·W``), giving rate in bpp;
    - ``targets`` / ``estimates``: mappings layer name → tensor (pre-trained ``Y_i`` and the
      back end's ``Ŷ_i`` on the reconstruction), same shape per layer;
    - ``logits`` ``(B, classes)`` and ``labels`` ``(B,)`` int64 for ``"supervised"``.

    - ``reconstruction=(x_hat, x)``: the base layer's image estimate and the image, needed
      when ``beta > 0`` (scalable base loss of the slides).

    Returns ``{"loss", "rate_bpp", "distortion"}`` (0-d tensors), plus ``"reconstruction_mse"``
    when ``beta > 0``.

    Examples
    --------
    >>> loss = RateDistortionLoss(0.1, "mse", layers=("layer2",))
    >>> y = {"layer2": torch.zeros(2, 3)}
    >>> out = loss({"z": torch.full((2, 4), 0.5)}, 8, targets=y, estimates={"layer2": torch.ones(2, 3)})
    >>> [round(float(out[k]), 6) for k in ("rate_bpp", "distortion", "loss")]
    [1.0, 1.0, 1.1]
    """

    def __init__(self, lmbda: float, distortion: str = "mse", layers: Sequence[str] = (), *, beta: float = 0.0):
        super().__init__()
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0 (the reconstruction reward; 0 = none); got {beta!r}")
        self.beta = float(beta)
        if isinstance(lmbda, bool) or not isinstance(lmbda, (int, float)) or not math.isfinite(lmbda) or lmbda <= 0:
            raise ValueError(f"lmbda must be a finite number > 0 (the R + lambda*D trade-off); got {lmbda!r}")
        if distortion not in DISTORTIONS:
            raise ValueError(f"distortion must be one of {DISTORTIONS}; got {distortion!r}")
        if isinstance(layers, str):
            raise ValueError(f"layers must be a sequence of layer names, e.g. ({layers!r},); got the string {layers!r}")
        layers = tuple(layers)
        if len(set(layers)) != len(layers):
            raise ValueError(f"layers has duplicates: {layers}")
        if distortion == "supervised" and layers:
            raise ValueError("distortion='supervised' uses logits and labels; pass layers=()")
        if distortion == "mse" and len(layers) != 1:
            raise ValueError(f"distortion='mse' needs exactly one layer; got {layers}. Use "
                             "'multilayer_mse' (Eq. 22) or 'element_weighted_mse' (Eq. 23) for several")
        if distortion == "kl" and len(layers) != 1:
            raise ValueError(f"distortion='kl' needs exactly one layer of logits, e.g. ('output',); got {layers}")
        if distortion in ("multilayer_mse", "element_weighted_mse") and not layers:
            raise ValueError(f"distortion={distortion!r} needs at least one layer name in layers")
        self.lmbda = float(lmbda)
        self.distortion = distortion
        self.layers = layers

    def _feature_distortion(self, targets, estimates) -> torch.Tensor:
        targets = _as_layer_dict(targets, "targets")
        estimates = _as_layer_dict(estimates, "estimates")
        sq_sums, counts, means = [], [], []
        for layer in self.layers:
            for d, name in ((targets, "targets"), (estimates, "estimates")):
                if layer not in d:
                    raise ValueError(f"unknown layer {layer!r}: not in {name} (available: {sorted(d)}); "
                                     "tap that layer or fix the layers argument")
            y, y_hat = targets[layer], estimates[layer]
            if y.shape != y_hat.shape:
                raise ValueError(f"layer {layer!r}: targets shape {tuple(y.shape)} != estimates shape "
                                 f"{tuple(y_hat.shape)}")
            sq = (y.detach() - y_hat).pow(2).sum()
            sq_sums.append(sq)
            counts.append(y.numel())
            means.append(sq / y.numel())
        if self.distortion == "element_weighted_mse":  # Eq. 23
            return sum(sq_sums) / sum(counts)
        return sum(means) / len(means)  # "mse" (K = 1) and Eq. 22

    def forward(self, likelihoods, num_pixels, *, targets=None, estimates=None, logits=None, labels=None,
                reconstruction=None) -> dict:
        if isinstance(num_pixels, bool) or not isinstance(num_pixels, int) or num_pixels < 1:
            raise ValueError(f"num_pixels must be a positive int (input-image pixels in the batch, B*H*W); "
                             f"got {num_pixels!r}")
        rate = rate_bits(likelihoods) / num_pixels
        if self.distortion == "supervised":
            if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
                raise ValueError("distortion='supervised' needs logits of shape (B, classes); got "
                                 f"{getattr(logits, 'shape', type(logits).__name__)}")
            if not isinstance(labels, torch.Tensor) or labels.shape != logits.shape[:1] or labels.is_floating_point():
                raise ValueError(f"labels must be an integer tensor of shape ({logits.shape[0]},); got "
                                 f"{getattr(labels, 'shape', type(labels).__name__)}")
            dist = F.cross_entropy(logits, labels)
        elif self.distortion == "kl":
            (layer,) = self.layers
            t, e = _as_layer_dict(targets, "targets").get(layer), _as_layer_dict(estimates, "estimates").get(layer)
            if t is None or e is None or t.shape != e.shape or t.ndim != 2:
                raise ValueError(f"distortion='kl' needs targets[{layer!r}] and estimates[{layer!r}], logits of one "
                                 f"shape (B, classes)")
            dist = F.kl_div(F.log_softmax(e, 1), F.log_softmax(t.detach(), 1), log_target=True, reduction="batchmean")
        else:
            if targets is None or estimates is None:
                raise ValueError(f"distortion={self.distortion!r} needs targets= and estimates= mappings")
            dist = self._feature_distortion(targets, estimates)
        out = {"loss": rate + self.lmbda * dist, "rate_bpp": rate, "distortion": dist}
        if self.beta > 0:
            if not isinstance(reconstruction, (tuple, list)) or len(reconstruction) != 2 \
                    or reconstruction[0].shape != reconstruction[1].shape:
                raise ValueError("beta > 0 needs reconstruction=(x_hat, x), two tensors of the same shape")
            x_hat, x = reconstruction
            out["reconstruction_mse"] = F.mse_loss(x_hat, x.detach())
            out["loss"] = out["loss"] + self.beta * out["reconstruction_mse"]
        return out
