"""The profiles (``smoke``, ``cpu``, ``paper``): one file, ``repro/base/profiles.yaml``, shipped with the package.

Each profile holds the notebook parameters that ``python -m repro reproduce --profile P`` injects
(:func:`profile_parameters`; a notebook receives only the keys its ``parameters`` cell declares) and,
under ``train``, the defaults of :func:`repro.train.build_config` for that profile
(:func:`training_defaults`). Needs neither MMSegmentation nor torch.
"""
from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

__all__ = ["PROFILES_FILE", "PROFILES", "load_profiles", "profile_parameters", "training_defaults"]

#: the one profile file
PROFILES_FILE = Path(__file__).resolve().parent / "profiles.yaml"
#: the profiles, in order of scale
PROFILES = ("smoke", "cpu", "paper")
#: the key of a profile that holds build_config's defaults (not a notebook parameter)
TRAIN_KEY = "train"
#: the key of a profile that holds the analysis settings (a notebook parameter and a build_config default)
ANALYSIS_KEY = "analysis"


@functools.lru_cache(maxsize=4)
def _read(path: str) -> dict:
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{path} must map profile names to mappings of parameters")
    return data


def load_profiles(path: str | Path | None = None) -> dict:
    """All profiles of the profile file (default :data:`PROFILES_FILE`) as {name: {key: value}} (a copy)."""
    return copy.deepcopy(_read(str(Path(path).resolve() if path else PROFILES_FILE)))


def _profile(profile: str, path: str | Path | None) -> dict:
    profiles = load_profiles(path)
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r}; profiles are {', '.join(profiles)}")
    return profiles[profile]


def profile_parameters(profile: str, path: str | Path | None = None) -> dict:
    """The notebook parameters of one profile, ``profile`` itself included (without ``train``)."""
    params = {k: v for k, v in _profile(profile, path).items() if k != TRAIN_KEY}
    params["profile"] = profile
    return params


def training_defaults(profile: str, path: str | Path | None = None) -> dict:
    """build_config's defaults for ``profile``: its ``train`` mapping (``crop`` as an (H, W) tuple) and the
    profile's ``analysis`` settings (shared with notebook 03), under ``analysis``."""
    prof = _profile(profile, path)
    train = prof.get(TRAIN_KEY)
    if not isinstance(train, dict):
        raise ValueError(f"profile {profile!r} has no '{TRAIN_KEY}' mapping in {PROFILES_FILE.name}")
    analysis = prof.get(ANALYSIS_KEY) or {}
    if not isinstance(analysis, dict):
        raise ValueError(f"profile {profile!r}: '{ANALYSIS_KEY}' must be a mapping of AnalysisSettings fields, got "
                         f"{analysis!r}")
    train[ANALYSIS_KEY] = dict(analysis)
    if isinstance(train.get("crop"), list):
        train["crop"] = tuple(train["crop"])
    return train
