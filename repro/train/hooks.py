"""``SensitivityHook``: the training-time schedule of sensitivity-informed augmentation (SPEC.md §5).

With ``T`` training iterations (mmengine ``IterBasedTrainLoop``), ``A = num_analyses`` (4) and
``F = num_refreshes`` (8):

* warm-up: iterations ``[0, a_1)`` sample type and magnitude uniformly
  (:meth:`repro.analysis.sampling.Distribution.uniform`);
* analyses after ``a_k = round(k·T/(A+1))`` iterations, k = 1..A (1/5, 2/5, 3/5, 4/5 of the
  run): :func:`repro.analysis.sensitivity.analyse` with the current model on a fixed subset of the
  validation split gives new levels and, from their mIoU, a new distribution
  (:meth:`Distribution.from_analysis`);
* refreshes after ``f_k = round(k·T/F)`` iterations, k = 1..F (once levels exist): the mIoU of
  the current model at every (type, level) on the same subset gives a new distribution with the
  same levels.  The refresh after the last iteration gives the run's final distribution (it
  trains nothing; it is what :func:`repro.train.run` reports).

``analysis="adaptive"`` (ASA, default) or ``"uniform"`` (grid SA) choose the level finder;
``analysis="none"`` is the ``Ours~SA`` ablation: levels fixed at ``k/L`` (k = 1..L), no
analysis, the same accuracy-weighted refreshes.

The distribution in effect from iteration ``i`` on is published to the dataloader workers through
the schedule file (:mod:`repro.train.channel`).  Every event is logged (levels, probabilities per
type, clean/perturbed mIoU, wall time) through mmengine's logger and visualizer
(``sia/*`` scalars) and kept in :attr:`history`, also written to ``<work_dir>/sia_history.json``.

Distributed training: the work of an event is split between the ranks by perturbation type (type
``i`` of :attr:`types` goes to rank ``i mod world_size``, see :func:`shard_types`); each rank
analyses or evaluates its types, the partial results are gathered with ``all_gather_object`` and
merged in type order (:func:`merge_payloads`), so every rank works and every rank ends each event
with the identical distribution.  A type's result does not depend on which rank computes it or on
the other types (its draws are seeded by type), so a sharded event equals the unsharded one.
With ``shard=False`` rank 0 computes everything and broadcasts the result.

Checkpoints: ``before_save_checkpoint`` stores levels, distribution, schedule and history (plain
Python types, loadable with ``weights_only=True``) under ``checkpoint["sia_state"]``;
``after_load_checkpoint`` restores them on resume and republishes the schedule.  The hook also
keeps the main process's torch RNG stream independent of work done between training steps
(validation, analysis): the state after each training step is restored before the next one and
is saved in the checkpoint, so a resumed run continues the random stream (dropout) of an
uninterrupted one.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from mmengine.dist import all_gather_object, broadcast_object_list, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from repro.analysis.sampling import Distribution, resolve_types
from repro.analysis.sensitivity import AnalysisSettings
from repro.base.validation import check_int
from repro.scoring.perturbed import evaluate_levels
from repro.train.channel import (
    announce, current_experiment, remove_pointer, retire, schedule_path, write_pointer, write_schedule,
)
from repro.train.hook_support import (  # noqa: F401
    FOREVER, LEGACY_ANALYSIS_ARGS, _cuda_ready, _memoise, _method_of, _plain, _records, _unwrap,
    analysis_data_message, event_iterations, hook_args, init_encoder_name, legacy_analysis_args, merge_payloads,
    shard_types,
)

__all__ = ["SensitivityHook", "event_iterations", "init_encoder_name", "measures_levels", "hook_args",
           "legacy_analysis_args", "LEGACY_ANALYSIS_ARGS", "shard_types", "merge_payloads"]

def measures_levels(hook_cfg: Mapping[str, Any]) -> bool:
    """Whether a run with this ``SensitivityHook`` config (missing keys: the hook's defaults) measures mIoU at
    levels with :func:`repro.scoring.perturbed.evaluate_levels` (refreshes, a final refresh, ``analysis="none"`` or
    ``measure_levels``), whose draws follow the seed rule of :mod:`repro.scoring.perturbed` since that module
    exists (such runs got new identities then, :mod:`repro.train.run_identity`)."""
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(SensitivityHook.__init__).parameters.items()}

    def get(key):
        return hook_cfg.get(key, defaults[key])

    return bool(_method_of(hook_cfg.get("analysis")) == "none" or get("measure_levels") or get("num_refreshes")
                or get("final_refresh"))


@HOOKS.register_module()
class SensitivityHook(Hook):
    """Runs the sensitivity analysis and refreshes the sampling distribution during training.

    Parameters
    ----------
    types : perturbation set (``"all"``, ``"no_geo"``, ``"no_photo"`` or names).
    schedule_file : base path of the schedule file shared with ``SensitivityAugment``
        (``None``: ``<work_dir>/sia_schedule.json``).  A transform with ``schedule_file="auto"``
        (its default) finds it by itself: the hook announces itself when the runner builds it and
        says in ``before_run`` which file it writes (:mod:`repro.train.channel`).
    run_id : written into the schedule file (see :mod:`repro.train.channel`); ``None``: the
        runner's experiment name.
    analysis : the analysis settings, :class:`repro.analysis.sensitivity.AnalysisSettings` or a dict of its fields
        (``method`` ``"adaptive"``/``"uniform"``/``"none"`` (``Ours~SA``: levels k/L, no analysis),
        ``num_levels`` L, ``tol``, ``budget``, ``batch_size`` (images per forward pass), ``border``,
        ``seed`` (subset draws, perturbation draws, KID subsets; independent of the training seed, so
        runs sharing a warm start share their first analysis), ``guard``...); ``None``: the defaults.
        The same object and names as :func:`repro.analysis.sensitivity.analyse` and the profiles' ``analysis:``.
    num_analyses, num_refreshes : events per run (4 and 8 in the paper).
    keep_analyses : run only these of the ``num_analyses`` analysis points (1-based, increasing; ``None``:
        all), keeping their places: ``num_analyses=4, keep_analyses=[1, 3]`` warms up for the first fifth and
        analyses at 1/5 and 3/5 of the run (:func:`event_iterations`).
    weighting, jitter : passed to :meth:`Distribution.from_analysis`.
    dataset : ``None`` (default): the config's own validation dataset (``val_dataloader.dataset``,
        its pipeline replaced by MMSegmentation's loading transforms); ``dict(name=..., split=...,
        root=None)`` of a shipped dataset (:func:`repro.data.load_dataset`); or an MMSeg dataset
        config (``dict(type=...)``, read with :class:`repro.train.datasets.MMSegSegDataset` at
        ``dataset_size``).  Its class count must equal the model's (``decode_head.num_classes``).
    subset : number of images (drawn once with ``subset_seed``) or a list of indices.
    dataset_size : (W, H) the analysis images are resized to (``None``: as stored; they must then
        share one size).
    extractor, extractor_weights : KID feature extractor: a name of :func:`repro.analysis.features.extractor`
        (``"auto"``, the default: the Inception file when it is found, else the offline default,
        saying which in one line; ``inception`` reads ``extractor_weights``), ``"conv-random"``
        (:func:`repro.analysis.features.extractor`'s cheapest offline stand-in) or ``"encoder"``: the frozen encoder of
        the model as it was before training (a warm start; :func:`repro.analysis.features.encoder_extractor`),
        read from the checkpoint ``extractor_weights`` when given (a resumed run), else taken
        from the model at ``before_train`` of a fresh run.
    restore_rng : keep the torch RNG stream of training steps independent of in-between work: the
        CPU generator's state and, when CUDA is available and initialised, every CUDA device's
        generator state are saved after each training step, restored before the next one and
        stored in checkpoints (``rng_state``, ``cuda_rng_state``; checkpoints without the CUDA
        state, written before it was recorded, still load).
    measure_levels : after an analysis, measure the mIoU at the chosen levels (N·L model
        evaluations, like a refresh; default) instead of using the analysis' values, which are
        interpolated between the points the analysis evaluated.
    analyse_at_start : first analysis before the first training step (a warm-started run), see
        :func:`event_iterations`.
    final_refresh : refresh after the last iteration too (it only reports the final distribution).
    refresh_subset : refreshes (and the measurement after an analysis) use the first this many
        images of the analysis subset (``None``: all).
    cache_events : store each event's result under ``<cache>/sia_events`` keyed by the model's
        weights and every setting; an identical event (e.g. the first analysis of every run
        that starts from the same warm start) is then read instead of recomputed. The history
        records both the run's own time (``time_s``) and the computation's (``compute_s``).
    shard : in distributed training, split each event's types between the ranks (``True``, the
        default) or let rank 0 compute everything while the others wait in a broadcast
        (``False``; an event then has to end within the process group's timeout, 30 min by
        default).  No effect in a single process.
    """

    priority = "NORMAL"  # before CheckpointHook (VERY_LOW): a checkpoint holds the refreshed state

    def __init__(self, types: str | Sequence[str] = "all", schedule_file: str | None = None,
                 run_id: str | None = None, analysis: AnalysisSettings | Mapping[str, Any] | None = None,
                 num_analyses: int = 4, num_refreshes: int = 8, keep_analyses: Sequence[int] | None = None,
                 weighting: str = "accuracy",
                 jitter: float = 0.1, dataset: Mapping[str, Any] | None = None, subset: int | Sequence[int] = 8,
                 subset_seed: int = 0, dataset_size: Sequence[int] | None = None,
                 extractor: str = "auto", extractor_weights: str | None = None,
                 restore_rng: bool = True, measure_levels: bool = True, analyse_at_start: bool = False,
                 final_refresh: bool = True, refresh_subset: int | None = None,
                 cache_events: bool = False, shard: bool = True, **unknown):
        if unknown:
            moved = [f"{k} is analysis=dict({LEGACY_ANALYSIS_ARGS[k]}=...)" for k in unknown if k in LEGACY_ANALYSIS_ARGS]
            raise TypeError(f"SensitivityHook got unknown argument(s) {', '.join(sorted(unknown))}"
                            + (f" ({'; '.join(moved)}: repro.analysis.sensitivity.AnalysisSettings)" if moved else ""))
        if isinstance(analysis, str):
            raise TypeError(f"SensitivityHook: analysis must be a dict of repro.analysis.sensitivity.AnalysisSettings fields "
                            f"(e.g. dict(method={analysis!r})), an AnalysisSettings or None, got the string {analysis!r}")
        if not isinstance(shard, bool):
            raise TypeError(f"SensitivityHook: shard must be True or False, got {shard!r}")
        settings = AnalysisSettings.of(analysis)
        if num_analyses < 1 or num_refreshes < 0:
            raise ValueError("num_analyses must be >= 1 and num_refreshes >= 0")
        if weighting not in ("accuracy", "rank"):
            raise ValueError(f"weighting must be 'accuracy' or 'rank', got {weighting!r}")
        if isinstance(subset, int) and not isinstance(subset, bool) and subset < 2:
            raise ValueError(f"subset must hold at least 2 images (KID needs 2 samples), got {subset!r}")
        check_int(refresh_subset, "refresh_subset", 1, optional=True)
        if extractor == "encoder" and settings.method == "none":
            extractor = "conv-random"  # no analysis, no KID: nothing to build
        self.types = resolve_types(types)
        self.schedule_file = schedule_file
        self.run_id = run_id
        self.settings = settings
        self.num_analyses = num_analyses
        self.keep_analyses = None if keep_analyses is None else list(keep_analyses)
        event_iterations(max(1, num_analyses + 1), num_analyses, 0, keep=self.keep_analyses)  # a bad keep fails here
        self.num_refreshes = num_refreshes
        self.weighting = weighting
        self.jitter = float(jitter)
        if dataset is not None and not isinstance(dataset, Mapping):
            raise TypeError(f"SensitivityHook: dataset must be None, dict(name=..., split=...) or an MMSeg dataset "
                            f"config dict(type=...), got {type(dataset).__name__}")
        self.dataset_cfg = None if dataset is None else _plain(dataset)
        self.subset = subset
        self.subset_seed = int(subset_seed)
        self.dataset_size = tuple(dataset_size) if dataset_size is not None else None
        self.extractor_name = extractor
        self.extractor_weights = extractor_weights
        self.restore_rng = bool(restore_rng)
        self.measure_levels = bool(measure_levels)
        self.analyse_at_start = bool(analyse_at_start)
        self.final_refresh = bool(final_refresh)
        self.refresh_subset = refresh_subset
        self.cache_events = bool(cache_events)
        self.shard = shard
        self._clean_features: torch.Tensor | None = None
        # state
        self.levels: dict[str, list[float]] | None = None
        self.distribution: Distribution = Distribution.uniform(self.types)
        self.schedule: list[dict] = [dict(from_iter=0, distribution=self.distribution.to_dict())]
        self.history: list[dict] = []
        self._rng_state: torch.Tensor | None = None
        self._cuda_rng_state: list[torch.Tensor] | None = None
        self._data = None
        self._indices: list[int] | None = None
        self._extractor = None
        self._events: tuple[list[int], list[int]] = ([], [])
        self._batch_size = 1
        self._path: Path | None = None
        self._run_id: str | None = run_id
        # tell SensitivityAugment(schedule_file="auto") of the runner being built that it has a hook
        announce(current_experiment())

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Levels, distribution, schedule and history as plain Python types."""
        return dict(version=1, levels=self.levels, distribution=self.distribution.to_dict(),
                    schedule=self.schedule, history=self.history,
                    rng_state=None if self._rng_state is None else self._rng_state.clone(),
                    # a list of uint8 tensors (one per CUDA device): loadable with weights_only=True
                    cuda_rng_state=None if self._cuda_rng_state is None
                    else [t.clone() for t in self._cuda_rng_state])

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("version") != 1:
            raise ValueError("unknown SensitivityHook state (expected version 1)")
        self.levels = None if state["levels"] is None else {k: list(v) for k, v in state["levels"].items()}
        self.distribution = Distribution.from_dict(state["distribution"])
        self.schedule = [dict(e) for e in state["schedule"]]
        self.history = [dict(e) for e in state["history"]]
        # on the CPU: mmengine's resume maps a checkpoint's tensors to the GPU, the generators want CPU bytes
        rng = state.get("rng_state")
        self._rng_state = None if rng is None else torch.as_tensor(rng).cpu()
        cuda = state.get("cuda_rng_state")  # absent in checkpoints written before it was recorded
        self._cuda_rng_state = None if cuda is None else [torch.as_tensor(t).cpu() for t in cuda]

    # ------------------------------------------------------------------ helpers
    def _publish(self, runner, current_iter: int, pending: bool = False) -> None:
        """Write the schedule; ``pending``: an event at ``current_iter`` itself is still to come."""
        later = [i for i in sorted(set(self._events[0]) | set(self._events[1])) if i > current_iter]
        valid_until = current_iter if pending else (later[0] if later and later[0] < runner.max_iters else FOREVER)
        write_schedule(self._path, run_id=self._run_id, batch_size=self._batch_size, valid_until=valid_until,
                       schedule=self.schedule)

    def _load_data(self, num_classes: int | None = None):
        if self._data is not None:
            return self._data
        if self.dataset_cfg is None:
            raise ValueError("SensitivityHook: no analysis dataset (dataset=None and no val_dataloader.dataset in "
                             "the config); pass SensitivityHook(dataset=dict(type=..., data_root=..., data_prefix=...))")
        cfg = dict(self.dataset_cfg)
        if "type" in cfg:
            from repro.train.datasets import MMSegSegDataset

            ds = MMSegSegDataset(cfg, size=self.dataset_size)
            where = f"{cfg['type']}({cfg.get('data_root', '')!s})"
        else:
            from repro.data import load_dataset

            ds = load_dataset(cfg["name"], cfg.get("split", "val"), root=cfg.get("root"))
            where = f"{cfg['name']}/{cfg.get('split', 'val')}"
        if num_classes is not None and int(ds.num_classes) != int(num_classes):
            raise ValueError(f"SensitivityHook: the model predicts {num_classes} classes but the analysis dataset "
                             f"{where} has {ds.num_classes}; set SensitivityHook(dataset=...) to the validation "
                             "split of the data the model is trained on")
        if isinstance(self.subset, int):
            n = min(self.subset, len(ds))
            idx = np.sort(np.random.default_rng(self.subset_seed).choice(len(ds), n, replace=False)).tolist()
        else:
            idx = [int(i) for i in self.subset]
        images, labels = ds.batch(idx)
        if self.dataset_size is not None and tuple(images.shape[-2:]) != (self.dataset_size[1], self.dataset_size[0]):
            size = (int(self.dataset_size[1]), int(self.dataset_size[0]))
            images = torch.nn.functional.interpolate(images, size=size, mode="bilinear", align_corners=False,
                                                     antialias=True).clamp_(0, 1)
            labels = torch.nn.functional.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()
        self._ds, self._indices, self._data = ds, idx, (images, labels)
        return self._data

    def _event_key(self, model, kind: str, at_iter: int) -> dict:
        from repro.base.hashing import state_hash

        # version 2: events that measure mIoU at levels (evaluate_levels) draw by repro.scoring.perturbed's seed rule
        measured = not (kind == "analysis" and self.settings.method != "none" and not self.measure_levels)
        return dict(version=2 if measured else 1, kind=kind, iter=at_iter, model=state_hash(model), types=list(self.types),
                    analysis=self.settings.method, num_levels=self.settings.num_levels, weighting=self.weighting, jitter=self.jitter,
                    dataset=self.dataset_cfg, subset=self.subset, subset_seed=self.subset_seed,
                    dataset_size=self.dataset_size,
                    extractor=self._extractor.tag if kind == "analysis" and self._extractor is not None else None,
                    tol=self.settings.tol, max_evals=self.settings.budget, border=self.settings.border, seed=self.settings.seed,
                    measure_levels=self.measure_levels, refresh_subset=self.refresh_subset, guard=self.settings.guard,
                    levels=self.levels if kind == "refresh" else None)

    def _event_payload(self, runner, kind: str, at_iter: int) -> dict:
        """Compute (or, with ``cache_events``, read) an event's result (rank 0 only)."""
        model = _unwrap(runner.model)
        if kind == "analysis" and self.settings.method != "none":
            self._ensure_extractor(runner, next(model.parameters()).device)
        if not self.cache_events:
            return self._compute_payload(runner, kind, at_iter)
        from repro.base.cache import cached

        t0 = time.perf_counter()
        ran = []

        def compute():
            ran.append(True)
            return self._compute_payload(runner, kind, at_iter)

        payload = dict(cached("sia_events", self._event_key(model, kind, at_iter), compute))
        payload["cached"] = not ran
        payload["time_s"] = time.perf_counter() - t0
        return payload

    def _compute_payload(self, runner, kind: str, at_iter: int, types: Sequence[str] | None = None) -> dict:
        """The event's result for ``types`` (``None``: all of :attr:`types`; a rank's shard otherwise, whose
        partial result has no distribution: :func:`merge_payloads` builds it from all the shards)."""
        partial = types is not None
        types = list(self.types) if types is None else [t for t in self.types if t in set(types)]
        model = _unwrap(runner.model)
        was_training = model.training
        model.eval()
        num_classes = int(model.decode_head.num_classes)
        images, labels = self._load_data(num_classes)
        dev = next(model.parameters()).device
        images, labels = images.to(dev), labels.to(dev)
        n_ref = images.shape[0] if self.refresh_subset is None else min(self.refresh_subset, images.shape[0])
        ref_images, ref_labels = images[:n_ref], labels[:n_ref]
        t0 = time.perf_counter()
        analysis_table = None
        if not types:  # a rank without a type (more ranks than types): nothing to compute
            return dict(kind=kind, iter=at_iter, time_s=0.0, compute_s=0.0, cached=False, levels={},
                        clean_miou=math.nan, table=[], distribution=None, analysis=None, analysis_points=None,
                        n_evaluations=None, flags={}, extractor=None)
        try:
            with torch.no_grad():
                if kind == "analysis" and self.settings.method != "none":
                    analysis_table = self._analyse(model, dev, images, labels, num_classes, types)
                    clean = float(analysis_table.attrs["clean_miou"])
                    levels = {t: [float(a) for a in g.sort_values("level")["alpha"]]
                              for t, g in analysis_table.groupby("type", sort=False) if t in types}
                    if self.measure_levels:
                        # a level the analysis evaluated, on the same images, is not evaluated again (its mIoU is
                        # that evaluation's, bit for bit, for the types whose perturbation draws nothing)
                        same = n_ref == images.shape[0]
                        known: dict[str, dict[float, float]] = {}
                        for p in (analysis_table.attrs.get("points") or []) if same else []:
                            if p.get("counted"):
                                known.setdefault(p["type"], {})[float(p["alpha"])] = float(p["miou"])
                        table, clean = evaluate_levels(model, ref_images, ref_labels, levels, num_classes=num_classes,
                                                       batch_size=self.settings.batch_size, border=self.settings.border,
                                                       seed=self.settings.seed + at_iter, known=known,
                                                       clean=clean if same else None)
                    else:  # mIoU at the levels from the analysis (interpolated between evaluated points)
                        table = analysis_table[["type", "level", "alpha", "miou"]].copy()
                else:
                    levels = {t: self.levels[t] for t in types} if kind == "refresh" else {
                        t: [k / self.settings.num_levels for k in range(1, self.settings.num_levels + 1)] for t in types}
                    table, clean = evaluate_levels(model, ref_images, ref_labels, levels, num_classes=num_classes,
                                                   batch_size=self.settings.batch_size, border=self.settings.border,
                                                   seed=self.settings.seed + at_iter)
        finally:
            if was_training:
                model.train()
        dist = None if partial else Distribution.from_analysis(table, weighting=self.weighting, types=list(levels),
                                                               jitter=self.jitter)
        elapsed = time.perf_counter() - t0
        flags = {} if analysis_table is None else dict(analysis_table.attrs.get("flags") or {})
        if flags:
            runner.logger.warning(f"[SIA] degenerate sensitivity curves at iteration {at_iter} (mIoU in points, "
                                  "0-100), uniform levels used: "
                                  + "; ".join(f"{t} ({why})" for t, why in flags.items()))
        return dict(kind=kind, iter=at_iter, time_s=elapsed, compute_s=elapsed, cached=False, levels=levels,
                    clean_miou=clean, table=_records(table), distribution=None if dist is None else dist.to_dict(),
                    analysis=None if analysis_table is None else _records(analysis_table),
                    analysis_points=None if analysis_table is None else analysis_table.attrs.get("points"),
                    n_evaluations=None if analysis_table is None else analysis_table.attrs.get("n_evaluations"),
                    flags=flags, extractor=None if analysis_table is None else analysis_table.attrs.get("extractor"))

    def _ensure_extractor(self, runner, device) -> None:
        """Build the KID extractor once per run (``encoder``: from the initial weights)."""
        if self._extractor is not None:
            return
        from repro.analysis import features

        if self.extractor_name in ("inception", "auto"):
            ext = features.extractor(self.extractor_name, weights=self.extractor_weights, device=device)
        elif self.extractor_name == "encoder":
            model = _unwrap(runner.model)
            if self.extractor_weights:
                import copy

                from repro.train.checkpoint import trusted_checkpoints

                with trusted_checkpoints():
                    ck = torch.load(self.extractor_weights, map_location="cpu", weights_only=True)
                model = copy.deepcopy(model)
                model.load_state_dict(ck.get("state_dict", ck))
            elif runner.iter != 0:
                raise ValueError("SensitivityHook(extractor='encoder') in a resumed run needs extractor_weights: the "
                                 "checkpoint of the warm start whose encoder gives the KID features")
            name = init_encoder_name(runner.cfg.get("model_name", type(model).__name__),
                                     runner.cfg.get("dataset_name", "data"))
            ext = features.encoder_extractor(model, name=name, device=device)
        else:  # also "conv-random", the cheapest offline stand-in
            ext = features.extractor(self.extractor_name, device=device)
        self._extractor = _memoise(ext)

    def _analyse(self, model, device, images, labels, num_classes, types: Sequence[str]) -> pd.DataFrame:
        from repro.analysis import sensitivity

        if self._clean_features is None:  # the subset is fixed: clean features once per run
            self._clean_features = torch.cat([self._extractor(images[s:s + self.settings.batch_size]).cpu()
                                              for s in range(0, images.shape[0], self.settings.batch_size)])
        # cached per type (with cache_events): runs from one warm start share their first analysis with each
        # other, with their ablations (a subset of the types) and with notebook 03 (the same settings)
        return sensitivity.analyse(
            model, (images, labels), list(types), settings=self.settings, extractor=self._extractor, device=device,
            cache=self.cache_events, clean_features=self._clean_features, num_classes=num_classes, progress=False,
            warn=False)

    def _apply_payload(self, runner, payload: dict) -> None:
        if payload["kind"] == "analysis":
            runner.logger.info(analysis_data_message(
                payload["iter"], self.dataset_cfg, getattr(self, "_ds", None),
                None if self._indices is None else len(self._indices),
                self.subset, self.dataset_size))
        self.levels = {k: list(v) for k, v in payload["levels"].items()}
        self.distribution = Distribution.from_dict(payload["distribution"])
        at = payload["iter"]
        self.schedule = [e for e in self.schedule if e["from_iter"] < at] + [
            dict(from_iter=at, distribution=payload["distribution"])]
        self.history.append(payload)
        self._publish(runner, at)
        self._log(runner, payload)

    def _log(self, runner, payload: dict) -> None:
        dist = Distribution.from_dict(payload["distribution"])
        mass = dist.type_mass()
        probs = dist.probabilities
        lv = "; ".join(f"{t}: " + ",".join(f"{a:.2f}" for a in al) for t, al in payload["levels"].items())
        tab = pd.DataFrame(payload["table"])
        runner.logger.info(
            f"[SIA] {payload['kind']} at iter {payload['iter']} ({payload['time_s']:.1f} s): clean mIoU "
            f"{payload['clean_miou']:.2f}, mean perturbed mIoU {float(tab['miou'].mean()):.2f}, "
            f"p(clean)={float(mass.get('clean', 0)):.3f}" + (f"; levels {lv}" if payload["kind"] == "analysis" else ""))
        scalars = {"sia/event_time_s": payload["time_s"], "sia/clean_miou": payload["clean_miou"],
                   f"sia/{payload['kind']}_time_s": payload["time_s"]}
        for t, g in tab.groupby("type", sort=False):
            scalars[f"sia/miou/{t}"] = float(g["miou"].mean())
            pt = probs[probs["type"] == t]
            # probability-weighted mean magnitude drawn for this type
            scalars[f"sia/mean_level/{t}"] = float((pt["alpha"] * pt["p"]).sum() / max(pt["p"].sum(), 1e-12))
        runner.message_hub.update_scalar(f"sia/{payload['kind']}_time_s", payload["time_s"])
        if runner.visualizer is not None:
            runner.visualizer.add_scalars(scalars, step=payload["iter"])
        if get_rank() == 0:
            out = Path(runner.work_dir) / "sia_history.json"
            tmp = out.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(dict(types=list(self.types), analysis=self.settings.method, history=self.history)))
            os.replace(tmp, out)

    # ------------------------------------------------------------------ hook points
    def before_run(self, runner) -> None:
        base = self.schedule_file or os.path.join(runner.work_dir, "sia_schedule.json")
        self._path = schedule_path(base, get_rank())
        self._run_id = self.run_id if self.run_id is not None else runner.experiment_name
        if self.dataset_cfg is None:  # the config's own validation data
            val = (runner.cfg.get("val_dataloader") or {}).get("dataset")
            if val is not None:
                self.dataset_cfg = _plain(val)
                self.dataset_cfg.pop("pipeline", None)
        write_pointer(runner.experiment_name, base, self._run_id)
        dl = runner.train_dataloader
        self._batch_size = int(getattr(dl, "batch_size", None) or 1)
        self._events = event_iterations(int(runner.max_iters), self.num_analyses, self.num_refreshes,
                                        at_start=self.analyse_at_start, final_refresh=self.final_refresh,
                                        keep=self.keep_analyses)
        # an analysis at iteration 0 comes in before_train: until then the workers wait
        self._publish(runner, 0, pending=0 in self._events[0])

    def after_run(self, runner) -> None:
        remove_pointer(runner.experiment_name)
        retire(runner.experiment_name)  # a transform used after the run (same process) no longer waits for it

    def before_train(self, runner) -> None:
        if 0 in self._events[0] and not any(e["iter"] == 0 for e in self.history):
            self._event(runner, "analysis", 0)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get("sia_state")
        if state is None or not getattr(runner, "_resume", False):
            return
        self.load_state_dict(state)
        if self._path is not None:
            self._publish(runner, int(checkpoint["meta"]["iter"]))
        runner.logger.info(f"[SIA] restored {len(self.history)} events from the checkpoint "
                           f"(iteration {checkpoint['meta']['iter']})")

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint["sia_state"] = self.state_dict()

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.restore_rng and self._rng_state is not None:
            torch.set_rng_state(self._rng_state)
        if self.restore_rng and self._cuda_rng_state is not None and _cuda_ready():
            # a checkpoint from a machine with another device count: restore what matches, by device index
            if len(self._cuda_rng_state) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(self._cuda_rng_state)
            else:
                for i, st in enumerate(self._cuda_rng_state[:torch.cuda.device_count()]):
                    torch.cuda.set_rng_state(st, i)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.restore_rng:
            self._rng_state = torch.get_rng_state()
            if _cuda_ready():
                self._cuda_rng_state = list(torch.cuda.get_rng_state_all())
        done = runner.iter + 1
        analyses, refreshes = self._events
        if done not in analyses and done not in refreshes:
            return
        kind = "analysis" if done in analyses else ("refresh" if self.levels is not None else None)
        if kind is None:  # a refresh during warm-up: nothing to refresh, but the schedule moves on
            self._publish(runner, done)
            return
        self._event(runner, kind, done)

    #: training labels read at the first analysis (:meth:`_check_training_labels`)
    LABEL_SAMPLE = 8
    _labels_checked = False

    def _check_training_labels(self, runner) -> None:
        """Before the first analysis: refuse a run whose training labels hold only background (0)
        and the ignore index, e.g. 0/255 binary masks read without ``label_map={255: 1}``.

        Reads :attr:`LABEL_SAMPLE` labels of ``runner.train_dataloader.dataset`` (indices drawn
        without replacement by ``numpy.random.default_rng(subset_seed)``) as training sees them
        (MMSegmentation's ``LoadAnnotations``: ``label_map``, ``reduce_zero_label``) and applies
        :func:`repro.data.ignore_only` to the values of all of them together; raises
        :class:`repro.data.DataError` (one line naming a file, the dataset and the fix)."""
        from repro import data as rdata
        from repro.base import paths

        self._labels_checked = True
        ds = getattr(getattr(runner, "train_dataloader", None), "dataset", None)
        if ds is None or not hasattr(ds, "get_data_info") or len(ds) == 0:
            return
        from mmseg.datasets.transforms import LoadAnnotations

        idx = np.sort(np.random.default_rng(self.subset_seed).choice(len(ds), min(self.LABEL_SAMPLE, len(ds)),
                                                                     replace=False))
        values: set[int] = set()
        files = []
        for i in idx.tolist():
            info = dict(ds.get_data_info(i))
            if not info.get("seg_map_path"):
                continue
            info.setdefault("seg_fields", [])
            info.setdefault("reduce_zero_label", False)
            values |= set(np.unique(LoadAnnotations()(info)["gt_seg_map"]).tolist())
            files.append(info["seg_map_path"])
        inner = getattr(ds, "dataset", ds)  # RepeatDataset & co.
        root = getattr(ds, "data_root", None) or getattr(inner, "data_root", None)
        where = f"the training dataset {type(ds).__name__}" + (f" at {paths.relpath(root)}" if root else "")
        classes = (getattr(ds, "metainfo", None) or {}).get("classes")
        rdata.refuse_ignore_only_labels(values, files, where=where, classes=classes,
                                        ignore_index=int(getattr(ds, "ignore_index", rdata.IGNORE_INDEX)),
                                        what="the sampled labels", prefix="SensitivityHook: ",
                                        training=True)

    def _event(self, runner, kind: str, done: int) -> None:
        if kind == "analysis" and not self._labels_checked:
            self._check_training_labels(runner)
        world = get_world_size()
        if world > 1 and self.shard:
            payload = self._sharded_payload(runner, kind, done, get_rank(), world)
        else:
            payload = self._event_payload(runner, kind, done) if get_rank() == 0 else None
            if world > 1:
                box = [payload]
                broadcast_object_list(box, src=0)
                payload = box[0]
        self._apply_payload(runner, payload)

    def _sharded_payload(self, runner, kind: str, at_iter: int, rank: int, world: int) -> dict:
        """The event computed by all ranks, each on its :func:`shard_types`; identical on every rank."""
        t0 = time.perf_counter()
        model = _unwrap(runner.model)
        if kind == "analysis" and self.settings.method != "none":
            self._ensure_extractor(runner, next(model.parameters()).device)
        key = self._event_key(model, kind, at_iter) if self.cache_events else None
        hit = [None]
        if key is not None:  # rank 0 looks the event up; a hit is sent to every rank, nothing is computed
            from repro.base.cache import cached, entry_path

            if rank == 0 and entry_path("sia_events", key).exists():
                hit = [dict(cached("sia_events", key, lambda: None))]
            broadcast_object_list(hit, src=0)
        if hit[0] is not None:
            payload = dict(hit[0])
            payload["cached"] = True
        else:
            part = self._compute_payload(runner, kind, at_iter, shard_types(self.types, rank, world))
            parts = all_gather_object(part)
            payload = merge_payloads(parts, self.types, weighting=self.weighting, jitter=self.jitter)
            if key is not None and rank == 0:
                from repro.base.cache import cached

                cached("sia_events", key, lambda: payload, force=True)
        payload["time_s"] = time.perf_counter() - t0
        if world > 1:  # one wall time for the history of every rank: rank 0's
            box = [payload["time_s"]]
            broadcast_object_list(box, src=0)
            payload["time_s"] = box[0]
        return payload
