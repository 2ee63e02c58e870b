"""The scalable pair of the scalable-coding slides (their Figs. 3–5) on CIFAR-10 with ResNet-20.

* **base** (:mod:`rdtheory.codecs.scalable`): a direct codec at C2 (``layer2``), supervised at the
  output (cross-entropy), with the reconstruction reward β·MSE(G_a(Ŷ_b), X) for β in
  :data:`BETAS` (0 = the slides' baseline, 0.01 = their proposal, up to 10 where the reward is
  a large share of the loss), each a λ chain :data:`LAMBDAS_BASE`; the head ``G_a`` is re-fitted
  from scratch on the frozen base for the PSNR of the base alone (slides Fig. 4).
* **enhancement** (:mod:`rdtheory.codecs.enhancement`): on the frozen base at λ_b =
  :data:`LAMBDA_BASE_FOR_ENH`, a conditional image codec trained on λ_e·MSE + ĥ(Ŷ_e | Ŷ_b) for λ_e in
  :data:`LAMBDAS_ENH`; PSNR at total rate (base + enhancement streams), slides Fig. 5.
* **standalone**: the same-size image codec with no side information, same λ_e grid.

Two base families (:data:`FAMILIES`): ``i8`` — copies of issue 8's committed scalable bases (β = 0, 0.01,
1; λ_b 100 → 1; the claims are decided on these), and ``""`` ("issue16") — chains trained here to widen
the β range. Every run is resumable (per-epoch ``last.pt``) and skipped once its ``result.json`` exists.
Outputs: ``experiments/checkpoints/codecs_scalable/{i8-base-beta<β>,base-beta<β>,enh-i8-beta<β>,
enh-beta<β>,standalone,standalone-ctx}/lmbda=<λ>/`` and the summary
``experiments/results/codecs_scalable.{json,md}`` (:func:`summarize` per family, rebuilt by ``--stage
summary``). Budget used here (2 shared CPU cores): class-stratified 5,000 training images, 2,000 test
images, 4 epochs at the first λ of a chain and 2 at each later λ; one process per chain:

    python experiments/codecs_scalable.py --stage enh --betas ''                  # standalone chain
    python experiments/codecs_scalable.py --stage enh --no-standalone --family i8 --betas 0 --enh-lambdas 100,30
    python experiments/codecs_scalable.py --stage enh --no-standalone --family i8 --betas 1 --enh-lambdas 100,30
    python experiments/codecs_scalable.py --stage ctx                             # standalone + context model
    python experiments/codecs_scalable.py --stage base --betas 0,10               # the issue16 family (long)
    python experiments/codecs_scalable.py --stage summary
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

CK = Path("experiments/checkpoints/codecs_scalable")
OUT = Path("experiments/results/codecs_scalable")
#: β grid: 0 (baseline), 0.01 (the slides' proposal), and larger rewards (our loss is ~1e3× the slides' scale).
BETAS = (0.0, 10.0, 1.0, 0.1, 0.01)
#: λ_b chain of the base (cross-entropy in nats per bpp), highest first.
LAMBDAS_BASE = (30.0, 10.0, 3.0, 1.0)
#: The base operating point the enhancement layers are trained on (the lowest base rate).
LAMBDA_BASE_FOR_ENH = 1.0
#: λ_e chain (bpp per unit of MSE on the normalised input), highest first.
LAMBDAS_ENH = (100.0, 30.0, 10.0, 3.0)
PRETRAIN = "experiments/checkpoints/codecs/pretrain-direct-C2/model.pt"
FIRST_EPOCHS, WARM_EPOCHS = 4, 2


def base_config(beta: float):
    from rdtheory.codecs.config import CodecConfig
    return CodecConfig(approach="direct", cut="layer2", distortion="supervised", layers=(), scalable=True,
                       beta=beta, train_n=5000, test_n=2000, latent_channels=16, channels=32, latent_downsample=4,
                       stride=1, quant_step=0.05, hyper_channels=32, epochs=FIRST_EPOCHS, lr=5e-3,
                       init_from=str(CK / "pretrain-direct-C2" / "model.pt"), out_dir=str(CK / f"base-beta{beta:g}"))


#: Base families: this experiment's chains (``base-beta<β>``) and copies of issue 8's committed scalable
#: bases (``i8-base-beta<β>``: β = 0, 0.01, 1; λ_b chain 100 → 30 → 10 → 3 → 1, otherwise the same protocol;
#: copied so that a retraining of experiment 2 cannot change the bases the enhancement layers were trained on).
FAMILIES = {"": "base-beta", "i8": "i8-base-beta"}


def base_model(beta: float, lmbda: float = LAMBDA_BASE_FOR_ENH, family: str = "") -> Path:
    return CK / f"{FAMILIES[family]}{beta:g}" / f"lmbda={lmbda:g}" / "model.pt"


def run_bases(betas) -> None:
    from rdtheory.codecs.train import lambda_sweep
    local = CK / "pretrain-direct-C2" / "model.pt"
    if not local.exists():  # a private copy: the shared pre-training may be retrained by other experiments
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / PRETRAIN, local)
    for beta in betas:
        lambda_sweep(base_config(beta), LAMBDAS_BASE, warm_start_epochs=WARM_EPOCHS, run_fn=_run_base)


def _run_base(cfg):
    from rdtheory.codecs.train import run
    return run(cfg, progress=False, refit_head_epochs=2)


def enh_chain(base: str | None, name: str, context_model: bool = False, lmbdas=LAMBDAS_ENH) -> list[dict]:
    from rdtheory.codecs.enhancement import EnhancementConfig, run_enhancement
    out, prev = [], None
    for lm in lmbdas:
        cfg = EnhancementConfig(base=base, lmbda=lm, epochs=FIRST_EPOCHS, out_dir=str(CK / name / f"lmbda={lm:g}"),
                                context_model=context_model)
        if prev is not None:
            cfg = dataclasses.replace(cfg, epochs=WARM_EPOCHS, init_from=str(Path(prev) / "model.pt"))
        out.append(run_enhancement(cfg))
        prev = cfg.out_dir
    return out


def run_enh(betas, wait_s: float = 30.0, standalone: bool = True, lmbdas=LAMBDAS_ENH, family: str = "") -> None:
    """The standalone chain (unless ``standalone=False``), then the enhancement chain of each β as soon as
    its base (λ_b = LAMBDA_BASE_FOR_ENH) is finished."""
    if standalone:
        enh_chain(None, "standalone")
    todo = list(betas)
    while todo:
        ready = [b for b in todo if (base_model(b, family=family).parent / "result.json").exists()]
        if not ready:
            time.sleep(wait_s)
            continue
        enh_chain(str(base_model(ready[0], family=family)), f"enh-{family + '-' if family else ''}beta{ready[0]:g}",
                  lmbdas=lmbdas)
        todo.remove(ready[0])


def reward_share(result: dict) -> float | None:
    """β·MSE / (R + λD) over the last training epoch of a base run (β·MSE = loss − R − λD): the
    reconstruction reward's scale relative to the rest of the loss, at convergence."""
    h = result.get("train_history") or []
    if not h:
        return None
    last, lmbda = h[-1], result["config"]["lmbda"]
    rd = last["train_rate_bpp"] + lmbda * last["train_distortion"]
    return (last["train_loss"] - rd) / rd


