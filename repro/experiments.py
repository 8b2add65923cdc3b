"""The experiment grid behind notebooks 05–09: train (cached) and score (cached) every run.

A *run* is one ``repro.train.run`` call: (dataset, model, method, seed) at a profile. Runs are
cached by their full config (``<cache>/runs/<hash>``); suite scores of a run are cached by
(run hash, suite, evaluation settings) under ``<cache>/scores``. Re-running a notebook therefore
only assembles tables.

Seeds: the methods that carry the paper's claims (:data:`CLAIM_METHODS`) run with every seed of
``seeds``; the others (the policy baselines) with the first seed only.
"""
from __future__ import annotations

import os
import time
from typing import Mapping, Sequence

import pandas as pd

from . import cache
from .report import SCORE_COLUMNS

CLAIM_METHODS = ("baseline", "sota", "ours", "ours_no_sa", "ours_no_geo", "ours_no_photo")
#: evaluation-set names of the shipped datasets (clean test split and real-world split)
TEST_SPLIT = {"camvid": "test", "isbi2012_em": "test"}
REAL_WORLD_SPLIT = {"camvid": "test_dusk"}


def plan(models: Sequence[str], methods: Sequence[str], seeds: Sequence[int], dataset: str = "camvid", *,
         model_seeds: Mapping[str, Sequence[int]] | None = None) -> list[dict]:
    """The list of runs (dicts of dataset, model, method, seed) for a grid.

    Claim methods run with every seed of ``seeds``, the others with its first; ``model_seeds``
    overrides ``seeds`` for a model (e.g. ``{"pspnet_r18": [0]}`` where a model is too slow for
    several seeds).
    """
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    out = []
    for model in models:
        mseeds = list((model_seeds or {}).get(model) or seeds)
        for method in methods:
            for seed in (mseeds if method in CLAIM_METHODS else mseeds[:1]):
                out.append({"dataset": dataset, "model": model, "method": method, "seed": int(seed)})
    return out


def baseline_run(model: str, dataset: str = "camvid", *, profile: str) -> dict:
    """Results of the protocol's Baseline model of ``model`` on ``dataset``: the profile's shared
    warm start when it has one (``cpu``: trained once with the baseline pipeline and cached; every
    method fine-tunes from it, see ``repro.train.build_config(warm_start=...)``), else the
    Baseline run itself (seed 0)."""
    import repro.train as T

    cfg = T.build_config(model=model, method="baseline", dataset=dataset, profile=profile)
    return T.run(T.build_config(**cfg.warm_start["args"]) if cfg.get("warm_start") else cfg)


def baseline_model(model: str, dataset: str = "camvid", *, profile: str):
    """``(segmentor, results)``: the model of :func:`baseline_run`, loaded in eval mode."""
    import repro.train as T

    res = baseline_run(model, dataset, profile=profile)
    return T.load_model(res), res


def kid_extractor(segmentor, model: str, dataset: str = "camvid"):
    """The offline KID extractor of the ``cpu`` protocol: the frozen encoder of ``segmentor`` (the
    warm start), pooled over a 3×4 grid, named as the training hook names it (the warm start is
    the fine-tunes' initial model)."""
    from .features import encoder_extractor
    from .train.hooks import init_encoder_name

    return encoder_extractor(segmentor, name=init_encoder_name(model, dataset))


def offline_extractor(name: str, *, model: str, dataset: str = "camvid", profile: str):
    """A KID extractor by profile name: ``"warm-start"`` (:func:`kid_extractor` of the protocol's
    Baseline model, :func:`baseline_model`), ``"conv-random"`` (:func:`repro.sensitivity.random_conv_extractor`)
    or any name of :func:`repro.features.extractor` (``inception``, ``resnet18-random``, ...)."""
    if name == "warm-start":
        segmentor, _ = baseline_model(model, dataset, profile=profile)
        return kid_extractor(segmentor, model, dataset)
    from .sensitivity import make_extractor

    return make_extractor(name)


