"""Perturb then score: a model's scores on images under one basis perturbation at a magnitude α.

The one place where the package perturbs a fixed set of images to measure something on them:
the sensitivity analysis (:func:`repro.analysis.sensitivity.analyse`), the training hook's level
measurements (:func:`evaluate_levels`, used by :class:`repro.train.SensitivityHook`), the
``basis_aug`` evaluation suite (:func:`repro.evaluation.suites.item_batches`), the extractor check
(:mod:`repro.analysis.extractor_check`) and the KID sample-size study (:mod:`repro.paper.kid_study`).

Seed rule (:func:`repro.base.seeds.derive_seed`): the draws of perturbation ``name`` come from one
``torch.Generator`` seeded with ``derive_seed(seed, name)`` and consumed chunk by chunk
(``batch_size`` images) in image order. So

* every α of a type sees the same draws (common random numbers: the difference between two
  magnitudes is not sampling noise), on the analysis' curve, in the hook's measurements and in
  the evaluation suite alike;
* a type's result does not depend on which other types are evaluated, or in which order;
* noise (the only perturbation that draws) may depend on ``batch_size`` (the chunking of the
  stream). Where that must not be (the KID study compares sample sizes), :func:`perturb_each`
  gives every image its own stream, ``derive_seed(seed, name, key)``.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import pandas as pd
import torch

from repro.base.seeds import torch_generator
from repro.base.validation import check_int

__all__ = ["perturbed_chunks", "perturb_each", "clean_matrices", "perturbed_matrices", "evaluate_levels", "DRAWING_TYPES"]

#: the perturbation types that draw random numbers (their result depends on the seed)
DRAWING_TYPES = frozenset({"gaussian_noise"})


def _chunks(n: int, batch_size: int):
    return range(0, n, check_int(batch_size, "batch_size", 1))


def perturbed_chunks(images: torch.Tensor, labels: torch.Tensor | None, name: str, alpha: float, *, seed: int = 0,
                     batch_size: int = 8, border: str = "zoom") -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield ``repro.perturb.apply(images[s:s+b], labels[s:s+b], name, α)`` chunk by chunk.

    ``images``: N×3×H×W float RGB in [0, 1]; ``labels``: N×H×W int64 or ``None``; ``alpha``: the
    magnitude in [0, 1] (unitless); ``batch_size`` (b): images per chunk; ``border``: border mode
    of the geometric types. Draws: one generator ``derive_seed(seed, name)`` for the whole set
    (module docstring)."""
    from repro.perturb import functional as perturb

    g = torch_generator(seed, name, device=images.device)
    for s in _chunks(images.shape[0], batch_size):
        yield perturb.apply(images[s:s + batch_size], None if labels is None else labels[s:s + batch_size], name,
                            float(alpha), generator=g, border=border)


def perturb_each(images: torch.Tensor, name: str, alpha: float, *, seed: int = 0, keys: Sequence[Any],
                 border: str = "zoom") -> torch.Tensor:
    """``images`` (N×3×H×W float in [0, 1]) perturbed by ``name`` at ``alpha``, image i with its own
    generator ``derive_seed(seed, name, keys[i])`` (``keys``: N names, e.g. the images' file
    names), so that an image's draw does not depend on the batch it comes in. Types that draw
    nothing are applied to the whole batch at once."""
    from repro.perturb import functional as perturb

    if len(keys) != images.shape[0]:
        raise ValueError(f"keys must name each of the {images.shape[0]} images, got {len(keys)}")
    if name != "gaussian_noise":
        return perturb.apply(images, None, name, float(alpha), border=border)[0]
    return torch.cat([perturb.apply(images[i:i + 1], None, name, float(alpha), border=border,
                                    generator=torch_generator(seed, name, k, device=images.device))[0]
                      for i, k in enumerate(keys)])


