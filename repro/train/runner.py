"""Train, evaluate and reload MMSegmentation models: :func:`run`, :func:`load_model`, :func:`evaluate_split`.

``run(config)`` trains with mmengine's ``Runner`` (CPU or GPU, optionally DDP), evaluates the
final model on the clean evaluation splits of the dataset, and writes ``results.json`` next to
the checkpoint in the run folder.  The folder is ``<CACHE_DIR>/runs/<hash>`` where ``<hash>`` is
:func:`repro.base.cache.config_hash` of the complete config (minus run-local entries such as
``work_dir``), so an identical call returns the stored results at once (``force=True``
retrains from scratch).  A run interrupted after a checkpoint resumes from it on the next call.

Run folder::

    config.py            the complete mmengine config (standalone; `custom_imports` repro.train)
    iter_<T>.pth         the last checkpoint (mmengine format, incl. SensitivityHook state)
    last_checkpoint      mmengine's pointer to it
    results.json         see RESULT_KEYS
    sia_history.json     analyses/refreshes of the ours* methods (levels, mIoU tables, distributions)
    sia_schedule.rank*.json   the schedule shared with the dataloader workers
    <timestamp>/         mmengine logs; vis_data/scalars.json holds loss/lr per iteration
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

import torch
from mmengine.config import Config

from repro.base import paths
from repro.train.checkpoint import load_weights, trusted_checkpoints
from repro.train.config import build_config
from repro.train.datasets import check_data_layout
from repro.train.run_identity import run_hash

__all__ = ["run", "load_model", "evaluate_split", "run_dir_for", "RESULT_KEYS", "run_hash", "prepare", "is_done"]

#: file marking a folder as a run folder of this package (written before training starts)
_MARKER = ".repro_run"

#: keys of ``results.json`` (and of the dict :func:`run` returns)
RESULT_KEYS = ("format", "config_hash", "model", "method", "dataset", "profile", "seed", "iters", "batch_size",
               "crop", "run_dir", "checkpoint", "config_file", "metrics", "eval_splits", "train_time_s",
               "iter_time_s", "warm_start", "analysis_time_s", "analysis_share", "sia", "versions", "created")

def run_dir_for(cfg: Config) -> Path:
    """``<CACHE_DIR>/runs/<run_hash(cfg)>``."""
    return paths.CACHE_DIR / "runs" / run_hash(cfg)


def _resolve_cfg(config, profile, seed) -> Config:
    if isinstance(config, Config):
        if profile is not None and config.get("profile") not in (None, profile):
            raise ValueError(f"config was built for profile {config.get('profile')!r}, not {profile!r}")
        if seed is not None and config.get("randomness", {}).get("seed") != seed:
            raise ValueError(f"config has seed {config.get('randomness', {}).get('seed')!r}, not {seed!r}; "
                             "build it with build_config(..., seed=...)")
        return copy.deepcopy(config)
    if isinstance(config, Mapping):
        kwargs = dict(config)
        if profile is not None:
            kwargs["profile"] = profile
        if seed is not None:
            kwargs["seed"] = seed
        return build_config(**kwargs)
    raise TypeError("config must be an mmengine.Config (from build_config) or a mapping of build_config "
                    f"arguments, got {type(config).__name__}")


def _bind(cfg: Config, work_dir: Path, run_id: str, warm_ckpt: Path | None = None) -> None:
    """Point the SensitivityAugment transforms and the SensitivityHook at this run's schedule file,
    and a hook with ``extractor="encoder"`` at the warm start's checkpoint (its KID features).

    Without a SensitivityHook the transforms keep ``schedule_file=None`` (warm-up distribution)."""
    sched = str(work_dir / "sia_schedule.json")
    if not any(h.get("type") == "SensitivityHook" for h in cfg.get("custom_hooks", []) or []):
        return

    def walk_pipeline(ds):
        if ds is None:
            return
        for key in ("dataset",):
            if key in ds:
                walk_pipeline(ds[key])
        for sub in ds.get("datasets", []) or []:
            walk_pipeline(sub)
        for t in ds.get("pipeline", []) or []:
            if t.get("type") == "SensitivityAugment":
                t["schedule_file"] = sched
                t["run_id"] = run_id

    walk_pipeline(cfg.train_dataloader.get("dataset"))
    for h in cfg.get("custom_hooks", []) or []:
        if h.get("type") == "SensitivityHook":
            h["schedule_file"] = sched
            h["run_id"] = run_id
            if h.get("extractor") == "encoder" and warm_ckpt is not None and not h.get("extractor_weights"):
                h["extractor_weights"] = str(warm_ckpt)


def _versions() -> dict:
    import mmengine
    import mmseg

    return {"torch": torch.__version__, "mmengine": mmengine.__version__, "mmseg": mmseg.__version__}


def _find_hook(runner, name="SensitivityHook"):
    for h in runner.hooks:
        if type(h).__name__ == name:
            return h
    return None


def _atomic_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


@contextlib.contextmanager
def quiet_warnings():
    """Silence MMSegmentation/mmengine's known, harmless deprecation warnings (they print file paths)."""
    import warnings

    with warnings.catch_warnings():
        for msg in (".*build_loss.*", ".*avg_non_ignore.*", ".*draw is False.*", ".*MultiScaleDeformableAttention.*",
                    ".*IProgress not found.*", ".*For binary segmentation.*"):
            warnings.filterwarnings("ignore", message=msg)
        yield