def extractor_check(names, *, model: str, profile: str, n_images: int = 32, seed: int = 0,
                    types=None, magnitudes=(0.2, 0.4, 0.6, 0.8, 1.0)):
    """Which offline KID extractors see every basis perturbation (:mod:`repro.extractor_check`)?

    ``names``: extractor names of :func:`offline_extractor`; measured on ``n_images`` CamVid val
    images drawn with ``numpy.random.default_rng(seed)``. Returns ``(response, acceptance)``.
    """
    import numpy as np

    from . import extractor_check as ec
    from .data import load_dataset

    val = load_dataset("camvid", "val")
    idx = np.sort(np.random.default_rng(seed).choice(len(val), min(n_images, len(val)), replace=False)).tolist()
    images, labels = val.batch(idx)
    frames = [ec.perturbation_response(offline_extractor(n, model=model, profile=profile), images, types,
                                       labels=labels, magnitudes=magnitudes, seed=seed) for n in names]
    response = pd.concat(frames, ignore_index=True)
    response.attrs.update(frames[0].attrs)
    return response, ec.acceptance(response)


def _run_args(r: Mapping, profile: str, iters: int | None) -> dict:
    kw = dict(model=r["model"], method=r["method"], dataset=r["dataset"], profile=profile, seed=int(r["seed"]))
    if iters:
        kw["iters"] = int(iters)
    return kw


def default_jobs() -> int:
    """Runs trained side by side by :func:`train_runs`: ``$REPRO_TRAIN_JOBS``, else 2 on a CPU-only
    machine with at least 2 cores (one thread each: measured 0.74 of the wall time of one run at a
    time with two threads, benchmarks/results/bench_parallel_runs.md), else 1."""
    env = os.environ.get("REPRO_TRAIN_JOBS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"REPRO_TRAIN_JOBS must be a positive integer, got {env!r}")
        return int(env)
    import torch

    return 2 if (os.cpu_count() or 1) >= 2 and not torch.cuda.is_available() else 1


def _run_side_by_side(kws: Sequence[dict], jobs: int, progress: bool) -> dict[int, float]:
    """Train the runs ``kws`` (``repro.train.run`` arguments) in ``jobs`` worker processes at a time,
    each with ``cores // jobs`` threads; returns each run's wall time (s) by position."""
    import json
    import subprocess
    import sys

    from tqdm import tqdm

    from .progress import disabled

    from . import paths

    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           "REPRO_CACHE_DIR": str(paths.CACHE_DIR)}
    code = "import json, sys; import repro.train as T; T.run(json.loads(sys.argv[1]))"
    logs = paths.CACHE_DIR / "runs" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pending, active, walls = list(enumerate(kws)), {}, {}
    bar = tqdm(total=len(kws), desc=f"training side by side ({jobs} at a time)", disable=disabled(progress))
    while pending or active:
        while pending and len(active) < jobs:
            i, kw = pending.pop(0)
            log = logs / f"{kw['model']}_{kw['method']}_{kw['dataset']}_s{kw['seed']}.log"
            fh = log.open("w")
            active[i] = (subprocess.Popen([sys.executable, "-c", code, json.dumps(kw)], env=env, stdout=fh,
                                          stderr=subprocess.STDOUT, cwd=str(paths.REPO_ROOT)),
                         time.perf_counter(), fh, log, kw)
        time.sleep(0.5)
        for i, (proc, t0, fh, log, kw) in list(active.items()):
            if proc.poll() is None:
                continue
            fh.close()
            del active[i]
            if proc.returncode != 0:
                for p, *_ in active.values():
                    p.kill()
                tail = log.read_text()[-1500:]
                raise RuntimeError(f"training {kw['model']}/{kw['method']}/{kw['dataset']}/seed {kw['seed']} failed "
                                   f"(exit {proc.returncode}); log {paths.relpath(log)}:\n{tail}")
            walls[i] = time.perf_counter() - t0
            bar.update(1)
    bar.close()
    return walls


