r"""One checker per theorem and corollary of Sec. II, with certified tolerances.

Each checker takes a model (or a list of models of one shape, solved together with ``vmap``)
and a distortion grid, computes every side of the statement with the engine's certified
bounds, evaluates the theorem's *hypothesis* on each model, and returns a
:class:`TheoremCheck`. How a relation is judged (bits; ``lo``/``up`` are certified bounds):

- ``=`` (a chain of equal rates): ``violation = max_{i,j} lo_i - up_j``; it holds when
  ``violation <= slack`` — the certified intervals overlap, i.e. :math:`|R_i - R_j|` is no
  larger than the sum of the certified errors.
- ``<=``: ``violation = lo_lhs - up_rhs``, holds when ``<= slack``.
- ``<`` (strict): ``violation = up_lhs - lo_rhs``, holds when ``< -slack``: the gap must
  exceed the certified errors. ``margin = -violation`` is the certified strict gap.

``slack`` is :data:`SLACK` (float64 headroom: the bounds are evaluated in the log domain to
~1e-14 bits, and the mixture's distortion equals D to ~1e-16 relative) plus, for Theorems
3/4 and their corollaries, what the numerical witness adds (documented per checker).

The hypotheses are those the proofs (Appendix A) use:

- Theorem 2: :math:`h(\hat{\mathcal Y}) \subseteq \mathcal I_f(\hat{\mathcal X})` (image
  condition) *and* the inclusion behind [17]'s :math:`R_Y \le R_X`,
  :math:`f(\hat{\mathcal X}) \subseteq h(\hat{\mathcal Y})` (automatic when
  :math:`g(\hat{\mathcal X}) \subseteq \hat{\mathcal Y}`, e.g. with default alphabets).
- Theorem 2.A: for every reproduction :math:`\hat y` with :math:`h(\hat y) \notin \mathcal I_f`
  there is one substitute output :math:`t' \in \mathcal I_f` that is no worse for **every**
  y with :math:`p(y) > 0` (the proof's :math:`\tilde y(\hat y)` depends on :math:`\hat y`
  only, to keep :math:`Y \to \hat Y \to \tilde Y` Markov). A per-y reading is not enough:
  :func:`~rdtheory.machines.instances.image_condition_counterexample`.
- Theorem 4: the *task-minimising* X-optimal code (footnote 12) has two reproductions of
  positive mass with equal task output and different posteriors.

Each side of a statement is named by a :class:`~rdtheory.machines.checks.SideSpec` record
(label, cut, target, direct); the records and the hypotheses live in
:mod:`rdtheory.machines.checks` and :mod:`rdtheory.machines.conditions`.

References
----------
.. [1] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Sec. II, Theorems 1-4, Corollaries 2.1-4.2, Appendix A).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .checks import SLACK, Side, SideSpec, TheoremCheck
from .conditions import covering_condition, image_condition, theorem2a_condition
from .model import FiniteTaskModel, Layer
from .optimal_sets import induced_set, merge_candidates
from .rates import certified_rates, rate_problem, stack_problems

__all__ = ["SLACK", "Side", "SideSpec", "TheoremCheck", "image_condition", "covering_condition", "theorem2a_condition",
           "check_theorem1", "check_theorem2", "check_theorem2a", "check_corollary21", "check_corollary22",
           "check_corollary23", "check_corollary24", "check_theorem3", "check_corollary31",
           "check_corollary32", "check_theorem4", "check_corollary41", "check_corollary42", "check_supervised_pair",
           "corollary31_equality", "distortion_grid"]

# --------------------------------------------------------------------------------- helpers
def _models(models) -> list[FiniteTaskModel]:
    ms = [models] if isinstance(models, FiniteTaskModel) else list(models)
    if not ms:
        raise ValueError("models must be a FiniteTaskModel or a non-empty list of them")
    return ms


def distortion_grid(models, fractions=(0.1, 0.3, 0.5, 0.7, 0.9), *, problems=()) -> np.ndarray:
    r"""Distortions ``D = D_lo + frac (D_hi - D_lo)`` per model, shape (B, K).

    ``problems`` are :class:`SideSpec` records (their labels are not used); ``D_lo`` is the
    largest least achievable distortion and ``D_hi`` the largest zero-rate distortion among
    them, so every side is finite at every D (a side at ``D >= its D_max`` is exactly 0).
    """
    ms = _models(models)
    for spec in problems:
        if not isinstance(spec, SideSpec):
            raise ValueError(f"problems must hold SideSpec records, e.g. SideSpec('R_Y(D;T)', cut=1, target=-1); "
                             f"got {spec!r}")
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or np.any(fr <= 0) or np.any(fr >= 1):
        raise ValueError(f"fractions must be a 1-D list of numbers in (0, 1); got {fractions!r}")
    out = []
    for m in ms:
        lo, hi = [], []
        for spec in problems:
            pr = rate_problem(m, cut=spec.cut, target=spec.target, direct=spec.direct)
            lo.append(float(pr.p @ pr.d.min(1)))
            hi.append(float((pr.p @ pr.d).min()))
        out.append(max(lo) + fr * (max(hi) - max(lo)))
    return np.array(out)


def _as_grid(models, D, fractions, problems) -> np.ndarray:
    ms = _models(models)
    if D is None:
        return distortion_grid(ms, fractions, problems=problems)
    D = np.asarray(D, dtype=np.float64)
    if D.ndim <= 1:
        return np.broadcast_to(np.atleast_1d(D)[None, :], (len(ms), np.atleast_1d(D).size)).copy()
    if D.shape[0] != len(ms):
        raise ValueError(f"D must be (K,) or (B, K) with B = {len(ms)} models; got shape {D.shape}")
    return D


def _side(models, D, *, cut, target, direct=False, label="", tol=1e-7, solver=None) -> Side:
    p, d = stack_problems(rate_problem(m, cut=cut, target=target, direct=direct) for m in models)
    pts = certified_rates(p, d, D, tol=tol, **(solver or {}))
    return Side(label, D, pts.rate, pts.lower)


def _chain_violation(sides) -> np.ndarray:
    v = np.full(sides[0].rate.shape, -np.inf)
    for a in sides:
        for b in sides:
            if a is not b:
                v = np.maximum(v, a.lower - b.rate)
    return v


def _equality(name, statement, models, D, side_specs, condition, condition_text, tol, details=None, solver=None):
    sides = tuple(_side(models, D, cut=sp.cut, target=sp.target, direct=sp.direct, label=sp.label, tol=tol,
                        solver=solver) for sp in side_specs)
    viol = _chain_violation(sides)
    return TheoremCheck(name, statement, "=", sides, np.asarray(condition, dtype=bool), condition_text, viol,
                        np.full(viol.shape, SLACK), details or {})


def _name(m: FiniteTaskModel, layer: Layer) -> str:
    return m.names[m.index(layer)]


# ------------------------------------------------------------------------- Theorems 1, 2
def check_theorem1(models, D=None, *, cut: Layer = 1, target: Layer = -1, fractions=(0.1, 0.3, 0.5, 0.7, 0.9),
                   tol: float = 1e-7, solver: dict | None = None) -> TheoremCheck:
    r"""Theorem 1: :math:`R_{XY}(D;T) = R_Y(D;T)` (direct coding = model splitting), no hypothesis.

    With ``target`` a hidden layer this is Corollary 2.3's :math:`R_{XY}(D;Y) = R_Y(D;Y)`.
    """
    ms = _models(models)
    y, t = _name(ms[0], cut), _name(ms[0], target)
    specs = [SideSpec(f"R_X{y}(D;{t})", cut, target, direct=True), SideSpec(f"R_{y}(D;{t})", cut, target)]
    D = _as_grid(ms, D, fractions, specs)
    return _equality("Theorem 1", f"R_X{y}(D;{t}) = R_{y}(D;{t})", ms, D, specs,
                     np.ones(len(ms), bool), "none (holds for every model)", tol, solver=solver)


def check_theorem2(models, D=None, *, cut: Layer = 1, target: Layer = -1, fractions=(0.1, 0.3, 0.5, 0.7, 0.9),
                   tol: float = 1e-7, solver: dict | None = None) -> TheoremCheck:
    r"""Theorem 2: :math:`R_X(D;T) = R_Y(D;T)` if :math:`h(\hat{\mathcal Y}) \subseteq \mathcal I_f(\mathcal X)`.

    ``details['splitting_le']`` is the violation of [17]'s :math:`R_Y \le R_X` (checked on
    every model whose covering inclusion holds, whatever the image condition);
    ``details['strict_gap']`` the certified :math:`R_X - R_Y` where it exceeds the errors.
    """
    ms = _models(models)
    y, t = _name(ms[0], cut), _name(ms[0], target)
    specs = [SideSpec(f"R_X(D;{t})", 0, target), SideSpec(f"R_{y}(D;{t})", cut, target)]
    D = _as_grid(ms, D, fractions, specs)
    img = np.array([image_condition(m, cut, target) for m in ms])
    cov = np.array([covering_condition(m, cut, target) for m in ms])
    chk = _equality("Theorem 2", f"R_X(D;{t}) = R_{y}(D;{t})", ms, D, specs,
                    img & cov, f"h({y}^) within I_f(X^) (and f(X^) within h({y}^))", tol, solver=solver)
    rx, ry = chk.sides
    return dataclasses.replace(chk, details={"image_condition": img, "covering": cov,
                                             "splitting_le": ry.lower - rx.rate,
                                             "strict_gap": rx.lower - ry.rate})


def check_theorem2a(models, D=None, *, cut: Layer = 1, target: Layer = -1, fractions=(0.1, 0.3, 0.5, 0.7, 0.9),
                    tol: float = 1e-7, solver: dict | None = None) -> TheoremCheck:
    r"""Theorem 2.A: :math:`R_X(D;T) = R_Y(D;T)` under the substitute condition
    (:func:`theorem2a_condition`, uniform form) — for models that break the image condition."""
    ms = _models(models)
    y, t = _name(ms[0], cut), _name(ms[0], target)
    specs = [SideSpec(f"R_X(D;{t})", 0, target), SideSpec(f"R_{y}(D;{t})", cut, target)]
    D = _as_grid(ms, D, fractions, specs)
    cond = np.array([theorem2a_condition(m, cut, target)[0] and covering_condition(m, cut, target) for m in ms])
    img = np.array([image_condition(m, cut, target) for m in ms])
    chk = _equality("Theorem 2.A", f"R_X(D;{t}) = R_{y}(D;{t})", ms, D, specs,
                    cond, "every out-of-image output has one in-image substitute no worse for every y", tol,
                    solver=solver)
    rx, ry = chk.sides
    return dataclasses.replace(chk, details={"image_condition": img, "strict_gap": rx.lower - ry.rate})


def check_corollary21(models, D=None, *, cuts=(1, 2), target: Layer = -1, fractions=(0.1, 0.3, 0.5, 0.7, 0.9),
                      tol: float = 1e-7, solver: dict | None = None) -> TheoremCheck:
    r"""Corollary 2.1: :math:`R_{Y_2}(D;T) = R_{Y_1}(D;T) = R_X(D;T)` under the image condition at both cuts."""
    ms = _models(models)
    c1, c2 = cuts
    y1, y2, t = _name(ms[0], c1), _name(ms[0], c2), _name(ms[0], target)
    specs = [SideSpec(f"R_{y2}(D;{t})", c2, target), SideSpec(f"R_{y1}(D;{t})", c1, target),
             SideSpec(f"R_X(D;{t})", 0, target)]
    D = _as_grid(ms, D, fractions, specs)
    cond = np.array([all(image_condition(m, c, target) and covering_condition(m, c, target) for c in cuts) for m in ms])
    return _equality("Corollary 2.1", f"R_{y2}(D;{t}) = R_{y1}(D;{t}) = R_X(D;{t})", ms, D, specs,
                     cond, f"image condition at {y1} and at {y2}", tol, solver=solver)


def check_corollary22(models, D=None, *, cuts=(1, 2), target: Layer = -1, fractions=(0.1, 0.3, 0.5, 0.7, 0.9),
                      tol: float = 1e-7, solver: dict | None = None) -> TheoremCheck:
    r"""Corollary 2.2: :math:`R_{Y_2} = R_{XY_2} = R_{XY_1} = R_{Y_1}` (all at (D;T)) under Cor. 2.1's conditions."""
    ms = _models(models)
    c1, c2 = cuts
    y1, y2, t = _name(ms[0], c1), _name(ms[0], c2), _name(ms[0], target)
    specs = [SideSpec(f"R_{y2}(D;{t})", c2, target), SideSpec(f"R_X{y2}(D;{t})", c2, target, direct=True),
             SideSpec(f"R_X{y1}(D;{t})", c1, target, direct=True), SideSpec(f"R_{y1}(D;{t})", c1, target)]
    D = _as_grid(ms, D, fractions, [sp for sp in specs if not sp.direct])
    cond = np.array([all(image_condition(m, c, target) and covering_condition(m, c, target) for c in cuts) for m in ms])
    return _equality("Corollary 2.2", f"R_{y2} = R_X{y2} = R_X{y1} = R_{y1} (D;{t})", ms, D, specs,
                     cond, f"image condition at {y1} and at {y2}", tol, solver=solver)


