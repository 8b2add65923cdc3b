"""A robustness report for any segmentation model: ``robustness_report`` and ``python -m repro robustness``.

:func:`robustness_report` scores one model on the evaluation suites of SPEC §6 through the same
code as notebooks 05–09 (:func:`repro.evaluate.suite_items`, :func:`repro.evaluate.score_item`),
runs the adaptive sensitivity analysis (:func:`repro.sensitivity.analyse`), derives the sampling
distribution the method would train this model with (:meth:`repro.sampling.Distribution.from_analysis`)
and writes one folder:

* ``report.json``: every number, the versions (python, torch, numpy, repro and its git commit,
  mmseg/mmcv/mmengine/imagecorruptions when installed), the seed, the settings, the data's identity
  (SHA-256 over the file names and the bytes of every image and label file used) and the name of
  every KID extractor; no times (those go to ``timing.json``), so a re-run or a resumed run with the
  same seed writes the same file;
* ``report.md`` with the plots as PNG files beside it, and ``report.html``, self-contained (plots
  embedded as base64 PNG); rendering in :mod:`repro.robustness_report`;
* ``items/<suite>/<hash>.json``: one file per finished suite item (keyed by the model's weights,
  the data identity, the seed and every setting), so an interrupted run continues where it stopped.

Models: anything :func:`repro.inference.predict` accepts: an ``nn.Module`` (or callable) mapping a
float32 batch N×3×H×W of **RGB images in [0, 1]** (no mean/std normalisation) to logits N×C×h×w
(logits of another size are resized bilinearly), or an MMSegmentation segmentor (its own data
preprocessor normalises). A model that expects other inputs (e.g. ImageNet mean/std normalised)
gets ``preprocess=``: a callable (or ``nn.Module``) applied to the [0, 1] RGB batch before the
model, e.g. ``torchvision.transforms.Normalize(mean, std)``.

Corruption error (ImageNet-C suite; 15 common + 4 held-out corruptions × severities 1–5)
-----------------------------------------------------------------------------------------
Hendrycks & Dietterich (ICLR 2019, "Benchmarking neural network robustness to common corruptions
and perturbations", §3) define, with ``E^f_{s,c}`` the error of classifier f on corruption c at
severity s, the corruption error ``CE^f_c = Σ_{s=1..5} E^f_{s,c} / Σ_{s=1..5} E^{AlexNet}_{s,c}``,
its mean over the 15 common corruptions ``mCE``, and the relative corruption error
``rCE^f_c = Σ_s (E^f_{s,c} − E^f_clean) / Σ_s (E^{AlexNet}_{s,c} − E^{AlexNet}_clean)`` (mean:
relative mCE). Kamann & Rother (CVPR 2020, "Benchmarking the robustness of semantic segmentation
models"; IJCV 129:462–483, 2021) carry this to segmentation with the error ``E = 1 − mIoU`` and a
segmentation reference model (DeepLabv3+ in their study), and call the two measures *corruption
degradation* ``CD_c`` and *relative corruption degradation* ``rCD_c``. We compute exactly these
with ``E = 1 − mIoU/100`` (mIoU of one confusion matrix over the evaluation set, percent) and the
model given as ``reference`` (CLI: ``--reference CONFIG CHECKPOINT``) in place of AlexNet/DeepLabv3+,
in percent (×100): ``CE_c`` (= CD_c), ``rCE_c`` (= rCD_c), their means over the common corruptions
present (``mCE``, ``relative_mCE``), over the held-out ones present (``mCE_held_out``,
``relative_mCE_held_out``) and over all present (``mCE_all``). A model against itself has CE = 100
for every corruption. ``rCE_c`` is undefined (``null``) when the reference's errors under c equal
its clean error. Without a reference only the unnormalised mean errors are reported. (Neither
paper's full text could be opened from the machine this was written on; the formulas above are
H&D's as published and K&R's CD/rCD as we know them, the same ratios with E = 1 − mIoU.)

Resilience rate and the trivial floor (every suite but clean)
-----------------------------------------------------------
The resilience rate of an item (a corruption, a perturbation type, an AdvSteer combination, a
real-world split) is ``rR_i = 100 · mean_s mIoU_{i,s} / mIoU_clean`` (percent of the clean mIoU,
mean over the item's severities/magnitudes ``s``); a suite's *mean resilience rate* is the mean
of ``rR_i`` over its items (ImageNet-C: over the 15 common corruptions present, beside mCE, and
over all present, beside ``mCE_all``). Unlike CE it needs no reference model; it is inflated the
same way when the clean mIoU is close to the *trivial floor*: the mIoU of predicting the majority
class of the evaluated split everywhere (:func:`repro.metrics.majority_floor`: ``100 · (n_k/N) /
|classes present|`` from the labels' pixel counts ``n_c``, e.g. 46 for a binary split with 92 %
background). The report shows the floor beside the clean and corrupted scores: a score near it
means "no better than all background", and a severe corruption can score above a mild one there.

Units: every mIoU/aAcc/mAcc in ``report.json`` and in the report is in points (0–100); the errors
``E`` of the CE formulas are fractions (``1 − mIoU/100``) in ``report.json`` and shown in points
(``100 − mIoU``) in the report; CE, rCE and rR are percent.

KID numbers: the analysis' KID at every evaluated magnitude (paired estimator, features of the
``extractor``), and, per ImageNet-C corruption at the severities ``kid_severities`` and per
real-world split, the KID between the clean evaluation images and the corrupted (paired) or
real-world (unpaired) images. Every KID carries the extractor's ``name@weights_hash`` tag.

Randomness: every draw is seeded from ``seed`` (the suites' per-item seeds of
:func:`repro.evaluate.item_batches`, the analysis' subset and perturbation draws, the KID
subsets); same seed, same numbers. Corrupted ImageNet-C images are generated once per (image,
corruption, severity, seed) and cached on disk per image (namespace ``imagenet_c`` of :mod:`repro.cache`,
shared with the notebooks); each image's draw depends only on (seed, corruption, severity, image name).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from . import evaluate as ev

__all__ = ["REPORT_SUITES", "robustness_report", "compare_reports", "compare_summary", "corruption_errors",
           "resilience_rates", "trivial_floor", "converted_note", "data_identity", "flat_numbers", "load_report",
           "main"]

#: the report's suites, in the order they are computed
REPORT_SUITES = ("clean", "sensitivity", "basis_aug", "imagenet_c", "advsteer", "real_world")
FORMAT = "repro.robustness/1"
_E = "1 - mIoU/100"


class _Preprocessed(torch.nn.Module):
    """``model(preprocess(x))`` as one module, so that its weights identify it (cache keys)."""

    def __init__(self, model, preprocess):
        super().__init__()
        self.model = model
        self.preprocess = preprocess

    def forward(self, x):
        return self.model(self.preprocess(x))


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    import subprocess

    from . import paths

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def versions() -> dict:
    """Versions of what produced the numbers (``None`` where a package is not installed)."""
    import platform

    from . import __version__

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "repro": __version__, "repro_commit": _git_commit(), "mmseg": _version("mmsegmentation"),
            "mmcv": _version("mmcv"), "mmengine": _version("mmengine"),
            "imagecorruptions": _version("imagecorruptions")}


def data_identity(dataset, indices: Sequence[int] | None = None) -> dict:
    """The identity of the evaluation data: name, split, image count, and ``sha256`` over the
    names and the bytes of every image and label file used (in order), so two reports say
    whether they scored the same data."""
    idx = range(len(dataset)) if indices is None else [int(i) for i in indices]
    h = hashlib.sha256()
    for i in idx:
        h.update(f"{dataset.names[i]}\n".encode())
        for p in (dataset.image_paths[i], dataset.label_paths[i]):
            with open(p, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    out = {"name": dataset.name, "split": dataset.split, "n_images": len(idx),
           "indices": None if indices is None else list(idx), "sha256": h.hexdigest(),
           "num_classes": dataset.num_classes, "classes": list(dataset.classes), "ignore_index": dataset.ignore_index}
    label_map = getattr(dataset, "label_map", None)
    if isinstance(label_map, dict) and label_map:  # the same files read with another map are other data
        out["label_map"] = {str(k): int(v) for k, v in sorted(label_map.items())}
    return out


def _model_identity(model, model_key: str | None) -> str:
    from .hashing import state_hash

    h = state_hash(model)
    if h is None:
        if model_key is None:
            raise ValueError("a model without a state dict (a plain function) needs model_key=... (a string that "
                             "changes whenever the function does) to key the report's cache")
        return f"key:{model_key}"
    return h if model_key is None else f"{h}|{model_key}"


# ------------------------------------------------------------------------------------------ item cache


class _Items:
    """One JSON file per finished suite item under ``out/items/<suite>/``."""

    def __init__(self, root: Path, force: bool):
        self.root = root
        self.force = force

    def path(self, suite: str, key: Mapping) -> Path:
        from .cache import config_hash

        return self.root / suite / f"{config_hash(key)}.json"

    def load(self, suite: str, key: Mapping):
        """The stored value of a finished item, or ``None`` (not finished, or ``force``)."""
        path = self.path(suite, key)
        if path.is_file() and not self.force:
            return json.loads(path.read_text())["value"]
        return None

    def put(self, suite: str, key: Mapping, value, *, write: bool = True):
        """Store ``value`` (atomically; not when ``write`` is false: ranks other than 0) and return it
        as a resumed run reads it back (the JSON round trip)."""
        from .cache import canonical

        text = json.dumps({"key": canonical(key), "value": value}, indent=1, sort_keys=True, allow_nan=True)
        if write:
            path = self.path(suite, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
        return json.loads(text)["value"]  # the same round trip as a resumed run


def _timed(run: Callable, spent: dict, i: int) -> Callable:
    """``run`` adding its wall time (s) to ``spent[i]``."""
    import time

    def f(mine):
        t0 = time.perf_counter()
        try:
            return run(mine)
        finally:
            spent[i] = spent.get(i, 0.0) + time.perf_counter() - t0
    return f


# ------------------------------------------------------------------------------------------ corruption error


def corruption_errors(rows: Sequence[Mapping], clean_miou: float, reference_rows: Sequence[Mapping] | None = None,
                      reference_clean_miou: float | None = None) -> dict:
    """Corruption errors (module docstring) from ImageNet-C rows ``{item, level, mIoU}`` (mIoU in %).

    Returns ``{"per_corruption": {c: {"mean_error", "CE", "rCE"}}, "mCE", "relative_mCE",
    "mCE_held_out", "relative_mCE_held_out", "mCE_all", "error": "1 - mIoU/100"}``: ``mean_error``
    is ``mean_s E_{s,c}`` (fraction), ``CE``/``rCE`` in percent of the reference (``None``
    without a reference or where undefined).
    """
    from .corrupt import IMAGENET_C_COMMON, IMAGENET_C_HELD_OUT

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
    from .corrupt import IMAGENET_C_COMMON, IMAGENET_C_HELD_OUT

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
    (:func:`repro.metrics.majority_floor`; ``labels``: N×H×W class ids, or an iterable of such
    chunks, e.g. streamed from disk; ``ignore_index`` skipped).

    Returns ``{"class", "class_name", "fraction", "aAcc", "mAcc", "mIoU"}``.
    """
    from .metrics import ConfusionMatrix, majority_floor

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