def quiet_logger():
    """A logger that records nothing: for hook code run outside a training run (the event's flags are
    kept in its record)."""
    import logging

    log = logging.getLogger("repro.train.offline")
    log.propagate = False
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    return log


def evaluate_split(model, cfg: Config, split: str, *, progress: bool = False) -> dict:
    """Clean aAcc/mAcc/mIoU (percent, MMSegmentation's ``IoUMetric``) of ``model`` on ``split``.

    Uses the config's test pipeline for that split (``cfg.eval_dataloaders[split]``); under DDP
    each rank scores a shard and the metric is gathered.
    """
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    dls = cfg.get("eval_dataloaders") or {}
    if split not in dls:
        raise ValueError(f"split {split!r} is not an evaluation split of this config; available: {', '.join(dls)}")
    init_default_scope("mmseg")
    dl = Runner.build_dataloader(copy.deepcopy(dls[split]), seed=0)
    evaluator = Evaluator(dict(type="IoUMetric", iou_metrics=["mIoU"]))
    evaluator.dataset_meta = dl.dataset.metainfo
    was_training = model.training
    model.eval()
    from tqdm import tqdm
    from repro.base.progress import disabled

    try:
        with torch.no_grad():
            for batch in tqdm(dl, desc=f"evaluate {split}", disable=disabled(progress), leave=False):
                outputs = model.test_step(batch)
                evaluator.process(data_samples=outputs, data_batch=batch)
    finally:
        if was_training:
            model.train()
    return {k: float(v) for k, v in evaluator.evaluate(len(dl.dataset)).items()}


def plain_eval_loop(cfg: Config) -> str | None:
    """The evaluation :func:`run` does at the end of a config not built by :func:`build_config` (one
    without ``eval_splits``): ``"test"`` when it has ``test_dataloader`` and ``test_evaluator`` (what
    MMSegmentation's ``tools/test.py`` scores), else ``"val"`` when it has ``val_dataloader`` and
    ``val_evaluator``, else ``None`` (nothing to evaluate with)."""
    for split in ("test", "val"):
        if cfg.get(f"{split}_dataloader") and cfg.get(f"{split}_evaluator"):
            return split
    return None