def clean_matrices(model: Any, images, labels, *, num_classes: int, ignore_index: int = 255,
                   batch_size: int = 8, device: Any = None) -> torch.Tensor:
    """Per-image confusion matrices (N×C×C int64) of ``model`` on the clean ``images``/``labels``."""
    from repro.scoring.inference import predict
    from repro.scoring.metrics import per_image_matrices

    out = []
    for s in _chunks(images.shape[0], batch_size):
        pred = predict(model, images[s:s + batch_size], batch_size=batch_size, device=device,
                       num_classes=num_classes).cpu()
        out.append(per_image_matrices(pred, labels[s:s + batch_size].cpu(), num_classes, ignore_index))
    return torch.cat(out)


def perturbed_matrices(model: Any, images, labels, name: str, alpha: float, *, seed: int = 0, num_classes: int,
                       ignore_index: int = 255, batch_size: int = 8, device: Any = None, border: str = "zoom",
                       extractor: Any = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Perturb then score: the per-image confusion matrices (N×C×C) of ``model`` on ``images``/``labels``
    perturbed by ``name`` at magnitude ``alpha`` (:func:`perturbed_chunks`), and with ``extractor``
    the perturbed images' features (N×d), else ``None``."""
    from repro.scoring.inference import predict
    from repro.scoring.metrics import per_image_matrices

    mats, feats = [], []
    for xb, yb in perturbed_chunks(images, labels, name, alpha, seed=seed, batch_size=batch_size, border=border):
        pred = predict(model, xb, batch_size=batch_size, device=device, num_classes=num_classes).cpu()
        mats.append(per_image_matrices(pred, yb.cpu(), num_classes, ignore_index))
        if extractor is not None:
            feats.append(extractor(xb).cpu())
    return torch.cat(mats), (torch.cat(feats) if extractor is not None else None)


def evaluate_levels(model, images: torch.Tensor, labels: torch.Tensor, levels: Mapping[str, Sequence[float]], *,
                    num_classes: int, ignore_index: int = 255, batch_size: int = 8, border: str = "zoom",
                    seed: int = 0, device: Any = None, known: Mapping[str, Mapping[float, float]] | None = None,
                    clean: float | None = None) -> tuple[pd.DataFrame, float]:
    """mIoU (percent) of ``model`` on ``images`` perturbed by every type at each of its levels.

    ``images``: N×3×H×W float RGB in [0, 1]; ``labels``: N×H×W int64; ``levels``: type → list of
    magnitudes α (unitless, in [0, 1]). mIoU of the summed per-image matrices
    (:func:`perturbed_matrices`; draws per the module's seed rule, the same at every level of a
    type). Returns (table with columns type, level (1-based), alpha, miou; clean mIoU).

    ``known``: type → {α: mIoU} already measured by :func:`perturbed_matrices` with the same
    model, images, labels, ``batch_size``, ``border`` and ``device`` (e.g. the points of the
    analysis that chose the levels); a level whose α is there (exactly) is not evaluated again.
    Only types that draw nothing (every type but :data:`DRAWING_TYPES`) are taken from it: their
    perturbation does not depend on ``seed``, so the numbers are those an evaluation would give,
    bit for bit (the model's forward pass on the same input). ``clean``: the clean mIoU of the
    same model on the same images, likewise (``None``: measured).
    """
    from repro.scoring.metrics import miou_of_matrices

    kw = dict(num_classes=num_classes, ignore_index=ignore_index, batch_size=batch_size, device=device)
    rows = []
    for t, alphas in levels.items():
        reuse = {} if known is None or t in DRAWING_TYPES else {float(a): float(m) for a, m in (known.get(t) or {}).items()}
        for li, a in enumerate(alphas):
            if float(a) in reuse:
                miou = reuse[float(a)]
            else:
                mats, _ = perturbed_matrices(model, images, labels, t, float(a), seed=seed, border=border, **kw)
                miou = float(miou_of_matrices(mats.sum(0)))
            rows.append(dict(type=t, level=li + 1, alpha=float(a), miou=miou))
    if clean is None:
        clean = float(miou_of_matrices(clean_matrices(model, images, labels, **kw).sum(0)))
    return pd.DataFrame(rows, columns=["type", "level", "alpha", "miou"]), float(clean)
