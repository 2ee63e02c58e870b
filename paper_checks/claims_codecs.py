"""Claims (a)–(d) of issue 8 on CIFAR-10 (JPEG q75 re-export) with the pretrained ResNet-20:
learned codecs for machines trained by ``experiments/codecs_cifar.py``.

The curves come from the committed results (``experiments/results/codecs_cifar.json``, every
point measured on real bitstreams; the runs and their ``model.pt`` are under
``experiments/checkpoints/codecs/``). Quick mode (``make check``) re-verifies them: it reloads a
committed codec and re-measures its rate and accuracy on real bitstreams over test images,
which must agree with the committed point (rate: same images, so to 1e-9; accuracy: exact on
the same images). ``--full`` retrains every sweep into ``cache_dir('paper_checks/codecs_cifar')`` (``~/.cache/rdtheory/...``)
(resumable; ~2.2 process-hours on 2 CPU cores) and checks the claims on that.

Every BD number is from one training seed: there is no seed-to-seed interval, so (a)–(d)
are sign/order statements and their status says only whether the order shows.
"""
from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

from paper_checks import FAIL, PASS, claim, figure, make, skipped
from rdtheory._io import cache_dir
from rdtheory.plotting import in_rate_order, log_rate_axis

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments/results/codecs_cifar.json"
BASELINES = ROOT / "experiments/results/codecs_baselines.json"
RUNS = ROOT / "experiments/checkpoints/codecs"
ONE_SEED = "one training seed per curve, no seed interval: order/sign only"
#: The committed run that quick mode reloads and re-measures (a C2 codec: the fastest to code).
RELOAD = ("splitting-C2-layer3", 10.0)
#: The bitstream-size check scores codes of at least this many estimated bits per image (~1 bpp).
MIN_BITS = 1000


def _missing() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "torch not installed (pip install -e '.[torch]')"
    if not RESULTS.exists():
        return f"{RESULTS.relative_to(ROOT)} not found; run experiments/codecs_cifar.py"
    return None



FULL = cache_dir("paper_checks/codecs_cifar")


@functools.lru_cache(maxsize=None)
def _summary(quick: bool) -> dict:
    """The committed results (quick), or (``--full``) a fresh retraining of every default sweep into
    ``cache_dir('paper_checks/codecs_cifar')`` (resumable: a stopped ``make reproduce`` continues)."""
    if quick:
        return json.loads(RESULTS.read_text())
    import subprocess
    import sys

    subprocess.run([sys.executable, str(ROOT / "experiments/codecs_cifar.py"), "--out-root", str(FULL / "runs"),
                    "--results", str(FULL / "codecs_cifar.json")], check=True)
    return json.loads((FULL / "codecs_cifar.json").read_text())


def _bd(summary: dict, curve: str, anchor: str) -> dict | None:
    """BD-rate (%) / BD-accuracy (points) of ``curve`` against ``anchor`` over their Pareto fronts."""
    from rdtheory.metrics import bd_table

    fronts = summary["pareto_fronts"]
    if curve not in fronts or anchor not in fronts:
        return None
    return bd_table({anchor: fronts[anchor], curve: fronts[curve]}, anchor)[0]


def _fmt(row: dict | None) -> str:
    if row is None:
        return "curve missing"
    r = "n/a" if row["bd_rate_percent"] is None else f"{row['bd_rate_percent']:+.1f}%"
    m = "n/a" if row["bd_metric"] is None else f"{row['bd_metric']:+.2f} pts"
    return f"BD-rate {r}, BD-acc {m}"


def _effect(row: dict | None) -> float | None:
    """Size of a change: |BD-accuracy| in points (defined whenever the rate ranges overlap)."""
    return None if row is None or row["bd_metric"] is None else abs(row["bd_metric"])


CIFAR = "CIFAR-10 (JPEG q75 re-export), ResNet-20, model splitting"


@claim("codecs-a-cut-vs-distillation", "Cor. 2.2, Sec. IV-B, Table II",
       f"Changing the cut point moves rate–accuracy far less than changing the distillation point ({CIFAR})")
