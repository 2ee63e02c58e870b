"""Claims and figures for predictive V-information (``rdtheory.vinfo``), all in bits.

Known answers of Xu et al. (ICLR 2020) -- the unrestricted family gives Shannon MI, the
linear-Gaussian family recovers -1/2 log2(1 - r^2), a family without access to X gives 0,
V-information grows under computation and is asymmetric -- the scalable-coding slides'
base-layer trade-off on sklearn's digits, and the figures (the bias-vs-n figure too). The
estimator's finite-sample claims (bias, convergence, coverage) are in
``claims_vinfo_estimator.py``. Decisions that were tightened for issue 18 are pure functions
(``decoder_verdict``, ``argmax_segments``/``tradeoff_verdict``) exercised by
``tests/test_claim_mutations_vinfo_toy_cifar.py``.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from paper_checks import FAIL, PASS, claim, figure, make, within
from rdtheory.plotting import annotate_without_overlap

Z999 = 3.2905  # two-sided 99.9 % normal quantile: tolerances built from it hold for other seeds too
XU = "Xu et al. 2020 (ICLR), Sec. 2-3"
SLIDES = "scalable-coding slides, Insight/Proposal"


def _r(v, nd=4):
    return round(float(v), nd)


@functools.lru_cache(maxsize=None)
def _cipher(quick: bool):
    from rdtheory.vinfo.examples import cipher_example

    return cipher_example(4000 if quick else 20000, noise=0.1, seed=0)


@functools.lru_cache(maxsize=None)
def _digits(quick: bool):
    from rdtheory.vinfo.examples import digits_tradeoff

    return digits_tradeoff(4, betas=(0.0, 0.003, 0.01, 0.03, 0.1, 0.3), seed=0, n_folds=5 if quick else 10)


@functools.lru_cache(maxsize=None)
def _bias(quick: bool):
    from rdtheory.vinfo.examples import bias_study

    if quick:
        return bias_study(ns=(100, 200, 400, 800, 1600, 3200), reps=120, seed=0)
    return bias_study(ns=(100, 200, 400, 800, 1600, 3200, 6400, 12800), reps=300, seed=0)


# --------------------------------------------------------------------------------------
# known answers
# --------------------------------------------------------------------------------------

@claim("vinfo.tabular_equals_plugin_mi", f"{XU}: V = all predictors gives Shannon MI",
       "With the unrestricted (tabular, maximum-likelihood) family, in-sample V-information equals the "
       "plug-in mutual information of the empirical joint")
def tabular_equals_plugin_mi(quick: bool):
    from rdtheory.info import mutual_information
    from rdtheory.vinfo import TabularFamily, v_information
    from rdtheory.vinfo.examples import EXAMPLE_JOINT, sample_discrete

    x, y = sample_discrete(EXAMPLE_JOINT, 5000, seed=0)
    joint = np.zeros(EXAMPLE_JOINT.shape)
    np.add.at(joint, (x, y), 1.0)
    expected = mutual_information(joint / joint.sum())
    measured = v_information(x, y, TabularFamily(alpha=0.0), split="none").value
    return make("vinfo.tabular_equals_plugin_mi", expected=expected, measured=measured, tolerance=1e-10,
                tolerance_why="exact identity; float64 round-off only", status=within(measured, expected, 1e-10))


@claim("vinfo.gaussian_linear", f"{XU}: linear-Gaussian family on jointly Gaussian data",
       "For jointly Gaussian (X, Y) with correlation r = 0.8, the linear-Gaussian family's V-information is "
       "-1/2 log2(1 - r^2) = 0.737 bits")
def gaussian_linear(quick: bool):
    from rdtheory.vinfo import LinearGaussianFamily, v_information
    from rdtheory.vinfo.examples import gaussian_mi_bits, sample_gaussian_pair

    r = 0.8
    x, y = sample_gaussian_pair(20_000 if quick else 200_000, r, seed=0)
    res = v_information(x, y, LinearGaussianFamily(), split="crossfit", seed=0)
    truth = gaussian_mi_bits(r)
    tol = Z999 * res.stderr
    return make("vinfo.gaussian_linear", expected=_r(truth), measured=_r(res.value), tolerance=_r(tol),
                tolerance_why="99.9 % normal interval of the cross-fitted mean PVI",
                status=within(res.value, truth, tol), details={"ci95": [res.ci_low, res.ci_high], "n": res.n_eval})


APPROX = 0.05  # bits, one-sided: a 16-unit tanh network's approximation error of sin(2x) (measured ~0.01)


def decoder_verdict(mlp, lin, diff, best: float, lin_best: float) -> str:
    """``pass`` when the MLP reaches ``best``, the linear decoder ``lin_best``, and their paired difference
    ``best - lin_best`` (bits), each within its 99.9 % interval (``.value``/``.stderr`` records);
    the MLP (and the difference) may fall short by :data:`APPROX` more."""
    ok_mlp = best - APPROX - Z999 * mlp.stderr <= mlp.value <= best + Z999 * mlp.stderr
    ok_lin = abs(lin.value - lin_best) <= Z999 * lin.stderr
    gap = best - lin_best
    ok_diff = gap - APPROX - Z999 * diff.stderr <= diff.value <= gap + Z999 * diff.stderr and diff.ci_low > 0
    return PASS if ok_mlp and ok_lin and ok_diff else FAIL


@claim("vinfo.gaussian_decoder_callable", "slides' V_a (Gaussian decoder family)",
       "A trainable JAX MLP decoder family N(g(x), s^2) on Y = sin(2X) + 0.3 N reaches the analytic "
       "1/2 log2(Var Y / 0.09) = 1.356 bits, which the linear decoder (analytic 0.096 bits) cannot: the paired "
       "difference (same data, same split) is the analytic 1.260 bits")
def gaussian_decoder(quick: bool):
    from rdtheory.vinfo import GaussianDecoderFamily, LinearGaussianFamily, jax_mlp, paired_difference, v_information

    rng = np.random.default_rng(0)
    n = 4000 if quick else 20000
    x = rng.standard_normal((n, 1))
    y = np.sin(2 * x) + 0.3 * rng.standard_normal((n, 1))
    var_y = (1 - math.exp(-8)) / 2 + 0.09  # Var sin(2X) = (1 - e^-8)/2 for X ~ N(0, 1), plus the noise 0.09
    best = 0.5 * math.log2(var_y / 0.09)
    lin_best = 0.5 * math.log2(var_y / (var_y - (2 * math.exp(-2)) ** 2))  # Cov(X, sin 2X) = 2 e^-2
    params, apply = jax_mlp((1, 16, 1), seed=0)
    res = v_information(x, y, GaussianDecoderFamily(apply, init_params=params, steps=1500, learning_rate=2e-2), seed=0)
    lin = v_information(x, y, LinearGaussianFamily(), seed=0)  # same default holdout split (same n, seed)
    d = paired_difference(res, lin)
    return make("vinfo.gaussian_decoder_callable", expected=f"MLP {best:.3f}; linear {lin_best:.3f}; "
                f"difference {best - lin_best:.3f}",
                measured=f"MLP {res.value:.3f}; linear {lin.value:.3f}; paired difference {d.value:.3f}",
                tolerance=f"MLP [-{APPROX + Z999 * res.stderr:.3f}, +{Z999 * res.stderr:.3f}]; linear "
                          f"+-{Z999 * lin.stderr:.3f}; difference [-{APPROX + Z999 * d.stderr:.3f}, "
                          f"+{Z999 * d.stderr:.3f}]",
                tolerance_why=f"99.9 % intervals of the held-out mean PVI (MLP, linear) and of the paired PVI "
                              f"difference (same rows); plus {APPROX} bits one-sided for the 16-unit network's "
                              "approximation error. Recomputed",
                status=decoder_verdict(res, lin, d, best, lin_best),
                details={"mlp_stderr": res.stderr, "linear_stderr": lin.stderr, "difference_stderr": d.stderr,
                         "difference_ci95": [d.ci_low, d.ci_high]})


@claim("vinfo.no_access_zero", f"{XU}: I_V = 0 when V cannot use X",
       "A family with no access to X (IgnoreInput) has V-information exactly 0; logistic regression on an "
       "independent X has V-information 0 within its interval")
def no_access(quick: bool):
    from rdtheory.vinfo import IgnoreInput, LogisticFamily, v_information
    from rdtheory.vinfo.examples import EXAMPLE_JOINT, sample_discrete

    x, y = sample_discrete(EXAMPLE_JOINT, 5000, seed=2)
    exact = v_information(x, y, IgnoreInput(LogisticFamily()), split="crossfit").value
    rng = np.random.default_rng(3)
    ind = v_information(rng.standard_normal((5000, 3)), y, LogisticFamily(), split="crossfit", seed=0)
    ok = exact == 0.0 and abs(ind.value) <= Z999 * ind.stderr
    return make("vinfo.no_access_zero", expected=0.0, measured=f"{exact:g} (no access); {ind.value:.5f} (independent)",
                tolerance=f"0 (no access); {Z999 * ind.stderr:.5f}",
                tolerance_why="no access: identical fits, exact; independent X: 99.9 % interval of the mean PVI",
                status=PASS if ok else FAIL)


# --------------------------------------------------------------------------------------
# properties that separate V-information from Shannon MI
# --------------------------------------------------------------------------------------

@claim("vinfo.increase_under_computation", f"{XU}: V-information can be created by computation",
       "One-time pad: logistic regression sees 0 bits of the noisy message in (ciphertext, key) but 1 - h(0.1) "
       "= 0.531 bits after decryption t(X) = C xor K, although I(t(X);Y) <= I(X;Y)")
def increase(quick: bool):
    from rdtheory.vinfo import paired_difference

    c = _cipher(quick)
    d = paired_difference(c.linear_decrypted, c.linear_x)
    tol = Z999 * d.stderr
    return make("vinfo.increase_under_computation", expected=_r(c.shannon), measured=_r(d.value), tolerance=_r(tol),
                tolerance_why="99.9 % interval of the paired PVI difference (same folds)",
                status=PASS if abs(d.value - c.shannon) <= tol and d.ci_low > 0 else FAIL,
                details={"I_V(X->Y)": c.linear_x.value, "I_V(t(X)->Y)": c.linear_decrypted.value,
                         "MLP I_V(X->Y)": c.mlp_x.value})


@claim("vinfo.asymmetry", f"{XU}: V-information is not symmetric",
       "One-time pad with a logistic family: I_V(Y->X) - I_V(X->Y) = 1 - h(0.1) = 0.531 bits, while I(X;Y) = I(Y;X)")
def asymmetry(quick: bool):
    from rdtheory.vinfo import paired_difference

    c = _cipher(quick)
    d = paired_difference(c.reverse, c.linear_x)
    tol = Z999 * d.stderr
    return make("vinfo.asymmetry", expected=_r(c.shannon), measured=_r(d.value), tolerance=_r(tol),
                tolerance_why="99.9 % interval of the paired PVI difference (same folds)",
                status=PASS if abs(d.value - c.shannon) <= tol and d.ci_low > 0 else FAIL,
                details={"I_V(Y->X)": c.reverse.value, "I_V(X->Y)": c.linear_x.value})


# --------------------------------------------------------------------------------------
# the slides' base-layer trade-off
# --------------------------------------------------------------------------------------

BASE_LOSS = 0.1  # bits: "similar base RD" made quantitative, 3 % of log2(10)


def argmax_segments(base, recon) -> list[tuple[float, float, int]]:
    """Exact argmax of ``base[i] + beta * recon[i]`` over ``beta >= 0``: ``[(beta_from, beta_to, i), ...]``.

    The upper envelope of the lines, walked from beta = 0 (argmax of ``base``, ties to the larger
    ``recon``) to infinity: at each step the next line to overtake is the one with larger ``recon``
    and the smallest crossing beta.
    """
    base, recon = np.asarray(base, float), np.asarray(recon, float)
    i = int(np.lexsort((recon, base))[-1])
    start, out = 0.0, []
    while True:
        ahead = np.flatnonzero(recon > recon[i])
        if ahead.size == 0:
            return out + [(start, math.inf, i)]
        cross = (base[i] - base[ahead]) / (recon[ahead] - recon[i])
        j = int(ahead[np.argmin(cross)])
        out.append((start, float(cross.min()), i))
        start, i = max(start, float(cross.min())), j


def tradeoff_window(segments, d_base_low, d_recon_low) -> list[tuple[float, float]]:
    """beta ranges (from :func:`argmax_segments`, first segment = the beta = 0 choice excluded) whose choice
    gains reconstruction information (95 % lower bound ``d_recon_low > 0``) while losing at most
    :data:`BASE_LOSS` bits of the base task (``d_base_low >= -BASE_LOSS``); gains are vs the beta = 0 choice."""
    return [(lo, hi) for (lo, hi, _), b, a in zip(segments[1:], d_base_low[1:], d_recon_low[1:])
            if a > 0 and b >= -BASE_LOSS]


def tradeoff_verdict(segments, d_base_low, d_recon_low) -> str:
    """``pass`` when some beta > 0 shows the slides' trade-off (:func:`tradeoff_window` not empty)."""
    return PASS if tradeoff_window(segments, d_base_low, d_recon_low) else FAIL


