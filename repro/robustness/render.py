"""Rendering of a robustness report (:mod:`repro.robustness`): plots, ``report.md``, ``report.html``.

The report is built as a list of blocks (headings, paragraphs, tables, figures) and written twice:
as Markdown with the figures as PNG files beside it, and as one self-contained HTML file with the
same figures embedded as base64 PNG (no external files, scripts or styles).

Units shown: mIoU, mAcc, aAcc and the errors E = 100 − mIoU in points (0–100); CE, rCE and the
resilience rate rR in percent; KID as the raw unbiased MMD² of :mod:`repro.analysis.kid` (:data:`KID_SCALE`).
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["render_report", "plot_basis", "plot_imagenet_c", "KID_SCALE", "KID_SCALE_SHORT", "KID_COLUMN"]

#: the scale of every KID the report shows: repro.analysis.kid reports the raw MMD² (no factor)
KID_SCALE = ("KID is the raw unbiased MMD² of the cubic polynomial kernel k(a, b) = (aᵀb/d + 1)³ on the extractor's "
             "features (repro.analysis.kid), ×1: not multiplied by 1000 as some papers print it; its size depends on the "
             "extractor's feature scale (values in the hundreds are possible with non-Inception features), so "
             "compare KIDs of one extractor only")
#: the short form, beside every KID the report shows outside its "KID numbers" section
KID_SCALE_SHORT = "KID as raw MMD² (×1, not ×1000; scale in 'KID numbers')"
#: the column name of KID values in the report's tables
KID_COLUMN = "KID (raw MMD², ×1)"


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 0.01 and v != 0 else f"{v:.2f}"
    return str(v)


def plot_basis(report: Mapping):
    """24 panels: mIoU(α) of the basis perturbations (α = 0: clean) and the analysis' S(α) points
    with its PCHIP fit on a second axis; the ASA levels as dashed vertical lines."""
    import matplotlib.pyplot as plt

    from repro.analysis.sensitivity import pchip_curve

    rows = report["suites"].get("basis_aug", {}).get("rows", [])
    clean = report["suites"].get("clean", {}).get("rows", [{}])
    clean_miou = clean[0].get("mIoU") if clean else None
    sa = report.get("sensitivity")
    types = list(dict.fromkeys([r["item"] for r in rows] + ([r["type"] for r in sa["levels"]] if sa else [])))
    if not types:
        return None
    ncols = 6
    nrows = int(np.ceil(len(types) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.9 * ncols, 2.3 * nrows), squeeze=False)
    grid = np.linspace(0, 1, 101)
    for ax, t in zip(axes.flat, types):
        pts = sorted((float(r["level"]), r["mIoU"]) for r in rows if r["item"] == t)
        if pts:
            a, m = zip(*([(0.0, clean_miou)] if clean_miou is not None else []) + pts)
            ax.plot(a, m, "o-", color="C0", ms=3, lw=1.2)
        ax.set_title(t, fontsize=9)
        ax.set_xlim(-0.02, 1.02)
        ax.tick_params(labelsize=7)
        ax.set_ylabel("mIoU (points)", fontsize=7, color="C0")
        if sa:
            p = pd.DataFrame([q for q in sa["points"] if q["type"] == t])
            ax2 = ax.twinx()
            if len(p):
                ax2.plot(grid, pchip_curve(p["alpha"].to_numpy(), p["S"].to_numpy(), grid), "-", color="C3", lw=1)
                ax2.plot(p["alpha"], p["S"].clip(-0.3, 2.4), ".", color="C3", ms=4)
            ax2.set_ylim(-0.35, 2.45)
            ax2.tick_params(labelsize=7, colors="C3")
            ax2.set_ylabel("S(α)", fontsize=7, color="C3")
            for r in sa["levels"]:
                if r["type"] == t and r["level"] < sa["num_levels"]:
                    ax.axvline(r["alpha"], ls="--", color="C2", lw=0.8)
    for ax in list(axes.flat)[len(types):]:
        ax.axis("off")
    fig.suptitle("basis perturbations: mIoU(α) (blue), S(α) (red: ASA points and PCHIP fit), ASA levels (green)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def plot_imagenet_c(report: Mapping):
    """mIoU (points) per ImageNet-C corruption (rows) and severity (columns) as an annotated heat map;
    the title names the clean mIoU and the trivial floor when the report has them."""
    import matplotlib.pyplot as plt

    rows = report["suites"].get("imagenet_c", {}).get("rows", [])
    if not rows:
        return None
    t = pd.DataFrame(rows).pivot_table(index="item", columns="level", values="mIoU", sort=False)
    fig, ax = plt.subplots(figsize=(0.8 * t.shape[1] + 3, 0.3 * t.shape[0] + 1.2))
    im = ax.imshow(t.to_numpy(float), aspect="auto", cmap="viridis")
    ax.set_yticks(range(t.shape[0]))
    ax.set_yticklabels(t.index, fontsize=8)
    ax.set_xticks(range(t.shape[1]))
    ax.set_xticklabels([f"severity {c}" for c in t.columns], fontsize=8)
    for i in range(t.shape[0]):
        for j in range(t.shape[1]):
            ax.text(j, i, f"{t.iat[i, j]:.1f}", ha="center", va="center", fontsize=6, color="w")
    fig.colorbar(im, ax=ax, label="mIoU (points)")
    clean = (report["suites"].get("clean", {}).get("rows") or [{}])[0].get("mIoU")
    floor = (report.get("floor") or {}).get("mIoU")
    ax.set_title("ImageNet-C: mIoU (points)" + (f"; clean {clean:.1f}" if clean is not None else "")
                 + (f"; trivial floor {floor:.1f}" if floor is not None else ""), fontsize=10)
    fig.tight_layout()
    return fig


def _table(rows, columns) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    return df[[c for c in columns if c in df.columns]] if len(df) else pd.DataFrame(columns=columns)


def _blocks(report: Mapping) -> list[tuple]:
    b: list[tuple] = []
    m, d = report["model"], report["data"]
    b.append(("h", 1, f"Robustness report: {m['name']}"))
    b.append(("p", f"Data: {d['name']}/{d['split']}, {d['n_images']} images, {d['num_classes']} classes "
                   f"(sha256 {d['sha256'][:16]}…). Seed {report['seed']}. Model weights {m['weights']}. "
                   "Images fed to the model as float RGB in [0, 1]"
                   + (f" through {report['settings']['preprocess']}" if report['settings'].get('preprocess') else "")
                   + ". Scores (aAcc, mAcc, mIoU) in points (0–100), one confusion matrix over all images "
                     "(MMSegmentation's convention)."))
    for note in report.get("notes") or []:
        b.append(("p", f"Note: {note}"))
    v = report["versions"]
    b.append(("p", "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val)))
    s = report["suites"]
    fl = report.get("floor")
    if "clean" in s:
        b.append(("h", 2, "Clean"))
        rows = [{"": "clean", **s["clean"]["rows"][0]}] if s["clean"]["rows"] else []
        if fl and fl.get("mIoU") is not None:
            rows.append({"": f"trivial floor: all {_class_label(fl)}", **fl})
        b.append(("table", _table(rows, ["", "aAcc", "mAcc", "mIoU"])))
    if fl and fl.get("mIoU") is not None:
        b.append(("p", f"Trivial floor: predicting the majority class {_class_label(fl)} ({100 * fl['fraction']:.1f} % "
                       f"of the labelled pixels) everywhere scores mIoU {fl['mIoU']:.2f} = 100 · "
                       f"{fl['fraction']:.3f} / (classes present). A score near it is no better than predicting "
                       f"{_class_label(fl)} everywhere; there a severe corruption can score above a mild one, and CE and the "
                       "resilience rate rR look better than the model is."))
    if "basis_aug" in s or report.get("sensitivity"):
        b.append(("h", 2, "Basis perturbations and adaptive sensitivity analysis"))
        if "basis_aug" in s:
            t = pd.DataFrame(s["basis_aug"]["rows"])
            if len(t):
                piv = t.pivot_table(index="item", columns="level", values="mIoU", sort=False)
                piv.columns = [f"mIoU α={c:g}" for c in piv.columns]
                b.append(("p", f"mIoU (points) per type and magnitude; mean over all items "
                               f"{s['basis_aug']['summary']['mIoU']:.2f}" + _rr_text(s["basis_aug"], fl) + "."))
                b.append(("table", piv.reset_index().rename(columns={"item": "type"})))
        sa = report.get("sensitivity")
        if sa:
            b.append(("p", f"Adaptive sensitivity analysis (ASA): {sa['n_images']} images, budget {sa['budget']} "
                           f"evaluations per type ({sa['n_evaluations']} in all), L = {sa['num_levels']} levels, "
                           f"clean mIoU {sa['clean_miou']:.2f} points; KID features {sa['extractor']} ({KID_SCALE_SHORT}). "
                           "S(α) = ΔmIoU(α)/ΔmIoU(1) + 2α − KID(α)/KID(1); levels S⁻¹(2k/L)."
                           + (" Degenerate curves (uniform levels): " + "; ".join(f"{t} ({why})" for t, why in
                                                                                sa["flags"].items()) + "."
                              if sa["flags"] else "")))
            lv = pd.DataFrame(sa["levels"])
            wide = lv.pivot_table(index="type", columns="level", values="alpha", sort=False)
            wide.columns = [f"α level {c}" for c in wide.columns]
            b.append(("table", wide.reset_index()))
        b.append(("fig", "basis_perturbations", plot_basis(report)))
    if report.get("sampling"):
        from repro.analysis.plots import plot_distribution_heatmap
        from repro.analysis.sampling import Distribution

        sp = report["sampling"]
        dist = Distribution(pd.DataFrame(sp["probabilities"]), weighting=sp["weighting"], jitter=sp["jitter"])
        b.append(("h", 2, "Sampling distribution the method would train this model with"))
        b.append(("p", f"One perturbation per training sample, drawn with these probabilities ({sp['weighting']} "
                       f"weighting; clean data keeps 1/(N+1); Gaussian jitter σ = {sp['jitter']} on α)."))
        b.append(("fig", "sampling_distribution", plot_distribution_heatmap(dist)))
    if "imagenet_c" in s:
        ic = s["imagenet_c"]
        b.append(("h", 2, "ImageNet-C"))
        b.append(("p", "Labels are moved with the content for glass_blur and elastic_transform. "
                       "Corruption error CE_c = 100·Σ_s E_{s,c} / Σ_s E^ref_{s,c} with E = 1 − mIoU/100 (Hendrycks & "
                       "Dietterich's CE as Kamann & Rother's corruption degradation for segmentation); relative "
                       "rCE_c = 100·Σ_s (E_{s,c} − E_clean) / Σ_s (E^ref_{s,c} − E^ref_clean); mCE = mean over the "
                       "15 common corruptions. Resilience rate rR_c = 100·mean_s mIoU_{s,c} / mIoU_clean (% of "
                       "clean; no reference needed), mean rR over the same corruptions as mCE. Errors shown in "
                       "points (100 − mIoU)."
                       + (f" Reference model: {report['reference']['name']}." if report.get("reference") else
                          " No reference model given: unnormalised errors only.")))
        ce = ic.get("corruption_error")
        if ce:
            rr = (ic.get("resilience") or {}).get("per_item", {})
            per = pd.DataFrame([{"corruption": c, "mean error (points)": 100.0 * v["mean_error"], "CE": v["CE"],
                                 "rCE": v["rCE"], "rR (%)": rr.get(c)} for c, v in ce["per_corruption"].items()])
            mi = pd.DataFrame(ic["rows"]).pivot_table(index="item", columns="level", values="mIoU", sort=False)
            mi.columns = [f"mIoU s{c}" for c in mi.columns]
            per = per.merge(mi.reset_index().rename(columns={"item": "corruption"}), on="corruption")
            b.append(("table", per))
            res = ic.get("resilience") or {}
            pts = lambda v: None if v is None else 100.0 * v  # noqa: E731  (E fraction -> points)
            b.append(("p", "; ".join(f"{k} {_fmt(v)}" for k, v in (
                ("mCE", ce.get("mCE")), ("mean rR common (%)", res.get("mean_common")),
                ("relative_mCE", ce.get("relative_mCE")), ("mCE_held_out", ce.get("mCE_held_out")),
                ("mean rR held-out (%)", res.get("mean_held_out")),
                ("relative_mCE_held_out", ce.get("relative_mCE_held_out")), ("mCE_all", ce.get("mCE_all")),
                ("mean rR all (%)", res.get("mean")),
                ("mean error common (points)", pts(ce.get("mean_error_common"))),
                ("mean error held-out (points)", pts(ce.get("mean_error_held_out"))),
                ("trivial floor mIoU", (fl or {}).get("mIoU"))))))
        b.append(("fig", "imagenet_c", plot_imagenet_c(report)))
    if "advsteer" in s:
        b.append(("h", 2, "AdvSteer"))
        b.append(("table", _with_rr(_table(s["advsteer"]["rows"], ["item", "aAcc", "mAcc", "mIoU"]), s["advsteer"])))
        b.append(("p", "mIoU in points" + _rr_text(s["advsteer"], fl) + "."))
    if "real_world" in s and s["real_world"]["rows"]:
        b.append(("h", 2, "Real-world splits"))
        t = _with_rr(_table(s["real_world"]["rows"], ["item", "n_images", "aAcc", "mAcc", "mIoU", "kid", "extractor"]),
                     s["real_world"])
        b.append(("table", t.rename(columns={"kid": KID_COLUMN})))
        b.append(("p", "mIoU in points" + _rr_text(s["real_world"], fl) + f"; {KID_SCALE_SHORT}."))
    if report.get("kid"):
        b.append(("h", 2, "KID numbers"))
        b.append(("p", f"Every KID of this report with the extractor that produced its features "
                       f"({', '.join(report['extractors'])}). Scale: {KID_SCALE}."))
        b.append(("table", pd.DataFrame(report["kid"]).rename(columns={"kid": KID_COLUMN})))
    return b


def _class_label(floor: Mapping) -> str:
    name = floor.get("class_name")
    return f"'{name}'" if name else f"class {floor.get('class')}"


def _rr_text(suite: Mapping, floor: Mapping | None) -> str:
    """'; mean resilience rate rR …% of clean; trivial floor …' for a suite's paragraph."""
    rr = (suite.get("resilience") or {}).get("mean")
    out = f"; mean resilience rate rR {rr:.1f} % of clean (rR = 100·mIoU/mIoU_clean, mean over items)" \
        if rr is not None else ""
    if floor and floor.get("mIoU") is not None:
        out += f"; trivial floor mIoU {floor['mIoU']:.2f}"
    return out


