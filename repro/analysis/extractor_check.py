"""Does a KID feature extractor see every basis perturbation? (SPEC.md §2)

The sensitivity analysis normalises by ``KID(α_max)`` and assumes KID grows with α, so an
extractor is only usable if, for each of the 24 perturbation types, the KID between clean and
perturbed images is clearly positive and rises with the magnitude. Randomly initialised networks
with global pooling are blind to blur, small geometric changes and hue.

:func:`perturbation_response` measures, on one set of images, the paired KID
(:func:`repro.analysis.kid.kid_result` with ``paired=True``) of every type at every magnitude, with the
standard deviation over KID subsets as its noise; :func:`acceptance` applies the criteria

* ``KID(α) > 0`` at every tested α;
* ``KID(α_max) ≥ snr · σ_KID(α_max)`` (default 5);
* non-decreasing up to the noise: ``KID(α_{i+1}) ≥ KID(α_i) - max(σ_i, σ_{i+1})``.

Perturbation draws use one generator per type (the same draws at every α), as in the analysis.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["perturbation_response", "acceptance", "MAGNITUDES"]

MAGNITUDES = (0.2, 0.4, 0.6, 0.8, 1.0)


def perturbation_response(extractor: Any, images, types: Sequence[str] | None = None, *,
                          magnitudes: Sequence[float] = MAGNITUDES, labels=None, seed: int = 0,
                          subsets: int = 100, subset_size: int | None = None, batch_size: int = 16,
                          border: str = "zoom", progress: bool = False) -> pd.DataFrame:
    """Paired KID of clean vs perturbed ``images`` for every type and magnitude.

    Args:
        extractor: a :class:`repro.analysis.features.Extractor` (or a name / module for
            :func:`repro.analysis.features.extractor`).
        images: N×3×H×W float RGB in [0, 1] (N ≥ 4).
        types: perturbation names (default all 24).
        magnitudes: α values in (0, 1].
        labels: optional N×H×W label maps (only moved along; KID does not use them).
        seed: seed of the perturbation draws and the KID subsets.
        subsets, subset_size: KID subsets (default size ``N // 2``, so that their spread
            measures the noise).
        batch_size: images per forward pass.

    Returns a DataFrame with columns ``type, alpha, kid, kid_std, extractor`` (``extractor``: the
    tag ``name@weights_hash``); ``df.attrs`` holds ``n_images``, ``subset_size`` and ``seed``.
    """
    import torch
    from tqdm import tqdm
    from repro.base.progress import disabled

    from repro.analysis import features
    from repro import perturb
    from repro.analysis.kid import kid_result
    from repro.scoring.perturbed import perturbed_chunks

    ext = extractor if isinstance(extractor, features.Extractor) else features.extractor(extractor)
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be an N×3×H×W tensor, got {getattr(images, 'shape', type(images).__name__)}")
    n = int(images.shape[0])
    if n < 4:
        raise ValueError(f"images must hold at least 4 images (KID subsets of N//2 >= 2), got {n}")
    names = list(perturb.NAMES if types is None else types)
    for t in names:
        perturb.check_name(t)
    mags = [float(m) for m in magnitudes]
    if not mags or any(not 0 < m <= 1 for m in mags):
        raise ValueError(f"magnitudes must be values in (0, 1], got {list(magnitudes)!r}")
    size = max(2, n // 2) if subset_size is None else int(subset_size)

    def feats(x):
        return torch.cat([ext(x[s:s + batch_size]).cpu() for s in range(0, x.shape[0], batch_size)])

    clean = feats(images)
    rows = []
    for t in tqdm(names, desc=f"KID response ({ext.name})", disable=disabled(progress)):
        for m in mags:
            out = [x for x, _ in perturbed_chunks(images, labels, t, m, seed=seed, batch_size=batch_size, border=border)]
            k = kid_result(clean, feats(torch.cat(out)), subsets=subsets, subset_size=size, seed=seed, paired=True)
            rows.append({"type": t, "alpha": m, "kid": k.mean, "kid_std": k.std, "extractor": ext.tag})
    df = pd.DataFrame(rows, columns=["type", "alpha", "kid", "kid_std", "extractor"])
    df.attrs.update({"n_images": n, "subset_size": size, "seed": int(seed)})
    return df


def acceptance(response: pd.DataFrame, *, snr: float = 5.0) -> pd.DataFrame:
    """Per type: does the extractor pass the three criteria of the module docstring?

    Returns one row per (extractor, type) with ``kid_max``, ``snr_max`` (``KID(α_max)/σ``),
    ``positive``, ``strong``, ``monotone`` and ``ok`` (all three).
    """
    need = {"type", "alpha", "kid", "kid_std", "extractor"}
    if not isinstance(response, pd.DataFrame) or not need <= set(response.columns):
        raise ValueError(f"response must be a DataFrame from perturbation_response with columns {sorted(need)}")
    rows = []
    for (ext, t), g in response.groupby(["extractor", "type"], sort=False):
        g = g.sort_values("alpha")
        k, sd = g["kid"].to_numpy(float), g["kid_std"].to_numpy(float)
        positive = bool(np.all(k > 0))
        snr_max = float(k[-1] / sd[-1]) if sd[-1] > 0 else float("inf") if k[-1] > 0 else 0.0
        strong = snr_max >= snr
        monotone = bool(np.all(k[1:] >= k[:-1] - np.maximum(sd[1:], sd[:-1])))
        rows.append({"extractor": ext, "type": t, "kid_max": float(k[-1]), "snr_max": snr_max, "positive": positive,
                     "strong": strong, "monotone": monotone, "ok": positive and strong and monotone})
    return pd.DataFrame(rows)


def plot_response(response: pd.DataFrame, acc: pd.DataFrame | None = None):
    """One panel per extractor: ``KID(α)/σ_KID(α)`` per type (log scale); a type that fails the
    criteria is drawn dashed."""
    import matplotlib.pyplot as plt

    exts = list(dict.fromkeys(response["extractor"]))
    acc = acceptance(response) if acc is None else acc
    fig, axes = plt.subplots(1, len(exts), figsize=(4.6 * len(exts), 3.6), squeeze=False, sharey=True)
    cmap = plt.get_cmap("tab20", 24)
    for ax, ext in zip(axes[0], exts):
        sub = response[response["extractor"] == ext]
        ok = acc[acc["extractor"] == ext].set_index("type")["ok"]
        for i, (t, g) in enumerate(sub.groupby("type", sort=False)):
            g = g.sort_values("alpha")
            ratio = (g["kid"] / g["kid_std"].where(g["kid_std"] > 0)).clip(lower=1e-2)
            ax.plot(g["alpha"], ratio, ls="-" if ok.get(t, False) else "--", color=cmap(i), lw=1,
                    label=t if ax is axes[0][0] else None)
        ax.axhline(5, color="k", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_title(f"{ext.split('@')[0]}: {int(ok.sum())}/{len(ok)} types pass", fontsize=9)
        ax.set_xlabel("magnitude α")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("KID / σ_KID (clipped at 0.01)")
    fig.legend(loc="center right", fontsize=6, ncol=1)
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    return fig
