"""Traditional-codec baseline of issue 8: JPEG and WebP rate vs ResNet-20 top-1 on CIFAR-10.

Every test image of CIFAR-10 (JPEG q75 re-export) is re-encoded with JPEG (Pillow/libjpeg,
4:2:0, optimised Huffman tables) and WebP (Pillow/libwebp, lossy) at each quality, decoded,
and classified by the shipped pretrained ResNet-20 (Idelbayev; imagenet mean/std, as its
weights were trained). Rate = real file size in bits per pixel (bits / 1024), headers
included; the payload-only rate (headers removed) is reported next to it. The reference point
is the model on the shipped pixels, with the shipped q75 files' own size as its rate.

Writes ``experiments/results/codecs_baselines.json`` (atomic) and ``.md`` next to it. Usage::

    nice -n 10 .venv/bin/python experiments/codecs_baselines.py            # full test split, 1 thread
    .venv/bin/python experiments/codecs_baselines.py --n-test 500 --out /tmp/cb.json   # quick look
"""
from __future__ import annotations

import argparse
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rdtheory._io import cache_dir as _cache_dir  # noqa: E402  (decoded-image cache)

DATA = "cifar10-jpeg.zip"  # names under the data root (rdtheory.vision.paths.find_data, docs/vision.md)
WEIGHTS = "cifar10-resnet-weights/resnet20-12fca82f.th"
QUALITIES = (5, 10, 20, 30, 50, 75, 90, 95)
OUT = ROOT / "experiments/results/codecs_baselines.json"


def shipped_file_bits(data_dir, split: str = "test"):
    """(total bits, header bits) of each shipped file of ``split``, in :func:`load_cifar10_jpeg`'s order.

    That order is (class folder, file name), both sorted; header bits as
    :func:`rdtheory.codecs.baselines.header_bytes` counts them (all but the entropy-coded scan).
    """
    import numpy as np

    from rdtheory.codecs.baselines import header_bytes
    from rdtheory.vision.paths import find_data

    p = find_data(data_dir, what="--data-dir")
    if p.is_file():
        with zipfile.ZipFile(p) as z:
            items = [(tuple(i.filename.split("/")[-2:]), z.read(i)) for i in z.infolist()
                     if not i.is_dir() and i.filename.lower().endswith(".jpg") and i.filename.split("/")[-3] == split]
    else:
        root = p / "cifar10-jpeg" if (p / "cifar10-jpeg").is_dir() else p
        items = [((f.parent.name, f.name), f.read_bytes()) for f in (root / split).glob("*/*.jpg")]
    items.sort(key=lambda t: t[0])
    total = 8 * np.array([len(b) for _, b in items], dtype=np.int64)
    head = 8 * np.array([header_bytes(b, "jpeg") for _, b in items], dtype=np.int64)
    return total, head


