"""Claim (e) of issue 8 and the 1-bit story of Sec. III with *learned* codecs on the circles/squares toy
(experiment 1, ``experiments/codecs_toy.py``).

The toy's rate–task-distortion function is exact, R_X(D;T) = R_Y(D;T) = 1 − h_b(D) bits/sample
(checked against the R(D) engine by the experiment). Quick mode (``make check``) reads the
committed ``experiments/results/codecs_toy.json`` and re-verifies it: committed codecs are
reloaded from their ``model.pt`` and re-measured on *fresh* samples (another seed) with real
bitstreams; rate and task error must agree with the committed numbers within their sampling
intervals. ``--full`` re-runs the whole experiment (≈ 6–10 min on one CPU thread) into
``cache_dir('paper_checks/codecs_toy')`` (``~/.cache/rdtheory/...``) and checks that.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import math
from pathlib import Path

from paper_checks import FAIL, PASS, claim, figure, make, skipped
from rdtheory._io import cache_dir

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments/results/codecs_toy.json"
RUNS = ROOT / "experiments/checkpoints/codecs_toy"
SCRATCH = cache_dir("paper_checks/codecs_toy")
REF = "issue 8 experiment 1; Sec. III-B.1, Thms 1-3"
#: Fresh-sample seed of the quick re-measurement (the experiment trains on seed 0, tests on seed 1).
FRESH_SEED = 1000


def _missing() -> str | None:
    for mod in ("torch", "compressai"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} not installed (pip install -e '.[torch]')"
    if not RESULTS.exists():
        return f"{RESULTS.relative_to(ROOT)} not found; run experiments/codecs_toy.py"
    return None



def _experiment():
    import importlib.util as iu

    spec = iu.spec_from_file_location("codecs_toy", ROOT / "experiments/codecs_toy.py")
    mod = iu.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@functools.lru_cache(maxsize=None)
def _summary(quick: bool) -> dict:
    if quick:
        return json.loads(RESULTS.read_text())
    exp = _experiment()
    exp.main(["--out-root", str(SCRATCH / "runs"), "--results", str(SCRATCH / "codecs_toy.json"),
              "--figure", str(SCRATCH / "codecs_toy.png")])
    return json.loads((SCRATCH / "codecs_toy.json").read_text())


@claim("codecs-e-exact-bound", REF,
       "No trained codec beats the exact bound R(D;T) = 1 - h_b(D) (circles/squares toy; full input, model "
       "splitting, direct; task CE, MSE at X, MSE at Y)")
def exact_bound(quick: bool):
    cid = "codecs-e-exact-bound"
    why = _missing()
    if why:
        return skipped(cid, why)
    s = _summary(quick)
    pts = [(name, p) for name, ps in s["sweeps"].items() for p in ps]
    worst_name, worst = min(pts, key=lambda t: t[1]["gap"])
    below = [f"{n} λ={p['lmbda']:g}" for n, p in pts if p["below_bound"]]
    eng = s.get("engine_check") or {}
    return make(cid, expected="every gap = rate - R(D_upper) >= -allowance",
                measured=f"{len(pts)} codec points; smallest gap {worst['gap']:+.4f} bits/sample ({worst_name} "
                         f"λ={worst['lmbda']:g}: {worst['rate']:.4f} bits/sample at error {worst['error']:.4f}); "
                         f"below: {below or 'none'}",
                tolerance=f"allowance {s['stream_overhead_allowance_bits_per_sample']:.4f} bits/sample",
                tolerance_why=f"D_upper = upper end of the 95% Wilson interval of the task error on "
                              f"{s['n_test']} test samples; allowance = the rANS flush (<= 96 bits) over the "
                              f"one-stream test set; bound checked against the R(D) engine "
                              f"(max deviation {eng.get('max_abs_deviation_bits', float('nan')):.1e} bits, grid: "
                              f"{eng.get('grid', 'not run')})",
                status=FAIL if below else PASS,
                details={"gaps": {f"{n} λ={p['lmbda']:g}": round(p["gap"], 5) for n, p in pts},
                         "source": "committed results" if quick else "re-run"})


def _trivial_tie(r: dict) -> bool:
    """A tie where no code could do better than the other: both at chance, or both error-free (95% upper < 1%)."""
    chance = r["error_x_ci"][0] > 0.45 and r["error_y_ci"][0] > 0.45
    perfect = r["error_x_ci"][1] < 0.01 and r["error_y_ci"][1] < 0.01
    return r["verdict"] == "tie" and (chance or perfect)


@claim("codecs-toy-mse-y-vs-x", "Sec. III-B.1 (1-bit story), Eq. 20, with learned codecs",
       "MSE at Y beats MSE at X in task error at every matched rate where they can differ (ties only where "
       "both are at chance or both error-free)")
def mse_y_vs_x(quick: bool):
    cid = "codecs-toy-mse-y-vs-x"
    why = _missing()
    if why:
        return skipped(cid, why)
    rows = _summary(quick)["matched_rate_mse"]
    matched = [r for r in rows if "rate_y" in r]
    counts = {v: sum(r["verdict"] == v for r in matched) for v in ("Y better", "tie", "X better")}
    ties = [f"{r['rate_x']:.2f} bits: X {r['error_x']:.3f} vs Y {r['error_y']:.3f} at {r['rate_y']:.2f} bits"
            for r in matched if r["verdict"] == "tie"]
    bad = [r for r in matched if r["verdict"] == "X better" or (r["verdict"] == "tie" and not _trivial_tie(r))]
    better = [f"{r['rate_x']:.2f} bits: X {r['error_x']:.3f} vs Y {r['error_y']:.3f} at {r['rate_y']:.2f} bits"
              for r in matched if r["verdict"] == "Y better"]
    status = PASS if matched and better and not bad else FAIL
    return make(cid, expected="'Y better' at every matched MSE-at-X point, except trivial ties",
                measured=f"{counts} over {len(matched)} matched points; Y better at {better}; ties at {ties}",
                tolerance="disjoint 95% Wilson intervals",
                tolerance_why="each MSE-at-X codec vs the lowest-error MSE-at-Y codec with no more rate (+0.02 "
                              "bits); 'Y better' needs Y's upper error bound below X's lower bound; a tie is "
                              "trivial when both lower bounds exceed 0.45 (chance) or both upper bounds are "
                              "below 0.01; one training seed per point. Literally 'at every rate' does not hold: "
                              "ties at ~0 bits and where both are error-free",
                status=status, details={"rows": rows, "unmatched": len(rows) - len(matched)})


def _fresh_measure(model_pt: Path, n: int) -> dict:
    """Reload ``model_pt`` and measure it on ``n`` fresh samples (seed FRESH_SEED) as one stream."""
    import dataclasses

    import numpy as np
    import torch

    from rdtheory import toy
    from rdtheory.codecs.train import TASKS, CodecConfig, evaluate_codec, load_codec

    torch.set_num_threads(1)
    from rdtheory._training import load_checkpoint

    state = load_checkpoint(model_pt)
    cfg = dataclasses.replace(CodecConfig.from_dict(state["config"]), test_n=n, seed=FRESH_SEED - 1)
    x, labels = TASKS["toy"].data(cfg, "test")  # seed cfg.seed + 1 = FRESH_SEED
    model, _, _ = load_codec(model_pt, x[:2])
    ev = evaluate_codec(model, x, labels, pixels_per_sample=1, batch_size=len(x))
    with torch.no_grad():
        lik = model.system.codec(model.system.encoder_input(x))["likelihoods"]["z"]
        per_sample = (-torch.log2(lik)).sum(1).numpy()
    wrong = int(round((1 - ev["accuracy"]) * n))
    return {"rate": ev["bpp"], "error": wrong / n, "error_ci": toy.wilson(wrong, n), "n": n,
            "rate_sd_per_sample": float(np.std(per_sample)), "decode_max_abs_diff": ev["decode_max_abs_diff"]}


@claim("codecs-toy-reload", "issue 8 experiment 1 (committed checkpoints, real bitstreams)",
       "Committed toy codecs reloaded from model.pt reproduce their committed rate and task error on fresh samples")
def reload_fresh(quick: bool):
    cid = "codecs-toy-reload"
    why = _missing()
    if why:
        return skipped(cid, why)
    s = json.loads(RESULTS.read_text())
    pts = [(name, p) for name, ps in s["sweeps"].items() for p in ps]
    # the most informative points: the MSE-at-X point with error nearest 1/4, and a 1-bit supervised code
    picks = [min((t for t in pts if t[0] == "full_input-mse_x"), key=lambda t: abs(t[1]["error"] - 0.25), default=None),
             min((t for t in pts if t[0] == "splitting-supervised" and t[1]["rate"] > 0.5),
                 key=lambda t: t[1]["rate"], default=None)]
    picks = [t for t in picks if t is not None]
    n = 20_000 if quick else 100_000
    rows, ok = [], bool(picks)
    for name, p in picks:
        pt = RUNS / name / f"lmbda={p['lmbda']:g}" / "model.pt"
        if not pt.exists():
            return skipped(cid, f"{pt.relative_to(ROOT)} not committed")
        f = _fresh_measure(pt, n)
        # error: two independent binomial samples -> 1.96 sd of the difference (+1/n for 0-error ties)
        pbar = (p["error"] * p["n"] + f["error"] * n) / (p["n"] + n)
        tol_e = 1.96 * math.sqrt(pbar * (1 - pbar) * (1 / p["n"] + 1 / n)) + 1 / n
        # rate: per-sample code lengths have sd s -> 1.96 s sqrt(1/n1 + 1/n2), plus both streams' flushes
        tol_r = 1.96 * f["rate_sd_per_sample"] * math.sqrt(1 / p["n"] + 1 / n) + 96 / p["n"] + 96 / n
        good = abs(f["error"] - p["error"]) <= tol_e and abs(f["rate"] - p["rate"]) <= tol_r \
            and f["decode_max_abs_diff"] == 0.0
        ok &= good
        rows.append({"run": f"{name} λ={p['lmbda']:g}", "committed": (round(p["rate"], 4), round(p["error"], 5)),
                     "fresh": (round(f["rate"], 4), round(f["error"], 5)), "tol_rate": round(tol_r, 4),
                     "tol_error": round(tol_e, 5), "ok": good})
    return make(cid, expected="fresh (rate, error) = committed within sampling tolerance; decoding exact",
                measured="; ".join(f"{r['run']}: committed {r['committed']} vs fresh {r['fresh']}" for r in rows),
                tolerance="; ".join(f"rate ±{r['tol_rate']}, error ±{r['tol_error']}" for r in rows),
                tolerance_why=f"fresh test set ({n} samples, seed {FRESH_SEED}) vs the committed one: 1.96 sd of "
                              "the difference of two binomial error rates (+1/n), and of two mean per-sample code "
                              "lengths plus the two streams' flushes (<= 96 bits each)",
                status=PASS if ok else FAIL, details={"rows": rows})


@figure("codecs_toy.png")
def codecs_toy_figure(quick: bool):
    if _missing():
        raise RuntimeError(_missing())
    return _experiment().plot(_summary(quick))