def evaluate_plain(runner, cfg: Config, split: str) -> dict:
    """The metrics of the config's own ``<split>_evaluator`` on its ``<split>_dataloader`` (``split`` is
    ``"test"`` or ``"val"``) for the runner's model, computed as mmengine's test/val loop does (the
    model's ``test_step``, the evaluator gathered over DDP ranks) but without calling the runner's hooks
    again; numbers as the evaluator gives them (MMSegmentation's ``IoUMetric``: aAcc/mIoU/mAcc in percent)."""
    from mmengine.registry import init_default_scope

    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', got {split!r}")
    init_default_scope(cfg.get("default_scope") or "mmseg")
    dl = runner.build_dataloader(copy.deepcopy(cfg[f"{split}_dataloader"]), seed=0)
    evaluator = runner.build_evaluator(copy.deepcopy(cfg[f"{split}_evaluator"]))
    evaluator.dataset_meta = getattr(dl.dataset, "metainfo", None)
    model = runner.model
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in dl:
                outputs = model.test_step(batch)
                evaluator.process(data_samples=outputs, data_batch=batch)
    finally:
        if was_training:
            model.train()
    out = evaluator.evaluate(len(dl.dataset))
    return {k: _json_value(v) for k, v in out.items()}


def _json_value(v):
    """A metric value as JSON can store it: numbers as ``float``, arrays as lists, the rest as is."""
    if isinstance(v, (bool, str)) or v is None:
        return v
    if isinstance(v, (int, float)) or getattr(v, "ndim", None) == 0:
        return float(v)
    return v.tolist() if hasattr(v, "tolist") else v


def with_repro_imports(cfg: Config) -> bool:
    """Add ``'repro.train'`` to ``cfg.custom_imports`` (in place) when it is not there; returns whether it
    was added.  On this stack (mmcv-lite, no compiled ``mmcv._ext``) every MMSegmentation config needs
    it under a plain ``Runner``: importing ``repro.train`` installs the ``mmcv.ops`` stand-in
    (:mod:`repro.train._mmcv_compat`) and registers the package's transforms, hooks and datasets."""
    ci = cfg.get("custom_imports")
    if ci is None:
        cfg.custom_imports = dict(imports=["repro.train"], allow_failed_imports=False)
        return True
    imports = ci.get("imports", [])
    imports = [imports] if isinstance(imports, str) else list(imports)
    if "repro.train" in imports:
        return False
    ci["imports"] = imports + ["repro.train"]
    return True


def _train_crop(cfg: Config) -> list[int] | None:
    """``crop_size`` of the first ``RandomCrop`` in the training pipeline (wrappers unpacked), else ``None``."""
    def walk(ds):
        if not ds:
            return None
        for t in ds.get("pipeline", []) or []:
            if isinstance(t, Mapping) and t.get("type") == "RandomCrop" and t.get("crop_size") is not None:
                c = t["crop_size"]
                return [int(v) for v in c] if isinstance(c, (list, tuple)) else [int(c), int(c)]
        for sub in [ds.get("dataset")] + list(ds.get("datasets", []) or []):
            found = walk(sub)
            if found:
                return found
        return None

    return walk((cfg.get("train_dataloader") or {}).get("dataset"))


