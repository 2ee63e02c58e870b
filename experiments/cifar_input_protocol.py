"""Which protocol gives Table I's input row (rho_X = 0.038 on CIFAR-10)? No model is involved.

rho (Eq. 18, MSE, class-mean centroid) of the raw pixels of CIFAR-10 (JPEG q75 re-export),
streamed through :class:`rdtheory.appropriateness.TaskAppropriatenessAccumulator` in
batches (memory O(C·G·F), independent of the number of images), for:

- split: train (50,000), test (10,000), stratified subsets of either;
- pixel scale: [0, 1], [0, 255] (rho is invariant to a common scale: identical), per-channel
  mean/std normalisation (not invariant: it reweights the channels), grey (channel mean);
- estimator: the paper's plug-in vs the bias-corrected point (unbiased moments + grouped
  jackknife, :func:`rdtheory.appropriateness.grouped_interval`), with 95% intervals;
- JPEG: the decoded q75 pixels re-encoded at quality 95 / 75 / 50 (PIL, 4:2:0 chroma) to see
  how far one more lossy round moves rho (the original pixels are not available here).

Writes ``experiments/results/cifar_input_protocol.{json,md}``. ``rho_vs_n`` / ``figure``
give rho against the number of training images per class (plain and bias-corrected), the
data of ``figures/cifar_input_rho_vs_n.png`` (registered in
``paper_checks/claims_table1_protocol.py``).

References
----------
.. [1] A. Harell et al., "Rate-Distortion Theory in Coding for Machines and its Applications",
   arXiv:2305.17295, 2023 (Sec. III-B.2, Table I).
.. [2] A. Krizhevsky, "Learning multiple layers of features from tiny images", technical report,
   University of Toronto, 2009 (CIFAR-10).
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rdtheory._io import atomic_write_json, atomic_write_text, cache_dir  # noqa: E402
from rdtheory.appropriateness import TaskAppropriatenessAccumulator  # noqa: E402

PAPER = {"cifar10": 0.038, "cifar100": 0.036}
SCALES = ("01", "255", "normalised", "grey")
N_GROUPS = 20
BATCH = 2500


def pixels(images: np.ndarray, scale: str, mean_std=None) -> np.ndarray:
    """uint8 (B, H, W, 3) -> float features for ``scale`` in :data:`SCALES` (``mean_std`` for "normalised")."""
    if scale == "255":
        return images.astype(np.float64)
    x = images.astype(np.float64) / 255.0
    if scale == "01":
        return x
    if scale == "grey":
        return x.mean(axis=-1)
    if scale == "normalised":
        mean, std = (np.asarray(v, dtype=np.float64) for v in mean_std)
        return (x - mean) / std
    raise ValueError(f"scale must be one of {SCALES}; got {scale!r}")


def reencode(images: np.ndarray, quality: int) -> np.ndarray:
    """Each image JPEG-encoded at ``quality`` with PIL (default 4:2:0 chroma) and decoded again."""
    from PIL import Image

    out = np.empty_like(images)
    for k, im in enumerate(images):
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="JPEG", quality=int(quality))
        out[k] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out


def accumulate(images: np.ndarray, labels: np.ndarray, scale: str = "01", mean_std=None, *,
               n_groups: int = N_GROUPS, seed: int = 0, batch: int = BATCH) -> TaskAppropriatenessAccumulator:
    """Stream ``images`` in batches of ``batch`` into an accumulator with ``n_groups`` random groups."""
    acc = TaskAppropriatenessAccumulator(n_groups=n_groups, seed=seed)
    for s in range(0, labels.shape[0], batch):
        acc.update(pixels(images[s:s + batch], scale, mean_std), labels[s:s + batch])
    return acc


def measure(images, labels, scale: str = "01", mean_std=None, *, seed: int = 0) -> dict:
    """Plug-in rho, bias-corrected rho and their 95% grouped-jackknife intervals for one protocol."""
    acc = accumulate(images, labels, scale, mean_std, seed=seed)
    plain = acc.result()
    corr = acc.result(bias_correction=True)
    iv_p = acc.interval(0.95)
    iv_c = acc.interval(0.95, bias_correction=True)
    return {"n": int(labels.shape[0]), "rho": plain.rho, "rho_low": iv_p.low, "rho_high": iv_p.high,
            "rho_corrected": corr.rho, "rho_bc": iv_c.estimate, "rho_bc_low": iv_c.low, "rho_bc_high": iv_c.high,
            "nearest": plain.nearest.tolist(), "rho_i": [round(float(v), 5) for v in plain.rho_i]}


def load(split: str, data_dir=None):
    """The decoded CIFAR-10 JPEG split (cached as .npz in the user cache)."""
    from rdtheory.vision.data import load_dataset

    return load_dataset("cifar10-jpeg", data_dir, split, cache_dir=cache_dir("data"))


def run(data_dir=None, *, subsets=(1000, 2000), qualities=(95, 75, 50), log=print) -> list[dict]:
    """All protocols of the module docstring; one row each."""
    from rdtheory.vision.data import MEAN_STD

    rows = []

    def add(split, scale, n_note, arr_images, arr_labels, mean_std=None, jpeg="q75 (as shipped)"):
        r = {"split": split, "subset": n_note, "scale": scale, "jpeg": jpeg,
             **measure(arr_images, arr_labels, scale, mean_std)}
        log(f"{split:5s} {n_note:>10s} {scale:10s} {jpeg:18s} rho {r['rho']:.4f} [{r['rho_low']:.4f}, "
            f"{r['rho_high']:.4f}]  bias-corrected {r['rho_bc']:.4f} [{r['rho_bc_low']:.4f}, {r['rho_bc_high']:.4f}]")
        rows.append(r)

    for split in ("train", "test"):
        d = load(split, data_dir)
        for scale in SCALES:
            add(split, scale, "all", d.images, d.labels, MEAN_STD["jpeg"])
        for n in subsets:
            s = d.stratified(n, seed=0)
            add(split, "01", f"{n} (seed 0)", s.images, s.labels)
        if split == "train":
            for q in qualities:
                add(split, "01", "all", reencode(d.images, q), d.labels, jpeg=f"q75 + re-encode q{q}")
    return rows


def rho_vs_n(split: str = "train", per_class=(20, 50, 100, 200, 500, 1000, 2000, 5000), seeds=(0, 1, 2),
             data_dir=None) -> list[dict]:
    """rho (plug-in and bias-corrected with interval) on stratified subsets of ``split`` ([0, 1] pixels)."""
    d = load(split, data_dir)
    rows = []
    for m in per_class:
        for seed in (seeds if m * d.n_classes < len(d) else seeds[:1]):
            s = d.stratified(m * d.n_classes, seed=seed) if m * d.n_classes < len(d) else d
            rows.append({"per_class": int(m), "seed": int(seed), **measure(s.images, s.labels, "01", seed=seed)})
    return rows


def figure(rows: list[dict], paper: float = PAPER["cifar10"]):
    """rho vs images per class (log x): plug-in and bias-corrected (with 95% intervals), the paper's value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    m = np.array([r["per_class"] for r in rows], dtype=float)
    jit = np.array([1 + 0.04 * (r["seed"] - 1) for r in rows])
    ax.errorbar(m * jit, [r["rho"] for r in rows], yerr=[[r["rho"] - r["rho_low"] for r in rows],
                [r["rho_high"] - r["rho"] for r in rows]], fmt="o", ms=3, color="C3",
                label="plug-in (paper's definition)")
    ax.errorbar(m / jit, [r["rho_bc"] for r in rows], yerr=[[r["rho_bc"] - r["rho_bc_low"] for r in rows],
                [r["rho_bc_high"] - r["rho_bc"] for r in rows]], fmt="s", ms=3, color="C2",
                label="bias-corrected (+ jackknife), 95% interval")
    ax.axhline(paper, color="k", lw=0.8, ls="--", label=f"paper, Table I input ({paper})")
    ax.set(xscale="log", xlabel="training images per class", ylabel="rho at the input ([0, 1] pixels)",
           title="CIFAR-10 (JPEG q75 re-export), input rho vs n")
    ax.legend(fontsize=8)
    return fig


