"""Reading a training run back for notebook 04: curves, events, levels, perturbed evaluations, figures.

Every function takes the dict returned by :func:`repro.train.run` (or a run folder) and reads the
files the run left in its folder:

* ``<timestamp>/vis_data/scalars.json`` -- mmengine's per-iteration scalars (loss, lr, ``sia/*``);
* ``sia_history.json`` -- one record per analysis/refresh of the ``SensitivityHook``: levels,
  the mIoU table at every (type, level) on the analysis subset, the clean mIoU, the distribution
  and, for analyses, the evaluated points of each S curve.

Frames (long form, one row per value):

* :func:`scalars` -- step, name, value;
* :func:`events` -- kind, iter, time_s (this run's), compute_s (of the computation; larger when
  the event was read from the cache), cached, clean_miou, perturbed_miou (mean over types and
  levels), p_clean;
* :func:`perturbed_evaluations` -- iter, kind, type, level, alpha, miou (Appendix F: the model on
  perturbed data at each evaluation);
* :func:`levels` -- iter, type, level, alpha (how the chosen levels move between analyses);
* :func:`sensitivity_points` -- iter, type, order, alpha, miou, kid, S (Appendix H: the S curves
  measured at each analysis).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["run_folder", "scalars", "history", "events", "perturbed_evaluations", "levels", "sensitivity_points",
           "final_analysis",
           "plot_training", "plot_sensitivity_history", "plot_perturbed_evaluations", "plot_pipeline"]


def run_folder(run: Mapping | str | os.PathLike) -> Path:
    """The folder of a run (dict from :func:`repro.train.run` or a path)."""
    from repro.train.runner import _resolve_run_dir

    return _resolve_run_dir(run)


def scalars(run) -> pd.DataFrame:
    """mmengine's logged scalars of every training session of the run (resumed runs have several)."""
    rows = []
    for f in sorted(run_folder(run).glob("*/vis_data/scalars.json")):
        for line in f.read_text().splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            step = rec.pop("step", rec.pop("iter", None))
            for k, v in rec.items():
                if isinstance(v, (int, float)):
                    rows.append(dict(step=int(step), name=k, value=float(v)))
    df = pd.DataFrame(rows, columns=["step", "name", "value"])
    return df.drop_duplicates(["step", "name"], keep="last").sort_values(["name", "step"]).reset_index(drop=True)


def history(run) -> dict:
    """The ``sia_history.json`` of an ``ours*`` run: ``{"types", "analysis", "history": [...]}``."""
    p = run_folder(run) / "sia_history.json"
    if not p.is_file():
        raise FileNotFoundError(f"{p.name} missing: only the ours* methods run the SensitivityHook")
    return json.loads(p.read_text())


def events(run) -> pd.DataFrame:
    """One row per analysis/refresh: kind, iter, time_s, compute_s, cached, clean_miou, perturbed_miou, p_clean."""
    rows = []
    for e in history(run)["history"]:
        tab = pd.DataFrame(e["table"])
        dist = pd.DataFrame(e["distribution"]["rows"])
        rows.append(dict(kind=e["kind"], iter=e["iter"], time_s=e["time_s"], compute_s=e.get("compute_s", e["time_s"]),
                         cached=bool(e.get("cached", False)), clean_miou=e["clean_miou"],
                         perturbed_miou=float(tab["miou"].mean()),
                         p_clean=float(dist.loc[dist["type"] == "clean", "p"].sum())))
    return pd.DataFrame(rows)


def perturbed_evaluations(run) -> pd.DataFrame:
    """mIoU on the analysis subset perturbed by each type at each of its levels, at every event."""
    rows = []
    for e in history(run)["history"]:
        for r in e["table"]:
            rows.append(dict(iter=e["iter"], kind=e["kind"], **{k: r[k] for k in ("type", "level", "alpha", "miou")}))
    return pd.DataFrame(rows, columns=["iter", "kind", "type", "level", "alpha", "miou"])


