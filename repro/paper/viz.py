"""Figures of perturbed images: the basis-perturbation grid of notebook 01 and its helpers.

Images are 3×H×W float tensors in [0, 1] (RGB), labels H×W int64 with ignore index 255, as
returned by :mod:`repro.data`.  Label overlays blend the class colours over the image with
opacity ``alpha``; ignored pixels (255) are drawn black at the same opacity.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from repro import perturb
from repro.data import IGNORE_INDEX

__all__ = [
    "overlay",
    "basis_panels",
    "advsteer_panels",
    "imagenet_c_panels",
    "plot_perturbation_grid",
    "parameter_table",
    "change_table",
]


def overlay(image: torch.Tensor, label: Optional[torch.Tensor], palette, *, alpha: float = 0.45) -> np.ndarray:
    """H×W×3 float array: ``(1-α)·image + α·colour(label)`` (black for 255); image if no label."""
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be a 3×H×W tensor, got {getattr(image, 'shape', type(image))}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    img = image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    if label is None:
        return img
    if tuple(label.shape) != tuple(image.shape[1:]):
        raise ValueError(f"label shape {tuple(label.shape)} does not match image {tuple(image.shape[1:])}")
    lut = np.zeros((256, 3), dtype=np.float32)
    pal = np.asarray(palette, dtype=np.float32).reshape(-1, 3) / 255.0
    if len(pal) > IGNORE_INDEX:
        raise ValueError(f"palette has {len(pal)} colours; at most {IGNORE_INDEX} are supported")
    lut[: len(pal)] = pal
    lab = label.detach().cpu().numpy().astype(np.int64)
    colours = lut[np.clip(lab, 0, 255)]
    return (1.0 - alpha) * img + alpha * colours


def basis_panels(
    image: torch.Tensor,
    label: torch.Tensor,
    names: Sequence[str] = perturb.NAMES,
    magnitudes: Sequence[float] = (0.2, 0.4, 0.6, 0.8, 1.0),
    *,
    border: str = "zoom",
    seed: int = 0,
) -> dict:
    """``{name: [(magnitude, image', label'), ...]}`` for one image (3×H×W) and its label.

    All magnitudes of one perturbation run as one batch (one magnitude per sample); the noise
    uses ``torch.Generator().manual_seed(seed)``.
    """
    ms = [float(m) for m in magnitudes]
    x = image[None].expand(len(ms), -1, -1, -1).contiguous()
    y = label[None].expand(len(ms), -1, -1).contiguous()
    out = {}
    for name in names:
        g = torch.Generator(device=x.device).manual_seed(int(seed))
        xi, yi = perturb.apply(x, y, name, torch.tensor(ms), generator=g, border=border)
        out[name] = [(m, xi[k], yi[k]) for k, m in enumerate(ms)]
    return out


def advsteer_panels(image: torch.Tensor, label: torch.Tensor, indices: Sequence[int] = range(1, 7), *,
                    variant: str = "paper", seed: int = 0) -> list:
    """``[(title, image', label'), ...]`` for the AdvSteer combinations (``repro.evaluation.corruptions``)."""
    from repro.evaluation import corruptions as corrupt

    panels = []
    for i in indices:
        xi, yi = corrupt.advsteer(image[None], label[None], int(i), variant=variant, seed=int(seed))
        panels.append((f"AdvSteer {i}", xi[0], yi[0]))
    return panels


def imagenet_c_panels(image: torch.Tensor, label: torch.Tensor, names: Sequence[str], severity: int = 3, *,
                      seed: int = 0) -> list:
    """``[(title, image', label'), ...]`` for ImageNet-C corruptions at one severity."""
    from repro.evaluation import corruptions as corrupt

    panels = []
    for name in names:
        xi, yi = corrupt.imagenet_c(image[None], label[None], name, int(severity), seed=int(seed))
        panels.append((f"{name} s{severity}", xi[0], yi[0]))
    return panels


def plot_perturbation_grid(
    image: torch.Tensor,
    label: torch.Tensor,
    basis: dict,
    *,
    palette,
    extra_rows: Sequence = (),
    overlay_names: Sequence[str] = perturb.GEOMETRIC,
    blocks: int = 2,
    alpha: float = 0.45,
    panel_width: float = 1.45,
):
    """The basis-perturbation grid: one row per perturbation (clean + one column per magnitude).

    ``basis``: output of :func:`basis_panels`.  Rows are laid out in ``blocks`` side-by-side
    blocks (default 2 × 12 rows).  Perturbations in ``overlay_names`` (default: the geometric
    ones) and the clean column of those rows show the label overlay.  ``extra_rows``:
    ``[(row_title, panels, with_overlay), ...]`` with ``panels`` as returned by
    :func:`advsteer_panels` / :func:`imagenet_c_panels`, drawn full width below the grid.
    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    names = list(basis)
    if not names:
        raise ValueError("basis is empty: pass the output of basis_panels()")
    if blocks < 1:
        raise ValueError(f"blocks must be >= 1, got {blocks}")
    n_mag = len(basis[names[0]])
    rows_per_block = -(-len(names) // blocks)
    cols = blocks * (n_mag + 1)
    h, w = image.shape[1:]
    panel_h = panel_width * h / w
    extra_rows = list(extra_rows)
    extra_cols = max([len(p) for _, p, _ in extra_rows] + [1])
    extra_w = cols * panel_width / extra_cols
    heights = [rows_per_block * (panel_h + 0.28)] + [extra_w * h / w + 0.45 for _ in extra_rows]
    fig = plt.figure(figsize=(cols * panel_width, sum(heights)))
    subfigs = fig.subfigures(1 + len(extra_rows), 1, height_ratios=heights, squeeze=False)[:, 0]

    axes = subfigs[0].subplots(rows_per_block, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for k, name in enumerate(names):
        b, r = divmod(k, rows_per_block)
        c0 = b * (n_mag + 1)
        with_lab = name in overlay_names
        ax = axes[r, c0]
        ax.imshow(overlay(image, label if with_lab else None, palette, alpha=alpha))
        ax.set_title(f"{name}: clean", fontsize=7, pad=2)
        for j, (m, xi, yi) in enumerate(basis[name]):
            ax = axes[r, c0 + 1 + j]
            ax.imshow(overlay(xi, yi if with_lab else None, palette, alpha=alpha))
            ax.set_title(f"m={m:g}", fontsize=7, pad=2)
    subfigs[0].subplots_adjust(left=0.005, right=0.995, top=0.985, bottom=0.005, wspace=0.04, hspace=0.25)

    for sf, (title, panels, with_lab) in zip(subfigs[1:], extra_rows):
        axs = sf.subplots(1, extra_cols, squeeze=False)[0]
        for ax in axs:
            ax.set_axis_off()
        for ax, (t, xi, yi) in zip(axs, panels):
            ax.imshow(overlay(xi, yi if with_lab else None, palette, alpha=alpha))
            ax.set_title(t, fontsize=8, pad=2)
        sf.suptitle(title, fontsize=10, y=0.99)
        sf.subplots_adjust(left=0.005, right=0.995, top=0.8, bottom=0.01, wspace=0.04)
    return fig


def parameter_table(magnitudes: Sequence[float], height: int, width: int):
    """DataFrame (rows: the 24 perturbations, columns: magnitudes) of what each level means.

    Channel ones: the blend towards the channel's bound (``c' = (1-m)·c + m·bound``, 8-bit
    units); rotations in degrees; shears as factors; translations in pixels of a
    ``height × width`` image; blur as kernel size and σ (pixels); noise as σ on 0..255.
    """
    import pandas as pd

    rows = {}
    for name in perturb.NAMES:
        cells = []
        for m in magnitudes:
            m = float(m)
            if name in perturb.PHOTOMETRIC:
                bound = {"H": 180, "S": 255, "V": 255}.get(name[0], 255)
                if name.endswith("-"):
                    bound = 10 if name == "V-" else 0
                cells.append(f"{m:.0%}→{bound}")
            elif name in perturb.GEOMETRIC:
                p = perturb.affine_parameters(name, m, height, width)
                if name.startswith("rotate"):
                    cells.append(f"{p['angle']:+.1f}°")
                elif name.startswith("shear"):
                    cells.append(f"{p['shear_x'] + p['shear_y']:+.2f}")
                else:
                    cells.append(f"{p['tx'] + p['ty']:+.1f} px")
            elif name == "gaussian_blur":
                k = perturb.blur_kernel_size(m)
                cells.append(f"k={k}, σ={perturb.blur_sigma(k):.2f}")
            else:
                cells.append(f"σ={perturb.noise_sigma(m):.1f}")
        rows[name] = cells
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"m={float(m):g}" for m in magnitudes])


def change_table(image: torch.Tensor, basis: dict):
    """DataFrame of the mean absolute pixel change (0..255 scale) per perturbation × magnitude."""
    import pandas as pd

    rows = {name: [float((xi - image).abs().mean()) * 255.0 for _, xi, _ in panels] for name, panels in basis.items()}
    first = next(iter(basis.values()))
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"m={m:g}" for m, _, _ in first])
