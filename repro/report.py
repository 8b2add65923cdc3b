"""Assemble the paper's tables from our scores, beside the published numbers, and state in
generated sentences whether the paper's claims hold in our numbers.

Our scores come as a long DataFrame (see :func:`repro.experiments.score_runs`) with columns
``dataset, model, method, seed, suite, item, level, aAcc, mAcc, mIoU`` (percent). Each table
reports the mean ± std over seeds (``n_seeds`` says how many) and the published numbers in
columns prefixed ``paper_``. The published tables are on other datasets (Cityscapes, ACDC, …),
so the side-by-side is a comparison of trends (orderings, gains), not of absolute values.

The claim sentences are ``str`` subclasses (:class:`ClaimResult`, :class:`OrderResult`) that also
carry their content; :func:`publish` writes it as ``<name>_claims.csv`` beside the table, one row
per (claim, label, suite) with the paper's difference of the same two methods where a published
table has it (:func:`paper_difference`), and :mod:`repro.claims_page` gathers those files into
``CLAIMS.md``.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd

from . import paths
from .tables import _check_name, published

METRICS = ("aAcc", "mAcc", "mIoU")
METHOD_ORDER = ("Baseline", "AugMix", "AutoAugment", "RandAugment", "TrivialAugment", "SOTA", "Ours")
ABLATION_ORDER = ("Baseline", "Ours~SA", "Ours~g", "Ours~p", "Ours")
#: our method keys (configs) → the paper's row names
METHOD_NAMES = {"baseline": "Baseline", "augmix": "AugMix", "autoaugment": "AutoAugment", "randaugment": "RandAugment",
                "trivialaugment": "TrivialAugment", "sota": "SOTA", "ours": "Ours", "ours_no_sa": "Ours~SA",
                "ours_no_geo": "Ours~g", "ours_no_photo": "Ours~p"}
SCORE_COLUMNS = ("dataset", "model", "method", "seed", "suite", "item", "level", *METRICS)


def _check_scores(scores: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores must be a DataFrame, got {type(scores).__name__}")
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"scores lack columns {missing}; expected {list(SCORE_COLUMNS)}")
    return scores


def suite_means(scores: pd.DataFrame, *, by: Sequence[str] = ("dataset", "model", "method", "suite")) -> pd.DataFrame:
    """Per run: the mean over a suite's items; then mean, std and count over seeds.

    Returns one row per ``by`` group with columns ``<metric>`` (mean over seeds), ``<metric>_std``
    (sample std over seeds, NaN for one seed) and ``n_seeds``.
    """
    scores = _check_scores(scores)
    by = list(by)
    per_run = scores.groupby(by + ["seed"], sort=False)[list(METRICS)].mean().reset_index()
    g = per_run.groupby(by, sort=False)
    out = g[list(METRICS)].mean()
    for m in METRICS:
        out[f"{m}_std"] = g[m].std(ddof=1)
    out["n_seeds"] = g["seed"].nunique()
    return out.reset_index()


def _fmt(mean: float, std: float) -> str:
    return f"{mean:.2f}" if not np.isfinite(std) else f"{mean:.2f} ± {std:.2f}"


def _order(df: pd.DataFrame, col: str, order: Sequence[str]) -> pd.DataFrame:
    rank = {k: i for i, k in enumerate(order)}
    return df.sort_values(col, key=lambda s: s.map(lambda v: rank.get(v, len(rank))), kind="stable")


def _display_names(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["method"] = df["method"].map(lambda m: METHOD_NAMES.get(m, m))
    return df


# ------------------------------------------------------------------ the paper's numbers, one lookup for all tables


def paper_family(model: str) -> str:
    """The published model family of one of our models: ``segformer`` for SegFormer models (a MiT encoder,
    ``segformer_*``), else ``pspnet`` (the paper's CNN, also for ``lite0_segformer``: a CNN encoder with
    SegFormer's decoder head)."""
    return "segformer" if model.startswith("segformer") else "pspnet"


def paper_condition(label: str) -> str:
    """The ACDC condition of a Table-3 condition label: its first word (``"fog (IN-C s3, synthetic)"`` → ``fog``),
    except that dusk is paired with the paper's night."""
    return "night" if label.startswith("dusk") else label.split()[0]


def paper_suite(suite: str) -> str:
    """The published Table-5 suite of one of our suites: ``real_world`` ↔ ``acdc``, the others by name."""
    return "acdc" if suite == "real_world" else suite


def paper_numbers(name: str) -> pd.DataFrame:
    """The published table ``name`` (:func:`repro.tables.published`) with its metrics in columns named
    ``aAcc``, ``mAcc``, ``mIoU`` whatever their printed order (paper/README.md): Table 3's columns run
    aAcc, mIoU, mAcc; Table 5's ``acdc`` rows too, its other rows aAcc, mAcc, mIoU. Percent."""
    pub = published(name)
    if name == "table3_acdc_by_condition":
        pub = pub.rename(columns={"col1_aAcc": "aAcc", "col2_printed_mAcc": "mIoU", "col3_printed_mIoU": "mAcc"})
    elif name == "table5_ablation":
        acdc = pub["suite"] == "acdc"
        pub = pub.assign(aAcc=pub["col1_aAcc"], mAcc=pub["col2"].where(~acdc, pub["col3"]),
                         mIoU=pub["col3"].where(~acdc, pub["col2"]))
    return pub


def paper_row(pub: pd.DataFrame, **keys) -> pd.Series | None:
    """The first row of a published table whose columns equal ``keys`` (e.g. ``model="pspnet",
    method="Ours"``), or ``None`` when the paper has none."""
    mask = np.ones(len(pub), dtype=bool)
    for col, value in keys.items():
        mask &= (pub[col] == value).to_numpy()
    return pub[mask].iloc[0] if mask.any() else None


def _paper_metrics(p: pd.Series | None, metrics: Sequence[str] = METRICS) -> dict[str, float]:
    """``{"paper_<metric>": value}`` from :func:`paper_row`'s row (NaN where the paper has no row)."""
    return {f"paper_{m}": float(p[m]) if p is not None else np.nan for m in metrics}


def table1(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 1: clean aAcc/mAcc/mIoU per model and method, the mIoU gain over Baseline (%), and the
    published Cityscapes numbers and gain for the same model family."""
    s = _display_names(suite_means(scores[scores["suite"] == "clean"], by=("model", "method")))
    pub = paper_numbers("table1_cityscapes_methods")
    rows = []
    for model, grp in s.groupby("model", sort=False):
        family = paper_family(model)
        base = grp.loc[grp["method"] == "Baseline", "mIoU"]
        pbase = paper_row(pub, model=family, method="Baseline")
        for _, r in grp.iterrows():
            p = paper_row(pub, model=family, method=r["method"])
            row = {"model": model, "method": r["method"], "n_seeds": int(r["n_seeds"])}
            for m in METRICS:
                row[m] = round(r[m], 2)
                row[f"{m}_std"] = round(r[f"{m}_std"], 2) if np.isfinite(r[f"{m}_std"]) else np.nan
            row["mIoU_gain_vs_baseline_%"] = round(100 * (r["mIoU"] / base.iloc[0] - 1), 1) if len(base) else np.nan
            row.update(_paper_metrics(p))
            row["paper_mIoU_gain_vs_baseline_%"] = (round(100 * (float(p["mIoU"]) / float(pbase["mIoU"]) - 1), 1)
                                                    if p is not None and pbase is not None else np.nan)
            rows.append(row)
    out = pd.DataFrame(rows)
    return _order(out, "method", METHOD_ORDER).sort_values("model", kind="stable").reset_index(drop=True)


def _paper_real_world() -> pd.DataFrame:
    pub = published("table2_real_world_zero_shot")
    wide = pub.pivot(index="method", columns="eval_dataset", values=["aAcc", "mIoU", "mAcc"])
    wide.columns = [f"paper_{ds}_{m}" for m, ds in wide.columns]
    return wide.reset_index()


def table2(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 2: zero-shot on real adverse data (ours: CamVid dusk; paper: ACDC and IDD)."""
    rw = scores[scores["suite"] == "real_world"]
    s = _display_names(suite_means(rw, by=("model", "method", "item")))
    out = s[["model", "method", "item", *METRICS, *(f"{m}_std" for m in METRICS), "n_seeds"]].round(2)
    out = out.merge(_paper_real_world(), on="method", how="left")
    return _order(out, "method", METHOD_ORDER).sort_values(["model", "item"], kind="stable").reset_index(drop=True)


def table3(scores: pd.DataFrame, conditions: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Table 3: per condition. ``conditions`` maps a column label to (suite, item), e.g.
    ``{"dusk (real)": ("real_world", "camvid_dusk"), "fog (IN-C, synthetic)": ("imagenet_c", "fog")}``.
    The paper's ACDC conditions are joined where the condition name starts with one of fog, rain,
    night, snow (dusk ↔ night)."""
    pub = paper_numbers("table3_acdc_by_condition")  # printed order aAcc, mIoU, mAcc: see paper/README.md
    rows = []
    for label, (suite, item) in conditions.items():
        sub = scores[(scores["suite"] == suite) & (scores["item"] == item)]
        if sub.empty:
            continue
        s = _display_names(suite_means(sub, by=("model", "method")))
        key = paper_condition(label)
        for _, r in s.iterrows():
            p = paper_row(pub, condition=key, method=r["method"])
            row = {"condition": label, "model": r["model"], "method": r["method"], "n_seeds": int(r["n_seeds"])}
            for m in METRICS:
                row[m] = round(r[m], 2)
                row[f"{m}_std"] = round(r[f"{m}_std"], 2) if np.isfinite(r[f"{m}_std"]) else np.nan
            row["paper_condition"] = f"acdc_{key}" if p is not None else ""
            row.update(_paper_metrics(p))
            rows.append(row)
    return _order(pd.DataFrame(rows), "method", METHOD_ORDER).sort_values(["condition", "model"], kind="stable").reset_index(drop=True)


#: our shipped datasets → the published dataset of the closest domain
PAPER_ANALOG = {"camvid": "cityscapes", "isbi2012_em": "synapse"}


def table4(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 4: SOTA vs Ours per dataset and suite; paper numbers of the closest published domain."""
    s = _display_names(suite_means(scores[scores["method"].isin(["sota", "ours"])], by=("dataset", "method", "suite")))
    pub = paper_numbers("table4_datasets_suites")
    rows = []
    for _, r in s.iterrows():
        analog = PAPER_ANALOG.get(r["dataset"], r["dataset"])
        p = paper_row(pub, dataset=analog, method=r["method"], suite=r["suite"])
        row = {"dataset": r["dataset"], "suite": r["suite"], "method": r["method"], "n_seeds": int(r["n_seeds"])}
        for m in METRICS:
            row[m] = round(r[m], 2)
            row[f"{m}_std"] = round(r[f"{m}_std"], 2) if np.isfinite(r[f"{m}_std"]) else np.nan
        row["paper_dataset"] = analog if p is not None else ""
        row.update(_paper_metrics(p))
        rows.append(row)
    suite_order = {s: i for i, s in enumerate(("clean", "basis_aug", "advsteer", "imagenet_c", "real_world"))}
    out = pd.DataFrame(rows)
    return out.sort_values(["dataset", "suite", "method"], key=lambda c: c.map(suite_order) if c.name == "suite" else c,
                           kind="stable").reset_index(drop=True)


def table5(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 5: the ablation rows × suites (mIoU, mean ± std), beside the paper's mIoU. The paper's
    ``acdc`` rows are in the order aAcc, mIoU, mAcc (paper/README.md); ours map real_world to them."""
    s = _display_names(suite_means(scores, by=("method", "suite")))
    s = s[s["method"].isin(ABLATION_ORDER)]
    pub = paper_numbers("table5_ablation")
    rows = []
    for _, r in s.iterrows():
        psuite = paper_suite(r["suite"])
        rows.append({"method": r["method"], "suite": r["suite"], "mIoU": round(r["mIoU"], 2),
                     "mIoU_std": round(r["mIoU_std"], 2) if np.isfinite(r["mIoU_std"]) else np.nan,
                     "aAcc": round(r["aAcc"], 2), "mAcc": round(r["mAcc"], 2), "n_seeds": int(r["n_seeds"]),
                     "paper_suite": psuite,
                     **_paper_metrics(paper_row(pub, method=r["method"], suite=psuite), ("mIoU",))})
    return _order(pd.DataFrame(rows), "method", ABLATION_ORDER).reset_index(drop=True)


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
    biased at small n, KID is not), on :func:`repro.kid_study.summarise_sample_size_study`'s frame.

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
    folder (:func:`repro.paths.output_dir`, as :func:`repro.tables.save_table`). Without structured
    claims nothing is written and a claims file of an earlier run is removed (it no longer matches the
    table's notes). Returns the written path or ``None``. Not recorded in the index on its own: the
    index lists it in its table's row (:func:`repro.reproduce.write_index`)."""
    _check_name(name)
    rows = claim_rows(notes, name)
    path = paths.output_dir(profile) / f"{name}{CLAIMS_SUFFIX}"
    if rows.empty:
        path.unlink(missing_ok=True)
        return None
    rows.to_csv(path, index=False, float_format="%.4f")
    print(f"saved {paths.relpath(path)} ({len(rows)} claim rows)")
    return path


# ------------------------------------------------------------------------------------ figures


def plot_bars(df: pd.DataFrame, *, group: str | Sequence[str], hue: str, value: str = "mIoU", err: str | None = "mIoU_std",
              paper: str | None = None, title: str = "", ylabel: str | None = None):
    """Grouped bars of ``value`` (± ``err``) by ``group`` and ``hue``; with ``paper`` (a column of
    published values) a second panel shows the paper's numbers in the same layout. ``group`` is a
    column, or a list of columns whose values are joined with "/" (e.g. ``["dataset", "suite"]``)."""
    import matplotlib.pyplot as plt

    if not isinstance(group, str):
        df = df.assign(_group=df[list(group)].astype(str).agg("/".join, axis=1))
        group = "_group"

    panels = [(value, err, "ours")] + ([(paper, None, "paper")] if paper and df[paper].notna().any() else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 3.4), squeeze=False)
    groups = list(dict.fromkeys(df[group]))
    hues = list(dict.fromkeys(df[hue]))
    width = 0.8 / max(len(hues), 1)
    for ax, (col, ecol, label) in zip(axes[0], panels):
        for j, h in enumerate(hues):
            sub = df[df[hue] == h].set_index(group).reindex(groups)
            yerr = sub[ecol].fillna(0).to_numpy() if ecol and ecol in sub else None
            ax.bar([i + (j - (len(hues) - 1) / 2) * width for i in range(len(groups))], sub[col].to_numpy(), width,
                   yerr=yerr, label=str(h), capsize=2)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, rotation=20, ha="right")
        ax.set_ylabel(ylabel or value)
        ax.set_title(f"{title} ({label})" if title else label)
        ax.grid(axis="y", alpha=0.3)
    axes[0][-1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def publish(table: pd.DataFrame, name: str, *, profile: str, caption: str, notes: Sequence[str] = (),
            plot: dict | None = None, floatfmt: str = ".2f"):
    """A paper table's outputs in one call: the bar figure (:func:`plot_bars` with the ``plot``
    arguments, saved as ``<name>.png``), the table with its caption and claim sentences
    (``<name>.csv`` / ``.md``, :func:`repro.tables.save_table`, numbers formatted by ``floatfmt``) and
    the structured claims among the
    notes (``<name>_claims.csv``, :func:`save_claims`). Returns the figure (or ``None``)."""
    from .tables import save_figure, save_table

    fig = None
    if plot is not None:
        fig = plot_bars(table, **plot)
        save_figure(fig, name, profile=profile)
    save_table(table, name, profile=profile, caption=caption, notes=list(notes), floatfmt=floatfmt)
    save_claims(list(notes), name, profile=profile)
    return fig
