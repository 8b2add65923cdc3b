"""The experiment grid behind notebooks 05–09: train (cached) and score (cached) every run.

A *run* is one ``repro.train.run`` call: (dataset, model, method, seed) at a profile. Runs are
cached by their full config (``<cache>/runs/<hash>``); suite scores of a run are cached by
(run hash, suite, evaluation settings) under ``<cache>/scores``. Re-running a notebook therefore
only assembles tables.

Seeds: the methods that carry the paper's claims (:data:`CLAIM_METHODS`) run with every seed of
``seeds``; the others (the policy baselines) with the first seed only.
"""
from __future__ import annotations

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


def train_runs(runs: Sequence[Mapping], *, profile: str, iters: int | None = None, force: bool = False,
               progress: bool = True) -> pd.DataFrame:
    """Train (or load) every run; one row per run with its results (see ``repro.train.RESULT_KEYS``)."""
    from tqdm.auto import tqdm

    import repro.train as T

    rows = []
    bar = tqdm(runs, desc=f"training ({profile})", disable=not progress)
    for r in bar:
        bar.set_postfix_str(f"{r['model']}/{r['method']}/seed{r['seed']}")
        kw = dict(model=r["model"], method=r["method"], dataset=r["dataset"], profile=profile, seed=int(r["seed"]))
        if iters:
            kw["iters"] = int(iters)
        t0 = time.perf_counter()
        res = T.run(kw, force=force)
        rows.append({**r, "config_hash": res["config_hash"], "run_dir": res["run_dir"],
                     "train_time_s": res.get("train_time_s"), "analysis_share": res.get("analysis_share"),
                     "wall_s": time.perf_counter() - t0, "result": res})
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
    from tqdm.auto import tqdm

    import numpy as np

    import repro.train as T

    from .data import load_dataset
    from .evaluate import evaluate

    subsets = dict(subsets or {})
    suite_options = {k: dict(v) for k, v in (suite_options or {}).items()}
    frames = []
    bar = tqdm(list(runs.iterrows()), desc="scoring", disable=not progress)
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
