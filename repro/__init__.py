"""Sensitivity-informed augmentation for robust segmentation: reproducibility package.

The package is built in layers, each importing only the ones below it (docs/ARCHITECTURE.md)::

    repro.base        paths, cache, seeds, hashing, argument checks, progress, profiles, torch.distributed
    repro.data        the shipped datasets, a user's folders, dataset roots, streaming by chunks
    repro.perturb     the 24 basis perturbations (batched and per-sample), the policy baselines
    repro.scoring     confusion-matrix metrics, batched inference, perturb-then-score
    repro.analysis    KID features, KID/FID, the sensitivity analysis (ASA), the sampling
                      distribution and the augmentation that draws from it
    repro.evaluation  the robustness suites (SPEC §6) and the ImageNet-C corruptions
    repro.train       the MMSegmentation / mmengine glue (hook, transforms, configs, runner)
    repro.robustness  the robustness report of any model: compute, compare, render, command line
    repro.paper       the paper's experiments, tables, claims, figures and the notebook batch
    repro.cli         ``python -m repro ...``

The public entry points are importable from here (each is imported on first use, so
``import repro`` stays cheap):

=========================  ==============================================================
``SensitivityTransform``   the method's augmentation for plain PyTorch (:mod:`repro.analysis.augment`)
``refresh_distribution``   re-run the analysis and install its distribution in that transform
``SensitivityHook``        the mmengine hook that analyses during training (:mod:`repro.train.hooks`)
``SensitivityAugment``     the MMSegmentation pipeline transform (:mod:`repro.train.transforms`)
``analyse``                the adaptive sensitivity analysis (:mod:`repro.analysis.sensitivity`)
``AnalysisSettings``       its settings (one frozen dataclass)
``Distribution``           the sampling distribution over (type, level) (:mod:`repro.analysis.sampling`)
``kid``, ``kid_result``    Kernel Inception Distance of two feature sets (:mod:`repro.analysis.kid`)
``extractor``              KID feature extractors (:mod:`repro.analysis.features`)
``robustness_report``      the robustness report of a model on a dataset (:mod:`repro.robustness`)
``load_dataset``           a shipped split; ``FolderDataset``: a user's folder (:mod:`repro.data`)
=========================  ==============================================================
"""
from repro.base.version import __version__  # noqa: F401

#: public name → the module that defines it (imported on first access)
PUBLIC = {
    "SensitivityTransform": "repro.analysis.augment",
    "refresh_distribution": "repro.analysis.augment",
    "SensitivityHook": "repro.train.hooks",
    "SensitivityAugment": "repro.train.transforms",
    "analyse": "repro.analysis.sensitivity",
    "AnalysisSettings": "repro.analysis.sensitivity",
    "Distribution": "repro.analysis.sampling",
    "kid": "repro.analysis.kid",
    "kid_result": "repro.analysis.kid",
    "extractor": "repro.analysis.features",
    "robustness_report": "repro.robustness",
    "load_dataset": "repro.data",
    "FolderDataset": "repro.data",
}

__all__ = ["__version__", *PUBLIC]


def __getattr__(name: str):
    if name in PUBLIC:
        import importlib

        value = getattr(importlib.import_module(PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'repro' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(PUBLIC))
