"""Issue 16's goals for codecs for machines at CIFAR scale, and the operational curves against the
supervised bound R_T(D) (CIFAR-10 JPEG q75 re-export, pretrained ResNet-20, 81.03 % top-1).

* ``codecs-goal-79-at-0.5bpp`` — the best learned codec keeps ≥ 79 % top-1 at ≤ 0.5 bpp;
* ``codecs-goal-bd-vs-webp`` — its BD-rate against WebP (file sizes) at equal top-1 is ≤ −50 %;
* ``codecs-goal-stretch`` — within 1 point of uncompressed at ≤ 0.1 bpp;
* ``codecs-reference-scalar`` — the scalar-quantiser reference of the 64-d pooled features
  (:mod:`rdtheory.codecs.feature_quantiser`), recomputed here: its ideal code length equals a real
  one-stream rANS code, and the accuracy it keeps;
* ``codecs-supervised-bound`` — every operational point (reference and learned codecs) lies on or
  above the engine's R_T(D), the rate–distortion function of the classifier's output T = f(X)
  under Hamming distortion (D = disagreement with the uncompressed prediction); the gap in bits
  per image is reported per curve.

The learned codecs' numbers are READ from ``experiments/results/codecs_cifar_full.json`` (training
takes hours) and verified: the goal point's committed ``model.pt`` is re-measured on real bitstreams
over a class-stratified subset of SUBSET_N test images (quick) or all 10,000 (``--full``), and the
committed numbers must lie in the subset's finite-population interval (z = 3).
"""
from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import numpy as np

from paper_checks import FAIL, PASS, claim, figure, make, skipped

ROOT = Path(__file__).resolve().parents[1]
FULL_RESULTS = ROOT / "experiments/results/codecs_cifar_full.json"
RUNS = ROOT / "experiments/checkpoints/codecs/full"
BASELINES = ROOT / "experiments/results/codecs_baselines.json"
READ_FROM = "experiments/results/codecs_cifar_full.json"
#: Test images re-measured in quick mode (of the committed 10,000).
SUBSET_N = 500
#: Goals of issue 16.
GOAL_ACC, GOAL_BPP, GOAL_BD, STRETCH_POINTS, STRETCH_BPP = 0.79, 0.5, -50.0, 0.01, 0.1
#: The reference's 4,000 test images (class-stratified, seed 0), split in halves by a seed-0 permutation.
REF_N = 4000
PIXELS = 32 * 32


def _missing() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "torch not installed (pip install -e '.[torch]')"
    return None


# ----------------------------------------------------------------------------- decisions (pure)
def goal_point(points: list[dict], min_acc: float = GOAL_ACC, max_bpp: float = GOAL_BPP) -> dict | None:
    """The most accurate point with ``bpp <= max_bpp``; it meets the goal when its top-1 ≥ ``min_acc``."""
    ok = [p for p in points if p["bpp"] <= max_bpp]
    return max(ok, key=lambda p: p["accuracy"]) if ok else None


def goal_ok(point: dict | None, min_acc: float = GOAL_ACC) -> bool:
    return point is not None and point["accuracy"] >= min_acc


def stretch_ok(point: dict | None, acc0: float, points: float = STRETCH_POINTS) -> bool:
    """Within ``points`` (fraction) of the uncompressed top-1 ``acc0``."""
    return point is not None and point["accuracy"] >= acc0 - points


def bd_ok(bd_rate: float | None, limit: float = GOAL_BD) -> bool:
    return bd_rate is not None and bd_rate <= limit


