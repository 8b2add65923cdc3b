"""Where the datasets live: the shipped ones in ``data/<name>``, each of the paper's datasets in
``$REPRO_<NAME>_ROOT`` (``REPRO_CITYSCAPES_ROOT``, ``REPRO_ACDC_ROOT``, ... see
:data:`DATASET_ROOT_ENV`), else in ``$REPRO_DATA_ROOT/<name>``, else in ``data/<name>``.

One resolver (:func:`default_data_root`) for every reader: the MMSegmentation configs of
:mod:`repro.train`, the real-world suites of :mod:`repro.evaluation.suites` and the notebooks' list of
configured datasets.  Needs neither MMSegmentation nor torch.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from repro import data as rdata
from repro.base import paths

__all__ = ["PAPER_DATASETS", "DATA_ROOT_ENV", "DATASET_ROOT_ENV", "dataset_root_env", "configured_data_root",
           "default_data_root", "where_to_put"]

#: the paper's datasets (not shipped: the user points the package at them)
PAPER_DATASETS = ("cityscapes", "acdc", "idd", "ade20k", "voc2012", "potsdam", "loveda", "synapse", "a2i2haze")

#: environment variable holding a folder under which the paper datasets live
#: (``$REPRO_DATA_ROOT/<name>``), used when a dataset's own variable is unset.
DATA_ROOT_ENV = "REPRO_DATA_ROOT"

#: the paper's datasets (not shipped) and the environment variable naming each one's folder;
#: it wins over ``$REPRO_DATA_ROOT/<name>``
DATASET_ROOT_ENV: dict[str, str] = {name: f"REPRO_{name.upper()}_ROOT" for name in PAPER_DATASETS}


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or name not in rdata.SHIPPED + tuple(DATASET_ROOT_ENV):
        raise ValueError(f"unknown dataset {name!r}; expected one of "
                         f"{', '.join(rdata.SHIPPED + tuple(DATASET_ROOT_ENV))}")
    return name


def dataset_root_env(name: str) -> str:
    """The environment variable naming the folder of paper dataset ``name`` (``REPRO_<NAME>_ROOT``)."""
    if _check_name(name) in rdata.SHIPPED:
        raise ValueError(f"dataset {name!r} is shipped in {paths.relpath(paths.DATA_DIR / name)} and has no "
                         f"root variable; variables exist for {', '.join(DATASET_ROOT_ENV)}")
    return DATASET_ROOT_ENV[name]


def configured_data_root(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """The folder the environment gives paper dataset ``name``: ``$REPRO_<NAME>_ROOT``, else
    ``$REPRO_DATA_ROOT/<name>``; ``None`` when neither variable is set (empty counts as unset)."""
    env = os.environ if environ is None else environ
    own = env.get(dataset_root_env(name), "")
    if own:
        return Path(own).expanduser()
    base = env.get(DATA_ROOT_ENV, "")
    return Path(base).expanduser() / name if base else None


def default_data_root(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """Root of dataset ``name`` when no ``data_root`` is passed: ``data/<name>`` for shipped data;
    for the paper's datasets ``$REPRO_<NAME>_ROOT``, else ``$REPRO_DATA_ROOT/<name>``, else
    ``data/<name>`` (absent: :func:`check_data_layout` then names the variables to set)."""
    if _check_name(name) in rdata.SHIPPED:
        return paths.DATA_DIR / name
    return configured_data_root(name, environ) or paths.DATA_DIR / name


def where_to_put(name: str) -> str:
    """How to point the package at dataset ``name``: its variable, ``$REPRO_DATA_ROOT`` or ``data_root=...``."""
    if name in DATASET_ROOT_ENV:
        var = DATASET_ROOT_ENV[name]
        return (f"set ${var} to the dataset folder (or ${DATA_ROOT_ENV} to its parent, read as "
                f"${DATA_ROOT_ENV}/{name}) or pass data_root=... to build_config/run")
    return "pass data_root=... to build_config/run"