def final_analysis(run) -> dict:
    """The run's sensitivity analysis repeated on its final model, with the hook's own settings
    (subset, extractor, budget, seed), as an event record like those of ``sia_history.json``
    (``kind = "analysis (final model)"``, ``iter`` = the run's last iteration). Cached with the
    hook's event cache. Shows how sensitivity moved during a run that analysed only at its start."""
    from types import SimpleNamespace

    import torch
    from mmengine.config import Config

    from repro.analysis.sensitivity import AnalysisSettings
    from repro.train.hooks import SensitivityHook, hook_args
    from repro.train.runner import load_model, quiet_logger

    folder = run_folder(run)
    cfg = Config.fromfile(str(folder / "config.py"))
    spec = next((hook_args(h) for h in cfg.get("custom_hooks", []) if h.get("type") == "SensitivityHook"), None)
    if spec is None or AnalysisSettings.of(spec.get("analysis")).method == "none":
        raise ValueError(f"{folder.name}: the run has no sensitivity analysis to repeat (method {cfg.get('method')})")
    spec.update(cache_events=True, schedule_file=None)
    hook = SensitivityHook(**spec)
    model = load_model(folder)
    runner = SimpleNamespace(model=model, cfg=cfg, iter=int(cfg.train_cfg.max_iters), logger=quiet_logger())
    with torch.no_grad():
        payload = hook._event_payload(runner, "analysis", int(cfg.train_cfg.max_iters))
    return dict(payload, kind="analysis (final model)")


def levels(run, extra: Sequence[dict] = ()) -> pd.DataFrame:
    """The levels in force after each analysis (iter, type, level 1..L, alpha); ``extra``: more
    analysis records (e.g. :func:`final_analysis`)."""
    rows = []
    for e in list(history(run)["history"]) + list(extra):
        if not e["kind"].startswith("analysis"):
            continue
        for t, al in e["levels"].items():
            for k, a in enumerate(al, 1):
                rows.append(dict(iter=e["iter"], type=t, level=k, alpha=float(a)))
    return pd.DataFrame(rows, columns=["iter", "type", "level", "alpha"])


def sensitivity_points(run, extra: Sequence[dict] = ()) -> pd.DataFrame:
    """The evaluated points (α, mIoU, KID, S) of every type's S curve at every analysis (and of the
    ``extra`` analysis records)."""
    rows = []
    for e in list(history(run)["history"]) + list(extra):
        for p in e.get("analysis_points") or []:
            rows.append(dict(iter=e["iter"], **{k: p.get(k) for k in ("type", "order", "alpha", "miou", "kid", "S")}))
    return pd.DataFrame(rows, columns=["iter", "type", "order", "alpha", "miou", "kid", "S"])


# ----------------------------------------------------------------------------- figures
def plot_training(run, *, loss_names: Sequence[str] = ("loss",)):
    """Loss per iteration, and clean/perturbed mIoU on the analysis subset at each event."""
    import matplotlib.pyplot as plt

    sc = scalars(run)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for name in loss_names:
        s = sc[sc["name"] == name]
        axes[0].plot(s["step"], s["value"], label=name)
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("training loss")
    axes[0].legend()
    try:
        ev = events(run)
    except FileNotFoundError:
        ev = None
    if ev is not None and len(ev):
        axes[1].plot(ev["iter"], ev["clean_miou"], "o-", label="clean")
        axes[1].plot(ev["iter"], ev["perturbed_miou"], "s-", label="perturbed (mean over types × levels)")
        for it in ev.loc[ev["kind"] == "analysis", "iter"]:
            axes[1].axvline(it, color="grey", ls=":", lw=0.8)
        axes[1].set_xlabel("iteration (dotted: sensitivity analyses)")
        axes[1].set_ylabel("mIoU on the analysis subset (%)")
        axes[1].legend(fontsize=8)
    else:
        axes[1].set_axis_off()
    fig.tight_layout()
    return fig