def render(rows: list[dict]) -> str:
    lines = ["# Table I input row: rho_X of CIFAR-10 (JPEG q75 re-export) pixels under each protocol", "",
             f"Paper: {PAPER['cifar10']}. rho: plug-in (paper's Eq. 18) with 95% grouped-jackknife interval "
             f"({N_GROUPS} random groups); bias-corrected: unbiased moments + jackknife point with its interval "
             "(`grouped_interval`). Written by `experiments/cifar_input_protocol.py`.", "",
             "| split | images | pixels | JPEG | plug-in rho [95%] | bias-corrected rho [95%] |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['split']} | {r['subset']} ({r['n']}) | {r['scale']} | {r['jpeg']} | "
                     f"{r['rho']:.4f} [{r['rho_low']:.4f}, {r['rho_high']:.4f}] | "
                     f"{r['rho_bc']:.4f} [{r['rho_bc_low']:.4f}, {r['rho_bc_high']:.4f}] |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "experiments/results")
    args = ap.parse_args(argv)
    rows = run(args.data_dir)
    curve = rho_vs_n(data_dir=args.data_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "cifar_input_protocol.json", {"protocols": rows, "rho_vs_n": curve})
    atomic_write_text(args.out / "cifar_input_protocol.md", render(rows))
    figure(curve).savefig(ROOT / "figures/cifar_input_rho_vs_n.png", dpi=120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
