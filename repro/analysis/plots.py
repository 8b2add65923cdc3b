"""Tables and figures of the sensitivity analysis (notebook 03: Algorithm 1, Appendix C, D, G).

All functions take the tables made by :func:`repro.analysis.sensitivity.analyse` (and the points it stores
in ``attrs["points"]``) or a :class:`repro.analysis.sampling.Distribution`, and return a DataFrame or a
matplotlib Figure; nothing here computes model outputs.

Units for comparison with the paper's Appendix D: channel types in magnitude α (0..1),
``gaussian_blur`` as the odd kernel size ``k = 2·floor(49·α/2)+1`` (pixels), ``gaussian_noise``
as σ = 50·α on the 0..255 scale.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from repro.analysis.sensitivity import blur_kernel, pchip_curve, points_frame

__all__ = ["levels_wide", "paper_units", "appendix_d_comparison", "levels_by_num_levels",
           "plot_s_curves", "plot_levels", "plot_levels_by_num_levels", "plot_distribution_heatmap"]

CHANNEL_TYPES = ("R+", "R-", "G+", "G-", "B+", "B-", "H+", "H-", "S+", "S-", "V+", "V-")


def paper_units(name: str, alpha) -> np.ndarray:
    """Levels in the paper's units: blur → kernel size, noise → σ (0..255), others → α."""
    a = np.asarray(alpha, dtype=float)
    if name == "gaussian_blur":
        return blur_kernel(a).astype(float)
    if name == "gaussian_noise":
        return 50.0 * a
    return a