def train_runs(runs: Sequence[Mapping], *, profile: str, iters: int | None = None, force: bool = False,
               jobs: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Train (or load) every run; one row per run with its results (see ``repro.train.RESULT_KEYS``).

    Runs not yet in the cache train ``jobs`` at a time (default :func:`default_jobs`) in worker
    processes, after what they share (warm start, first analysis) has been computed once here
    (``repro.train.prepare``); ``jobs=1`` trains them one after the other in this process.
    ``wall_s``: the wall time of the run's own process (0 when it came from the cache).
    """
    from tqdm import tqdm
    from .progress import disabled

    import repro.train as T

    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    kws = [_run_args(r, profile, iters) for r in runs]
    walls: dict[int, float] = {}
    todo = [i for i, kw in enumerate(kws) if force or not T.is_done(kw)]
    if jobs > 1 and len(todo) > 1 and not force:
        for i in todo:
            T.prepare(kws[i])
        todo = [i for i in todo if not T.is_done(kws[i])]  # prepare() may have trained one (a warm start)
        if len(todo) > 1:
            walls.update({todo[k]: w for k, w in _run_side_by_side([kws[i] for i in todo], jobs, progress).items()})
    rows = []
    bar = tqdm(list(zip(runs, kws)), desc=f"training ({profile})", disable=disabled(progress))
    for i, (r, kw) in enumerate(bar):
        bar.set_postfix_str(f"{r['model']}/{r['method']}/seed{r['seed']}")
        t0 = time.perf_counter()
        res = T.run(kw, force=force)
        rows.append({**r, "config_hash": res["config_hash"], "run_dir": res["run_dir"],
                     "train_time_s": res.get("train_time_s"), "analysis_share": res.get("analysis_share"),
                     "wall_s": walls.get(i, time.perf_counter() - t0), "result": res})
    return pd.DataFrame(rows)


def clean_scores(runs: pd.DataFrame) -> pd.DataFrame:
    """Scores from the runs' own final evaluation (mmseg's IoUMetric on the clean test split and
    on the real-world split), as long-form score rows (suites ``clean`` and ``real_world``)."""
    rows = []
    for _, r in runs.iterrows():
        metrics = r["result"]["metrics"]
        for suite, split_map, item in (("clean", TEST_SPLIT, "clean"), ("real_world", REAL_WORLD_SPLIT, None)):
            split = split_map.get(r["dataset"])
            if split is None or split not in metrics:
                continue
            m = metrics[split]
            rows.append({"dataset": r["dataset"], "model": r["model"], "method": r["method"], "seed": r["seed"],
                         "suite": suite, "item": item or f"{r['dataset']}_dusk", "level": "",
                         "aAcc": m["aAcc"], "mAcc": m["mAcc"], "mIoU": m["mIoU"]})
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def score_runs(runs: pd.DataFrame, suites: Sequence[str], *, seed: int = 0, subsets: Mapping[str, int] | None = None,
               suite_options: Mapping[str, Mapping] | None = None, batch_size: int = 16, force: bool = False,
               progress: bool = True) -> pd.DataFrame:
    """Evaluate each run on ``suites`` with :func:`repro.evaluate.evaluate`; long-form scores.

    ``subsets`` maps a suite to the number of evaluation images (evenly spaced over the test
    split; 0 or missing = all). ``suite_options`` passes extra arguments per suite (e.g.
    ``{"imagenet_c": {"corruptions": ["fog"]}}``). ``real_world`` uses the dataset's real-world
    split. Cached per (run, suite, settings).
    """
    from tqdm import tqdm
    from .progress import disabled

    import numpy as np

    import repro.train as T

    from .data import load_dataset
    from .evaluate import evaluate

    subsets = dict(subsets or {})
    suite_options = {k: dict(v) for k, v in (suite_options or {}).items()}
    frames = []
    bar = tqdm(list(runs.iterrows()), desc="scoring", disable=disabled(progress))
    for _, r in bar:
        model = None
        for suite in suites:
            bar.set_postfix_str(f"{r['model']}/{r['method']}/seed{r['seed']}: {suite}")
            split = (REAL_WORLD_SPLIT if suite == "real_world" else TEST_SPLIT).get(r["dataset"])
            if split is None:
                continue
            ds = load_dataset(r["dataset"], split)
            n = int(subsets.get(suite) or 0)
            indices = None if n <= 0 or n >= len(ds) else np.linspace(0, len(ds) - 1, n).round().astype(int).tolist()
            opts = suite_options.get(suite, {})
            key = {"run": r["config_hash"], "suite": suite, "split": split, "indices": indices, "seed": int(seed),
                   "options": opts, "version": 1}

            def compute():
                nonlocal model
                if model is None:
                    model = T.load_model(r["result"])
                target = {f"{r['dataset']}_dusk": ds} if suite == "real_world" else ds
                res = evaluate(model, target, suite, seed=seed, indices=indices, batch_size=batch_size,
                               progress=False, **opts)
                return res.table

            table = cache.cached("scores", key, compute, force=force).copy()
            for col in ("dataset", "model", "method", "seed"):
                table[col] = r[col]
            frames.append(table)
    if not frames:
        return pd.DataFrame(columns=list(SCORE_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(SCORE_COLUMNS)]
