"""Short recipe pilots for the CIFAR-scale codecs (issue 16): a few hundred steps on the cached
cut-point features of all 50,000 training images, one CPU thread, reporting the training loss terms
and the eval-mode validation (rate estimate, top-1) on 1,000 training images; results appended to
``experiments/results/codecs_cifar_pilots.json`` (docs/codecs.md, "CIFAR-scale protocol").

    python experiments/codecs_cifar_pilots.py --name lr5e-3 --lr 5e-3 --steps 300
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from rdtheory._io import atomic_write_json  # noqa: E402
from rdtheory.codecs.train import (TASKS, CodecConfig, _validation_set, build, load_checkpoint,  # noqa: E402
                                   loss_terms, train_features, validate)

OUT = ROOT / "experiments/results/codecs_cifar_pilots.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--cut", default="layer2")
    ap.add_argument("--distortion", default="kl")
    ap.add_argument("--layer", default="output")
    ap.add_argument("--lmbda", type=float, default=10.0)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--latent-channels", type=int, default=16)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--quant-step", type=float, default=0.05)
    ap.add_argument("--hyper-channels", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--init-from", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = CodecConfig(train_n=None, cut=args.cut, distortion=args.distortion,
                      layers=() if args.distortion == "supervised" else (args.layer,), lmbda=args.lmbda, lr=args.lr,
                      stride=args.stride, latent_channels=args.latent_channels, channels=args.channels,
                      quant_step=args.quant_step, hyper_channels=args.hyper_channels, batch_size=args.batch_size,
                      cached_features=True, val_n=1000)
    spec = TASKS[cfg.task]
    x, y = spec.data(cfg, "train")
    torch.manual_seed(0)
    model, loss = build(cfg, x[:2])
    if args.init_from:
        model.load_state_dict({k: v for k, v in load_checkpoint(args.init_from)["model"].items()}, strict=False)
    val = _validation_set(cfg, x, y)
    feats, teacher = train_features(cfg, model.system.task, x)
    labels = torch.cat([y, y])
    main_p = [p for n, p in model.named_parameters() if p.requires_grad and not n.endswith(".quantiles")]
    aux_p = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    opt, aux = torch.optim.Adam(main_p, lr=cfg.lr), torch.optim.Adam(aux_p, lr=1e-3)
    g = torch.Generator().manual_seed(0)
    t0, log = time.time(), []
    model.train()
    for step in range(args.steps):
        idx = torch.randint(0, len(feats), (cfg.batch_size,), generator=g)
        terms = loss_terms(model, loss, feats[idx].float(), labels[idx], 1024, at_cut=True, teacher=teacher[idx])
        opt.zero_grad()
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(main_p, 1.0)
        opt.step()
        a = model.system.codec.aux_loss()
        aux.zero_grad()
        a.backward()
        aux.step()
        log.append([float(terms[k]) for k in ("loss", "rate_bpp", "distortion")])
    secs = time.time() - t0
    model.system.codec.update(force=True)
    v = validate(model, loss, *val, pixels=1024)
    last = torch.tensor(log[-50:]).mean(0).tolist()
    rec = {"name": args.name, "args": vars(args), "seconds": secs, "img_per_s": args.steps * cfg.batch_size / secs,
           "last50_loss_rate_distortion": last, "first10": torch.tensor(log[:10]).mean(0).tolist(), **v}
    print(json.dumps(rec), flush=True)
    runs = json.loads(OUT.read_text()) if OUT.exists() else []
    atomic_write_json(OUT, [r for r in runs if r["name"] != args.name] + [rec])
    return 0


if __name__ == "__main__":
    sys.exit(main())
