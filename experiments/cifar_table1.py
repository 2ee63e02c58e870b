"""Table I on the paper's protocol: ρ (MSE) per layer streamed over the whole training split, test split beside it.

Protocol (found by ``experiments/cifar_input_protocol.py``: it reproduces the paper's input
row 0.038): every row is streamed over **all 50,000 training images** (CIFAR-10 JPEG q75
re-export; CIFAR-100: the python pickles when present), pixels in [0, 1] for the input and
the model's own normalisation for the layers; 20 class-balanced random groups (seed 0).
Each row gives the **bias-corrected ρ** (unbiased moments + Quenouille's jackknife
correction of the minimum over j) as the point with its 95% grouped-jackknife interval, and
the paper's plain plug-in ρ beside it with its jackknife interval (docs/appropriateness.md
§5). The same rows on the whole test split (10,000) are kept beside them. Memory is the
G·C·(F+2) statistics per layer plus one batch of features, whatever the number of images;
the decoded uint8 split (3 KB per image) is the only thing held per image.

Models: the shipped pretrained CIFAR-10 ResNet-20/56 (Idelbayev) at the ends of their three
stages and the average pool; the committed VGG16-bn / ResNet50 checkpoints of
``experiments/checkpoints/`` (reduced width, few epochs: accuracies in the table);
the pretrained CIFAR-100 ResNet-56 (chenyaofo) when CIFAR-100 is present.

The per-layer statistics are cached in the user cache keyed by the SHA-256 of the weights
and of the data file, the split and the protocol (:mod:`rdtheory.vision.rho_cache`), so
``make check`` recomputes only what is missing.

Writes ``experiments/results/cifar_table1.{csv,md,json}``. Usage::

    nice -n 10 .venv/bin/python experiments/cifar_table1.py --threads 1 [--only resnet20 vgg16_bn_cpu]
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Table I of the paper (Sec. III-B.2). The CIFAR-10 ResNet50 layer4 value is not legible in
#: the reference text we have (the row is missing there), so it is None.
PAPER = {
    ("cifar10", "input"): 0.038, ("cifar10", "vgg16_bn/features.19"): 0.052,
    ("cifar10", "vgg16_bn/features.26"): 0.517, ("cifar10", "vgg16_bn/features.32"): 1.0,
    ("cifar10", "resnet50/layer2"): 0.021, ("cifar10", "resnet50/layer3"): 0.102, ("cifar10", "resnet50/layer4"): None,
    ("cifar100", "input"): 0.036, ("cifar100", "vgg16_bn/features.19"): 0.046,
    ("cifar100", "vgg16_bn/features.26"): 0.120, ("cifar100", "vgg16_bn/features.32"): 0.555,
    ("cifar100", "resnet50/layer2"): 0.032, ("cifar100", "resnet50/layer3"): 0.050,
    ("cifar100", "resnet50/layer4"): 0.997,
}
SPLITS = ("train", "test")  # train: the paper's protocol; test: kept beside it
STAGES = ("layer1", "layer2", "layer3", "avgpool")


@dataclasses.dataclass(frozen=True)
class Spec:
    """One model of the table: where its weights are, which layers, which normalisation."""

    name: str
    dataset: str  # "cifar10" | "cifar100"
    arch: str  # key prefix of PAPER ("vgg16_bn", "resnet50") or the CIFAR ResNet's name
    weights: str  # repository path (trained) or a name under the data root (pretrained)
    layers: tuple
    mean_std: str
    kind: str  # "trained" | "pretrained"
    upstream_accuracy: float | None = None  # the weights' authors' test top-1 (original pixels)


SPECS = (
    Spec("resnet20", "cifar10", "resnet20", "cifar10-resnet-weights/resnet20-12fca82f.th", STAGES, "imagenet",
         "pretrained", 0.9178),
    Spec("resnet56", "cifar10", "resnet56", "cifar10-resnet-weights/resnet56-4bfd9763.th", STAGES, "imagenet",
         "pretrained", 0.9362),
    Spec("vgg16_bn_cpu", "cifar10", "vgg16_bn", "experiments/checkpoints/cifar10_vgg16_bn_cpu/model.pt",
         ("features.19", "features.26", "features.32"), "jpeg", "trained"),
    Spec("resnet50_cpu-long", "cifar10", "resnet50", "experiments/checkpoints/cifar10_resnet50_cpu-long/model.pt",
         ("layer2", "layer3", "layer4"), "jpeg", "trained"),
    Spec("resnet50_cpu", "cifar10", "resnet50", "experiments/checkpoints/cifar10_resnet50_cpu/model.pt",
         ("layer2", "layer3", "layer4"), "jpeg", "trained"),
    Spec("cifar100_resnet56", "cifar100", "resnet56", "cifar100-resnet-weights/cifar100_resnet56-f2eff4c8.pt", STAGES,
         "cifar100-chenyaofo", "pretrained", 0.7263),
    # CIFAR-100 Table I models: rows appear once trained (experiments/cifar_train.py --dataset cifar100 --out-dir ...)
    Spec("cifar100_vgg16_bn_cpu", "cifar100", "vgg16_bn", "experiments/checkpoints/cifar100_vgg16_bn_cpu/model.pt",
         ("features.19", "features.26", "features.32"), "cifar100", "trained"),
    Spec("cifar100_resnet50_cpu", "cifar100", "resnet50", "experiments/checkpoints/cifar100_resnet50_cpu/model.pt",
         ("layer2", "layer3", "layer4"), "cifar100", "trained"),
)
DATA = {"cifar10": "cifar10-jpeg.zip", "cifar100": "cifar-100-python"}


class Missing(Exception):
    """A row cannot be computed here (no data or weights); the message says what to get."""


def weights_path(spec: Spec) -> Path:
    from rdtheory.vision.paths import find_data

    if spec.kind == "trained":
        p = ROOT / spec.weights
        if not p.is_file():
            raise Missing(f"{spec.weights} not found (train it with experiments/cifar_train.py)")
        return p
    try:
        return find_data(spec.weights, what="pretrained weights")
    except ValueError as err:
        raise Missing(str(err).split(". ")[0]) from None


def data_file(dataset: str, split: str, data_root=None) -> Path:
    """The file whose bytes identify ``split`` of ``dataset`` (the JPEG zip; the CIFAR-100 ``train``/``test`` pickle)."""
    from rdtheory.vision.cifar_pickle import FOLDERS
    from rdtheory.vision.paths import find_data

    try:
        root = find_data(data_root or DATA[dataset], what=f"{dataset} data")
    except ValueError:
        raise Missing(f"{dataset} data not found: put {DATA[dataset]}/ under RDTHEORY_DATA (the standard python "
                      f"pickles from https://www.cs.toronto.edu/~kriz/cifar.html; docs/vision.md, Data)") from None
    if dataset == "cifar10":
        return root
    folder = root if root.name == FOLDERS["cifar100"] or not (root / FOLDERS["cifar100"]).is_dir() else root / FOLDERS["cifar100"]
    if not (folder / split).is_file():
        raise Missing(f"cifar100 {split} pickle not found under {folder}")
    return folder / split


@functools.lru_cache(maxsize=None)
def _sha(path: str) -> str:
    from rdtheory.vision.rho_cache import file_sha256

    return file_sha256(path)


@functools.lru_cache(maxsize=4)
def load_split(dataset: str, split: str, data_root=None):
    from rdtheory._io import cache_dir
    from rdtheory.vision.cifar_pickle import load_cifar_python
    from rdtheory.vision.data import load_cifar10_jpeg

    f = data_file(dataset, split, data_root)
    if dataset == "cifar10":
        return load_cifar10_jpeg(f, split, cache_dir=cache_dir("data"))
    return load_cifar_python("cifar100", f.parent, split)


def load_model(spec: Spec):
    from rdtheory.vision.models import load_pretrained_cifar_resnet
    from rdtheory.vision.train import load_trained

    p = weights_path(spec)
    if spec.kind == "pretrained":
        return load_pretrained_cifar_resnet(p), None
    return load_trained(p)


def statistics(spec: Spec | None, dataset: str, split: str, *, subset=None, fallback_subset=None, n_groups=20,
               data_root=None, cached_only=False, log=print):
    """Per-layer statistics of ``spec`` (None: the input row of ``dataset``) on ``split``, from the cache or computed.

    ``subset``: a class-stratified subsample (seed 0) instead of the whole split.
    ``fallback_subset``: use the whole split when its statistics are cached, else this
    subsample (``make check``'s budget); ``info["subset"]`` says which was used.
    ``cached_only``: raise :class:`Missing` instead of computing an entry that is not cached.
    """
    from rdtheory.vision.rho_cache import cached_statistics, compute_statistics, is_cached, statistics_key

    df = data_file(dataset, split, data_root)
    w = "none" if spec is None else _sha(str(weights_path(spec)))
    layers = ("input",) if spec is None else spec.layers
    mean_std = "none" if spec is None else spec.mean_std

    def key_for(sub):
        return statistics_key(weights=w, data=_sha(str(df)), split=split, layers=layers, mean_std=mean_std,
                              n_groups=n_groups, subset=sub)

    key = key_for(subset)
    if subset is None and fallback_subset and not is_cached(key):
        subset = fallback_subset
        key = key_for(subset)
    if cached_only and not is_cached(key):
        raise Missing(f"{split}-split statistics not computed yet (cached_only; run experiments/cifar_table1.py "
                      f"--only {'<model>' if spec is None else spec.name} to compute them)")

    def compute():
        data = load_split(dataset, split, data_root)
        if subset:
            data = data.stratified(min(subset, len(data)), seed=0)
        model = None if spec is None else load_model(spec)[0]
        log(f"computing {'input' if spec is None else spec.name} on {dataset} {split} ({len(data)} images) ...")
        return compute_statistics(model, data, layers, mean_std=mean_std, n_groups=n_groups)

    stats, info = cached_statistics(key, compute, log=log)
    return stats, {**info, "key": key, "subset": subset}


def rows_for(spec: Spec | None, dataset: str, *, splits=SPLITS, subset=None, fallback_subset=None, data_root=None,
             cached_only=False, log=print) -> list[dict]:
    """Table rows of one model (or the input) on each split (see :func:`statistics` for the subsets)."""
    from rdtheory.vision.rho_cache import layer_rho

    out = []
    for split in splits:
        stats, info = statistics(spec, dataset, split, subset=subset, fallback_subset=fallback_subset,
                                 data_root=data_root, cached_only=cached_only, log=log)
        for s in stats.values():
            r = layer_rho(s)
            key = "input" if spec is None else f"{spec.arch}/{s.layer}"
            out.append({"dataset": dataset, "model": "-" if spec is None else spec.name, "layer": s.layer,
                        "split": split, **r, "paper_rho": PAPER.get((dataset, key)),
                        "accuracy": None if spec is None else info["correct"] / info["n"],
                        "data": info["data"], "subset": info["subset"], "cached": info["cached"],
                        "seconds": round(info["seconds"], 1), "cache_key": info["key"]})
    return out


def run(names=None, *, splits=SPLITS, subset=None, fallback_subset=None, data_root=None, threads=None,
        out=ROOT / "experiments/results", write=True, cached_only=False, log=print):
    """All rows (input first, then each model in :data:`SPECS`); returns ``(rows, notes, models)``."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    rows, notes, models = [], [], {}
    kw = dict(subset=subset, fallback_subset=fallback_subset, data_root=data_root, cached_only=cached_only, log=log)
    for dataset in ("cifar10", "cifar100"):
        specs = [s for s in SPECS if s.dataset == dataset and (names is None or s.name in names)]
        if not specs and names is not None:
            continue
        try:
            data_file(dataset, "train", data_root)
        except Missing as err:
            notes.append(f"{dataset}: skipped — {err}; rows not run: {', '.join(['input'] + [s.name for s in specs])}")
            continue
        for spec in [None, *specs]:
            t0, got = time.time(), []
            for split in splits:  # per split: a cached_only run keeps the split it has
                try:
                    got += rows_for(spec, dataset, splits=(split,), **kw)
                except Missing as err:
                    notes.append(f"{'input' if spec is None else spec.name} ({dataset} {split}): skipped — {err}")
                    if "not found" in str(err):
                        break
            rows += got
            if spec is not None and got:
                models[spec.name] = model_info(spec, got)
                log(f"{spec.name}: {time.time() - t0:.0f} s")
    if write:
        write_results(rows, notes, models, Path(out))
    return rows, notes, models


def model_info(spec: Spec, rows) -> dict:
    """Accuracy per split (test = the model's reported top-1) and the training config of a checkpoint."""
    acc = {r["split"]: r["accuracy"] for r in rows}
    info = {"weights": spec.weights, "kind": spec.kind, "test_accuracy": acc.get("test"),
            "train_accuracy": acc.get("train"), "upstream_accuracy": spec.upstream_accuracy}
    if spec.kind == "trained":
        meta = json.loads((ROOT / spec.weights).with_name("metrics.json").read_text())
        c = meta["config"]
        info["config"] = (f"width {c['width']}, {c['epochs']} epochs, {c['train_per_class'] or 'all'} train "
                          f"images/class, seed {c['seed']}")
        if info["test_accuracy"] is None:  # test split not streamed in this run: the checkpoint's recorded value
            info["test_accuracy"] = meta.get("final_test_accuracy")
    return info


def eq20_chains(rows, split="train") -> list[dict]:
    """Per model: the chain input → listed layers on ``split`` with the bias-corrected intervals."""
    inputs = {r["dataset"]: r for r in rows if r["layer"] == "input" and r["split"] == split}
    out = []
    for name in dict.fromkeys(r["model"] for r in rows if r["model"] != "-"):
        rs = [r for r in rows if r["model"] == name and r["split"] == split]
        chain = [inputs[rs[0]["dataset"]]] + rs if rs and rs[0]["dataset"] in inputs else rs
        out.append({"model": name, "dataset": rs[0]["dataset"] if rs else None, "split": split,
                    "layers": [c["layer"] for c in chain], "rho": [c["rho"] for c in chain],
                    "low": [c["low"] for c in chain], "high": [c["high"] for c in chain],
                    "rho_plain": [c["rho_plain"] for c in chain], "paper_rho": [c["paper_rho"] for c in chain]})
    return out


def write_results(rows, notes, models, out: Path) -> None:
    import pandas as pd

    from rdtheory._io import atomic_write_json, atomic_write_text

    atomic_write_text(out / "cifar_table1.csv", pd.DataFrame(rows).to_csv(index=False))
    atomic_write_json(out / "cifar_table1.json", {"rows": rows, "notes": notes, "models": models,
                                                  "eq20": eq20_chains(rows)})
    atomic_write_text(out / "cifar_table1.md", markdown(rows, notes, models))


def markdown(rows, notes, models) -> str:
    def ci(r, p=""):
        pt = r["rho" if not p else "rho_plain"]
        return f"{pt:.4f} [{r[p + 'low' if not p else 'plain_low']:.4f}, {r['high' if not p else 'plain_high']:.4f}]"

    lines = ["# Table I on the paper's protocol — task-appropriateness ρ (MSE)", "",
             "Whole training split (the protocol that reproduces the paper's input row), test split beside it. "
             "ρ bias-corrected: unbiased moments + jackknife correction of the minimum, 95% grouped-jackknife "
             "interval (20 class-balanced groups, contains its point); ρ plain: the paper's plug-in definition with "
             "its jackknife interval. †: a stratified training subset (the whole split's statistics were not cached when the table was written). `input` = pixels in [0, 1]. CIFAR-10 is the JPEG q75 re-export. "
             "Made by `experiments/cifar_table1.py`.", "",
             "| dataset | model | layer | ρ train, bias-corrected [95%] | ρ train, plain [95%] | ρ test, "
             "bias-corrected [95%] | ρ test, plain | ρ paper |", "|---|---|---|---|---|---|---|---|"]
    test = {(r["model"], r["layer"]): r for r in rows if r["split"] == "test"}
    for r in (r for r in rows if r["split"] == "train"):
        t = test.get((r["model"], r["layer"]))
        paper = "n/a" if r["paper_rho"] is None else f"{r['paper_rho']:g}"
        t_ci, t_plain = (ci(t), f"{t['rho_plain']:.4f}") if t else ("—", "—")

        mark = f" † ({r['subset']:,} images)" if r["subset"] else ""
        lines.append(f"| {r['dataset']} | {r['model']} | {r['layer']} | {ci(r)}{mark} | {ci(r, 'plain_')} | "
                     f"{t_ci} | {t_plain} | {paper} |")
    lines += ["", "## Models", "", "| model | weights | test top-1 (JPEG test split) | train top-1 | upstream | config |",
              "|---|---|---|---|---|---|"]
    for name, m in models.items():
        pct = lambda v: "—" if v is None else f"{100 * v:.2f}%"  # noqa: E731
        lines.append(f"| {name} | `{m['weights']}` | {pct(m['test_accuracy'])} | {pct(m['train_accuracy'])} | "
                     f"{pct(m['upstream_accuracy'])} | {m.get('config', m['kind'])} |")
    lines += ["", "## Eq. 20 on the training split (bias-corrected intervals)", ""]
    from paper_checks.verdicts_cifar import chain_text  # one place for the '<', '>', '~' decision

    for c in eq20_chains(rows):
        lines.append(f"- {c['model']}: {chain_text(c['layers'], c['rho'], c['low'], c['high'])}")
    if notes:
        lines += ["", "## Not run", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", default=None, help=f"model names from {[s.name for s in SPECS]}")
    p.add_argument("--splits", nargs="*", default=list(SPLITS), choices=SPLITS)
    p.add_argument("--data-root", default=None, help="override the CIFAR-10 zip / CIFAR-100 folder location")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-write", action="store_true", help="fill the cache only (e.g. several processes in parallel)")
    p.add_argument("--cached-only", action="store_true", help="write the rows whose statistics are cached; list the rest")
    p.add_argument("--fallback-subset", type=int, default=None,
                   help="use this stratified subset where the whole split is not cached (make check uses 2000)")
    a = p.parse_args(argv)
    rows, notes, _ = run(a.only, splits=tuple(a.splits), data_root=a.data_root, threads=a.threads,
                         write=not a.no_write, cached_only=a.cached_only, fallback_subset=a.fallback_subset)
    for line in notes:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
