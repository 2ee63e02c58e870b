r"""Training and evaluation of the scalable enhancement layer on a frozen base layer (slides, Fig. 5).

The base layer (a scalable :class:`~rdtheory.codecs.direct.DirectCodec` trained by
:func:`rdtheory.codecs.train.run` with ``scalable=True``) is frozen; its dequantised latent
:math:`\hat Y_b = Q_b\,\mathrm{round}(g_a(X)/Q_b)` is side information both ends have. The
enhancement layer (:class:`~rdtheory.codecs.scalable.EnhancementCodec`) is trained on the
slides' enhancement loss

.. math:: L_e = \lambda_e\,\mathbb E\,\mathrm{MSE}(\hat X, X) + \hat h(\hat Y_e \mid \hat Y_b)

(rate in bits per image pixel, MSE on the task model's normalised input), resumably with
:func:`rdtheory._training.fit` (``last.pt`` after every epoch, ``model.pt`` at the end).
:func:`evaluate_enhancement` codes every test image as real bitstreams (base streams + the
enhancement's streams, one pair per image) and reports the total rate and the PSNR of the
decoded reconstruction; the slides' comparison is PSNR at *total* rate (base + enhancement).

With ``base=None`` the same loop trains a **standalone** image codec (no side information):
an :class:`EnhancementCodec` is not used then but the full-input ``DirectCodec(3, 3)`` of the
same size, the slides' "standalone method with no side-information".

References
----------
.. [1] Untitled slides on scalable coding and V-information,
   ``shared/reference/scalable-coding-v-information-slides.txt`` (enhancement loss; Figs. 3–5).
.. [2] H. Choi and I. V. Bajić, "Scalable image coding for humans and machines", IEEE
   Trans. Image Process. 31:2739-2754, 2022.
.. [3] J. Ballé, D. Minnen, S. Singh, S. J. Hwang and N. Johnston, "Variational image
   compression with a scale hyperprior", ICLR 2018.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import torch
from torch import nn

from .._io import atomic_write_json
from .._training import cosine, fit, load_checkpoint, progress_bar, shuffled_batches
from ..vision.paths import portable_path, repo_path
from .direct import DirectCodec
from .hyperprior import positive_float, stream_bits
from .losses import rate_bits
from .scalable import EnhancementCodec

__all__ = ["EnhancementConfig", "base_latent", "train_enhancement", "load_enhancement", "evaluate_enhancement",
           "run_enhancement", "psnr_db"]


@dataclasses.dataclass(frozen=True)
class EnhancementConfig:
    """One enhancement-layer (or standalone, ``base=None``) run.

    ``base``: the frozen base layer's ``model.pt`` (portable path), or None for a standalone
    image codec; ``lmbda``: λ_e (bpp per unit of normalised-input MSE); codec size as in
    :class:`~rdtheory.codecs.config.CodecConfig`; data from ``task``/``data_dir``/``train_n``/``test_n``
    (the base's own config when a base is given); ``context_model``: the standalone codec with the
    autoregressive context model of Fig. 14 (:mod:`rdtheory.codecs.context`). ``init_from``: a ``model.pt`` of this kind to
    start from (a λ chain).
    """

    base: str | None
    lmbda: float
    task: str = "cifar10-resnet20"
    data_dir: str = "cifar10-jpeg.zip"
    weights: str = "cifar10-resnet-weights/resnet20-12fca82f.th"
    train_n: int | None = 5000
    test_n: int | None = 2000
    latent_channels: int = 16
    channels: int = 32
    latent_downsample: int = 4
    quant_step: float = 0.05
    hyper_channels: int = 32
    context_model: bool = False
    epochs: int = 4
    batch_size: int = 64
    lr: float = 5e-3
    aux_lr: float = 1e-3
    seed: int = 0
    init_from: str | None = None
    out_dir: str = "experiments/checkpoints/codecs_scalable/enh"

    def validate(self) -> "EnhancementConfig":
        positive_float(self.lmbda, "lmbda")
        positive_float(self.lr, "lr")
        if self.base is not None and not repo_path(self.base).exists():
            raise ValueError(f"base must be the base layer's model.pt; {self.base!r} does not exist. Train the base "
                             "with rdtheory.codecs.train.run(scalable=True) first")
        return self

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("base", "init_from", "out_dir", "data_dir", "weights"):
            d[k] = portable_path(d[k])
        if not d["context_model"]:  # absent = False: records written before the field existed still match
            del d["context_model"]
        return d

    def codec_config(self):
        """A :class:`~rdtheory.codecs.config.CodecConfig` with this run's data fields (for the task loaders)."""
        from .config import CodecConfig
        return CodecConfig(task=self.task, data_dir=self.data_dir, weights=self.weights, train_n=self.train_n,
                           test_n=self.test_n, seed=self.seed)


def make_codec(cfg: EnhancementConfig, base_channels: int | None) -> nn.Module:
    """The enhancement codec (conditioned on ``base_channels``), or the standalone one (None)."""
    kw = dict(latent_channels=cfg.latent_channels, channels=cfg.channels, latent_downsample=cfg.latent_downsample,
              quant_step=cfg.quant_step, hyper_channels=cfg.hyper_channels)
    if base_channels is None:
        return DirectCodec(3, 3, out_downsample=1, context_model=cfg.context_model, **kw)
    if cfg.context_model:
        raise ValueError("context_model=True is only available for the standalone codec (base=None)")
    return EnhancementCodec(base_channels, **kw)


def load_base(path, x_example: torch.Tensor):
    """The frozen base layer (a :class:`~rdtheory.codecs.train.CodecRun`, eval mode, coder tables built)."""
    from .train import load_codec
    model, _, cfg = load_codec(repo_path(path), x_example)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, cfg


@torch.no_grad()
def base_latent(base, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    r""":math:`\hat Y_b = Q_b\,\mathrm{round}(g_a(X)/Q_b)` — exactly what the base bitstream decodes to
    (the hyperprior decodes the integer latent bit-exactly, ``tests/test_codecs.py``)."""
    codec = base.system.codec
    out = [torch.round(codec.g_a(x[s:s + batch_size]) / codec.quant_step) * codec.quant_step
           for s in range(0, len(x), batch_size)]
    return torch.cat(out)


def _data(cfg: EnhancementConfig, split: str):
    from .tasks import TASKS
    return TASKS[cfg.task].data(cfg.codec_config(), split)


def _with_base_data(cfg: EnhancementConfig) -> EnhancementConfig:
    """The base's data fields (so the enhancement trains and is tested on the base's images)."""
    if cfg.base is None:
        return cfg
    state = load_checkpoint(repo_path(cfg.base))
    b = state["config"]
    return dataclasses.replace(cfg, task=b["task"], data_dir=b["data_dir"], weights=b["weights"],
                               train_n=b["train_n"], test_n=b["test_n"])


def train_enhancement(cfg: EnhancementConfig, *, progress: bool = False, data=None) -> dict:
    """Train (resuming) ``cfg`` on ``L_e`` (or R + λ·MSE for the standalone); returns the metrics dict.

    ``data``: optional ``(x, labels)`` training tensors (tests); otherwise the task's loader.
    """
    cfg = _with_base_data(cfg.validate())
    x_all, _ = data if data is not None else _data(cfg, "train")
    torch.manual_seed(cfg.seed)
    cond = None
    if cfg.base is not None:
        base, _ = load_base(cfg.base, x_all[:2])
        cond = base_latent(base, x_all)
    codec = make_codec(cfg, None if cond is None else cond.shape[1])
    if cfg.init_from:
        nn.Module.load_state_dict(codec, _portable(load_checkpoint(repo_path(cfg.init_from))["model"]), strict=False)
    main = [p for n, p in codec.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in codec.named_parameters() if n.endswith(".quantiles")]
    opt, aux_opt = torch.optim.Adam(main, lr=cfg.lr), torch.optim.Adam(aux, lr=cfg.aux_lr)
    pixels = x_all.shape[-2] * x_all.shape[-1]
    config = cfg.as_dict()

    def epoch_fn(epoch: int, _gen) -> dict:
        codec.train()
        batches = shuffled_batches(len(x_all), cfg.batch_size, cfg.seed, epoch)
        sums = {"loss": 0.0, "rate_bpp": 0.0, "mse": 0.0}
        bar = progress_bar(progress, len(batches), f"{Path(cfg.out_dir).name} epoch {epoch + 1}/{cfg.epochs}")
        for step, idx in enumerate(batches):
            for g in opt.param_groups:
                g["lr"] = cosine(cfg.lr, (epoch + step / len(batches)) / cfg.epochs)
            idx_t = torch.from_numpy(idx)
            xb = x_all[idx_t]
            out = codec(xb) if cond is None else codec(xb, cond[idx_t])
            rate = rate_bits(out["likelihoods"]) / (pixels * len(xb))
            mse = (out["output"] - xb).pow(2).mean()
            loss = rate + cfg.lmbda * mse
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(main, 1.0)
            opt.step()
            aux_loss = codec.aux_loss()
            aux_opt.zero_grad(set_to_none=True)
            aux_loss.backward()
            aux_opt.step()
            for k, v in (("loss", loss), ("rate_bpp", rate), ("mse", mse)):
                sums[k] += float(v.detach()) / len(batches)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return {f"train_{k}": v for k, v in sums.items()}

    def metrics(history):
        return {"config": config, "history": history, "finished": bool(history) and history[-1]["epoch"] == cfg.epochs}

    def final_fn(history):
        codec.eval()
        codec.update(force=True)
        return {"model": _portable(codec.state_dict()), "config": config, "history": history}

    history = fit(out_dir=cfg.out_dir, config=config, parts={"model": codec, "optimizer": opt, "aux_optimizer": aux_opt},
                  epochs=cfg.epochs, seed=cfg.seed, epoch_fn=epoch_fn, metrics_fn=metrics, final_fn=final_fn)
    return metrics(history)


def _portable(state: dict) -> dict:
    from .train import CODER_TABLES
    return {k: v.detach().cpu() for k, v in state.items() if k.rpartition(".")[2] not in CODER_TABLES}


def load_enhancement(path) -> tuple[nn.Module, EnhancementConfig]:
    """``model.pt`` of :func:`train_enhancement` back into a codec (eval mode, coder tables built)."""
    state = load_checkpoint(repo_path(path))
    cfg = EnhancementConfig(**state["config"])
    base_channels = None
    if cfg.base is not None:
        base_channels = load_checkpoint(repo_path(cfg.base))["config"]["latent_channels"]
    codec = make_codec(cfg, base_channels)
    # nn.Module's loader: CompressAI's own one insists on the derived coder tables, rebuilt by update()
    missing, unexpected = nn.Module.load_state_dict(codec, state["model"], strict=False)
    from .train import CODER_TABLES
    if unexpected or [k for k in missing if k.rpartition(".")[2] not in CODER_TABLES]:
        raise ValueError(f"{path!r} does not fit its own config (missing {missing}, unexpected {unexpected})")
    codec.eval()
    codec.update(force=True)
    return codec, cfg


def psnr_db(mse: float, peak: float = 1.0) -> float:
    """PSNR in dB of a pooled mean squared error on pixels in [0, peak]: ``10 log10(peak² / mse)``."""
    if not (mse > 0 and math.isfinite(mse)):
        raise ValueError(f"mse must be finite and > 0; got {mse!r}")
    return 10 * math.log10(peak * peak / mse)


@torch.no_grad()
def evaluate_enhancement(codec: nn.Module, cfg: EnhancementConfig, x: torch.Tensor, *, batch_size: int = 100,
                         per_image: bool = False) -> dict:
    """Real bitstreams over ``x``: base streams (when there is a base) + this layer's streams per image.

    Returns ``bpp_base``, ``bpp_enhancement``, ``bpp_total`` (one latent and one side stream per
    image per layer, flush included), ``bpp_estimate_enhancement``, ``psnr_db`` of the decoded
    reconstruction (pixels clamped to [0, 1], pooled MSE), ``decode_max_abs_diff`` (decoded vs
    eval-mode forward output), ``n``; with ``per_image=True`` also ``bits_per_image`` (both layers) and
    ``mse_per_image`` (pixels in [0, 1]): what a sampling interval on a subset needs.
    """
    from .tasks import TASKS
    to_pixels = TASKS[cfg.task].to_pixels
    base = load_base(cfg.base, x[:2])[0] if cfg.base is not None else None
    bits_b, bits_e, est, sq, n_px, diff = 0, 0, 0.0, 0.0, 0, 0.0
    each_bits, each_mse = [], []
    for s in range(0, len(x), batch_size):
        xb = x[s:s + batch_size]
        cond, sizes_b = None, [0] * len(xb)
        if base is not None:
            comp_b = base.system.codec.compress(xb)
            sizes_b = stream_bits(comp_b)
            bits_b += sum(sizes_b)
            dec_b = base.system.codec.decompress(comp_b["strings"], comp_b["shape"])
            cond = dec_b["z_hat"] * base.system.codec.quant_step
        comp = codec.compress(xb, cond) if cond is not None else codec.compress(xb)
        sizes_e = stream_bits(comp)
        bits_e += sum(sizes_e)
        each_bits += [a + b for a, b in zip(sizes_b, sizes_e)]
        dec = codec.decompress(comp["strings"], comp["shape"], cond) if cond is not None else \
            codec.decompress(comp["strings"], comp["shape"])
        fwd = codec(xb, cond) if cond is not None else codec(xb)
        est += float(rate_bits(fwd["likelihoods"]))
        diff = max(diff, float((dec["output"] - fwd["output"]).abs().max()))
        rec = to_pixels(dec["output"]).clamp(0, 1)
        err = (rec - to_pixels(xb)).pow(2)
        sq += float(err.sum())
        n_px += rec.numel()
        each_mse += err.flatten(1).mean(1).tolist()
    px = len(x) * x.shape[-2] * x.shape[-1]
    extra = {"bits_per_image": each_bits, "mse_per_image": each_mse} if per_image else {}
    return extra | {"bpp_base": bits_b / px, "bpp_enhancement": bits_e / px, "bpp_total": (bits_b + bits_e) / px,
            "bpp_estimate_enhancement": est / px, "psnr_db": psnr_db(sq / n_px), "decode_max_abs_diff": diff,
            "n": len(x)}


def run_enhancement(cfg: EnhancementConfig, *, progress: bool = False, train=None, test=None) -> dict:
    """Train (resuming) and evaluate ``cfg``; writes and returns ``out_dir/result.json`` (a finished run is read)."""
    out = Path(cfg.out_dir)
    res_path = out / "result.json"
    full = _with_base_data(cfg.validate())
    if res_path.exists():
        res = json.loads(res_path.read_text())
        if res.get("config") == full.as_dict():
            return res
    t0 = time.time()
    metrics = train_enhancement(cfg, progress=progress, data=train)
    if not metrics["finished"]:
        return metrics
    codec, full = load_enhancement(out / "model.pt")
    x_test, _ = test if test is not None else _data(full, "test")
    res = {"config": full.as_dict(), **evaluate_enhancement(codec, full, x_test), "train_history": metrics["history"],
           "seconds": time.time() - t0}
    atomic_write_json(res_path, res)
    return res