def check_corollary23(models, D=None, *, cut: Layer = 1, target: Layer | None = None,
                      fractions=(0.1, 0.3, 0.5, 0.7, 0.9), tol: float = 1e-7, solver: dict | None = None) -> TheoremCheck:
    r"""Corollary 2.3: :math:`R_{XY}(D;Y) = R_Y(D;Y)` (distortion at the cut layer), no hypothesis.

    ``target`` defaults to the cut layer; any layer at or after it also works (Theorem 1's logic).
    """
    chk = check_theorem1(models, D, cut=cut, target=cut if target is None else target, fractions=fractions, tol=tol,
                         solver=solver)
    return dataclasses.replace(chk, name="Corollary 2.3")


def check_corollary24(models, D=None, *, cut: Layer = 1, target: Layer = 2, fractions=(0.1, 0.3, 0.5, 0.7, 0.9),
                      tol: float = 1e-7, solver: dict | None = None) -> tuple[TheoremCheck, TheoremCheck]:
    r"""Corollary 2.4, both parts, with distortion at the distillation point ``target`` (Y_2).

    (a) :math:`R_{XY_2}(D;Y_2) = R_{Y_2}(D;Y_2) = R_X(D;Y_2)` — hypothesis: Theorem 2 (or 2.A)
    for the task "output Y_2": :math:`\hat{\mathcal Y}_2 \subseteq g(\hat{\mathcal X})` (or
    dominated substitutes), plus the covering inclusion.
    (b) :math:`R_{XY_1}(D;Y_2) = R_{Y_1}(D;Y_2) = R_{Y_2}(D;Y_2)` — hypothesis: the same with
    :math:`Y_1` as the input: :math:`\hat{\mathcal Y}_2 \subseteq g_2(\hat{\mathcal Y}_1)`.
    """
    ms = _models(models)
    y1, y2 = _name(ms[0], cut), _name(ms[0], target)

    def cond(ref):
        return np.array([(image_condition(m, target, target, ref) or theorem2a_condition(m, target, target, ref)[0])
                         and covering_condition(m, target, target, ref) for m in ms])

    specs_a = [SideSpec(f"R_X{y2}(D;{y2})", target, target, direct=True), SideSpec(f"R_{y2}(D;{y2})", target, target),
               SideSpec(f"R_X(D;{y2})", 0, target)]
    specs_b = [SideSpec(f"R_X{y1}(D;{y2})", cut, target, direct=True), SideSpec(f"R_{y1}(D;{y2})", cut, target),
               SideSpec(f"R_{y2}(D;{y2})", target, target)]
    D = _as_grid(ms, D, fractions, [specs_a[2], specs_b[1], specs_a[1]])
    a = _equality("Corollary 2.4a", f"R_X{y2}(D;{y2}) = R_{y2}(D;{y2}) = R_X(D;{y2})", ms, D, specs_a, cond(0),
                  f"Thm 2/2.A condition for target {y2}, input X", tol, solver=solver)
    b = _equality("Corollary 2.4b", f"R_X{y1}(D;{y2}) = R_{y1}(D;{y2}) = R_{y2}(D;{y2})", ms, D, specs_b, cond(cut),
                  f"Thm 2/2.A condition for target {y2}, input {y1}", tol, solver=solver)
    return a, b


