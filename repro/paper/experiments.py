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

from repro.base import cache
from repro.paper.tables import SCORE_COLUMNS
from repro.base.validation import is_int_pair

CLAIM_METHODS = ("baseline", "sota", "ours", "ours_no_sa", "ours_no_geo", "ours_no_photo")
#: evaluation-set names of the shipped datasets (clean test split and real-world split)
TEST_SPLIT = {"camvid": "test", "isbi2012_em": "test"}
REAL_WORLD_SPLIT = {"camvid": "test_dusk"}
#: what the ``real_world`` suite holds for models trained on a dataset (table captions)
REAL_WORLD_NAMES = {"camvid": "CamVid dusk", "cityscapes": "ACDC per condition and IDD val (where configured)"}
#: the seven datasets of the paper's Table 4, in its order (``t4_datasets`` of the ``paper`` profile)
TABLE4_DATASETS = ("ade20k", "voc2012", "potsdam", "loveda", "a2i2haze", "cityscapes", "synapse")


def available_datasets(names: Sequence[str], *, profile: str, environ: Mapping[str, str] | None = None,
                       verbose: bool = True) -> tuple[list[str], dict[str, str]]:
    """Which of ``names`` can be used here: ``(available, skipped)``.

    The shipped datasets (``camvid``, ``isbi2012_em``) are always available. A paper dataset is
    available when its folder is configured and exists: ``$REPRO_<NAME>_ROOT``, else
    ``$REPRO_DATA_ROOT/<name>`` (:func:`repro.train.datasets.configured_data_root`); its layout is
    checked later, by the run. ``skipped`` maps each other name, in the order given, to one line
    naming the variable that would enable it (printed when ``verbose``), so that a table can say
    which rows are missing. ``profile`` (``smoke``, ``cpu``, ``paper``) is named in the lines.
    Nothing is skipped for the shipped datasets, so ``cpu``/``smoke`` grids are unchanged.
    """
    from pathlib import Path

    from repro.data import SHIPPED
    from repro.train.config import DATASETS, PROFILES
    from repro.train.datasets import DATA_ROOT_ENV, configured_data_root, dataset_root_env

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    if isinstance(names, str):
        raise TypeError(f"names must be a list of dataset names, got the string {names!r}")
    env = os.environ if environ is None else environ
    available: list[str] = []
    skipped: dict[str, str] = {}
    for name in names:
        if name not in DATASETS:
            raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
        if name in SHIPPED:  # in data/
            available.append(name)
            continue
        var = dataset_root_env(name)
        root = configured_data_root(name, env)
        if root is None:
            why = f"neither ${var} nor ${DATA_ROOT_ENV} is set"
        elif not Path(root).is_dir():
            via = f"${var}" if env.get(var) else f"${DATA_ROOT_ENV}/{name}"
            why = f"{via} = {root} is not a folder"
        else:
            available.append(name)
            continue
        skipped[name] = (f"skipping {name} (profile {profile}): {why}; set ${var} to the dataset folder "
                         f"(or ${DATA_ROOT_ENV} to its parent) to include it")
    if verbose:
        for line in skipped.values():
            print(line)
    return available, skipped


def acdc_conditions(sets: Mapping | None = None) -> dict[str, tuple[str, str]]:
    """Table 3's real ACDC conditions present here: ``{"fog (ACDC, real)": ("real_world", "acdc_fog"), ...}``
    for each item ``acdc_<condition>`` of ``sets`` (default :func:`repro.evaluation.suites.real_world_sets`
    without the shipped data), in the order fog, night, rain, snow; ``{}`` when ACDC is not
    configured. The labels start with the condition, so :func:`repro.paper.tables.table3` joins the
    paper's numbers of that condition."""
    from repro.evaluation.suites import ACDC_CONDITIONS, real_world_sets

    if sets is None:
        sets = real_world_sets(include_shipped=False)
    return {f"{c} (ACDC, real)": ("real_world", f"acdc_{c}") for c in sorted(ACDC_CONDITIONS) if f"acdc_{c}" in sets}