def cut_vs_distillation(quick: bool):
    cid = "codecs-a-cut-vs-distillation"
    if (why := _missing()):
        return skipped(cid, why)
    s = _summary(quick)
    cut_rows = {p: _bd(s, f"splitting-C2-{p}", f"splitting-C1-{p}") for p in ("layer3", "output")}
    dist_rows = {c: _bd(s, f"splitting-{c}-output", f"splitting-{c}-layer2") for c in ("C1", "C2")}
    cut = [e for e in map(_effect, cut_rows.values()) if e is not None]
    dist = [e for e in map(_effect, dist_rows.values()) if e is not None]
    if not cut or not dist:
        return make(cid, expected="mean |ΔBD-acc| (cut) < mean |ΔBD-acc| (distillation)", measured="curves missing",
                    tolerance="-", tolerance_why=ONE_SEED, status=FAIL,
                    details={"cut": cut_rows, "distillation": dist_rows})
    mc, md = sum(cut) / len(cut), sum(dist) / len(dist)
    return make(cid, expected="mean |BD-acc| of a cut change < that of a distillation change (layer2 → output)",
                measured=f"cut change {mc:.2f} pts vs distillation change {md:.2f} pts",
                tolerance="order", tolerance_why=ONE_SEED, status=PASS if mc < md else FAIL,
                details={"cut_change": {k: _fmt(v) for k, v in cut_rows.items()},
                         "distillation_change": {k: _fmt(v) for k, v in dist_rows.items()}})


@claim("codecs-b-deeper-distillation", "Sec. III-B, Sec. IV-A (Fig. 6)",
       f"A deeper distillation point gives better rate–accuracy (layer2 → layer3 → output; {CIFAR})")
def deeper_distillation(quick: bool):
    cid = "codecs-b-deeper-distillation"
    if (why := _missing()):
        return skipped(cid, why)
    s = _summary(quick)
    rows = {f"{c}: {a} → {b}": _bd(s, f"splitting-{c}-{b}", f"splitting-{c}-{a}")
            for c in ("C1", "C2") for a, b in (("layer2", "layer3"), ("layer3", "output"))}
    better = {k: r is not None and r["bd_metric"] is not None and r["bd_metric"] > 0 for k, r in rows.items()}
    return make(cid, expected="BD-accuracy > 0 for every deeper step", measured={k: _fmt(v) for k, v in rows.items()},
                tolerance="sign", tolerance_why=ONE_SEED, status=PASS if all(better.values()) else FAIL,
                details={"better": better})


@claim("codecs-c-supervised", "Thm 3, Cor. 3.1, Sec. IV-A",
       f"Supervised (task loss at the output) is no worse than unsupervised distillation ({CIFAR})")
def supervised_vs_unsupervised(quick: bool):
    cid = "codecs-c-supervised"
    if (why := _missing()):
        return skipped(cid, why)
    s = _summary(quick)
    rows = {f"{c}: {u} → supervised": _bd(s, f"splitting-{c}-output", f"splitting-{c}-{u}")
            for c in ("C1", "C2") for u in ("layer2", "layer3")}
    ok = {k: r is not None and r["bd_metric"] is not None and r["bd_metric"] >= 0 for k, r in rows.items()}
    return make(cid, expected="BD-accuracy ≥ 0 of supervised against each unsupervised curve",
                measured={k: _fmt(v) for k, v in rows.items()}, tolerance="sign", tolerance_why=ONE_SEED,
                status=PASS if all(ok.values()) else FAIL, details={"no_worse": ok})


SCALABLE = "CIFAR-10 (JPEG q75 re-export), ResNet-20, direct base at layer2"


