"""Claims (a)–(d) of issue 8 on CIFAR-10 (JPEG q75 re-export) with the pretrained ResNet-20:
learned codecs for machines trained by ``experiments/codecs_cifar.py``.

In quick mode (``make check``) the curves are READ from the committed results
(``experiments/results/codecs_cifar.json``, every point measured on real bitstreams over 2,000 test
images; the runs and their ``model.pt`` are under ``experiments/checkpoints/codecs/``): retraining
takes hours. Each row says so (``details['read_from']``) and the read numbers are *verified on a
subset*: for one Pareto-front point of every curve (the median-rate one) the committed codec is
reloaded and re-measured on real bitstreams over a class-stratified subset of SUBSET_N of the same
2,000 test images, and the committed rate and accuracy must lie in the subset's sampling interval
(finite-population, z = Z; see :func:`subset_agrees`). The scalable base's PSNR is read only: it
comes from a ``G_a`` re-fitted after training and not stored. ``codecs-reload`` re-measures one
codec on all 2,000 images (exact agreement). ``--full`` retrains every sweep into
``cache_dir('paper_checks/codecs_cifar')`` (``~/.cache/rdtheory/...``; resumable; ~2.2 process-hours
on 2 CPU cores) and checks the claims on that.

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
REFERENCE = ROOT / "experiments/results/codecs_reference.json"
RUNS = ROOT / "experiments/checkpoints/codecs"
ONE_SEED = "one training seed per curve, no seed interval: order/sign only"
#: The committed run that quick mode reloads and re-measures (a C2 codec: the fastest to code).
RELOAD = ("splitting-C2-layer3", 10.0)
#: The bitstream-size check scores codes of at least this many estimated bits per image (~1 bpp).
MIN_BITS = 1000
#: Test images (of the committed 2,000) re-measured per verified point (~20 s per point at load 6 on 2 cores).
SUBSET_N = 300
#: Normal quantile of each subset comparison: 0.27% two-sided, so <= 5% family-wise over the
#: 2 x 9 comparisons (Bonferroni): a committed number outside fails the claims that read it.
Z = 3.0
READ_FROM = "experiments/results/codecs_cifar.json"


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


def subset_tolerance(sd: float, m: int, n_pop: int, z: float = Z) -> float:
    r"""Half-width :math:`z\,S\sqrt{(1 - m/N)/m}` of the interval of a mean over ``m`` of ``n_pop`` values
    drawn without replacement (population sd ``S``); 0 when the subset is the whole population.

    Class-stratified draws have no larger variance than simple random ones, so this is conservative.
    """
    return z * sd * ((1.0 - m / n_pop) / m) ** 0.5


def subset_agrees(subset_mean: float, committed: float, sd: float, m: int, n_pop: int, z: float = Z) -> bool:
    """True when the committed mean over all ``n_pop`` values lies within :func:`subset_tolerance` of
    the mean re-measured on ``m`` of them."""
    return abs(subset_mean - committed) <= subset_tolerance(sd, m, n_pop, z)


def point_check(committed: dict, bits: list, hits: list, pixels: int) -> dict:
    """Committed (bpp, accuracy) of a point against its re-measurement on a subset of its test images.

    Accuracy: the population sd is exact from the committed accuracy p, S² = p(1 − p)·N/(N − 1).
    Rate: S from the subset's per-image bits (ddof = 1).
    """
    import numpy as np

    n_pop, m = committed["n"], len(bits)
    p = committed["accuracy"]
    sd_acc = (p * (1 - p) * n_pop / max(n_pop - 1, 1)) ** 0.5
    sd_bpp = float(np.std(bits, ddof=1)) / pixels if m > 1 else 0.0
    bpp, acc = sum(bits) / (m * pixels), sum(hits) / m
    ok = subset_agrees(bpp, committed["bpp"], sd_bpp, m, n_pop) and subset_agrees(acc, p, sd_acc, m, n_pop)
    return {"lmbda": committed["config"]["lmbda"], "m": m, "n": n_pop,
            "committed": (round(committed["bpp"], 4), round(p, 4)), "subset": (round(bpp, 4), round(acc, 4)),
            "tol": (round(subset_tolerance(sd_bpp, m, n_pop), 4), round(subset_tolerance(sd_acc, m, n_pop), 4)),
            "ok": ok}


def _median_front_lmbda(curve: list[dict], front: list) -> float:
    """λ of the median-rate point of a curve's Pareto front (the points the BD numbers use)."""
    rate = sorted(front[0])[len(front[0]) // 2]
    return next(p["lmbda"] for p in curve if p["bpp"] == rate)


@functools.lru_cache(maxsize=None)
def _verified() -> dict:
    """Per curve: the committed median-front point re-measured on SUBSET_N of its test images."""
    import torch

    from rdtheory.codecs.train import TASKS, CodecConfig, evaluate_codec, load_codec
    from rdtheory.vision.data import stratified_indices

    s = json.loads(RESULTS.read_text())
    torch.set_num_threads(min(2, torch.get_num_threads()))
    out, test = {}, {}
    for name, curve in s["curves"].items():
        run_dir = RUNS / name / f"lmbda={_median_front_lmbda(curve, s['pareto_fronts'][name]):g}"
        if not (run_dir / "model.pt").exists():
            out[name] = {"ok": False, "why": f"{run_dir.relative_to(ROOT)}/model.pt not committed"}
            continue
        committed = json.loads((run_dir / "result.json").read_text())
        cfg = CodecConfig.from_dict(committed["config"])
        key = (cfg.task, cfg.data_dir, cfg.test_n)
        if key not in test:  # one decoded test set (and one subset of it) for every codec on it
            x, y = TASKS[cfg.task].data(cfg, "test")
            idx = torch.from_numpy(stratified_indices(y.numpy(), SUBSET_N, seed=1))
            test[key] = (x[idx], y[idx], TASKS[cfg.task].pixels_per_sample(x))
        x, y, pixels = test[key]
        model, _, _ = load_codec(run_dir / "model.pt", x[:2])
        ev = evaluate_codec(model, x, y, pixels_per_sample=pixels, per_sample=True)
        out[name] = point_check(committed, ev["bits_per_sample"], ev["correct_per_sample"], pixels)
    return out


def _provenance(quick: bool, curves: list[str]) -> tuple[bool, str, dict]:
    """(verified, the row's wording, details) for claims that read ``curves`` from the committed results."""
    if not quick:
        return True, "curves recomputed (retrained with --full)", {"source": "re-run (trained here)"}
    v = {c: _verified().get(c, {"ok": False, "why": "curve not committed"}) for c in curves}
    good = sum(r["ok"] for r in v.values())
    text = (f"curve numbers READ from {READ_FROM} (not recomputed: training takes hours); verified on a "
            f"subset: {good}/{len(v)} curves' median-front point re-measured on {SUBSET_N} of its "
            f"2,000 test images agree (rate and accuracy within z = {Z:g} finite-population intervals)")
    return good == len(v), text, {"read_from": READ_FROM, "verified_on_subset": v}


def combined_status(decision_ok: bool, verified: bool) -> str:
    """``pass`` only when the claim's decision holds AND the numbers it read were verified."""
    return PASS if decision_ok and verified else FAIL


def order_ok(cut_effect: float, distillation_effect: float) -> bool:
    """Claim (a)'s decision: mean |BD-acc| of a cut change below that of a distillation change."""
    return cut_effect < distillation_effect


def signs_ok(bd_metrics: list, strict: bool) -> bool:
    """Claims (b) (strict: every BD-accuracy > 0) and (c) (every BD-accuracy ≥ 0); a missing value fails."""
    return bool(bd_metrics) and all(b is not None and (b > 0 if strict else b >= 0) for b in bd_metrics)


def scalable_ok(bd_acc: float | None, bd_psnr: float | None, keep_points: float = 1.0) -> bool:
    """Claim (d)'s decision: BD-accuracy ≥ −``keep_points`` and BD-PSNR > 0."""
    return bd_acc is not None and bd_acc >= -keep_points and bd_psnr is not None and bd_psnr > 0


CIFAR = "CIFAR-10 (JPEG q75 re-export), ResNet-20, model splitting"


SPLITTING = [f"splitting-{c}-{p}" for c in ("C1", "C2") for p in ("layer2", "layer3", "output")]


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
    verified, source, prov = _provenance(quick, SPLITTING)
    details = {"cut_change": {k: _fmt(v) for k, v in cut_rows.items()},
               "distillation_change": {k: _fmt(v) for k, v in dist_rows.items()}, **prov}
    if not cut or not dist:
        return make(cid, expected="mean |ΔBD-acc| (cut) < mean |ΔBD-acc| (distillation)", measured="curves missing",
                    tolerance="-", tolerance_why=ONE_SEED, status=FAIL, details=details)
    mc, md = sum(cut) / len(cut), sum(dist) / len(dist)
    return make(cid, expected="mean |BD-acc| of a cut change < that of a distillation change (layer2 → output)",
                measured=f"cut change {mc:.2f} pts vs distillation change {md:.2f} pts [{source}]",
                tolerance="order", tolerance_why=f"{ONE_SEED}; {source}",
                status=combined_status(order_ok(mc, md), verified), details=details)


@claim("codecs-b-deeper-distillation", "Sec. III-B, Sec. IV-A (Fig. 6)",
       f"A deeper distillation point gives better rate–accuracy (layer2 → layer3 → output; {CIFAR})")
def deeper_distillation(quick: bool):
    cid = "codecs-b-deeper-distillation"
    if (why := _missing()):
        return skipped(cid, why)
    s = _summary(quick)
    rows = {f"{c}: {a} → {b}": _bd(s, f"splitting-{c}-{b}", f"splitting-{c}-{a}")
            for c in ("C1", "C2") for a, b in (("layer2", "layer3"), ("layer3", "output"))}
    verified, source, prov = _provenance(quick, SPLITTING)
    ok = signs_ok([None if r is None else r["bd_metric"] for r in rows.values()], strict=True)
    return make(cid, expected="BD-accuracy > 0 for every deeper step",
                measured={**{k: _fmt(v) for k, v in rows.items()}, "source": source},
                tolerance="sign", tolerance_why=f"{ONE_SEED}; {source}", status=combined_status(ok, verified),
                details=prov)


@claim("codecs-c-supervised", "Thm 3, Cor. 3.1, Sec. IV-A",
       f"Supervised (task loss at the output) is no worse than unsupervised distillation ({CIFAR})")
def supervised_vs_unsupervised(quick: bool):
    cid = "codecs-c-supervised"
    if (why := _missing()):
        return skipped(cid, why)
    s = _summary(quick)
    rows = {f"{c}: {u} → supervised": _bd(s, f"splitting-{c}-output", f"splitting-{c}-{u}")
            for c in ("C1", "C2") for u in ("layer2", "layer3")}
    verified, source, prov = _provenance(quick, SPLITTING)
    ok = signs_ok([None if r is None else r["bd_metric"] for r in rows.values()], strict=False)
    return make(cid, expected="BD-accuracy ≥ 0 of supervised against each unsupervised curve",
                measured={**{k: _fmt(v) for k, v in rows.items()}, "source": source}, tolerance="sign",
                tolerance_why=f"{ONE_SEED}; {source}", status=combined_status(ok, verified), details=prov)


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
    verified, source, prov = _provenance(quick, [base, other])
    if quick:
        source += "; PSNR READ only (from a G_a re-fitted after training and not stored: not re-measurable)"
    ok = scalable_ok(None if task is None else task["bd_metric"], bd_psnr)
    return make(cid, expected=f"BD-accuracy ≥ −1 point and BD-PSNR (base reconstruction) > 0, β = {beta} vs β = 0",
                measured=f"{_fmt(task)}; BD-PSNR {'n/a' if bd_psnr is None else f'{bd_psnr:+.3f} dB'} [{source}]",
                tolerance="1 accuracy point; PSNR sign",
                tolerance_why=f"'keeps task performance' read as within 1 point of top-1; {ONE_SEED}{why_extra}; "
                              f"{source}",
                status=combined_status(ok, verified), details={"beta0": c0, f"beta{beta}": c1, **prov})


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
                tolerance_why="same weights, same test images, deterministic coder: identical bytes and predictions; "
                              "expected READ from the run's committed result.json, measured recomputed here",
                status=PASS if ok else FAIL, details={"committed": committed, "again": again,
                                                      "read_from": f"{RUNS.relative_to(ROOT)}/{sweep}/lmbda={lm:g}/"
                                                                   "result.json (expected only)"})


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
                              "coder's 16-bit CDF floor adds tens of bits, many % of almost nothing"
                              + (f". Every bpp and bpp_estimate is READ from {READ_FROM} (not recomputed here; the "
                                 "bpp of one point per curve is verified on a subset by codecs-a..d)" if quick else ""),
                status=PASS if worst[0] <= 0.03 else FAIL,
                details={"read_from": READ_FROM if quick else "re-run (trained here)",
                         "worst_low_rate_point": None if low is None else
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
    if REFERENCE.exists():  # issue 16's reference: scalar quantiser of the pooled features (ideal code length)
        rows = in_rate_order(json.loads(REFERENCE.read_text())["rows"])
        ax[0].plot([r["bpp"] for r in rows], [100 * r["accuracy"] for r in rows], "r-o", ms=3,
                   label="scalar quantiser, pooled features")
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