def real_conditions(dataset: str) -> dict[str, tuple[str, str]]:
    """Table 3's real conditions for models trained on ``dataset``: the shipped real-world split
    (CamVid: ``{"dusk (real)": ("real_world", "camvid_dusk")}``), or for Cityscapes the ACDC
    conditions configured here (:func:`acdc_conditions`); ``{}`` otherwise."""
    if dataset in REAL_WORLD_SPLIT:
        return {"dusk (real)": ("real_world", f"{dataset}_dusk")}
    if dataset in REAL_WORLD_SIZE:
        return acdc_conditions()
    return {}


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
    warm start when it has one (``smoke``: trained once with the baseline pipeline and cached; every
    method fine-tunes from it, see ``repro.train.build_config(warm_start=...)``), else the
    Baseline run itself (seed 0; ``cpu``: trained from ImageNet weights like every method)."""
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
    from repro.analysis.features import encoder_extractor
    from repro.train.hooks import init_encoder_name

    return encoder_extractor(segmentor, name=init_encoder_name(model, dataset))


def offline_extractor(name: str, *, model: str, dataset: str = "camvid", profile: str):
    """A KID extractor by profile name: ``"baseline-encoder"`` (the frozen encoder of the protocol's Baseline
    model, :func:`baseline_model`, trained on the data itself; named ``<model>-<dataset>-baseline``),
    ``"warm-start"`` (the same model named as the training hook names a warm start's encoder,
    :func:`kid_extractor`; for profiles with a shared warm start), or any name of
    :func:`repro.analysis.features.extractor` (``imagenet-lite0``, ``inception``, ``resnet18-random``, ``conv-random``, ...)."""
    if name in ("warm-start", "baseline-encoder"):
        segmentor, _ = baseline_model(model, dataset, profile=profile)
        if name == "baseline-encoder":
            from repro.analysis.features import encoder_extractor

            return encoder_extractor(segmentor, name=f"{model}-{dataset}-baseline")
        return kid_extractor(segmentor, model, dataset)
    from repro.analysis.features import extractor as make_extractor

    return make_extractor(name)


def extractor_check(names, *, model: str, profile: str, n_images: int = 32, seed: int = 0,
                    types=None, magnitudes=(0.2, 0.4, 0.6, 0.8, 1.0)):
    """Which offline KID extractors see every basis perturbation (:mod:`repro.analysis.extractor_check`)?

    ``names``: extractor names of :func:`offline_extractor`; measured on ``n_images`` CamVid val
    images drawn with ``numpy.random.default_rng(seed)``. Returns ``(response, acceptance)``.
    """
    import numpy as np

    from repro.analysis import extractor_check as ec
    from repro.data import load_dataset

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

    from repro.base.progress import disabled

    from repro.base import paths

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
    from repro.base.progress import disabled

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


def clean_split(dataset: str) -> str | None:
    """The split whose run-end scores are a run's ``clean`` row: :data:`TEST_SPLIT` for the shipped
    datasets, the first evaluation split of the dataset config for the paper's (``val``; ACDC:
    ``fog``); ``None`` for an unknown name."""
    if dataset in TEST_SPLIT:
        return TEST_SPLIT[dataset]
    from repro.train.config import PAPER_DATASETS, _load

    if dataset not in PAPER_DATASETS:
        return None
    if dataset not in _CLEAN_SPLIT:
        _CLEAN_SPLIT[dataset] = str(_load(f"datasets/{dataset}.py")["eval_splits"][0])
    return _CLEAN_SPLIT[dataset]


_CLEAN_SPLIT: dict[str, str] = {}


def paper_eval_dataset(dataset_cfg: Mapping, *, name: str, split: str, size: Sequence[int] | None = None):
    """A paper dataset's evaluation split as a :class:`repro.data.SegDataset` for :func:`repro.evaluation.suites.evaluate`.

    ``dataset_cfg``: the MMSegmentation dataset config of the split (``cfg.eval_dataloaders[split].dataset``
    of the run's config; its pipeline is ignored). Images and labels are read with MMSegmentation's
    loading transforms (``reduce_zero_label``, label maps) through
    :class:`repro.train.datasets.MMSegSegDataset` and resized to ``size`` = (W, H) pixels (images
    bilinear, labels nearest) so that the suites can stack them; default: the dataset's crop size
    (e.g. 1024×512 for Cityscapes, 512×512 for ADE20K). A fixed size stretches images of another
    aspect ratio (ADE20K, VOC2012): the suites' numbers are then on that size, not on MMSegmentation's
    keep-ratio test resize (the run's own ``clean`` scores are).
    """
    from repro.data import SegDataset
    from repro.train.config import _load
    from repro.train.datasets import MMSegSegDataset

    if size is None:
        h, w = _load(f"datasets/{name}.py")["crop_size"]
        size = (int(w), int(h))
    if not is_int_pair(size, 1):
        raise ValueError(f"size must be (W, H) in pixels, two positive ints, got {size!r}")
    mm = MMSegSegDataset(dataset_cfg, size=size, name=name)

    class _Resized(SegDataset):
        def __getitem__(self, index):
            return mm[int(index)]

    infos = [mm._ds.get_data_info(i) for i in range(len(mm))]
    out = _Resized([i["img_path"] for i in infos], [i["seg_map_path"] for i in infos], mm.classes,
                   mm.palette or tuple((0, 0, 0) for _ in mm.classes), name, split, names=list(mm.names))
    out.size = tuple(size)
    return out


#: paper datasets whose models are scored zero-shot on :func:`repro.evaluation.suites.real_world_sets` (ACDC per
#: condition, IDD val: Cityscapes' 19 classes) by :func:`score_runs` (suite ``real_world``), at this (W, H) px
REAL_WORLD_SIZE = {"cityscapes": (1024, 512)}


def resized(dataset, size: Sequence[int]):
    """``dataset`` (a :class:`repro.data.SegDataset`) with every sample resized to ``size`` = (W, H)
    pixels (images bilinear with antialiasing, labels nearest), so that splits of mixed image sizes
    (IDD) can be stacked by the suites."""
    import torch

    from repro.data import SegDataset

    if not is_int_pair(size, 1):
        raise ValueError(f"size must be (W, H) in pixels, two positive ints, got {size!r}")
    hw = (int(size[1]), int(size[0]))

    class _Resized(SegDataset):
        def __getitem__(self, index):
            it = dataset[int(index)]
            image = torch.nn.functional.interpolate(it["image"][None], size=hw, mode="bilinear", align_corners=False,
                                                    antialias=True)[0].clamp_(0, 1)
            label = torch.nn.functional.interpolate(it["label"][None, None].float(), size=hw, mode="nearest")[0, 0]
            return {"image": image, "label": label.long(), "name": it["name"]}

    out = _Resized(list(dataset.image_paths), list(dataset.label_paths), dataset.classes, dataset.palette,
                   dataset.name, dataset.split, dataset.ignore_index, dataset.image_mode, list(dataset.names),
                   dataset.label_map)
    out.size = (int(size[0]), int(size[1]))
    return out


#: Figure 2's frames per training dataset: (daytime split, real adverse-condition item and its title). CamVid's
#: are shipped; Cityscapes' daytime frame comes from its val split, the adverse one from ACDC night (where configured)
QUALITATIVE = {"camvid": ("test", "test_dusk", "dusk"), "cityscapes": ("val", "acdc_night", "night (ACDC)")}


def qualitative_frames(dataset: str, *, day_index: int, adverse_index: int, model: str = "pspnet_r50",
                       profile: str = "paper"):
    """Figure 2's input frames for models trained on ``dataset``: a daytime frame of its clean
    evaluation split and a frame of its real adverse-condition set (:data:`QUALITATIVE`), each as
    ``(title, image 3×H×W in [0, 1], label H×W)``, and the palette that colours the labels.

    CamVid: ``test[day_index]`` and ``test_dusk[adverse_index]`` (shipped). Cityscapes: ``val[day_index]``
    (through ``build_config(model, "baseline", "cityscapes", profile=profile)``'s evaluation dataset)
    and ACDC night ``val[adverse_index]``, both at :data:`REAL_WORLD_SIZE`; without ACDC configured the
    figure has the daytime row only, and one line says which variable would add the night row.
    """
    from repro.data import load_dataset
    from repro.base.validation import check_int

    if dataset not in QUALITATIVE:
        raise ValueError(f"qualitative frames are defined for {', '.join(QUALITATIVE)}, not {dataset!r}")
    check_int(day_index, "day_index", 0)
    check_int(adverse_index, "adverse_index", 0)
    day_split, adverse, adverse_title = QUALITATIVE[dataset]
    if dataset == "camvid":
        day_ds, adv_ds = load_dataset("camvid", day_split), load_dataset("camvid", adverse)
    else:
        from repro.evaluation import suites as ev
        from repro.train import build_config

        size = REAL_WORLD_SIZE[dataset]
        cfg = build_config(model=model, method="baseline", dataset=dataset, profile=profile, pretrained=None)
        day_ds = paper_eval_dataset(cfg.eval_dataloaders[day_split].dataset, name=dataset, split=day_split, size=size)
        sets = ev.real_world_sets(include_shipped=False, classes=day_ds.classes, palette=day_ds.palette)
        adv_ds = resized(sets[adverse], size) if adverse in sets else None
        if adv_ds is None:
            print(f"qualitative: no {adverse_title} row: ACDC is not configured (set $REPRO_ACDC_ROOT)")
    frames = []
    for title, ds, index in (("day", day_ds, day_index), (adverse_title, adv_ds, adverse_index)):
        if ds is None:
            continue
        if index >= len(ds):
            raise ValueError(f"index {index} is out of range for {ds.name}/{ds.split} ({len(ds)} images)")
        item = ds[index]
        frames.append((f"{title} {item['name']}", item["image"], item["label"]))
    return frames, day_ds.palette


def clean_scores(runs: pd.DataFrame) -> pd.DataFrame:
    """Scores from the runs' own final evaluation (mmseg's IoUMetric on the clean test split,
    :func:`clean_split`, and on the real-world split), as long-form score rows (suites ``clean``
    and ``real_world``)."""
    rows = []
    for _, r in runs.iterrows():
        metrics = r["result"]["metrics"]
        for suite, split_map, item in (("clean", None, "clean"), ("real_world", REAL_WORLD_SPLIT, None)):
            split = clean_split(r["dataset"]) if split_map is None else split_map.get(r["dataset"])
            if split is None or split not in metrics:
                continue
            m = metrics[split]
            rows.append({"dataset": r["dataset"], "model": r["model"], "method": r["method"], "seed": r["seed"],
                         "suite": suite, "item": item or f"{r['dataset']}_dusk", "level": "",
                         "aAcc": m["aAcc"], "mAcc": m["mAcc"], "mIoU": m["mIoU"]})
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def real_world_scores(runs: pd.DataFrame, *, seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Tables 2–3's clean and real-world scores: :func:`clean_scores` (the runs' own evaluation,
    which covers a shipped real-world split such as CamVid dusk), plus, for runs on Cityscapes
    (:data:`REAL_WORLD_SIZE`), ACDC per condition and IDD val where configured
    (:func:`score_runs` with suite ``real_world``). For CamVid runs this is :func:`clean_scores`."""
    scores = clean_scores(runs)
    paper = runs[runs["dataset"].isin(list(REAL_WORLD_SIZE))]
    if len(paper):
        extra = score_runs(paper, ["real_world"], seed=seed, progress=progress)
        scores = pd.concat([scores, extra], ignore_index=True)
    return scores


def score_runs(runs: pd.DataFrame, suites: Sequence[str], *, seed: int = 0, subsets: Mapping[str, int] | None = None,
               suite_options: Mapping[str, Mapping] | None = None, batch_size: int = 16, force: bool = False,
               progress: bool = True, num_workers: int = 0) -> pd.DataFrame:
    """Evaluate each run on ``suites`` with :func:`repro.evaluation.suites.evaluate`; long-form scores.

    ``subsets`` maps a suite to the number of evaluation images (evenly spaced over the test
    split; 0 or missing = all). ``suite_options`` passes extra arguments per suite (e.g.
    ``{"imagenet_c": {"corruptions": ["fog"]}}``). ``real_world`` uses the dataset's real-world
    split; Cityscapes runs (:data:`REAL_WORLD_SIZE`) use the items of
    :func:`repro.evaluation.suites.real_world_sets` configured here (ACDC per condition, IDD val; none: no
    rows), resized to one size (:func:`resized`). The paper's datasets (no real-world split) are
    scored on their first evaluation split (:func:`clean_split`) at a fixed size
    (:func:`paper_eval_dataset`). Cached per (run, suite, settings).

    Images are streamed from disk (``num_workers`` processes reading ahead). Launched under
    ``torchrun`` (``WORLD_SIZE`` > 1; :func:`repro.base.distributed.init_from_env`) every run's suites are
    shared out over the ranks by :func:`repro.evaluation.suites.evaluate` (same numbers as one process); every
    rank returns the scores.
    """
    from tqdm import tqdm
    from repro.base.progress import disabled

    import repro.train as T

    from mmengine.config import Config

    from repro.base import distributed

    from repro.data import load_dataset
    from repro.evaluation.suites import SUITE_VERSIONS, even_indices, evaluate, real_world_sets
    from repro.train.config import PAPER_DATASETS
    from repro.train.runner import _resolve_run_dir

    subsets = dict(subsets or {})
    suite_options = {k: dict(v) for k, v in (suite_options or {}).items()}
    frames = []
    real_sets = None
    distributed.init_from_env()
    bar = tqdm(list(runs.iterrows()), desc="scoring", disable=disabled(progress) or distributed.rank() != 0)
    for _, r in bar:
        model = None
        for suite in suites:
            bar.set_postfix_str(f"{r['model']}/{r['method']}/seed{r['seed']}: {suite}")
            split = (REAL_WORLD_SPLIT if suite == "real_world" else TEST_SPLIT).get(r["dataset"])
            paper = split is None and suite != "real_world" and r["dataset"] in PAPER_DATASETS
            if paper:  # a paper dataset (Table 4 at the paper profile): its first evaluation split, fixed size
                split = clean_split(r["dataset"])
                cfg = Config.fromfile(str(_resolve_run_dir(r["result"]) / "config.py"))
                ds = paper_eval_dataset(cfg.eval_dataloaders[split]["dataset"].to_dict(), name=r["dataset"],
                                        split=split)
            elif split is None and suite == "real_world" and r["dataset"] in REAL_WORLD_SIZE:
                # ACDC per condition and IDD val where configured (Tables 2, 3); none configured: no rows
                if real_sets is None:
                    real_sets = real_world_sets(include_shipped=False)
                if not real_sets:
                    continue
                size = REAL_WORLD_SIZE[r["dataset"]]
                ds = {k: resized(v, size) for k, v in real_sets.items()}
                split = "+".join(ds)
            elif split is None:
                continue
            else:
                ds = load_dataset(r["dataset"], split)
            n = int(subsets.get(suite) or 0)
            n_images = min(len(d) for d in ds.values()) if isinstance(ds, dict) else len(ds)
            indices = even_indices(n_images, n)  # the suites' shared subset rule (repro.evaluation.suites)
            opts = suite_options.get(suite, {})
            key = {"run": r["config_hash"], "suite": suite, "split": split, "indices": indices, "seed": int(seed),
                   "options": opts, "version": SUITE_VERSIONS[suite]}
            if paper or isinstance(ds, dict):
                key["size"] = list(next(iter(ds.values())).size if isinstance(ds, dict) else ds.size)

            def compute():
                nonlocal model
                if model is None:
                    model = T.load_model(r["result"])
                target = ds if isinstance(ds, dict) else {f"{r['dataset']}_dusk": ds} if suite == "real_world" else ds
                res = evaluate(model, target, suite, seed=seed, indices=indices, batch_size=batch_size,
                               progress=False, num_workers=num_workers, **opts)
                return res.table

            table = cache.cached("scores", key, compute, force=force).copy()
            for col in ("dataset", "model", "method", "seed"):
                table[col] = r[col]
            frames.append(table)
    if not frames:
        return pd.DataFrame(columns=list(SCORE_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(SCORE_COLUMNS)]
