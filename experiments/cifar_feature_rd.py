"""R(D) of ResNet-20 features on CIFAR-10 (JPEG q75 re-export) next to ρ: bits per image vs task accuracy.

For the shipped CIFAR-10 ResNet-20 (Idelbayev weights) at the input (normalised image,
3×32×32), the ends of its three stages (layer1 16×32×32, layer2 32×16×16, layer3 64×8×8) and
the 64-d average pool:

1. **Training split** (all 50,000 images, or ``--n-train``): mean, basis (per-channel 2-D DCT +
   per-frequency channel PCA; full PCA for the pool) and coefficient variances
   (:func:`rdtheory.vision.feature_rd.fit_bases`); the Gaussian water-filling curve
   :math:`R_G(D)` from those variances. Cached in the user cache (key: SHA-256 of weights and
   data, ``n_train``, :data:`VERSION`).
2. **Test split** (all 10,000 images, or ``--n-test``): at each point and at the water levels
   where :math:`R_G` = 2^(k/2) bits per image (1 to 16,384), the reverse-water-filling channel's held-out rate
   bound, expected and realised squared error, and the top-1 accuracy of the rest of the
   network on the channel's output (:func:`rdtheory.vision.feature_rd.evaluate_channels`),
   summed over 50 class-balanced groups; checkpointed every few batches in the user cache and
   resumed exactly.
3. Summary: per point and level, estimates with 95% group-bootstrap intervals (rate,
   distortion and accuracy resampled jointly), and the **bits per image needed to keep top-1
   at a target** (first crossing of the accuracy curve, linear in log2 rate between grid
   points), next to ρ of the same layer (training split, bias-corrected, from the committed
   ``experiments/results/cifar_table1.json``; not recomputed).

Writes ``experiments/results/cifar_feature_rd.{json,md}`` atomically (the JSON keeps the
per-group sums, so ``paper_checks/claims_cnn_rd.py`` recomputes every interval from it).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python experiments/cifar_feature_rd.py [--n-train 50000 --n-test 10000]
    .venv/bin/python experiments/cifar_feature_rd.py --from-state      # summarise the checkpoint (run going/stopped)
    .venv/bin/python experiments/cifar_feature_rd.py --basis-check     # block basis vs full PCA at input / layer3
    # layer3 in its full PCA basis (R_G = 2^(k/2), k = 0..20), next to the pool:
    .venv/bin/python experiments/cifar_feature_rd.py --points layer3 pool --flat layer3 --n-train 20000 \
        --tag _layer3_pca --rates $(python -c "print(*[2 ** (k / 2) for k in range(21)])")
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rdtheory._io import atomic_write_bytes, atomic_write_json, atomic_write_text, cache_dir, strict_json  # noqa: E402

VERSION = 1
WEIGHTS = "cifar10-resnet-weights/resnet20-12fca82f.th"
DATA = "cifar10-jpeg.zip"
POINTS = ("input", "layer1", "layer2", "layer3", "pool")
RHO_LAYER = {"input": "input", "layer1": "layer1", "layer2": "layer2", "layer3": "layer3", "pool": "avgpool"}
#: R_G targets in bits per image: 2^(k/2) from 1 to 16,384, clipped at 16 bits per feature element.
DEFAULT_RATES = tuple(2.0 ** (k / 2) for k in range(0, 29))
TARGETS = (0.70, 0.75, 0.80)
N_GROUPS = 50
OUT = ROOT / "experiments" / "results"


def _sha(path) -> str:
    from rdtheory.vision.rho_cache import file_sha256

    return file_sha256(path)


def _key(**spec) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]


def _save_npz(path: Path, arrays: dict) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_inputs(n_train, n_test):
    from rdtheory.vision.data import load_cifar10_jpeg
    from rdtheory.vision.models import load_pretrained_cifar_resnet
    from rdtheory.vision.paths import find_data

    data_path, weights_path = find_data(DATA, what="data"), find_data(WEIGHTS, what="weights")
    train = load_cifar10_jpeg(data_path, "train", cache_dir=cache_dir("data"))
    test = load_cifar10_jpeg(data_path, "test", cache_dir=cache_dir("data"))
    if n_train is not None and n_train < len(train):
        train = train.stratified(n_train, seed=0)
    if n_test is not None and n_test < len(test):
        test = test.stratified(n_test, seed=0)
    return train, test, load_pretrained_cifar_resnet(weights_path), _sha(data_path), _sha(weights_path)


def bases_for(split, train, key: str, log, points=POINTS, flat=()):
    """Fitted bases per point from the cache, or one pass over ``train`` (then cached)."""
    from rdtheory.empirical.water_filling import BlockBasis
    from rdtheory.vision.feature_rd import fit_bases

    path = cache_dir("feature_rd") / f"bases-{key}.npz"
    if path.exists():
        with np.load(path) as z:
            out = {}
            for p in points:
                b = BlockBasis(tuple(z[f"{p}/shape"]))
                b.n, b.mean, b.rotations, b.variances = int(z[f"{p}/n"]), z[f"{p}/mean"], z[f"{p}/rot"], z[f"{p}/var"]
                out[p] = b
        log(f"bases from {path}")
        return out
    t0 = time.time()
    bases = fit_bases(split, train, points, flat=flat)
    log(f"bases fitted on {len(train)} training images in {time.time() - t0:.0f} s")
    arrays = {}
    for p, b in bases.items():
        arrays.update({f"{p}/shape": np.array(b.shape), f"{p}/n": np.array(b.n), f"{p}/mean": b.mean,
                       f"{p}/rot": b.rotations, f"{p}/var": b.variances})
    _save_npz(path, arrays)
    return bases


def levels_for(bases, rates):
    from rdtheory.empirical.water_filling import levels_for_rates

    out = {}
    for p, b in bases.items():
        r = np.array([x for x in rates if x <= 16 * b.variances.size])
        out[p] = (r, levels_for_rates(b.variances, r))
    return out


def _state_io(path: Path, points, levels):
    from rdtheory.vision.feature_rd import FIELDS

    def save(st):
        arrays = {"batch": np.array(st["batch"]), "counts": st["counts"], "clean": st["clean"],
                  "n_batches": np.array(st.get("n_batches", -1))}
        for p in points:
            for f in FIELDS:
                arrays[f"{p}/{f}"] = st["sums"][p][f]
        _save_npz(path, arrays)

    def load():
        if not path.exists():
            return None
        with np.load(path) as z:
            return {"batch": int(z["batch"]), "n_batches": int(z["n_batches"]), "counts": z["counts"].copy(),
                    "clean": z["clean"].copy(),
                    "sums": {p: {f: z[f"{p}/{f}"].copy() for f in FIELDS} for p in points}}

    return save, load


def rho_rows(path: Path = OUT / "cifar_table1.json") -> dict:
    """ρ of ResNet-20 per point (training split, bias-corrected, 95% interval) from the committed Table I run."""
    rows = json.loads(path.read_text())["rows"]
    out = {}
    for p, layer in RHO_LAYER.items():
        r = next((r for r in rows if r["split"] == "train" and r["dataset"] == "cifar10" and r["layer"] == layer
                  and r["model"] in (("-",) if layer == "input" else ("resnet20",))), None)
        if r is not None:
            out[p] = {"rho": r["rho"], "low": r["low"], "high": r["high"], "n_images": r["n_images"]}
    return out


def run(n_train=None, n_test=None, rates=DEFAULT_RATES, n_groups=N_GROUPS, seed=0, write=True, log=print,
        max_batches=None, from_state=False, points=POINTS, flat=(), tag=""):
    """Bases (cached), then the held-out pass (checkpointed; ``max_batches`` stops early, and the
    result then covers the random subset of test images done so far: ``n_test_done``).
    ``from_state=True`` only summarises the last checkpoint (no pass; e.g. while a run is going).
    ``points`` / ``flat`` (points with the full PCA basis) / ``tag`` (suffix of the output files) run a
    variant, e.g. layer3 with its full PCA basis."""
    import torch

    from rdtheory.empirical.water_filling import gaussian_curve
    from rdtheory.vision.feature_rd import evaluate_channels, split_cifar_resnet

    torch.set_num_threads(1)
    train, test, model, data_sha, weights_sha = load_inputs(n_train, n_test)
    split = split_cifar_resnet(model)
    points, flat = tuple(points), tuple(flat)
    spec = dict(version=VERSION, data=data_sha, weights=weights_sha, n_train=len(train), points=points)
    bkey = _key(**spec, **({"flat": flat} if flat else {}))
    bases = bases_for(split, train, bkey, log, points, flat)
    lv = levels_for(bases, rates)
    skey = _key(bases=bkey, n_test=len(test), rates=[list(lv[p][0]) for p in points], groups=n_groups, seed=seed,
                order="shuffled")
    save, load = _state_io(cache_dir("feature_rd") / f"state-{skey}.npz", points, lv)
    state = load()
    if from_state:
        if state is None or state["batch"] == 0:
            raise ValueError("from_state: no checkpoint with a finished batch for these settings; run the pass first")
        st = state
    else:
        if state is not None:
            log(f"resuming at batch {state['batch']}")
        st = evaluate_channels(split, test, bases, {p: lv[p][1] for p in points}, n_groups=n_groups, seed=seed,
                               state=state, checkpoint=save, every=1, max_batches=max_batches)
        save(st)
    result = {"data": "CIFAR-10 (JPEG q75 re-export)", "weights": WEIGHTS, "n_train": len(train), "n_test": len(test),
              "n_test_done": int(st["counts"].sum()), "batches": [st["batch"], st["n_batches"]],
              "n_groups": n_groups, "seed": seed, "version": VERSION, "counts": st["counts"].tolist(),
              "clean_correct": st["clean"].tolist(), "rho": rho_rows(), "flat": list(flat), "points": {}}
    for p in points:
        b, (r, th) = bases[p], lv[p]
        rg, dg = gaussian_curve(b.variances, th)
        result["points"][p] = {
            "shape": list(b.shape), "n_features": int(b.variances.size), "total_variance": float(b.variances.sum()),
            "spectrum": np.sort(b.variances)[::-1].tolist() if b.variances.size <= 64 else
            _spectrum_summary(b.variances), "rates_target": r.tolist(), "theta": th.tolist(),
            "rate_gaussian": rg.tolist(), "distortion_gaussian": dg.tolist(),
            "groups": {f: np.round(st["sums"][p][f], 4).tolist() for f in st["sums"][p]}}
    result["summary"] = summarise(result)
    if write:
        # compact (no indentation): the per-group sums are most of it
        atomic_write_text(OUT / f"cifar_feature_rd{tag}.json",
                          json.dumps(strict_json(result), separators=(",", ":"), allow_nan=False) + "\n")
        atomic_write_text(OUT / f"cifar_feature_rd{tag}.md", markdown(result))
    return result


def basis_check(points=("input", "layer3"), n_fit=10000, n_eval=5000, rates=tuple(2.0 ** k for k in range(2, 15)),
                log=print) -> dict:
    """How much looser is the block (DCT + channel PCA) basis than the full PCA basis? Both fitted on the same
    ``n_fit`` training images (stratified, seed 1), both scored on ``n_eval`` test images with the held-out
    rate bound; per point, at each level the mean (distortion / total variance, bits) of either basis."""
    import torch

    from rdtheory.empirical.water_filling import heldout_terms, levels_for_rates
    from rdtheory.vision.data import iterate_batches, to_tensor
    from rdtheory.vision.feature_rd import fit_bases, split_cifar_resnet

    torch.set_num_threads(1)
    train, test, model, _, _ = load_inputs(None, None)
    fit, ev = train.stratified(n_fit, seed=1), test.stratified(n_eval, seed=1)
    split = split_cifar_resnet(model)
    t0 = time.time()
    kinds = {"block": fit_bases(split, fit, points, progress=False),
             "pca": fit_bases(split, fit, points, flat=points, progress=False)}
    log(f"basis check: bases fitted in {time.time() - t0:.0f} s")
    lv = {k: {p: levels_for_rates(b[p].variances, rates) for p in points} for k, b in kinds.items()}
    acc = {k: {p: np.zeros((2, len(rates))) for p in points} for k in kinds}
    with torch.no_grad():
        for idx in iterate_batches(len(ev), 250):
            feats = split.run(to_tensor(ev.images[idx], "imagenet"), "input", taps=points)
            for k, bases in kinds.items():
                for p in points:
                    b = bases[p]
                    c = b.forward(feats[p].double().numpy().reshape(len(idx), *b.shape))
                    r, d = heldout_terms(c, b.variances, lv[k][p])
                    acc[k][p] += np.stack([r.sum(0), d.sum(0)])
    out = {"n_fit": n_fit, "n_eval": n_eval, "rates_target": list(rates), "points": {}}
    for p in points:
        tv = float(kinds["block"][p].variances.sum())
        out["points"][p] = {k: {"bits": (acc[k][p][0] / len(ev)).tolist(),
                                "nmse": (acc[k][p][1] / len(ev) / tv).tolist()} for k in kinds}
    return out


def basis_ratios(chk: dict) -> dict:
    """Per point: [(nmse, block bits, full-PCA bits at the same held-out nmse, ratio)] at the block basis's
    levels (log-log interpolation of the PCA curve; levels outside its range are left out)."""
    out = {}
    for p, d in chk["points"].items():
        nb, bb = np.asarray(d["block"]["nmse"]), np.asarray(d["block"]["bits"])
        npc, bp = np.asarray(d["pca"]["nmse"])[::-1], np.asarray(d["pca"]["bits"])[::-1]
        ok = (nb >= npc[0]) & (nb <= npc[-1])
        pca = np.exp(np.interp(np.log(nb[ok]), np.log(npc), np.log(bp)))
        out[p] = [[round(float(a), 5), round(float(b), 1), round(float(c), 1), round(float(b / c), 3)]
                  for a, b, c in zip(nb[ok], bb[ok], pca)]
    return out


def _spectrum_summary(v) -> list:
    """The sorted training spectrum at 64 log-spaced ranks (for the figure; the full one is in the cache)."""
    s = np.sort(v)[::-1]
    idx = np.unique(np.round(np.geomspace(1, s.size, 64)).astype(int) - 1)
    return [[int(i + 1), float(s[i])] for i in idx]


# ----------------------------------------------------------------------------- summary (no torch)
def _weights(n_groups: int, n_boot: int, seed: int) -> np.ndarray:
    """Group multiplicities: row 0 the sample itself, then ``n_boot`` resamples of the groups."""
    rng = np.random.default_rng([seed, n_groups])
    w = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_boot).astype(float)
    return np.vstack([np.ones(n_groups), w])


def curves(result: dict, n_boot: int = 2000, seed: int = 0) -> dict:
    """Per point: replicate arrays (1 + n_boot, T) of rate (bits/image), distortion, realised, accuracy.

    Row 0 is the estimate; every row uses the same group multiplicities for every point and
    field, so rate and accuracy are resampled jointly (and across layers)."""
    counts = np.asarray(result["counts"], dtype=float)
    w = _weights(counts.size, n_boot, seed)
    n = w @ counts
    out = {}
    for p, rec in result["points"].items():
        g = {f: np.asarray(v, dtype=float) for f, v in rec["groups"].items()}
        out[p] = {f: (w @ g[f].T) / n[:, None] for f in g}
        out[p]["accuracy"] = out[p].pop("correct")
    out["clean_accuracy"] = (w @ np.asarray(result["clean_correct"], dtype=float)) / n
    return out


def bits_at_accuracy(rate: np.ndarray, accuracy: np.ndarray, target: float) -> np.ndarray:
    """Bits per image at which each row's accuracy curve first reaches ``target``.

    ``rate``/``accuracy``: (B, T) with rates increasing along T. Linear interpolation in
    log2(rate) between the last grid point below and the first at or above the target;
    ``inf`` where the grid never reaches it, the first rate where the first point already does.
    """
    rate, acc = np.atleast_2d(rate), np.atleast_2d(accuracy)
    if rate.shape != acc.shape:
        raise ValueError(f"rate and accuracy must have the same shape; got {rate.shape} and {acc.shape}")
    hit = acc >= target
    first = np.where(hit.any(1), hit.argmax(1), -1)
    out = np.full(rate.shape[0], np.inf)
    rows = np.arange(rate.shape[0])
    at0 = first == 0
    out[at0] = rate[at0, 0]
    mid = first > 0
    j, r = first[mid], rows[mid]
    lo_r, hi_r, lo_a, hi_a = np.log2(rate[r, j - 1]), np.log2(rate[r, j]), acc[r, j - 1], acc[r, j]
    out[mid] = 2.0 ** (lo_r + (target - lo_a) / (hi_a - lo_a) * (hi_r - lo_r))
    return out


def summarise(result: dict, targets=TARGETS, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Estimates with percentile intervals: the curves, and bits per image at each target accuracy."""
    cv = curves(result, n_boot, seed)
    q = [(1 - level) / 2, (1 + level) / 2]

    def ci(a):  # inverted-CDF quantiles: no interpolation, so an inf replicate (target never reached) stays inf
        qs = np.quantile(a[1:], q, axis=0, method="inverted_cdf")
        return [float(a[0]), *map(float, qs)] if a.ndim == 1 else [a[0].tolist(), *qs.tolist()]

    out = {"clean_accuracy": ci(cv["clean_accuracy"]), "level": level, "n_boot": n_boot, "points": {}}
    for p, c in cv.items():
        if p == "clean_accuracy":
            continue
        tv = result["points"][p]["total_variance"]
        bits = {f"{t:.2f}": ci(bits_at_accuracy(c["rate"], c["accuracy"], t)) for t in targets}
        out["points"][p] = {"rate": ci(c["rate"]), "accuracy": ci(c["accuracy"]),
                            "nmse": ci(c["distortion"] / tv), "realised_nmse": ci(c["realised"] / tv),
                            "bits_at": bits}
    return out


