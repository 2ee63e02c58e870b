r"""Training of codecs for machines: build a run from its config, train it resumably, run λ sweeps.

* :func:`build` makes the :class:`~rdtheory.codecs.system.MachineCodec` (and the scalable
  base layer's :class:`~rdtheory.codecs.scalable.ReconstructionHead`) from a
  :class:`~rdtheory.codecs.config.CodecConfig`, using the task builders in
  :data:`~rdtheory.codecs.tasks.TASKS`.
* :func:`train_codec` — Adam on R + λD (+ β·MSE) (Eq. 1 of [1]_ with the distortions of
  Eqs. 22–23), CompressAI's auxiliary quantile loss on a second optimiser [4]_, cosine
  learning rate set per step from ``(epoch, step)``, the epoch's batch order and
  quantisation noise from ``(seed, epoch)``; the resumable loop, checkpoints and DDP are
  those of :func:`rdtheory._training.fit` (stopping after any epoch and resuming gives the
  same weights as an uninterrupted run).
* :func:`load_codec` — ``model.pt`` (plain data, read with ``weights_only=True``) back into a
  model with the coder tables rebuilt.
* :func:`run` = train (resume) + evaluate on real bitstreams
  (:func:`~rdtheory.codecs.evaluate.evaluate_codec`), writing ``out_dir/result.json``
  atomically; a finished run is not redone. :func:`lambda_sweep` chains runs over λ (each
  warm-started from the previous λ's weights when ``warm_start_epochs`` is set).

Rate unit: bits per input pixel (``B·H·W`` of the image), the paper's bpp. The codecs use
the zero-mean scale hyperprior of [2]_ on CompressAI's entropy models and rANS coder [4]_;
the autoregressive context model of [3]_ would lower the rates further but serialises
decoding, so it is not used.

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
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from .._io import atomic_write_json
from .._training import (cosine, distributed, fit, load_checkpoint, progress_bar, resolve_device, shuffled_batches,
                         wrap_ddp)
from ..vision.paths import repo_path
from .config import CodecConfig
from .direct import DirectCodec, full_input_codec
from .evaluate import evaluate_codec, fit_reconstruction_head
from .losses import RateDistortionLoss
from .scalable import ReconstructionHead
from .splitting import ModelSplittingCodec
from .system import MachineCodec, SplitTaskModel
from .tasks import TASKS, TaskSpec

__all__ = ["CodecConfig", "TASKS", "TaskSpec", "build", "train_codec", "evaluate_codec", "run", "lambda_sweep",
           "load_codec", "fit_reconstruction_head"]

def _make_codec(cfg: CodecConfig, task: SplitTaskModel, x_example: torch.Tensor) -> nn.Module:
    if cfg.approach == "full_input":
        return full_input_codec(x_example.shape[1], latent_channels=cfg.latent_channels, channels=cfg.channels,
                                latent_downsample=cfg.latent_downsample, quant_step=cfg.quant_step,
                                hyper_channels=cfg.hyper_channels)
    with torch.no_grad():
        y = task.run(x_example, taps=(cfg.cut,))[cfg.cut]
    if cfg.approach == "model_splitting":
        return ModelSplittingCodec(y.shape[1], cfg.latent_channels, stride=cfg.stride, quant_step=cfg.quant_step,
                                   hyper_channels=cfg.hyper_channels)
    ratio = x_example.shape[-1] // y.shape[-1]
    return DirectCodec(x_example.shape[1], y.shape[1], out_downsample=ratio, latent_channels=cfg.latent_channels,
                       channels=cfg.channels, latent_downsample=cfg.latent_downsample, quant_step=cfg.quant_step,
                       hyper_channels=cfg.hyper_channels, context_model=cfg.context_model)


class CodecRun(nn.Module):
    """The trainable parts of a run: the machine codec and, for the scalable base, ``G_a``."""

    def __init__(self, system: MachineCodec, head: ReconstructionHead | None):
        super().__init__()
        self.system = system
        self.head = head

    def forward(self, x: torch.Tensor, labels: torch.Tensor, loss: RateDistortionLoss, pixels: int,
                at_cut: bool = False, teacher: torch.Tensor | None = None) -> dict:
        """The loss terms on one batch (:func:`loss_terms`); a forward so DDP can wrap it."""
        return loss_terms(self, loss, x, labels, pixels, at_cut=at_cut, teacher=teacher)


def build(cfg: CodecConfig, x_example: torch.Tensor) -> tuple[CodecRun, RateDistortionLoss]:
    """The run's model (:class:`CodecRun`) and loss from ``cfg`` (``x_example``: one input batch)."""
    cfg.validate()
    task = TASKS[cfg.task].model(cfg)
    for layer in cfg.layers:
        if task.index(layer) < task.index(cfg.cut):
            raise ValueError(f"distillation point {layer!r} is shallower than the cut point {cfg.cut!r}")
    loss = RateDistortionLoss(cfg.lmbda, cfg.distortion, cfg.layers, beta=cfg.beta)
    make_codec = TASKS[cfg.task].codec or _make_codec
    system = MachineCodec(make_codec(cfg, task, x_example), task, cfg.approach, cfg.cut)
    head = None
    if cfg.scalable:
        head = ReconstructionHead(cfg.latent_channels, out_channels=x_example.shape[1], channels=cfg.channels,
                                  upsample=cfg.latent_downsample)
    return CodecRun(system, head), loss


