"""Experiment 2 of issue 8: learned codecs for machines on CIFAR-10 with the shipped ResNet-20.

Sweeps (each 5 λ, rate from real bitstreams, top-1 accuracy of the pretrained ResNet-20 on
the decoded tensor; CIFAR-10 (JPEG q75 re-export), stratified subsets, see ``--train-n``):

* the cut × distillation matrix: cut points C1 = ``layer1`` and C2 = ``layer2`` × distillation
  points ``layer2`` (MSE), ``layer3`` (MSE) and the output (supervised cross-entropy), for
  model splitting (``splitting-*``, run by default; C1 → layer2 is the BD anchor) and for
  direct coding (``direct-*``, the same matrix — it learns the front end from pixels, far
  slower on CPU, so it is opt-in);
* the scalable base layer (direct, C2 → output, supervised) with β = 0, 0.01 and 1, its
  reconstruction head ``G_a`` re-fitted from scratch on the frozen base for a fair PSNR.

Every sweep of a cut point starts from the same codec pre-trained with MSE at that cut point
(``pretrain-*``, see :func:`pretraining`). Every run is resumable (per-epoch checkpoints) and skipped once its ``result.json`` exists, so
``python experiments/codecs_cifar.py`` can be stopped and restarted at will. Outputs:
``experiments/checkpoints/codecs/<sweep>/lmbda=<λ>/{model.pt,result.json}`` and the summary
``experiments/results/codecs_cifar.{json,md}`` (curves + BD table), written after every run.

    python experiments/codecs_cifar.py                  # default set (CPU budget: see docs/codecs.md)
    python experiments/codecs_cifar.py --only 'direct-*' --device cuda --train-n 50000 --epochs 60
    python experiments/codecs_cifar.py --summary-only   # re-summarise the finished runs
"""
from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from rdtheory._io import atomic_write_json, atomic_write_text  # noqa: E402
from rdtheory.codecs.train import TASKS, CodecConfig, lambda_sweep, run  # noqa: E402
from rdtheory.metrics import bd_table, format_bd_table, pareto_front  # noqa: E402

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

#: λ grids by distortion (bpp per distortion unit), spaced ×3, highest first (the chain order).
#: A pilot with grids 30× lower gave 0.15–1.1 bpp at 21–25% top-1 (rate too cheap): these
#: put the sweeps where the task model still works (feature variance per element: layer2
#: 0.34, layer3 1.36; cross-entropy in nats).
LAMBDAS = {"layer2": (1000.0, 300.0, 100.0, 30.0, 10.0), "layer3": (300.0, 100.0, 30.0, 10.0, 3.0),
           "output": (100.0, 30.0, 10.0, 3.0, 1.0)}


def pretraining(base: CodecConfig, pretrain_epochs: int, pretrain_lr: float) -> dict[str, CodecConfig]:
    """The shared starting points: per (approach, cut), a codec trained with MSE *at the cut point*
    at λ = 1000 and a high learning rate. Pilots (docs/codecs.md) showed that from a random
    start a supervised or deeper-distillation loss needs far more steps than a CPU budget allows
    (cross-entropy still ~1.8 nats after 3 epochs at 7–20 bpp), while MSE at the cut learns fast;
    every sweep of a cut point fine-tunes from the same pre-trained codec, so the comparison
    between distillation points stays fair."""
    return {f"pretrain-{prefix}-{c}": dataclasses.replace(
                base, approach=approach, cut=cut, distortion="mse", layers=(cut,), lmbda=1000.0,
                epochs=pretrain_epochs, lr=pretrain_lr)
            for approach, prefix in (("model_splitting", "splitting"), ("direct", "direct"))
            for cut, c in (("layer1", "C1"), ("layer2", "C2"))}


