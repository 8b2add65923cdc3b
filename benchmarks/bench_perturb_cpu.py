"""CPU cost of the perturbations on the path training uses: OpenCV per-sample path vs albumentations (issue 14).

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_perturb_cpu.py [--rounds 7] [--reps 20] [--train-iters 30]

What is measured (one thread everywhere: ``cv2.setNumThreads(1)``, ``torch.set_num_threads(1)``;
CPU time of this process, ``time.process_time``, so that other jobs on a shared machine change
the figures little; interleaved rounds, so that a drift of the machine hits every contender alike):

1. Per type, at magnitude 0.5 on one 480×360 image + label map (a CamVid val image resized from
   240×180, BGR uint8 as MMSegmentation loads it; seeded synthetic if the data are missing):
   ``ours`` = :func:`repro.train.apply_perturbation_numpy` with ``backend="opencv"`` (the
   training path: :mod:`repro.perturb.cpu`), ``bridge`` = the same with ``backend="torch"`` (the
   numpy bridge around the batched torch kernels, the committed ``cpu`` path) and ``alb`` =
   albumentations 2.0.8's closest op called on ``image=..., mask=...`` (the equivalents of
   ``benchmarks/bench_perturb.py``: RGBShift for R±/G±/B±, HueSaturationValue for H±/S±/V±,
   Affine with our zoom factor for the geometric ones, GaussianBlur with our kernel and σ,
   GaussNoise with our σ).  ``--rounds`` rounds; in each, per type, ``--reps`` calls of ours,
   then of albumentations, then of the bridge; the figure of a round is the mean CPU time per
   call.  Reported: median over rounds and its min–max, and the ratio albumentations/ours per
   round (median, min–max).
2. The per-sample training pipeline (load, RandomResize, RandomCrop, the method's augmentation,
   pack) of the ``cpu`` profile on CamVid (Fast-SCNN config, crop 176): ``sota``
   (RandomCrop(cat_max_ratio=0.75), RandomFlip, PhotoMetricDistortion), ``ours`` =
   SensitivityAugment (24 types, warm-up distribution: a uniform type and magnitude per
   sample, the per-sample cost of an analysed distribution) with ``backend="opencv"``, and the
   same with ``backend="torch"``; the same sample indices in every round, interleaved.
3. (``--train-iters`` > 0) per-iteration training time ours (opencv) / sota on the ``cpu``
   protocol (Fast-SCNN, crop 176, batch 8, one dataloader worker), ``--train-rounds``
   alternating short runs without the SensitivityHook (mmengine's ``train/time``, median per run).
   This one is wall clock (training is); the load is recorded.

Writes ``benchmarks/results/bench_perturb_cpu.md`` with the date, git commit and load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import write_report  # noqa: E402  (benchmarks/ is on sys.path when a script runs)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

MAGNITUDE = 0.5


def _setup_threads():
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _load() -> str:
    a, b, c = os.getloadavg()
    return f"{a:.2f} {b:.2f} {c:.2f}"


def _git() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + (" + uncommitted changes" if dirty else "")
    except Exception:  # not a git checkout
        return "unknown"


def _cpu_per_call(fn, reps: int) -> float:
    t0 = time.process_time()
    for _ in range(reps):
        fn()
    return (time.process_time() - t0) / reps


def _summary(values):
    return statistics.median(values), min(values), max(values)


def bench_types(names, rounds: int, reps: int):
    """Per type: CPU ms per call of ours (opencv), albumentations and the torch bridge, per round."""
    from bench_perturb import albumentations_transform, load_images

    import repro.train as T

    _, _, imgs, labs, source = load_images(1)
    bgr = np.ascontiguousarray(imgs[0][..., ::-1])
    lab = labs[0]
    calls = {}
    for name in names:
        tr = albumentations_transform(name, MAGNITUDE)
        calls[name] = {
            "ours": lambda name=name: T.apply_perturbation_numpy(bgr, [lab], name, MAGNITUDE, seed=1, backend="opencv"),
            "alb": lambda tr=tr: tr(image=bgr, mask=lab),
            "bridge": lambda name=name: T.apply_perturbation_numpy(bgr, [lab], name, MAGNITUDE, seed=1, backend="torch"),
        }
        for f in calls[name].values():  # warm-up (LUT tables, allocations, albumentations' first-call work)
            f()
            f()
    res = {name: {k: [] for k in ("ours", "alb", "bridge")} for name in names}
    for r in range(rounds):
        for name in names:
            for k in ("ours", "alb", "bridge"):
                n = max(2, reps // 4) if k == "bridge" else reps
                res[name][k].append(1000.0 * _cpu_per_call(calls[name][k], n))
        print(f"round {r + 1}/{rounds} done (load {_load()})", flush=True)
    return res, source


def bench_pipeline(rounds: int, samples: int):
    """Per-sample CPU ms of the cpu profile's training pipeline: sota, ours (opencv), ours (torch)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    import repro.train as T

    init_default_scope("mmseg")
    datasets = {}
    for label, method, backend in (("sota", "sota", None), ("ours (opencv)", "ours", "opencv"),
                                   ("ours (torch)", "ours", "torch")):
        cfg = T.build_config("fastscnn", method, "camvid", profile="cpu")
        for t in cfg.train_dataloader.dataset.pipeline:
            if t["type"] == "SensitivityAugment":
                t["backend"] = backend
                t["schedule_file"] = None  # warm-up distribution: uniform type and magnitude per sample
        datasets[label] = DATASETS.build(cfg.train_dataloader.dataset)
    n = len(next(iter(datasets.values())))
    for ds in datasets.values():  # warm caches (file system, decoders)
        for i in range(5):
            ds[i % n]
    res = {k: [] for k in datasets}
    for r in range(rounds):
        idx = [(r * samples + i) % n for i in range(samples)]
        for label, ds in datasets.items():
            t0 = time.process_time()
            for i in idx:
                ds[i]
            res[label].append(1000.0 * (time.process_time() - t0) / samples)
        print(f"pipeline round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in res.items()), flush=True)
    return res


def bench_training(rounds: int, iters: int):
    """Median train/time per run (s) of sota and ours (opencv backend, no hook), alternating."""
    import repro.train as T

    out = {"sota": [], "ours (opencv)": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for label, method in (("sota", "sota"), ("ours (opencv)", "ours")):
                cfg = T.build_config("fastscnn", method, "camvid", profile="cpu", iters=iters, seed=r)
                cfg.custom_hooks = [h for h in cfg.custom_hooks if h["type"] != "SensitivityHook"]
                for t in cfg.train_dataloader.dataset.pipeline:
                    if t["type"] == "SensitivityAugment":
                        t["backend"] = "opencv"
                        t["schedule_file"] = None
                res = T.run(cfg, Path(tmp) / f"{method}_{r}", evaluate=False)
                out[label].append(float(res["iter_time_s"]))
                print(f"train round {r + 1}/{rounds} {label}: {out[label][-1]:.3f} s/iter (load {_load()})", flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds per type")
    p.add_argument("--reps", type=int, default=20, help="calls per round and contender (bridge: a quarter)")
    p.add_argument("--names", default=None, help="comma-separated subset of the 24 types")
    p.add_argument("--pipeline-rounds", type=int, default=5)
    p.add_argument("--pipeline-samples", type=int, default=40)
    p.add_argument("--train-iters", type=int, default=0, help="iterations per training run (0: skip part 3)")
    p.add_argument("--train-rounds", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_perturb_cpu.md"))
    args = p.parse_args(argv)
    _setup_threads()
    import albumentations
    import cv2

    from repro import perturb

    names = perturb.NAMES if args.names is None else tuple(args.names.split(","))
    load0 = _load()
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    res, source = bench_types(names, args.rounds, args.reps)
    load1 = _load()
    pipe = bench_pipeline(args.pipeline_rounds, args.pipeline_samples) if args.pipeline_rounds > 0 else None
    load2 = _load()
    train, train_error = None, None
    if args.train_iters > 0:
        try:
            train = bench_training(args.train_rounds, args.train_iters)
        except Exception as exc:  # parts 1-2 are still written
            train_error = f"{type(exc).__name__}: {exc}"
            print(f"part 3 failed: {train_error}", flush=True)
    load3 = _load()

    rows, ratios, ratios_bridge = [], [], []
    for name in names:
        o, a, b = (_summary(res[name][k]) for k in ("ours", "alb", "bridge"))
        rr = [x / y for x, y in zip(res[name]["alb"], res[name]["ours"])]
        rb = [x / y for x, y in zip(res[name]["bridge"], res[name]["ours"])]
        r, rb_ = _summary(rr), _summary(rb)
        ratios.append(r[0])
        ratios_bridge.append(rb_[0])
        rows.append(f"| {name} | {o[0]:.3f} ({o[1]:.3f}–{o[2]:.3f}) | {a[0]:.3f} ({a[1]:.3f}–{a[2]:.3f}) | "
                    f"{b[0]:.2f} ({b[1]:.2f}–{b[2]:.2f}) | **{r[0]:.2f}** ({r[1]:.2f}–{r[2]:.2f}) | "
                    f"{rb_[0]:.1f} |")
    med_ratio, min_ratio = statistics.median(ratios), min(ratios)
    worst = names[ratios.index(min_ratio)]
    lines = [
        "# bench_perturb_cpu: per-sample CPU path (OpenCV) vs albumentations, on the training path",
        "",
        f"Generated by `benchmarks/bench_perturb_cpu.py` on {started}, git {_git()}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, shared with other jobs. Load average (1/5/15 min) at start {load0}, after the per-type "
        f"rounds {load1}, after the pipeline rounds {load2}, at the end {load3}. One thread (cv2.setNumThreads(1), "
        f"torch.set_num_threads(1), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}); "
        f"CPU time of this process (time.process_time). opencv {cv2.__version__}, albumentations "
        f"{albumentations.__version__}.",
        "",
        f"## 1. Per type: CPU ms per call, 480×360 BGR image + label map, magnitude {MAGNITUDE}",
        "",
        f"Image: {source}. {args.rounds} interleaved rounds; per round and type {args.reps} calls of ours, "
        f"{args.reps} of albumentations, {max(2, args.reps // 4)} of the bridge; the figure of a round is the "
        "mean per call. Cells: median over rounds (min–max over rounds). `ours` = "
        "`apply_perturbation_numpy(..., backend=\"opencv\")` (repro.perturb.cpu), `bridge` = "
        "`backend=\"torch\"` (the batched torch kernels behind a numpy bridge), `alb` = the closest "
        "albumentations op on image + mask (RGBShift; HueSaturationValue; Affine with our zoom; GaussianBlur with "
        "our k and σ; GaussNoise with our σ — see benchmarks/bench_perturb.py). Ratio = alb / ours per round "
        "(> 1: ours is cheaper).",
        "",
        "| type | ours (opencv) ms | albumentations ms | bridge (torch) ms | alb / ours | bridge / ours |",
        "|:--|--:|--:|--:|--:|--:|",
        *rows,
        "",
        f"- median over the {len(names)} types of the ratio albumentations/ours: **{med_ratio:.2f}** (target ≥ 1.0); "
        f"lowest: **{min_ratio:.2f}** ({worst}; target: none below 0.7).",
        f"- the old bridge costs {statistics.median(ratios_bridge):.1f}× ours (median over types).",
    ]
    if pipe is not None:
        s = _summary(pipe["sota"])
        prow = []
        for k, v in pipe.items():
            m = _summary(v)
            rr = _summary([x / y for x, y in zip(v, pipe["sota"])])
            prow.append(f"| {k} | {m[0]:.2f} ({m[1]:.2f}–{m[2]:.2f}) | {rr[0]:.2f} ({rr[1]:.2f}–{rr[2]:.2f}) |")
        ro = _summary([x / y for x, y in zip(pipe["ours (opencv)"], pipe["sota"])])
        lines += [
            "",
            "## 2. Training data pipeline per sample (cpu profile, CamVid, crop 176; CPU ms per sample)",
            "",
            f"{args.pipeline_rounds} interleaved rounds of the same {args.pipeline_samples} samples per pipeline "
            "(no dataloader workers). `ours` = SensitivityAugment (24 types, warm-up distribution); sota = "
            "RandomCrop(cat_max_ratio=0.75) + RandomFlip + PhotoMetricDistortion. Cells: median (min–max) over rounds.",
            "",
            "| pipeline | CPU ms / sample | ratio to sota |",
            "|:--|--:|--:|",
            *prow,
            "",
            f"- ours (opencv) / sota: **{ro[0]:.2f}** (rounds {ro[1]:.2f}–{ro[2]:.2f}; target ≤ 1.2). sota's "
            f"pipeline: {s[0]:.2f} ms per sample.",
        ]
    if train is not None:
        tr = _summary([x / y for x, y in zip(train["ours (opencv)"], train["sota"])])
        lines += [
            "",
            f"## 3. Per-iteration training time, cpu protocol (Fast-SCNN, crop 176, batch 8, 1 worker; {args.train_iters} "
            f"iterations per run, {args.train_rounds} alternating rounds; wall clock, mmengine train/time median per run)",
            "",
            "| round | sota s/iter | ours (opencv) s/iter | ours / sota |",
            "|--:|--:|--:|--:|",
            *[f"| {i + 1} | {a:.3f} | {b:.3f} | {b / a:.3f} |" for i, (a, b) in
              enumerate(zip(train["sota"], train["ours (opencv)"]))],
            "",
            f"- ours / sota: median {tr[0]:.3f} (rounds {tr[1]:.3f}–{tr[2]:.3f}; target ≤ 1.05). Wall clock on a "
            f"shared machine: load {load2} before, {load3} after.",
        ]
    if train_error is not None:
        lines += ["", f"## 3. Per-iteration training time: not measured in this run ({train_error})"]
    lines += ["", "CPU times vary with the machine's load much less than wall clock, but not at all is not true either "
              "(caches and memory bandwidth are shared): compare figures of the same run, and the ratios per round."]
    return write_report(lines, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