def loss_terms(model: CodecRun, loss: RateDistortionLoss, x: torch.Tensor, labels: torch.Tensor,
               pixels: int, *, at_cut: bool = False, teacher: torch.Tensor | None = None) -> dict:
    """R + λD (+ β·MSE) on one batch: codec forward, back end to the distillation points.

    ``at_cut``: ``x`` is already the cut-point tensor g(X) (cached features, model splitting),
    so the front end is skipped; ``pixels`` stays the image's pixel count (rate in bpp).
    ``teacher``: precomputed task-model logits of ``x`` (the target of ``distortion="kl"``)."""
    system = model.system
    if at_cut:
        out = system.codec(x)
        out["cut"] = out["output"]
    else:
        out = system(x)
    taps = loss.layers if loss.distortion != "supervised" else ("output",)
    estimates = system.back_end(out["cut"], taps)
    with torch.no_grad():
        if loss.distortion == "supervised":
            targets = None
        elif teacher is not None and tuple(taps) == ("output",):
            targets = {"output": teacher}
        else:
            targets = system.task.run(x, start=system.cut if at_cut else "input", taps=taps)
    reconstruction = None
    if loss.beta > 0:
        reconstruction = (model.head(out["z_hat"] * system.codec.quant_step), x)
    return loss(out["likelihoods"], pixels * x.shape[0], targets=targets, estimates=estimates,
                logits=estimates.get("output"), labels=labels, reconstruction=reconstruction)


def _lr_at(cfg: CodecConfig, epoch: int, step: int, steps: int) -> float:
    return cosine(cfg.lr, (epoch + step / steps) / cfg.epochs)


