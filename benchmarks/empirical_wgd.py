"""``python -m benchmarks.empirical_wgd``: particle upper bounds (WGD + BA hybrid) against the truth.

Sources are centred Gaussians with variances ``sigma2`` under squared error, whose
R(D) is known by reverse water-filling [1]_: :math:`D(\\theta) = \\sum_i \\min(\\theta,
\\sigma_i^2)`, :math:`R = \\sum_i \\max(0, \\tfrac12\\log_2(\\sigma_i^2/\\theta))` bits, and the
slope is :math:`\\beta = 1/(2\\theta)` nats per unit distortion. Cases:

- ``d2``: sigma = (1, 0.5); ``d16``: sigma_k = exp(-k/8), k = 0..15 (both axis-aligned);
- ``d40``: the source of issue 14, sigma_k = 2 exp(-k/2), k = 0..39, randomly rotated (seeded);

at target rates ``--rates`` (bits; the slope is the truth's slope there). For each case, fit
size ``n`` and particle count ``m`` it fits ``method="hybrid"`` (WGD + BA) and the baseline
``method="ba"`` (BA reweighting of the same initial particles, positions fixed) for the same
number of steps, scores both on ``--n-eval`` fresh held-out samples
(:func:`rdtheory.empirical.channel.heldout_bound`), and records the wall time and the gap
``rate - R(D)`` at the held-out D (bits; positive = the bound is above the truth, as it must be
up to its interval). The ratio columns compare hybrid and BA measured in the same run.

Results: ``benchmarks/results/empirical_wgd.json`` and ``.md``, rewritten after every row.
CPU here is shared and noisy; the issue's goal (0.01 bits at 8 bits on ``d40``) is reported
as measured.

References
----------
.. [1] T. M. Cover and J. A. Thomas, "Elements of Information Theory", 2nd ed., Wiley, 2006,
   Thm. 10.3.3 (reverse water-filling).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from rdtheory.empirical.sources import GaussianSource

ROOT = Path(__file__).resolve().parent


def gaussian_rd_bits(sigma2, distortion: float) -> float:
    """R(D) in bits of N(0, diag(sigma2)) under squared error (any rotation of it): reverse water-filling."""
    return float(GaussianSource(tuple(np.asarray(sigma2, np.float64))).rd(distortion))


def gaussian_lagrangian_bits(sigma2, beta: float) -> tuple[float, float, float]:
    """``(R, D, F)`` at slope ``beta`` (nats per unit): :math:`F = \\min_D R + \\beta D/\\ln 2` bits."""
    s2 = np.asarray(sigma2, np.float64)
    t = 1.0 / (2.0 * beta)
    d = float(np.minimum(t, s2).sum())
    r = float(0.5 * np.sum(np.log2(np.maximum(s2 / t, 1.0))))
    return r, d, r + beta * d / np.log(2.0)


def beta_for_rate(sigma2, rate_bits: float) -> float:
    """The slope (nats per unit) at which the Gaussian's R(D) equals ``rate_bits``."""
    s2 = np.asarray(sigma2, np.float64)
    f = lambda t: 0.5 * np.sum(np.log2(np.maximum(s2 / t, 1.0))) - rate_bits  # noqa: E731
    return 1.0 / (2.0 * brentq(f, 1e-300, float(s2.max()) * (1 - 1e-12), xtol=1e-300, rtol=1e-14))


def case(name: str, seed: int = 0):
    """``(sigma2, rotation or None)`` of a named case."""
    if name == "d2":
        return np.array([1.0, 0.25]), None
    if name == "d16":
        return np.exp(-np.arange(16) / 4.0), None
    if name == "d40":
        q, _ = np.linalg.qr(np.random.default_rng([seed, 40]).normal(size=(40, 40)))
        return 4.0 * np.exp(-np.arange(40.0)), q
    raise ValueError(f"unknown case {name!r}")


def draw(sigma2, rot, n: int, rng) -> np.ndarray:
    """``n`` samples of N(0, R diag(sigma2) R^T)."""
    z = rng.normal(size=(n, len(sigma2))) * np.sqrt(sigma2)
    return z if rot is None else z @ rot.T


