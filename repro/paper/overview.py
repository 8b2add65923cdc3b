"""Figures and numbers for a first look at a dataset (notebook 00).

``overlay(image, label, palette, alpha)`` blends class colours over the image:
``out = (1 - alpha)·image + alpha·palette[label]`` where the label is not ignored.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from repro.data import SegDataset


def colorize(label: torch.Tensor, palette, ignore_index: int = 255) -> np.ndarray:
    """H×W class ids → H×W×3 float RGB in [0, 1]; ignored pixels black."""
    lab = torch.as_tensor(label).cpu().numpy()
    pal = np.zeros((256, 3), np.float32)
    pal[: len(palette)] = np.asarray(palette, np.float32) / 255.0
    pal[ignore_index] = 0.0
    return pal[np.clip(lab, 0, 255)]


def overlay(image: torch.Tensor, label: torch.Tensor, palette, *, alpha: float = 0.5,
            ignore_index: int = 255) -> np.ndarray:
    """3×H×W image in [0, 1] with its label blended in at ``alpha`` (unitless, 0..1)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    img = torch.as_tensor(image).detach().cpu().permute(1, 2, 0).numpy()
    col = colorize(label, palette, ignore_index)
    valid = (torch.as_tensor(label).cpu().numpy() != ignore_index)[..., None]
    return np.where(valid, (1 - alpha) * img + alpha * col, img).clip(0, 1)


def sample_grid(datasets: dict[str, SegDataset], n_show: int, *, seed: int = 0):
    """A figure: for each named dataset, ``n_show`` evenly spaced samples (image over overlay)."""
    import matplotlib.pyplot as plt

    if n_show < 1:
        raise ValueError(f"n_show must be at least 1, got {n_show}")
    rows = 2 * len(datasets)
    # shown inline at 60 dpi (keeps the stored notebook small); tables.save_figure writes the PNG at its own dpi
    fig, axes = plt.subplots(rows, n_show, figsize=(2.2 * n_show, 1.8 * rows), squeeze=False, dpi=60)
    for r, (title, ds) in enumerate(datasets.items()):
        idx = np.linspace(0, len(ds) - 1, n_show).round().astype(int)
        for c, i in enumerate(idx):
            item = ds[int(i)]
            axes[2 * r, c].imshow(item["image"].permute(1, 2, 0).numpy())
            axes[2 * r + 1, c].imshow(overlay(item["image"], item["label"], ds.palette, ignore_index=ds.ignore_index))
            axes[2 * r, c].set_title(f"{title}\n{item['name']}", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def class_histogram(datasets: dict[str, SegDataset]) -> pd.DataFrame:
    """Share of labelled pixels per class (percent) for each named dataset; one row per class."""
    cols = {}
    classes = None
    for title, ds in datasets.items():
        counts = np.zeros(ds.num_classes, np.int64)
        for i in range(len(ds)):
            lab = ds[i]["label"].numpy()
            counts += np.bincount(lab[lab != ds.ignore_index].ravel(), minlength=ds.num_classes)[: ds.num_classes]
        cols[title] = 100.0 * counts / max(counts.sum(), 1)
        classes = ds.classes
    return pd.DataFrame(cols, index=pd.Index(classes, name="class"))


def brightness(datasets: dict[str, SegDataset]) -> pd.DataFrame:
    """Per-split mean and std of the per-image mean brightness (0..255), and image counts."""
    rows = []
    for title, ds in datasets.items():
        means = np.array([float(ds[i]["image"].mean()) * 255 for i in range(len(ds))])
        rows.append({"split": title, "images": len(ds), "mean_brightness": means.mean(), "std_brightness": means.std()})
    return pd.DataFrame(rows).set_index("split")


def plot_overview(hist: pd.DataFrame, bright: pd.DataFrame):
    """Class shares (grouped bars) beside the per-split brightness."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [3, 1]})
    hist.plot.bar(ax=a, width=0.8)
    a.set_ylabel("% of labelled pixels")
    a.set_title("class shares per split")
    b.bar(bright.index, bright["mean_brightness"], yerr=bright["std_brightness"], color="0.5")
    b.set_ylabel("mean brightness (0..255)")
    b.set_title("day vs dusk")
    b.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig
