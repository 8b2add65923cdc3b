"""Where one sensitivity analysis spends its time on a user-sized case, and its share of a run and of a
robustness report (issue 24, item 6).

The case (built here, seeded, under ``--work``):

* data: ``--images`` (20) synthetic RGB images of H×W = 280×290 pixels, thin bright curvilinear
  "vessels" (random smooth curves, 1-3 px wide) on a textured background, labels 0/1 (PNG), one
  folder used as train and val split (as a user with a small data set does);
* model: a plain MMSegmentation config as a user writes it: Fast-SCNN, 2 classes, crop 256×256,
  batch 8 (``--batch``), SGD lr 0.01, trained ``--iters`` (600) iterations by mmengine's
  ``Runner`` on ``OMP_NUM_THREADS`` threads; the wall time of those iterations is the run's
  training time (timed once; the training code is not touched by this work, so the after-run
  reuses the checkpoint and that time);
* the analysis exactly as ``SensitivityHook(subset=8, num_analyses=1)`` runs it with its defaults
  (``AnalysisSettings()``: ASA, L = 5, tol 0.05, no budget, batch 8; extractor ``"auto"`` →
  ``imagenet-lite0`` offline; ``measure_levels``: the 24 × 5 levels re-measured after it), called
  through the hook's own ``_compute_payload`` on the trained model (iteration 600's weights; the
  hook of a 600-iteration run with one analysis analyses at iteration 300) — the event the user's
  log reports; and a refresh (``kind="refresh"``) of the same hook;
* optionally (``--report``) ``python -m repro robustness CONFIG CKPT --data FOLDER --force`` with
  its defaults; its ``timing.json`` gives the analysis item's share of the report.

Phases (wall seconds, ``time.perf_counter`` around the functions, no nesting between them):
model forward passes (``repro.scoring.inference.predict``, mmseg preprocessing included), perturbation
kernels (``repro.perturb.functional.apply``), feature extraction (the extractor's ``forward``, the
hook's memo included), KID maths (``repro.analysis.kid.kid_result``), mIoU bootstrap
(``repro.scoring.metrics.bootstrap_miou_se``), confusion matrices (``repro.scoring.metrics.per_image_matrices``),
other (the rest: level fitting, data moves, pandas).

Share of the run = analysis event / (training + analysis event + refreshes), the refreshes being
those :func:`repro.train.hooks.event_iterations` schedules for the hook's defaults after the
analysis. The load (``/proc/loadavg``) is recorded before and after each measurement.

    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_analysis_cost.py \\
        --work /tmp/bench_analysis_cost --label after --report --json benchmarks/results/bench_analysis_cost.jsonl
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # after PYTHONPATH: a copy of another commit can be measured

H, W = 280, 290


def load() -> str:
    """The 1-, 5- and 15-minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "n/a"


