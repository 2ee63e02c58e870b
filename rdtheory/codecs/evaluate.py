r"""Evaluation of a trained codec on real bitstreams, and the re-fit of the scalable base's ``G_a``.

* :func:`evaluate_codec` — every test sample is compressed to bytes with the entropy coder
  (CompressAI's rANS, [3]_) and decoded; the task back end runs on the *decoded* tensor.
  Rate in bits per input pixel (the paper's bpp, Figs. 12–14 of [1]_) from the byte counts,
  beside the model's estimate :math:`\sum -\log_2 p`.
* :func:`fit_reconstruction_head` — a fresh ``G_a`` trained by MSE on the frozen base latent
  :math:`\hat Y_b`: how well the base layer alone reconstructs the input.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023.
.. [2] J. Ballé, D. Minnen, S. Singh, S. J. Hwang and N. Johnston, "Variational image
   compression with a scale hyperprior", ICLR 2018.
.. [3] J. Bégaint, F. Racapé, S. Feltman and A. Pushparaja, "CompressAI: a PyTorch library and
   evaluation platform for end-to-end compression research", arXiv:2011.03029, 2020.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import torch

from .._training import progress_bar, shuffled_batches
from .hyperprior import stream_bits
from .scalable import ReconstructionHead

if TYPE_CHECKING:
    from .config import CodecConfig
    from .train import CodecRun

__all__ = ["evaluate_codec", "fit_reconstruction_head", "bootstrap_interval"]

#: Bootstrap resamples of the per-image (bits, hit) pairs behind every reported interval.
N_BOOT = 2000


def bootstrap_interval(values, *, n_boot: int = N_BOOT, level: float = 0.95, seed: int = 0) -> list[float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling the test images;
    ``n_boot`` resamples from ``seed``), as ``[low, high]``."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must be a 1-d sequence of at least 2 per-image numbers; got shape {v.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(1)
    a = (1 - level) / 2
    return [float(np.quantile(means, a)), float(np.quantile(means, 1 - a))]


@torch.no_grad()
def evaluate_codec(model: "CodecRun", x: torch.Tensor, labels: torch.Tensor, *, pixels_per_sample: int,
                   to_pixels: Callable | None = None, batch_size: int = 100, device="cpu",
                   per_sample: bool = False, decode_n: int | None = None) -> dict:
    """Real-bitstream evaluation on ``(x, labels)``.

    Each sample is compressed to its own byte strings (latent + side stream) and decoded; the
    back end runs on the *decoded* tensor. Returns ``bpp`` (bytes·8 / pixels, the coder's
    per-stream flush included), ``bpp_estimate`` (Σ −log2 likelihoods in eval mode),
    ``accuracy`` (top-1 against ``labels``), ``n``, ``decode_exact`` (decoded tensor equals
    the eval-mode forward output, max |difference|), and ``psnr_db`` of the base layer's
    reconstruction ``G_a(Ŷ_b)`` when the run has a head (pixels via ``to_pixels``, peak 1).
    ``disagreement``: the fraction of samples whose decoded prediction differs from the task
    model's own prediction on the uncompressed input (the Hamming distortion of the supervised
    bound :math:`R_T(D)`). ``accuracy_ci95``/``disagreement_ci95``: percentile-bootstrap 95 % interval of the top-1 over the test images
    (:func:`bootstrap_interval`). With ``per_sample=True`` also ``bits_per_sample`` (bits of each sample's streams, flush
    included) and ``correct_per_sample`` (0/1): what a sampling interval on a subset needs.

    ``decode_n``: decode only the batches that start before sample ``decode_n`` (None = all).
    Every sample is still *compressed* (the rate is always from real bytes); for the samples not
    decoded, the back end runs on the eval-mode forward output, which equals the decoded tensor
    (the decoded integer latent is the encoder's, checked on the decoded ones:
    ``decode_max_abs_diff``). CompressAI's per-image decoding costs as much as its encoding, so
    this halves a 10,000-image evaluation. ``decoded_n`` reports how many were decoded.
    """
    model.eval()
    system = model.system
    codec = system.codec
    if codec.entropy_bottleneck._offset.numel() == 0:
        codec.update(force=True)
    bits, est, correct, n, max_diff, sq_err, n_px, decoded = 0, 0.0, 0, 0, 0.0, 0.0, 0, 0
    each_bits, each_correct, each_differ = [], [], []
    for s in range(0, len(x), batch_size):
        xb, yb = x[s:s + batch_size].to(device), labels[s:s + batch_size].to(device)
        enc_in = system.encoder_input(xb)
        comp = codec.compress(enc_in)
        sizes = stream_bits(comp)
        bits += sum(sizes)
        each_bits += sizes
        fwd = codec(enc_in)
        est += float(sum(-torch.log2(p).sum() for p in fwd["likelihoods"].values()))
        if decode_n is None or s < decode_n:
            dec = codec.decompress(comp["strings"], comp["shape"])
            max_diff = max(max_diff, float((dec["output"] - fwd["output"]).abs().max()))
            decoded += len(xb)
        else:
            dec = fwd
        logits = system.back_end(dec["output"], ("output",))["output"]
        hit = (logits.argmax(1) == yb).long()
        ref = system.back_end(enc_in) if system.approach == "model_splitting" else system.task.run(xb)
        each_differ += (logits.argmax(1) != ref["output"].argmax(1)).long().tolist()
        correct += int(hit.sum())
        each_correct += hit.tolist()
        n += len(xb)
        if model.head is not None and to_pixels is not None:
            rec = to_pixels(model.head(dec["z_hat"] * codec.quant_step)).clamp(0, 1)
            sq_err += float((rec - to_pixels(xb)).pow(2).sum())
            n_px += rec.numel()
    res = {"bpp": bits / (n * pixels_per_sample), "bpp_estimate": est / (n * pixels_per_sample),
           "accuracy": correct / n, "n": n, "decode_max_abs_diff": max_diff, "decoded_n": decoded}
    res["disagreement"] = sum(each_differ) / n
    if n >= 2:
        res["accuracy_ci95"] = bootstrap_interval(each_correct)
        res["disagreement_ci95"] = bootstrap_interval(each_differ)
    if per_sample:
        res["bits_per_sample"], res["correct_per_sample"] = each_bits, each_correct
    if n_px:
        res["psnr_db"] = 10 * math.log10(1.0 / (sq_err / n_px))
    return res


def fit_reconstruction_head(model: "CodecRun", cfg: "CodecConfig", x: torch.Tensor, *, epochs: int = 2,
                            lr: float = 1e-3, device="cpu", progress: bool = True) -> list[float]:
    """Train a fresh ``G_a`` on the *frozen* base latent by MSE (the β = 0 baseline's reconstruction,
    and a fair re-fit for every β): measures how well ``Ŷ_b`` can reconstruct ``X``.
    Returns the per-epoch mean MSE (normalised-input units)."""
    torch.manual_seed(cfg.seed + 1)
    model.head = ReconstructionHead(cfg.latent_channels, out_channels=x.shape[1], channels=cfg.channels,
                                    upsample=cfg.latent_downsample).to(device)
    codec = model.system.codec
    codec.eval()
    opt = torch.optim.Adam(model.head.parameters(), lr=lr)
    curve = []
    for epoch in range(epochs):
        tot = 0.0
        batches = shuffled_batches(len(x), cfg.batch_size, cfg.seed + 7, epoch)
        bar = progress_bar(progress, len(batches), f"G_a re-fit epoch {epoch + 1}/{epochs}")
        for step, idx in enumerate(batches):
            for g in opt.param_groups:
                g["lr"] = 0.5 * lr * (1 + math.cos(math.pi * (epoch + step / len(batches)) / epochs))
            xb = x[torch.from_numpy(idx)].to(device)
            with torch.no_grad():
                z = torch.round(codec.g_a(xb) / codec.quant_step) * codec.quant_step
            mse = (model.head(z) - xb).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            mse.backward()
            opt.step()
            tot += float(mse.detach()) / len(batches)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        curve.append(tot)
    model.head.eval()
    return curve

