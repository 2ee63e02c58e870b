"""Beyond Table I: ρ after every block of the pretrained CIFAR-10 ResNet-20 and ResNet-56, vs random init.

For each model: the shipped pretrained weights (Idelbayev, loaded exactly) and the same
architecture at its random initialisation (seed 0, BN running statistics at their initial
values) as a control. ρ (Eq. 18, MSE, mean centroid) with a 95% basic group-bootstrap
interval (20 groups, 1,000 replicates) at: the [0, 1] input pixels, the stem ReLU, every
residual block, the global average pool and the logits, streamed over the whole JPEG
test split (or a stratified subsample with ``--n``) in one forward pass per model.

Writes ``experiments/results/cifar_resnet_profile.{csv,md,json}`` and
``figures/cifar_resnet_profile.png``. Usage::

    nice -n 19 .venv/bin/python experiments/cifar_resnet_profile.py --threads 1 \
        --data-dir cifar10-jpeg.zip --weights-dir cifar10-resnet-weights
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rdtheory._io import cache_dir as _cache_dir  # noqa: E402  (decoded-image cache)

WEIGHTS = {"resnet20": "resnet20-12fca82f.th", "resnet56": "resnet56-4bfd9763.th"}
PUBLISHED = {"resnet20": 0.9178, "resnet56": 0.9362}  # best_prec1 stored in the weight files (original pixels)


def run(data_dir, weights_dir, *, n=None, threads=None, n_boot=1000, n_groups=20, out=ROOT / "experiments/results",
        fig_dir=ROOT / "figures", models=("resnet20", "resnet56"), cache_dir=_cache_dir("data"), log=print):
    import torch

    from rdtheory._io import atomic_savefig, atomic_write_json, atomic_write_text
    from rdtheory.vision.data import JPEG_VARIANT, load_cifar10_jpeg
    from rdtheory.vision.models import block_names, cifar_resnet, load_pretrained_cifar_resnet
    from rdtheory.vision.taps import rho_profile

    if threads:
        torch.set_num_threads(threads)
    test = load_cifar10_jpeg(data_dir, "test", cache_dir=cache_dir)
    if n:
        test = test.stratified(n, seed=0)
    rows, meta = [], {"data": test.name, "variant": JPEG_VARIANT, "n_images": len(test), "n_boot": n_boot,
                      "n_groups": n_groups, "confidence": 0.95, "input": "pixels scaled to [0, 1]",
                      "normalisation": "imagenet mean/std (as the weights were trained)", "models": {}}
    for name in models:
        depth = int(name[len("resnet"):])
        for state in ("pretrained", "random-init"):
            if state == "pretrained":
                model = load_pretrained_cifar_resnet(Path(weights_dir) / WEIGHTS[name])
            else:
                torch.manual_seed(0)
                model = cifar_resnet(depth).eval()
            layers = ["input"] + block_names(model) + ["linear"]
            t0 = time.time()
            prof = rho_profile(model, test, layers, mean_std="imagenet", n_groups=n_groups, n_boot=n_boot,
                               progress=False)
            log(f"{name} {state}: accuracy {prof.accuracy:.4f} ({time.time() - t0:.0f} s)")
            meta["models"][f"{name}/{state}"] = {"accuracy": prof.accuracy, "seconds": prof.seconds,
                                                 "published_accuracy_original_pixels": PUBLISHED[name]}
            for k, r in enumerate(prof.layers):
                rows.append({"model": name, "weights": state, "index": k, "layer": r.layer, "rho": r.rho,
                             "rho_low": r.low, "rho_high": r.high, "rho_se": r.standard_error,
                             "n_features": r.n_features, "n_images": r.n, "accuracy": prof.accuracy})
    import pandas as pd

    df = pd.DataFrame(rows)
    out = Path(out)
    atomic_write_text(out / "cifar_resnet_profile.csv", df.to_csv(index=False))
    atomic_write_json(out / "cifar_resnet_profile.json", {"meta": meta, "rows": rows})
    atomic_write_text(out / "cifar_resnet_profile.md", markdown(df, meta))
    fig = figure(df, meta)
    atomic_savefig(fig, Path(fig_dir) / "cifar_resnet_profile.png")
    return df, meta


def markdown(df, meta) -> str:
    lines = [f"# ρ after every block of CIFAR-10 ResNet-20/56 — {meta['variant']}", "",
             f"Data: {meta['data']} ({meta['n_images']} images). ρ: Eq. 18 with MSE and the class-mean centroid; "
             f"95% basic group bootstrap ({meta['n_groups']} groups, {meta['n_boot']} replicates). "
             f"`input` = pixels in [0, 1]. Made by `experiments/cifar_resnet_profile.py`.", ""]
    for key, m in meta["models"].items():
        lines.append(f"- {key}: top-1 {100 * m['accuracy']:.2f}% on this split "
                     f"(authors: {100 * m['published_accuracy_original_pixels']:.2f}% on the original pixels)")
    lines.append("")
    for name in df.model.unique():
        sub = df[df.model == name]
        tr = sub[sub.weights == "pretrained"].set_index("layer")
        rd = sub[sub.weights == "random-init"].set_index("layer")
        lines += [f"## {name}", "", "| # | layer | features | ρ pretrained [95% CI] | ρ random init [95% CI] |",
                  "|---|---|---|---|---|"]
        for layer in tr.index:
            a, b = tr.loc[layer], rd.loc[layer]
            lines.append(f"| {int(a['index'])} | {layer} | {int(a['n_features'])} | {a['rho']:.4f} "
                         f"[{a['rho_low']:.4f}, {a['rho_high']:.4f}] | {b['rho']:.4f} "
                         f"[{b['rho_low']:.4f}, {b['rho_high']:.4f}] |")
        lines.append("")
    return "\n".join(lines)


def figure(df, meta):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(df.model.unique())
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 4.2), squeeze=False)
    for ax, name in zip(axes[0], models):
        for state, colour in (("pretrained", "C0"), ("random-init", "C3")):
            sub = df[(df.model == name) & (df.weights == state)].sort_values("index")
            acc = meta["models"][f"{name}/{state}"]["accuracy"]
            ax.errorbar(sub["index"], sub["rho"], yerr=[(sub["rho"] - sub["rho_low"]).clip(lower=0), (sub["rho_high"] - sub["rho"]).clip(lower=0)],
                        fmt="o-", ms=3, color=colour, capsize=2, label=f"{state} (top-1 {100 * acc:.1f}%)")
        sub = df[(df.model == name) & (df.weights == "pretrained")].sort_values("index")
        ax.set_xticks(sub["index"])
        ax.set_xticklabels(sub["layer"], rotation=90, fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("task-appropriateness ρ (MSE), log scale")
        ax.set_title(f"{name}: ρ after each block")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{meta['variant']}, {meta['n_images']} test images; 95% basic group-bootstrap intervals", fontsize=9)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="cifar10-jpeg.zip")
    p.add_argument("--weights-dir", default="cifar10-resnet-weights")
    p.add_argument("--n", type=int, default=None, help="stratified test subsample size (default: all 10,000)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--n-boot", type=int, default=1000)
    a = p.parse_args(argv)
    df, meta = run(a.data_dir, a.weights_dir, n=a.n, threads=a.threads, n_boot=a.n_boot)
    print(json.dumps(meta["models"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
