"""Qualitative figures (the paper's Figures 2 and 6): each method's prediction beside the input
and the ground truth, on a real dusk CamVid frame and on an ISBI-EM image under corruptions."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

from repro.paper.overview import colorize


def prediction_grid(models: Mapping[str, object], samples: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
                    palette, *, ignore_index: int = 255):
    """A figure with one row per sample: input, ground truth, then each model's prediction.

    ``samples`` holds (title, image 3×H×W in [0, 1], label H×W); ``models`` maps a column title
    to anything :func:`repro.scoring.inference.predict` accepts.
    """
    import matplotlib.pyplot as plt

    from repro.scoring.inference import predict

    if not samples:
        raise ValueError("samples must hold at least one (title, image, label)")
    cols = 2 + len(models)
    fig, axes = plt.subplots(len(samples), cols, figsize=(2.1 * cols, 1.9 * len(samples)), squeeze=False)
    for r, (title, image, label) in enumerate(samples):
        axes[r, 0].imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
        axes[r, 0].set_ylabel(title, fontsize=7)
        axes[r, 1].imshow(colorize(label, palette, ignore_index))
        for c, (name, model) in enumerate(models.items()):
            pred = predict(model, image[None])[0]
            axes[r, 2 + c].imshow(colorize(pred, palette, ignore_index))
            if r == 0:
                axes[r, 2 + c].set_title(name, fontsize=8)
        if r == 0:
            axes[r, 0].set_title("input", fontsize=8)
            axes[r, 1].set_title("ground truth", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