def _bits(x) -> str:
    return "not reached" if x is None or not math.isfinite(x) else f"{x:.0f}"


def markdown(result: dict) -> str:
    s = result["summary"]
    lines = [f"# R(D) of ResNet-20 features vs task accuracy ({result['data']})", "",
             f"Bases on {result['n_train']:,} training images; held-out rate, MSE and top-1 on "
             f"{result['n_test_done']:,} of {result['n_test']:,} test images ({result['n_groups']} groups, "
             f"{s['n_boot']} group-bootstrap replicates, "
             f"{100 * s['level']:.0f}% intervals). Clean top-1: {100 * s['clean_accuracy'][0]:.2f}%.", "",
             "Bits per image of the water-filling channel (an upper bound on R(D) of the features at its MSE) "
             "needed to keep top-1 at the target, next to rho (training split, bias-corrected):", "",
             "| point | features | rho [95%] | " + " | ".join(f"bits @ {t} top-1 [95%]" for t in
                                                          next(iter(s["points"].values()))["bits_at"]) + " |",
             "|---|---|---|" + "---|" * len(next(iter(s["points"].values()))["bits_at"])]
    for p, rec in s["points"].items():
        r = result["rho"].get(p)
        rho = f"{r['rho']:.4f} [{r['low']:.4f}, {r['high']:.4f}]" if r else "-"
        bits = " | ".join(f"{_bits(b[0])} [{_bits(b[1])}, {_bits(b[2])}]" for b in rec["bits_at"].values())
        lines.append(f"| {p} | {result['points'][p]['n_features']} | {rho} | {bits} |")
    lines += ["", "Per point: target rate R_G (train), held-out rate bound, normalised MSE (expected | realised), "
              "top-1:", ""]
    for p, rec in s["points"].items():
        lines += [f"## {p}", "", "| R_G target | rate [95%] | NMSE | realised NMSE | top-1 [95%] |",
                  "|---|---|---|---|---|"]
        for t, rt in enumerate(result["points"][p]["rates_target"]):
            lines.append(f"| {rt:g} | {rec['rate'][0][t]:.1f} [{rec['rate'][1][t]:.1f}, {rec['rate'][2][t]:.1f}] | "
                         f"{rec['nmse'][0][t]:.4g} | {rec['realised_nmse'][0][t]:.4g} | "
                         f"{100 * rec['accuracy'][0][t]:.2f} [{100 * rec['accuracy'][1][t]:.2f}, "
                         f"{100 * rec['accuracy'][2][t]:.2f}] |")
        lines.append("")
    basis = OUT / "cifar_feature_rd_basis.json"
    if basis.is_file():
        chk = json.loads(basis.read_text())
        lines += ["## Basis check: block (DCT + channel PCA) vs full PCA", "",
                  f"Both fitted on {chk['n_fit']:,} training images, scored on {chk['n_eval']:,} test images "
                  "(held-out rate bound); bits per image at the same normalised MSE:", "",
                  "| point | NMSE | block bits | PCA bits | block / PCA |", "|---|---|---|---|---|"]
        for p, rows in basis_ratios(chk).items():
            lines += [f"| {p} | {a:.4g} | {b:.0f} | {c:.0f} | {r:.2f} |" for a, b, c, r in rows]
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-train", type=int, default=None, help="training images for the bases (default: all 50,000)")
    ap.add_argument("--n-test", type=int, default=None, help="test images (default: all 10,000)")
    ap.add_argument("--rates", type=float, nargs="*", default=list(DEFAULT_RATES), help="R_G targets, bits/image")
    ap.add_argument("--groups", type=int, default=N_GROUPS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-batches", type=int, default=None, help="stop after this many test batches (resumable)")
    ap.add_argument("--points", nargs="+", default=list(POINTS), help="cut points to code")
    ap.add_argument("--flat", nargs="*", default=[], help="points coded in their full PCA basis (F^2 memory)")
    ap.add_argument("--tag", default="", help="suffix of the output files (e.g. _layer3_pca)")
    ap.add_argument("--from-state", action="store_true",
                    help="summarise the last checkpoint of these settings without running the pass")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--basis-check", action="store_true",
                    help="only compare the block basis with the full PCA basis at input/layer3 "
                         "(writes experiments/results/cifar_feature_rd_basis.json)")
    a = ap.parse_args(argv)
    if a.basis_check:
        chk = basis_check()
        if not a.no_write:
            atomic_write_json(OUT / "cifar_feature_rd_basis.json", chk)
        print(json.dumps(chk, indent=1))
        return 0
    res = run(a.n_train, a.n_test, tuple(sorted(a.rates)), a.groups, a.seed, write=not a.no_write,
              max_batches=a.max_batches, from_state=a.from_state, points=a.points, flat=a.flat, tag=a.tag)
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