# -------------------------------------------------------------------- Theorems 3, 4 family
def _supervised_data(models, D, *, cut, target, fractions, tol, labels_at, outer):
    """Shared machinery of Theorems 3/4 and their corollaries, computed once: RHS = R_C(D_C;C);
    the task-minimising C-optimal witness (gibbs LP) and its induced distortion D_w at
    ``target``; Theorem 4's merge at the witness; the convex program's certified lower bound
    on D^min where ``outer`` ('all', 'merge' = only where the merge applies, or 'none')."""
    ms = _models(models)
    D = _as_grid(ms, D, fractions, [SideSpec("", cut, cut)])
    B, K = D.shape
    opt = [rate_problem(m, cut=cut, target=cut) for m in ms]
    ind = [rate_problem(m, cut=cut, target=target) for m in ms]
    p, d = stack_problems(opt)
    _, e = stack_problems(ind)
    rhs = certified_rates(p, d, D, tol=tol, beta_rtol=1e-9)
    out = {k: np.zeros((B, K)) for k in ("d_w", "defect", "drop", "widths", "outer_slack", "outer_excess")}
    out["d_lo"] = np.full((B, K), np.nan)
    out["cand"] = np.zeros((B, K), dtype=bool)
    convex_failed = 0
    for b in range(B):
        labels = ms[b].push(cut, labels_at)[opt[b].reproductions]
        for k in range(K):
            pt = type(rhs)(*(np.asarray(x)[b, k] for x in rhs))
            s = induced_set(p[b], d[b], e[b], D[b, k], method="gibbs", point=pt)
            out["d_w"][b, k] = float(np.einsum("nm,n->", s.argmin * e[b], p[b]))
            out["defect"][b, k] = max(0.0, float(s.witness_rate[0]) - float(rhs.rate[b, k]))
            out["widths"][b, k] = s.width
            cs = merge_candidates(p[b], s.argmin, labels, mass_tol=1e-6, posterior_tol=1e-6)
            out["cand"][b, k] = bool(cs) and cs[0].rate_drop > 1e-9
            out["drop"][b, k] = cs[0].rate_drop if cs else 0.0
            if outer == "all" or (outer == "merge" and out["cand"][b, k]):
                try:
                    o = induced_set(p[b], d[b], e[b], D[b, k], method="convex", point=pt)
                    out["d_lo"][b, k], out["outer_slack"][b, k] = o.minimum, o.tau + (o.rate - o.rate_lower)
                    out["outer_excess"][b, k] = max(0.0, float(o.witness_rate[0]) - o.rate - o.tau)
                except RuntimeError:
                    convex_failed += 1   # the strict check falls back to D_w (certified to the LP tolerance)
    lhs_w = certified_rates(p, e, np.maximum(out["d_w"], _dmin(p, e)[:, None]), tol=tol)
    names = (_name(ms[0], cut), _name(ms[0], target), _name(ms[0], labels_at))
    return dict(out, D=D, p=p, e=e, tol=tol, rhs=rhs, lhs_w=lhs_w, names=names, convex_failed=convex_failed)


