"""The per-method configs as MMSegmentation config files (``configs/sia/``).

:func:`repro.train.build_config` composes every config in code; this module writes the same
configs as ordinary MMSegmentation ``.py`` files that mmengine's ``Config.fromfile``,
``Runner.from_cfg`` and ``python -m repro train CONFIG.py`` accept:

* ``configs/sia/_base_/<setting>.py``: the Baseline config of a setting (model, data, schedule,
  runtime), complete;
* ``configs/sia/<setting>_<method>.py``: ``_base_ = ['./_base_/<setting>.py']`` plus what the
  method changes (its training pipeline, its hooks).

Settings: the paper's main ones (PSPNet-R50-D8 and SegFormer-b0 on Cityscapes, ``paper``
profile) and the ``cpu`` protocol's (Fast-SCNN on CamVid). Dataset folders are written as
mmengine environment substitutions, ``'{{$REPRO_CITYSCAPES_ROOT:data/cityscapes}}'``: the variable
when it is set, else the folder relative to the working directory. The ``cpu`` files fine-tune
from the protocol's warm start (key ``warm_start``): ``python -m repro train`` trains and loads it;
under a plain mmengine ``Runner`` set ``load_from`` to its checkpoint.

The ``paper`` settings start from ImageNet backbone weights (``build_config(pretrained="auto")``):
their ``checkpoint`` is written as ``'{{$REPRO_PRETRAINED_DIR:~/.cache/torch/hub/checkpoints}}/<file>'``
(the variable when it is set, else torch's default hub cache). The files are generated against
tiny placeholder weight files, so no real weights are needed to regenerate them.

Regenerate with ``python -m repro.train.config_files`` (a test checks that every file equals what
:func:`build_config` composes).
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

from repro.base import paths

__all__ = ["SETTINGS", "CONFIG_DIR", "setting_name", "write_config_files", "normalise_data_roots"]

#: (model, dataset, profile) of every shipped setting
SETTINGS = (("pspnet_r50", "cityscapes", "paper"), ("segformer_b0", "cityscapes", "paper"),
            ("lite0_segformer", "camvid", "cpu"))
CONFIG_DIR = paths.CONFIG_DIR / "sia"

_MODEL_STYLE = {"pspnet_r50": "pspnet_r50-d8", "pspnet_r18": "pspnet_r18-d8", "segformer_b0": "segformer_mit-b0",
                "fastscnn": "fast_scnn", "cgnet": "cgnet", "unet_s16": "unet-s16",
                "lite0_segformer": "lite0-segformerhead"}


def _crop(cfg) -> tuple[int, int]:
    for t in cfg.train_dataloader.dataset.pipeline:
        if t["type"] == "RandomCrop":
            return tuple(t["crop_size"])
    raise ValueError("config has no RandomCrop in its training pipeline")


def setting_name(cfg) -> str:
    """MMSegmentation-style name: ``<model>_<b>-<iters>_<dataset>-<H>x<W>``."""
    iters = int(cfg.train_cfg["max_iters"])
    it = f"{iters // 1000}k" if iters % 1000 == 0 and iters >= 1000 else str(iters)
    h, w = _crop(cfg)
    return (f"{_MODEL_STYLE.get(cfg.model_name, cfg.model_name)}_1xb{cfg.train_dataloader.batch_size}-{it}_"
            f"{cfg.dataset_name}-{h}x{w}")


def _diff(new: Any, old: Any) -> Any:
    """What ``new`` changes relative to ``old`` as an mmengine override (dicts merge, the rest replaces)."""
    if isinstance(new, dict) and isinstance(old, dict):
        if set(old) - set(new):  # a removed key: replace the whole dict
            return dict(new, _delete_=True)
        return {k: _diff(v, old[k]) if k in old else v for k, v in new.items() if k not in old or v != old[k]}
    return new


def _data_root_text(text: str, cfg) -> str:
    from repro.train.datasets import DATASET_ROOT_ENV

    name = cfg.dataset_name
    if name not in DATASET_ROOT_ENV:
        return text
    root = str(paths.DATA_DIR / name)
    return text.replace(repr(root), repr(f"{{{{${DATASET_ROOT_ENV[name]}:data/{name}}}}}"))


def normalise_data_roots(d: Any) -> Any:
    """Every ``data_root`` relative to the repository made absolute (as :func:`build_config` writes it)."""
    if isinstance(d, dict):
        out = {k: normalise_data_roots(v) for k, v in d.items()}
        root = out.get("data_root")
        if isinstance(root, str) and not Path(root).is_absolute():
            out["data_root"] = str(paths.REPO_ROOT / root)
        return out
    if isinstance(d, (list, tuple)):
        return type(d)(normalise_data_roots(v) for v in d)
    return d


def _pretrained_text(text: str, weights_dir: Path) -> str:
    from repro.train.pretrained import PRETRAINED_DIR_ENV, PUBLISHED

    for name, _ in PUBLISHED.values():
        text = text.replace(repr(str(weights_dir / name)),
                            repr(f"{{{{${PRETRAINED_DIR_ENV}:~/.cache/torch/hub/checkpoints}}}}/{name}"))
    return text


def placeholder_weights(folder: Path) -> Path:
    """Tiny stand-ins (one tensor each) under the published weight file names in ``folder``; returns it resolved."""
    import torch

    from repro.train.pretrained import PUBLISHED

    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for name, _ in PUBLISHED.values():
        torch.save({"placeholder": torch.zeros(1)}, folder / name)
    return folder


def write_config_files(out: Path = CONFIG_DIR) -> list[Path]:
    """Write the ``_base_`` and per-method files of every setting under ``out``; returns the paths."""
    import os
    import tempfile

    from repro.train.pretrained import PRETRAINED_DIR_ENV

    old = os.environ.get(PRETRAINED_DIR_ENV)
    with tempfile.TemporaryDirectory() as tmp:
        weights = placeholder_weights(Path(tmp))
        os.environ[PRETRAINED_DIR_ENV] = str(weights)
        try:
            return _write_config_files(Path(out), weights)
        finally:
            if old is None:
                os.environ.pop(PRETRAINED_DIR_ENV, None)
            else:
                os.environ[PRETRAINED_DIR_ENV] = old


def _write_config_files(out: Path, weights: Path) -> list[Path]:
    from mmengine.config import Config

    from repro.train.config import METHODS, build_config

    out = Path(out)
    (out / "_base_").mkdir(parents=True, exist_ok=True)
    written = []
    header = "# Generated by `python -m repro.train.config_files` from repro.train.build_config; do not edit by hand.\n"
    for model, dataset, profile in SETTINGS:
        base = build_config(model, "baseline", dataset, profile=profile)
        name = setting_name(base)
        base_dict = base.to_dict()
        p = out / "_base_" / f"{name}.py"
        p.write_text(header + _pretrained_text(_data_root_text(Config(copy.deepcopy(base_dict)).pretty_text, base),
                                               weights))
        written.append(p)
        for method in METHODS:
            cfg = build_config(model, method, dataset, profile=profile)
            diff = _diff(cfg.to_dict(), base_dict)
            body = Config(diff).pretty_text if diff else ""
            p = out / f"{name}_{method}.py"
            p.write_text(header + f"_base_ = ['./_base_/{name}.py']\n" + _pretrained_text(_data_root_text(body, cfg),
                                                                                          weights))
            written.append(p)
    return written


if __name__ == "__main__":
    for f in write_config_files(Path(sys.argv[1]) if len(sys.argv) > 1 else CONFIG_DIR):
        print(paths.relpath(f) if hasattr(paths, "relpath") else f)
