r"""``python -m benchmarks.empirical_coverage``: coverage of the intervals of :mod:`rdtheory.empirical`.

What each interval claims to cover (``docs/empirical.md``, "Guarantees"), and how its target
is computed here, independently of the estimator:

- **held-out upper bounds** (``plugin``, ``wgd``): the fitted test channel :math:`Q`
  (reproduction points and weights, ``info["channel"]``, slope :math:`\beta`) is fixed by the
  fit; ``interval`` is a Student-t interval for the *population* mean rate term
  :math:`\mathbb E_P\,\mathrm{KL}(Q(\cdot|X)\|q)` (bits) and ``info["distortion_interval"]``
  for :math:`\mathbb E_P\, d_Q(X)`, both conditional on the fit. The population values are
  computed exactly: a sum over {0, 1} for the Bernoulli source, Gauss–Hermite quadrature
  (:data:`GH_NODES` nodes per coordinate, a tensor grid) for a Gaussian, of
  :func:`~rdtheory.empirical.channel.channel_terms`.
- **neural upper bound** (``neural``): the same statement for the trained encoder, decoder
  and prior, the per-point term being a Monte Carlo estimate (``mc_samples`` latent draws) of
  :math:`\mathrm{KL}(q(\cdot|x)\|m)` whose expectation over the draws is the exact KL. The
  population value is the same estimator on :data:`NEURAL_POP` fresh samples (its own
  standard error is recorded: it must be small against the interval's half-width).
- **Shannon lower bound** (``shannon``): the interval is the bound at the ends of the
  batch-means interval of the Kozachenko–Leonenko entropy, so it covers the true Shannon
  lower bound exactly when the entropy interval covers :math:`h(X)`; :math:`h(X)` is known in
  closed form for the Gaussian and uniform sources (not floored at 0: the D used are well
  inside the range where the bound is positive).

Coverage is counted per slope (or per case for ``shannon``, where every D shares one entropy
interval) over ``--reps`` independent draws (sample seed ``1000 + rep``, estimator seed
``rep``), reported with its two-sided 95% Clopper–Pearson interval and the one-sided binomial
p-value of "coverage >= level" (:func:`paper_checks.claims_empirical.coverage_pvalue`). The
held-out bound's one-sided guarantee is also counted: ``bound_holds`` is the share of draws
with :math:`R(D_{pop}) \le` ``ci_high`` (the truth at the channel's population distortion).

Budgets (this machine: 2 shared cores): n = 200 (Bernoulli, 1-d Gaussian plug-in and WGD; WGD also
at n = 2000, to see the small-sample under-coverage of its distortion interval go),
400 (2-d WGD, neural), 2000 (Shannon); WGD 16 particles x 100 steps; neural linear, one prior
component, 300 Adam steps, 4 MC draws. Results: ``benchmarks/results/empirical_coverage.json``
and ``.md`` (rewritten after each case).
"""
from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
LEVEL = 0.95
GH_NODES = 64          # Gauss-Hermite nodes per coordinate (exact for polynomials of degree 127)
NEURAL_POP = 100_000   # fresh samples for the neural bound's population value

#: name -> (method, source factory, n, slopes or distortions, options)
CASES = {
    "plugin-bernoulli": ("plugin", ("bernoulli", 0.2), 200, [2.5, 4.0], dict()),
    "plugin-gauss1": ("plugin", ("gauss", (1.0,)), 200, [2.0, 8.0], dict()),
    "wgd-gauss1": ("wgd", ("gauss", (1.0,)), 200, [2.0, 8.0], dict(m=16, steps=100)),
    "wgd-gauss1-n2000": ("wgd", ("gauss", (1.0,)), 2000, [2.0, 8.0], dict(m=16, steps=100)),
    "wgd-gauss2": ("wgd", ("gauss", (1.0, 0.25)), 400, [2.0, 8.0], dict(m=16, steps=100)),
    "neural-gauss1": ("neural", ("gauss", (1.0,)), 400, [2.0, 8.0],
                      dict(hidden=(), prior_components=1, steps=300, batch_size=64, mc_samples=4)),
    "shannon-gauss1": ("shannon", ("gauss", (1.0,)), 2000, [0.05, 0.2], dict()),
    "shannon-gauss2": ("shannon", ("gauss", (1.0, 0.25)), 2000, [0.05, 0.2], dict()),
    "shannon-uniform1": ("shannon", ("uniform", 1), 2000, [0.002, 0.01], dict()),
}
QUICK_CASES = ("plugin-bernoulli", "wgd-gauss1-n2000", "shannon-gauss1")


