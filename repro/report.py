"""Assemble the paper's tables from our scores, beside the published numbers, and state in
generated sentences whether the paper's claims hold in our numbers.

Our scores come as a long DataFrame (see :func:`repro.experiments.score_runs`) with columns
``dataset, model, method, seed, suite, item, level, aAcc, mAcc, mIoU`` (percent). Each table
reports the mean ± std over seeds (``n_seeds`` says how many) and the published numbers in
columns prefixed ``paper_``. The published tables are on other datasets (Cityscapes, ACDC, …),
so the side-by-side is a comparison of trends (orderings, gains), not of absolute values.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .tables import published

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


def table1(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 1: clean aAcc/mAcc/mIoU per model and method, the mIoU gain over Baseline (%), and the
    published Cityscapes numbers and gain for the same model family."""
    s = _display_names(suite_means(scores[scores["suite"] == "clean"], by=("model", "method")))
    pub = published("table1_cityscapes_methods")
    rows = []
    for model, grp in s.groupby("model", sort=False):
        family = "segformer" if "segformer" in model else "pspnet"
        base = grp.loc[grp["method"] == "Baseline", "mIoU"]
        pbase = pub[(pub.model == family) & (pub.method == "Baseline")]["mIoU"]
        for _, r in grp.iterrows():
            p = pub[(pub.model == family) & (pub.method == r["method"])]
            row = {"model": model, "method": r["method"], "n_seeds": int(r["n_seeds"])}
            for m in METRICS:
                row[m] = round(r[m], 2)
                row[f"{m}_std"] = round(r[f"{m}_std"], 2) if np.isfinite(r[f"{m}_std"]) else np.nan
            row["mIoU_gain_vs_baseline_%"] = round(100 * (r["mIoU"] / base.iloc[0] - 1), 1) if len(base) else np.nan
            for m in METRICS:
                row[f"paper_{m}"] = float(p[m].iloc[0]) if len(p) else np.nan
            row["paper_mIoU_gain_vs_baseline_%"] = (round(100 * (float(p["mIoU"].iloc[0]) / float(pbase.iloc[0]) - 1), 1)
                                                    if len(p) and len(pbase) else np.nan)
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
    pub = published("table3_acdc_by_condition").rename(
        columns={"col1_aAcc": "aAcc", "col2_printed_mAcc": "mIoU", "col3_printed_mIoU": "mAcc"})  # see paper/README.md
    rows = []
    for label, (suite, item) in conditions.items():
        sub = scores[(scores["suite"] == suite) & (scores["item"] == item)]
        if sub.empty:
            continue
        s = _display_names(suite_means(sub, by=("model", "method")))
        key = "night" if label.startswith("dusk") else label.split()[0]
        for _, r in s.iterrows():
            p = pub[(pub.condition == key) & (pub.method == r["method"])]
            row = {"condition": label, "model": r["model"], "method": r["method"], "n_seeds": int(r["n_seeds"])}
            for m in METRICS:
                row[m] = round(r[m], 2)
                row[f"{m}_std"] = round(r[f"{m}_std"], 2) if np.isfinite(r[f"{m}_std"]) else np.nan
            row["paper_condition"] = f"acdc_{key}" if len(p) else ""
            for m in METRICS:
                row[f"paper_{m}"] = float(p[m].iloc[0]) if len(p) else np.nan
            rows.append(row)
    return _order(pd.DataFrame(rows), "method", METHOD_ORDER).sort_values(["condition", "model"], kind="stable").reset_index(drop=True)


#: our shipped datasets → the published dataset of the closest domain
PAPER_ANALOG = {"camvid": "cityscapes", "isbi2012_em": "synapse"}


