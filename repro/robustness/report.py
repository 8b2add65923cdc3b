"""Computing the robustness report: :func:`robustness_report` scores a model on the suites, caches
each finished item under ``out/items``, shards the work under ``torch.distributed``, runs the
sensitivity analysis and assembles ``report.json`` (rendered by :mod:`repro.robustness.render`).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from repro.evaluation import suites as ev
from repro.robustness.summaries import converted_note, corruption_errors, resilience_rates, trivial_floor

#: the report's suites, in the order they are computed
REPORT_SUITES = ("clean", "sensitivity", "basis_aug", "imagenet_c", "advsteer", "real_world")
FORMAT = "repro.robustness/1"
#: images of the report's sensitivity analysis (``sa_subset``). 8, as the training hook's ``subset``:
#: half the analysis time of 16, with levels within their seed-to-seed spread at 16
#: (benchmarks/results/bench_report_sa_subset.md: CamVid test, mean shift 0.016 against a spread of 0.019)
SA_IMAGES = 8


class _Preprocessed(torch.nn.Module):
    """``model(preprocess(x))`` as one module, so that its weights identify it (cache keys)."""

    def __init__(self, model, preprocess):
        super().__init__()
        self.model = model
        self.preprocess = preprocess

    def forward(self, x):
        return self.model(self.preprocess(x))


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    import subprocess

    from repro.base import paths

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def versions() -> dict:
    """Versions of what produced the numbers (``None`` where a package is not installed)."""
    import platform

    from repro.base.version import __version__

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "repro": __version__, "repro_commit": _git_commit(), "mmseg": _version("mmsegmentation"),
            "mmcv": _version("mmcv"), "mmengine": _version("mmengine"),
            "imagecorruptions": _version("imagecorruptions")}


def data_identity(dataset, indices: Sequence[int] | None = None) -> dict:
    """The identity of the evaluation data: name, split, image count, and ``sha256`` over the
    names and the bytes of every image and label file used (in order), so two reports say
    whether they scored the same data."""
    idx = range(len(dataset)) if indices is None else [int(i) for i in indices]
    h = hashlib.sha256()
    for i in idx:
        h.update(f"{dataset.names[i]}\n".encode())
        for p in (dataset.image_paths[i], dataset.label_paths[i]):
            with open(p, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    out = {"name": dataset.name, "split": dataset.split, "n_images": len(idx),
           "indices": None if indices is None else list(idx), "sha256": h.hexdigest(),
           "num_classes": dataset.num_classes, "classes": list(dataset.classes), "ignore_index": dataset.ignore_index}
    label_map = getattr(dataset, "label_map", None)
    if isinstance(label_map, dict) and label_map:  # the same files read with another map are other data
        out["label_map"] = {str(k): int(v) for k, v in sorted(label_map.items())}
    return out


def _model_identity(model, model_key: str | None) -> str:
    from repro.base.hashing import state_hash

    h = state_hash(model)
    if h is None:
        if model_key is None:
            raise ValueError("a model without a state dict (a plain function) needs model_key=... (a string that "
                             "changes whenever the function does) to key the report's cache")
        return f"key:{model_key}"
    return h if model_key is None else f"{h}|{model_key}"


# ------------------------------------------------------------------------------------------ item cache


class _Items:
    """One JSON file per finished suite item under ``out/items/<suite>/``."""

    def __init__(self, root: Path, force: bool):
        self.root = root
        self.force = force

    def path(self, suite: str, key: Mapping) -> Path:
        from repro.base.cache import config_hash

        return self.root / suite / f"{config_hash(key)}.json"

    def load(self, suite: str, key: Mapping):
        """The stored value of a finished item, or ``None`` (not finished, or ``force``)."""
        path = self.path(suite, key)
        if path.is_file() and not self.force:
            return json.loads(path.read_text())["value"]
        return None

    def put(self, suite: str, key: Mapping, value, *, write: bool = True):
        """Store ``value`` (atomically; not when ``write`` is false: ranks other than 0) and return it
        as a resumed run reads it back (the JSON round trip)."""
        from repro.base.cache import canonical

        text = json.dumps({"key": canonical(key), "value": value}, indent=1, sort_keys=True, allow_nan=True)
        if write:
            path = self.path(suite, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
        return json.loads(text)["value"]  # the same round trip as a resumed run


def _timed(run: Callable, spent: dict, i: int) -> Callable:
    """``run`` adding its wall time (s) to ``spent[i]``."""
    import time

    def f(mine):
        t0 = time.perf_counter()
        try:
            return run(mine)
        finally:
            spent[i] = spent.get(i, 0.0) + time.perf_counter() - t0
    return f


# ------------------------------------------------------------------------------------------ the report


def _check_dataset(dataset, what: str):
    from repro.data import SegDataset

    if not isinstance(dataset, SegDataset):
        raise TypeError(f"{what} must be a repro.data.SegDataset (load_dataset(...) or FolderDataset(...)), got "
                        f"{type(dataset).__name__}")
    return dataset


def _extractor_of(extractor, model, model_name: str, device):
    from repro.analysis.features import Extractor, encoder_extractor
    from repro.analysis.features import extractor as make_extractor

    if isinstance(extractor, Extractor):
        return extractor
    if extractor == "encoder":  # the cpu protocol's choice: the model's own frozen encoder, pooled 3×4
        return encoder_extractor(model, name=model_name, device=device or "cpu")
    return make_extractor(extractor, device=device or "cpu")


def robustness_report(model, dataset, *, suites: Sequence[str] = REPORT_SUITES, out: str | os.PathLike = "robustness_report",
                      reference=None, real_world: Mapping[str, Any] | None = None, seed: int = 0,
                      extractor: Any = "auto", preprocess: Callable | None = None,
                      reference_preprocess: Callable | None = None, indices: Sequence[int] | None = None,
                      subset: int | None = None, batch_size: int = 8, device=None,
                      magnitudes: Sequence[float] = ev.BASIS_MAGNITUDES, types: Sequence[str] | None = None,
                      corruptions: Sequence[str] | None = None, severities: Sequence[int] = ev.SEVERITIES,
                      combinations: Sequence[int] = (1, 2, 3, 4, 5, 6), advsteer_variant: str = "paper",
                      sa_subset: int = SA_IMAGES, analysis: Any = None,
                      weighting: str = "accuracy", kid_severities: Sequence[int] = (3,), kid_subsets: int = 100,
                      model_name: str | None = None, reference_name: str | None = None,
                      model_key: str | None = None, reference_key: str | None = None, force: bool = False,
                      render: bool = True, progress: bool = True, num_workers: int = 0) -> dict:
    """Score ``model`` on the robustness suites and write the report folder ``out``; returns the
    report (the content of ``report.json``).

    Args:
        model: ``nn.Module``/callable mapping N×3×H×W float RGB in [0, 1] to logits N×C×h×w, or an
            MMSegmentation segmentor (module docstring); ``preprocess`` is applied to the [0, 1]
            images first when given.
        dataset: the evaluation split, a :class:`repro.data.SegDataset` (``load_dataset(...)``,
            ``FolderDataset(...)``); all its images must share one size.
        suites: any of :data:`REPORT_SUITES` (``sensitivity`` also yields the sampling distribution).
        out: the report folder (created; finished items in ``out/items`` are reused).
        reference: a model (same input convention, ``reference_preprocess``) for the corruption
            errors CE/rCE/mCE; ``None``: unnormalised errors only.
        real_world: item name → dataset for the ``real_world`` suite (skipped when empty).
        seed: every random draw; same seed, same numbers.
        extractor: KID features: a name of :func:`repro.analysis.features.extractor` (``"auto"``: Inception
            when its weights are found, else ``resnet18-random``), ``"conv-random"``, ``"encoder"``
            (the model's own frozen encoder, the ``cpu`` protocol's choice) or an ``Extractor``.
        indices / subset: score only these images / ``subset`` images evenly spaced
            (:func:`repro.evaluation.suites.even_indices`); default all.
        batch_size, device: inference (the suites' random draws depend on ``batch_size``).
        magnitudes, types: ``basis_aug`` items (default all 24 types × 0.2…1.0).
        corruptions, severities: ImageNet-C items (default all 19 × 1–5).
        combinations, advsteer_variant: AdvSteer items.
        sa_subset, analysis, weighting: the sensitivity analysis: ``sa_subset`` images (drawn with ``seed``;
            default :data:`SA_IMAGES` = 8, as the training hook's ``subset``),
            its settings (:class:`repro.analysis.sensitivity.AnalysisSettings` or a dict of its fields; ``None``: the
            defaults with ``budget=6``; its ``seed`` and ``batch_size`` are this function's), and the
            distribution's weighting.
        kid_severities: ImageNet-C severities whose KID to the clean images is reported.
        model_key, reference_key: identify plain functions (no state dict) in the cache keys.
        force: recompute every item. render: write report.md/report.html and the plots.
        num_workers: processes reading images ahead (:func:`repro.data.streaming.stream_chunks`).

    Data flow: the images are streamed from disk chunk by chunk (``batch_size`` images; peak memory
    O(``batch_size``), not O(split)). Under ``torch.distributed`` (``torchrun --nproc-per-node N -m repro
    robustness ...``) the items' chunks (whole items of :data:`repro.evaluation.suites.SEQUENTIAL_SUITES` and the
    analysis) are shared out over the ranks in steps of at least one unit per rank
    (:func:`repro.base.distributed.run_sharded`), the confusion matrices (and KID features) gathered, and
    rank 0 writes the finished items after every step and the report at the end; every rank returns
    the report. The numbers equal a one-process run's bit for bit; a killed run resumes at its
    first unfinished item.
    """
    import time

    from tqdm import tqdm

    from repro.base.progress import disabled

    t_start = time.perf_counter()
    _check_dataset(dataset, "dataset")
    bad = [s for s in suites if s not in REPORT_SUITES]
    if isinstance(suites, str) or bad:
        raise ValueError(f"suites must be a list of names from {', '.join(REPORT_SUITES)}, got {suites!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be an int >= 0, got {seed!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
    from repro.analysis.sensitivity import AnalysisSettings

    settings = AnalysisSettings.of({"budget": 6} if analysis is None else analysis, seed=int(seed), batch_size=batch_size)
    if settings.method == "none":
        raise ValueError("analysis: method 'none' has no analysis to report; use 'adaptive' or 'uniform'")
    if not callable(model):
        raise TypeError(f"model must be an nn.Module or callable images -> logits, got {type(model).__name__}")
    if preprocess is not None:
        if not callable(preprocess):
            raise TypeError(f"preprocess must be callable, got {type(preprocess).__name__}")
        model = _Preprocessed(model, preprocess)
    if reference is not None and reference_preprocess is not None:
        reference = _Preprocessed(reference, reference_preprocess)
    if indices is not None and subset is not None:
        raise ValueError("give indices or subset, not both")
    if subset is not None:
        indices = ev.even_indices(len(dataset), subset)
    real_world = dict(real_world or {})
    for k, v in real_world.items():
        _check_dataset(v, f"real_world[{k!r}]")
    rw_ident = {k: data_identity(v) for k, v in real_world.items()}
    from repro.evaluation import corruptions as corrupt

    corruptions = list(corruptions) if corruptions is not None else list(corrupt.IMAGENET_C)
    out = Path(out)
    model_name = model_name or type(model).__name__
    mid = _model_identity(model, model_key)
    rid = _model_identity(reference, reference_key) if reference is not None else None
    ident = data_identity(dataset, indices)
    from repro.base import distributed
    from repro.data.streaming import n_chunks

    main_rank = distributed.rank() == 0
    if main_rank:
        out.mkdir(parents=True, exist_ok=True)
    items = _Items(out / "items", force)
    from repro.data.streaming import stream_chunks

    floor = trivial_floor((ch.labels for ch in stream_chunks(dataset, indices, batch_size=batch_size,
                                                             num_workers=num_workers)),
                          dataset.num_classes, dataset.ignore_index, dataset.classes)
    base = {"format": FORMAT, "data": ident["sha256"], "seed": int(seed), "batch_size": batch_size}
    opts = dict(seed=int(seed), device=device, advsteer_variant=advsteer_variant, border="zoom",
                num_workers=num_workers)
    n_main = n_chunks(len(dataset) if indices is None else len(indices), batch_size)

    ext = None
    clean_feats: dict[str, torch.Tensor] = {}

    def get_ext():
        nonlocal ext
        if ext is None:
            ext = _extractor_of(extractor, model, model_name, device)
        return ext

    def features(x: torch.Tensor) -> torch.Tensor:
        """Features of one chunk (at most ``batch_size`` images, the batches of the stacked split)."""
        with torch.no_grad():
            return get_ext()(x).cpu()

    def kid_of(y_feats: torch.Tensor, paired: bool) -> dict:
        from repro.analysis.kid import kid_result

        x = clean_feats["x"]
        size = max(2, min(len(x), len(y_feats)) // 2) if paired else max(2, min(len(x), len(y_feats)))
        r = kid_result(x, y_feats, subsets=kid_subsets, subset_size=size, seed=int(seed), extractor=get_ext(),
                       paired=paired)
        return {"kid": r.mean, "kid_std": r.std, "extractor": r.extractor, "paired": paired, "subset_size": size,
                "subsets": kid_subsets}

    # ---- plan: (suite, item, level) of this model (and of the reference where needed)
    plan: list[tuple[str, str, Any]] = []
    for s in suites:
        if s == "sensitivity":
            plan.append(("sensitivity", "analysis", ""))
        elif s == "real_world":
            plan += [("real_world", k, "") for k in real_world]
        elif s == "imagenet_c":
            plan += [(s, i, l) for i, l in ev.suite_items(s, corruptions=corruptions, severities=severities)]
        else:
            plan += [(s, i, l) for i, l in ev.suite_items(s, types=types, magnitudes=magnitudes,
                                                           combinations=combinations)]
    if ("imagenet_c" in suites or "basis_aug" in suites) and "clean" not in suites:
        plan.insert(0, ("clean", "clean", ""))  # the errors and curves need the clean score
    ref_plan = [("clean", "clean", "")] + [p for p in plan if p[0] == "imagenet_c"] if (
        reference is not None and "imagenet_c" in suites) else []

    # ---- entries: every (who, suite, item, level) with its cache key
    entries = []
    for who, this_plan in (("model", plan), ("reference", ref_plan)):
        m, ident_m = (model, mid) if who == "model" else (reference, rid)
        for suite, item, level in this_plan:
            key = {**base, "model": ident_m, "suite": suite, "item": item, "level": level,
                   "version": ev.SUITE_VERSIONS.get(suite, 1)}
            want_kid = False
            if suite == "sensitivity":
                key.update(sa_subset=sa_subset, analysis=settings.to_dict(), types=types, extractor=get_ext().tag)
            else:
                if suite == "basis_aug":
                    key["border"] = "zoom"
                if suite == "advsteer":
                    key["variant"] = advsteer_variant
                if suite == "real_world":
                    key["real_world_data"] = rw_ident[item]["sha256"]
                want_kid = who == "model" and ((suite == "imagenet_c" and int(level) in set(kid_severities))
                                               or suite == "real_world")
                if want_kid:
                    key["kid"] = {"extractor": get_ext().tag, "subsets": kid_subsets}
            entries.append({"who": who, "model": m, "suite": suite, "item": item, "level": level, "key": key,
                            "want_kid": want_kid, "path": items.path(suite, key)})

    # ---- finished items (read by rank 0, shared with the others); entries with equal keys are computed once
    values: list[Any] = [None] * len(entries)
    done = {}
    if main_rank:
        for i, e in enumerate(entries):
            v = items.load(e["suite"], e["key"])
            if v is not None:
                done[i] = v
    done = distributed.broadcast(done)
    first_of: dict[str, int] = {}
    pending = []
    for i, e in enumerate(entries):
        if i in done:
            values[i] = done[i]
        elif e["path"] not in first_of:
            first_of[e["path"]] = i
            pending.append(i)

    def task_of(e):
        """(units, costs, run) of one entry (repro.base.distributed.run_sharded)."""
        if e["suite"] == "sensitivity":
            return [None], [n_main], lambda mine: _analysis(e["model"], dataset, indices, sa_subset, settings, types,
                                                           get_ext(), device, mid, progress)
        ds, idx = (real_world[e["item"]], None) if e["suite"] == "real_world" else (dataset, indices)
        return ev.item_task(e["model"], ds, e["suite"], e["item"], e["level"], indices=idx, batch_size=batch_size,
                            features=features if e["want_kid"] else None, **opts)

    def clean_features_task():
        def run(mine):
            from repro.data.streaming import stream_chunks

            return {"matrix": None, "features": {ch.number: features(ch.images) for ch in stream_chunks(
                dataset, indices, batch_size=batch_size, chunks=mine, num_workers=num_workers)}}

        return list(range(n_main)), [1] * n_main, run

    def row_of(e, partials) -> dict:
        if e["suite"] == "sensitivity":
            return partials[0]
        ds = real_world[e["item"]] if e["suite"] == "real_world" else dataset
        cm, feats = ev.combine_partials(partials, ds.num_classes, ds.ignore_index)
        row = {"item": e["item"], "level": e["level"], **cm.scores()}
        if e["suite"] == "real_world":
            row.update(n_images=len(ds), data=rw_ident[e["item"]]["sha256"])
        if e["want_kid"]:
            row.update(kid_of(feats, paired=e["suite"] != "real_world"))
        return row

    # ---- steps: consecutive pending entries with at least one unit per rank, scored by all ranks together;
    # after each step rank 0 writes its items (a killed run resumes at the first unfinished step)
    timing = {}
    world = distributed.world_size()
    bar = tqdm(total=len(entries), initial=len(entries) - len(pending), desc="robustness report", unit="item",
               disable=disabled(progress) or not main_rank)
    pos = 0
    while pos < len(pending):
        step, n_units = [], 0
        while pos < len(pending) and (not step or n_units < world):
            e = entries[pending[pos]]
            step.append(pending[pos])
            n_units += 1 if e["suite"] in ev.SEQUENTIAL_SUITES or e["suite"] == "sensitivity" else n_main
            pos += 1
        e0 = entries[step[0]]
        bar.set_postfix_str(f"{e0['who']}: {e0['suite']} {e0['item']} {e0['level']}".strip())
        tasks, spent = [], {}
        for i in step:
            units, costs, run = task_of(entries[i])
            tasks.append((units, costs, _timed(run, spent, i)))
        need_clean = any(entries[i]["want_kid"] for i in step) and "x" not in clean_feats
        if need_clean:
            tasks.append(clean_features_task())
        parts = distributed.run_sharded(tasks)
        if need_clean:
            clean_feats["x"] = ev.combine_partials(parts.pop(), 1)[1]
        for i, p in zip(step, parts):
            t0 = time.perf_counter()
            e = entries[i]
            values[i] = items.put(e["suite"], e["key"], row_of(e, p), write=main_rank)
            timing[f"{e['who']}/{e['suite']}/{e['item']}/{e['level']}"] = spent.get(i, 0.0) + time.perf_counter() - t0
        bar.update(len(step))
    bar.close()
    for i, e in enumerate(entries):
        if values[i] is None:
            values[i] = values[first_of[e["path"]]]

    results: dict[str, list[dict]] = {}
    ref_results: dict[str, list[dict]] = {}
    sensitivity = None
    for e, v in zip(entries, values):
        if e["suite"] == "sensitivity":
            sensitivity = v
        else:
            (results if e["who"] == "model" else ref_results).setdefault(e["suite"], []).append(v)

    report = _assemble(results, ref_results, sensitivity, suites=suites, ident=ident, seed=seed, model_name=model_name,
                       reference_name=(reference_name or type(reference).__name__) if reference is not None else None,
                       mid=mid, rid=rid, weighting=weighting, floor=floor,
                       notes=list(dict.fromkeys(n for n in [converted_note(dataset)]
                                                + [converted_note(v) for v in real_world.values()] if n)),
                       settings={"batch_size": batch_size, "magnitudes": [float(m) for m in magnitudes],
                                 "types": list(types) if types is not None else None, "corruptions": corruptions,
                                 "severities": [int(s) for s in severities], "combinations": list(combinations),
                                 "advsteer_variant": advsteer_variant, "sa_subset": sa_subset,
                                 "analysis": settings.to_dict(), "weighting": weighting,
                                 "kid_severities": [int(s) for s in kid_severities], "kid_subsets": kid_subsets,
                                 "preprocess": repr(preprocess) if preprocess is not None else None,
                                 "real_world": rw_ident})
    if not main_rank:
        return report  # rank 0 writes the report
    (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=False, allow_nan=True) + "\n")
    timing_total = time.perf_counter() - t_start
    if render:
        from repro.robustness.render import render_report

        t0 = time.perf_counter()
        render_report(report, out)
        timing["render"] = time.perf_counter() - t0
    (out / "timing.json").write_text(json.dumps({"total_s": time.perf_counter() - t_start, "suites_s": timing_total,
                                                 "items_s": timing}, indent=1) + "\n")
    return report


def _analysis(model, dataset, indices, sa_subset, settings, types, extractor, device, mid, progress) -> dict:
    """The adaptive sensitivity analysis as JSON-able records (levels, points, clean mIoU, flags)."""
    from repro.analysis.sensitivity import analyse

    ds = dataset if indices is None else dataset.subset(indices)
    n = min(int(sa_subset), len(ds)) if sa_subset else len(ds)
    sub = None if n >= len(ds) else n
    table = analyse(model, ds, types or "all", settings=settings, subset=sub, extractor=extractor, device=device, cache=True,
                    cache_key=mid, progress=progress, warn=False)
    cols = ["type", "level", "alpha", "miou", "kid", "S", "target", "evaluated", "n_evals", "flag"]
    return {"levels": json.loads(table[cols].to_json(orient="records")),
            "points": json.loads(pd.DataFrame(table.attrs["points"]).to_json(orient="records")),
            "clean_miou": float(table.attrs["clean_miou"]), "extractor": table.attrs["extractor"],
            "n_evaluations": int(table.attrs["n_evaluations"]), "flags": dict(table.attrs["flags"]),
            "n_images": n, "method": settings.method, "budget": settings.budget,
            "num_levels": settings.num_levels}


def _summary(rows: list[dict]) -> dict:
    return {m: float(np.mean([r[m] for r in rows])) for m in ev.METRICS} if rows else {}


def _assemble(results, ref_results, sensitivity, *, suites, ident, seed, model_name, reference_name, mid, rid,
              weighting, settings, floor=None, notes=()) -> dict:
    from repro.analysis.sampling import Distribution

    rep: dict[str, Any] = {"format": FORMAT, "model": {"name": model_name, "weights": mid},
                           "reference": {"name": reference_name, "weights": rid} if rid else None,
                           "data": ident, "seed": int(seed), "versions": versions(), "settings": settings,
                           "floor": floor, "notes": list(notes), "suites": {}}
    clean = results.get("clean", [{}])[0].get("mIoU")
    for s in suites:
        if s == "sensitivity":
            continue
        rows = results.get(s, [])
        rep["suites"][s] = {"rows": rows, "summary": _summary(rows)}
        if s != "clean" and rows:
            rep["suites"][s]["resilience"] = resilience_rates(rows, clean)
    if "imagenet_c" in suites:
        ic = rep["suites"]["imagenet_c"]
        ref_clean = ref_results.get("clean", [{}])[0].get("mIoU") if ref_results else None
        ic["corruption_error"] = corruption_errors(ic["rows"], clean, ref_results.get("imagenet_c"), ref_clean) \
            if ic["rows"] else None
        if ref_results:
            rep["reference"]["clean"] = ref_results["clean"][0]
            rep["reference"]["imagenet_c"] = ref_results.get("imagenet_c", [])
    if sensitivity is not None:
        rep["sensitivity"] = sensitivity
        dist = Distribution.from_analysis(pd.DataFrame(sensitivity["levels"]), weighting=weighting)
        rep["sampling"] = {"weighting": weighting, "jitter": dist.jitter,
                           "probabilities": json.loads(dist.probabilities.to_json(orient="records"))}
    kids = []
    if sensitivity is not None:
        kids += [{"what": f"sensitivity {p['type']} alpha={p['alpha']:.4g}", "kid": p["kid"],
                  "extractor": sensitivity["extractor"], "paired": True} for p in sensitivity["points"]]
    for s in ("imagenet_c", "real_world"):
        for r in results.get(s, []):
            if "kid" in r:
                kids.append({"what": f"{s} {r['item']}" + (f" severity {r['level']}" if r["level"] != "" else ""),
                             "kid": r["kid"], "extractor": r["extractor"], "paired": r["paired"]})
    rep["kid"] = kids
    rep["extractors"] = sorted({k["extractor"] for k in kids})
    return rep