def _supervised_details(x):
    return {"D_min_witness": x["d_w"], "D_min_outer": x["d_lo"], "outer_rate_slack_bits": x["outer_slack"],
            "outer_rate_excess_bits": x["outer_excess"],
            "witness_defect_bits": x["defect"], "merge_rate_drop": x["drop"], "merge_condition": x["cand"],
            "induced_width": x["widths"], "lhs_at_witness_upper": x["lhs_w"].rate,
            "lhs_at_witness_lower": x["lhs_w"].lower, "convex_failed": x["convex_failed"],
            "induced_range": x["e"].max(axis=(1, 2)) - x["e"].min(axis=(1, 2))}


def _supervised_le(name, statement, x):
    """The ``<=`` check (Theorem 3 form) from :func:`_supervised_data`."""
    src, tgt, _ = x["names"]
    rhs, lhs_w = x["rhs"], x["lhs_w"]
    lhs_side = Side(f"R_{src}(D_{tgt}^min;{tgt})", x["d_w"], lhs_w.rate, lhs_w.lower)
    rhs_side = Side(f"R_{src}(D_{src};{src})", x["D"], rhs.rate, rhs.lower)
    # the witness is optimal only to the LP's tolerance: the proof's step R(D_w) <= I(W)
    # then gives lo_lhs <= I(W) = up_rhs + defect
    viol = lhs_w.lower - rhs.rate
    return TheoremCheck(name, statement, "<=", (lhs_side, rhs_side), np.ones(viol.shape[0], dtype=bool),
                        "none (D > 0)", viol, SLACK + x["defect"], _supervised_details(x))