def source(spec):
    from rdtheory.empirical.sources import BernoulliSource, GaussianSource, UniformSource

    kind, arg = spec
    return {"bernoulli": lambda: BernoulliSource(arg), "gauss": lambda: GaussianSource(arg),
            "uniform": lambda: UniformSource(dim=arg)}[kind]()


def population_nodes(src) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (N, k) and weights (N,) with :math:`\\sum_i w_i f(x_i) = \\mathbb E_P f(X)`: exact
    for the Bernoulli source, Gauss–Hermite for a Gaussian (exact for polynomials of degree
    < 2 * GH_NODES in each coordinate; the channel terms are smooth and grow quadratically)."""
    from rdtheory.empirical.sources import BernoulliSource

    if isinstance(src, BernoulliSource):
        return np.array([[0.0], [1.0]]), np.array([1 - src.p, src.p])
    t, w = np.polynomial.hermite_e.hermegauss(GH_NODES)      # weight exp(-t^2/2)
    w = w / w.sum()
    k = src.dim
    grid = np.stack(np.meshgrid(*([t] * k), indexing="ij"), -1).reshape(-1, k)
    wk = np.prod(np.stack(np.meshgrid(*([w] * k), indexing="ij"), -1).reshape(-1, k), axis=1)
    x = grid * np.sqrt(np.asarray(src.variances))[None, :]
    return x @ src.rotation.T, wk


def channel_population(bound, src) -> tuple[np.ndarray, np.ndarray]:
    """Population (rate bits, distortion) of each slope's fitted test channel."""
    import jax
    from rdtheory.empirical.channel import channel_terms

    x, w = population_nodes(src)
    ch = bound.info["channel"]
    atoms = np.asarray(ch["atoms"])
    rate, dist = [], []
    for i, b in enumerate(bound.beta):
        a = atoms if atoms.ndim == 2 else atoms[i]
        with jax.enable_x64(True):
            t = channel_terms(x, a, np.asarray(ch["weights"])[i], float(b), src.distortion)
        rate.append(float(w @ t.rate))
        dist.append(float(w @ t.distortion))
    return np.array(rate), np.array(dist)


def entropy_bits(src) -> float:
    """Differential entropy (bits) of a Gaussian or uniform source."""
    if hasattr(src, "variances"):
        return 0.5 * float(np.sum(np.log2(2 * math.pi * math.e * np.asarray(src.variances))))
    return src.dim * math.log2(src.width)


def _inside(lo, hi, v) -> np.ndarray:
    return (np.asarray(lo) <= v) & (v <= np.asarray(hi))


