"""The scalable pair of the scalable-coding slides (Figs. 3–5), the context model of Fig. 14 and the
low-rate bit accounting, on CIFAR-10 with ResNet-20 (issue 16).

The curves are READ from the committed runs of ``experiments/codecs_scalable.py``
(``experiments/checkpoints/codecs_scalable/*/lmbda=*/result.json``, every point measured on real
bitstreams over 2,000 test images; training takes CPU-hours) and **verified on a subset**: one
committed enhancement codec (with its frozen base) is reloaded and re-measured on SUBSET_N of the same
test images, and its committed total rate and PSNR must lie in the subset's sampling interval. The
bit-accounting and context claims re-code committed codecs here (nothing read). Every curve has one
training seed: the BD claims are sign statements with a sampling margin, not seed intervals.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import math
import sys
from pathlib import Path

from paper_checks import FAIL, PASS, FigureSkipped, claim, figure, make, skipped

ROOT = Path(__file__).resolve().parents[1]
CK = ROOT / "experiments/checkpoints/codecs_scalable"
ONE_SEED = "one training seed per curve (no seed interval)"
#: Test images (of the committed 2,000) re-coded by the quick checks.
SUBSET_N = 200
#: z of the subset comparison and of the BD sampling margins (two-sided 5 %).
Z = 2.0
#: The slides' regime "β ≪ λ_b": a reward below this share of R + λD counts as small.
SMALL_SHARE = 0.1
READ = "experiments/checkpoints/codecs_scalable/*/lmbda=*/result.json"


def _missing() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return "torch not installed (pip install -e '.[torch]')"
    if not any(CK.glob("i8-base-beta0/lmbda=*/result.json")):
        return f"no committed runs under {CK.relative_to(ROOT)}; run experiments/codecs_scalable.py"
    return None


#: The base family the claims are decided on: issue 8's committed scalable bases (complete λ chains, β = 0,
#: 0.01 (the slides' proposal), 1), copied under CK; the bases trained here ("", β up to 10) are reported.
FAMILY = "i8"


@functools.lru_cache(maxsize=None)
def _summary(family: str = FAMILY) -> dict:
    sys.path.insert(0, str(ROOT / "experiments"))
    import codecs_scalable as exp  # noqa: PLC0415  (the experiment's own summary, from committed result.json)
    return exp.summarize(exp.collect(CK, family))


# -- pure verdicts (mutation-tested in tests/test_claims_codecs_scalable.py) -----------------------------
def accuracy_margin(p: float, n: int, z: float = Z) -> float:
    """z standard errors of a top-1 accuracy ``p`` over ``n`` images, in points (a BD-accuracy's noise floor)."""
    return 100 * z * math.sqrt(p * (1 - p) / n)


def psnr_margin(cv: float, n: int, z: float = Z) -> float:
    """z standard errors of a pooled PSNR over ``n`` images whose per-image MSE has coefficient of variation
    ``cv``: PSNR = −10 log10(mean MSE), so SE ≈ (10/ln 10)·cv/√n dB (delta method)."""
    return z * 10 / math.log(10) * cv / math.sqrt(n)


def base_task_ok(bd_acc: dict, shares: dict, margin: float) -> tuple[bool, list]:
    """(i): every β whose reward is small (median share ≤ SMALL_SHARE) keeps the base task within ``margin``
    points of BD-accuracy of β = 0. Returns (verdict, the β values judged); no small-reward β → False."""
    judged = [b for b in bd_acc if bd_acc[b] is not None and shares.get(b) is not None and shares[b] <= SMALL_SHARE]
    return bool(judged) and all(bd_acc[b] >= -margin for b in judged), judged


def better_ok(bd_psnr: float | None, margin: float) -> bool:
    """(ii), (iii): a BD-PSNR above the sampling margin (None — no overlap — is not a pass)."""
    return bd_psnr is not None and bd_psnr > margin


def bound_ok(bd_psnr_vs_standalone: float | None, margin: float) -> bool:
    """(iii) vs standalone: the scalable pair is not better than the standalone codec (its bound) beyond the margin."""
    return bd_psnr_vs_standalone is not None and bd_psnr_vs_standalone <= margin


def _bd(rows: list, key: str = "bd_metric") -> dict:
    return {float(r["curve"].split("=")[1]) if r["curve"].startswith("beta") else r["curve"]: r.get(key)
            for r in rows if "bd_rate_percent" in r}


def _median_share(points: list) -> float | None:
    s = sorted(p["reward_share"] for p in points if p["reward_share"] is not None)
    return s[len(s) // 2] if s else None


def _beta_star(s: dict, margin: float) -> float | None:
    """The largest β that keeps the base task (BD-accuracy ≥ −margin): the slides' choice of β."""
    acc = _bd(s["bd"]["i_base_task"])
    ok = [b for b, v in acc.items() if v is not None and v >= -margin and f"{b:g}" in s["results"]["enh"]]
    return max(ok) if ok else None


@claim("codecs-scalable-i-base-task", "scalable-coding slides Fig. 3 (base RD with the reward)",
       "A small reconstruction reward β keeps the base task's rate–accuracy (BD-accuracy vs β = 0 within sampling)")
def scalable_base_task(quick: bool):
    cid = "codecs-scalable-i-base-task"
    if (why := _missing()):
        return skipped(cid, why)
    s = _summary()
    base = s["results"]["base"]
    acc, rate = _bd(s["bd"]["i_base_task"]), _bd(s["bd"]["i_base_task"], "bd_rate_percent")
    shares = {float(b): _median_share(p) for b, p in base.items()}
    p0 = base["0"][len(base["0"]) // 2]
    margin = accuracy_margin(p0["accuracy"], p0["n"])
    ok, judged = base_task_ok(acc, shares, margin)
    measured = {f"β={b:g}": f"BD-acc {acc[b]:+.2f} pt, BD-rate {rate[b]:+.1f} %, share {shares[b]:.3g}"
                if acc[b] is not None else f"no overlap, share {shares[b]:.3g}" for b in sorted(acc)}
    wide = _summary("")
    wacc = _bd(wide["bd"]["i_base_task"])
    measured.update({f"β={b:g} (bases trained here, λ_b 30→1; share {_median_share(wide['results']['base'][f'{b:g}']):.3g})":
                     "no overlap / < 2 points" if v is None else f"BD-acc {v:+.2f} pt" for b, v in sorted(wacc.items())})
    return make(cid, expected=f"BD-accuracy ≥ −{margin:.2f} points for every β with β·MSE/(R+λD) ≤ {SMALL_SHARE}",
                measured=measured or "only β = 0 trained", tolerance=round(margin, 2),
                tolerance_why=f"{Z:g} binomial SE of a top-1 near {100 * p0['accuracy']:.0f} % on {p0['n']} images; "
                              f"{ONE_SEED}; curves READ from {READ}",
                status=PASS if ok else FAIL, details={"judged_betas": judged, "shares": shares, "read_from": READ})


def _remeasure() -> dict:
    """Re-code one committed enhancement point (largest β with an enhancement, middle λ_e) with its base on
    SUBSET_N of the test images: per-image bits and MSE, against the committed numbers."""
    import numpy as np
    import torch

    from rdtheory.codecs.enhancement import _data, evaluate_enhancement, load_enhancement

    torch.set_num_threads(1)
    s = _summary()
    beta = max(s["results"]["enh"], key=float)
    pts = s["results"]["enh"][beta]
    pt = pts[len(pts) // 2]
    path = CK / f"enh-{FAMILY + '-' if FAMILY else ''}beta{beta}" / f"lmbda={pt['lmbda']:g}" / "model.pt"
    codec, cfg = load_enhancement(path)
    x, _ = _data(cfg, "test")
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:SUBSET_N]
    r = evaluate_enhancement(codec, cfg, x[idx], per_image=True)
    mse = np.array(r["mse_per_image"])
    bits = np.array(r["bits_per_image"]) / (x.shape[-2] * x.shape[-1])
    n_pop, m = pt["n"], len(mse)
    fpc = math.sqrt((1 - m / n_pop) / m)
    committed_mse = 10 ** (-pt["psnr_db"] / 10)
    ok = (abs(bits.mean() - pt["bpp_total"]) <= Z * bits.std(ddof=1) * fpc
          and abs(mse.mean() - committed_mse) <= Z * mse.std(ddof=1) * fpc)
    return {"beta": beta, "lmbda": pt["lmbda"], "committed": (pt["bpp_total"], pt["psnr_db"]),
            "subset": (float(bits.mean()), 10 * math.log10(1 / mse.mean())), "m": m, "n": n_pop,
            "cv_mse": float(mse.std(ddof=1) / mse.mean()), "ok": bool(ok)}


_remeasure_cached = functools.lru_cache(maxsize=None)(_remeasure)


def _psnr_claim(cid: str, key: str, judge, expected: str, quick: bool, beta_star: bool):
    if (why := _missing()):
        return skipped(cid, why)
    s = _summary()
    if not s["results"]["enh"] and key.startswith("iii"):
        return make(cid, expected=expected, measured="no enhancement layer trained yet", tolerance="-",
                    tolerance_why=ONE_SEED, status=FAIL)
    check = _remeasure_cached() if s["results"]["enh"] else {"ok": True, "cv_mse": 1.0, "assumed": True}
    margin = psnr_margin(check["cv_mse"], 2000)
    bd, rate = _bd(s["bd"][key]), _bd(s["bd"][key], "bd_rate_percent")
    p0 = s["results"]["base"]["0"]
    acc_margin = accuracy_margin(p0[len(p0) // 2]["accuracy"], p0[0]["n"])
    target = _beta_star(s, acc_margin) if beta_star else (max((b for b in bd if isinstance(b, float)), default=None))
    if key == "iii_total_vs_standalone":
        target = _beta_star(s, acc_margin)
    value = bd.get(target)
    ok = judge(value, margin) and check["ok"]
    fmt = {str(b): (None if v is None else f"BD-PSNR {v:+.2f} dB, BD-rate {rate[b]:+.1f} %") for b, v in bd.items()}
    return make(cid, expected=expected.format(margin=margin), measured={"judged": f"β={target}", **fmt},
                tolerance=round(margin, 3),
                tolerance_why=f"{Z:g} SE of a pooled PSNR over 2,000 images (per-image MSE CV {check['cv_mse']:.2f}, "
                              + ("assumed: no enhancement run to re-measure" if check.get("assumed") else
                                 f"re-measured on an enhancement point; one enhancement point re-coded on {SUBSET_N} "
                                 f"images agrees with its committed rate and PSNR: {check['ok']}")
                              + f"); {ONE_SEED}; curves READ from {READ} (--full reads them too: retrain with "
                              "experiments/codecs_scalable.py)",
                status=PASS if ok else FAIL, details={"verified": check, "beta_judged": target, "read_from": READ})


@claim("codecs-scalable-ii-base-psnr", "scalable-coding slides Fig. 4 (reconstruction from the base alone)",
       "The reward makes the base alone reconstruct the input better: BD-PSNR of G_a(Ŷ_b) vs β = 0 > 0 (largest β)")
def scalable_base_psnr(quick: bool):
    return _psnr_claim("codecs-scalable-ii-base-psnr", "ii_base_psnr", better_ok,
                       "BD-PSNR (largest β vs β = 0) > {margin:.2f} dB", quick, beta_star=False)


@claim("codecs-scalable-iii-enhancement", "scalable-coding slides Fig. 5 (enhancement at total rate)",
       "With the reward, the scalable pair (base + enhancement) reconstructs better at equal total rate than the "
       "β = 0 pair (β = the largest that keeps the base task, claim i)")
def scalable_enhancement(quick: bool):
    return _psnr_claim("codecs-scalable-iii-enhancement", "iii_total_vs_beta0", better_ok,
                       "BD-PSNR (β* pair vs β = 0 pair) > {margin:.2f} dB", quick, beta_star=True)


@claim("codecs-scalable-iii-standalone", "scalable-coding slides Fig. 5 (standalone codec as the bound)",
       "The standalone image codec (no side information) is at least as good as the scalable pair at total rate")
def scalable_vs_standalone(quick: bool):
    return _psnr_claim("codecs-scalable-iii-standalone", "iii_total_vs_standalone", bound_ok,
                       "BD-PSNR (β* pair vs standalone) ≤ {margin:.2f} dB", quick, beta_star=True)


@figure("codecs_scalable.png")
def scalable_figure(quick: bool):
    """The slides' Figs. 3–5 on CIFAR-10: base task, base-alone PSNR, PSNR at total rate (committed runs)."""
    import matplotlib.pyplot as plt

    from rdtheory.plotting import in_rate_order, log_rate_axis

    if (why := _missing()):
        raise FigureSkipped(why)
    r = _summary()["results"]
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.3))
    for b, pts in sorted(r["base"].items(), key=lambda kv: float(kv[0])):
        pts = in_rate_order(pts)
        share = _median_share(pts)
        label = f"β = {b}" + ("" if share is None or float(b) == 0 else f" (share {share:.2g})")
        ax[0].plot([p["bpp"] for p in pts], [100 * p["accuracy"] for p in pts], "-o", ms=4, label=label)
        ax[1].plot([p["bpp"] for p in pts], [p["psnr_db"] for p in pts], "-o", ms=4, label=label)
    for b, pts in sorted(r["enh"].items(), key=lambda kv: float(kv[0])):
        pts = in_rate_order(pts, "bpp_total")
        ax[2].plot([p["bpp_total"] for p in pts], [p["psnr_db"] for p in pts], "-o", ms=4, label=f"scalable, β = {b}")
    for name, style in (("standalone", "k--"), ("standalone-ctx", "k:")):
        pts = in_rate_order(r[name], "bpp_total")
        if pts:
            ax[2].plot([p["bpp_total"] for p in pts], [p["psnr_db"] for p in pts], style, marker="s", ms=4,
                       label=name.replace("-ctx", " + context model"))
    titles = ("(i) base task (Fig. 3)", "(ii) reconstruction from the base alone (Fig. 4)",
              "(iii) base + enhancement, total rate (Fig. 5)")
    for a, t, y in zip(ax, titles, ("ResNet-20 top-1 (%)", "PSNR of G_a(Ŷ_b) (dB)", "PSNR (dB)")):
        log_rate_axis(a)
        a.set_xlabel("rate (bits per pixel, real bitstreams)")
        a.set_ylabel(y)
        a.set_title(t, fontsize=10)
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    return fig
