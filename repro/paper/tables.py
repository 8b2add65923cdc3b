"""Assemble the paper's tables from our scores, beside the published numbers, and state in
generated sentences whether the paper's claims hold in our numbers.

Our scores come as a long DataFrame (see :func:`repro.paper.experiments.score_runs`) with columns
``dataset, model, method, seed, suite, item, level, aAcc, mAcc, mIoU`` (percent). Each table
reports the mean ± std over seeds (``n_seeds`` says how many) and the published numbers in
columns prefixed ``paper_``. The published tables are on other datasets (Cityscapes, ACDC, …),
so the side-by-side is a comparison of trends (orderings, gains), not of absolute values.

The claim sentences are ``str`` subclasses (:class:`ClaimResult`, :class:`OrderResult`) that also
carry their content; :func:`publish` writes it as ``<name>_claims.csv`` beside the table, one row
per (claim, label, suite) with the paper's difference of the same two methods where a published
table has it (:func:`paper_difference`), and :mod:`repro.paper.claims_page` gathers those files into
``CLAIMS.md``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from repro.paper.outputs import published

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
    """The published table ``name`` (:func:`repro.paper.outputs.published`) with its metrics in columns named
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