def collect(root=CK, family: str = "i8") -> dict:
    """Every finished run of one base ``family`` (:data:`FAMILIES`) under ``root``: ``{"base": {β: [...]},
    "enh": {β: [...]}, "standalone": [...], "standalone-ctx": [...]}``, points sorted by rate (the
    checkpoints folder is the source of truth; the standalone codecs are shared by the families)."""
    out = {"base": {}, "enh": {}, "standalone": [], "standalone-ctx": []}
    base_prefix, enh_prefix = FAMILIES[family], f"enh-{family + '-' if family else ''}beta"
    for f in sorted(Path(root).glob("*/lmbda=*/result.json")):
        r, sweep = json.loads(f.read_text()), f.parent.parent.name
        lm = float(f.parent.name.split("=")[1])
        if sweep.startswith(base_prefix):
            out["base"].setdefault(float(sweep[len(base_prefix):]), []).append(
                {"lmbda": lm, "bpp": r["bpp"], "bpp_estimate": r["bpp_estimate"], "accuracy": r["accuracy"],
                 "psnr_db": r["psnr_db"], "n": r["n"], "reward_share": reward_share(r)})
        elif "bpp_total" in r:
            pt = {k: r[k] for k in ("bpp_base", "bpp_enhancement", "bpp_total", "bpp_estimate_enhancement",
                                    "psnr_db", "n")} | {"lmbda": lm}
            if sweep.startswith(enh_prefix) and sweep[len(enh_prefix):].replace(".", "").isdigit():
                out["enh"].setdefault(float(sweep[len(enh_prefix):]), []).append(pt)
            elif sweep in out:
                out[sweep].append(pt)
    for group in (out["base"], out["enh"]):
        for b in group:
            group[b].sort(key=lambda p: p.get("bpp", p.get("bpp_total")))
    for k in ("standalone", "standalone-ctx"):
        out[k].sort(key=lambda p: p["bpp_total"])
    return out