def bound_gaps(bits: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """Gap ``bits − R_T(D)`` in bits per image (≥ 0 for every code that respects the bound)."""
    return np.asarray(bits, dtype=float) - np.asarray(bound, dtype=float)


# ----------------------------------------------------------------------------- measurements
@functools.lru_cache(maxsize=None)
def reference() -> dict:
    """The scalar-quantiser reference recomputed (:func:`rdtheory.codecs.feature_quantiser.pooled_reference`
    on REF_N test images)."""
    import torch

    from rdtheory.codecs.feature_quantiser import pooled_reference
    from rdtheory.codecs.train import TASKS, CodecConfig

    torch.set_num_threads(min(2, torch.get_num_threads()))
    cfg = CodecConfig(test_n=None)
    x, y = TASKS[cfg.task].data(cfg, "test")
    return pooled_reference(TASKS[cfg.task].model(cfg), x, y.numpy(), n=REF_N, pixels=PIXELS)


def supervised_bound(p_t, D) -> np.ndarray:
    """R_T(D) in bits per image: the engine's certified R(D) of T ~ ``p_t`` under Hamming distortion
    (upper end of its certified bracket; Thm 1: R_X(D;T) = R_T(D) for a deterministic task)."""
    from rdtheory.discrete import hamming
    from rdtheory.machines.rates import certified_rates

    p = np.asarray(p_t, dtype=float)
    D = np.clip(np.asarray(D, dtype=float), 0.0, None)
    return np.asarray(certified_rates(p, np.asarray(hamming(len(p))), D).rate, dtype=float)


def _full() -> dict | None:
    return json.loads(FULL_RESULTS.read_text()) if FULL_RESULTS.exists() else None


def learned_points(s: dict) -> list[dict]:
    return [{**p, "sweep": name} for name, pts in s["curves"].items() for p in pts]


def _acc0() -> float:
    return json.loads(BASELINES.read_text())["reference"]["accuracy"]


@functools.lru_cache(maxsize=None)
def verify(sweep: str, lmbda: float, quick: bool) -> dict:
    """Re-measure a committed full-scale point on SUBSET_N (quick) or all test images."""
    import torch

    from paper_checks.claims_codecs import point_check
    from rdtheory.codecs.train import TASKS, CodecConfig, evaluate_codec, load_codec
    from rdtheory.vision.data import stratified_indices

    run_dir = RUNS / sweep / f"lmbda={lmbda:g}"
    if not (run_dir / "model.pt").exists():
        return {"ok": False, "why": f"{run_dir.relative_to(ROOT)}/model.pt not committed"}
    committed = json.loads((run_dir / "result.json").read_text())
    cfg = CodecConfig.from_dict(committed["config"])
    torch.set_num_threads(min(2, torch.get_num_threads()))
    x, y = TASKS[cfg.task].data(cfg, "test")
    if quick:
        idx = torch.from_numpy(stratified_indices(y.numpy(), SUBSET_N, seed=1))
        x, y = x[idx], y[idx]
    model, _, _ = load_codec(run_dir / "model.pt", x[:2])
    ev = evaluate_codec(model, x, y, pixels_per_sample=PIXELS, per_sample=True)
    return point_check(committed, ev["bits_per_sample"], ev["correct_per_sample"], PIXELS)


def _verified_text(v: dict, quick: bool) -> str:
    where = f"a class-stratified subset of {SUBSET_N}" if quick else "all"
    return (f"READ from {READ_FROM}; the point's committed model.pt re-measured on {where} test images "
            f"{'agrees' if v.get('ok') else 'DISAGREES'} (z = 3 finite-population interval)")


def _no_runs(cid: str, expected: str) -> object:
    return make(cid, expected=expected, measured=f"no full-scale run finished ({READ_FROM} missing)", tolerance="-",
                tolerance_why="the CIFAR-scale sweeps (experiments/codecs_cifar.py --scale full) have not finished",
                status=FAIL)


@claim("codecs-goal-79-at-0.5bpp", "issue 16 (goal)",
       "The best learned codec for machines keeps >= 79 % ResNet-20 top-1 at <= 0.5 bpp (real bitstreams, per-image "
       "streams, 10,000 test images)")
def goal_accuracy(quick: bool):
    cid = "codecs-goal-79-at-0.5bpp"
    expected = f"top-1 >= {100 * GOAL_ACC:.0f} % at <= {GOAL_BPP} bpp"
    if (why := _missing()):
        return skipped(cid, why)
    s = _full()
    if s is None:
        return _no_runs(cid, expected)
    pts = learned_points(s)
    best = goal_point(pts)
    if best is None:
        lowest = min(pts, key=lambda p: p["bpp"])
        return make(cid, expected=expected, measured=f"no point at <= {GOAL_BPP} bpp (lowest {lowest['bpp']:.3f} "
                    f"bpp at {100 * lowest['accuracy']:.2f} %) [READ from {READ_FROM}; no committed point qualifies, so "
                    f"none is re-measured]", tolerance="-", tolerance_why="issue 16's goal", status=FAIL)
    v = verify(best["sweep"], best["lmbda"], quick)
    ci = best.get("accuracy_ci95")
    measured = (f"{100 * best['accuracy']:.2f} % at {best['bpp']:.3f} bpp ({best['sweep']}, λ={best['lmbda']:g}"
                + (f"; 95% bootstrap {100 * ci[0]:.2f}–{100 * ci[1]:.2f} %" if ci else "") + ")")
    return make(cid, expected=expected, measured=f"{measured} [{_verified_text(v, quick)}]", tolerance="goal",
                tolerance_why="issue 16's goal, decided on the point estimate over 10,000 test images; "
                              + _verified_text(v, quick),
                status=PASS if goal_ok(best) and v.get("ok") else FAIL, details={"point": best, "verified": v})


@claim("codecs-goal-stretch", "issue 16 (stretch goal)",
       "The best learned codec is within 1 point of uncompressed top-1 (81.03 %) at <= 0.1 bpp")
def goal_stretch(quick: bool):
    cid = "codecs-goal-stretch"
    acc0 = _acc0()
    expected = f"top-1 >= {100 * (acc0 - STRETCH_POINTS):.2f} % at <= {STRETCH_BPP} bpp"
    if (why := _missing()):
        return skipped(cid, why)
    s = _full()
    if s is None:
        return _no_runs(cid, expected)
    best = goal_point(learned_points(s), max_bpp=STRETCH_BPP)
    measured = "no learned point at <= 0.1 bpp (per-image streams: two rANS flushes cost >= 128 bits = 0.125 bpp)" \
        if best is None else f"{100 * best['accuracy']:.2f} % at {best['bpp']:.3f} bpp ({best['sweep']})"
    return make(cid, expected=expected, measured=measured, tolerance="goal",
                tolerance_why=f"issue 16's stretch goal; numbers READ from {READ_FROM}",
                status=PASS if stretch_ok(best, acc0) else FAIL, details={"point": best})


@claim("codecs-goal-bd-vs-webp", "issue 16 (goal)",
       "The best learned codec's BD-rate against WebP (file sizes) at equal ResNet-20 top-1 is <= -50 %")
def goal_bd(quick: bool):
    cid = "codecs-goal-bd-vs-webp"
    expected = f"BD-rate <= {GOAL_BD:.0f} % (PCHIP over Pareto fronts, top-1 in %)"
    if (why := _missing()):
        return skipped(cid, why)
    s = _full()
    if s is None:
        return _no_runs(cid, expected)
    from rdtheory.metrics import bd_table, pareto_front

    rows = [r for r in json.loads(BASELINES.read_text())["rows"] if r["codec"] == "webp"]
    keep = pareto_front([r["bpp"] for r in rows], [100 * r["accuracy"] for r in rows])
    webp = ([rows[i]["bpp"] for i in keep], [100 * rows[i]["accuracy"] for i in keep])
    table = bd_table({"webp": webp, **{k: v for k, v in s["pareto_fronts"].items() if len(v[0]) >= 2}}, "webp")
    scored = [r for r in table if r["bd_rate_percent"] is not None]
    best = min(scored, key=lambda r: r["bd_rate_percent"], default=None)
    measured = "no learned curve overlaps WebP's top-1 range" if best is None else \
        f"{best['bd_rate_percent']:+.1f} % ({best['curve']}, top-1 overlap {best['metric_overlap']})"
    return make(cid, expected=expected, measured=measured, tolerance="goal",
                tolerance_why=f"issue 16's goal; one training seed per curve; curves READ from {READ_FROM}, WebP from "
                              "experiments/results/codecs_baselines.json",
                status=PASS if best is not None and bd_ok(best["bd_rate_percent"]) else FAIL,
                details={"table": table})


@claim("codecs-reference-scalar", "issue 16 (reference for what is possible)",
       "A uniform scalar quantiser of ResNet-20's 64-d pooled features with a per-coordinate entropy code keeps "
       "top-1 within 1 point of uncompressed at <= 0.15 bpp, and its ideal code length is what a real rANS "
       "stream spends")
def reference_scalar(quick: bool):
    cid = "codecs-reference-scalar"
    if (why := _missing()):
        return skipped(cid, why)
    rows = reference()["rows"]
    near = [r for r in rows if r["bpp"] <= 0.15 and r["accuracy"] >= r["accuracy_uncompressed"] - 0.01]
    overhead = max(abs(r["stream_bits_per_image"] - r["bits_per_image"]) for r in rows)
    exact = all(r["stream_exact"] for r in rows)
    ok = bool(near) and exact and overhead <= 0.1
    pts = "; ".join(f"Δ={r['step']:g}: {r['bits_per_image']:.1f} bits ({r['bpp']:.4f} bpp), "
                    f"{100 * (r['accuracy_uncompressed'] - r['accuracy']):+.2f} pts lost" for r in rows)
    return make(cid, expected="some Δ with bpp <= 0.15 and top-1 loss <= 1 point; rANS stream = ideal length "
                              "within 0.1 bits/image; decoded exactly",
                measured=f"{pts}; rANS − ideal <= {overhead:.3f} bits/image; exact decode: {exact}",
                tolerance="1 point; 0.1 bits/image",
                tolerance_why="recomputed here on 2,000 measured images (fitted on 2,000 others); a 1-point loss is "
                              "~1 standard error of a 2,000-image top-1; one stream's 32–64-bit flush over 2,000 "
                              "images is <= 0.032 bits/image and the 16-bit CDFs add < 0.05",
                status=PASS if ok else FAIL, details={"rows": rows})


@claim("codecs-supervised-bound", "Thm 1, Eq. 5 (R_X(D;T) = R_T(D)); issue 16 (against the limit)",
       "Every operational point (scalar reference, learned codecs) spends at least the supervised bound R_T(D) "
       "bits per image at its disagreement D with the uncompressed classifier")
def against_bound(quick: bool):
    cid = "codecs-supervised-bound"
    if (why := _missing()):
        return skipped(cid, why)
    ref = reference()
    curves = {"scalar reference": [(r["bits_per_image"], r["disagreement"], r["n_eval"]) for r in ref["rows"]]}
    s = _full()
    for p in learned_points(s) if s else []:
        if p.get("disagreement") is not None:
            curves.setdefault(p["sweep"], []).append((p["bpp"] * PIXELS, p["disagreement"], p["n"]))
    gaps = {}
    for name, pts in curves.items():
        bits, D, n = (np.array(v, dtype=float) for v in zip(*pts))
        D_hi = np.minimum(D + 3 * np.sqrt(np.maximum(D * (1 - D), 1.0 / n) / n), 0.9)  # upper z = 3 bound on D
        gaps[name] = bound_gaps(bits, supervised_bound(ref["p_t"], D_hi))
    worst = min(float(g.min()) for g in gaps.values())
    return make(cid, expected="bits/image − R_T(D_upper) >= 0 at every point",
                measured="smallest gap per curve (bits/image): "
                         + "; ".join(f"{k} {float(g.min()):+.1f}" for k, g in gaps.items()),
                tolerance="0 bits",
                tolerance_why="R_T evaluated at the upper z = 3 binomial bound of each point's disagreement (R_T "
                              "decreases in D), certified engine bracket; p(t) = the classifier's predictions on the "
                              f"reference's {REF_N} test images; learned points READ from {READ_FROM}",
                status=PASS if worst >= 0 else FAIL, details={k: g.tolist() for k, g in gaps.items()})


@figure("codecs_cifar_full.png")
def full_figure(quick: bool):
    import matplotlib.pyplot as plt

    from rdtheory.plotting import in_rate_order, log_rate_axis

    ref = reference()
    s = _full()
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.8))
    rr = in_rate_order(ref["rows"])
    ax[0].plot([r["bpp"] for r in rr], [100 * r["accuracy"] for r in rr], "k-o", ms=3,
               label="scalar quantiser of pooled features (reference)")
    for name, pts in (s["curves"].items() if s else []):
        pts = in_rate_order(pts)
        ax[0].plot([p["bpp"] for p in pts], [100 * p["accuracy"] for p in pts], "-s", ms=4, label=name)
        ax[1].plot([p.get("disagreement", np.nan) for p in pts], [p["bpp"] * PIXELS for p in pts], "s", ms=4,
                   label=name)
    rows = [r for r in json.loads(BASELINES.read_text())["rows"] if r["codec"] == "webp"]
    rows = in_rate_order(rows)
    ax[0].plot([r["bpp"] for r in rows], [100 * r["accuracy"] for r in rows], "k--", alpha=0.5, label="WebP (file size)")
    ax[0].axhline(100 * _acc0(), color="gray", lw=0.8, label="uncompressed")
    ax[0].axhline(100 * GOAL_ACC, color="r", lw=0.6, ls=":")
    ax[0].axvline(GOAL_BPP, color="r", lw=0.6, ls=":", label="goal (79 % at 0.5 bpp)")
    log_rate_axis(ax[0])
    ax[0].set_xlabel("rate (bits per pixel)")
    ax[0].set_ylabel("ResNet-20 top-1 (%)")
    D = np.linspace(0.0, 0.6, 61)
    ax[1].plot(D, supervised_bound(ref["p_t"], D), "r-", label="R_T(D) (engine, supervised bound)")
    ax[1].plot([r["disagreement"] for r in ref["rows"]], [r["bits_per_image"] for r in ref["rows"]], "ko", ms=3,
               label="scalar reference")
    ax[1].set_yscale("symlog", linthresh=10)
    ax[1].set_xlabel("D = disagreement with the uncompressed prediction")
    ax[1].set_ylabel("bits per image")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.suptitle("CIFAR-10 (JPEG q75), ResNet-20: CIFAR-scale codecs, reference and supervised bound")
    fig.tight_layout()
    return fig