def sweeps(base: CodecConfig) -> dict[str, tuple[CodecConfig, tuple, str]]:
    """name -> (config, λ grid, pretraining key) of every sweep: the cut × distillation matrix
    for model splitting (run by default) and direct coding (``--only 'direct-*'``), and the
    scalable base layer with β = 0 and β = 0.01."""
    out = {}
    for approach, prefix in (("model_splitting", "splitting"), ("direct", "direct")):
        for cut, c in (("layer1", "C1"), ("layer2", "C2")):
            for point in ("layer2", "layer3", "output"):
                supervised = point == "output"
                out[f"{prefix}-{c}-{point}"] = (dataclasses.replace(
                    base, approach=approach, cut=cut, distortion="supervised" if supervised else "mse",
                    layers=() if supervised else (point,)), LAMBDAS[point], f"pretrain-{prefix}-{c}")
    scalable = dataclasses.replace(out["direct-C2-output"][0], scalable=True)
    for beta in (0.0, 0.01, 1.0):  # 0 and 0.01 as in the slides; 1.0 because 0.01 is ~1e-3 of our loss
        out[f"scalable-C2-output-beta{beta:g}"] = (dataclasses.replace(scalable, beta=beta), LAMBDAS["output"],
                                                   "pretrain-direct-C2")
    return out


#: What ``python experiments/codecs_cifar.py`` runs by default (the CPU budget of docs/codecs.md).
DEFAULT_ONLY = "splitting-*,scalable-*"

#: CIFAR-scale protocol (issue 16, ``--scale full``): λ grids by distortion, highest first,
#: chosen to reach ≤ 0.5 bpp (KL and cross-entropy in nats; MSE in squared feature units).
FULL_LAMBDAS = {"kl": (30.0, 10.0, 3.0, 1.0, 0.3), "supervised": (30.0, 10.0, 3.0, 1.0, 0.3),
                "layer2": (300.0, 100.0, 30.0, 10.0, 3.0), "layer3": (100.0, 30.0, 10.0, 3.0, 1.0)}


def full_pretraining(base: CodecConfig, epochs: int = 1, lr: float = 1e-2) -> dict[str, CodecConfig]:
    """CIFAR-scale starting points, one per cut: MSE at the cut point (λ = 300), ``epochs`` on all
    50,000 images at a high learning rate. A pilot (docs/codecs.md) measured output distillation
    from a random start at 19 % validation top-1 after 300 steps (KL 1.9 nats): through the frozen
    back end the gradient of a random codec's garbage features is poor, while MSE at the cut
    learns in a few hundred steps (issue 8's pilots)."""
    return {f"pretrain-full-splitting-{c}": dataclasses.replace(
                base, approach="model_splitting", cut=cut, distortion="mse", layers=(cut,), lmbda=300.0,
                epochs=epochs, lr=lr)
            for cut, c in (("layer1", "C1"), ("layer2", "C2"))}


def full_sweeps(base: CodecConfig) -> dict[str, tuple[CodecConfig, tuple, str]]:
    """The CIFAR-scale model-splitting sweeps, in priority order (run in this order by default):
    output distillation with soft labels (``kl``) at cuts layer2 and layer1, then the cut ×
    distillation matrix (MSE at layer2 / layer3, supervised cross-entropy at the output). Every
    sweep warm-starts along λ. Trained on cached cut-point features of all 50,000 training images
    (random horizontal flips), evaluated on all 10,000 test images; each starts from the cut's
    :func:`full_pretraining`."""
    out = {}
    order = [("layer2", "C2", "kl"), ("layer1", "C1", "kl"), ("layer2", "C2", "layer3"), ("layer2", "C2", "layer2"),
             ("layer1", "C1", "layer2"), ("layer1", "C1", "layer3"), ("layer2", "C2", "supervised"),
             ("layer1", "C1", "supervised")]
    for cut, c, point in order:
        dist = {"kl": ("kl", ("output",)), "supervised": ("supervised", ())}.get(point, ("mse", (point,)))
        out[f"full-splitting-{c}-{point}"] = (dataclasses.replace(
            base, approach="model_splitting", cut=cut, distortion=dist[0], layers=dist[1]), FULL_LAMBDAS[point],
            f"pretrain-full-splitting-{c}")
    return out


def collect(out_root) -> dict[str, list[dict]]:
    """Every finished run under ``out_root`` (``<sweep>/lmbda=<λ>/result.json``), by sweep name —
    the checkpoints folder is the source of truth, so parallel processes never lose results."""
    out: dict[str, list[dict]] = {}
    for f in sorted(Path(out_root).glob("*/lmbda=*/result.json")):  # pretraining runs have no lmbda=
        r = json.loads(f.read_text())
        if "bpp" in r:
            hist = r.get("train_history") or []
            val = [{k: h[k] for k in ("epoch", "val_accuracy", "val_bpp_estimate", "val_loss") if k in h}
                   for h in hist if "val_accuracy" in h]
            out.setdefault(f.parent.parent.name, []).append({k: v for k, v in r.items() if k != "train_history"}
                                                            | {"epochs_trained": len(hist)}
                                                            | ({"validation": val} if val else {}))
    return out