def _front(points, rate_key, metric_key, scale=1.0):
    from rdtheory.metrics import pareto_front
    rates = [p[rate_key] for p in points]
    metrics = [scale * p[metric_key] for p in points]
    idx = pareto_front(rates, metrics) if len(points) else []
    return [rates[i] for i in idx], [metrics[i] for i in idx]


def bd_rows(curves: dict, anchor: str) -> list[dict]:
    """:func:`rdtheory.metrics.bd_table` (PCHIP) over each curve's Pareto front; curves with < 2 front
    points are left out (noted)."""
    from rdtheory.metrics import bd_table
    ok = {k: v for k, v in curves.items() if len(v[0]) >= 2}
    if anchor not in ok:
        return []
    rows = bd_table(ok, anchor, method="pchip")
    return rows + [{"curve": k, "anchor": anchor, "note": "fewer than 2 Pareto points"} for k in curves if k not in ok]


def summarize(results: dict) -> dict:
    """Curves and the three BD comparisons of the slides: (i) base task (top-1 % vs bpp) with β vs β = 0,
    (ii) PSNR of the base alone (G_a(Ŷ_b)) vs base bpp, with β vs β = 0, (iii) PSNR at total rate of the
    scalable pair with β vs the β = 0 pair and vs the standalone codec."""
    base, enh = results["base"], results["enh"]
    task = {f"beta={b:g}": _front(p, "bpp", "accuracy", 100.0) for b, p in sorted(base.items())}
    psnr = {f"beta={b:g}": _front(p, "bpp", "psnr_db") for b, p in sorted(base.items())}
    total = {f"beta={b:g}": _front(p, "bpp_total", "psnr_db") for b, p in sorted(enh.items())}
    total["standalone"] = _front(results["standalone"], "bpp_total", "psnr_db")
    if results["standalone-ctx"]:
        total["standalone-ctx"] = _front(results["standalone-ctx"], "bpp_total", "psnr_db")
    return {"results": {"base": {f"{b:g}": v for b, v in base.items()}, "enh": {f"{b:g}": v for b, v in enh.items()},
                        "standalone": results["standalone"], "standalone-ctx": results["standalone-ctx"]},
            "bd": {"i_base_task": bd_rows(task, "beta=0"), "ii_base_psnr": bd_rows(psnr, "beta=0"),
                   "iii_total_vs_beta0": bd_rows({k: v for k, v in total.items() if k.startswith("beta")}, "beta=0"),
                   "iii_total_vs_standalone": bd_rows(total, "standalone")},
            "protocol": {"train_n": 5000, "test_n": 2000, "first_epochs": FIRST_EPOCHS, "warm_epochs": WARM_EPOCHS,
                         "lambdas_base": LAMBDAS_BASE, "lambdas_enh": LAMBDAS_ENH,
                         "lambda_base_for_enh": LAMBDA_BASE_FOR_ENH, "betas": sorted(base)}}