def plot_sensitivity_history(run, types: Sequence[str] | None = None, *, max_types: int = 6,
                             extra: Sequence[dict] = ()):
    """Appendix H: each type's measured S(α) points and chosen levels at every analysis (and at the
    ``extra`` analysis records, e.g. :func:`final_analysis`)."""
    import matplotlib.pyplot as plt

    pts, lv = sensitivity_points(run, extra), levels(run, extra)
    if pts.empty:
        raise ValueError("the run made no sensitivity analysis with evaluated points (analysis='none'?)")
    types = list(types) if types is not None else list(dict.fromkeys(pts["type"]))[:max_types]
    iters = sorted(pts["iter"].unique())
    cmap = plt.get_cmap("viridis")
    ncol = min(3, len(types))
    nrow = int(np.ceil(len(types) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3.1 * nrow), squeeze=False)
    for ax, t in zip(axes.flat, types):
        for i, it in enumerate(iters):
            c = cmap(i / max(len(iters) - 1, 1))
            p = pts[(pts["type"] == t) & (pts["iter"] == it)].sort_values("alpha")
            ax.plot(p["alpha"], p["S"], "o-", color=c, ms=3, lw=1, label=f"iter {it}")
            for a in lv[(lv["type"] == t) & (lv["iter"] == it)]["alpha"]:
                ax.plot([a], [-0.15], "|", color=c, ms=8)
        ax.set_title(t)
        ax.set_xlabel("magnitude α")
        ax.set_ylabel("S(α)")
    for ax in list(axes.flat)[len(types):]:
        ax.set_axis_off()
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_perturbed_evaluations(run):
    """Appendix F: mIoU per perturbation type (mean over its levels) at each evaluation."""
    import matplotlib.pyplot as plt

    pe = perturbed_evaluations(run)
    piv = pe.groupby(["type", "iter"])["miou"].mean().unstack("iter")
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * piv.shape[1], 0.28 * piv.shape[0] + 1.2))
    im = ax.imshow(piv.to_numpy(), aspect="auto", cmap="magma")
    ax.set_xticks(range(piv.shape[1]), [str(c) for c in piv.columns])
    ax.set_yticks(range(piv.shape[0]), list(piv.index), fontsize=7)
    ax.set_xlabel("iteration of the evaluation")
    fig.colorbar(im, ax=ax, label="mIoU (%) at the type's levels")
    fig.tight_layout()
    return fig


def plot_pipeline(run, *, n: int = 6, seed: int = 0, image_index: int = 0):
    """Figure 1: a training image and ``n`` augmentations drawn from the run's final distribution
    (type and magnitude in each title; labels overlaid), beside the distribution itself."""
    import matplotlib.pyplot as plt
    import torch

    from repro import data, perturb
    from repro.analysis.sampling import Distribution

    res = run if isinstance(run, Mapping) else json.loads((run_folder(run) / "results.json").read_text())
    if not res.get("sia"):
        raise ValueError("the run has no sampling distribution (not an ours* method)")
    dist = Distribution.from_dict(res["sia"]["distribution"])
    ds = data.load_dataset(res["dataset"], "train")
    sample = ds[image_index]
    img, lab = sample["image"][None], sample["label"][None]
    draws = dist.sample(n, np.random.default_rng(seed))
    palette = np.array(list(ds.palette) + [(0, 0, 0)] * (256 - len(ds.palette)), dtype=np.float32) / 255
    fig = plt.figure(figsize=(3.0 * (n + 1) / 2 + 4.5, 5.2))
    gs = fig.add_gridspec(2, (n + 2) // 2 + 1, width_ratios=[1] * ((n + 2) // 2) + [1.6])
    panels = [(None, 0.0)] + draws
    for i, (name, mag) in enumerate(panels):
        ax = fig.add_subplot(gs[i % 2, i // 2])
        if name is None:
            x, y = img, lab
        else:
            x, y = perturb.apply(img, lab, name, float(mag), generator=torch.Generator().manual_seed(seed + i))
        over = 0.6 * x[0].permute(1, 2, 0).numpy() + 0.4 * palette[y[0].clamp(0, 255).numpy()]
        ax.imshow(np.clip(over, 0, 1))
        ax.set_title("clean" if name is None else f"{name} @ {mag:.2f}", fontsize=9)
        ax.set_axis_off()
    ax = fig.add_subplot(gs[:, -1])
    mass = dist.type_mass()
    probs = dist.probabilities
    heat = probs[probs["type"] != "clean"].pivot_table(index="type", columns="level", values="p", sort=False)
    im = ax.imshow(heat.to_numpy(), aspect="auto", cmap="Blues")
    ax.set_yticks(range(len(heat)), list(heat.index), fontsize=7)
    ax.set_xticks(range(heat.shape[1]), [str(c) for c in heat.columns])
    ax.set_xlabel(f"level (p(clean) = {float(mass.get('clean', 0)):.3f})")
    fig.colorbar(im, ax=ax, label="probability")
    fig.tight_layout()
    return fig