# ----------------------------------------------------------------------------- data and config
def write_vessels(root: Path, n: int = 20, seed: int = 0) -> Path:
    """``n`` RGB images H×W with thin bright curves ("vessels", class 1) on a textured background (class 0).

    Background: smooth noise (sum of 6 random low-frequency cosines, 40-110 grey levels) plus pixel noise
    (σ = 6); vessels: 4-9 curves ``y = y0 + a·sin(2π f x / W + φ)`` (or transposed), 1-3 px half-width,
    intensity 150-230. Every number comes from ``numpy.random.default_rng(seed)``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        bg = np.zeros((H, W))
        for _ in range(6):
            fx, fy = rng.uniform(0.5, 4.0, 2)
            bg += np.cos(2 * np.pi * (fx * xx / W + fy * yy / H) + rng.uniform(0, 2 * np.pi))
        bg = 75 + 35 * bg / np.abs(bg).max()
        img = np.repeat(bg[..., None], 3, axis=2) * rng.uniform(0.8, 1.2, 3) + rng.normal(0, 6, (H, W, 3))
        lab = np.zeros((H, W), dtype=np.uint8)
        for _ in range(int(rng.integers(4, 10))):
            a, f, ph, width = rng.uniform(10, 60), rng.uniform(0.3, 2.0), rng.uniform(0, 2 * np.pi), rng.uniform(1, 3)
            if rng.random() < 0.5:
                centre = rng.uniform(0, H) + a * np.sin(2 * np.pi * f * xx / W + ph)
                dist = np.abs(yy - centre)
            else:
                centre = rng.uniform(0, W) + a * np.sin(2 * np.pi * f * yy / H + ph)
                dist = np.abs(xx - centre)
            on = dist <= width
            lab[on] = 1
            img[on] = rng.uniform(150, 230) * (1 - 0.3 * dist[on, None] / width)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / "images" / f"v{i:02d}.png")
        Image.fromarray(lab).save(root / "labels" / f"v{i:02d}.png")
    return root


def config_text(data: Path, work: Path, iters: int, batch: int) -> str:
    """The user's plain MMSegmentation config (Fast-SCNN, 2 classes), without the method's additions."""
    return textwrap.dedent(f"""\
        custom_imports = dict(imports=['repro.train'], allow_failed_imports=False)
        default_scope = 'mmseg'
        crop_size = (256, 256)
        norm_cfg = dict(type='BN', requires_grad=True)
        model = dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                                   std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
                                   size=crop_size),
            backbone=dict(type='FastSCNN', norm_cfg=norm_cfg),
            decode_head=dict(type='DepthwiseSeparableFCNHead', in_channels=128, channels=128, concat_input=False,
                             num_classes=2, in_index=-1, norm_cfg=norm_cfg,
                             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
            train_cfg=dict(), test_cfg=dict(mode='whole'))
        dataset = dict(type='BaseSegDataset', data_root={str(data)!r}, img_suffix='.png', seg_map_suffix='.png',
                       data_prefix=dict(img_path='images', seg_map_path='labels'),
                       metainfo=dict(classes=('background', 'vessel'), palette=[[0, 0, 0], [255, 255, 255]]))
        train_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                          dict(type='RandomCrop', crop_size=crop_size), dict(type='RandomFlip', prob=0.5),
                          dict(type='PackSegInputs')]
        test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
        train_dataloader = dict(batch_size={batch}, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
                                dataset=dict(dataset, pipeline=train_pipeline))
        val_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                              dataset=dict(dataset, pipeline=test_pipeline))
        val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
        test_dataloader = val_dataloader
        test_evaluator = val_evaluator
        train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, val_interval={iters + 1})
        val_cfg = dict(type='ValLoop')
        test_cfg = dict(type='TestLoop')
        optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=4e-5))
        default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval={iters}),
                             logger=dict(type='LoggerHook', interval=100))
        randomness = dict(seed=0)
        log_level = 'WARNING'
        work_dir = {str(work)!r}
        """)


def train(work: Path, iters: int, batch: int) -> dict:
    """Train the user's config (timed) unless ``work/train.json`` says it was; returns that record."""
    rec_path = work / "train.json"
    if rec_path.exists():
        return json.loads(rec_path.read_text())
    data = write_vessels(work / "vessels")
    cfg_file = work / "fastscnn_vessels.py"
    cfg_file.write_text(config_text(data, work / "run", iters, batch))
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    import repro.train  # noqa: F401  (mmcv.ops stand-in, registries)

    l0 = load()
    runner = Runner.from_cfg(Config.fromfile(str(cfg_file)))
    t0 = time.perf_counter()
    runner.train()
    wall = time.perf_counter() - t0
    rec = {"iters": iters, "batch": batch, "crop": [256, 256], "train_s": wall, "load_before": l0,
           "load_after": load(), "threads": torch.get_num_threads(), "date": str(datetime.date.today()),
           "checkpoint": str(work / "run" / f"iter_{iters}.pth"), "config": str(cfg_file), "data": str(data)}
    rec_path.write_text(json.dumps(rec, indent=1))
    return rec


# ----------------------------------------------------------------------------- phases
class Phases:
    """Wall seconds per phase: ``with Phases() as ph:`` wraps the phase functions (module attributes and the
    extractor's ``forward``) with ``time.perf_counter`` and restores them on exit; ``ph.seconds``."""

    def __init__(self, extractor=None):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._undo: list = []
        self._ext = extractor

    def _wrap(self, owner, attr: str, phase: str) -> None:
        fn = getattr(owner, attr)

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.seconds[phase] += time.perf_counter() - t
                self.calls[phase] += 1

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, fn, attr in vars(owner) if not isinstance(owner, type(sys)) else True))

    def __enter__(self):
        import repro.scoring.inference
        import repro.analysis.kid
        import repro.scoring.metrics
        import repro.perturb.functional

        self._wrap(repro.scoring.inference, "predict", "model forward")
        self._wrap(repro.perturb.functional, "apply", "perturbation")
        self._wrap(repro.analysis.kid, "kid_result", "KID")
        self._wrap(repro.scoring.metrics, "bootstrap_miou_se", "mIoU bootstrap")
        self._wrap(repro.scoring.metrics, "per_image_matrices", "confusion matrices")
        if self._ext is not None:
            self._wrap(self._ext, "forward", "features")
        return self

    def __exit__(self, *exc):
        for owner, attr, fn, own in reversed(self._undo):
            if own:
                setattr(owner, attr, fn)
            else:
                delattr(owner, attr)
        return False


class _Runner:
    """What ``SensitivityHook._compute_payload`` reads of a runner: its model and logger."""

    def __init__(self, model):
        import logging

        self.model = model
        self.logger = logging.getLogger("bench_analysis_cost")


