"""What :class:`repro.train.hooks.SensitivityHook` stands on, without mmengine's runner: the
schedule of its analyses and refreshes (:func:`event_iterations`), its arguments (``analysis=dict``
and the legacy flat names, :func:`hook_args`), the check of the analysed data, and the sharding
of perturbation types over ranks with the merge of their payloads.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
import torch
from mmengine.model import is_model_wrapper

from repro.analysis.sampling import Distribution
from repro.analysis.sensitivity import AnalysisSettings
from repro.base.validation import check_int

#: ``valid_until`` of the last schedule segment (no further refresh)
FOREVER = 2 ** 62


def event_iterations(max_iters: int, num_analyses: int = 4, num_refreshes: int = 8, *, at_start: bool = False,
                     final_refresh: bool = True, keep: Sequence[int] | None = None) -> tuple[list[int], list[int]]:
    """(analysis iterations, refresh iterations).

    Analyses at ``round(k·T/(A+1))``, k = 1..A (after a uniform warm-up), or with ``at_start``
    (a warm-started run, whose initial model is already trained) at ``round(k·T/A)``,
    k = 0..A-1: the first one before any training step.  ``keep`` (1-based, increasing) runs only
    those of the A points, e.g. ``A = 4, keep = (1, 3)``: the paper's grid (warm-up for the
    first fifth), analyses at 1/5 and 3/5 only.  Refreshes at ``round(k·T/F)``,
    k = 1..F (k < F without ``final_refresh``: the refresh after the last iteration trains
    nothing, it only reports the final distribution).

    An event "at iteration i" happens after i training iterations are done (mmengine's
    ``after_train_iter`` with ``runner.iter + 1 == i``; i = 0: ``before_train``); its distribution
    is used from iteration i.
    """
    check_int(max_iters, "max_iters", 1)
    if num_analyses < 0 or num_refreshes < 0:
        raise ValueError("num_analyses and num_refreshes must be >= 0")
    if keep is not None:
        keep = list(keep)
        if (not keep or any(not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= num_analyses for k in keep)
                or keep != sorted(set(keep))):
            raise ValueError(f"keep must list increasing analysis numbers in 1..{num_analyses} (num_analyses), "
                             f"got {keep!r}")
    slots = keep if keep is not None else range(1, num_analyses + 1)
    if at_start:
        ana = sorted({int(round((k - 1) * max_iters / num_analyses)) for k in slots}) if num_analyses else []
    else:
        ana = sorted({max(1, int(round(k * max_iters / (num_analyses + 1)))) for k in slots})
    last = num_refreshes + 1 if final_refresh else num_refreshes
    ref = sorted({max(1, int(round(k * max_iters / num_refreshes))) for k in range(1, last)})
    return ana, ref


def init_encoder_name(model_name: str, dataset: str) -> str:
    """Name of the KID extractor made from a run's initial weights (the warm start's encoder)."""
    return f"{model_name}-{dataset}-init"


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def _memoise(ext):
    """Cache an extractor's features by the bytes of its input batch.

    The analysis subset and the perturbation seeds are fixed for a run, so every analysis
    perturbs the same images identically at the magnitudes it shares with earlier analyses
    (α_max and ASA's first interior point always): their features are computed once per run.
    The features do not depend on the segmentation model, so this changes no number.
    """
    import hashlib

    memo: dict[str, torch.Tensor] = {}
    forward = ext.forward

    def cached_forward(images):
        key = hashlib.sha1(images.detach().float().contiguous().cpu().numpy().tobytes()).hexdigest() + \
            str(tuple(images.shape))
        if key not in memo:
            memo[key] = forward(images)
        return memo[key]

    ext.forward = cached_forward
    return ext


def _plain(cfg: Mapping) -> dict:
    """A (possibly mmengine ``ConfigDict``) mapping as plain dicts/lists (JSON-able for the event cache)."""
    import copy

    return copy.deepcopy(cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg))


def _nan_to_none(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _nan_to_none(v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in df.to_dict(orient="records")]


def _cuda_ready() -> bool:
    """Whether CUDA is available and already initialised (reading its RNG state then creates no
    CUDA context of its own)."""
    return bool(torch.cuda.is_available() and torch.cuda.is_initialized())


#: the hook's flat analysis arguments in configs written before :class:`repro.analysis.sensitivity.AnalysisSettings`
#: → the setting each one is now (``SensitivityHook(analysis=dict(<setting>=...))``)
LEGACY_ANALYSIS_ARGS = {"analysis": "method", "num_levels": "num_levels", "tol": "tol", "max_evals": "budget",
                        "eval_batch_size": "batch_size", "border": "border", "seed": "seed", "guard": "guard"}


def analysis_data_message(at_iter: int, dataset_cfg: Mapping[str, Any] | None, dataset: Any = None,
                          n_images: int | None = None, subset: Any = None, size: Sequence[int] | None = None) -> str:
    """The log line of an analysis naming its data: the dataset class, data root and split, and the
    number of images analysed, e.g. ``[SIA] analysis at iter 200 on 8 of 101 images of CamVidDataset
    (data_root data/camvid, split val), resized to 240x180 (W x H)``.

    ``dataset``/``n_images``: the loaded dataset and the subset's size (``None`` when the event was read
    from the cache and nothing was loaded; then the configured ``subset`` is named).
    """
    cfg = dict(dataset_cfg or {})
    if "type" in cfg:
        what = str(cfg["type"])
        root = cfg.get("data_root", "")
        split = cfg.get("split") or (cfg.get("data_prefix") or {}).get("img_path", "")
    else:
        what = f"{type(dataset).__name__ if dataset is not None else 'SegDataset'} {cfg.get('name', '?')}"
        root = cfg.get("root")
        if root is None and dataset is not None and getattr(dataset, "image_paths", None):
            root = Path(dataset.image_paths[0]).parents[2]  # <root>/<split>/images/<file>
        split = cfg.get("split", "val")
    if n_images is not None:
        count = f"{n_images} of {len(dataset)} images" if dataset is not None else f"{n_images} images"
    elif isinstance(subset, int):
        count = f"a subset of {subset} images (event read from the cache)"
    else:
        count = f"{len(subset or [])} images (event read from the cache)"
    return (f"[SIA] analysis at iter {at_iter} on {count} of {what} (data_root {root or '?'}, split {split or '?'})"
            + (f", resized to {size[0]}x{size[1]} (W x H)" if size else ""))


def legacy_analysis_args(spec: Mapping[str, Any]) -> list[str]:
    """The keys of a hook config (or ``build_config``'s ``sia``) that are flat analysis arguments of a config
    written before :class:`~repro.analysis.sensitivity.AnalysisSettings` (``analysis`` only when it is a method name)."""
    return [k for k, v in spec.items() if k in LEGACY_ANALYSIS_ARGS and not (k == "analysis" and not isinstance(v, str))]


def hook_args(spec: Mapping[str, Any]) -> dict:
    """``SensitivityHook`` arguments from a config's hook dict (``type`` dropped), also from a config written
    before :class:`~repro.analysis.sensitivity.AnalysisSettings`, whose flat analysis arguments (``analysis="adaptive"``,
    ``max_evals=6``, ``eval_batch_size=16``...) are moved into ``analysis=dict(method=..., budget=..., batch_size=...)``
    (:data:`LEGACY_ANALYSIS_ARGS`)."""
    args = {k: v for k, v in spec.items() if k != "type"}
    flat = {LEGACY_ANALYSIS_ARGS[k]: args.pop(k) for k in legacy_analysis_args(args)}
    if flat:
        args["analysis"] = {**flat, **dict(args.get("analysis") or {})}
    return args


def _method_of(analysis) -> str:
    if isinstance(analysis, str):  # a config written before AnalysisSettings
        return analysis
    if isinstance(analysis, AnalysisSettings):
        return analysis.method
    return (analysis or {}).get("method", "adaptive")


def shard_types(types: Sequence[str], rank: int, world_size: int) -> list[str]:
    """The perturbation types rank ``rank`` of ``world_size`` works on in an event: ``types[rank::world_size]``.

    Round robin in the fixed type order, so geometric and photometric types (whose evaluation
    costs differ) spread over all ranks.  A rank may get no type when ``world_size > len(types)``.
    """
    check_int(world_size, "world_size", 1)
    if check_int(rank, "rank", 0) >= world_size:
        raise ValueError(f"rank must be an int in [0, {world_size}), got {rank!r}")
    return list(types)[rank::world_size]


def merge_payloads(parts: Sequence[Mapping[str, Any]], types: Sequence[str], *, weighting: str = "accuracy",
                   jitter: float = 0.1) -> dict:
    """One event's result from the partial results of the ranks (:meth:`SensitivityHook._compute_payload`
    on disjoint sets of types).

    Levels, tables and analysis points are put back in the order of ``types``; the clean mIoU is rank
    0's; evaluation counts add up; ``time_s``/``compute_s`` are the slowest rank's (the event ends
    when it does); the distribution is rebuilt from the merged table, as the unsharded event builds it.
    """
    parts = [p for p in parts if p is not None]
    if not parts:
        raise ValueError("merge_payloads: no partial result to merge")
    kinds = {(p["kind"], p["iter"]) for p in parts}
    if len(kinds) != 1:
        raise ValueError(f"merge_payloads: the partial results belong to different events: {sorted(kinds)}")
    order = {t: i for i, t in enumerate(types)}
    levels: dict[str, list[float]] = {}
    for p in parts:
        levels.update(p["levels"])
    if set(levels) != set(types):
        raise ValueError(f"merge_payloads: the partial results cover the types {sorted(levels)}, expected {sorted(types)}")
    levels = {t: levels[t] for t in types}

    def merged(key):
        rows = [r for p in parts for r in (p.get(key) or [])]
        return sorted(rows, key=lambda r: order[r["type"]])  # stable: each type's rows keep their order

    table = merged("table")
    has_analysis = any(p.get("analysis") is not None for p in parts)
    flags: dict[str, str] = {}
    for p in parts:
        flags.update(p.get("flags") or {})
    dist = Distribution.from_analysis(pd.DataFrame(table, columns=["type", "level", "alpha", "miou"]),
                                      weighting=weighting, types=list(levels), jitter=jitter)
    first = parts[0]
    return dict(kind=first["kind"], iter=first["iter"], time_s=max(p["time_s"] for p in parts),
                compute_s=max(p["compute_s"] for p in parts), cached=False, levels=levels,
                clean_miou=first["clean_miou"], table=table, distribution=dist.to_dict(),
                analysis=merged("analysis") if has_analysis else None,
                analysis_points=merged("analysis_points") if has_analysis else None,
                n_evaluations=sum(int(p.get("n_evaluations") or 0) for p in parts) if has_analysis else None,
                flags={t: flags[t] for t in types if t in flags},
                extractor=first.get("extractor"), ranks=len(parts))