def run(data_dir=DATA, weights=WEIGHTS, *, n_test=10000, qualities=QUALITIES, codecs=("jpeg", "webp"),
        out=OUT, threads=1, batch_size=500, device="cpu", jpeg_optimize=True, cache_dir=_cache_dir("data"),
        log=print):
    import numpy as np
    import torch

    from rdtheory._io import atomic_write_json, atomic_write_text
    from rdtheory.codecs.baselines import header_overhead, top1_accuracy, traditional_codec_curve
    from rdtheory.metrics import bd_table, format_bd_table, pareto_front
    from rdtheory.vision.data import JPEG_VARIANT, load_cifar10_jpeg, stratified_indices
    from rdtheory.vision.models import load_pretrained_cifar_resnet

    if threads:
        torch.set_num_threads(threads)
    t_start = time.time()
    test = load_cifar10_jpeg(data_dir, "test", cache_dir=cache_dir)
    file_bits, file_head = shipped_file_bits(data_dir)
    if file_bits.size != len(test):
        raise ValueError(f"found {file_bits.size} shipped test files but decoded {len(test)} images")
    if n_test < len(test):
        idx = stratified_indices(test.labels, n_test, seed=0)
        test = test.subset(idx, f"{test.name} (stratified subsample of {n_test}, seed 0)")
        file_bits, file_head = file_bits[idx], file_head[idx]
    elif n_test > len(test):
        raise ValueError(f"--n-test {n_test} exceeds the {len(test)} test images")
    model = load_pretrained_cifar_resnet(weights).to(device)
    h, w = test.images.shape[1:3]

    t0 = time.time()
    ref_acc = top1_accuracy(model, test.images, test.labels, batch_size=batch_size, device=device)
    reference = {"name": "shipped pixels (JPEG q75 re-export, not re-encoded)", "bpp": float(file_bits.mean() / (h * w)),
                 "bpp_payload": float((file_bits - file_head).mean() / (h * w)),
                 "header_bytes_mean": float(file_head.mean() / 8), "accuracy": ref_acc, "n": len(test), "seconds": time.time() - t0}
    log(f"reference: {reference['bpp']:.3f} bpp ({reference['bpp_payload']:.3f} payload, shipped files), "
        f"top-1 {100 * ref_acc:.2f} %")

    rows = []
    for codec in codecs:
        t0 = time.time()
        curve = traditional_codec_curve(model, test.images, test.labels, codec, list(qualities), batch_size=batch_size,
                                        device=device, jpeg_optimize=jpeg_optimize, log=log)
        log(f"{codec}: {time.time() - t0:.0f} s")
        rows += curve
    overhead = [header_overhead(c, q, size=(h, w), jpeg_optimize=jpeg_optimize) for c in codecs for q in qualities]
    if "jpeg" in codecs:
        overhead += [dict(header_overhead("jpeg", q, size=(h, w), jpeg_optimize=False), jpeg_optimize=False)
                     for q in qualities]

    # BD fits assume rate and accuracy rise together; a measured curve can dip (e.g. JPEG re-encoding
    # at the source's own q75 beats q90), so BD uses each curve's Pareto front and lists what it dropped.
    bd = {}
    if len(codecs) > 1:
        for key in ("bpp", "bpp_payload"):
            curves, dropped = {}, {}
            for c in codecs:
                pts = [r for r in rows if r["codec"] == c]
                keep = set(pareto_front([r[key] for r in pts], [r["accuracy"] for r in pts]).tolist())
                curves[c] = ([r[key] for i, r in enumerate(pts) if i in keep],
                             [100 * r["accuracy"] for i, r in enumerate(pts) if i in keep])
                dropped[c] = [r["quality"] for i, r in enumerate(pts) if i not in keep]
            bd[key] = {"rows": bd_table(curves, anchor=codecs[0], method="pchip"), "dropped_qualities": dropped}
    meta = {"data": test.name, "variant": JPEG_VARIANT, "n_images": len(test), "model": "ResNet-20 (pretrained, Idelbayev)",
            "weights": Path(weights).name, "normalisation": "imagenet mean/std (as the weights were trained)",
            "jpeg": f"Pillow/libjpeg baseline, 4:2:0, optimize={jpeg_optimize}", "webp": "Pillow/libwebp lossy, method=4",
            "bpp": "8 x complete file bytes / (H x W) per image, averaged; headers/container included",
            "bpp_payload": "same without header/container bytes (rdtheory.codecs.baselines.header_bytes)",
            "accuracy": "top-1 fraction against the labels", "psnr_db": "pooled MSE vs the shipped (q75) pixels",
            "threads": threads, "device": str(device), "seconds": time.time() - t_start,
            "torch": torch.__version__, "pillow": __import__("PIL").__version__}
    result = {"meta": meta, "reference": reference, "rows": rows, "header_overhead": overhead, "bd_vs_jpeg": bd}
    out = Path(out)
    atomic_write_json(out, result)
    atomic_write_text(out.with_suffix(".md"), markdown(result, format_bd_table))
    log(f"wrote {out} and {out.with_suffix('.md')} ({meta['seconds']:.0f} s)")
    return result


