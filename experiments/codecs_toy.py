r"""Experiment 1 of issue 8: learned codecs on the circles/squares toy against the exact bound.

The toy of Sec. III-B.1 (``rdtheory.toy``; the task model as torch modules in
``rdtheory.codecs.toy_task``, registered as ``TASKS["toy"]``) has a known distribution, so the
rate–task-distortion function is exact: for this equiprobable binary task with Hamming task
distortion, by Theorems 1–2 and the closed form of the binary source,

.. math:: R_X(D;T) = R_Y(D;T) = 1 - h_b(D)\ \text{bits/sample},\quad 0 \le D \le 1/2,

checked here against the R(D) engine (``rdtheory.toy.supervised_rate`` on X and
``rdtheory.discrete.rate_at_distortion`` on Y = g(X), grid ``rdtheory.toy.discretize()``).

Sweeps (``rdtheory.codecs.train.lambda_sweep``; every λ trained from scratch, seed 0):

* task distortion (cross-entropy at the output, nats): full input X → X̂, model splitting
  Y → Ŷ, direct X → Ŷ;
* unsupervised MSE at X (full input) and MSE at Y (model splitting): the 1-bit story of Sec. III.

Rates are measured from real bitstreams: the whole test set (``--test-n`` samples) is coded as
*one* rANS stream (``FactorizedVectorCodec.compress``), so the coder's 30–96-bit flush costs
≤ 96 / n bits per sample; ``run``'s own evaluation (one stream per 100 samples) is kept as
``bits_per_sample_100`` to show what per-batch flushing costs. Task error = 1 − top-1 accuracy of
the exact h on the decoded tensor, with a 95% Wilson interval; each point's gap to the bound is
``rate − R(D_upper)`` with D_upper the interval's upper end.

    python experiments/codecs_toy.py              # ≈ 6 min on one CPU thread; resumable
    python experiments/codecs_toy.py --summary-only

Outputs: ``experiments/checkpoints/codecs_toy/<sweep>/lmbda=<λ>/{model.pt,result.json}``,
``experiments/results/codecs_toy.{json,md}``, ``figures/codecs_toy.png``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rdtheory import toy  # noqa: E402
from rdtheory._io import atomic_savefig, atomic_write_json, atomic_write_text  # noqa: E402
from rdtheory.codecs.train import TASKS, CodecConfig, evaluate_codec, lambda_sweep, load_codec, run  # noqa: E402
from rdtheory.info import binary_entropy  # noqa: E402

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

OUT_ROOT = ROOT / "experiments/checkpoints/codecs_toy"
RESULTS = ROOT / "experiments/results/codecs_toy.json"
FIGURE = ROOT / "figures/codecs_toy.png"
#: Upper bound on the rANS flush per stream (64-bit state + one 32-bit word), bits.
STREAM_OVERHEAD_BITS = 96
#: Task errors at which the engine is compared with the closed form 1 − h_b(D).
ENGINE_TARGETS = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.45)

#: λ grids (bits/sample per distortion unit). Cross-entropy: a 1-bit code pays once λ·ln 2 > 1
#: bit, i.e. λ > 1.44. MSE (mean over the 2 coordinates): entropy-coded uniform quantisation of
#: u ~ U[0, 10] with step Δ gives R ≈ log2(10/Δ), D ≈ Δ²/24, hence λ ≈ 12/(Δ² ln 2): λ ≈ 0.7
#: for 1 bit, 11 for 3 bits; at Y the 1-bit code (one cluster per class) pays from λ ≈ 0.3.
LAMBDAS = {"supervised": (0.5, 1.0, 1.5, 2.0, 4.0, 16.0), "mse": (0.1, 0.3, 1.0, 1.5, 2.0, 3.0, 10.0, 30.0)}

#: sweep name -> (approach, cut, distortion, layers, label for the figure)
SWEEPS = {
    "full_input-supervised": ("full_input", "input", "supervised", (), "full input X→X̂, task CE"),
    "splitting-supervised": ("model_splitting", "y", "supervised", (), "model splitting Y→Ŷ, task CE"),
    "direct-supervised": ("direct", "y", "supervised", (), "direct X→Ŷ, task CE"),
    "full_input-mse_x": ("full_input", "input", "mse", ("input",), "full input, MSE at X"),
    "splitting-mse_y": ("model_splitting", "y", "mse", ("y",), "model splitting, MSE at Y"),
}


def base_config(args) -> CodecConfig:
    """The shared config of every run (toy task, 2-d latent, 64-wide MLPs, Adam 1e-2 cosine)."""
    return CodecConfig(task="toy", data_dir="", weights="", train_n=args.train_n, test_n=args.test_n,
                       latent_channels=2, channels=64, quant_step=1.0, epochs=args.epochs, batch_size=256,
                       lr=1e-2, aux_lr=1e-2, seed=0)


def sweep_configs(base: CodecConfig, out_root) -> dict[str, tuple[CodecConfig, tuple]]:
    """name -> (config, λ grid) of every sweep."""
    out = {}
    for name, (approach, cut, distortion, layers, _) in SWEEPS.items():
        cfg = dataclasses.replace(base, approach=approach, cut=cut, distortion=distortion, layers=layers,
                                  out_dir=str(Path(out_root) / name))
        out[name] = (cfg, LAMBDAS["supervised" if distortion == "supervised" else "mse"])
    return out


def one_stream(cfg: CodecConfig, test) -> dict:
    """Re-measure a finished run with the whole test set coded as ONE stream (real bytes)."""
    x, labels = test
    model, _, _ = load_codec(Path(cfg.out_dir) / "model.pt", x[:2])
    ev = evaluate_codec(model, x, labels, pixels_per_sample=1, batch_size=len(x))
    return {"bits_per_sample": ev["bpp"], "bits_per_sample_estimate": ev["bpp_estimate"],
            "accuracy": ev["accuracy"], "n": ev["n"], "decode_max_abs_diff": ev["decode_max_abs_diff"],
            "stream_overhead_bits": (ev["bpp"] - ev["bpp_estimate"]) * ev["n"]}


def run_point(cfg: CodecConfig, *, test, **kwargs) -> dict:
    """:func:`rdtheory.codecs.train.run` plus the one-stream measurement, stored in result.json."""
    res = run(cfg, test=test, **kwargs)
    if "bpp" in res and "one_stream" not in res:
        res["one_stream"] = one_stream(cfg, test)
        atomic_write_json(Path(cfg.out_dir) / "result.json", res)
    return res


# ----------------------------------------------------------------------------------------- bound
def rate_bound(d) -> np.ndarray:
    r""":math:`R(D) = 1 - h_b(D)` for D ≤ 1/2 and 0 above (bits/sample): R_X(D;T) = R_Y(D;T) of the toy."""
    d = np.clip(np.asarray(d, dtype=np.float64), 0.0, 0.5)
    return 1.0 - np.asarray(binary_entropy(d), dtype=np.float64)


def one_shot_limit(d) -> np.ndarray:
    r"""Least rate of a *per-sample* (one-shot, deterministic) code with task error D: :math:`h_b(1/2 + D)`.

    For a code :math:`\hat Z = e(X)` with decoded label :math:`\hat T = \phi(\hat Z)`, let
    :math:`q = P(\hat T = 1)`; as :math:`P(T = 1) = 1/2`, the error is at least :math:`|q - 1/2|`, and
    the rate is at least :math:`H(\hat Z) \ge H(\hat T) = h_b(q) \ge h_b(1/2 + D)`. Merging a fraction
    2D of one class into the other's cell attains it. Concave in D, so minimising R + λD along it
    lands on its ends (0 bits / error 1/2, or 1 bit / error 0); above 1 − h_b(D) except at the ends,
    which only codes over blocks of samples approach.
    """
    d = np.clip(np.asarray(d, dtype=np.float64), 0.0, 0.5)
    return np.asarray(binary_entropy(0.5 + d), dtype=np.float64)


def engine_check(targets=ENGINE_TARGETS) -> dict:
    """R_X(D;T) (``toy.supervised_rate``) and R_Y(D;T) (task-induced distortion on Y = g(X)) from the
    R(D) engine on ``toy.discretize()``, next to the closed form; certified brackets in bits."""
    from rdtheory.discrete import hamming, rate_at_distortion, task_induced

    grid = toy.discretize()
    d_y = task_induced(grid.labels_y.astype(np.int64), hamming(2))
    rows = []
    for t in targets:
        px = toy.supervised_rate(t, grid)
        py = rate_at_distortion(grid.p_y, d_y, float(t), tol=1e-6)
        rows.append({"D": t, "R_X": px.rate, "R_X_lower": px.lower, "R_Y": py.rate, "R_Y_lower": py.lower,
                     "closed_form": float(rate_bound(t))})
    dev = max(max(abs(r["R_X"] - r["closed_form"]), abs(r["R_Y"] - r["closed_form"])) for r in rows)
    cover = all(r["R_X_lower"] - 1e-9 <= r["closed_form"] <= r["R_X"] + 1e-9
                and r["R_Y_lower"] - 1e-9 <= r["closed_form"] <= r["R_Y"] + 1e-9 for r in rows)
    return {"grid": grid.description, "rows": rows, "max_abs_deviation_bits": dev, "brackets_cover_closed_form": cover}


# -------------------------------------------------------------------------------------- summary
def collect(out_root) -> dict[str, list[dict]]:
    """Every finished run with a one-stream measurement under ``out_root``, by sweep name."""
    out: dict[str, list[dict]] = {}
    for f in sorted(Path(out_root).glob("*/lmbda=*/result.json")):
        r = json.loads(f.read_text())
        if "one_stream" in r:
            out.setdefault(f.parent.parent.name, []).append({k: v for k, v in r.items() if k != "train_history"})
    return out


def point_summary(res: dict) -> dict:
    """One codec point: rate (one stream), task error with its Wilson interval, gap to the bound."""
    o = res["one_stream"]
    n = o["n"]
    wrong = int(round((1 - o["accuracy"]) * n))
    lo, hi = toy.wilson(wrong, n)
    rate = o["bits_per_sample"]
    bound_hi = float(rate_bound(hi))
    slack = STREAM_OVERHEAD_BITS / n
    return {"lmbda": res["config"]["lmbda"], "rate": rate, "rate_estimate": o["bits_per_sample_estimate"],
            "rate_100": res["bpp"], "stream_overhead_bits": o["stream_overhead_bits"], "error": wrong / n,
            "error_ci": [lo, hi], "n": n, "R_at_error": float(rate_bound(wrong / n)), "R_at_error_upper": bound_hi,
            "gap": rate - bound_hi, "below_bound": bool(rate < bound_hi - slack),
            "one_shot_at_error_upper": float(one_shot_limit(hi)), "gap_one_shot": rate - float(one_shot_limit(hi)),
            "decode_max_abs_diff": o["decode_max_abs_diff"]}


def matched_rate(x_pts: list[dict], y_pts: list[dict], tol: float = 0.02) -> list[dict]:
    """For each MSE-at-X point, the best MSE-at-Y point with rate ≤ its rate + ``tol`` bits, compared
    by their Wilson intervals: "Y better" (Y's upper < X's lower), "X better", or "tie"."""
    rows = []
    for p in sorted(x_pts, key=lambda q: q["rate"]):
        cands = [q for q in y_pts if q["rate"] <= p["rate"] + tol]
        if not cands:
            rows.append({"rate_x": p["rate"], "error_x": p["error"], "verdict": "no MSE-at-Y point at this rate"})
            continue
        q = min(cands, key=lambda c: (c["error"], c["rate"]))
        verdict = ("Y better" if q["error_ci"][1] < p["error_ci"][0] else
                   "X better" if p["error_ci"][1] < q["error_ci"][0] else "tie")
        rows.append({"rate_x": p["rate"], "error_x": p["error"], "error_x_ci": p["error_ci"], "rate_y": q["rate"],
                     "error_y": q["error"], "error_y_ci": q["error_ci"], "verdict": verdict})
    return rows


def summarize(results: dict[str, list[dict]], engine: dict | None) -> dict:
    """Points per sweep, gaps to the bound, the matched-rate MSE-X vs MSE-Y table and the verdicts."""
    sweeps = {name: sorted((point_summary(r) for r in rs), key=lambda p: p["lmbda"]) for name, rs in results.items()}
    pts = [p for ps in sweeps.values() for p in ps]
    n = max((p["n"] for p in pts), default=0)
    matched = matched_rate(sweeps.get("full_input-mse_x", []), sweeps.get("splitting-mse_y", []))
    identical = None
    if "full_input-supervised" in sweeps and "direct-supervised" in sweeps:
        identical = [(a["rate"], a["error"]) for a in sweeps["full_input-supervised"]] == \
                    [(b["rate"], b["error"]) for b in sweeps["direct-supervised"]]
    return {"sweeps": sweeps, "labels": {k: v[4] for k, v in SWEEPS.items()},
            "bound": "R_X(D;T) = R_Y(D;T) = 1 - h_b(D) bits/sample (D <= 1/2)", "engine_check": engine,
            "n_test": n, "stream_overhead_allowance_bits_per_sample": STREAM_OVERHEAD_BITS / n if n else None,
            "min_gap": min((p["gap"] for p in pts), default=None),
            "min_gap_one_shot": min((p["gap_one_shot"] for p in pts), default=None),
            "any_below_bound": any(p["below_bound"] for p in pts), "matched_rate_mse": matched,
            "full_input_equals_direct_supervised": identical,
            "cpu_seconds_train_and_eval": sum(r.get("seconds", 0.0) for rs in results.values() for r in rs)}


def to_markdown(s: dict) -> str:
    L = ["# Experiment 1: learned codecs on the circles/squares toy against the exact bound", "",
         "Produced by `experiments/codecs_toy.py`. Rate: real bitstream, the whole test set coded as one "
         f"rANS stream, in bits/sample (n = {s['n_test']} test samples; the per-stream flush, ≤ "
         f"{STREAM_OVERHEAD_BITS} bits, is ≤ {s['stream_overhead_allowance_bits_per_sample']:.4f} bits/sample). "
         "`rate (100/stream)` is the same codec with one stream per 100 samples (`run`'s own evaluation). "
         "Task error: 1 − accuracy of the exact h on the decoded tensor, 95% Wilson interval. "
         f"Bound: {s['bound']}; gap = rate − R(upper end of the error interval).", ""]
    e = s.get("engine_check")
    if e:
        L += [f"Engine check (grid: {e['grid']}): max |R_engine − (1 − h_b(D))| = "
              f"{e['max_abs_deviation_bits']:.2e} bits over D ∈ {[r['D'] for r in e['rows']]} at X and at Y; "
              f"certified brackets contain the closed form: {e['brackets_cover_closed_form']}.", ""]
    L += ["| sweep | λ | rate (bits/sample) | estimate | rate (100/stream) | task error | 95% CI | "
          "R(D_upper) | gap |", "|---|---|---|---|---|---|---|---|---|"]
    for name, pts in s["sweeps"].items():
        for p in pts:
            L.append(f"| {s['labels'].get(name, name)} | {p['lmbda']:g} | {p['rate']:.4f} | {p['rate_estimate']:.4f} | "
                     f"{p['rate_100']:.4f} | {p['error']:.5f} | [{p['error_ci'][0]:.5f}, {p['error_ci'][1]:.5f}] | "
                     f"{p['R_at_error_upper']:.4f} | {p['gap']:+.4f} |")
    L += ["", f"Smallest gap: {s['min_gap']:+.4f} bits/sample; any point below the bound (beyond the overhead "
          f"allowance): {s['any_below_bound']}. Smallest gap to the one-shot limit h_b(1/2 + D_upper) of "
          f"per-sample codes: {s['min_gap_one_shot']:+.4f} bits/sample.", ""]
    if s.get("full_input_equals_direct_supervised") is not None:
        L += [f"Full-input and direct supervised points identical: {s['full_input_equals_direct_supervised']} "
              "(g passes v through and h reads only v, so both codecs get the same gradients from the same "
              "initialisation).", ""]
    L += ["## MSE at X vs MSE at Y at matched rate", "",
          "For each MSE-at-X codec, the lowest-error MSE-at-Y codec with no more rate (+0.02 bits).", "",
          "| rate X | error X | rate Y | error Y | verdict |", "|---|---|---|---|---|"]
    for r in s["matched_rate_mse"]:
        if "rate_y" in r:
            L.append(f"| {r['rate_x']:.3f} | {r['error_x']:.4f} | {r['rate_y']:.3f} | {r['error_y']:.4f} | {r['verdict']} |")
        else:
            L.append(f"| {r['rate_x']:.3f} | {r['error_x']:.4f} | – | – | {r['verdict']} |")
    return "\n".join(L) + "\n"


def plot(s: dict):
    """Task error vs rate: codec points with Wilson error bars, and the bound 1 − h_b(D)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    d = np.linspace(0, 0.5, 400)
    ax.plot(rate_bound(d), d, "k-", lw=1.5, label="bound R_X(D;T) = R_Y(D;T) = 1 − h_b(D)")
    ax.plot(one_shot_limit(d), d, "k:", lw=1.2, label="one-shot (per-sample) code limit h_b(1/2 + D)")
    styles = {"full_input-supervised": ("tab:blue", "s", 9), "direct-supervised": ("tab:cyan", "x", 7),
              "splitting-supervised": ("tab:purple", "^", 7), "full_input-mse_x": ("tab:red", "o", 6),
              "splitting-mse_y": ("tab:green", "D", 6)}
    for name, pts in s["sweeps"].items():
        colour, marker, ms = styles.get(name, ("0.4", ".", 6))
        r = np.array([p["rate"] for p in pts])
        e = np.array([p["error"] for p in pts])
        lo = np.clip(e - np.array([p["error_ci"][0] for p in pts]), 0, None)
        hi = np.clip(np.array([p["error_ci"][1] for p in pts]) - e, 0, None)
        ax.errorbar(r, e, yerr=[lo, hi], ls="", marker=marker, ms=ms, mfc="none" if marker not in "x" else None,
                    color=colour, capsize=3, label=s["labels"].get(name, name))
    for (r0, e0), where in (((0.0, 0.5), (0.12, 0.44)), ((1.0, 0.0), (1.1, 0.05))):
        k = sum(abs(p["rate"] - r0) < 0.02 and abs(p["error"] - e0) < 0.01 for ps in s["sweeps"].values() for p in ps)
        if k:
            ax.annotate(f"{k} codecs here", (r0, e0), xytext=where, fontsize=8, color="0.3",
                        arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.8})
    ax.set_xlabel("rate (bits/sample, real bitstream: the test set as one rANS stream)")
    ax.set_ylabel("task error (95% Wilson interval)")
    ax.set_ylim(-0.02, 0.56)
    ax.set_xlim(-0.1, max([p["rate"] for ps in s["sweeps"].values() for p in ps] + [2.0]) + 0.2)
    ax.set_title(f"Circles/squares: learned codecs vs the exact bound (n = {s['n_test']} test samples)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-n", type=int, default=20_000)
    ap.add_argument("--test-n", type=int, default=20_000)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--only", default=",".join(SWEEPS), help="comma-separated sweep names")
    ap.add_argument("--out-root", default=str(OUT_ROOT))
    ap.add_argument("--results", default=str(RESULTS))
    ap.add_argument("--figure", default=str(FIGURE))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--summary-only", action="store_true", help="re-summarise the finished runs only")
    ap.add_argument("--no-engine", action="store_true", help="skip the R(D) engine check (needs JAX)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    if not args.summary_only:
        base = base_config(args)
        spec = TASKS["toy"]
        train, test = spec.data(base, "train"), spec.data(base, "test")
        configs = sweep_configs(base, args.out_root)
        for name in [n for n in args.only.split(",") if n]:
            if name not in configs:
                raise SystemExit(f"unknown sweep {name!r}; choose from {list(configs)}")
            cfg, lmbdas = configs[name]
            t1 = time.time()
            for r in lambda_sweep(cfg, lmbdas, run_fn=run_point, train=train, test=test, progress=False):
                o = r.get("one_stream", {})
                print(f"{name} λ={r['config']['lmbda']:g}: {o.get('bits_per_sample', float('nan')):.4f} bits/sample, "
                      f"error {1 - o.get('accuracy', float('nan')):.5f}", flush=True)
            print(f"[{name}] {time.time() - t1:.0f} s", flush=True)
    engine = None if args.no_engine else engine_check()
    summary = summarize(collect(args.out_root), engine)
    atomic_write_json(args.results, summary)
    atomic_write_text(Path(args.results).with_suffix(".md"), to_markdown(summary))
    import matplotlib

    matplotlib.use("Agg")
    atomic_savefig(plot(summary), args.figure)
    print(f"min gap {summary['min_gap']:+.4f} bits/sample; below bound: {summary['any_below_bound']}; "
          f"{time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
