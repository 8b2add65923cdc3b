"""Rendering of a robustness report (:mod:`repro.robustness`): plots, ``report.md``, ``report.html``.

The report is built as a list of blocks (headings, paragraphs, tables, figures) and written twice:
as Markdown with the figures as PNG files beside it, and as one self-contained HTML file with the
same figures embedded as base64 PNG (no external files, scripts or styles).
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["render_report", "plot_basis", "plot_imagenet_c"]


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

    from .sensitivity import pchip_curve

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
        ax.set_ylabel("mIoU (%)", fontsize=7, color="C0")
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
    """mIoU per ImageNet-C corruption (rows) and severity (columns) as an annotated heat map."""
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
    fig.colorbar(im, ax=ax, label="mIoU (%)")
    ax.set_title("ImageNet-C: mIoU (%)", fontsize=10)
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
                   + ". Scores in percent, one confusion matrix over all images (MMSegmentation's convention)."))
    v = report["versions"]
    b.append(("p", "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val)))
    s = report["suites"]
    if "clean" in s:
        b.append(("h", 2, "Clean"))
        b.append(("table", _table(s["clean"]["rows"], ["aAcc", "mAcc", "mIoU"])))
    if "basis_aug" in s or report.get("sensitivity"):
        b.append(("h", 2, "Basis perturbations and adaptive sensitivity analysis"))
        if "basis_aug" in s:
            t = pd.DataFrame(s["basis_aug"]["rows"])
            if len(t):
                piv = t.pivot_table(index="item", columns="level", values="mIoU", sort=False)
                piv.columns = [f"mIoU α={c:g}" for c in piv.columns]
                b.append(("p", f"mIoU (%) per type and magnitude; mean over all items {s['basis_aug']['summary']['mIoU']:.2f}."))
                b.append(("table", piv.reset_index().rename(columns={"item": "type"})))
        sa = report.get("sensitivity")
        if sa:
            b.append(("p", f"Adaptive sensitivity analysis (ASA): {sa['n_images']} images, budget {sa['budget']} "
                           f"evaluations per type ({sa['n_evaluations']} in all), L = {sa['num_levels']} levels, "
                           f"clean mIoU {sa['clean_miou']:.2f}; KID features {sa['extractor']}. "
                           "S(α) = ΔmIoU(α)/ΔmIoU(1) + 2α − KID(α)/KID(1); levels S⁻¹(2k/L)."
                           + (f" Degenerate curves (uniform levels): {', '.join(sa['flags'])}." if sa["flags"] else "")))
            lv = pd.DataFrame(sa["levels"])
            wide = lv.pivot_table(index="type", columns="level", values="alpha", sort=False)
            wide.columns = [f"α level {c}" for c in wide.columns]
            b.append(("table", wide.reset_index()))
        b.append(("fig", "basis_perturbations", plot_basis(report)))
    if report.get("sampling"):
        from .plots_sensitivity import plot_distribution_heatmap
        from .sampling import Distribution

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
                       "Corruption error CE_c = 100·Σ_s E_{s,c} / Σ_s E^ref_{s,c} with E = 1 − mIoU (Hendrycks & "
                       "Dietterich's CE as Kamann & Rother's corruption degradation for segmentation); relative "
                       "rCE_c = 100·Σ_s (E_{s,c} − E_clean) / Σ_s (E^ref_{s,c} − E^ref_clean); mCE = mean over the "
                       "15 common corruptions."
                       + (f" Reference model: {report['reference']['name']}." if report.get("reference") else
                          " No reference model given: unnormalised errors only.")))
        ce = ic.get("corruption_error")
        if ce:
            per = pd.DataFrame([{"corruption": c, **v} for c, v in ce["per_corruption"].items()])
            mi = pd.DataFrame(ic["rows"]).pivot_table(index="item", columns="level", values="mIoU", sort=False)
            mi.columns = [f"mIoU s{c}" for c in mi.columns]
            per = per.merge(mi.reset_index().rename(columns={"item": "corruption"}), on="corruption")
            b.append(("table", per))
            b.append(("p", "; ".join(f"{k} {_fmt(ce.get(k))}" for k in ("mCE", "relative_mCE", "mCE_held_out",
                                                                          "relative_mCE_held_out", "mCE_all",
                                                                          "mean_error_common", "mean_error_held_out"))))
        b.append(("fig", "imagenet_c", plot_imagenet_c(report)))
    if "advsteer" in s:
        b.append(("h", 2, "AdvSteer"))
        b.append(("table", _table(s["advsteer"]["rows"], ["item", "aAcc", "mAcc", "mIoU"])))
    if "real_world" in s and s["real_world"]["rows"]:
        b.append(("h", 2, "Real-world splits"))
        b.append(("table", _table(s["real_world"]["rows"], ["item", "n_images", "aAcc", "mAcc", "mIoU", "kid",
                                                             "extractor"])))
    if report.get("kid"):
        b.append(("h", 2, "KID numbers"))
        b.append(("p", f"Every KID of this report with the extractor that produced its features "
                       f"({', '.join(report['extractors'])})."))
        b.append(("table", pd.DataFrame(report["kid"])))
    return b


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
