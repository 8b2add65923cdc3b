"""Whether the paper's claims hold in our numbers: paired intervals over seeds (or over types or
subsets, :func:`measured_claim`), the verdict (holds / does not hold / inconclusive), the claim
sentences (``str`` subclasses :class:`ClaimResult`, :class:`OrderResult` that carry their content),
the paper's difference of the same two methods (:func:`paper_difference`), and the claims as
rows (``<name>_claims.csv``, gathered into ``CLAIMS.md`` by :mod:`repro.paper.claims_page`).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd

from repro.base import paths
from repro.paper.tables import (
    METHOD_NAMES, PAPER_ANALOG, _check_scores, paper_condition, paper_family, paper_numbers, paper_row, paper_suite,
    suite_means,
)
from repro.paper.outputs import _check_name, published

# ------------------------------------------------------------------------------------ claims


def paired_interval(diffs: Sequence[float], *, level: float = 0.95) -> tuple[float, float, int]:
    """Mean of paired differences and the half-width of its two-sided ``level`` t-interval.

    ``diffs``: one difference per seed (same seed, same data order: a paired design). With n
    differences of sample std s the half-width is ``t_{(1+level)/2, n-1} · s / √n`` (Student's t);
    NaN for n < 2. Returns ``(mean, half_width, n)``.
    """
    from scipy import stats

    d = np.asarray([float(x) for x in diffs if np.isfinite(x)], dtype=np.float64)
    n = int(d.size)
    if n == 0:
        return float("nan"), float("nan"), 0
    if n < 2:
        return float(d.mean()), float("nan"), 1
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
    return float(d.mean()), half, n


def verdict(diff: float, half: float) -> str:
    """``holds`` (the interval lies above 0), ``does not hold`` (below 0) or ``inconclusive``."""
    if not np.isfinite(half):
        return "inconclusive"
    if diff - half > 0:
        return "holds"
    if diff + half < 0:
        return "does not hold"
    return "inconclusive"


def compare(scores: pd.DataFrame, a: str, b: str, suites: Sequence[str], *, metric: str = "mIoU",
            by: Sequence[str] = ("suite",), level: float = 0.95) -> pd.DataFrame:
    """Per suite: ``a`` against ``b`` paired over seeds.

    For each seed run by both methods, the suite mean of ``metric`` (mean over the suite's items)
    of ``a`` minus that of ``b``; then the mean difference ``diff``, the half-width ``half`` of
    its ``level`` t-interval (:func:`paired_interval`: the smallest difference this design
    resolves), ``n`` (paired seeds) and ``verdict`` for the claim ``a > b`` (:func:`verdict`).
    Columns: ``*by, a, b, diff, half, lo, hi, n, verdict``.
    """
    sub = _check_scores(scores)
    sub = sub[sub["method"].isin([a, b]) & sub["suite"].isin(suites)]
    per_run = sub.groupby(list(by) + ["method", "seed"], sort=False)[metric].mean().reset_index()
    rows = []
    for key, grp in per_run.groupby(list(by), sort=False):
        pa = grp[grp.method == a].set_index("seed")[metric]
        pb = grp[grp.method == b].set_index("seed")[metric]
        seeds = [sd for sd in pa.index if sd in pb.index]
        if not seeds:
            continue
        diff, half, n = paired_interval([pa[sd] - pb[sd] for sd in seeds], level=level)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), a: float(pa[seeds].mean()),
                     b: float(pb[seeds].mean()), "diff": diff, "half": half, "lo": diff - half, "hi": diff + half,
                     "n": n, "verdict": verdict(diff, half)})
    return pd.DataFrame(rows, columns=[*by, a, b, "diff", "half", "lo", "hi", "n", "verdict"])


class ClaimRow(NamedTuple):
    """One suite of a claim: the paired difference ``diff`` (points of the metric) over ``n`` seeds,
    the half-width ``half`` of its 95% t-interval (NaN for one seed) and the ``verdict``."""
    suite: str
    diff: float
    half: float
    n: int
    verdict: str


class _Structured(str):
    """A generated sentence that also carries its content: a ``str`` equal to the sentence (so the
    notebooks print and publish it as before) with the fields of ``FIELDS`` as attributes."""
    FIELDS: tuple[str, ...] = ()

    def __new__(cls, text: str, **fields):
        missing, unknown = [f for f in cls.FIELDS if f not in fields], [f for f in fields if f not in cls.FIELDS]
        if missing or unknown:
            raise TypeError(f"{cls.__name__} needs exactly the fields {', '.join(cls.FIELDS)}; "
                            f"missing {missing}, unknown {unknown}")
        obj = super().__new__(cls, text)
        obj.__dict__.update(fields)
        return obj

    def fields(self) -> dict:
        """The structured content as ``{field: value}``."""
        return {f: getattr(self, f) for f in self.FIELDS}

    def relabel(self, label: str):
        """The same content as the sentence ``"<label>: <sentence>"``, with ``label`` set."""
        return type(self)(f"{label}: {self}", **{**self.fields(), "label": label})

    def _with(self, **changes):
        return type(self)(str(self), **{**self.fields(), **changes})

    def __getnewargs_ex__(self):  # pickle and copy rebuild the fields too
        return (str(self),), self.fields()


class ClaimResult(_Structured):
    """A verdict sentence on ``a > b`` (:func:`claim_sentence`) with its content: ``claim`` (the claim's
    text), ``label`` (model, dataset or condition; ``None`` without), ``a``/``b`` (method keys),
    ``metric``, ``overall`` (``holds``, ``does not hold``, ``is inconclusive``, ``holds partly`` or
    ``not testable here``) and ``rows`` (one :class:`ClaimRow` per suite, in the sentence's order)."""
    FIELDS = ("claim", "label", "a", "b", "metric", "overall", "rows")


class OrderResult(_Structured):
    """An ordering sentence (:func:`ordering_sentence`) with its content: ``claim``, ``label``,
    ``metric`` (``None`` when not given), ``overall`` (``same order`` or ``different order``), and the
    method names best first: ``paper_order`` (the paper's) and ``ours_order``."""
    FIELDS = ("claim", "label", "metric", "overall", "paper_order", "ours_order")


def _overall(n_h: int, n_no: int, n_inc: int) -> str:
    total = n_h + n_no + n_inc
    if n_h == total:
        return "holds"
    if n_no == total:
        return "does not hold"
    if n_inc == total:
        return "is inconclusive"
    return "holds partly"


def claim_sentence(cmp: pd.DataFrame, a: str, b: str, claim: str, *, metric: str = "mIoU") -> ClaimResult:
    """One generated sentence: the verdict on ``a > b`` per suite in ``cmp`` (from :func:`compare`),
    with each paired difference and the half-width of its 95% interval; a :class:`ClaimResult`."""
    content = {"claim": claim, "label": None, "a": a, "b": b, "metric": metric}
    if cmp.empty:
        return ClaimResult(f"Claim '{claim}': not testable here (no seed run by both {a} and {b}).",
                           **content, overall="not testable here", rows=())
    A, B = METHOD_NAMES.get(a, a), METHOD_NAMES.get(b, b)
    counts = cmp["verdict"].value_counts()
    n_h, n_no, n_inc = (int(counts.get(v, 0)) for v in ("holds", "does not hold", "inconclusive"))
    total = len(cmp)
    overall = _overall(n_h, n_no, n_inc)
    rows = tuple(ClaimRow(str(r.iloc[0]), float(r["diff"]), float(r["half"]), int(r["n"]), r["verdict"])
                 for _, r in cmp.iterrows())
    parts = []
    for r in rows:
        hw = f"± {r.half:.2f}" if np.isfinite(r.half) else "(one seed: no interval)"
        parts.append(f"{r.suite}: {r.diff:+.2f} {hw}, {r.verdict}")
    n = int(cmp["n"].max())
    text = (f"Claim '{claim}' {overall} in our numbers: {A} > {B} holds in {n_h}, does not hold in {n_no}, is "
            f"inconclusive in {n_inc} of {total} suites ({metric} difference {A} − {B}, paired over {n} seeds, "
            "mean ± half-width of the 95% t-interval: " + "; ".join(parts) + ").")
    return ClaimResult(text, **content, overall=overall, rows=rows)


def claim(scores: pd.DataFrame, a: str, b: str, suites: Sequence[str], text: str, *, label: str | None = None,
          metric: str = "mIoU") -> ClaimResult:
    """The verdict sentence on ``a > b`` over ``suites``: :func:`compare` then :func:`claim_sentence`,
    prefixed with ``"<label>: "`` when a label (a model, a dataset, a condition) is given."""
    sentence = claim_sentence(compare(scores, a, b, suites, metric=metric), a, b, text, metric=metric)
    return sentence if label is None else sentence.relabel(label)


def claims(scores: pd.DataFrame, specs: Sequence[tuple[str, str, Sequence[str], str]], *, by: str | None = None,
           groups: Sequence[str] | None = None, metric: str = "mIoU") -> list[ClaimResult]:
    """:func:`claim` for each ``(a, b, suites, text)`` of ``specs``; with ``by`` (a column of ``scores``),
    for each value of it in ``groups`` (default: their order in ``scores``) on that value's rows, the
    sentences labelled with it, group by group."""
    if by is None:
        return [claim(scores, a, b, suites, text, metric=metric) for a, b, suites, text in specs]
    if by not in scores.columns:
        raise ValueError(f"by must be a column of scores ({', '.join(scores.columns)}), got {by!r}")
    groups = list(dict.fromkeys(scores[by])) if groups is None else list(groups)
    return [claim(scores[scores[by] == g], a, b, suites, text, label=str(g), metric=metric)
            for g in groups for a, b, suites, text in specs]


def measured_claim(rows: pd.DataFrame, a: str, b: str, claim: str, *, metric: str, over: str,
                   label: str | None = None) -> ClaimResult:
    """A claim ``a > b`` measured by differences that are not paired over seeds (Appendices D and E:
    over perturbation types, or over resampled subsets): ``rows`` has one row per suite with columns
    ``suite``, ``diff`` (the measured a − b, in units of ``metric``), ``half`` (half-width of its 95%
    interval) and ``n`` (what the interval is over, named by ``over``, e.g. ``"perturbation types"``).
    The verdict of each row is :func:`verdict`, the overall one as for :func:`claim_sentence`; a
    :class:`ClaimResult` whose sentence names ``over``."""
    if not isinstance(rows, pd.DataFrame) or not {"suite", "diff", "half", "n"} <= set(rows.columns):
        raise TypeError("rows must be a DataFrame with columns suite, diff, half, n")
    if rows.empty:
        raise ValueError(f"rows of claim {claim!r} is empty: nothing was measured")
    rs = tuple(ClaimRow(str(r["suite"]), float(r["diff"]), float(r["half"]), int(r["n"]),
                        verdict(float(r["diff"]), float(r["half"]))) for _, r in rows.iterrows())
    counts = [sum(r.verdict == v for r in rs) for v in ("holds", "does not hold", "inconclusive")]
    overall = _overall(*counts)
    parts = [f"{r.suite}: {r.diff:+.3g} ± {r.half:.2g}, {r.verdict}" if np.isfinite(r.half)
             else f"{r.suite}: {r.diff:+.3g} (no interval), {r.verdict}" for r in rs]
    text = (f"Claim '{claim}' {overall} in our numbers: it holds in {counts[0]}, does not hold in {counts[1]}, "
            f"is inconclusive in {counts[2]} of {len(rs)} rows ({metric}, mean ± half-width of the 95% t-interval "
            f"over {over}: " + "; ".join(parts) + ").")
    out = ClaimResult(text, claim=claim, label=None, a=a, b=b, metric=metric, overall=overall, rows=rs)
    return out if label is None else out.relabel(label)


#: Appendix D's grid step (α): uniform SA evaluates S on 10 magnitudes 0.1 … 1.0
GRID_STEP = 0.1


def appendix_d_claims(wide: pd.DataFrame, *, label: str | None = None) -> list[ClaimResult]:
    """Appendix D's two claims on the levels table of notebook 03 (``wide``: one row per type with
    ``level{k}_uniform``, ``level{k}_adaptive`` in α and ``n_evals_uniform``, ``n_evals_adaptive``):

    - *adaptive SA needs fewer evaluations than the uniform grid*: per type
      ``n_evals_uniform − n_evals_adaptive`` (evaluations), mean ± t-interval over the types;
    - *adaptive SA finds levels as close as the grid resolves to the uniform ones*: per type
      ``GRID_STEP − mean_k |level_k^adaptive − level_k^uniform|`` (α; > 0: closer than one grid
      step on average), mean ± t-interval over the types.
    """
    need = {"type", "n_evals_uniform", "n_evals_adaptive"}
    if not isinstance(wide, pd.DataFrame) or not need <= set(wide.columns):
        raise TypeError(f"wide must be the levels table of notebook 03 with columns {sorted(need)} and level*_uniform/_adaptive")
    ks = sorted(int(c[len("level"):-len("_uniform")]) for c in wide.columns
                if c.startswith("level") and c.endswith("_uniform") and f"{c[:-len('_uniform')]}_adaptive" in wide.columns)
    if not ks:
        raise ValueError("wide has no pair of level<k>_uniform / level<k>_adaptive columns")
    saved = wide["n_evals_uniform"].astype(float) - wide["n_evals_adaptive"].astype(float)
    gap = np.mean([np.abs(wide[f"level{k}_adaptive"].astype(float) - wide[f"level{k}_uniform"].astype(float))
                   for k in ks], axis=0)
    out = []
    for values, suite, claim, metric in (
            (saved, "evaluations per type", "adaptive SA needs fewer evaluations than the uniform grid (App. D)",
             "evaluations saved: uniform − adaptive"),
            (GRID_STEP - gap, "levels (α)", "adaptive SA levels within one grid step of the uniform ones (App. D)",
             f"{GRID_STEP} − mean |α adaptive − α uniform|")):
        diff, half, n = paired_interval(list(values))
        rows = pd.DataFrame([{"suite": suite, "diff": diff, "half": half, "n": n}])
        out.append(measured_claim(rows, "adaptive", "uniform", claim, metric=metric, over="perturbation types",
                                  label=label))
    return out


def appendix_e_claims(summary: pd.DataFrame, *, sizes: Sequence[int] | None = None,
                      level: float = 0.95) -> list[ClaimResult]:
    """Appendix E's claim, *KID's relative error at small sample sizes is smaller than FID's* (FID is
    biased at small n, KID is not), on :func:`repro.paper.kid_study.summarise_sample_size_study`'s frame.

    Per perturbation and sample size n (default: the two smallest), with ``m`` the mean signed
    relative error (%) over R resamples and ``s`` its std: the difference ``|m_FID| − |m_KID|`` (%)
    ± ``t_{(1+level)/2, R−1} · sqrt((s_FID² + s_KID²) / R)`` (``s`` with ddof 1; the two metrics treated
    as independent, which is conservative for errors computed on the same subsets). One claim row per
    (perturbation, n)."""
    from scipy import stats

    need = {"perturbation", "magnitude", "metric", "n", "rel_error_mean", "rel_error_std", "resamples"}
    if not isinstance(summary, pd.DataFrame) or not need <= set(summary.columns):
        raise TypeError(f"summary must be summarise_sample_size_study's frame with columns {sorted(need)}")
    full = summary["n"].max()
    ns = sorted(n for n in set(summary["n"]) if n < full)[:2] if sizes is None else list(sizes)
    rows = []
    for (name, mag, n), sub in summary[summary["n"].isin(ns)].groupby(["perturbation", "magnitude", "n"], sort=False):
        k, f = (sub[sub["metric"] == m].iloc[0] for m in ("KID", "FID"))
        R = int(min(k["resamples"], f["resamples"]))
        sd = [100 * float(r["rel_error_std"]) * np.sqrt(R / (R - 1)) if R > 1 else np.nan for r in (k, f)]
        half = float(stats.t.ppf(0.5 + level / 2, R - 1) * np.sqrt((sd[0] ** 2 + sd[1] ** 2) / R)) if R > 1 else np.nan
        diff = 100 * (abs(float(f["rel_error_mean"])) - abs(float(k["rel_error_mean"])))
        rows.append({"suite": f"{name}@{mag:g}, n={int(n)}", "diff": diff, "half": half, "n": R})
    if not rows:
        raise ValueError(f"summary has no rows at the sample sizes {ns}")
    return [measured_claim(pd.DataFrame(rows), "KID", "FID", "KID's relative error at small n is smaller than FID's (App. E)",
                           metric="|rel. error| of FID − of KID, %", over="resampled subsets")]


def ordering_sentence(means: pd.Series, expected: Sequence[str], claim: str) -> OrderResult:
    """Does the ranking of ``means`` (index = method) follow ``expected`` (best first)? An :class:`OrderResult`."""
    ours = [m for m in means.sort_values(ascending=False).index]
    exp = [m for m in expected if m in means.index]
    ours_names = [METHOD_NAMES.get(m, m) for m in ours]
    exp_names = [METHOD_NAMES.get(m, m) for m in exp]
    same = ours == exp
    text = (f"Claim '{claim}': the paper's order is {' > '.join(exp_names)}; ours is {' > '.join(ours_names)} — "
            + ("the same order." if same else "a different order."))
    return OrderResult(text, claim=claim, label=None, metric=None, overall="same order" if same else "different order",
                       paper_order=tuple(exp_names), ours_order=tuple(ours_names))


def method_order_claim(table: pd.DataFrame, published_table: pd.DataFrame, model: str, text: str, *,
                       value: str = "mIoU") -> OrderResult:
    """:func:`ordering_sentence` for one model of a Table-1-like ``table`` (columns model, method,
    ``value``) against the published order of its family (:func:`paper_family`: ``segformer`` for
    SegFormer models, else ``pspnet``) in ``published_table``, labelled with the model."""
    ours = table[table.model == model].set_index("method")[value]
    family = paper_family(model)
    pub = published_table[(published_table.model == family) & published_table.method.isin(ours.index)]
    expected = pub.sort_values(value, ascending=False)["method"]
    return ordering_sentence(ours, list(expected), text)._with(metric=value).relabel(model)


def loss_sentence(scores: pd.DataFrame, from_suite: str, to_suite: str, text: str, *, label: str | None = None,
                  metric: str = "mIoU") -> str:
    """Per method, the mean ``metric`` lost from ``from_suite`` to ``to_suite`` (points), in one line."""
    means = suite_means(scores, by=("method", "suite")).pivot(index="method", columns="suite", values=metric)
    loss = means[from_suite] - means[to_suite]
    line = f"{text}: " + ", ".join(f"{METHOD_NAMES.get(m, m)} {v:.1f}" for m, v in loss.items())
    return line if label is None else f"{label}: {line}"


# ------------------------------------------------------------------------------------ claims as rows

#: the file beside a published table ``<name>.csv`` that holds its claim rows (:func:`save_claims`)
CLAIMS_SUFFIX = "_claims.csv"
#: the columns of a claims file: one row per (claim, label, suite); ``ours_*`` in points of ``metric``
CLAIM_COLUMNS = ("table", "claim", "label", "a", "b", "suite", "metric", "ours_diff", "ours_half", "n", "verdict",
                 "overall", "paper_diff", "paper_note", "paper_order", "ours_order")


def _analogue(table: str, label: str | None, suite: str) -> tuple[str, dict, str] | str:
    """Where the paper reports the comparison of one claim row of our table ``table``: (published
    table, the keys of its rows besides the method, a note saying which), or the reason it has none.
    The keys are those :func:`table1` … :func:`table5` join the paper's columns on."""
    if table == "table1_methods":
        family = paper_family(label or "")
        if suite != "clean":
            return f"the paper's Table 1 is clean data only, not {suite}"
        return "table1_cityscapes_methods", {"model": family}, f"Cityscapes, {family}"
    if table == "table2_real_world":
        if suite != "real_world":
            return f"the paper's Table 2 is ACDC and IDD only, not {suite}"
        return "table2_real_world_zero_shot", {"eval_dataset": "acdc"}, "ACDC; the paper also reports IDD"
    if table == "table3_conditions":
        if not label:
            return "no condition label to match an ACDC condition"
        cond = paper_condition(label)
        return "table3_acdc_by_condition", {"condition": cond}, f"ACDC {cond}" + (
            ", dusk ↔ night" if label.startswith("dusk") else "")
    if table == "table4_datasets":
        if not label:
            return "no dataset label to match a published dataset"
        analog = PAPER_ANALOG.get(label, label)
        note = analog if analog == label else f"{analog}, closest published domain to {label}"
        return "table4_datasets_suites", {"dataset": analog, "suite": suite}, note
    if table == "table5_ablation":
        psuite = paper_suite(suite)
        return "table5_ablation", {"suite": psuite}, "Cityscapes, pspnet" + (f"; {suite} ↔ {psuite}" if psuite != suite else "")
    if table.startswith("appendixE"):
        return "the paper shows Appendix E as a figure, without numbers"
    return f"no published analogue of {table}"


def _appendix_d_paper(suite: str) -> tuple[float, str]:
    """The paper's Appendix D value of one of :func:`appendix_d_claims`' rows: for ``levels (α)``,
    ``GRID_STEP − mean |adaptive − baseline|`` over its 12 colour-channel rows and 4 levels (the blur
    and noise rows are printed as kernel size and σ, not α); no evaluation counts are printed."""
    if suite != "levels (α)":
        return float("nan"), "the paper's Appendix D prints levels, not evaluation counts"
    pub = published("appendixD_levels")
    pub = pub[pub["kind"] == "color_channel"]
    cols = [c for c in pub.columns if c.startswith("level")]
    ad = pub[pub["method"] == "adaptive"].set_index("row")[cols].astype(float)
    un = pub[pub["method"] == "baseline"].set_index("row")[cols].astype(float)
    gap = float((ad - un.reindex(ad.index)).abs().to_numpy().mean())
    return GRID_STEP - gap, f"Appendix D, {len(ad)} colour-channel types × {len(cols)} levels"


def paper_difference(table: str, a: str, b: str, *, label: str | None, suite: str,
                     metric: str = "mIoU") -> tuple[float, str]:
    """The paper's ``a − b`` (points of ``metric``, single published numbers) for one claim row of our
    table ``table`` (e.g. ``table1_methods``), on the closest published setting (:func:`_analogue`),
    and a note saying which; ``(nan, reason)`` where the paper has no such comparison."""
    if table.startswith("appendixD"):
        return _appendix_d_paper(suite)
    found = _analogue(table, label, suite)
    if isinstance(found, str):
        return float("nan"), found
    name, keys, note = found
    pub = paper_numbers(name)
    if metric not in pub.columns:
        return float("nan"), f"the paper reports no {metric} in {name}"
    A, B = METHOD_NAMES.get(a, a), METHOD_NAMES.get(b, b)
    pa, pb = paper_row(pub, method=A, **keys), paper_row(pub, method=B, **keys)
    missing = [m for m, row in ((A, pa), (B, pb)) if row is None]
    if missing:
        where = ", ".join(f"{k} {v}" for k, v in keys.items())
        return float("nan"), f"the paper has no {' or '.join(missing)} row for {where}"
    return float(pa[metric]) - float(pb[metric]), note


def _difference_rows(c: ClaimResult, table: str) -> list[dict]:
    base = {"table": table, "claim": c.claim, "label": c.label or "", "a": c.a, "b": c.b, "metric": c.metric,
            "overall": c.overall, "paper_order": "", "ours_order": ""}
    if not c.rows:
        return [{**base, "suite": "", "ours_diff": np.nan, "ours_half": np.nan, "n": 0, "verdict": c.overall,
                 "paper_diff": np.nan, "paper_note": f"no seed run by both {c.a} and {c.b}"}]
    out = []
    for r in c.rows:
        pdiff, pnote = paper_difference(table, c.a, c.b, label=c.label, suite=r.suite, metric=c.metric)
        out.append({**base, "suite": r.suite, "ours_diff": r.diff, "ours_half": r.half, "n": r.n, "verdict": r.verdict,
                    "paper_diff": pdiff, "paper_note": pnote})
    return out


def _order_row(o: OrderResult, table: str) -> dict:
    return {"table": table, "claim": o.claim, "label": o.label or "", "a": "", "b": "", "suite": "",
            "metric": o.metric or "", "ours_diff": np.nan, "ours_half": np.nan, "n": pd.NA, "verdict": o.overall,
            "overall": o.overall, "paper_diff": np.nan, "paper_note": "an ordering: see paper_order and ours_order",
            "paper_order": " > ".join(o.paper_order), "ours_order": " > ".join(o.ours_order)}


def claim_rows(notes: Sequence[str], table: str) -> pd.DataFrame:
    """The structured claims among ``notes`` (:class:`ClaimResult`, :class:`OrderResult`; plain
    sentences are skipped) as rows of :data:`CLAIM_COLUMNS`, in the order of ``notes``: one per
    (claim, label, suite), with ``ours_diff`` ± ``ours_half`` from :func:`compare` and ``paper_diff``
    from :func:`paper_difference`; one row per ordering and per claim not testable here."""
    if not isinstance(notes, (list, tuple)) or not all(isinstance(n, str) for n in notes):
        raise TypeError(f"notes must be a list of strings (claim sentences), got {notes!r:.80}")
    rows = []
    for note in notes:
        if isinstance(note, ClaimResult):
            rows += _difference_rows(note, table)
        elif isinstance(note, OrderResult):
            rows.append(_order_row(note, table))
    df = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    df["n"] = df["n"].astype("Int64")
    return df


def save_claims(notes: Sequence[str], name: str, *, profile: str) -> Path | None:
    """Write ``<name>_claims.csv`` (:func:`claim_rows`) beside the table ``<name>.csv`` in the profile's
    folder (:func:`repro.base.paths.output_dir`, as :func:`repro.paper.outputs.save_table`). Without structured
    claims nothing is written and a claims file of an earlier run is removed (it no longer matches the
    table's notes). Returns the written path or ``None``. Not recorded in the index on its own: the
    index lists it in its table's row (:func:`repro.paper.reproduce.write_index`)."""
    _check_name(name)
    rows = claim_rows(notes, name)
    path = paths.output_dir(profile) / f"{name}{CLAIMS_SUFFIX}"
    if rows.empty:
        path.unlink(missing_ok=True)
        return None
    rows.to_csv(path, index=False, float_format="%.4f")
    print(f"saved {paths.relpath(path)} ({len(rows)} claim rows)")
    return path


