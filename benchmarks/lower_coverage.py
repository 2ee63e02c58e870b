"""``python -m benchmarks.lower_coverage``: coverage and looseness of the finite-n lower
confidence bound (:func:`rdtheory.empirical.lcb.dual_lcb`) by simulation.

Cases (each ``--reps`` seeded repetitions per ``n``):

- ``bernoulli``: Bernoulli(0.2), Hamming distortion, truth ``h(0.2) - h(D)`` in closed form;
  covered when every point of the curve is <= the truth.
- ``uniform1``, ``uniform2``: uniform on [0, 1]^k, squared error, support box given. The
  truth is bracketed: below by the Shannon lower bound ``-(k/2) log2(2 pi e D/k)`` (exact,
  the density is known) and above by a test channel fitted on a fine grid and scored by
  quadrature (:func:`rdtheory.empirical.channel.channel_terms` on a midpoint grid, an upper
  bound on R at its own distortion). ``covered_surely`` counts repetitions with every point
  <= the SLB (then it is <= R); ``not_violated`` those with every point <= the upper bound
  (necessary for coverage). True coverage lies between the two.

Writes ``benchmarks/results/lower_coverage.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent
DELTA = 0.05


def uniform_truth_bracket(k: int, betas, grid_n: int = 64):
    """(D, SLB bits, upper bits) at each beta for uniform [0,1]^k under squared error."""
    import jax
    from rdtheory.discrete import blahut_arimoto
    from rdtheory.empirical.channel import channel_terms
    from rdtheory.discrete.point_distortions import dense_matrix

    g = (np.arange(grid_n) + 0.5) / grid_n
    pts = np.stack(np.meshgrid(*([g] * k), indexing="ij"), -1).reshape(-1, k)
    quad = (np.arange(4 * grid_n) + 0.5) / (4 * grid_n)
    qpts = np.stack(np.meshgrid(*([quad] * k), indexing="ij"), -1).reshape(-1, k)
    res = blahut_arimoto(np.full(len(pts), 1 / len(pts)), dense_matrix("squared", pts, pts), np.asarray(betas),
                         tol=1e-6)
    out = []
    for b, r in zip(betas, np.asarray(res.r).reshape(len(betas), -1)):
        with jax.enable_x64(True):
            t = channel_terms(qpts, pts, r, b, "squared")
        D = float(np.mean(t.distortion))
        out.append((D, -0.5 * k * math.log2(2 * math.pi * math.e * D / k), float(np.mean(t.rate))))
    return np.array(out)


def run_case(case: str, n: int, reps: int) -> dict:
    from rdtheory.discrete import closed_form
    from rdtheory.empirical.lcb import dual_lcb

    if case == "bernoulli":
        D = np.array([0.02, 0.05, 0.1])
        slb = up = closed_form.binary_hamming(D, 0.2)
    else:
        k = int(case[-1])
        betas = [500.0, 100.0, 25.0] if k == 1 else [200.0, 50.0, 20.0]
        D, slb, up = uniform_truth_bracket(k, betas, grid_n=128 if k == 1 else 24).T
    lcbs, t0 = [], time.perf_counter()
    for rep in tqdm(range(reps), desc=f"{case} n={n}", leave=False):
        rng = np.random.default_rng(1000 + rep)
        if case == "bernoulli":
            x = (rng.random((n, 1)) < 0.2).astype(float)
            r = dual_lcb(x, D, "hamming", reproduction=[[0.0], [1.0]], delta=DELTA, seed=rep)
        else:
            x = rng.random((n, k))
            r = dual_lcb(x, D, "squared", support=(0.0, 1.0), delta=DELTA, seed=rep)
        lcbs.append(r.rate)
    lcbs = np.array(lcbs)
    return dict(case=case, n=n, reps=reps, delta=DELTA, D=D.tolist(), slb_bits=np.asarray(slb).tolist(),
                upper_bits=np.asarray(up).tolist(), lcb_mean_bits=lcbs.mean(0).tolist(),
                lcb_min_bits=lcbs.min(0).tolist(), lcb_max_bits=lcbs.max(0).tolist(),
                covered_surely=float(np.mean(np.all(lcbs <= slb + 1e-12, axis=1))),
                not_violated=float(np.mean(np.all(lcbs <= up + 1e-12, axis=1))),
                seconds_per_rep=(time.perf_counter() - t0) / reps)


def render(rows: list[dict]) -> str:
    lines = ["# Lower confidence bound: coverage and looseness (delta = 0.05)", "",
             "covered_surely: every point <= a known lower bound on the truth (closed form for Bernoulli, "
             "the exact SLB for uniform); not_violated: every point <= a known upper bound. "
             "Coverage lies between them (equal for Bernoulli).", "",
             "| case | n | reps | D | truth low / high (bits) | LCB mean [min, max] (bits) | covered_surely | "
             "not_violated | s/rep |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for i, D in enumerate(r["D"]):
            lines.append(f"| {r['case']} | {r['n']} | {r['reps']} | {D:.4g} | {r['slb_bits'][i]:.3f} / "
                         f"{r['upper_bits'][i]:.3f} | {r['lcb_mean_bits'][i]:.3f} [{r['lcb_min_bits'][i]:.3f}, "
                         f"{r['lcb_max_bits'][i]:.3f}] | {r['covered_surely']:.2f} | {r['not_violated']:.2f} | "
                         f"{r['seconds_per_rep']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from rdtheory._io import atomic_write_json, atomic_write_text

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=["bernoulli", "uniform1", "uniform2"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--out", type=Path, default=ROOT / "results")
    args = ap.parse_args(argv)
    rows = []
    for case in args.cases:
        for n in args.sizes:
            rows.append(run_case(case, n, args.reps))
            atomic_write_json(args.out / "lower_coverage.json", dict(rows=rows))
            atomic_write_text(args.out / "lower_coverage.md", render(rows))
            print(render(rows[-1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