@claim("vinfo.digits_base_tradeoff", SLIDES,
       "Several analysis transforms reach nearly the best I_Vb (digit label); a small reward beta on I_Va(f(X) -> X) "
       "selects one that keeps the base task (loss <= 0.1 bits) and gains reconstruction information. beta is not "
       "picked: every beta >= 0 is scanned exactly and the window where the trade-off shows is reported")
def digits_tradeoff_claim(quick: bool):
    from rdtheory.vinfo import paired_difference

    res = _digits(quick)
    segs = argmax_segments([b.value for b in res.base], [a.value for a in res.recon])
    i0 = segs[0][2]
    gains = [(paired_difference(res.base[i], res.base[i0]), paired_difference(res.recon[i], res.recon[i0]))
             for _, _, i in segs]
    window = tradeoff_window(segs, [g[0].ci_low for g in gains], [g[1].ci_low for g in gains])
    rows = {f"beta in [{lo:.4g}, {hi:.4g})": f"{res.names[i]}: dI_Vb {gb.value:+.3f} [{gb.ci_low:+.3f}, "
            f"{gb.ci_high:+.3f}], dI_Va {ga.value:+.2f} [{ga.ci_low:+.2f}, {ga.ci_high:+.2f}]"
            for (lo, hi, i), (gb, ga) in zip(segs, gains)}
    slides = next(res.names[i] for lo, hi, i in segs if lo <= 0.01 < hi)
    merged = []  # adjacent argmax segments form one beta range
    for lo, hi in window:
        merged = merged[:-1] + [(merged[-1][0], hi)] if merged and merged[-1][1] == lo else merged + [(lo, hi)]
    where = ", ".join(f"beta in [{lo:.4g}, {hi:.4g})" for lo, hi in merged) or "none"
    return make("vinfo.digits_base_tradeoff", expected=f"a beta window with dI_Va > 0 and dI_Vb >= -{BASE_LOSS} "
                "bits (95 % bounds, vs the beta = 0 choice)",
                measured=f"trade-off window: {where} ({len(window)} of {len(segs) - 1} choices beyond beta = 0); "
                         f"the slides' beta = 0.01 picks {slides!r} "
                         f"({'the beta = 0 choice' if slides == res.names[i0] else 'a new choice'})",
                tolerance=BASE_LOSS,
                tolerance_why="'similar base RD' made quantitative: 0.1 bits = 3 % of log2(10); bounds are 95 % "
                "paired intervals over the same folds. beta is scanned, not fixed: the slides' beta = 0.01 weights "
                "E||X^ - X|| in a loss with lambda_b, not I_Va in bits of 64 pixels, so its value does not transfer; "
                "the argmax is piecewise constant in beta, so the exact breakpoints are listed. Recomputed",
                status=tradeoff_verdict(segs, [g[0].ci_low for g in gains], [g[1].ci_low for g in gains]),
                details={"segments": rows, "window": window,
                         "I_Vb": {n: b.value for n, b in zip(res.names, res.base)},
                         "I_Va": {n: a.value for n, a in zip(res.names, res.recon)}})


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------