def _param_groups(model: CodecRun):
    main = [p for n, p in model.named_parameters() if p.requires_grad and not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    return main, aux


def train_codec(cfg: CodecConfig, *, device: str | None = "cpu", resume: bool = True, progress: bool = True,
                max_epochs: int | None = None, data=None, log: Callable[[str], None] | None = None) -> dict:
    """Train (or resume) ``cfg``; returns ``{"config", "history", "finished"}`` (also ``out_dir/metrics.json``).

    ``data``: optional ``(x, labels)`` training tensors (tests); otherwise the task's loader.
    ``max_epochs`` stops after that many epochs in this call (the run stays resumable).
    """
    cfg.validate()
    rank, world = distributed()
    dev = resolve_device(device, rank)
    spec = TASKS[cfg.task]
    x_all, y_all = data if data is not None else spec.data(cfg, "train")
    torch.manual_seed(cfg.seed)
    model, loss = build(cfg, x_all[:2])
    pixels = spec.pixels_per_sample(x_all)
    val = _validation_set(cfg, x_all, y_all)
    n_images, teacher = len(x_all), None
    if cfg.cached_features:  # the codec only sees g(X): compute it once (with flips), train on it
        x_all, teacher = train_features(cfg, model.system.task, x_all)
        y_all = torch.cat([y_all, y_all])
    if cfg.init_from:
        _load_portable(model, load_checkpoint(repo_path(cfg.init_from))["model"], cfg.init_from, new_head_ok=True)
    model.to(dev)
    main, aux = _param_groups(model)
    opt, aux_opt = torch.optim.Adam(main, lr=cfg.lr), torch.optim.Adam(aux, lr=cfg.aux_lr)
    net = wrap_ddp(model, dev, world, find_unused_parameters=True)
    config = cfg.as_dict()

    def epoch_fn(epoch: int, gen) -> dict:
        # the quantisation noise of epoch e comes from the global seed fit() set from (seed, e)
        model.train()
        batches = shuffled_batches(n_images, cfg.batch_size, cfg.seed, epoch, rank, world)
        # cached features: each image is seen once per epoch, mirrored with probability 1/2 (rows N.. are flips)
        flip = torch.randint(0, 2, (n_images,), generator=gen) * n_images if cfg.cached_features else None
        sums = {"loss": 0.0, "rate_bpp": 0.0, "distortion": 0.0}
        bar = progress_bar(progress and rank == 0, len(batches),
                           f"{Path(cfg.out_dir).name} epoch {epoch + 1}/{cfg.epochs}")
        for step, idx in enumerate(batches):
            for g in opt.param_groups:
                g["lr"] = _lr_at(cfg, epoch, step, len(batches))
            idx_t = torch.from_numpy(idx)
            if flip is not None:
                idx_t = idx_t + flip[idx_t]
            terms = net(x_all[idx_t].to(dev, torch.float32), y_all[idx_t].to(dev), loss, pixels,
                        at_cut=cfg.cached_features, teacher=None if teacher is None else teacher[idx_t].to(dev))
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            nn.utils.clip_grad_norm_(main, 1.0)
            opt.step()
            aux_loss = model.system.codec.aux_loss()
            aux_opt.zero_grad(set_to_none=True)
            aux_loss.backward()
            aux_opt.step()
            for k in sums:
                sums[k] += float(terms[k].detach()) / len(batches)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(terms['loss']):.3f}", bpp=f"{float(terms['rate_bpp']):.3f}",
                                refresh=False)
        if bar is not None:
            bar.close()
        return {f"train_{k}": v for k, v in sums.items()}

    def final_fn(history: list) -> dict:
        model.eval()
        model.system.codec.update(force=True)
        return {"model": portable_state(model), "config": config, "history": history}

    parts = {"model": model, "optimizer": opt, "aux_optimizer": aux_opt}
    history = fit(out_dir=cfg.out_dir, config=config, parts=parts, epochs=cfg.epochs, seed=cfg.seed,
                  epoch_fn=epoch_fn, metrics_fn=lambda h: _metrics(cfg, h), final_fn=final_fn, device=dev,
                  eval_fn=None if val is None else (lambda _e: validate(model, loss, *val, pixels=pixels, device=dev)),
                  resume=resume, max_epochs=max_epochs, rank=rank, world=world, log=log)
    return _metrics(cfg, history)