def markdown(result, format_bd_table) -> str:
    meta, ref = result["meta"], result["reference"]
    lines = [f"# Traditional-codec baseline — {meta['variant']}, {meta['model']}", "",
             f"{meta['n_images']} test images ({meta['data']}). Rate: real file size, bits per pixel of the 32×32 "
             f"image, headers included (`bpp`) and without headers (`payload`). JPEG: {meta['jpeg']}; "
             f"WebP: {meta['webp']}. Accuracy: top-1. PSNR vs the shipped (already q75) pixels. "
             f"Re-encoding the shipped JPEG q75 pixels is what is measured.", "",
             f"Reference — {ref['name']}: {ref['bpp']:.3f} bpp ({ref['bpp_payload']:.3f} payload, "
             f"{ref['header_bytes_mean']:.1f} header bytes per file), top-1 {100 * ref['accuracy']:.2f} %.", "",
             "| codec | quality | bpp | payload bpp | header bytes | top-1 (%) | PSNR (dB) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['codec']} | {r['quality']} | {r['bpp']:.3f} | {r['bpp_payload']:.3f} | "
                     f"{r['header_bytes_mean']:.1f} | {100 * r['accuracy']:.2f} | {r['psnr_db']:.2f} |")
    lines += ["", "Header/container bytes of one 32×32 file (noise image / flat grey image; flat = smallest file):", "",
              "| codec | quality | JPEG optimize | header bytes (noise) | file bytes (noise) | header bytes (flat) | "
              "file bytes (flat) |", "|---|---:|---|---:|---:|---:|---:|"]
    for o in result["header_overhead"]:
        opt = "" if o["codec"] != "jpeg" else str(o.get("jpeg_optimize", True))
        lines.append(f"| {o['codec']} | {o['quality']} | {opt} | {o['header_bytes_noise']} | {o['file_bytes_noise']} | "
                     f"{o['header_bytes_flat']} | {o['file_bytes_flat']} |")
    for key, bd in result["bd_vs_jpeg"].items():
        dropped = "; ".join(f"{c} q{', q'.join(map(str, qs))}" for c, qs in bd["dropped_qualities"].items() if qs)
        lines += ["", f"BD vs JPEG (PCHIP, rate = {key}, metric = top-1 %; each curve's Pareto front — dominated "
                  f"points dropped: {dropped or 'none'}):", "",
                  format_bd_table(bd["rows"], metric_label="top-1 (%)", rate_label=key)]
    lines += ["", f"Run: {meta['seconds']:.0f} s, {meta['threads']} thread(s), {meta['device']}, torch {meta['torch']}, "
              f"Pillow {meta['pillow']}.", ""]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=DATA, help="cifar10-jpeg.zip or its extracted folder")
    ap.add_argument("--weights", default=WEIGHTS, help="pretrained ResNet-20 weights (.th)")
    ap.add_argument("--n-test", type=int, default=10000, help="test images (< 10000: stratified subsample, seed 0)")
    ap.add_argument("--qualities", default=",".join(map(str, QUALITIES)), help="comma-separated, e.g. 5,10,50,90")
    ap.add_argument("--codecs", default="jpeg,webp", help="comma-separated subset of jpeg,webp (first = BD anchor)")
    ap.add_argument("--out", default=str(OUT), help="JSON path; the .md goes next to it")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jpeg-standard-tables", action="store_true",
                    help="Pillow's standard Huffman tables instead of optimised ones (≈ 340 more header bytes)")
    a = ap.parse_args(argv)
    try:
        qualities = [int(q) for q in a.qualities.split(",") if q.strip()]
    except ValueError:
        ap.error(f"--qualities must be comma-separated integers; got {a.qualities!r}")
    codecs = tuple(c.strip() for c in a.codecs.split(",") if c.strip())
    run(a.data_dir, a.weights, n_test=a.n_test, qualities=qualities, codecs=codecs, out=a.out, threads=a.threads,
        batch_size=a.batch_size, device=a.device, jpeg_optimize=not a.jpeg_standard_tables)


if __name__ == "__main__":
    main()