def run_row(name, n, m, rates, steps, n_eval, seed, method, batch_size=None, schedule="constant"):
    from rdtheory.empirical.wgd import wgd_bound

    s2, rot = case(name, seed)
    rng = np.random.default_rng([seed, n, m])
    x, xe = draw(s2, rot, n, rng), draw(s2, rot, n_eval, rng)
    betas = [beta_for_rate(s2, r) for r in rates]
    # warm-up at the same shapes: compiles the (cached) step segment, so the timed call excludes compilation
    kw = dict(m=m, method=method, seed=seed, dtype="float32", batch_size=batch_size, schedule=schedule)
    wgd_bound(x, "squared", betas, x_eval=xe[:2], steps=min(steps, 50), **kw)
    t0 = time.perf_counter()
    b = wgd_bound(x, "squared", betas, x_eval=xe, steps=steps, **kw)
    sec = time.perf_counter() - t0
    pts = []
    for i, r in enumerate(rates):
        truth = gaussian_rd_bits(s2, b.distortion[i])
        pts.append(dict(target_rate=r, beta=float(betas[i]), distortion=float(b.distortion[i]),
                        rate=float(b.rate[i]), ci_half=float((b.interval[i, 1] - b.interval[i, 0]) / 2),
                        truth=truth, gap=float(b.rate[i] - truth), capped=bool(b.capped[i])))
    return dict(case=name, dim=len(s2), n=n, m=m, steps=steps, method=method, batch_size=batch_size,
                schedule=schedule, seconds=sec, points=pts)


def render(res) -> str:
    lines = ["# Particle upper bounds (WGD + BA hybrid) on Gaussian sources", "",
             f"Run {res['date']} on {res['machine']} (load average {res['load']:.2f} at start); "
             f"produced by `python -m benchmarks.empirical_wgd {res['argv']}`. Gap = held-out rate bound - "
             f"R(D) at the held-out D (bits, >= 0 up to the interval) +- the rate's 95% half-width; (capped): rate > log2 m - 1 bit, limited by the particle count. "
             f"float32, full-batch steps unless a batch is shown, times exclude compilation (warm-up call first), particles start at fit samples; `ba` = BA reweighting of the same "
             f"start particles (positions fixed), same steps, same run.", "",
             "| case | n | m | steps | target R (bits) | hybrid gap (bits) | ba gap (bits) | hybrid s | ba s | "
             "time ratio ba/hybrid |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    rows = {}
    for r in res["rows"]:
        rows.setdefault((r["case"], r["n"], r["m"], r["steps"], r.get("batch_size"), r.get("schedule", "constant")), {})[r["method"]] = r
    def gap(r, i):
        if r is None:
            return "-"
        p = r["points"][i]
        return f"{p['gap']:+.4f} +- {p['ci_half']:.4f}" + (" (capped)" if p["capped"] else "")

    for (c, n, m, st, bs, sch), pair in rows.items():
        st = f"{st}" if bs is None else f"{st} (batch {bs}, {sch})"
        h, b = pair.get("hybrid"), pair.get("ba")
        sec = lambda r: f"{r['seconds']:.1f}" if r else "-"  # noqa: E731
        ratio = f"{b['seconds'] / h['seconds']:.2f}" if h and b else "-"
        for i, p in enumerate((h or b)["points"]):
            lines.append(f"| {c} | {n} | {m} | {st} | {p['target_rate']:g} | {gap(h, i)} | {gap(b, i)} | "
                         f"{sec(h)} | {sec(b)} | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    import sys

    from rdtheory._io import atomic_write_json, atomic_write_text

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="d2,d16,d40")
    ap.add_argument("--sizes", default="2000:128,8000:512", help="comma list of n:m")
    ap.add_argument("--rates", default="2,4,8", help="target rates in bits")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--n-eval", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=None, help="minibatch per step (default: all fit samples)")
    ap.add_argument("--schedule", default="constant", choices=("constant", "cosine"))
    ap.add_argument("--out", default=str(ROOT / "results"))
    ap.add_argument("--append", action="store_true", help="add rows to the existing results instead of replacing them")
    a = ap.parse_args(argv)
    rates = [float(r) for r in a.rates.split(",")]
    res = dict(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), machine=f"{platform.machine()}, "
               f"{os.cpu_count()} cores", load=os.getloadavg()[0], argv=" ".join(sys.argv[1:] if argv is None else argv),
               rows=[])
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    old = out / "empirical_wgd.json"
    if a.append and old.exists():   # keep earlier rows (e.g. a small full-batch run before a large minibatch one)
        res["rows"] = json.loads(old.read_text())["rows"]
        res["argv"] = json.loads(old.read_text())["argv"] + " ; then " + res["argv"]
    for c in a.cases.split(","):
        for size in a.sizes.split(","):
            n, m = (int(v) for v in size.split(":"))
            for method in ("hybrid", "ba"):
                row = run_row(c, n, m, rates, a.steps, a.n_eval, a.seed, method, a.batch_size, a.schedule)
                res["rows"].append(row)
                print(c, n, m, method, f"{row['seconds']:.1f}s", [f"{p['gap']:+.4f}" for p in row["points"]],
                      flush=True)
                atomic_write_json(out / "empirical_wgd.json", res)
                atomic_write_text(out / "empirical_wgd.md", render(res))
    return res


if __name__ == "__main__":
    main()