def data_key(cfg: CodecConfig) -> str:
    """Cache key of a run's training images and task weights: SHA-256 of both files, subset and seed."""
    from ..vision.paths import find_data
    from .features import file_sha256

    w = file_sha256(find_data(cfg.weights, what="weights"))[:16]
    d = file_sha256(find_data(cfg.data_dir, what="data_dir"))[:16]
    return f"{cfg.task}-w{w}-d{d}-train{cfg.train_n or 'all'}-s{cfg.seed}"


def train_features(cfg: CodecConfig, task: SplitTaskModel, x: torch.Tensor):
    """``(g(X) at cfg.cut, logits)`` for X (rows 0..N-1) and its mirror image (rows N..2N-1),
    cached (float16) by :func:`rdtheory.codecs.features.cut_features` under :func:`data_key`;
    the logits (the teacher of ``distortion="kl"``) are the back end run on those cached
    features (float32, cached beside them)."""
    from .features import cut_features, teacher_logits

    feats = cut_features(task, x, cfg.cut, key=data_key(cfg), flips=True)
    return feats, teacher_logits(task, feats, cfg.cut, key=f"{data_key(cfg)}-{cfg.cut}-flips")


def _validation_set(cfg: CodecConfig, x: torch.Tensor, y: torch.Tensor):
    """``cfg.val_n`` fixed (class-stratified, seed 1) training images for the per-epoch curve, or None."""
    if not cfg.val_n:
        return None
    from ..vision.data import stratified_indices

    idx = torch.from_numpy(stratified_indices(y.numpy(), min(cfg.val_n, len(y)), seed=1))
    return x[idx], y[idx]


@torch.no_grad()
def validate(model: CodecRun, loss: RateDistortionLoss, x: torch.Tensor, y: torch.Tensor, *, pixels: int,
             device="cpu", batch: int = 250) -> dict:
    """Eval-mode (rounded latents) rate estimate in bpp, top-1 and R + λD on ``(x, y)``: the
    per-epoch validation curve (no entropy coding; that is :func:`evaluate_codec`)."""
    was = model.training
    model.eval()
    tot = {"val_bpp_estimate": 0.0, "val_accuracy": 0.0, "val_loss": 0.0}
    for s in range(0, len(x), batch):
        xb, yb = x[s:s + batch].to(device), y[s:s + batch].to(device)
        terms = loss_terms(model, loss, xb, yb, pixels)
        logits = model.system.back_end(model.system(xb)["cut"], ("output",))["output"]
        w = len(xb) / len(x)
        tot["val_bpp_estimate"] += float(terms["rate_bpp"]) * w
        tot["val_loss"] += float(terms["loss"]) * w
        tot["val_accuracy"] += float((logits.argmax(1) == yb).float().mean()) * w
    model.train(was)
    return tot


def _metrics(cfg: CodecConfig, history: list[dict]) -> dict:
    return {"config": cfg.as_dict(), "history": history,
            "finished": bool(history) and history[-1]["epoch"] == cfg.epochs,
            "torch": torch.__version__, "threads": torch.get_num_threads()}


#: Entropy-coder buffers that ``update(force=True)`` derives from the parameters (not stored).
CODER_TABLES = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")


def _derived(key: str) -> bool:
    """Frozen task-model weights (they come from ``cfg.weights``) and the coder's derived tables."""
    return key.startswith("system.task.") or key.rpartition(".")[2] in CODER_TABLES


