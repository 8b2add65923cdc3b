"""MMSegmentation glue of ``python -m repro robustness``: load a config + checkpoint, and the data.

:mod:`repro.robustness` stays free of mmseg; it imports this module only once a config is given.
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["load_segmentor", "load_data", "classes_of", "data_options"]

#: folder options of :func:`load_data` set by :func:`data_options` (``--label-map``, ``--label-suffix``)
_DATA_OPTIONS: contextvars.ContextVar[dict] = contextvars.ContextVar("repro_robustness_data_options", default={})


@contextlib.contextmanager
def data_options(*, label_map: Mapping[int, int] | None = None, label_suffix: str = ""):
    """``label_map`` and ``label_suffix`` for the folders that :func:`load_data` reads inside the
    ``with`` block, where its caller passes none: ``python -m repro robustness`` wraps
    :func:`repro.robustness.main` in it with the values of ``--label-map`` and ``--label-suffix``."""
    token = _DATA_OPTIONS.set(dict(label_map=label_map, label_suffix=label_suffix))
    try:
        yield
    finally:
        _DATA_OPTIONS.reset(token)


def load_segmentor(config: str | Path, checkpoint: str | Path, *, device: str = "cpu"):
    """The segmentor of an MMSegmentation ``config`` (.py) with the weights of ``checkpoint``, in
    eval mode on ``device``; ``model.cfg`` holds the config and ``model.dataset_meta`` the
    checkpoint's class names and palette (``None`` when it has none).  The checkpoint is read by
    :func:`repro.train.checkpoint.load_weights` (``weights_only=True``): any checkpoint that
    mmengine's Runner writes loads; another file raises one ``CheckpointError`` naming it."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from repro.train.checkpoint import load_weights
    from repro.train.runner import quiet_warnings

    cfg = Config.fromfile(str(config))
    init_default_scope("mmseg")
    model_cfg = copy.deepcopy(cfg.model)
    if isinstance(model_cfg.get("backbone"), dict):
        model_cfg["backbone"].pop("init_cfg", None)  # the checkpoint holds every weight: no pretrained file needed
    with quiet_warnings():
        model = MODELS.build(model_cfg)
    ck = load_weights(model, checkpoint)  # weights_only=True; any mmengine Runner's checkpoint (checkpoint.py)
    model.cfg = cfg
    model.dataset_meta = (ck.get("meta") or {}).get("dataset_meta")
    return model.to(device).eval()


def classes_of(model) -> tuple[str, ...] | None:
    """Class names of a loaded segmentor: its checkpoint's ``dataset_meta``, else the config's test
    dataset ``metainfo``; ``None`` when neither names them."""
    meta = getattr(model, "dataset_meta", None) or {}
    if meta.get("classes"):
        return tuple(meta["classes"])
    cfg = getattr(model, "cfg", None)
    for loader in ("test_dataloader", "val_dataloader", "train_dataloader"):
        ds = (cfg.get(loader) or {}).get("dataset", {}) if cfg is not None else {}
        classes = (ds.get("metainfo") or {}).get("classes")
        if classes:
            return tuple(classes)
    return None


def load_data(spec: str, model=None, *, classes: Sequence[str] | None = None,
              label_map: Mapping[int, int] | None = None, label_suffix: str | None = None):
    """The dataset of a ``--data`` argument: a shipped split ``NAME:SPLIT`` (``camvid:test``) or a
    folder with ``images/`` and ``labels/`` (:class:`repro.data.FolderDataset`; class names from
    ``classes``, else the model's, else ``class_0..`` from the model's decode head).

    A folder is read with ``label_map`` and ``label_suffix`` (``None``: those of the enclosing
    :func:`data_options`, else none and ``""``) and checked whole at once
    (:meth:`repro.data.SegDataset.validate`, and one image size: :meth:`~repro.data.SegDataset.check_one_size`), so that a bad file stops the command before anything
    is computed or written; every problem is a :class:`repro.data.DataError` naming the file (or,
    for a bad ``label_map``, a :class:`repro.data.LabelMapError`)."""
    from repro.data import SHIPPED, FolderDataset, load_dataset

    name, _, split = spec.partition(":")
    if split and name in SHIPPED:
        return load_dataset(name, split)
    opts = _DATA_OPTIONS.get()
    label_map = opts.get("label_map") if label_map is None else label_map
    label_suffix = opts.get("label_suffix", "") if label_suffix is None else label_suffix
    root = Path(spec).expanduser()
    if classes is None and model is not None:
        classes = classes_of(model)
        if classes is None:
            n = int(model.decode_head.num_classes)
            classes = tuple(f"class_{i}" for i in range(n))
    if classes is None:
        raise ValueError(f"{spec}: the class names of a folder are needed (classes=...)")
    return FolderDataset(root / "images", root / "labels", tuple(classes), name=root.name, label_map=label_map,
                         label_suffix=label_suffix).validate().check_one_size()
