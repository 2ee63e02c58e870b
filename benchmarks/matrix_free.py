"""``python -m benchmarks.matrix_free``: the matrix-free R(D) solver on samples (issue 13 §3).

Case: ``n = m`` points of an 8-d Gaussian mixture (4 components, seeded), uniform weights,
reproduction points = the source points, squared error, certified ``tol = 1e-6`` bits, at
``--betas`` (nats per unit squared error; the defaults give mid-curve rates). For each size a
**subprocess** (so that its peak RSS is its own) runs

- ``blahut_arimoto_points`` at every beta (wall time including compilation, BA maps,
  certified gap, points still active at the end, ``converged``);
- one tiled BA map (:func:`rdtheory.discrete.tiles.ba_map`, compiled, best of 3) against the
  **tiled matvec floor** at the same tiling: per strip ``K = exp(-beta d)``, ``K r`` and
  ``(p / K r)^T K`` with nothing else (no shift, mask, log or normalisation). The ratio is
  measured in the same process, seconds apart.

Peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that subprocess (the dense
kernel of the 32,768 case alone would be 8.6 GB). ``--quick``: sizes 4096 and 8192;
default: 8192 and 32768 (the issue's target, ~minutes on a 2-core CPU); ``--gpu``: 262,144 on
all devices. Results: ``benchmarks/results/matrix_free.{json,md}`` (rewritten after every size).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
DIM, COMPONENTS, TOL = 8, 4, 1e-6
BETAS = (0.5, 1.0, 2.0)


def mixture(n: int, seed: int = 0) -> np.ndarray:
    """``n`` points of a 4-component Gaussian mixture in 8-d (means at distance ~3, unit sd)."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((COMPONENTS, DIM)) * 3.0 / np.sqrt(DIM) * 2
    return means[rng.integers(0, COMPONENTS, n)] + rng.standard_normal((n, DIM))


def _best(fn, reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def one_size(n: int, betas, devices, floor_only: bool = False) -> dict:
    """Everything for one size, in this process (called in a subprocess by :func:`main`)."""
    import resource

    import jax
    import jax.numpy as jnp
    from jax import lax

    from rdtheory.discrete import tiles
    from rdtheory.discrete.matrix_free import TILE_ENTRIES, _strips, blahut_arimoto_points
    from rdtheory.discrete.point_distortions import point_distortion

    x = mixture(n)
    p = np.full(n, 1.0 / n)
    fn = point_distortion("squared")
    rows = max(1, TILE_ENTRIES // n)
    row = dict(n=n, dim=DIM, rows_per_tile=rows, devices=devices or "default", solves=[])
    with jax.enable_x64(True):
        xs, ps = _strips(x, p, rows, 1)
        xs, ps, xh = jnp.asarray(xs), jnp.asarray(ps), jnp.asarray(x)
        theta = jnp.full((n,), -np.log(n))
        alive = jnp.ones(n, bool)
        beta = float(betas[len(betas) // 2])
        bam = jax.jit(lambda t: tiles.ba_map(t, alive, xs, ps, xh, beta, fn)[0])

        def floor(r):
            def strip(c, inp):
                K = jnp.exp(-beta * fn(inp[0], xh))
                return c + (inp[1] / (K @ r)) @ K, None
            return lax.scan(strip, jnp.zeros_like(r), (xs, ps))[0]

        floor = jax.jit(floor)
        r = jnp.exp(theta)
        bam(theta).block_until_ready(), floor(r).block_until_ready()
        t_map = _best(lambda: bam(theta).block_until_ready())
        t_floor = _best(lambda: floor(r).block_until_ready())
    row.update(map_s=t_map, floor_s=t_floor, map_over_floor=t_map / t_floor)
    for b in [] if floor_only else betas:
        t = time.perf_counter()
        res = blahut_arimoto_points(x, beta=b, tol=TOL, devices=devices)
        row["solves"].append(dict(beta=b, seconds=time.perf_counter() - t, rate=float(res.rate),
                                  lower=float(res.lower), gap=float(res.gap), distortion=float(res.distortion),
                                  iterations=int(res.iterations), active=int(res.active),
                                  converged=bool(res.converged)))
        print(json.dumps(row["solves"][-1]), file=sys.stderr, flush=True)
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row["worst_seconds"] = max((s["seconds"] for s in row["solves"]), default=float("nan"))
    row["all_converged"] = all(s["converged"] for s in row["solves"]) if row["solves"] else None
    return row


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=ROOT).stdout.strip()
    except OSError:
        return "?"


def markdown(out: dict) -> str:
    lines = ["# Matrix-free R(D) on samples (issue 13 §3)", "",
             f"8-d Gaussian mixture ({COMPONENTS} components), n = m, squared error, tol = {TOL:g} bits; "
             f"machine: {out['machine']}, load average at start {out['load']}.", "",
             "| n = m | beta | seconds (incl. compile) | BA maps | gap (bits) | active | converged |",
             "|---|---|---|---|---|---|---|"]
    for row in out["rows"]:
        for s in row["solves"]:
            lines.append(f"| {row['n']} | {s['beta']:g} | {s['seconds']:.1f} | {s['iterations']} | {s['gap']:.2e} "
                         f"| {s['active']} | {s['converged']} |")
    lines += ["", "| n = m | rows/tile | one tiled BA map (s) | matvec floor (s) | map / floor | peak RSS (MB) "
              "| worst solve (s) | load after | commit |", "|---|---|---|---|---|---|---|---|---|"]
    for row in out["rows"]:
        lines.append(f"| {row['n']} | {row['rows_per_tile']} | {row['map_s']:.3f} | {row['floor_s']:.3f} "
                     f"| {row['map_over_floor']:.2f} | {row['peak_rss_mb']:.0f} | {row['worst_seconds']:.1f} "
                     f"| {row.get('load', float('nan')):.1f} | {row.get('commit', '?')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes 4096, 8192 only")
    ap.add_argument("--gpu", action="store_true", help="n = m = 262,144 on all devices")
    ap.add_argument("--sizes", type=int, nargs="*", help="override the sizes")
    ap.add_argument("--betas", type=float, nargs="*", default=list(BETAS))
    ap.add_argument("--floor-only", action="store_true", help="only the map / floor timing and its memory")
    ap.add_argument("--append", action="store_true", help="keep the rows already in the results file")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--devices", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one_size(args.one, args.betas, args.devices, args.floor_only)))
        return
    from rdtheory._io import atomic_write_json, atomic_write_text

    sizes = args.sizes or ([262_144] if args.gpu else [4096, 8192] if args.quick else [8192, 32_768])
    out = dict(machine=f"{platform.machine()}, {os.cpu_count()} CPUs", load=os.getloadavg()[0],
               betas=args.betas, tol=TOL, rows=[])
    name = "matrix_free_gpu" if args.gpu else "matrix_free"
    old = ROOT / "results" / f"{name}.json"
    if args.append and old.exists():
        out["rows"] = json.loads(old.read_text())["rows"]
    for n in sizes:
        cmd = [sys.executable, "-m", "benchmarks.matrix_free", "--one", str(n), "--betas", *map(str, args.betas)]
        if args.gpu:
            cmd += ["--devices", "all"]
        if args.floor_only:
            cmd += ["--floor-only"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT.parent)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"size {n} failed")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row.update(load=os.getloadavg()[0], commit=_commit())
        out["rows"].append(row)
        atomic_write_json(ROOT / "results" / f"{name}.json", out)
        atomic_write_text(ROOT / "results" / f"{name}.md", markdown(out))
        print(markdown(out))


if __name__ == "__main__":
    main()