def _supervised_lt(name, statement, x):
    """The strict ``<`` check (Theorem 4 form) from :func:`_supervised_data`."""
    src, tgt, lab = x["names"]
    p, e, rhs = x["p"], x["e"], x["rhs"]
    D_lhs = np.maximum(np.where(np.isnan(x["d_lo"]), x["d_w"], x["d_lo"]), _dmin(p, e)[:, None])
    lhs = certified_rates(p, e, D_lhs, tol=x["tol"])
    lhs_side = Side(f"R_{src}(D_{tgt}^min;{tgt})", D_lhs, lhs.rate, lhs.lower)
    rhs_side = Side(f"R_{src}(D_{src};{src})", x["D"], rhs.rate, rhs.lower)
    viol = lhs.rate - rhs.lower
    ctext = (f"task-minimising {src}-optimal code has two used reproductions with equal output at "
             f"{lab} and different posteriors")
    return TheoremCheck(name, statement, "<", (lhs_side, rhs_side), x["cand"], ctext, viol,
                        np.full(viol.shape, SLACK), _supervised_details(x))


#: (cut, target) of each supervised pair -> (name of the '<=' form, of the '<' form, statements)
_PAIRS = {"T3": ("Theorem 3", "Theorem 4", "R_X(D_T^min;T)", "R_X(D_X;X)"),
          "C31": ("Corollary 3.1", "Corollary 4.1", "R_Y(D_T^min;T)", "R_Y(D_Y;Y)"),
          "C32": ("Corollary 3.2", "Corollary 4.2", "R_X(D_Y^min;Y)", "R_X(D_X;X)")}