def _scalable_claim(cid: str, beta: str, quick: bool, why_extra: str = ""):
    """β = ``beta`` against β = 0: BD-accuracy (task) and BD-PSNR of the re-fitted G_a(Ŷ_b)."""
    if (why := _missing()):
        return skipped(cid, why)
    from rdtheory.metrics import bd_metric, pareto_front

    s = _summary(quick)
    base, other = "scalable-C2-output-beta0", f"scalable-C2-output-beta{beta}"
    c0, c1 = s["curves"].get(base), s["curves"].get(other)
    if not c0 or not c1 or len(c0) < 2 or len(c1) < 2:
        return make(cid, expected=f"β = {beta} and β = 0 curves", measured="curves missing", tolerance="-",
                    tolerance_why=ONE_SEED, status=FAIL)
    task = _bd(s, other, base)

    def psnr_front(c):
        keep = pareto_front([p["bpp"] for p in c], [p["psnr_db"] for p in c])
        return [c[i]["bpp"] for i in keep], [c[i]["psnr_db"] for i in keep]

    (r0, p0), (r1, p1) = psnr_front(c0), psnr_front(c1)
    try:
        bd_psnr = bd_metric(r0, p0, r1, p1, method="pchip")
    except ValueError:  # too few front points or no rate overlap
        bd_psnr = None
    keeps = task is not None and task["bd_metric"] is not None and task["bd_metric"] >= -1.0
    improves = bd_psnr is not None and bd_psnr > 0
    return make(cid, expected=f"BD-accuracy ≥ −1 point and BD-PSNR (base reconstruction) > 0, β = {beta} vs β = 0",
                measured=f"{_fmt(task)}; BD-PSNR {'n/a' if bd_psnr is None else f'{bd_psnr:+.3f} dB'}",
                tolerance="1 accuracy point; PSNR sign",
                tolerance_why=f"'keeps task performance' read as within 1 point of top-1; {ONE_SEED}{why_extra}",
                status=PASS if keeps and improves else FAIL, details={"beta0": c0, f"beta{beta}": c1})


@claim("codecs-d-scalable-beta", "scalable-coding slides (base loss with β E‖X̂ − X‖, β = 0.01)",
       f"β = 0.01 (the slides' value) keeps the base layer's task performance while improving reconstruction "
       f"from the base ({SCALABLE})")
def scalable_beta(quick: bool):
    return _scalable_claim("codecs-d-scalable-beta", "0.01", quick)


@claim("codecs-d-scalable-beta1", "scalable-coding slides (base loss with β E‖X̂ − X‖)",
       f"β = 1 keeps the base layer's task performance while improving reconstruction from the base ({SCALABLE})")
def scalable_beta1(quick: bool):
    return _scalable_claim("codecs-d-scalable-beta1", "1", quick,
                           "; added after β = 0.01 showed no effect: in this loss β·MSE(X̂, X) at β = 0.01 is ~1e-3 "
                           "of R + λ·CE (normalised-pixel MSE ~0.3–1 against 0.5–6 bpp), so the slides' β ≪ λ_b "
                           "is read in these units as β = 1 (λ_b = 1–100)")


def _reload_point(sweep: str, lmbda: float) -> tuple[dict, dict]:
    import torch

    from rdtheory.codecs.train import TASKS, CodecConfig, evaluate_codec, load_codec

    run_dir = RUNS / sweep / f"lmbda={lmbda:g}"
    committed = json.loads((run_dir / "result.json").read_text())
    cfg = CodecConfig.from_dict(committed["config"])
    spec = TASKS[cfg.task]
    torch.set_num_threads(min(2, torch.get_num_threads()))
    x, y = spec.data(cfg, "test")
    model, _, _ = load_codec(run_dir / "model.pt", x[:2])
    again = evaluate_codec(model, x, y, pixels_per_sample=spec.pixels_per_sample(x))
    return committed, again


@claim("codecs-reload", "issue 8 (real bitstreams; committed checkpoints)",
       "A committed codec reloaded from model.pt re-measures its committed rate and accuracy on real bitstreams")
def reload_committed(quick: bool):
    cid = "codecs-reload"
    if (why := _missing()):
        return skipped(cid, why)
    _summary(quick)  # with --full: retrain (resumably) first
    sweep, lm = RELOAD
    if not (RUNS / sweep / f"lmbda={lm:g}" / "model.pt").exists():
        return skipped(cid, f"{sweep} λ={lm:g} has no committed model.pt")
    committed, again = _reload_point(sweep, lm)
    ok = again["n"] == committed["n"] and abs(again["bpp"] - committed["bpp"]) <= 1e-9 \
        and again["accuracy"] == committed["accuracy"]
    return make(cid, expected=f"{committed['bpp']:.4f} bpp, top-1 {100 * committed['accuracy']:.2f}% "
                               f"({sweep}, λ={lm:g}, n={committed['n']})",
                measured=f"{again['bpp']:.4f} bpp, top-1 {100 * again['accuracy']:.2f}% (n={again['n']})",
                tolerance="1e-9 bpp, exact accuracy",
                tolerance_why="same weights, same test images, deterministic coder: identical bytes and predictions",
                status=PASS if ok else FAIL, details={"committed": committed, "again": again})


@claim("codecs-bitstream-size", "issue 8 (bitstream size vs the trained rate estimate)",
       "Measured bitstream size matches the rate estimate within 3% once the coder's per-stream flush is removed")
