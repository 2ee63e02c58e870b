"""Fig. 3 and Appendix Figs. 20-22: t-SNE of a stratified test subsample at the input and at each Table I layer.

The features of a class-stratified subsample (default 2,000 test images, seed 0) are
collected at each layer (this subsample is the only place features are held in memory),
reduced to 50 dimensions by PCA, embedded by sklearn's t-SNE (perplexity 30, PCA init,
seed 0) and coloured by class. Each panel's ρ (Eq. 18, MSE; bias-corrected point with its
95% grouped-jackknife interval) is computed on the same images by the streaming accumulator.

Models (``--model``, :data:`MODELS`): ``vgg16_bn`` (Fig. 3, the committed CIFAR-10 cpu
checkpoint), ``resnet50`` (Fig. 20: CIFAR-10 ResNet50, the committed cpu-long checkpoint),
``resnet20`` (the shipped pretrained ResNet-20), and for CIFAR-100 ``cifar100_vgg16_bn``
(Fig. 21) and ``cifar100_resnet50`` (Fig. 22) — which need CIFAR-100 checkpoints trained with
``experiments/cifar_train.py --dataset cifar100`` — and ``cifar100_resnet56`` (the shipped
pretrained CIFAR-100 ResNet-56). CIFAR-100 needs ``cifar-100-python/`` under the data root;
without it (or without the checkpoint) :class:`cifar_table1.Missing` says what is missing.

Writes ``figures/cifar_tsne.png`` (vgg16_bn) or ``figures/cifar_tsne_<model>.png`` and
``experiments/results/cifar_tsne[_<model>].json``. Usage::

    nice -n 19 .venv/bin/python experiments/cifar_tsne.py --threads 1 [--model resnet50]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "experiments"))
from cifar_table1 import SPECS, Missing, load_model as _load, load_split  # noqa: E402

_BY_NAME = {s.name: s for s in SPECS}
#: --model -> (Spec, figure of the paper). Layers drawn: the input and the Spec's layers (no avgpool).
MODELS = {
    "vgg16_bn": (_BY_NAME["vgg16_bn_cpu"], "Fig. 3"),
    "resnet50": (_BY_NAME["resnet50_cpu-long"], "Fig. 20"),
    "resnet20": (_BY_NAME["resnet20"], "beyond the paper"),
    "cifar100_vgg16_bn": (_BY_NAME["cifar100_vgg16_bn_cpu"], "Fig. 21"),
    "cifar100_resnet50": (_BY_NAME["cifar100_resnet50_cpu"], "Fig. 22"),
    "cifar100_resnet56": (_BY_NAME["cifar100_resnet56"], "beyond the paper (CIFAR-100 pretrained)"),
}


def load_model(which: str):
    """(model, layers, mean_std, label, dataset) for ``which`` in :data:`MODELS`; raises ``Missing``."""
    if which not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}; got {which!r}")
    spec, fig = MODELS[which]
    model, cfg = _load(spec)
    layers = ["input", *(x for x in spec.layers if x != "avgpool")]
    what = (f"width {cfg.width}, {cfg.epochs} epochs on {cfg.train_per_class or 'all'}/class (cpu config)"
            if cfg is not None else "pretrained")
    return model, layers, spec.mean_std, f"{spec.name} ({what}; {fig})", spec.dataset


def compute(model, data, layers, mean_std, *, seed=0, perplexity=30.0):
    """Per layer: 2-D t-SNE embedding and ρ on ``data``. Returns {layer: (embedding (N, 2), LayerRho)}."""
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    from rdtheory.vision.taps import collect_features, rho_profile

    prof = rho_profile(model, data, layers, mean_std=mean_std, n_groups=20, progress=False, interval="bias-corrected")
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


def run(which="vgg16_bn", *, n=2000, threads=None, write=True, log=print):
    """Draw the figure of ``which``; returns ``(fig, profile, seconds)``. Raises ``Missing`` without data/weights."""
    import torch

    from rdtheory._io import atomic_savefig, atomic_write_json

    if threads:
        torch.set_num_threads(threads)
    t0 = time.time()
    data = load_split(MODELS[which][0].dataset if which in MODELS else "cifar10", "test")  # data first: its message
    model, layers, mean_std, label, dataset = load_model(which)
    data = data.stratified(min(n, len(data)), seed=0)
    result, prof = compute(model, data, layers, mean_std)
    title = (f"{label}; {data.name}; t-SNE (PCA-50, perplexity 30) and ρ (MSE, bias-corrected, 95% grouped "
             f"jackknife) on these {len(data)} images")
    fig = figure(result, data.labels, data.classes, title=title)
    seconds = time.time() - t0
    if write:
        stem = "cifar_tsne" if which == "vgg16_bn" else f"cifar_tsne_{which}"
        atomic_savefig(fig, ROOT / "figures" / f"{stem}.png")
        atomic_write_json(ROOT / "experiments/results" / f"{stem}.json",
                          {"model": label, "data": data.name, "n": len(data), "seconds": seconds,
                           "accuracy": prof.accuracy, "layers": prof.records()})
    log(f"{which}: {seconds:.0f} s")
    return fig, prof, seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="vgg16_bn", choices=sorted(MODELS))
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args(argv)
    try:
        run(a.model, n=a.n, threads=a.threads)
    except Missing as err:
        print(f"{a.model}: skipped — {err}")
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