def check_supervised_pair(models, D=None, *, pair: str = "T3", fractions=(0.2, 0.5, 0.8), tol: float = 1e-7,
                          outer: str = "all") -> tuple[TheoremCheck, TheoremCheck]:
    r"""Theorem 3 *and* Theorem 4 (``pair='T3'``), Corollaries 3.1/4.1 (``'C31'``: cut Y, target T)
    or 3.2/4.2 (``'C32'``: cut X, target Y) from one computation of the witnesses.

    ``outer='all'`` computes the convex program's certified lower bound on :math:`D^{\min}` at
    every point (``details['D_min_outer']``), so the ``<=`` form's witness :math:`D_w` can be
    compared with it; ``'merge'`` only where Theorem 4's merge applies (what the strict form needs).
    """
    if pair not in _PAIRS:
        raise ValueError(f"pair must be one of {sorted(_PAIRS)} (T3: Theorems 3/4, C31: Cor. 3.1/4.1, "
                         f"C32: Cor. 3.2/4.2); got {pair!r}")
    if outer not in ("all", "merge", "none"):
        raise ValueError(f"outer must be 'all', 'merge' or 'none'; got {outer!r}")
    cut, target = {"T3": (0, -1), "C31": (1, -1), "C32": (0, 1)}[pair]
    le, lt, lhs, rhs = _PAIRS[pair]
    x = _supervised_data(models, D, cut=cut, target=target, fractions=fractions, tol=tol, labels_at=target,
                         outer=outer)
    return _supervised_le(le, f"{lhs} <= {rhs}", x), _supervised_lt(lt, f"{lhs} < {rhs}", x)