def one_rep(name: str, rep: int) -> dict:
    """One draw of case ``name``: per slope, whether each interval covers its target."""
    from rdtheory.empirical import estimate_rd

    method, spec, n, points, opts = CASES[name]
    src = source(spec)
    x = src.sample(n, seed=1000 + rep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "shannon":
            b = estimate_rd(x, src.distortion, method="shannon", distortions=points, level=LEVEL, seed=rep,
                            progress=False)
            lo, hi = b.info["entropy_interval"]
            return dict(rate=np.array([lo <= entropy_bits(src) <= hi]), half=np.array([(hi - lo) / 2]))
        if method == "neural":
            return _neural_rep(x, src, points, opts, rep)
        b = estimate_rd(x, src.distortion, method=method, betas=points, level=LEVEL, seed=rep, progress=False,
                        **opts)
    rate, dist = channel_population(b, src)
    d_iv = np.asarray(b.info["distortion_interval"])
    truth = src.rd(dist)
    return dict(rate=_inside(b.interval[:, 0], b.interval[:, 1], rate), distortion=_inside(d_iv[:, 0], d_iv[:, 1], dist),
                bound_holds=truth <= b.interval[:, 1], half=(b.interval[:, 1] - b.interval[:, 0]) / 2,
                pop_rate=rate)


def _neural_rep(x, src, betas, opts, rep) -> dict:
    from rdtheory.empirical import split_samples
    from rdtheory.empirical.neural import evaluate_neural, fit_neural

    opts = dict(opts)
    mc = opts.pop("mc_samples")
    x_fit, x_eval = split_samples(x, 0.5, rep)
    fit = fit_neural(x_fit, betas, src.distortion, seed=rep, **opts)
    b = evaluate_neural(fit, x_eval, mc_samples=mc, level=LEVEL)
    pop = evaluate_neural(fit, src.sample(NEURAL_POP, seed=10**6 + rep), mc_samples=mc, level=LEVEL)
    rate, dist = pop.rate, pop.distortion
    d_iv = np.asarray(b.info["distortion_interval"])
    return dict(rate=_inside(b.interval[:, 0], b.interval[:, 1], rate),
                distortion=_inside(d_iv[:, 0], d_iv[:, 1], dist), bound_holds=src.rd(dist) <= b.interval[:, 1],
                half=(b.interval[:, 1] - b.interval[:, 0]) / 2, pop_rate=rate,
                pop_se=(pop.interval[:, 1] - pop.interval[:, 0]) / (2 * 1.96))


def clopper_pearson(hits: int, reps: int, level: float = 0.95) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(int(hits), int(reps)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def run_case(name: str, reps: int, progress: bool = False) -> dict:
    """``reps`` draws of case ``name``; hit counts per point and interval, with binomial summaries."""
    from paper_checks.claims_empirical import coverage_pvalue

    it = range(reps)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=name, leave=False)
    t0 = time.perf_counter()
    runs = [one_rep(name, rep) for rep in it]
    method, spec, n, points, opts = CASES[name]
    out = dict(case=name, method=method, source=list(map(str, spec)), n=n, points=list(points), reps=reps,
               level=LEVEL, seconds_per_rep=(time.perf_counter() - t0) / reps, intervals={})
    for key in ("rate", "distortion", "bound_holds"):
        if key not in runs[0]:
            continue
        hits = np.sum([r[key] for r in runs], axis=0).astype(int)
        out["intervals"][key] = [dict(hits=int(h), coverage=h / reps, cp95=clopper_pearson(h, reps),
                                      p_value=coverage_pvalue(int(h), reps, LEVEL)) for h in hits]
    out["half_width_median"] = np.median([r["half"] for r in runs], axis=0).tolist()
    if "pop_se" in runs[0]:
        out["population_se_max"] = float(np.max([r["pop_se"] for r in runs]))
    return out


def render(rows: list[dict]) -> str:
    L = ["# Coverage of the intervals of rdtheory.empirical (nominal 0.95)", "",
         "Per case and point: hits / reps of each interval covering its target (see the module docstring of "
         "`benchmarks/empirical_coverage.py`: for held-out upper bounds the population value of the fitted "
         "channel's rate and distortion terms; for the Shannon bound the true entropy), the two-sided 95% "
         "Clopper-Pearson interval of the coverage and the one-sided binomial p-value of coverage >= 0.95. "
         "`bound_holds`: R(D_pop) <= ci_high (the upper bound's one-sided guarantee at the population distortion).",
         "", "| case | n | point | interval | hits/reps | coverage [CP 95%] | p(cov >= 0.95) | median half-width (bits) | s/rep |",
         "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for key, per in r["intervals"].items():
            for i, e in enumerate(per):
                point = ("D=" if r["method"] == "shannon" else "beta=") + (
                    "all" if r["method"] == "shannon" else f"{r['points'][i]:g}")
                hw = r["half_width_median"][i] if key == "rate" else float("nan")
                L.append(f"| {r['case']} | {r['n']} | {point} | {key} | {e['hits']}/{r['reps']} | "
                         f"{e['coverage']:.2f} [{e['cp95'][0]:.2f}, {e['cp95'][1]:.2f}] | {e['p_value']:.3g} | "
                         f"{hw:.3g} | {r['seconds_per_rep']:.2f} |")
    worst = min((e["coverage"], r["case"], k) for r in rows for k, per in r["intervals"].items()
                if k != "bound_holds" for e in per)
    L += ["", f"Worst coverage: {worst[0]:.2f} ({worst[1]}, {worst[2]} interval)."]
    se = [(r["case"], r["population_se_max"]) for r in rows if "population_se_max" in r]
    if se:
        L += ["", "Neural population values: largest standard error " + ", ".join(f"{c}: {v:.2g} bits" for c, v in se)
              + f" ({NEURAL_POP} fresh samples), against the median half-widths above."]
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    from rdtheory._io import atomic_write_json, atomic_write_text

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--out", type=Path, default=ROOT / "results")
    args = ap.parse_args(argv)
    path = args.out / "empirical_coverage.json"
    import json
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    for name in args.cases:
        rows = [r for r in rows if r["case"] != name]
        rows.append(run_case(name, args.reps, progress=True))
        rows.sort(key=lambda r: list(CASES).index(r["case"]))
        atomic_write_json(path, dict(rows=rows, gh_nodes=GH_NODES, neural_population=NEURAL_POP))
        atomic_write_text(args.out / "empirical_coverage.md", render(rows))
        print(render([rows[[r["case"] for r in rows].index(name)]]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