def _md(summary: dict) -> str:
    from rdtheory.metrics import format_bd_table
    r = summary["results"]
    lines = ["# Scalable pair (slides Figs. 3–5) on CIFAR-10 / ResNet-20", "",
             "Base: direct codec at layer2, supervised (CE), reward β·MSE(G_a(Ŷ_b), X); enhancement on the frozen "
             f"base at λ_b = {LAMBDA_BASE_FOR_ENH:g}. Rates from real bitstreams (one latent + one side stream per "
             "image and layer, flush included); 2,000 test images. `python experiments/codecs_scalable.py`.", "",
             "## Base layer", "", "| β | λ_b | bpp | top-1 % | PSNR of G_a(Ŷ_b) dB | β·MSE / (R + λD) |",
             "|---:|---:|---:|---:|---:|---:|"]
    for b, pts in sorted(r["base"].items(), key=lambda kv: float(kv[0])):
        for p in pts:
            share = "—" if p["reward_share"] is None else f"{p['reward_share']:.3g}"
            lines.append(f"| {b} | {p['lmbda']:g} | {p['bpp']:.3f} | {100 * p['accuracy']:.1f} | {p['psnr_db']:.2f} | "
                         f"{share} |")
    lines += ["", "## Enhancement (PSNR at total rate) and standalone", "",
              "| codec | λ_e | bpp base | bpp enhancement | bpp total | PSNR dB |", "|---|---:|---:|---:|---:|---:|"]
    rows = [(f"scalable β={b}", p) for b, pts in sorted(r["enh"].items(), key=lambda kv: float(kv[0])) for p in pts]
    rows += [("standalone", p) for p in r["standalone"]] + [("standalone + context model", p)
                                                             for p in r["standalone-ctx"]]
    for name, p in rows:
        lines.append(f"| {name} | {p['lmbda']:g} | {p['bpp_base']:.3f} | {p['bpp_enhancement']:.3f} | "
                     f"{p['bpp_total']:.3f} | {p['psnr_db']:.2f} |")
    labels = {"i_base_task": ("(i) base task vs β = 0", "top-1 %"), "ii_base_psnr": ("(ii) base alone vs β = 0", "PSNR dB"),
              "iii_total_vs_beta0": ("(iii) scalable pair vs the β = 0 pair", "PSNR dB"),
              "iii_total_vs_standalone": ("(iii) vs the standalone codec", "PSNR dB")}
    for key, (title, metric) in labels.items():
        rows = [x for x in summary["bd"][key] if "bd_rate_percent" in x]
        lines += ["", f"## BD {title} (PCHIP over Pareto fronts)", "",
                  format_bd_table(rows, metric_label=metric, rate_label="bpp") if rows else "(no curves yet)"]
    return "\n".join(lines) + "\n"


def write_summary() -> dict:
    """Both families: ``{"i8": summary, "issue16": summary}`` → ``codecs_scalable.json``; markdown likewise."""
    from rdtheory._io import atomic_write_json, atomic_write_text
    out = {"i8": summarize(collect(ROOT / CK, "i8")), "issue16": summarize(collect(ROOT / CK, ""))}
    atomic_write_json(ROOT / OUT.with_suffix(".json"), out)
    md = ["<!-- written by experiments/codecs_scalable.py --stage summary -->", "",
          "# Family i8: issue 8's committed scalable bases (β = 0, 0.01, 1; λ_b 100 → 1), enhancement trained here",
          "", _md(out["i8"]), "# Family issue16: bases trained here (β = 0, 10, ...; λ_b 30 → 1)", "",
          _md(out["issue16"])]
    atomic_write_text(ROOT / OUT.with_suffix(".md"), "\n".join(md))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stage", choices=("base", "enh", "ctx", "summary"), required=True,
                    help="ctx: the standalone image codec with the autoregressive context model (Fig. 14)")
    ap.add_argument("--betas", default=",".join(f"{b:g}" for b in BETAS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-standalone", action="store_true", help="enh stage: skip the standalone chain")
    ap.add_argument("--family", default="", choices=sorted(FAMILIES), help="enh stage: which bases (i8: issue 8's)")
    ap.add_argument("--enh-lambdas", default=",".join(f"{v:g}" for v in LAMBDAS_ENH),
                    help="enh stage: the λ_e chain of the enhancement layers (a prefix of the default saves CPU)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    betas = [float(b) for b in args.betas.split(",") if b]
    if args.stage == "base":
        run_bases(betas)
    elif args.stage == "enh":
        run_enh(betas, standalone=not args.no_standalone, family=args.family,
                lmbdas=tuple(float(v) for v in args.enh_lambdas.split(",")))
    elif args.stage == "ctx":
        enh_chain(None, "standalone-ctx", context_model=True)
    write_summary()


if __name__ == "__main__":
    main()