def table4(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 4: SOTA vs Ours per dataset and suite; paper numbers of the closest published domain."""
    s = _display_names(suite_means(scores[scores["method"].isin(["sota", "ours"])], by=("dataset", "method", "suite")))
    pub = published("table4_datasets_suites")
    rows = []
    for _, r in s.iterrows():
        analog = PAPER_ANALOG.get(r["dataset"], r["dataset"])
        p = pub[(pub.dataset == analog) & (pub.method == r["method"]) & (pub.suite == r["suite"])]
        row = {"dataset": r["dataset"], "suite": r["suite"], "method": r["method"], "n_seeds": int(r["n_seeds"])}
        for m in METRICS:
            row[m] = round(r[m], 2)
            row[f"{m}_std"] = round(r[f"{m}_std"], 2) if np.isfinite(r[f"{m}_std"]) else np.nan
        row["paper_dataset"] = analog if len(p) else ""
        for m in METRICS:
            row[f"paper_{m}"] = float(p[m].iloc[0]) if len(p) else np.nan
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
    pub = published("table5_ablation")
    pub_miou = {(r.method, r.suite): (r.col2 if r.suite == "acdc" else r.col3) for r in pub.itertuples()}
    rows = []
    for _, r in s.iterrows():
        psuite = "acdc" if r["suite"] == "real_world" else r["suite"]
        rows.append({"method": r["method"], "suite": r["suite"], "mIoU": round(r["mIoU"], 2),
                     "mIoU_std": round(r["mIoU_std"], 2) if np.isfinite(r["mIoU_std"]) else np.nan,
                     "aAcc": round(r["aAcc"], 2), "mAcc": round(r["mAcc"], 2), "n_seeds": int(r["n_seeds"]),
                     "paper_suite": psuite, "paper_mIoU": pub_miou.get((r["method"], psuite), np.nan)})
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


def claim_sentence(cmp: pd.DataFrame, a: str, b: str, claim: str, *, metric: str = "mIoU") -> str:
    """One generated sentence: the verdict on ``a > b`` per suite in ``cmp`` (from :func:`compare`),
    with each paired difference and the half-width of its 95% interval."""
    if cmp.empty:
        return f"Claim '{claim}': not testable here (no seed run by both {a} and {b})."
    A, B = METHOD_NAMES.get(a, a), METHOD_NAMES.get(b, b)
    counts = cmp["verdict"].value_counts()
    n_h, n_no, n_inc = (int(counts.get(v, 0)) for v in ("holds", "does not hold", "inconclusive"))
    total = len(cmp)
    if n_h == total:
        overall = "holds"
    elif n_no == total:
        overall = "does not hold"
    elif n_inc == total:
        overall = "is inconclusive"
    else:
        overall = "holds partly"
    parts = []
    for _, r in cmp.iterrows():
        hw = f"± {r['half']:.2f}" if np.isfinite(r["half"]) else "(one seed: no interval)"
        parts.append(f"{r.iloc[0]}: {r['diff']:+.2f} {hw}, {r['verdict']}")
    n = int(cmp["n"].max())
    return (f"Claim '{claim}' {overall} in our numbers: {A} > {B} holds in {n_h}, does not hold in {n_no}, is "
            f"inconclusive in {n_inc} of {total} suites ({metric} difference {A} − {B}, paired over {n} seeds, "
            "mean ± half-width of the 95% t-interval: " + "; ".join(parts) + ").")


def claim(scores: pd.DataFrame, a: str, b: str, suites: Sequence[str], text: str, *, label: str | None = None,
          metric: str = "mIoU") -> str:
    """The verdict sentence on ``a > b`` over ``suites``: :func:`compare` then :func:`claim_sentence`,
    prefixed with ``"<label>: "`` when a label (a model, a dataset, a condition) is given."""
    sentence = claim_sentence(compare(scores, a, b, suites, metric=metric), a, b, text, metric=metric)
    return sentence if label is None else f"{label}: {sentence}"


def claims(scores: pd.DataFrame, specs: Sequence[tuple[str, str, Sequence[str], str]], *, by: str | None = None,
           groups: Sequence[str] | None = None, metric: str = "mIoU") -> list[str]:
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


def ordering_sentence(means: pd.Series, expected: Sequence[str], claim: str) -> str:
    """Does the ranking of ``means`` (index = method) follow ``expected`` (best first)?"""
    ours = [m for m in means.sort_values(ascending=False).index]
    exp = [m for m in expected if m in means.index]
    ours_names = [METHOD_NAMES.get(m, m) for m in ours]
    exp_names = [METHOD_NAMES.get(m, m) for m in exp]
    same = ours == exp
    return (f"Claim '{claim}': the paper's order is {' > '.join(exp_names)}; ours is {' > '.join(ours_names)} — "
            + ("the same order." if same else "a different order."))


def method_order_claim(table: pd.DataFrame, published_table: pd.DataFrame, model: str, text: str, *,
                       value: str = "mIoU") -> str:
    """:func:`ordering_sentence` for one model of a Table-1-like ``table`` (columns model, method,
    ``value``) against the published order of its family (``segformer`` for SegFormer models,
    else ``pspnet``) in ``published_table``, labelled with the model."""
    ours = table[table.model == model].set_index("method")[value]
    family = "segformer" if "segformer" in model else "pspnet"
    pub = published_table[(published_table.model == family) & published_table.method.isin(ours.index)]
    expected = pub.sort_values(value, ascending=False)["method"]
    return f"{model}: " + ordering_sentence(ours, list(expected), text)


def loss_sentence(scores: pd.DataFrame, from_suite: str, to_suite: str, text: str, *, label: str | None = None,
                  metric: str = "mIoU") -> str:
    """Per method, the mean ``metric`` lost from ``from_suite`` to ``to_suite`` (points), in one line."""
    means = suite_means(scores, by=("method", "suite")).pivot(index="method", columns="suite", values=metric)
    loss = means[from_suite] - means[to_suite]
    line = f"{text}: " + ", ".join(f"{METHOD_NAMES.get(m, m)} {v:.1f}" for m, v in loss.items())
    return line if label is None else f"{label}: {line}"


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
            plot: dict | None = None):
    """A paper table's outputs in one call: the bar figure (:func:`plot_bars` with the ``plot``
    arguments, saved as ``<name>.png``) and the table with its caption and claim sentences
    (``<name>.csv`` / ``.md``, :func:`repro.tables.save_table`). Returns the figure (or ``None``)."""
    from .tables import save_figure, save_table

    fig = None
    if plot is not None:
        fig = plot_bars(table, **plot)
        save_figure(fig, name, profile=profile)
    save_table(table, name, profile=profile, caption=caption, notes=list(notes))
    return fig
