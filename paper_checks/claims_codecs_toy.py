"""Claim (e) of issue 8 and the 1-bit story of Sec. III with *learned* codecs on the circles/squares toy
(experiment 1, ``experiments/codecs_toy.py``).

The toy's rate–task-distortion function is exact, R_X(D;T) = R_Y(D;T) = 1 − h_b(D) bits/sample.
Quick mode (``make check``) recomputes every number of ``codecs-e-exact-bound`` and
``codecs-toy-mse-y-vs-x`` without retraining: each committed codec (``experiments/checkpoints/codecs_toy``)
is reloaded from its ``model.pt`` and re-measured on *fresh* samples (seed FRESH_SEED, one real
bitstream per codec), the bound is re-checked against the R(D) engine, and the experiment's own
summary (gaps, matched-rate table) is rebuilt from those measurements (~20 s). Only the trained
weights are committed inputs. ``--full`` re-runs the whole experiment (≈ 6–10 min on one CPU
thread, training included) into ``cache_dir('paper_checks/codecs_toy')`` (``~/.cache/rdtheory/...``).
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
    """The experiment's summary rebuilt from the committed codecs re-measured on fresh samples (quick),
    or from a full re-run of the experiment, training included (``--full``)."""
    exp = _experiment()
    if quick:
        return exp.summarize(_fresh_results(exp), exp.engine_check())
    exp.main(["--out-root", str(SCRATCH / "runs"), "--results", str(SCRATCH / "codecs_toy.json"),
              "--figure", str(SCRATCH / "codecs_toy.png")])
    return json.loads((SCRATCH / "codecs_toy.json").read_text())


def _fresh_results(exp, n: int | None = None) -> dict[str, list[dict]]:
    """Every committed toy codec reloaded and measured as one real stream on ``n`` fresh samples
    (seed FRESH_SEED; default: the committed test size), in the form ``exp.summarize`` takes."""
    import dataclasses

    import torch

    from rdtheory.codecs.train import TASKS, CodecConfig

    torch.set_num_threads(1)
    committed = json.loads(RESULTS.read_text())
    n = n or committed["n_test"]
    out: dict[str, list[dict]] = {}
    test = None
    for f in sorted(RUNS.glob("*/lmbda=*/result.json")):
        r = json.loads(f.read_text())
        cfg = dataclasses.replace(CodecConfig.from_dict(r["config"]), test_n=n, seed=FRESH_SEED - 1,
                                  out_dir=str(f.parent))
        if test is None:  # the toy's test set depends on (test_n, seed) only: one set for every codec
            test = TASKS["toy"].data(cfg, "test")
        out.setdefault(f.parent.parent.name, []).append(
            {"config": r["config"], "bpp": r["bpp"], "one_stream": exp.one_stream(cfg, test)})
    return out


def informative(p: dict, allowance: float) -> bool:
    """A codec point that can meet the bound at all: R(D_upper) > 0 (the error interval lies below 1/2)
    and it sends more than the stream overhead. Elsewhere gap = rate − 0 ≥ 0 holds for any code."""
    return p["R_at_error_upper"] > 0.0 and p["rate"] > allowance


def bound_verdict(informative_gaps: list[float], other_gaps: list[float], allowance: float) -> str:
    """``pass`` when there is at least one informative point (else the check is vacuous) and no gap,
    informative or not, is below ``-allowance`` (bits/sample)."""
    gaps = list(informative_gaps) + list(other_gaps)
    return PASS if informative_gaps and min(gaps) >= -allowance else FAIL


@claim("codecs-e-exact-bound", REF,
       "No trained codec beats the exact bound R(D;T) = 1 - h_b(D) (circles/squares toy; full input, model "
       "splitting, direct; task CE, MSE at X, MSE at Y)")
def exact_bound(quick: bool):
    cid = "codecs-e-exact-bound"
    why = _missing()
    if why:
        return skipped(cid, why)
    s = _summary(quick)
    allowance = s["stream_overhead_allowance_bits_per_sample"]
    pts = [(name, p) for name, ps in s["sweeps"].items() for p in ps]
    info = [(n, p) for n, p in pts if informative(p, allowance)]
    status = bound_verdict([p["gap"] for _, p in info],
                           [p["gap"] for n, p in pts if not informative(p, allowance)], allowance)
    worst_name, worst = min(info or pts, key=lambda t: t[1]["gap"])
    below = [f"{n} λ={p['lmbda']:g}" for n, p in pts if p["gap"] < -allowance]
    eng = s.get("engine_check") or {}
    return make(cid, expected="every gap = rate - R(D_upper) >= -allowance, with at least one informative point",
                measured=f"{len(info)} informative of {len(pts)} codec points; smallest informative gap "
                         f"{worst['gap']:+.4f} bits/sample ({worst_name} λ={worst['lmbda']:g}: {worst['rate']:.4f} "
                         f"bits/sample at error {worst['error']:.4f}, R(D_upper) {worst['R_at_error_upper']:.4f}); "
                         f"below: {below or 'none'}",
                tolerance=f"allowance {allowance:.4f} bits/sample",
                tolerance_why=f"D_upper = upper end of the 95% Wilson interval of the task error on "
                              f"{s['n_test']} {'fresh ' if quick else ''}test samples; allowance = the rANS flush "
                              f"(<= 96 bits) over the one-stream test set. Points with R(D_upper) = 0 or a rate within "
                              f"the flush (the codecs that send nothing) are excluded from the smallest gap: there "
                              f"the bound is 0 and no code can beat it. Bound checked against the R(D) engine "
                              f"(max deviation {eng.get('max_abs_deviation_bits', float('nan')):.1e} bits, "
                              f"recomputed)",
                status=status,
                details={"gaps": {f"{n} λ={p['lmbda']:g}": round(p["gap"], 5) for n, p in pts},
                         "informative": [f"{n} λ={p['lmbda']:g}" for n, p in info],
                         "source": (f"recomputed: committed model.pt re-measured on fresh samples (seed {FRESH_SEED})"
                                    if quick else "re-run (trained here)"),
                         "read_from": "experiments/checkpoints/codecs_toy/*/model.pt (trained weights only)"})


def _trivial_tie(r: dict) -> bool:
    """A tie where no code could do better than the other: both at chance, or both error-free (95% upper < 1%)."""
    chance = r["error_x_ci"][0] > 0.45 and r["error_y_ci"][0] > 0.45
    perfect = r["error_x_ci"][1] < 0.01 and r["error_y_ci"][1] < 0.01
    return r["verdict"] == "tie" and (chance or perfect)


def mse_verdict(rows: list[dict]) -> str:
    """``pass`` when some matched row is 'Y better' and none is 'X better' or a non-trivial tie."""
    matched = [r for r in rows if "rate_y" in r]
    bad = [r for r in matched if r["verdict"] == "X better" or (r["verdict"] == "tie" and not _trivial_tie(r))]
    return PASS if any(r["verdict"] == "Y better" for r in matched) and not bad else FAIL


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
    fmt = lambda r: f"{r['rate_x']:.2f} bits: X {r['error_x']:.3f} vs Y {r['error_y']:.3f} at {r['rate_y']:.2f} bits"
    ties = [fmt(r) for r in matched if r["verdict"] == "tie"]
    better = [fmt(r) for r in matched if r["verdict"] == "Y better"]
    return make(cid, expected="'Y better' at every matched MSE-at-X point, except trivial ties",
                measured=f"{counts} over {len(matched)} matched points; Y better at {better}; ties at {ties}",
                tolerance="disjoint 95% Wilson intervals",
                tolerance_why="each MSE-at-X codec vs the lowest-error MSE-at-Y codec with no more rate (+0.02 "
                              "bits); 'Y better' needs Y's upper error bound below X's lower bound; a tie is "
                              "trivial when both lower bounds exceed 0.45 (chance) or both upper bounds are "
                              "below 0.01; one training seed per point. Literally 'at every rate' does not hold: "
                              "ties at ~0 bits and where both are error-free. "
                              + ("Recomputed: committed model.pt re-measured on fresh samples" if quick else
                                 "Re-run (trained here)"),
                status=mse_verdict(rows), details={"rows": rows, "unmatched": len(rows) - len(matched),
                                                   "read_from": "experiments/checkpoints/codecs_toy/*/model.pt "
                                                                "(trained weights only)"})


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
                              "lengths plus the two streams' flushes (<= 96 bits each); the committed numbers "
                              "are READ from codecs_toy.json, the fresh ones recomputed here",
                status=PASS if ok else FAIL,
                details={"rows": rows, "read_from": f"{RESULTS.relative_to(ROOT)} (committed side only)"})


@figure("codecs_toy.png")
def codecs_toy_figure(quick: bool):
    if _missing():
        raise RuntimeError(_missing())
    return _experiment().plot(_summary(quick))