def at_chance(point: dict, classes: int = 10) -> bool:
    """A collapsed code: accuracy within 3 binomial standard errors of guessing (1/classes).
    Such points (the codec sends nothing but the coder's flush) are kept in the curves but not
    in the BD fits, where a vertical drop to chance would dominate the interpolation."""
    p0 = 1.0 / classes
    return point["accuracy"] <= p0 + 3 * (p0 * (1 - p0) / point["n"]) ** 0.5


def summarize(results: dict[str, list[dict]], anchor: str = "splitting-C1-layer2") -> dict:
    """Curves, their Pareto fronts, and the BD table against ``anchor`` (BD-rate %, BD-accuracy in
    points, PCHIP over the non-dominated points of each curve without the :func:`at_chance`
    points; a missing overlap is a note)."""
    curves = {}
    for name, rs in results.items():
        done = sorted((r for r in rs if "bpp" in r), key=lambda r: r["bpp"])
        curves[name] = [{k: r.get(k) for k in ("bpp", "bpp_estimate", "accuracy", "psnr_db", "n")}
                        | {k: r[k] for k in ("accuracy_ci95", "disagreement", "epochs_trained", "validation") if k in r}
                        | {"lmbda": r["config"]["lmbda"]} for r in done]
    fronts = {}
    for name, pts in curves.items():
        pts = [p for p in pts if not at_chance(p)]
        if len(pts) >= 2:
            keep = pareto_front([p["bpp"] for p in pts], [p["accuracy"] for p in pts])
            fronts[name] = ([pts[i]["bpp"] for i in keep], [100 * pts[i]["accuracy"] for i in keep])
    table = bd_table({k: v for k, v in fronts.items() if len(v[0]) >= 2}, anchor) if anchor in fronts else []
    return {"curves": curves, "pareto_fronts": fronts, "bd_table": table, "anchor": anchor,
            "dataset": "CIFAR-10 (JPEG q75 re-export)", "task_model": "pretrained ResNet-20 (resnet20-12fca82f.th)"}


def to_markdown(summary: dict) -> str:
    L = ["# Learned codecs for machines on CIFAR-10 (JPEG q75 re-export), ResNet-20", "",
         "Rate from real bitstreams (bits per pixel of the 32×32 image, the coder's per-stream flush "
         "included); top-1 accuracy of the pretrained ResNet-20 on the decoded tensor; PSNR of the scalable "
         "base layer's re-fitted reconstruction head. Produced by `experiments/codecs_cifar.py`.", "", "## Curves",
         "", "| sweep | λ | bpp | bpp (estimate) | top-1 % [95 % bootstrap] | PSNR dB |", "|---|---|---|---|---|---|"]
    for name, pts in summary["curves"].items():
        for p in pts:
            psnr = f"{p['psnr_db']:.2f}" if p.get("psnr_db") is not None else ""
            ci = p.get("accuracy_ci95")
            top1 = f"{100 * p['accuracy']:.2f}" + (f" [{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]" if ci else "")
            L.append(f"| {name} | {p['lmbda']:g} | {p['bpp']:.4f} | {p['bpp_estimate']:.4f} | {top1} | {psnr} |")
    L += ["", "## BD table (PCHIP over each curve's Pareto front; negative BD-rate = fewer bits)", "",
          format_bd_table(summary["bd_table"], metric_label="top-1 (points)", rate_label="bpp")]
    return "\n".join(L) + "\n"


def write_summary(out_root, results_path: Path, train_n: int, test_n: int,
                  anchor: str = "splitting-C1-layer2") -> dict:
    """Collect every finished run, summarise, and write ``results_path`` (.json and .md) atomically."""
    results = collect(out_root)
    summary = summarize(results, anchor)
    atomic_write_json(results_path, {**summary, "raw": results, "train_n": train_n, "test_n": test_n})
    atomic_write_text(results_path.with_suffix(".md"), to_markdown(summary))
    return summary