def bitstream_size(quick: bool):
    cid = "codecs-bitstream-size"
    if (why := _missing()):
        return skipped(cid, why)
    s = _summary(quick)
    flush_lo, flush_hi = 2 * 30, 2 * 65  # two streams per image (latent + side), 30–65 bits each (tests)
    devs = []
    for name, pts in s["curves"].items():
        for p in pts:
            est = p["bpp_estimate"] * 32 * 32
            excess = (p["bpp"] - p["bpp_estimate"]) * 32 * 32  # measured − estimated bits per image
            beyond = max(0.0, excess - flush_hi) or min(0.0, excess - flush_lo)
            devs.append((abs(beyond) / max(est, 1e-12), name, p["lmbda"], excess, est))
    scored = [d for d in devs if d[4] >= MIN_BITS]
    worst = max(scored)
    low = max((d for d in devs if d[4] < MIN_BITS), default=None)
    return make(cid, expected=f"measured − estimated bits per image = flush (60–130 bits) ± 3% of the estimate, "
                              f"for codes of ≥ {MIN_BITS} estimated bits per image",
                measured=f"largest deviation beyond the flush {100 * worst[0]:.2f}% ({worst[1]} λ={worst[2]:g}: "
                         f"excess {worst[3]:.0f} bits on {worst[4]:.0f}); {len(scored)} of {len(devs)} points scored; "
                         f"excess {min(d[3] for d in devs):.0f}–{max(d[3] for d in devs):.0f} bits per image",
                tolerance=0.03,
                tolerance_why="issue 8's 3%; the per-stream flush range is measured in tests/test_codecs.py. Codes of "
                              "a few hundred bits (collapsed, near-chance points) are reported, not scored: there the "
                              "coder's 16-bit CDF floor adds tens of bits, many % of almost nothing",
                status=PASS if worst[0] <= 0.03 else FAIL,
                details={"worst_low_rate_point": None if low is None else
                         {"sweep": low[1], "lmbda": low[2], "excess_bits": low[3], "estimate_bits": low[4]}})


@figure("codecs_cifar.png")
def codecs_figure(quick: bool):
    import matplotlib.pyplot as plt

    s = _summary(quick)
    fig, ax = plt.subplots(1, 3, figsize=(17, 4.5))
    styles = {"layer2": ":", "layer3": "--", "output": "-"}
    for name, pts in s["curves"].items():
        if not pts:
            continue
        pts = in_rate_order(pts)  # stored in lambda order, which is not always the rate order
        r = [p["bpp"] for p in pts]
        a = [100 * p["accuracy"] for p in pts]
        if name.startswith("scalable"):
            label = "β = " + name.rsplit("beta", 1)[1]
            ax[1].plot(r, a, "-.", marker="s", label=label, ms=4)
            ax[2].plot(r, [p["psnr_db"] for p in pts], "-.", marker="s", label=label, ms=4)
            continue
        ax[0].plot(r, a, styles.get(name.split("-")[-1], "-."), marker="o" if "C1" in name else "s", label=name, ms=4)
    if BASELINES.exists():
        base = json.loads(BASELINES.read_text())
        for codec in ("jpeg", "webp"):
            rows = in_rate_order([r for r in base["rows"] if r["codec"] == codec])
            ax[0].plot([r["bpp"] for r in rows], [100 * r["accuracy"] for r in rows], "k-" if codec == "jpeg" else "k--",
                       alpha=0.5, label=f"{codec.upper()} (file size)")
    for a in ax:
        log_rate_axis(a)  # 1-2-5 ticks: the default minor labels (3x10^0, 4x10^0) collide
        a.set_xlabel("rate (bits per pixel, real bitstreams)")
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    ax[0].set_ylabel("ResNet-20 top-1 (%)")
    ax[1].set_ylabel("ResNet-20 top-1 (%)")
    ax[2].set_ylabel("PSNR of G_a(Ŷ_b), re-fitted (dB)")
    ax[0].set_title("cut × distillation (model splitting) vs JPEG/WebP")
    ax[1].set_title("scalable base layer: task")
    ax[2].set_title("scalable base layer: reconstruction from the base")
    fig.suptitle("CIFAR-10 (JPEG q75 re-export), pretrained ResNet-20; 2,000 test images")
    fig.tight_layout()
    return fig
