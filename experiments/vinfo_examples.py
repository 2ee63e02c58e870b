"""Worked V-information examples of docs/vinfo.md: one-time pad and the digits base-layer trade-off.

Usage: ``python experiments/vinfo_examples.py [--seed 0] [--k 4] [--out results/vinfo_examples.json]``.
Prints the tables of docs/vinfo.md section 5 (bits) and writes them as JSON (atomically).
The figures come from ``python -m paper_checks --only 'vinfo_*'``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from rdtheory._io import atomic_write_json
from rdtheory.vinfo import paired_difference
from rdtheory.vinfo.examples import cipher_example, digits_tradeoff, tradeoff_gain

ROOT = Path(__file__).resolve().parent.parent


def _rec(r):
    return {"bits": r.value, "ci95": [r.ci_low, r.ci_high], "stderr": r.stderr, "n_eval": r.n_eval}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--k", type=int, default=4, help="dimension of the digits representations")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "vinfo_examples.json")
    args = ap.parse_args(argv)

    c = cipher_example(4000, noise=0.1, seed=args.seed)
    print(f"one-time pad, noise 0.1: Shannon I(X;Y) = {c.shannon:.4f} bits")
    cipher = {"shannon_bits": c.shannon}
    for name in ("linear_x", "linear_decrypted", "reverse", "mlp_x"):
        r = getattr(c, name)
        cipher[name] = _rec(r)
        print(f"  {name:17s} {r.value:.4f}  [{r.ci_low:.4f}, {r.ci_high:.4f}]")
    for name, d in (("increase", paired_difference(c.linear_decrypted, c.linear_x)),
                    ("asymmetry", paired_difference(c.reverse, c.linear_x))):
        cipher[name] = {"bits": d.value, "ci95": [d.ci_low, d.ci_high]}
        print(f"  {name:17s} {d.value:.4f}  [{d.ci_low:.4f}, {d.ci_high:.4f}]")

    res = digits_tradeoff(args.k, betas=(0.0, 0.003, 0.01, 0.03, 0.1, 0.3), seed=args.seed)
    print(f"\ndigits, k = {res.k}: transform, I_Vb (label), I_Va (pixels), bits")
    for nm, b, a in zip(res.names, res.base, res.recon):
        print(f"  {nm:12s} {b.value:.3f} [{b.ci_low:.3f}, {b.ci_high:.3f}]   {a.value:6.2f} [{a.ci_low:.2f}, {a.ci_high:.2f}]")
    choices = {}
    for beta in res.betas:
        db, da = tradeoff_gain(res, beta)
        choices[str(beta)] = {"choice": res.names[res.choice[beta]], "d_I_Vb": [db.value, db.ci_low, db.ci_high],
                              "d_I_Va": [da.value, da.ci_low, da.ci_high]}
        print(f"  beta = {beta:<6g} -> {res.names[res.choice[beta]]:12s} dI_Vb = {db.value:+.3f}  dI_Va = {da.value:+.2f}")
    digits = {"k": res.k, "transforms": {nm: {"I_Vb": _rec(b), "I_Va": _rec(a)}
                                         for nm, b, a in zip(res.names, res.base, res.recon)}, "choices": choices}
    atomic_write_json(args.out, {"seed": args.seed, "cipher": cipher, "digits": digits})
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
