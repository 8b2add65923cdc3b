"""How long one SensitivityHook event takes at the ``paper`` settings, and whether it fits in the
process group's timeout (issue 13: DDP at scale).

No GPU was lent to the session that wrote this, so the event time is EXTRAPOLATED, and says so:

1. evaluations per type: the adaptive analysis at the ``paper`` settings (tolerance 0.05, no
   budget, L = 5) run for real on the ``cpu`` protocol's warm start (16 CamVid val images, its
   frozen encoder's KID features) -- the real curves of a trained model;
2. per-image forward time of the ``paper`` models (PSPNet-R50-D8, SegFormer-b0, random weights: the
   time does not depend on them) and of the offline KID extractor, measured on this machine's CPU
   at the ``paper`` analysis resolution of Cityscapes (2048×1024 × ``size_factor`` 0.5 = 1024×512);
3. forward passes of one event at the ``paper`` hook settings (100 images, 24 types,
   ``measure_levels``: 24 × 5 levels re-measured after an analysis; a refresh: 24 × 5 levels);
4. event time = forward passes × per-image time, on this CPU (measured) and on one V100
   (projected from MMSegmentation's model-zoo inference speed of the same model on Cityscapes,
   scaled by the number of pixels -- a projection, not a measurement); the time of the slowest
   rank when the types are split between W ranks (``SensitivityHook(shard=True)``:
   ``ceil(24 / W)`` types per rank).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_event_time.py [--out benchmarks/results/bench_event_time.md]
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from _report import write_report  # noqa: E402  (benchmarks/ is on sys.path when a script runs)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# MMSegmentation model zoo, Cityscapes, inference on one V100 at 2048×1024 ("whole" mode):
# PSPNet R-50-D8 512x1024 40k: 4.07 img/s (configs/pspnet/README.md); used only for the projection
V100_FPS_FULLRES = {"pspnet_r50": 4.07}
FULLRES_PIXELS = 2048 * 1024


def _git() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "n/a"


def evaluations_per_type(tol: float) -> tuple[float, int, float]:
    """Mean ASA evaluations per type (budget unlimited) on the cpu protocol's warm start; (mean, total, seconds)."""
    from repro.paper import experiments
    from repro.analysis import sensitivity
    from repro.data import load_dataset

    model, _ = experiments.baseline_model("fastscnn", profile="cpu")
    ext = experiments.offline_extractor("warm-start", model="fastscnn", profile="cpu")
    ds = load_dataset("camvid", "val")
    t0 = time.perf_counter()
    df = sensitivity.analyse(model, ds, "all", subset=16, extractor=ext, method="adaptive", num_levels=5, tol=tol,
                             budget=None, seed=0, batch_size=16, progress=False, warn=False)
    n = int(df.attrs["n_evaluations"])
    return n / 24, n, time.perf_counter() - t0


def forward_seconds(model: str, size=(512, 1024), reps: int = 2) -> float:
    """CPU seconds per image (wall clock, batch 1, after one warm-up pass) of a paper model at ``size`` (H, W)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import repro.train as T
    from repro.scoring.inference import predict

    cfg = T.build_config(model=model, method="baseline", dataset="camvid", profile="paper", pretrained=None)
    init_default_scope("mmseg")
    net = MODELS.build(cfg.model).eval()
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        predict(net, x)
        t0 = time.perf_counter()
        for _ in range(reps):
            predict(net, x)
    return (time.perf_counter() - t0) / reps


def extractor_seconds(size=(512, 1024), reps: int = 2) -> tuple[str, float]:
    from repro.analysis import features

    ext = features.extractor("auto", device="cpu")
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ext(x)
        t0 = time.perf_counter()
        for _ in range(reps):
            ext(x)
    return ext.tag, (time.perf_counter() - t0) / reps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=100, help="analysis subset of the paper profile")
    ap.add_argument("--levels", type=int, default=5)
    ap.add_argument("--tol", type=float, default=0.05)
    ap.add_argument("--out", default=None, help="write the report (markdown) here")
    a = ap.parse_args(argv)
    lines = [f"# One SensitivityHook event at the `paper` settings (benchmarks/bench_event_time.py)", "",
             f"{datetime.date.today()}, commit {_git()}, torch threads {torch.get_num_threads()}, "
             f"load before {_load()}.", ""]

    e_type, e_total, e_s = evaluations_per_type(a.tol)
    lines.append(f"- ASA at tol {a.tol}, no budget, on the cpu protocol's warm start (16 images, real curves): "
                 f"{e_total} evaluations for 24 types = {e_type:.2f} per type ({e_s:.0f} s).")
    ext_tag, ext_s = extractor_seconds()
    lines.append(f"- KID extractor `{ext_tag}` (what `extractor=\"auto\"` gives without the Inception file): "
                 f"{ext_s:.3f} s per 1024×512 image on this CPU.")
    n, L = a.images, a.levels
    analysis_model = n * (1 + 24 * e_type) + n * 24 * L   # clean + ASA evaluations + measure_levels
    analysis_ext = n * (1 + 24 * e_type)
    refresh_model = n * (1 + 24 * L)
    lines += [f"- Forward passes of one event ({n} images, 24 types, L = {L}): analysis {analysis_model:.0f} model + "
              f"{analysis_ext:.0f} extractor, refresh {refresh_model:.0f} model.", "",
              "| model | CPU s/image (1024×512) | analysis event, CPU | refresh, CPU | V100 s/image (projected) | "
              "analysis event, 1 V100 (projected) | slowest rank, 8 V100, sharded |",
              "|---|---|---|---|---|---|---|"]
    for model in ("pspnet_r50", "segformer_b0"):
        s = forward_seconds(model)
        cpu_event = analysis_model * s + analysis_ext * ext_s
        cpu_refresh = refresh_model * s
        if model in V100_FPS_FULLRES:
            g = 1.0 / (V100_FPS_FULLRES[model] * FULLRES_PIXELS / (512 * 1024))
            gpu_event = analysis_model * g  # the extractor's share is left out of the projection (small on a GPU)
            shard = gpu_event * math.ceil(24 / 8) / 24
            gpu = (f"{g:.3f} | {gpu_event / 60:.1f} min | {shard / 60:.1f} min")
        else:
            gpu = "n/a | n/a | n/a"
        lines.append(f"| {model} | {s:.2f} | {cpu_event / 3600:.1f} h | {cpu_refresh / 3600:.1f} h | {gpu} |")
        print(lines[-1], flush=True)
    lines += ["", f"Load after: {_load()}.", "",
              "Process-group timeouts in this torch: NCCL 10 min (`torch.distributed.constants.default_pg_nccl_timeout`), "
              "gloo 30 min; mmengine keeps them unless `env_cfg.dist_cfg.timeout` is set. An unsharded event "
              "(rank 0 computes, the others wait in a broadcast) longer than that ends the job; sharded, every rank "
              "computes ceil(24 / W) types and the wait is the imbalance between ranks."]
    return write_report(lines, a.out)


if __name__ == "__main__":
    raise SystemExit(main())