def hook_events(rec: dict, label: str) -> dict:
    """Time the hook's analysis event (phases) and one refresh on the trained model."""
    import torch
    from mmengine.config import Config

    import repro.train  # noqa: F401
    from repro.train.hooks import SensitivityHook, event_iterations
    from repro.robustness.mmseg import load_segmentor

    model = load_segmentor(rec["config"], rec["checkpoint"]).eval()
    cfg = Config.fromfile(rec["config"])
    hook = SensitivityHook(subset=8, num_analyses=1)  # the user's hook: one analysis on 8 images, defaults
    val = cfg.val_dataloader.dataset.to_dict()
    val.pop("pipeline", None)
    hook.dataset_cfg = val
    ana, ref = event_iterations(rec["iters"], hook.num_analyses, hook.num_refreshes, final_refresh=hook.final_refresh)
    at = ana[0]
    n_ref = len([i for i in ref if i > at])
    hook._load_data(2)  # data loading is not the analysis' cost (the hook loads once per run)
    runner = _Runner(model)
    hook._ensure_extractor(runner, torch.device("cpu"))
    out = {"label": label, "load_before": load(), "threads": torch.get_num_threads(), "analysis_iter": at,
           "refreshes_after": n_ref}
    with Phases(hook._extractor) as ph, torch.no_grad():
        t0 = time.perf_counter()
        pay = hook._compute_payload(runner, "analysis", at)
        out["analysis_event_s"] = time.perf_counter() - t0
    out["phases_s"] = {k: round(v, 3) for k, v in ph.seconds.items()}
    out["phases_s"]["other"] = round(out["analysis_event_s"] - sum(ph.seconds.values()), 3)
    out["calls"] = dict(ph.calls)
    out["n_evaluations"] = pay["n_evaluations"]
    out["levels"] = pay["levels"]
    out["clean_miou"] = pay["clean_miou"]
    out["extractor"] = pay["extractor"]
    hook.levels = pay["levels"]
    t0 = time.perf_counter()
    hook._compute_payload(runner, "refresh", ref[-1])
    out["refresh_s"] = time.perf_counter() - t0
    out["load_after"] = load()
    run_s = rec["train_s"] + out["analysis_event_s"] + n_ref * out["refresh_s"]
    out["run_s"] = run_s
    out["analysis_share_of_run"] = out["analysis_event_s"] / run_s
    return out


def report(rec: dict, work: Path, label: str) -> dict:
    """``python -m repro robustness`` on the trained model (``--force``), its analysis item's share."""
    from repro.cli import main

    out_dir = work / f"report_{label}"
    l0 = load()
    t0 = time.perf_counter()
    rc = main(["robustness", rec["config"], rec["checkpoint"], "--data", rec["data"], "--out", str(out_dir), "--force"])
    wall = time.perf_counter() - t0
    timing = json.loads((out_dir / "timing.json").read_text())
    sa = sum(v for k, v in timing["items_s"].items() if "/sensitivity/" in k)
    rep = json.loads((out_dir / "report.json").read_text())
    return {"rc": rc, "report_s": wall, "report_total_s": timing["total_s"], "report_analysis_s": sa,
            "analysis_share_of_report": sa / timing["total_s"], "load_before": l0, "load_after": load(),
            "report_levels": (rep.get("sensitivity") or {}).get("levels")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/bench_analysis_cost", help="folder of the data, run and reports")
    ap.add_argument("--iters", type=int, default=600)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--label", default="now", help="name of this measurement (before/after)")
    ap.add_argument("--report", action="store_true", help="also time a robustness report")
    ap.add_argument("--report-only", action="store_true", help="time the report only (not the hook's events)")
    ap.add_argument("--json", default=None, help="append the record (one JSON line) to this file")
    a = ap.parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    # a fresh cache folder: the report's analysis is cached by analyse() itself (--force does not reach it)
    os.environ["REPRO_CACHE_DIR"] = str(work / "cache" / f"{a.label}-{time.time_ns()}")
    rec = train(work, a.iters, a.batch)
    print(json.dumps({k: rec[k] for k in ("iters", "batch", "train_s", "load_before", "load_after", "threads")}),
          flush=True)
    out = {"train": rec, **(hook_events(rec, a.label) if not a.report_only else {"label": a.label})}
    print(json.dumps({k: v for k, v in out.items() if k not in ("train", "levels")}), flush=True)
    if a.report or a.report_only:
        import repro.base.paths

        assert Path(repro.base.paths.CACHE_DIR).resolve() == Path(os.environ["REPRO_CACHE_DIR"]).resolve(), repro.base.paths.CACHE_DIR
        out["report"] = report(rec, work, a.label)
        print(json.dumps({k: v for k, v in out["report"].items() if k != "report_levels"}), flush=True)
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