def run(config: Config | Mapping[str, Any] | None = None, work_dir: str | os.PathLike | None = None, *,
        profile: str | None = None, seed: int | None = None, force: bool = False, launcher: str = "none",
        evaluate: bool = True, verbose: bool = False, **kwargs) -> dict:
    """Train (or load the cached result of) one configuration; returns the results dict.

    Parameters
    ----------
    config : an ``mmengine.Config`` from :func:`build_config`, or a mapping of its arguments
        (``dict(model="pspnet_r18", method="ours", dataset="camvid")``); further keyword
        arguments are merged into that mapping.
    work_dir : run folder (default ``<CACHE_DIR>/runs/<config hash>``).
    profile, seed : passed to :func:`build_config` (for a Config: checked against it).
    force : retrain from scratch even if results exist (the run folder is emptied).
    launcher : mmengine launcher, ``"none"`` or ``"pytorch"`` (torchrun / DDP).
    evaluate : evaluate the final model on the dataset's clean evaluation splits; for a config not
        built by :func:`build_config` (a user's MMSegmentation config) with the config's own test
        evaluator on its test dataloader, else its val evaluator (:func:`plain_eval_loop`), else
        nothing (``eval_splits`` is then empty).
    verbose : print mmengine's INFO log (environment, config, losses) to the console; otherwise
        the console shows errors only and the training log (losses, ``[SIA]`` events) goes to
        ``<run_dir>/<timestamp>/<timestamp>.log``.

    Returns the contents of ``results.json`` (keys :data:`RESULT_KEYS`): ``metrics`` maps each
    evaluation split to ``{"aAcc", "mIoU", "mAcc"}`` (percent); ``run_dir`` is the run folder
    relative to the repository root (``$REPRO_CACHE_DIR/...`` inside the cache, absolute
    elsewhere); ``checkpoint``
    and ``config_file`` are file names inside it; ``sia`` (``ours*`` methods, else ``None``)
    holds the final ``levels`` and ``distribution`` (``Distribution.to_dict()``) and
    ``events`` (kind, iter, time_s, clean_miou); times are seconds.
    """
    from mmengine.dist import get_rank
    from mmengine.runner import Runner

    if config is None:
        config = {}
    if kwargs:
        if isinstance(config, Config):
            raise TypeError(f"unexpected keyword arguments {sorted(kwargs)} with a Config")
        config = {**dict(config), **kwargs}
    if launcher not in ("none", "pytorch", "slurm", "mpi"):
        raise ValueError(f"launcher must be 'none', 'pytorch', 'slurm' or 'mpi', got {launcher!r}")
    cfg = _resolve_cfg(config, profile, seed)
    check_data_layout(cfg)
    h = run_hash(cfg)
    wd = Path(work_dir) if work_dir is not None else paths.CACHE_DIR / "runs" / h
    results_path = wd / "results.json"
    if results_path.is_file() and not force:
        res = json.loads(results_path.read_text())
        if res.get("config_hash") == h:
            return res
    rank0 = int(os.environ.get("RANK", "0")) == 0
    if force and wd.exists() and rank0:
        if not (wd / _MARKER).exists() and any(wd.iterdir()):
            raise ValueError(f"{wd}: refusing to empty a folder that repro.train.run did not create")
        shutil.rmtree(wd)
    wd.mkdir(parents=True, exist_ok=True)
    (wd / _MARKER).write_text(h)

    warm_ckpt = None
    if cfg.get("warm_start"):
        # the shared starting point: trained (or read from the cache) first, then loaded as weights only
        ws = run(build_config(**cfg.warm_start["args"]), launcher=launcher, evaluate=evaluate, verbose=verbose)
        if ws["config_hash"] != cfg.warm_start["hash"]:
            raise ValueError(f"warm start changed: expected run {cfg.warm_start['hash']}, got {ws['config_hash']} "
                             "(rebuild the config with build_config)")
        warm_ckpt = _resolve_run_dir(ws) / ws["checkpoint"]
    run_id = os.environ.get("REPRO_RUN_ID") or uuid.uuid4().hex  # DDP: all ranks must agree (env)
    cfg = copy.deepcopy(cfg)
    with_repro_imports(cfg)  # config.py stays runnable under a plain Runner (mmcv.ops stand-in, our pieces)
    _bind(cfg, wd, run_id, warm_ckpt)
    cfg.work_dir = str(wd)
    # a unique experiment name per run: mmengine names the logger and the visualizer after it, and
    # both are process-wide singletons (several runs in one process must not share them)
    cfg.experiment_name = f"run_{h}_{run_id[:8]}"
    cfg.launcher = launcher
    cfg.resume = (wd / "last_checkpoint").is_file()
    cfg.load_from = None if cfg.resume or warm_ckpt is None else str(warm_ckpt)
    if rank0:
        cfg.dump(str(wd / "config.py"))

    if not verbose:  # environment/config dump off; INFO goes to the log file only (see below)
        cfg.log_level = "ERROR"
    if launcher == "pytorch" and not torch.cuda.is_available():
        # mmengine's pytorch launcher calls torch.cuda.set_device unconditionally; on CPU the
        # process group (gloo, env:// from torchrun) is initialised here and mmengine reuses it
        import torch.distributed as tdist

        if not tdist.is_initialized():
            tdist.init_process_group(backend=(cfg.get("env_cfg") or {}).get("dist_cfg", {}).get("backend", "gloo"))
        # and DDP must not get device_ids on CPU
        cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=None)
    with quiet_warnings():
        runner = Runner.from_cfg(cfg)
    if not verbose:
        import logging

        runner.logger.setLevel(logging.INFO)
        for hd in runner.logger.handlers:
            if isinstance(hd, logging.FileHandler):
                hd.setLevel(logging.INFO)
    t0 = time.perf_counter()
    with trusted_checkpoints(), quiet_warnings():
        runner.train()
    train_time = time.perf_counter() - t0

    model = runner.model.module if hasattr(runner.model, "module") else runner.model
    metrics = {}
    built = cfg.get("eval_splits") is not None  # composed by build_config (configs/sia too), else a user's config
    eval_splits = list(cfg.eval_splits) if built else [s for s in [plain_eval_loop(cfg)] if s]
    if not evaluate:
        eval_splits = []
    with quiet_warnings():
        for split in eval_splits:
            metrics[split] = evaluate_split(model, cfg, split) if built else evaluate_plain(runner, cfg, split)

    hook = _find_hook(runner)
    sia = None
    analysis_time = 0.0
    if hook is not None:
        analysis_time = float(sum(e["time_s"] for e in hook.history))
        sia = dict(types=list(hook.types), analysis=hook.settings.method, levels=hook.levels,
                   distribution=hook.distribution.to_dict(),
                   events=[dict(kind=e["kind"], iter=e["iter"], time_s=e["time_s"], clean_miou=e["clean_miou"],
                                n_evaluations=e.get("n_evaluations"), cached=bool(e.get("cached", False)),
                                compute_s=e.get("compute_s", e["time_s"]), flags=e.get("flags") or {})
                           for e in hook.history],
                   history_file="sia_history.json")
    buf = runner.message_hub.log_scalars.get("train/time")
    iter_time = None
    if buf is not None:
        vals = sorted(float(v) for v in buf.data[0][1:]) or [float(v) for v in buf.data[0]]
        iter_time = vals[len(vals) // 2] if vals else None
    ckpt_name = (wd / "last_checkpoint").read_text().strip() if (wd / "last_checkpoint").is_file() else None
    result = dict(
        format=1, config_hash=h, model=cfg.get("model_name"), method=cfg.get("method"),
        dataset=cfg.get("dataset_name"), profile=cfg.get("profile"), seed=_int_or_none(seed_of(cfg)),
        iters=_int_or_none((cfg.get("train_cfg") or {}).get("max_iters")),
        batch_size=_int_or_none((cfg.get("train_dataloader") or {}).get("batch_size")),
        crop=_train_crop(cfg), run_dir=_portable(wd),
        checkpoint=Path(ckpt_name).name if ckpt_name else None, config_file="config.py",
        metrics=metrics, eval_splits=eval_splits, train_time_s=train_time, iter_time_s=iter_time,
        warm_start=(cfg.get("warm_start") or {}).get("hash"),
        analysis_time_s=analysis_time, analysis_share=analysis_time / train_time if train_time > 0 else None,
        sia=sia, versions=_versions(), created=time.strftime("%Y-%m-%dT%H:%M:%S"))
    if get_rank() == 0:
        _atomic_json(results_path, result)
    return result


def seed_of(cfg: Config):
    """The config's ``randomness.seed`` (``None`` when it sets none)."""
    return (cfg.get("randomness") or {}).get("seed")


def _int_or_none(v) -> int | None:
    return None if v is None else int(v)


def _portable(p: Path) -> str:
    """Repository-relative (or ``$REPRO_CACHE_DIR/...``) path when possible, else the absolute path."""
    p = Path(p).resolve()
    for base, prefix in ((paths.CACHE_DIR, "$REPRO_CACHE_DIR/"), (paths.REPO_ROOT, "")):
        try:
            return prefix + p.relative_to(Path(base).resolve()).as_posix()
        except ValueError:
            pass
    return str(p)


def _resolve_run_dir(run: str | os.PathLike | Mapping) -> Path:
    if isinstance(run, Mapping):
        cands = []
        rd = run.get("run_dir")
        if rd:
            rd = str(rd)
            if rd.startswith("$REPRO_CACHE_DIR/"):
                cands.append(paths.CACHE_DIR / rd[len("$REPRO_CACHE_DIR/"):])
            cands += [Path(rd), paths.REPO_ROOT / rd]
        if run.get("config_hash"):
            cands.append(paths.CACHE_DIR / "runs" / run["config_hash"])
        for c in cands:
            if (c / "config.py").is_file():
                return c
        raise FileNotFoundError(f"run folder of {run.get('run_dir') or run.get('config_hash')} not found "
                                f"(looked at {', '.join(str(c) for c in cands)})")
    p = Path(run)
    if not (p / "config.py").is_file():
        raise FileNotFoundError(f"{p}: not a run folder of repro.train.run (no config.py)")
    return p


def load_model(run: str | os.PathLike | Mapping, *, device: str | torch.device = "cpu", checkpoint: str | None = None):
    """The trained segmentor of a run, in eval mode on ``device``.

    ``run`` is a run folder or the dict returned by :func:`run` (``results.json``).  The model is
    built from the run's ``config.py`` and loaded from its last checkpoint (or ``checkpoint``, a
    file name inside the run folder).  It is an MMSegmentation ``EncoderDecoder``: use it with
    :func:`repro.scoring.inference.predict` / :mod:`repro.evaluation.suites`; ``model.cfg`` holds the config and
    ``model.dataset_meta`` the class names and palette.
    """
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    wd = _resolve_run_dir(run)
    cfg = Config.fromfile(str(wd / "config.py"))
    if checkpoint is None:
        lc = wd / "last_checkpoint"
        if not lc.is_file():
            raise FileNotFoundError(f"{wd}: no checkpoint (the run did not finish a checkpoint yet)")
        ckpt = wd / Path(lc.read_text().strip()).name
    else:
        ckpt = wd / Path(checkpoint).name
    if not ckpt.is_file():
        raise FileNotFoundError(f"{ckpt}: checkpoint missing")
    init_default_scope("mmseg")
    with quiet_warnings():
        model = MODELS.build(copy.deepcopy(cfg.model))
    ck = load_weights(model, ckpt)
    model.cfg = cfg
    model.dataset_meta = (ck.get("meta") or {}).get("dataset_meta")
    return model.to(device).eval()


def is_done(config: Config | Mapping[str, Any]) -> bool:
    """Whether :func:`run` would return ``config``'s results from the cache."""
    cfg = _resolve_cfg(config, None, None)
    p = run_dir_for(cfg) / "results.json"
    return p.is_file() and json.loads(p.read_text()).get("config_hash") == run_hash(cfg)


def prepare(config: Config | Mapping[str, Any]) -> None:
    """Compute, in this process, what runs of ``config`` share, so that several of them can then train
    side by side without computing it twice: the warm start (a run of its own, cached) and, for a
    warm-started ``ours*`` run whose ``SensitivityHook`` analyses before the first step with
    ``cache_events``, that first event (cached under the warm start's weights and the hook's settings,
    where the run's hook finds it)."""
    from types import SimpleNamespace

    from repro.train.hooks import SensitivityHook, hook_args

    cfg = _resolve_cfg(config, None, None)
    if not cfg.get("warm_start"):
        return
    ws = run(build_config(**cfg.warm_start["args"]))
    spec = next((hook_args(h) for h in cfg.get("custom_hooks", []) or [] if h.get("type") == "SensitivityHook"), None)
    if spec is None or not spec.get("analyse_at_start") or not spec.get("cache_events"):
        return
    spec["schedule_file"] = None
    if spec.get("extractor") == "encoder" and not spec.get("extractor_weights"):
        spec["extractor_weights"] = str(_resolve_run_dir(ws) / ws["checkpoint"])
    hook = SensitivityHook(**spec)
    runner = SimpleNamespace(model=load_model(ws), cfg=cfg, iter=0, logger=quiet_logger())
    with torch.no_grad():
        hook._event_payload(runner, "analysis", 0)