def write_reference(results_path: Path) -> dict:
    """The scalar-quantiser reference of issue 16 (:func:`rdtheory.codecs.feature_quantiser.pooled_reference`)
    on the full test split's class-stratified 4,000 images, written as ``.json`` and ``.md``."""
    from rdtheory.codecs.feature_quantiser import pooled_reference

    cfg = CodecConfig(test_n=None)
    spec = TASKS[cfg.task]
    x, y = spec.data(cfg, "test")
    ref = pooled_reference(spec.model(cfg), x, y.numpy())
    L = ["# Reference: uniform scalar quantiser of ResNet-20's 64-d pooled features", "",
         "Per-coordinate add-½ pmfs fitted on 2,000 of 4,000 class-stratified test images, measured on the other "
         "2,000. Bits: ideal code length under the fitted pmfs (mean per image); the real one-stream rANS code "
         "(flush shared by the 2,000 images) beside it; the tables (side information, sent once) are not in the "
         "per-image rate. Produced by `experiments/codecs_cifar.py --reference`.", "",
         "| Δ | bits/image | bpp | rANS bits/image | top-1 % | uncompressed % | disagreement % | table bits |",
         "|---|---|---|---|---|---|---|---|"]
    for r in ref["rows"]:
        L.append(f"| {r['step']:g} | {r['bits_per_image']:.1f} | {r['bpp']:.4f} | {r['stream_bits_per_image']:.1f} | "
                 f"{100 * r['accuracy']:.2f} | {100 * r['accuracy_uncompressed']:.2f} | "
                 f"{100 * r['disagreement']:.2f} | {r['table_bits']} |")
    atomic_write_json(results_path, ref)
    atomic_write_text(results_path.with_suffix(".md"), "\n".join(L) + "\n")
    return ref


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=CodecConfig.data_dir)
    ap.add_argument("--weights", default=CodecConfig.weights)
    ap.add_argument("--train-n", type=int, default=5000, help="class-stratified training subset size")
    ap.add_argument("--test-n", type=int, default=2000, help="class-stratified test subset size")
    ap.add_argument("--epochs", type=int, default=4, help="epochs at the first (highest) λ of a sweep")
    ap.add_argument("--pretrain-epochs", type=int, default=4, help="epochs of the shared MSE-at-the-cut start")
    ap.add_argument("--pretrain-lr", type=float, default=1e-2)
    ap.add_argument("--warm-epochs", type=int, default=2, help="epochs at each later λ, warm-started")
    ap.add_argument("--lr", type=float, default=5e-3, help="fine-tuning learning rate of every sweep")
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--latent-channels", type=int, default=16)
    ap.add_argument("--quant-step", type=float, default=0.05,
                    help="Q; at initialisation g_a's output has std ~0.17, so Q = 1 buries it under the "
                         "quantisation noise (std 0.29) and training crawls")
    ap.add_argument("--stride", type=int, default=1,
                    help="model-splitting latent stride (a pilot with 2 stayed near chance at every λ in 2 epochs)")
    ap.add_argument("--refit-head-epochs", type=int, default=2)
    ap.add_argument("--only", default=DEFAULT_ONLY, help="comma-separated globs over sweep names (run in that order)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out-root", default=str(ROOT / "experiments/checkpoints/codecs"))
    ap.add_argument("--results", default=str(ROOT / "experiments/results/codecs_cifar.json"))
    ap.add_argument("--scale", choices=("subset", "full"), default="subset",
                    help="subset: the issue-8 protocol (5,000 / 2,000 images, MSE pre-training); full: the CIFAR-scale "
                         "protocol of issue 16 (all 50,000 / 10,000 images, cached features, sweeps full-*); with "
                         "full the defaults of --train-n/--test-n/--stride/--lr/--out-root/--results change")
    ap.add_argument("--val-n", type=int, default=1000, help="(full) training images of the per-epoch validation")
    ap.add_argument("--reference", action="store_true",
                    help="write the scalar-quantiser reference to experiments/results/codecs_reference.{json,md}; "
                         "train nothing")
    ap.add_argument("--lmbdas", type=float, nargs="+", default=None,
                    help="override the λ grid of the selected sweeps (highest first)")
    ap.add_argument("--sweep-suffix", default="",
                    help="append to the sweep folder names (a branch of a sweep, e.g. '-jump' for λ reached in one "
                         "step from the pre-training instead of along the chain)")
    ap.add_argument("--list", action="store_true", help="print the sweeps and exit")
    ap.add_argument("--summary-only", action="store_true",
                    help="rewrite the results summary from the finished runs under --out-root; train nothing")
    args = ap.parse_args(argv)
    full = args.scale == "full"
    if full:
        given = set(argv if argv is not None else sys.argv[1:])
        for flag, attr, value in (("--train-n", "train_n", None), ("--test-n", "test_n", None), ("--stride", "stride", 2),
                                  ("--lr", "lr", 2e-3), ("--only", "only", "full-*"), ("--pretrain-epochs",
                                  "pretrain_epochs", 1), ("--epochs", "epochs", 1), ("--warm-epochs", "warm_epochs", 1),
                                  ("--out-root", "out_root", str(ROOT / "experiments/checkpoints/codecs/full")),
                                  ("--results", "results", str(ROOT / "experiments/results/codecs_cifar_full.json"))):
            if flag not in given:
                setattr(args, attr, value)
    torch.set_num_threads(args.threads)
    if args.reference:
        write_reference(ROOT / "experiments/results/codecs_reference.json")
        return 0
    base = CodecConfig(data_dir=args.data_dir, weights=args.weights, train_n=args.train_n, test_n=args.test_n,
                       epochs=args.epochs, lr=args.lr, channels=args.channels, latent_channels=args.latent_channels,
                       stride=args.stride, quant_step=args.quant_step,
                       **({"cached_features": True, "val_n": args.val_n} if full else {}))
    all_sweeps = {**sweeps(base), **full_sweeps(base)} if full else sweeps(base)
    todo = {k: all_sweeps[k] for pat in args.only.split(",") for k in all_sweeps if fnmatch.fnmatch(k, pat)}
    if args.list or not todo:
        for k, (cfg, lm, _) in all_sweeps.items():
            print(k, cfg.approach, cfg.cut, cfg.distortion, cfg.layers, f"beta={cfg.beta}", lm)
        return 0 if args.list else 2
    results_path = Path(args.results)
    anchor = "full-splitting-C1-layer2" if full else "splitting-C1-layer2"
    # full: every test image is encoded (rate from real bytes); the first 1,000 are also decoded
    decode_n = 1000 if full else None
    if args.summary_only:
        write_summary(args.out_root, results_path, args.train_n, args.test_n, anchor)
        return 0
    spec = TASKS[base.task]
    t0 = time.time()
    train, test = spec.data(base, "train"), spec.data(base, "test")
    print(f"data: {len(train[0])} train / {len(test[0])} test images ({time.time() - t0:.1f} s)", flush=True)
    pre = full_pretraining(base, args.pretrain_epochs, args.pretrain_lr) if full else \
        pretraining(base, args.pretrain_epochs, args.pretrain_lr)
    for name, (cfg, lmbdas, pre_key) in todo.items():
        t1 = time.time()
        init = None
        if pre_key is not None:
            start = dataclasses.replace(pre[pre_key], out_dir=str(Path(args.out_root) / pre_key))
            r = run(start, device=args.device, train=train, test=test, progress=sys.stderr.isatty(), decode_n=decode_n)
            print(f"{pre_key}: {r['bpp']:.4f} bpp, top-1 {100 * r['accuracy']:.2f}%", flush=True)
            init = str(Path(start.out_dir) / "model.pt")
        cfg = dataclasses.replace(cfg, out_dir=str(Path(args.out_root) / (name + args.sweep_suffix)), init_from=init)
        lmbdas = tuple(args.lmbdas) if args.lmbdas else lmbdas
        done = lambda_sweep(cfg, lmbdas, warm_start_epochs=args.warm_epochs, device=args.device,
                            train=train, test=test, refit_head_epochs=args.refit_head_epochs, decode_n=decode_n,
                            progress=sys.stderr.isatty())
        for r in done:
            print(f"{name} λ={r['config']['lmbda']:g}: {r.get('bpp', float('nan')):.4f} bpp, "
                  f"top-1 {100 * r.get('accuracy', float('nan')):.2f}%"
                  + (f", PSNR {r['psnr_db']:.2f} dB" if r.get("psnr_db") else ""), flush=True)
        print(f"[{name}] {time.time() - t1:.0f} s", flush=True)
        write_summary(args.out_root, results_path, args.train_n, args.test_n, anchor)
    print(f"done in {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
