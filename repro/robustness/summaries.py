"""Numbers derived from a report's scores: the corruption errors CE/rCE/mCE against a reference
model (Hendrycks & Dietterich 2019; Kamann & Rother 2020, see :mod:`repro.robustness`), the
resilience rates, the trivial floor (the mIoU of predicting the majority class) and the note on
converted images.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import torch

_E = "1 - mIoU/100"
# ------------------------------------------------------------------------------------------ corruption error


def corruption_errors(rows: Sequence[Mapping], clean_miou: float, reference_rows: Sequence[Mapping] | None = None,
                      reference_clean_miou: float | None = None) -> dict:
    """Corruption errors (module docstring) from ImageNet-C rows ``{item, level, mIoU}`` (mIoU in %).

    Returns ``{"per_corruption": {c: {"mean_error", "CE", "rCE"}}, "mCE", "relative_mCE",
    "mCE_held_out", "relative_mCE_held_out", "mCE_all", "error": "1 - mIoU/100"}``: ``mean_error``
    is ``mean_s E_{s,c}`` (fraction), ``CE``/``rCE`` in percent of the reference (``None``
    without a reference or where undefined).
    """
    from repro.evaluation.corruptions import IMAGENET_C_COMMON, IMAGENET_C_HELD_OUT

    def errors(rs):
        out: dict[str, dict[int, float]] = {}
        for r in rs:
            out.setdefault(str(r["item"]), {})[int(r["level"])] = 1.0 - float(r["mIoU"]) / 100.0
        return out

    e, e_clean = errors(rows), 1.0 - float(clean_miou) / 100.0
    ref = errors(reference_rows) if reference_rows is not None else None
    r_clean = 1.0 - float(reference_clean_miou) / 100.0 if reference_clean_miou is not None else None
    per = {}
    for c, by_s in e.items():
        d = {"mean_error": float(np.mean(list(by_s.values()))), "CE": None, "rCE": None}
        if ref is not None:
            if c not in ref or set(ref[c]) != set(by_s):
                raise ValueError(f"the reference lacks corruption {c!r} at severities {sorted(by_s)}")
            sev = sorted(by_s)
            den = sum(ref[c][s] for s in sev)
            d["CE"] = 100.0 * sum(by_s[s] for s in sev) / den if den > 0 else None
            rden = sum(ref[c][s] - r_clean for s in sev)
            d["rCE"] = 100.0 * sum(by_s[s] - e_clean for s in sev) / rden if abs(rden) > 1e-12 else None
        per[c] = d

    def mean(names, field):
        vals = [per[c][field] for c in names if c in per and per[c][field] is not None]
        return float(np.mean(vals)) if vals else None

    return {"error": _E, "per_corruption": per, "mCE": mean(IMAGENET_C_COMMON, "CE"),
            "relative_mCE": mean(IMAGENET_C_COMMON, "rCE"), "mCE_held_out": mean(IMAGENET_C_HELD_OUT, "CE"),
            "relative_mCE_held_out": mean(IMAGENET_C_HELD_OUT, "rCE"), "mCE_all": mean(list(per), "CE"),
            "mean_error_common": mean(IMAGENET_C_COMMON, "mean_error"),
            "mean_error_held_out": mean(IMAGENET_C_HELD_OUT, "mean_error")}


def resilience_rates(rows: Sequence[Mapping], clean_miou: float | None) -> dict:
    """Resilience rates (percent of the clean mIoU; module docstring) from suite rows ``{item,
    level, mIoU}`` (mIoU in points): ``rR_i = 100 · mean_s mIoU_{i,s} / mIoU_clean`` per item,
    and their means over all items (``mean``) and, for ImageNet-C names, over the common
    (``mean_common``) and held-out (``mean_held_out``) corruptions present.

    Returns ``{"per_item": {i: rR_i}, "mean", "mean_common", "mean_held_out"}``; every value
    ``None`` when the clean mIoU is missing or not > 0 (the ratio is undefined).
    """
    from repro.evaluation.corruptions import IMAGENET_C_COMMON, IMAGENET_C_HELD_OUT

    by_item: dict[str, list[float]] = {}
    for r in rows:
        by_item.setdefault(str(r["item"]), []).append(float(r["mIoU"]))
    ok = clean_miou is not None and math.isfinite(float(clean_miou)) and float(clean_miou) > 0
    per = {i: (100.0 * float(np.mean(v)) / float(clean_miou) if ok else None) for i, v in by_item.items()}

    def mean(names):
        vals = [per[i] for i in names if i in per and per[i] is not None]
        return float(np.mean(vals)) if vals else None

    return {"per_item": per, "mean": mean(list(per)), "mean_common": mean(IMAGENET_C_COMMON),
            "mean_held_out": mean(IMAGENET_C_HELD_OUT)}


def trivial_floor(labels, num_classes: int, ignore_index: int = 255,
                  classes: Sequence[str] | None = None) -> dict:
    """The trivial floor of an evaluated split (module docstring): the scores (points) of
    predicting its majority class everywhere, from the labels' confusion matrix
    (:func:`repro.scoring.metrics.majority_floor`; ``labels``: N×H×W class ids, or an iterable of such
    chunks, e.g. streamed from disk; ``ignore_index`` skipped).

    Returns ``{"class", "class_name", "fraction", "aAcc", "mAcc", "mIoU"}``.
    """
    from repro.scoring.metrics import ConfusionMatrix, majority_floor

    cm = ConfusionMatrix(int(num_classes), int(ignore_index))
    for chunk in ([labels] if isinstance(labels, torch.Tensor) else labels):
        cm.update(chunk, chunk)  # diagonal: the label counts
    f = majority_floor(cm)
    names = list(classes) if classes is not None else []
    f["class_name"] = names[f["class"]] if f["class"] is not None and f["class"] < len(names) else None
    return f


def converted_note(dataset) -> str | None:
    """One sentence saying that ``dataset``'s images were converted on reading (e.g. greyscale →
    RGB), from its ``converted`` attribute when it has one and it is set (a bool, a count, a mode
    such as ``"L"``, a text, or a mapping/sequence of such); ``None`` otherwise."""
    conv = getattr(dataset, "converted", None)
    if conv is None or conv is False or (hasattr(conv, "__len__") and len(conv) == 0) or (
            isinstance(conv, (int, float)) and not isinstance(conv, bool) and conv == 0):
        return None
    name = f"{getattr(dataset, 'name', type(dataset).__name__)}/{getattr(dataset, 'split', '')}".rstrip("/")
    if conv is True:
        detail = ""
    elif isinstance(conv, (int, np.integer)):
        detail = f" ({int(conv)} images)"
    elif isinstance(conv, str):
        detail = f" (source mode {conv})" if len(conv) <= 6 and " " not in conv else f" ({conv})"
    elif isinstance(conv, Mapping):
        detail = " (" + ", ".join(f"{k}: {v}" for k, v in conv.items()) + ")"
    else:
        try:
            detail = " (" + ", ".join(map(str, conv)) + ")"
        except TypeError:
            detail = f" ({conv})"
    return (f"the images of {name} were converted to RGB on reading{detail}; a greyscale value is copied to "
            "all three channels, so the model and the corruptions saw RGB images.")