def _with_rr(table: pd.DataFrame, suite: Mapping) -> pd.DataFrame:
    rr = (suite.get("resilience") or {}).get("per_item")
    if rr and "item" in table.columns:
        table = table.assign(**{"rR (%)": [rr.get(str(i)) for i in table["item"]]})
    return table


def _numeric(df: pd.DataFrame) -> pd.DataFrame:
    """Columns of numbers and ``None`` as float columns (``None`` → NaN, shown as "–")."""
    out = df.copy()
    for c in out.columns:
        vals = out[c].tolist()
        if any(v is None for v in vals) and all(v is None or (isinstance(v, (int, float, np.number))
                                                              and not isinstance(v, bool)) for v in vals):
            out[c] = pd.to_numeric(pd.Series(vals, index=out.index, dtype=object), errors="coerce").astype(float)
    return out


def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v) for v in r) + " |")
    return "\n".join(lines)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def render_report(report: Mapping, out: str | Path) -> None:
    """Write ``report.md`` (+ ``<figure>.png``) and the self-contained ``report.html`` into ``out``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    out = Path(out)
    md, body = [], []
    for blk in _blocks(report):
        if blk[0] == "h":
            md.append("#" * blk[1] + " " + blk[2])
            body.append(f"<h{blk[1]}>{html.escape(blk[2])}</h{blk[1]}>")
        elif blk[0] == "p":
            md.append(blk[1])
            body.append(f"<p>{html.escape(blk[1])}</p>")
        elif blk[0] == "table":
            blk = (blk[0], _numeric(blk[1]))
            md.append(_md_table(blk[1]))
            body.append(blk[1].to_html(index=False, na_rep="–", float_format=lambda v: _fmt(float(v)), border=0))
        elif blk[0] == "fig" and blk[2] is not None:
            png = _png(blk[2])
            (out / f"{blk[1]}.png").write_bytes(png)
            md.append(f"![{blk[1]}]({blk[1]}.png)")
            body.append(f'<img alt="{blk[1]}" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    (out / "report.md").write_text("\n\n".join(md) + "\n")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;font-size:12px}"
             "td,th{padding:2px 6px;border-bottom:1px solid #ddd;text-align:right}img{max-width:100%}")
    (out / "report.html").write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
                                     f"{html.escape(report['model']['name'])} robustness</title><style>{style}</style>"
                                     f"</head><body>\n" + "\n".join(body) + "\n</body></html>\n")
