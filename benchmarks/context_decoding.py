"""``python -m benchmarks.context_decoding``: the serial decoding cost of the autoregressive context model.

Fig. 14's direct codec (``DirectCodec(..., context_model=True)``, :mod:`rdtheory.codecs.context`)
decodes its latent one position at a time (each position's mean and scale need the decoded
neighbours), while the hyperprior-only codec decodes a batch in one pass. Measured in one run,
one thread, on CIFAR-10 test images, for each pair (hyperprior-only baseline, context model):

- ``image λ=<λ>``: the trained standalone image codecs of ``experiments/codecs_scalable.py``
  (``standalone`` vs ``standalone-ctx``, same transforms and λ): rate (real bitstreams, one
  latent + one side stream per image), PSNR, encode and decode seconds per image;
- ``direct C2``: the trained scalable base (direct coding at ``layer2``, β = 0, λ_b = 1, issue 8's run) vs the same
  transforms with an *untrained* context model (timing only: the loop's cost depends on the latent
  size, not on the weights).

Each at batch sizes ``--batches``; the ratio context / hyperprior and its worst case over the family
are reported. Results: ``benchmarks/results/context_decoding.json`` and ``.md``. Machines here are
shared and noisy: compare ratios measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import torch

from rdtheory._io import atomic_write_json, atomic_write_text

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")
ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
CK = REPO / "experiments" / "checkpoints" / "codecs_scalable"


def _time(fn, repeats: int = 1):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


@torch.no_grad()
def measure(codec, x, batch: int, to_pixels=None) -> dict:
    """Encode/decode seconds per image (batches of ``batch``), bpp from the bytes, PSNR if ``to_pixels``."""
    from rdtheory.codecs.enhancement import psnr_db
    from rdtheory.codecs.hyperprior import stream_bits

    enc_s = dec_s = 0.0
    bits, sq, npx, exact = 0, 0.0, 0, True
    for s in range(0, len(x), batch):
        xb = x[s:s + batch]
        te, comp = _time(lambda: codec.compress(xb))
        td, dec = _time(lambda: codec.decompress(comp["strings"], comp["shape"]))
        enc_s, dec_s = enc_s + te, dec_s + td
        bits += sum(stream_bits(comp))
        if "z_hat" in comp:
            exact &= bool(torch.equal(comp["z_hat"], dec["z_hat"]))
        if to_pixels is not None:
            rec = to_pixels(dec["output"]).clamp(0, 1)
            sq += float((rec - to_pixels(xb)).pow(2).sum())
            npx += rec.numel()
    n = len(x)
    return {"encode_s_per_image": enc_s / n, "decode_s_per_image": dec_s / n,
            "bpp": bits / (n * x.shape[-2] * x.shape[-1]), "psnr_db": psnr_db(sq / npx) if npx else None,
            "decode_exact": exact}


def pairs(x_example):
    """(name, hyperprior codec, context codec, measures PSNR) for every available pair."""
    from rdtheory.codecs.context import ContextDirectCodec
    from rdtheory.codecs.enhancement import load_enhancement
    from rdtheory.codecs.train import load_codec

    out = []
    for ctx_dir in sorted((CK / "standalone-ctx").glob("lmbda=*")):
        plain = CK / "standalone" / ctx_dir.name / "model.pt"
        if (ctx_dir / "model.pt").exists() and plain.exists():
            out.append((f"image {ctx_dir.name.replace('lmbda', 'λ')}", load_enhancement(plain)[0],
                        load_enhancement(ctx_dir / "model.pt")[0], True))
    base = CK / "i8-base-beta0" / "lmbda=1" / "model.pt"
    if base.exists():
        model, _, cfg = load_codec(base, x_example)
        plain = model.system.codec
        torch.manual_seed(0)
        ctx = ContextDirectCodec(3, plain.out_channels, out_downsample=plain.out_downsample,
                                 latent_channels=cfg.latent_channels, channels=cfg.channels,
                                 latent_downsample=cfg.latent_downsample, quant_step=cfg.quant_step,
                                 hyper_channels=cfg.hyper_channels)
        ctx.g_a.load_state_dict(plain.g_a.state_dict())
        ctx.g_s.load_state_dict(plain.g_s.state_dict())
        ctx.eval()
        ctx.update(force=True)
        out.append(("direct C2 (context untrained)", plain, ctx, False))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50, help="test images per measurement")
    ap.add_argument("--batches", default="1,25")
    ap.add_argument("--out", default=str(ROOT / "results" / "context_decoding"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from rdtheory.codecs.config import CodecConfig
    from rdtheory.codecs.tasks import TASKS

    spec = TASKS["cifar10-resnet20"]
    x, _ = spec.data(CodecConfig(test_n=args.n), "test")
    rows = []
    for name, plain, ctx, with_psnr in pairs(x[:2]):
        for b in (int(v) for v in args.batches.split(",")):
            tp = spec.to_pixels if with_psnr else None
            mp, mc = measure(plain, x, b, tp), measure(ctx, x, b, tp)
            rows.append({"pair": name, "batch": b, "hyperprior": mp, "context": mc,
                         "decode_ratio": mc["decode_s_per_image"] / mp["decode_s_per_image"],
                         "encode_ratio": mc["encode_s_per_image"] / mp["encode_s_per_image"]})
            print(json.dumps(rows[-1]))
    if not rows:
        raise SystemExit("no trained codec pairs: run experiments/codecs_scalable.py --stage enh and --stage ctx")
    res = {"rows": rows, "worst_decode_ratio": max(r["decode_ratio"] for r in rows),
           "worst_encode_ratio": max(r["encode_ratio"] for r in rows), "n_images": len(x), "threads": 1,
           "torch": torch.__version__, "machine": platform.processor() or platform.machine()}
    atomic_write_json(Path(args.out + ".json"), res)
    lines = ["# Serial decoding cost of the context model (Fig. 14) vs the hyperprior only", "",
             f"{len(x)} CIFAR-10 test images, one CPU thread, shared machine (ratios from the same run). "
             "`python -m benchmarks.context_decoding`.", "",
             "| pair | batch | decode s/img (hyperprior) | decode s/img (context) | ratio | encode ratio | "
             "bpp (hyperprior → context) | PSNR dB (hyperprior → context) | bit-exact |",
             "|---|---:|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        p, c = r["hyperprior"], r["context"]
        psnr = "—" if p["psnr_db"] is None else f"{p['psnr_db']:.2f} → {c['psnr_db']:.2f}"
        lines.append(f"| {r['pair']} | {r['batch']} | {p['decode_s_per_image']:.4f} | {c['decode_s_per_image']:.4f} | "
                     f"{r['decode_ratio']:.1f}× | {r['encode_ratio']:.1f}× | {p['bpp']:.3f} → {c['bpp']:.3f} | "
                     f"{psnr} | {c['decode_exact']} |")
    lines += ["", f"Worst case over the family: decoding {res['worst_decode_ratio']:.1f}× and encoding "
              f"{res['worst_encode_ratio']:.1f}× the hyperprior-only codec's time per image."]
    atomic_write_text(Path(args.out + ".md"), "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
