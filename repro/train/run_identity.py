"""The identity of a training run: :func:`run_hash`, the cache key of a complete mmengine config.

Everything that changes what is trained enters the hash; what does not (the work folder, the
launcher, how the transform finds its hook, the folder holding a published weight file) is left
out, so that the same run on another machine or under another launcher finds its cached result.
"""
from __future__ import annotations

from pathlib import Path

from mmengine.config import Config

from repro.base.cache import canonical, config_hash

__all__ = ["run_hash"]

#: config keys that do not change what is trained (left out of the hash)
_VOLATILE = ("work_dir", "resume", "load_from", "launcher", "experiment_name", "model_wrapper_cfg")


def _channel_neutral(x):
    """Machine- and channel-neutral form of a config for its hash: ``SensitivityAugment(schedule_file="auto")``
    as ``None`` (how the transform finds its hook's schedule file does not change what is trained;
    the binding below sets the path per run), and pretrained backbone weights by file name only
    (MMSegmentation's published names carry their hash; the folder differs between machines).
    ``backend="torch"`` of ``SensitivityAugment``/``BasisPerturbation`` is dropped: it is the path the committed
    tables were trained with before the argument existed, so those configs keep their hashes (and cached runs);
    ``backend="opencv"`` (numerically different within a tolerance) stays and gives new hashes.
    A ``SensitivityHook`` that measures mIoU at levels (:func:`repro.train.hooks.measures_levels`: refreshes,
    ``analysis="none"``...) gets ``measurement_draws=2``: its draws follow :mod:`repro.scoring.perturbed`'s seed rule
    (version 2), so those runs were trained anew; hooks that only analyse keep their hashes (the analysis'
    draws did not change). The hook's ``analysis=dict(...)`` (:class:`repro.analysis.sensitivity.AnalysisSettings`)
    enters under the flat names the hook's arguments had before (``method`` as ``analysis``, ``budget`` as
    ``max_evals``, ``batch_size`` as ``eval_batch_size``, :data:`repro.train.hooks.LEGACY_ANALYSIS_ARGS`), so a
    run keeps its identity whichever spelling its config uses."""
    if isinstance(x, dict):
        out = {k: _channel_neutral(v) for k, v in x.items()}
        if out.get("type") == "SensitivityAugment" and out.get("schedule_file") == "auto":
            out["schedule_file"] = None
        if out.get("type") in ("SensitivityAugment", "BasisPerturbation") and out.get("backend") == "torch":
            del out["backend"]
        if out.get("type") == "SensitivityHook":
            from repro.train.hooks import LEGACY_ANALYSIS_ARGS, measures_levels

            if isinstance(out.get("analysis"), dict):  # AnalysisSettings fields → the flat names they had before
                legacy = {v: k for k, v in LEGACY_ANALYSIS_ARGS.items()}
                out.update({legacy.get(k, k): v for k, v in out.pop("analysis").items()})
            if measures_levels(out):
                out["measurement_draws"] = 2
        if out.get("type") == "Pretrained" and isinstance(out.get("checkpoint"), str):
            out["checkpoint"] = Path(out["checkpoint"]).name
        return out
    if isinstance(x, (list, tuple)):
        return type(x)(_channel_neutral(v) for v in x)
    return x


def _hashable(cfg: Config) -> dict:
    d = cfg.to_dict() if isinstance(cfg, Config) else dict(cfg)
    d = {k: v for k, v in d.items() if k not in _VOLATILE}
    return canonical(_channel_neutral(d))


def run_hash(cfg: Config) -> str:
    """The cache key of a training config (hash of everything that affects the result)."""
    return config_hash(_hashable(cfg))