@figure("vinfo_bias_vs_n.png")
def fig_bias(quick: bool):
    import matplotlib.pyplot as plt

    from rdtheory.vinfo.examples import first_order_bias

    b = _bias(quick)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    panels = [("tabular family, 4x3 joint", b.tab_truth, b.tab_k, b.tab_insample, b.tab_holdout,
               "in-sample, alpha=0 (plug-in MI)", "held-out 30 %, alpha=0.5"),
              (f"linear-Gaussian family, r={b.r}", b.gauss_truth, b.gauss_k, b.gauss_insample, b.gauss_holdout,
               "in-sample", "held-out 30 %")]
    for ax, (title, truth, k, ins, hold, l1, l2) in zip(axes, panels):
        for est, lab, col in ((ins, l1, "C0"), (hold, l2, "C1")):
            err = est - truth
            m, se, sd = err.mean(1), err.std(1, ddof=1) / math.sqrt(b.reps), err.std(1, ddof=1)
            ax.fill_between(b.ns, m - sd, m + sd, color=col, alpha=0.12)
            ax.errorbar(b.ns, m, yerr=1.96 * se, color=col, marker="o", ms=4, capsize=3, label=f"{lab}: mean ± 95 % CI")
        ax.plot(b.ns, [first_order_bias(k, n) for n in b.ns], "C0--", lw=1, label="+k/(2n ln2) (first order)")
        ax.plot(b.ns, [-first_order_bias(k, 0.7 * n) for n in b.ns], "C1--", lw=1, label="-k/(2 n_train ln2)")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("samples n")
        ax.set_ylabel("estimate - true I (bits)")
        ax.set_title(f"{title}; I = {truth:.3f} bits, k = {k}", fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(f"Finite-sample bias of V-information estimates ({b.reps} repetitions; bands: ±1 sd of one estimate)",
                 fontsize=10)
    fig.tight_layout()
    return fig


@figure("vinfo_cipher_asymmetry.png")
def fig_cipher(quick: bool):
    import matplotlib.pyplot as plt

    c = _cipher(quick)
    rows = [("Shannon I(X;Y)\n= I(t(X);Y) = I(Y;X)", c.shannon, None),
            ("logistic\nX=(C,K) -> Y", c.linear_x.value, c.linear_x),
            ("logistic\nt(X)=C xor K -> Y", c.linear_decrypted.value, c.linear_decrypted),
            ("logistic\nY -> X", c.reverse.value, c.reverse),
            ("MLP (8 units)\nX -> Y", c.mlp_x.value, c.mlp_x)]
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (lab, v, r) in enumerate(rows):
        yerr = None if r is None else [[v - r.ci_low], [r.ci_high - v]]
        ax.bar(i, v, color="0.6" if r is None else "C0", yerr=yerr, capsize=4)
        ax.text(i, (v if r is None else r.ci_high) + 0.015, f"{v:.3f}", ha="center", fontsize=8)
    ax.set_xticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.set_ylabel("bits")
    ax.set_title("One-time pad (noise 0.1): V-information grows under decryption and is asymmetric\n"
                 "(95 % cross-fitted intervals)", fontsize=10)
    fig.tight_layout()
    return fig


@figure("vinfo_digits_tradeoff.png")
def fig_digits(quick: bool):
    import matplotlib.pyplot as plt

    from rdtheory.vinfo.examples import tradeoff_gain

    res = _digits(quick)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.3))
    xa = np.array([a.value for a in res.recon])
    yb = np.array([b.value for b in res.base])
    ax.errorbar(xa, yb, xerr=[xa - [a.ci_low for a in res.recon], [a.ci_high for a in res.recon] - xa],
                yerr=[yb - [b.ci_low for b in res.base], [b.ci_high for b in res.base] - yb],
                fmt="o-", ms=4, capsize=2, color="C0", lw=0.8)
    picked: dict[int, list[str]] = {}
    for beta in res.betas:
        picked.setdefault(res.choice[beta], []).append(f"{beta:g}")
    for i in picked:
        ax.plot(xa[i], yb[i], "*", ms=14, color="C3", zorder=3)
    ax.set_xlabel("I_Va(f(X) -> X)  (bits; linear decoder, isotropic Gaussian)")
    ax.set_ylabel("I_Vb(f(X) -> digit)  (bits; logistic)")
    ax.set_title(f"k={res.k}-dim linear representations of digits", fontsize=10)
    betas = [b for b in res.betas if b > 0]
    gains = [tradeoff_gain(res, b) for b in betas]
    ax2.errorbar(betas, [g[0].value for g in gains], yerr=[[g[0].value - g[0].ci_low for g in gains],
                                                          [g[0].ci_high - g[0].value for g in gains]],
                 fmt="o-", color="C3", capsize=3, label="change in I_Vb (base task)")
    ax2.set_xscale("log")
    ax2.set_xlabel("beta (reward on I_Va)")
    ax2.set_ylabel("bits (base)", color="C3")
    ax2.axhline(0, color="k", lw=0.6)
    ax3 = ax2.twinx()
    ax3.errorbar(betas, [g[1].value for g in gains], yerr=[[g[1].value - g[1].ci_low for g in gains],
                                                          [g[1].ci_high - g[1].value for g in gains]],
                 fmt="s--", color="C2", capsize=3, label="change in I_Va (reconstruction)")
    ax3.set_ylabel("bits (reconstruction)", color="C2")
    ax2.set_title("argmax of I_Vb + beta I_Va vs the beta = 0 choice (95 % paired CIs)", fontsize=10)
    h1, l1 = ax2.get_legend_handles_labels()
    h2, l2 = ax3.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, fontsize=7, loc="center left")
    fig.tight_layout()
    # labels last, on the final layout: the argmax labels first (they matter most), then the names
    labels = [(xa[i], yb[i], "argmax for beta = " + ", ".join(bs), "C3") for i, bs in picked.items()]
    labels += [(u, v, nm, "0.2") for nm, u, v in zip(res.names, xa, yb)]
    annotate_without_overlap(ax, [(u, v) for u, v, _, _ in labels], [t for _, _, t, _ in labels], fontsize=6.5,
                             colors=[c for _, _, _, c in labels])
    return fig