def _supervised(name, statement, models, D, *, cut, target, strict, fractions, tol, labels_at, convex=True):
    x = _supervised_data(models, D, cut=cut, target=target, fractions=fractions, tol=tol, labels_at=labels_at,
                         outer=("merge" if strict and convex else "none"))
    return (_supervised_lt if strict else _supervised_le)(name, statement, x)


def _dmin(p, e):
    return np.einsum("bn,bn->b", p, e.min(-1))


def check_theorem3(models, D=None, *, target: Layer = -1, fractions=(0.2, 0.5, 0.8), tol: float = 1e-7) -> TheoremCheck:
    r"""Theorem 3: :math:`R_X(D_T^{\min};T) \le R_X(D_X;X)`, :math:`D_T^{\min} = \min\mathcal D_T^*(D_X;X)`.

    ``D`` is the grid of :math:`D_X`. :math:`D_T^{\min}` is taken at the ``gibbs`` witness
    (:func:`~rdtheory.machines.induced_set`); ``slack`` adds the witness's optimality
    defect :math:`\max(0, I(W) - \overline{R}_X(D_X;X))`.
    """
    return _supervised("Theorem 3", "R_X(D_T^min;T) <= R_X(D_X;X)", models, D, cut=0, target=target, strict=False,
                       fractions=fractions, tol=tol, labels_at=target)


def check_corollary31(models, D=None, *, cut: Layer = 1, target: Layer = -1, fractions=(0.2, 0.5, 0.8),
                      tol: float = 1e-7) -> TheoremCheck:
    r"""Corollary 3.1: :math:`R_Y(D_T^{\min};T) \le R_Y(D_Y;Y)`, :math:`D_T^{\min} = \min\mathcal D_T^*(D_Y;Y)`.

    The corollary also writes :math:`R_X(D_Y;Y) = R_Y(D_Y;Y)`; that is Theorem 2 with target Y
    and needs :math:`\hat{\mathcal Y} \subseteq g(\hat{\mathcal X})` (or 2.A's substitute).
    ``details['x_equals_y']`` holds that equality check (a :class:`TheoremCheck`).
    """
    chk = _supervised("Corollary 3.1", "R_Y(D_T^min;T) <= R_Y(D_Y;Y)", models, D, cut=cut, target=target,
                      strict=False, fractions=fractions, tol=tol, labels_at=target)
    eq = corollary31_equality(models, chk.sides[1].D, cut=cut, tol=tol)
    return dataclasses.replace(chk, details={**chk.details, "x_equals_y": eq})


