"""Fig. 3: t-SNE of a stratified test subsample at the input and at VGG16 features.19/26/32, ρ in each title.

The features of a class-stratified subsample (default 2,000 test images, seed 0) are
collected at each layer (this subsample is the only place features are held in memory),
reduced to 50 dimensions by PCA, embedded by sklearn's t-SNE (perplexity 30, PCA init,
seed 0) and coloured by class. Each panel's ρ (Eq. 18, MSE) is computed on the same
images by the streaming accumulator. ``--model resnet20`` draws the same figure for the
shipped pretrained ResNet-20 at the end of its three stages.

Writes ``figures/cifar_tsne.png`` (or ``figures/cifar_tsne_<model>.png``) and
``experiments/results/cifar_tsne.json``. Usage::

    nice -n 19 .venv/bin/python experiments/cifar_tsne.py --threads 1
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rdtheory._io import cache_dir as _cache_dir  # noqa: E402  (decoded-image cache)

VGG_CKPT = "experiments/checkpoints/cifar10_vgg16_bn_cpu/model.pt"
RESNET20 = "resnet20-12fca82f.th"


def load_model(which: str, *, weights_dir="cifar10-resnet-weights", checkpoint=VGG_CKPT):
    """(model, layers, mean_std, label) for ``which`` in {"vgg16_bn", "resnet20"}."""
    from rdtheory.vision.models import PAPER_LAYERS, load_pretrained_cifar_resnet
    from rdtheory.vision.train import load_trained

    if which == "vgg16_bn":
        model, cfg = load_trained(ROOT / checkpoint)
        label = f"VGG16-bn width {cfg.width}, {cfg.epochs} epochs on {cfg.train_per_class or 'all'}/class (cpu config)"
        return model, ["input", *PAPER_LAYERS["vgg16_bn"]], cfg.mean_std, label
    if which == "resnet20":
        model = load_pretrained_cifar_resnet(Path(weights_dir) / RESNET20)
        return model, ["input", "layer1", "layer2", "layer3"], "imagenet", "ResNet-20 (pretrained, Idelbayev)"
    raise ValueError(f"model must be 'vgg16_bn' or 'resnet20'; got {which!r}")


def compute(model, data, layers, mean_std, *, seed=0, perplexity=30.0):
    """Per layer: 2-D t-SNE embedding and ρ on ``data``. Returns {layer: (embedding (N, 2), LayerRho)}."""
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    from rdtheory.vision.taps import collect_features, rho_profile

    prof = rho_profile(model, data, layers, mean_std=mean_std, n_groups=20, n_boot=1000, progress=False)
    feats = collect_features(model, data, layers, mean_std=mean_std)
    out = {}
    for name in layers:
        x = feats.pop(name)
        x = PCA(n_components=min(50, x.shape[1], x.shape[0]), random_state=seed).fit_transform(x)
        emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                   learning_rate="auto").fit_transform(x.astype(np.float64))
        out[name] = (emb, prof[name])
    return out, prof


def figure(result, labels, classes, *, title=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.9))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for ax, name in zip(axes, names):
        emb, r = result[name]
        for k, cname in enumerate(classes):
            m = labels == k
            ax.scatter(emb[m, 0], emb[m, 1], s=2, color=cmap(k % cmap.N), label=cname, rasterized=True)
        ax.set_title(f"{name}\nρ = {r.rho:.3f} [{r.low:.3f}, {r.high:.3f}]", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1].legend(markerscale=4, fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig


def run(which="vgg16_bn", *, n=2000, data_dir="cifar10-jpeg.zip", threads=None,
        cache_dir=_cache_dir("data"), write=True, log=print):
    import torch

    from rdtheory._io import atomic_savefig, atomic_write_json
    from rdtheory.vision.data import load_cifar10_jpeg

    if threads:
        torch.set_num_threads(threads)
    t0 = time.time()
    model, layers, mean_std, label = load_model(which)
    data = load_cifar10_jpeg(data_dir, "test", cache_dir=cache_dir).stratified(n, seed=0)
    result, prof = compute(model, data, layers, mean_std)
    title = (f"{label}; {data.name}; t-SNE (PCA-50, perplexity 30) and ρ (MSE, 95% basic group bootstrap) "
             f"on these {n} images")
    fig = figure(result, data.labels, data.classes, title=title)
    seconds = time.time() - t0
    if write:
        name = "cifar_tsne.png" if which == "vgg16_bn" else f"cifar_tsne_{which}.png"
        atomic_savefig(fig, ROOT / "figures" / name)
        stem = "cifar_tsne" if which == "vgg16_bn" else f"cifar_tsne_{which}"
        atomic_write_json(ROOT / "experiments/results" / f"{stem}.json",
                          {"model": label, "data": data.name, "n": n, "seconds": seconds, "accuracy": prof.accuracy,
                           "layers": prof.records()})
    log(f"{which}: {seconds:.0f} s")
    return fig, prof, seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="vgg16_bn", choices=("vgg16_bn", "resnet20"))
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--data-dir", default="cifar10-jpeg.zip")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args(argv)
    run(a.model, n=a.n, data_dir=a.data_dir, threads=a.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