def levels_wide(table: pd.DataFrame, *, units: str = "alpha", include_max: bool = False) -> pd.DataFrame:
    """One row per type: ``level1..level{L-1}`` (plus α_max when ``include_max``), evaluations.

    ``units="alpha"`` keeps magnitudes; ``units="paper"`` converts blur/noise (:func:`paper_units`).
    """
    if units not in ("alpha", "paper"):
        raise ValueError(f"units must be 'alpha' or 'paper', got {units!r}")
    rows = []
    for t, g in table.groupby("type", sort=False):
        g = g.sort_values("level")
        a = g["alpha"].to_numpy(float)
        if not include_max:
            a = a[:-1]
        v = paper_units(t, a) if units == "paper" else a
        row = {"type": t}
        row.update({f"level{i + 1}": float(x) for i, x in enumerate(v)})
        row["n_evals"] = int(g["n_evals"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def appendix_d_comparison(uniform: pd.DataFrame, adaptive: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Our uniform ("baseline") and adaptive levels beside the paper's Appendix D.

    The paper's rows 1–12 are channel types in an unknown order, so channel types are compared
    as the mean and the min–max over the 12 rows of each level; blur (kernel size) and noise
    (σ) rows are compared directly. Columns: kind, method, source, stat, level1..level4.
    """
    ours = {"baseline": levels_wide(uniform, units="paper"), "adaptive": levels_wide(adaptive, units="paper")}
    lv = [c for c in published.columns if c.startswith("level")]
    rows = []
    for method in ("baseline", "adaptive"):
        pub = published[published["method"] == method]
        ch_pub = pub[pub["kind"] == "color_channel"][lv].astype(float)
        mine = ours[method]
        ch_ours = mine[mine["type"].isin(CHANNEL_TYPES)]
        lv_ours = [c for c in mine.columns if c.startswith("level")]
        for src, frame, cols in (("paper", ch_pub, lv), ("ours", ch_ours, lv_ours)):
            if len(frame) == 0:
                continue
            for stat, fn in (("mean", np.mean), ("min", np.min), ("max", np.max)):
                vals = fn(frame[cols].to_numpy(float), axis=0)
                rows.append({"kind": "color_channel", "method": method, "source": src, "stat": stat,
                             "n_types": len(frame), **{f"level{i + 1}": float(x) for i, x in enumerate(vals)}})
        for kind, name in (("blur_kernel", "gaussian_blur"), ("noise_sigma", "gaussian_noise")):
            p = pub[pub["kind"] == kind]
            if len(p):
                rows.append({"kind": kind, "method": method, "source": "paper", "stat": "value", "n_types": 1,
                             **{c: float(p[c].iloc[0]) for c in lv}})
            o = mine[mine["type"] == name]
            if len(o):
                rows.append({"kind": kind, "method": method, "source": "ours", "stat": "value", "n_types": 1,
                             **{c: float(o[c].iloc[0]) for c in o.columns if c.startswith("level")}})
    return pd.DataFrame(rows)


def levels_by_num_levels(tables: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """Tidy table of ASA levels for several L (Appendix G): type, L, level, alpha, n_evals."""
    rows = []
    for L, tab in tables.items():
        for r in tab.itertuples(index=False):
            rows.append({"type": r.type, "L": int(L), "level": int(r.level), "alpha": float(r.alpha),
                         "n_evals": int(r.n_evals)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- figures
def plot_s_curves(adaptive: pd.DataFrame, types: Sequence[str], *, uniform: pd.DataFrame | None = None,
                  ncols: int = 3):
    """S(α) per type with ASA's evaluated points numbered in evaluation order (Appendix C).

    Points whose S lies outside [-0.3, 2.4] (noisy, non-monotone curves) are drawn at the edge
    as open triangles; the fit is through the monotone version of the points.

    Shows the monotone PCHIP fit through ASA's points, the targets 2k/L (dotted) and the chosen
    levels (vertical lines); ``uniform`` adds the uniform grid's points (grey) as a check that
    ASA's fit follows the curve.
    """
    import matplotlib.pyplot as plt

    pts = points_frame(adaptive)
    upts = points_frame(uniform) if uniform is not None else None
    types = list(types)
    nrows = int(np.ceil(len(types) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), squeeze=False)
    grid = np.linspace(0, 1, 201)
    for ax, t in zip(axes.flat, types):
        p = pts[pts["type"] == t].sort_values("order")
        if upts is not None:
            u = upts[upts["type"] == t]
            ax.plot(u["alpha"], u["S"].clip(-0.3, 2.4), "o", color="0.7", ms=4, label="uniform grid")
        ax.plot(grid, pchip_curve(p["alpha"], p["S"], grid), "-", color="C0", lw=1.2, label="PCHIP fit (ASA)")
        lo, hi = -0.3, 2.4
        shown = p["S"].clip(lo, hi)
        above, below = p["S"] > hi, p["S"] < lo
        off = above | below
        ax.plot(p["alpha"][~off], shown[~off], "o", color="C3", ms=5, label="ASA points")
        for mask, marker in ((above, "^"), (below, "v")):  # noisy S outside the plot: open triangles at the edge
            if mask.any():
                ax.plot(p["alpha"][mask], shown[mask], marker, color="C3", mfc="none", ms=6, label="ASA point off scale")
        for r, y in zip(p.itertuples(index=False), shown):
            ax.annotate(str(int(r.order)), (r.alpha, y), textcoords="offset points", xytext=(4, -10), fontsize=8,
                        color="C3")
        lv = adaptive[adaptive["type"] == t].sort_values("level")
        for y in lv["target"].iloc[:-1]:
            ax.axhline(y, ls=":", color="0.5", lw=0.8)
        for a in lv["alpha"].iloc[:-1]:
            ax.axvline(a, ls="--", color="C2", lw=0.8)
        ax.set_title(f"{t}  ({int(lv['n_evals'].iloc[0])} evaluations)", fontsize=10)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.35, 2.45)
        ax.set_xlabel("magnitude α")
        ax.set_ylabel("S(α)")
    for ax in list(axes.flat)[len(types):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def plot_levels(uniform: pd.DataFrame, adaptive: pd.DataFrame):
    """Levels per type: uniform grid picks vs ASA solutions (α, without α_max)."""
    import matplotlib.pyplot as plt

    u, a = levels_wide(uniform), levels_wide(adaptive)
    types = list(a["type"])
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(types) + 1.2))
    lv = [c for c in a.columns if c.startswith("level")]
    for i, t in enumerate(types):
        ua = u[u["type"] == t][lv].to_numpy(float).ravel()
        aa = a[a["type"] == t][lv].to_numpy(float).ravel()
        ax.plot(ua, np.full(len(ua), i + 0.15), "s", color="0.55", ms=4, label="uniform (grid 10)" if i == 0 else None)
        ax.plot(aa, np.full(len(aa), i - 0.15), "o", color="C3", ms=4, label="adaptive (ASA)" if i == 0 else None)
    ax.set_yticks(range(len(types)))
    ax.set_yticklabels(types, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("level magnitude α")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_levels_by_num_levels(tidy: pd.DataFrame, types: Sequence[str] | None = None, *, ncols: int = 4):
    """ASA levels for each L (Appendix G): one panel per type, one row of dots per L."""
    import matplotlib.pyplot as plt

    types = list(types) if types is not None else list(dict.fromkeys(tidy["type"]))
    nrows = int(np.ceil(len(types) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 1.6 * nrows + 0.4), squeeze=False, sharex=True)
    Ls = sorted(tidy["L"].unique())
    for ax, t in zip(axes.flat, types):
        for j, L in enumerate(Ls):
            a = tidy[(tidy["type"] == t) & (tidy["L"] == L)].sort_values("level")["alpha"].to_numpy()[:-1]
            ax.plot(a, np.full(len(a), j), "o", ms=4, color=f"C{j}")
        ax.set_yticks(range(len(Ls)))
        ax.set_yticklabels([f"L={L}" for L in Ls], fontsize=7)
        ax.set_title(t, fontsize=9)
        ax.set_xlim(0, 1)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(types):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_distribution_heatmap(dist, *, annotate: bool = True):
    """Sampling probabilities as a type × level heatmap; clean data as its own row."""
    import matplotlib.pyplot as plt

    p = dist.probabilities
    clean = float(p.loc[p["type"] == "clean", "p"].sum())
    body = p[p["type"] != "clean"].pivot_table(index="type", columns="level", values="p", sort=False)
    mat = np.vstack([np.r_[clean, np.full(body.shape[1] - 1, np.nan)], body.to_numpy(float)])
    labels = ["clean"] + list(body.index)
    fig, ax = plt.subplots(figsize=(1.0 * body.shape[1] + 2.5, 0.3 * len(labels) + 1.2))
    body_vals = body.to_numpy(float)
    im = ax.imshow(mat, aspect="auto", cmap="viridis", vmin=float(np.nanmin(body_vals)),
                   vmax=float(np.nanmax(body_vals)))  # colour scale of the levels; clean is annotated
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xticks(range(body.shape[1]))
    ax.set_xticklabels([f"level {c}" for c in body.columns], fontsize=8)
    if annotate:
        for i in range(mat.shape[0]):
            for j in range(mat.shape[1]):
                if np.isfinite(mat[i, j]):
                    ax.text(j, i, f"{mat[i, j]:.3f}", ha="center", va="center", fontsize=6,
                            color="w" if mat[i, j] < np.nanmax(body_vals) * 0.8 else "k")
    fig.colorbar(im, ax=ax, label="probability")
    ax.set_title(f"sampling distribution ({dist.weighting} weighting)", fontsize=10)
    fig.tight_layout()
    return fig