def corollary31_equality(models, D, *, cut: Layer = 1, tol: float = 1e-7) -> TheoremCheck:
    r"""Corollary 3.1's equality part :math:`R_X(D_Y;Y) = R_Y(D_Y;Y)` at the (B, K) grid ``D``: Theorem 2
    with target Y; hypothesis :math:`\hat{\mathcal Y} \subseteq g(\hat{\mathcal X})` (or 2.A's substitute)."""
    ms = _models(models)
    y = _name(ms[0], cut)
    cond = np.array([(image_condition(m, cut, cut) or theorem2a_condition(m, cut, cut)[0])
                     and covering_condition(m, cut, cut) for m in ms])
    return _equality("Corollary 3.1 (equality part)", f"R_X(D_{y};{y}) = R_{y}(D_{y};{y})", ms, np.asarray(D),
                     [SideSpec(f"R_X(D;{y})", 0, cut), SideSpec(f"R_{y}(D;{y})", cut, cut)], cond,
                     f"{y}^ within g(X^) (Theorem 2 with target {y})", tol)


def check_corollary32(models, D=None, *, target: Layer = 1, fractions=(0.2, 0.5, 0.8), tol: float = 1e-7) -> TheoremCheck:
    r"""Corollary 3.2: :math:`R_X(D_Y^{\min};Y) \le R_X(D_X;X)`, :math:`D_Y^{\min} = \min\mathcal D_Y^*(D_X;X)`."""
    return _supervised("Corollary 3.2", "R_X(D_Y^min;Y) <= R_X(D_X;X)", models, D, cut=0, target=target, strict=False,
                       fractions=fractions, tol=tol, labels_at=target)


def check_theorem4(models, D=None, *, target: Layer = -1, fractions=(0.2, 0.5, 0.8), tol: float = 1e-7,
                   convex: bool = True) -> TheoremCheck:
    r"""Theorem 4: :math:`R_X(D_T^{\min};T) < R_X(D_X;X)` when the task-minimising X-optimal
    code can merge two reproductions (same f, positive mass, different posteriors).

    Certified strictly: the left side is bounded above by the engine at the convex program's
    certified *lower* bound on :math:`D_T^{\min}` (R is non-increasing), the right side
    below by the engine; ``violation = up_lhs - lo_rhs < -SLACK``. ``details`` carries the
    merge's exact rate drop at the witness (a second, constructive certificate:
    :math:`R_X(D_w;T) \le I(W) - \text{drop}`). ``convex=False`` uses the witness's
    :math:`D_w` instead (faster, certified only up to the LP tolerance).
    """
    return _supervised("Theorem 4", "R_X(D_T^min;T) < R_X(D_X;X)", models, D, cut=0, target=target, strict=True,
                       fractions=fractions, tol=tol, labels_at=target, convex=convex)


def check_corollary41(models, D=None, *, cut: Layer = 1, target: Layer = -1, fractions=(0.2, 0.5, 0.8),
                      tol: float = 1e-7, convex: bool = True) -> TheoremCheck:
    r"""Corollary 4.1: :math:`R_Y(D_T^{\min};T) < R_Y(D_Y;Y)` when the task-minimising Y-optimal
    code has two used :math:`\hat y_1, \hat y_2` with :math:`h(\hat y_1) = h(\hat y_2)` and
    different posteriors — distilling at Y costs rate compared with supervising at T."""
    return _supervised("Corollary 4.1", "R_Y(D_T^min;T) < R_Y(D_Y;Y)", models, D, cut=cut, target=target, strict=True,
                       fractions=fractions, tol=tol, labels_at=target, convex=convex)


def check_corollary42(models, D=None, *, target: Layer = 1, fractions=(0.2, 0.5, 0.8), tol: float = 1e-7,
                      convex: bool = True) -> TheoremCheck:
    r"""Corollary 4.2: :math:`R_X(D_Y^{\min};Y) < R_X(D_X;X)` when the Y-minimising X-optimal code
    has two used :math:`\hat x_1, \hat x_2` with :math:`g(\hat x_1) = g(\hat x_2)` and different posteriors."""
    return _supervised("Corollary 4.2", "R_X(D_Y^min;Y) < R_X(D_X;X)", models, D, cut=0, target=target, strict=True,
                       fractions=fractions, tol=tol, labels_at=target, convex=convex)