# ------------------------------------------------------------------------------------------ the report


def _check_dataset(dataset, what: str):
    from .data import SegDataset

    if not isinstance(dataset, SegDataset):
        raise TypeError(f"{what} must be a repro.data.SegDataset (load_dataset(...) or FolderDataset(...)), got "
                        f"{type(dataset).__name__}")
    return dataset


def _extractor_of(extractor, model, model_name: str, device):
    from .features import Extractor, encoder_extractor
    from .features import extractor as make_extractor

    if isinstance(extractor, Extractor):
        return extractor
    if extractor == "encoder":  # the cpu protocol's choice: the model's own frozen encoder, pooled 3×4
        return encoder_extractor(model, name=model_name, device=device or "cpu")
    return make_extractor(extractor, device=device or "cpu")


def robustness_report(model, dataset, *, suites: Sequence[str] = REPORT_SUITES, out: str | os.PathLike = "robustness_report",
                      reference=None, real_world: Mapping[str, Any] | None = None, seed: int = 0,
                      extractor: Any = "auto", preprocess: Callable | None = None,
                      reference_preprocess: Callable | None = None, indices: Sequence[int] | None = None,
                      subset: int | None = None, batch_size: int = 8, device=None,
                      magnitudes: Sequence[float] = ev.BASIS_MAGNITUDES, types: Sequence[str] | None = None,
                      corruptions: Sequence[str] | None = None, severities: Sequence[int] = ev.SEVERITIES,
                      combinations: Sequence[int] = (1, 2, 3, 4, 5, 6), advsteer_variant: str = "paper",
                      sa_subset: int = 16, analysis: Any = None,
                      weighting: str = "accuracy", kid_severities: Sequence[int] = (3,), kid_subsets: int = 100,
                      model_name: str | None = None, reference_name: str | None = None,
                      model_key: str | None = None, reference_key: str | None = None, force: bool = False,
                      render: bool = True, progress: bool = True, num_workers: int = 0) -> dict:
    """Score ``model`` on the robustness suites and write the report folder ``out``; returns the
    report (the content of ``report.json``).

    Args:
        model: ``nn.Module``/callable mapping N×3×H×W float RGB in [0, 1] to logits N×C×h×w, or an
            MMSegmentation segmentor (module docstring); ``preprocess`` is applied to the [0, 1]
            images first when given.
        dataset: the evaluation split, a :class:`repro.data.SegDataset` (``load_dataset(...)``,
            ``FolderDataset(...)``); all its images must share one size.
        suites: any of :data:`REPORT_SUITES` (``sensitivity`` also yields the sampling distribution).
        out: the report folder (created; finished items in ``out/items`` are reused).
        reference: a model (same input convention, ``reference_preprocess``) for the corruption
            errors CE/rCE/mCE; ``None``: unnormalised errors only.
        real_world: item name → dataset for the ``real_world`` suite (skipped when empty).
        seed: every random draw; same seed, same numbers.
        extractor: KID features: a name of :func:`repro.features.extractor` (``"auto"``: Inception
            when its weights are found, else ``resnet18-random``), ``"conv-random"``, ``"encoder"``
            (the model's own frozen encoder, the ``cpu`` protocol's choice) or an ``Extractor``.
        indices / subset: score only these images / ``subset`` images evenly spaced
            (:func:`repro.evaluate.even_indices`); default all.
        batch_size, device: inference (the suites' random draws depend on ``batch_size``).
        magnitudes, types: ``basis_aug`` items (default all 24 types × 0.2…1.0).
        corruptions, severities: ImageNet-C items (default all 19 × 1–5).
        combinations, advsteer_variant: AdvSteer items.
        sa_subset, analysis, weighting: the sensitivity analysis: ``sa_subset`` images (drawn with ``seed``),
            its settings (:class:`repro.sensitivity.AnalysisSettings` or a dict of its fields; ``None``: the
            defaults with ``budget=6``; its ``seed`` and ``batch_size`` are this function's), and the
            distribution's weighting.
        kid_severities: ImageNet-C severities whose KID to the clean images is reported.
        model_key, reference_key: identify plain functions (no state dict) in the cache keys.
        force: recompute every item. render: write report.md/report.html and the plots.
        num_workers: processes reading images ahead (:func:`repro.streaming.stream_chunks`).

    Data flow: the images are streamed from disk chunk by chunk (``batch_size`` images; peak memory
    O(``batch_size``), not O(split)). Under ``torch.distributed`` (``torchrun --nproc-per-node N -m repro
    robustness ...``) the items' chunks (whole items of :data:`repro.evaluate.SEQUENTIAL_SUITES` and the
    analysis) are shared out over the ranks in steps of at least one unit per rank
    (:func:`repro.distributed.run_sharded`), the confusion matrices (and KID features) gathered, and
    rank 0 writes the finished items after every step and the report at the end; every rank returns
    the report. The numbers equal a one-process run's bit for bit; a killed run resumes at its
    first unfinished item.
    """
    import time

    from tqdm import tqdm

    from .progress import disabled

    t_start = time.perf_counter()
    _check_dataset(dataset, "dataset")
    bad = [s for s in suites if s not in REPORT_SUITES]
    if isinstance(suites, str) or bad:
        raise ValueError(f"suites must be a list of names from {', '.join(REPORT_SUITES)}, got {suites!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be an int >= 0, got {seed!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
    from .sensitivity import AnalysisSettings

    settings = AnalysisSettings.of({"budget": 6} if analysis is None else analysis, seed=int(seed), batch_size=batch_size)
    if settings.method == "none":
        raise ValueError("analysis: method 'none' has no analysis to report; use 'adaptive' or 'uniform'")
    if not callable(model):
        raise TypeError(f"model must be an nn.Module or callable images -> logits, got {type(model).__name__}")
    if preprocess is not None:
        if not callable(preprocess):
            raise TypeError(f"preprocess must be callable, got {type(preprocess).__name__}")
        model = _Preprocessed(model, preprocess)
    if reference is not None and reference_preprocess is not None:
        reference = _Preprocessed(reference, reference_preprocess)
    if indices is not None and subset is not None:
        raise ValueError("give indices or subset, not both")
    if subset is not None:
        indices = ev.even_indices(len(dataset), subset)
    real_world = dict(real_world or {})
    for k, v in real_world.items():
        _check_dataset(v, f"real_world[{k!r}]")
    rw_ident = {k: data_identity(v) for k, v in real_world.items()}
    from . import corrupt

    corruptions = list(corruptions) if corruptions is not None else list(corrupt.IMAGENET_C)
    out = Path(out)
    model_name = model_name or type(model).__name__
    mid = _model_identity(model, model_key)
    rid = _model_identity(reference, reference_key) if reference is not None else None
    ident = data_identity(dataset, indices)
    from . import distributed
    from .streaming import n_chunks

    main_rank = distributed.rank() == 0
    if main_rank:
        out.mkdir(parents=True, exist_ok=True)
    items = _Items(out / "items", force)
    from .streaming import stream_chunks

    floor = trivial_floor((ch.labels for ch in stream_chunks(dataset, indices, batch_size=batch_size,
                                                             num_workers=num_workers)),
                          dataset.num_classes, dataset.ignore_index, dataset.classes)
    base = {"format": FORMAT, "data": ident["sha256"], "seed": int(seed), "batch_size": batch_size}
    opts = dict(seed=int(seed), device=device, advsteer_variant=advsteer_variant, border="zoom",
                num_workers=num_workers)
    n_main = n_chunks(len(dataset) if indices is None else len(indices), batch_size)

    ext = None
    clean_feats: dict[str, torch.Tensor] = {}

    def get_ext():
        nonlocal ext
        if ext is None:
            ext = _extractor_of(extractor, model, model_name, device)
        return ext

    def features(x: torch.Tensor) -> torch.Tensor:
        """Features of one chunk (at most ``batch_size`` images, the batches of the stacked split)."""
        with torch.no_grad():
            return get_ext()(x).cpu()

    def kid_of(y_feats: torch.Tensor, paired: bool) -> dict:
        from .kid import kid_result

        x = clean_feats["x"]
        size = max(2, min(len(x), len(y_feats)) // 2) if paired else max(2, min(len(x), len(y_feats)))
        r = kid_result(x, y_feats, subsets=kid_subsets, subset_size=size, seed=int(seed), extractor=get_ext(),
                       paired=paired)
        return {"kid": r.mean, "kid_std": r.std, "extractor": r.extractor, "paired": paired, "subset_size": size,
                "subsets": kid_subsets}

    # ---- plan: (suite, item, level) of this model (and of the reference where needed)
    plan: list[tuple[str, str, Any]] = []
    for s in suites:
        if s == "sensitivity":
            plan.append(("sensitivity", "analysis", ""))
        elif s == "real_world":
            plan += [("real_world", k, "") for k in real_world]
        elif s == "imagenet_c":
            plan += [(s, i, l) for i, l in ev.suite_items(s, corruptions=corruptions, severities=severities)]
        else:
            plan += [(s, i, l) for i, l in ev.suite_items(s, types=types, magnitudes=magnitudes,
                                                           combinations=combinations)]
    if ("imagenet_c" in suites or "basis_aug" in suites) and "clean" not in suites:
        plan.insert(0, ("clean", "clean", ""))  # the errors and curves need the clean score
    ref_plan = [("clean", "clean", "")] + [p for p in plan if p[0] == "imagenet_c"] if (
        reference is not None and "imagenet_c" in suites) else []

    # ---- entries: every (who, suite, item, level) with its cache key
    entries = []
    for who, this_plan in (("model", plan), ("reference", ref_plan)):
        m, ident_m = (model, mid) if who == "model" else (reference, rid)
        for suite, item, level in this_plan:
            key = {**base, "model": ident_m, "suite": suite, "item": item, "level": level,
                   "version": ev.SUITE_VERSIONS.get(suite, 1)}
            want_kid = False
            if suite == "sensitivity":
                key.update(sa_subset=sa_subset, analysis=settings.to_dict(), types=types, extractor=get_ext().tag)
            else:
                if suite == "basis_aug":
                    key["border"] = "zoom"
                if suite == "advsteer":
                    key["variant"] = advsteer_variant
                if suite == "real_world":
                    key["real_world_data"] = rw_ident[item]["sha256"]
                want_kid = who == "model" and ((suite == "imagenet_c" and int(level) in set(kid_severities))
                                               or suite == "real_world")
                if want_kid:
                    key["kid"] = {"extractor": get_ext().tag, "subsets": kid_subsets}
            entries.append({"who": who, "model": m, "suite": suite, "item": item, "level": level, "key": key,
                            "want_kid": want_kid, "path": items.path(suite, key)})

    # ---- finished items (read by rank 0, shared with the others); entries with equal keys are computed once
    values: list[Any] = [None] * len(entries)
    done = {}
    if main_rank:
        for i, e in enumerate(entries):
            v = items.load(e["suite"], e["key"])
            if v is not None:
                done[i] = v
    done = distributed.broadcast(done)
    first_of: dict[str, int] = {}
    pending = []
    for i, e in enumerate(entries):
        if i in done:
            values[i] = done[i]
        elif e["path"] not in first_of:
            first_of[e["path"]] = i
            pending.append(i)

    def task_of(e):
        """(units, costs, run) of one entry (repro.distributed.run_sharded)."""
        if e["suite"] == "sensitivity":
            return [None], [n_main], lambda mine: _analysis(e["model"], dataset, indices, sa_subset, settings, types,
                                                           get_ext(), device, mid, progress)
        ds, idx = (real_world[e["item"]], None) if e["suite"] == "real_world" else (dataset, indices)
        return ev.item_task(e["model"], ds, e["suite"], e["item"], e["level"], indices=idx, batch_size=batch_size,
                            features=features if e["want_kid"] else None, **opts)

    def clean_features_task():
        def run(mine):
            from .streaming import stream_chunks

            return {"matrix": None, "features": {ch.number: features(ch.images) for ch in stream_chunks(
                dataset, indices, batch_size=batch_size, chunks=mine, num_workers=num_workers)}}

        return list(range(n_main)), [1] * n_main, run

    def row_of(e, partials) -> dict:
        if e["suite"] == "sensitivity":
            return partials[0]
        ds = real_world[e["item"]] if e["suite"] == "real_world" else dataset
        cm, feats = ev.combine_partials(partials, ds.num_classes, ds.ignore_index)
        row = {"item": e["item"], "level": e["level"], **cm.scores()}
        if e["suite"] == "real_world":
            row.update(n_images=len(ds), data=rw_ident[e["item"]]["sha256"])
        if e["want_kid"]:
            row.update(kid_of(feats, paired=e["suite"] != "real_world"))
        return row

    # ---- steps: consecutive pending entries with at least one unit per rank, scored by all ranks together;
    # after each step rank 0 writes its items (a killed run resumes at the first unfinished step)
    timing = {}
    world = distributed.world_size()
    bar = tqdm(total=len(entries), initial=len(entries) - len(pending), desc="robustness report", unit="item",
               disable=disabled(progress) or not main_rank)
    pos = 0
    while pos < len(pending):
        step, n_units = [], 0
        while pos < len(pending) and (not step or n_units < world):
            e = entries[pending[pos]]
            step.append(pending[pos])
            n_units += 1 if e["suite"] in ev.SEQUENTIAL_SUITES or e["suite"] == "sensitivity" else n_main
            pos += 1
        e0 = entries[step[0]]
        bar.set_postfix_str(f"{e0['who']}: {e0['suite']} {e0['item']} {e0['level']}".strip())
        tasks, spent = [], {}
        for i in step:
            units, costs, run = task_of(entries[i])
            tasks.append((units, costs, _timed(run, spent, i)))
        need_clean = any(entries[i]["want_kid"] for i in step) and "x" not in clean_feats
        if need_clean:
            tasks.append(clean_features_task())
        parts = distributed.run_sharded(tasks)
        if need_clean:
            clean_feats["x"] = ev.combine_partials(parts.pop(), 1)[1]
        for i, p in zip(step, parts):
            t0 = time.perf_counter()
            e = entries[i]
            values[i] = items.put(e["suite"], e["key"], row_of(e, p), write=main_rank)
            timing[f"{e['who']}/{e['suite']}/{e['item']}/{e['level']}"] = spent.get(i, 0.0) + time.perf_counter() - t0
        bar.update(len(step))
    bar.close()
    for i, e in enumerate(entries):
        if values[i] is None:
            values[i] = values[first_of[e["path"]]]

    results: dict[str, list[dict]] = {}
    ref_results: dict[str, list[dict]] = {}
    sensitivity = None
    for e, v in zip(entries, values):
        if e["suite"] == "sensitivity":
            sensitivity = v
        else:
            (results if e["who"] == "model" else ref_results).setdefault(e["suite"], []).append(v)

    report = _assemble(results, ref_results, sensitivity, suites=suites, ident=ident, seed=seed, model_name=model_name,
                       reference_name=(reference_name or type(reference).__name__) if reference is not None else None,
                       mid=mid, rid=rid, weighting=weighting, floor=floor,
                       notes=list(dict.fromkeys(n for n in [converted_note(dataset)]
                                                + [converted_note(v) for v in real_world.values()] if n)),
                       settings={"batch_size": batch_size, "magnitudes": [float(m) for m in magnitudes],
                                 "types": list(types) if types is not None else None, "corruptions": corruptions,
                                 "severities": [int(s) for s in severities], "combinations": list(combinations),
                                 "advsteer_variant": advsteer_variant, "sa_subset": sa_subset,
                                 "analysis": settings.to_dict(), "weighting": weighting,
                                 "kid_severities": [int(s) for s in kid_severities], "kid_subsets": kid_subsets,
                                 "preprocess": repr(preprocess) if preprocess is not None else None,
                                 "real_world": rw_ident})
    if not main_rank:
        return report  # rank 0 writes the report
    (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=False, allow_nan=True) + "\n")
    timing_total = time.perf_counter() - t_start
    if render:
        from .robustness_report import render_report

        t0 = time.perf_counter()
        render_report(report, out)
        timing["render"] = time.perf_counter() - t0
    (out / "timing.json").write_text(json.dumps({"total_s": time.perf_counter() - t_start, "suites_s": timing_total,
                                                 "items_s": timing}, indent=1) + "\n")
    return report


def _analysis(model, dataset, indices, sa_subset, settings, types, extractor, device, mid, progress) -> dict:
    """The adaptive sensitivity analysis as JSON-able records (levels, points, clean mIoU, flags)."""
    from .sensitivity import analyse

    ds = dataset if indices is None else dataset.subset(indices)
    n = min(int(sa_subset), len(ds)) if sa_subset else len(ds)
    sub = None if n >= len(ds) else n
    table = analyse(model, ds, types or "all", settings=settings, subset=sub, extractor=extractor, device=device, cache=True,
                    cache_key=mid, progress=progress, warn=False)
    cols = ["type", "level", "alpha", "miou", "kid", "S", "target", "evaluated", "n_evals", "flag"]
    return {"levels": json.loads(table[cols].to_json(orient="records")),
            "points": json.loads(pd.DataFrame(table.attrs["points"]).to_json(orient="records")),
            "clean_miou": float(table.attrs["clean_miou"]), "extractor": table.attrs["extractor"],
            "n_evaluations": int(table.attrs["n_evaluations"]), "flags": dict(table.attrs["flags"]),
            "n_images": n, "method": settings.method, "budget": settings.budget,
            "num_levels": settings.num_levels}


def _summary(rows: list[dict]) -> dict:
    return {m: float(np.mean([r[m] for r in rows])) for m in ev.METRICS} if rows else {}


def _assemble(results, ref_results, sensitivity, *, suites, ident, seed, model_name, reference_name, mid, rid,
              weighting, settings, floor=None, notes=()) -> dict:
    from .sampling import Distribution

    rep: dict[str, Any] = {"format": FORMAT, "model": {"name": model_name, "weights": mid},
                           "reference": {"name": reference_name, "weights": rid} if rid else None,
                           "data": ident, "seed": int(seed), "versions": versions(), "settings": settings,
                           "floor": floor, "notes": list(notes), "suites": {}}
    clean = results.get("clean", [{}])[0].get("mIoU")
    for s in suites:
        if s == "sensitivity":
            continue
        rows = results.get(s, [])
        rep["suites"][s] = {"rows": rows, "summary": _summary(rows)}
        if s != "clean" and rows:
            rep["suites"][s]["resilience"] = resilience_rates(rows, clean)
    if "imagenet_c" in suites:
        ic = rep["suites"]["imagenet_c"]
        ref_clean = ref_results.get("clean", [{}])[0].get("mIoU") if ref_results else None
        ic["corruption_error"] = corruption_errors(ic["rows"], clean, ref_results.get("imagenet_c"), ref_clean) \
            if ic["rows"] else None
        if ref_results:
            rep["reference"]["clean"] = ref_results["clean"][0]
            rep["reference"]["imagenet_c"] = ref_results.get("imagenet_c", [])
    if sensitivity is not None:
        rep["sensitivity"] = sensitivity
        dist = Distribution.from_analysis(pd.DataFrame(sensitivity["levels"]), weighting=weighting)
        rep["sampling"] = {"weighting": weighting, "jitter": dist.jitter,
                           "probabilities": json.loads(dist.probabilities.to_json(orient="records"))}
    kids = []
    if sensitivity is not None:
        kids += [{"what": f"sensitivity {p['type']} alpha={p['alpha']:.4g}", "kid": p["kid"],
                  "extractor": sensitivity["extractor"], "paired": True} for p in sensitivity["points"]]
    for s in ("imagenet_c", "real_world"):
        for r in results.get(s, []):
            if "kid" in r:
                kids.append({"what": f"{s} {r['item']}" + (f" severity {r['level']}" if r["level"] != "" else ""),
                             "kid": r["kid"], "extractor": r["extractor"], "paired": r["paired"]})
    rep["kid"] = kids
    rep["extractors"] = sorted({k["extractor"] for k in kids})
    return rep


# ------------------------------------------------------------------------------------------ comparing reports


def load_report(path: str | os.PathLike) -> dict:
    """A report from its folder or its ``report.json``."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no report.json (not a robustness report folder)")
    return json.loads(p.read_text())


def flat_numbers(report: Mapping) -> dict[str, float]:
    """Every number of a report under a readable path, e.g. ``imagenet_c/fog/3/mIoU``,
    ``imagenet_c/CE/fog``, ``imagenet_c/rR/fog``, ``imagenet_c/mean_common_rR``, ``floor/mIoU``,
    ``sensitivity/R+/level2/alpha``, ``sampling/R+/level2/p``."""
    out: dict[str, float] = {}
    for s, d in report.get("suites", {}).items():
        for r in d["rows"]:
            lvl = f"/{r['level']}" if r["level"] != "" else ""
            item = r["item"] if s != "clean" else "clean"
            for m in (*ev.METRICS, "kid"):
                if r.get(m) is not None:
                    out[f"{s}/{item}{lvl}/{m}"] = float(r[m])
        for m, v in d.get("summary", {}).items():
            out[f"{s}/mean/{m}"] = float(v)
        ce = d.get("corruption_error")
        if ce:
            for c, v in ce["per_corruption"].items():
                for f in ("mean_error", "CE", "rCE"):
                    if v[f] is not None:
                        out[f"{s}/{f}/{c}"] = float(v[f])
            for f in ("mCE", "relative_mCE", "mCE_held_out", "relative_mCE_held_out", "mCE_all"):
                if ce.get(f) is not None:
                    out[f"{s}/{f}"] = float(ce[f])
        rr = d.get("resilience")
        if rr:
            for i, v in rr["per_item"].items():
                if v is not None:
                    out[f"{s}/rR/{i}"] = float(v)
            for f in ("mean", "mean_common", "mean_held_out"):
                if rr.get(f) is not None:
                    out[f"{s}/{f}_rR"] = float(rr[f])
    fl = report.get("floor")
    if fl:
        for m in (*ev.METRICS,):
            if fl.get(m) is not None:
                out[f"floor/{m}"] = float(fl[m])
    sa = report.get("sensitivity")
    if sa:
        out["sensitivity/clean_miou"] = float(sa["clean_miou"])
        for r in sa["levels"]:
            for f in ("alpha", "miou", "kid", "S"):
                out[f"sensitivity/{r['type']}/level{r['level']}/{f}"] = float(r[f])
    for r in (report.get("sampling") or {}).get("probabilities", []):
        out[f"sampling/{r['type']}/level{r['level']}/p"] = float(r["p"])
    return out


def compare_reports(a, b, *, atol: float = 0.0) -> pd.DataFrame:
    """Table of differences between two reports (folders, ``report.json`` paths or dicts).

    One row per number present in either report whose values differ by more than ``atol``
    (or that is missing from one): ``number, a, b, b_minus_a``; plus rows ``meta:<field>`` for
    differing data identity, seed, model weights, extractors and versions (``a``/``b`` as text).
    """
    ra = a if isinstance(a, Mapping) else load_report(a)
    rb = b if isinstance(b, Mapping) else load_report(b)
    fa, fb = flat_numbers(ra), flat_numbers(rb)
    rows = []
    for k in list(fa) + [k for k in fb if k not in fa]:
        va, vb = fa.get(k), fb.get(k)
        if va is None or vb is None or not (abs(vb - va) <= atol or (math.isnan(va) and math.isnan(vb))):
            rows.append({"number": k, "a": va, "b": vb,
                         "b_minus_a": (vb - va) if va is not None and vb is not None else None})
    meta = {"data": lambda r: r["data"]["sha256"], "seed": lambda r: r["seed"],
            "model": lambda r: r["model"]["weights"], "extractors": lambda r: ",".join(r.get("extractors", [])),
            **{f"version.{k}": (lambda r, k=k: r["versions"].get(k)) for k in ra.get("versions", {})}}
    for k, f in meta.items():
        va, vb = f(ra), f(rb)
        if va != vb:
            rows.append({"number": f"meta:{k}", "a": va, "b": vb, "b_minus_a": None})
    return pd.DataFrame(rows, columns=["number", "a", "b", "b_minus_a"])


def compare_summary(a, b) -> list[str]:
    """A short summary of two reports (folders, ``report.json`` paths or dicts), one line each:
    which report had a reference model (and whether the two references are the same weights),
    whether data and seed agree, the trivial floors, then per suite the mean mIoU (points) of A
    and B, ``B − A`` and the better side, the mean resilience rate rR (percent of clean), and for
    ImageNet-C the mCE of each where defined (lower is better; comparable only against the same
    reference)."""
    ra = a if isinstance(a, Mapping) else load_report(a)
    rb = b if isinstance(b, Mapping) else load_report(b)

    def ref(r):
        x = r.get("reference")
        return f"{x['name']} ({str(x['weights'])[:12]})" if x else "none"

    def num(v, unit=""):
        return "–" if v is None else f"{v:.2f}{unit}"

    def better(va, vb, higher=True, tol=1e-9):
        if va is None or vb is None:
            return "not comparable"
        if abs(vb - va) <= tol:
            return "equal"
        return "B better" if (vb > va) == higher else "A better"

    ha, hb = ra.get("reference") is not None, rb.get("reference") is not None
    lines = [f"A: {ra['model']['name']}  |  B: {rb['model']['name']}"]
    same_ref = ha and hb and ra["reference"]["weights"] == rb["reference"]["weights"]
    if ha != hb:
        note = f" -- only {'A' if ha else 'B'} has a reference model: mCE is defined for that report only"
    elif ha and not same_ref:
        note = " -- different reference models: their CE/mCE are not comparable"
    elif not ha:
        note = " -- neither report has a reference model: no mCE"
    else:
        note = " (the same in both)"
    lines.append(f"reference model: A {ref(ra)}; B {ref(rb)}{note}")
    same = lambda f: f(ra) == f(rb)  # noqa: E731
    lines.append("data: " + ("same" if same(lambda r: r["data"]["sha256"]) else
                             f"DIFFERENT (A {ra['data']['name']}/{ra['data']['split']}, "
                             f"B {rb['data']['name']}/{rb['data']['split']})")
                 + "; seed: " + ("same" if same(lambda r: r["seed"]) else f"A {ra['seed']}, B {rb['seed']}"))
    fa, fb = ra.get("floor") or {}, rb.get("floor") or {}
    if fa or fb:
        lines.append(f"trivial floor (majority class everywhere), mIoU points: A {num(fa.get('mIoU'))}, "
                     f"B {num(fb.get('mIoU'))}")
    lines.append("per suite (mIoU in points 0-100, higher is better; rR = mean resilience rate, % of clean; "
                 "mCE lower is better):")
    sa, sb = ra.get("suites", {}), rb.get("suites", {})
    for s in [x for x in REPORT_SUITES if x in sa or x in sb]:
        ma = (sa.get(s) or {}).get("summary", {}).get("mIoU")
        mb = (sb.get(s) or {}).get("summary", {}).get("mIoU")
        d = f"{mb - ma:+.2f}" if ma is not None and mb is not None else "–"
        line = f"  {s}: mean mIoU A {num(ma)}, B {num(mb)}, B-A {d} ({better(ma, mb)})"
        if s != "clean":
            rra = ((sa.get(s) or {}).get("resilience") or {}).get("mean")
            rrb = ((sb.get(s) or {}).get("resilience") or {}).get("mean")
            if rra is not None or rrb is not None:
                line += f"; rR A {num(rra, '%')}, B {num(rrb, '%')} ({better(rra, rrb)})"
        if s == "imagenet_c":
            ca = ((sa.get(s) or {}).get("corruption_error") or {}).get("mCE")
            cb = ((sb.get(s) or {}).get("corruption_error") or {}).get("mCE")
            if ca is None and cb is None:
                line += "; mCE undefined (no reference model)"
            else:
                line += f"; mCE A {num(ca)}, B {num(cb)}"
                line += f" ({better(ca, cb, higher=False)})" if same_ref else " (not comparable: " + (
                    "only one report has a reference)" if ha != hb else "different references)")
        lines.append(line)
    return lines


# ------------------------------------------------------------------------------------------ command line

PROG = "python -m repro robustness"


def build_parser():
    import argparse

    p = argparse.ArgumentParser(prog=PROG, description="Robustness report of an MMSegmentation model (config + "
                                "checkpoint) on a shipped split or a folder; or --compare two reports.")
    p.add_argument("config", nargs="?", help="MMSegmentation config file (.py)")
    p.add_argument("checkpoint", nargs="?", help="checkpoint file (.pth)")
    p.add_argument("--data", help="a shipped split NAME:SPLIT (e.g. camvid:test) or a folder holding images/ and "
                                  "labels/ (label files of class ids, 255 ignored; paired by file stem, see --label-map/--label-suffix)")
    p.add_argument("--suites", default=",".join(REPORT_SUITES),
                   help=f"comma-separated, from {','.join(REPORT_SUITES)} (default: all)")
    p.add_argument("--out", default=None, help="report folder (default: robustness_report/<config name>); with "
                                               "--compare: the CSV file (.csv) or its folder")
    p.add_argument("--reference", nargs=2, metavar=("CONFIG", "CHECKPOINT"), default=None,
                   help="reference model for the corruption errors (CE, mCE, relative mCE)")
    p.add_argument("--real-world", action="append", default=[], metavar="SPLIT_OR_FOLDER",
                   help="a real-world split scored as is (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subset", type=int, default=None, help="score N images evenly spaced (default: all)")
    p.add_argument("--corruptions", default=None, help="comma-separated ImageNet-C names (default: all 19)")
    p.add_argument("--extractor", default="auto",
                   help="KID features: auto, inception, resnet18-random, conv-random, encoder (the model's own)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--classes", default=None, help="comma-separated class names of a folder (default: the "
                                                   "checkpoint's / config's)")
    p.add_argument("--workers", type=int, default=2,
                   help="processes reading images ahead, per rank (DataLoader workers; 0: none)")
    p.add_argument("--force", action="store_true", help="recompute every item")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), default=None,
                   help="print a short summary of two report folders and write every differing number to a CSV "
                        "file (--out: its path or folder; default ./compare_<A>_vs_<B>.csv)")
    return p


def _compare_csv_path(out: str | None, a: str, b: str) -> Path:
    """Where ``--compare`` writes its rows: ``--out`` (a ``.csv`` file, else a folder holding
    ``compare_<A>_vs_<B>.csv``), by default that file in the current folder."""
    def stem(p):
        p = Path(p)
        return (p.parent.name if p.name == "report.json" else p.name) or "report"

    name = f"compare_{stem(a)}_vs_{stem(b)}.csv"
    if out is None:
        return Path(name)
    return Path(out) if str(out).endswith(".csv") else Path(out) / name


def _error(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def _check_data_spec(spec: str, what: str) -> str | None:
    """One line naming what is missing for a ``--data``-style argument, else ``None``."""
    from .data import SHIPPED

    name, _, split = spec.partition(":")
    if split and name in SHIPPED:
        from .data import manifest

        splits = manifest(name)["splits"]
        return None if split in splits else f"{what} {spec}: {name} has no split {split!r} (splits: {', '.join(splits)})"
    p = Path(spec).expanduser()
    if not p.is_dir():
        return f"{what} {spec}: no such folder (and not a shipped split NAME:SPLIT of {', '.join(SHIPPED)})"
    for sub in ("images", "labels"):
        if not (p / sub).is_dir():
            return f"{what} {p / sub}: folder missing (a data folder holds images/ and labels/)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m repro robustness ...``; returns the exit status (2: a bad argument, nothing created)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.compare:
        for p in args.compare:
            if not (Path(p) / "report.json").is_file() and not (Path(p).is_file() and p.endswith(".json")):
                return _error(f"report {p}: no report.json there")
        diff = compare_reports(*args.compare)
        if diff.empty:
            print(f"no differences ({len(flat_numbers(load_report(args.compare[0])))} numbers compared)")
            return 0
        for line in compare_summary(*args.compare):
            print(line)
        csv = _compare_csv_path(args.out, *args.compare)
        csv.parent.mkdir(parents=True, exist_ok=True)
        diff.to_csv(csv, index=False)
        print(f"{len(diff)} differing numbers (number, a, b, b_minus_a) written to {csv}")
        return 0
    if not args.config or not args.checkpoint or not args.data:
        return _error("give CONFIG CHECKPOINT --data SPLIT_OR_FOLDER (or --compare A B)")
    checks = [("config", args.config), ("checkpoint", args.checkpoint)]
    if args.reference:
        checks += [("reference config", args.reference[0]), ("reference checkpoint", args.reference[1])]
    for what, p in checks:
        if not Path(p).expanduser().is_file():
            return _error(f"{what} {p}: no such file")
        if "config" in what and not p.endswith(".py"):
            return _error(f"{what} {p}: not an MMSegmentation .py config file")
    for what, spec in [("data", args.data)] + [("real-world", r) for r in args.real_world]:
        msg = _check_data_spec(spec, what)
        if msg:
            return _error(msg)
    suites = [s for s in args.suites.split(",") if s]
    bad = [s for s in suites if s not in REPORT_SUITES]
    if bad or not suites:
        return _error(f"--suites: unknown {', '.join(bad) or '(none given)'}; expected names from {', '.join(REPORT_SUITES)}")
    from . import corrupt

    corruptions = args.corruptions.split(",") if args.corruptions else None
    if corruptions and [c for c in corruptions if c not in corrupt.IMAGENET_C]:
        return _error(f"--corruptions: unknown {', '.join(c for c in corruptions if c not in corrupt.IMAGENET_C)}")
    if args.seed < 0 or args.batch_size < 1 or (args.subset is not None and args.subset < 1):
        return _error("--seed must be >= 0, --batch-size and --subset >= 1")
    if args.workers < 0:
        return _error(f"--workers must be >= 0, got {args.workers}")
    from . import distributed

    distributed.init_from_env()  # under torchrun: the items' work is shared out over the ranks
    device = args.device
    if distributed.is_distributed() and device == "cuda":
        device = f"cuda:{torch.cuda.current_device()}"  # this rank's GPU (LOCAL_RANK)
    from .train.robustness_cli import load_data, load_segmentor  # mmseg from here on

    model = load_segmentor(args.config, args.checkpoint, device=device)
    classes = args.classes.split(",") if args.classes else None
    dataset = load_data(args.data, model, classes=classes)
    real = {Path(r).name if ":" not in r else r.replace(":", "_"): load_data(r, model, classes=classes)
            for r in args.real_world}
    reference = load_segmentor(*args.reference, device=device) if args.reference else None
    out = Path(args.out) if args.out else Path("robustness_report") / Path(args.config).stem
    report = robustness_report(model, dataset, suites=suites, out=out, reference=reference, real_world=real,
                               seed=args.seed, extractor=args.extractor, subset=args.subset,
                               batch_size=args.batch_size, device=device, corruptions=corruptions,
                               model_name=f"{Path(args.config).stem}@{Path(args.checkpoint).name}",
                               reference_name=(f"{Path(args.reference[0]).stem}@{Path(args.reference[1]).name}"
                                               if args.reference else None), force=args.force,
                               num_workers=args.workers, progress=distributed.rank() == 0)
    if distributed.rank() != 0:
        return 0
    clean = report["suites"].get("clean", {}).get("summary", {}).get("mIoU")
    print(f"{out}/report.md" + (f" (clean mIoU {clean:.2f})" if clean is not None else ""))
    return 0