def portable_state(model: nn.Module) -> dict:
    """What ``model.pt`` stores: the trained weights only (small enough to commit)."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if not _derived(k)}


def _load_portable(model: "CodecRun", state: dict, source, *, new_head_ok: bool = False) -> None:
    """Load trained weights; anything missing must be derived (or, for ``new_head_ok``, a fresh head)."""
    state = {k: v for k, v in state.items() if not _derived(k)}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(f"{source!r} does not fit this config: {err}") from None
    bad = [k for k in missing if not _derived(k) and not (new_head_ok and k.startswith("head."))]
    if unexpected or bad:
        raise ValueError(f"{source!r} does not fit this config (missing {bad}, unexpected {unexpected})"
                         + ("; only a scalable head may be new" if new_head_ok else ""))


def load_codec(path, x_example: torch.Tensor, device="cpu") -> tuple[CodecRun, RateDistortionLoss, CodecConfig]:
    """Load ``model.pt`` written by :func:`train_codec` (never executing code from the file: see
    :func:`rdtheory._training.load_checkpoint`), rebuild the coder tables, eval mode."""
    state = load_checkpoint(path, device)
    cfg = CodecConfig.from_dict(state["config"])
    model, loss = build(cfg, x_example)
    _load_portable(model, state["model"], str(path))
    model.eval()
    model.system.codec.update(force=True)
    return model.to(device), loss, cfg


def run(cfg: CodecConfig, *, device: str | None = "cpu", progress: bool = True, refit_head_epochs: int = 0,
        test=None, train=None, decode_n: int | None = None) -> dict:
    """Train (resuming) and evaluate ``cfg``; writes and returns ``out_dir/result.json``.

    A run whose ``result.json`` exists with the same config (paths compared in their
    portable form) is returned as is. For the scalable base layer, ``refit_head_epochs > 0``
    re-fits ``G_a`` from scratch on the frozen base before measuring PSNR (see
    :func:`~rdtheory.codecs.evaluate.fit_reconstruction_head`).
    """
    out = Path(cfg.out_dir)
    res_path = out / "result.json"
    if res_path.exists():
        res = json.loads(res_path.read_text())
        if res.get("config") == cfg.as_dict():
            return res
    spec = TASKS[cfg.task]
    train = train if train is not None else spec.data(cfg, "train")
    t0 = time.time()
    metrics = train_codec(cfg, device=device, progress=progress, data=train)
    if not metrics["finished"] or distributed()[0] != 0:  # under DDP rank 0 evaluates and writes
        return metrics
    dev = resolve_device(device)
    x_test, y_test = test if test is not None else spec.data(cfg, "test")
    model, _, _ = load_codec(out / "model.pt", x_test[:2], device=dev)
    head_curve = None
    if cfg.scalable and refit_head_epochs:
        head_curve = fit_reconstruction_head(model, cfg, train[0], epochs=refit_head_epochs, device=dev,
                                             progress=progress)
    ev = evaluate_codec(model, x_test, y_test, pixels_per_sample=spec.pixels_per_sample(x_test),
                        to_pixels=spec.to_pixels, device=dev, decode_n=decode_n)
    res = {"config": cfg.as_dict(), **ev, "train_history": metrics["history"],
           "head_refit_mse": head_curve, "seconds": time.time() - t0}
    atomic_write_json(res_path, res)
    return res


def lambda_sweep(cfg: CodecConfig, lmbdas: Sequence[float], *, warm_start_epochs: int | None = None,
                 run_fn=run, **kwargs) -> list[dict]:
    """Run ``cfg`` at each λ in ``lmbdas`` (in order) under ``out_dir/lmbda=<λ>``.

    With ``warm_start_epochs``, every λ after the first starts from the previous λ's
    ``model.pt`` and trains that many epochs (the usual fine-tuning chain; recorded in
    each config's ``init_from``). Finished λs are skipped, so a stopped sweep resumes.
    """
    if not lmbdas or any(not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0) for v in lmbdas):
        raise ValueError(f"lmbdas must be a non-empty list of finite numbers > 0; got {lmbdas!r}")
    results, prev = [], None
    for lm in lmbdas:
        sub = dataclasses.replace(cfg, lmbda=float(lm), out_dir=str(Path(cfg.out_dir) / f"lmbda={lm:g}"))
        if prev is not None and warm_start_epochs:
            sub = dataclasses.replace(sub, init_from=str(Path(prev) / "model.pt"), epochs=warm_start_epochs)
        results.append(run_fn(sub, **kwargs))
        prev = sub.out_dir
    return results
