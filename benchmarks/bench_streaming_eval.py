"""Peak memory and speed of a robustness report at the paper's image size: stacked split (before) vs
streamed (after), one process vs two (torchrun, gloo, CPU).

Writes a synthetic on-disk dataset of ``--width``×``--height`` JPEG images with PNG labels of 3
classes once under ``--root`` (reused by later runs), then runs, each in a fresh process,
:func:`repro.robustness.robustness_report` of a tiny model (a seeded 1×1 convolution RGB → 3 logits)
on ``--sizes`` images with one item of each of ``--suites`` (default ``clean`` and ``imagenet_c``
jpeg_compression severity 3, the suite that cached whole splits; also ``basis_aug`` gaussian_noise α=0.6,
``advsteer`` combination 3); no sensitivity analysis and no KID: the data flow is what is measured,
not the model. ``before`` runs the package as of
``--before`` (default: the commit before streaming, extracted with ``git archive`` into a temporary
folder); sizes whose stacked split would not fit in ``--before-max-gb`` are skipped and say so.
Peak RSS is ``ru_maxrss`` of each rank's process (DataLoader workers excluded; ``--workers 0`` by
default so that everything is read in the measured process); images/s counts every image scored
by every item (items × images / wall time of the report, process start excluded).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_streaming_eval.py --sizes 16,64,256
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))

#: one item per suite: basis_aug gaussian_noise α=0.6, imagenet_c jpeg_compression severity 3, advsteer combination 3
SUITES = ("clean", "basis_aug", "imagenet_c", "advsteer")

RUN = r'''
import hashlib, json, os, resource, sys, time
import torch
sys.path.insert(0, sys.argv[1])
from repro import robustness as rb
from repro.data import FolderDataset
data_dir, out, workers, suites = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5].split(",")
try:
    from repro.base import distributed
    distributed.init_from_env()
    rank, extra = distributed.rank(), {"num_workers": workers}
except ImportError:  # the package before streaming
    rank, extra = 0, {}
ds = FolderDataset(f"{data_dir}/images", f"{data_dir}/labels", ("a", "b", "c"), name=os.path.basename(data_dir))
g = torch.Generator().manual_seed(0)
model = torch.nn.Conv2d(3, 3, 1)
with torch.no_grad():
    model.weight.copy_(torch.randn(model.weight.shape, generator=g))
    model.bias.copy_(torch.randn(3, generator=g))
t0 = time.perf_counter()
rep = rb.robustness_report(model, ds, suites=suites, out=out,
                           types=["gaussian_noise"], magnitudes=(0.6,), corruptions=["jpeg_compression"],
                           severities=(3,), combinations=(3,), kid_severities=(), batch_size=4, render=False,
                           progress=False, force=True, **extra)
wall = time.perf_counter() - t0
open(f"{out}.rank{rank}.json", "w").write(json.dumps({"rank": rank, "wall_s": wall, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                              "clean_miou": rep["suites"]["clean"]["rows"][0]["mIoU"],
                              "suites_sha1": hashlib.sha1(json.dumps(rep["suites"], sort_keys=True).encode()).hexdigest()}))
print("done", rank)
'''


_ITEM_NAMES = {"clean": "clean", "basis_aug": "basis_aug gaussian_noise α=0.6",
               "imagenet_c": "imagenet_c jpeg_compression s=3", "advsteer": "advsteer 3"}


def make_dataset(root: Path, n: int, width: int, height: int) -> Path:
    """``root/n<n>`` with ``n`` JPEG images and PNG labels (written once; image i seeded with i)."""
    import numpy as np
    from PIL import Image

    out = root / f"n{n}_{width}x{height}"
    if (out / "done").is_file():
        return out
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(n):
        rng = np.random.default_rng(i)
        lab = ((xx // (64 + 8 * (i % 5)) + yy // 96 + i) % 3).astype(np.uint8)
        img = np.empty((height, width, 3), np.uint8)
        for c in range(3):
            img[..., c] = (60 + 60 * ((lab + c) % 3) + rng.integers(0, 40, (height, width))).astype(np.uint8)
        Image.fromarray(img).save(out / "images" / f"im{i:04d}.jpg", quality=90)
        Image.fromarray(lab).save(out / "labels" / f"im{i:04d}.png")
    (out / "done").write_text("")
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(code_root: Path, data: Path, nproc: int, workers: int, suites: str) -> dict:
    """One report in fresh process(es); the maximum over ranks of wall time and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "run.py"
        script.write_text(RUN)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "REPRO_DIST_BACKEND": "gloo", "TQDM_DISABLE": "1",
               "REPRO_CACHE_DIR": str(Path(tmp) / "cache")}
        args = [str(code_root), str(data), str(Path(tmp) / "report"), str(workers), suites]
        cmd = [sys.executable, str(script), *args] if nproc == 1 else [
            sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(nproc),
            "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), str(script), *args]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{cmd}: exit {p.returncode}\n{p.stderr[-3000:]}")
        res = [json.loads(f.read_text()) for f in sorted(Path(tmp).glob("report.rank*.json"))]
    return {"wall_s": max(r["wall_s"] for r in res), "maxrss_mb": max(r["maxrss_mb"] for r in res),
            "sum_rss_mb": sum(r["maxrss_mb"] for r in res), "clean_miou": res[0]["clean_miou"], "ranks": len(res),
            "suites_sha1": {r["suites_sha1"] for r in res}}


def main(argv=None) -> int:
    from _report import write_report

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="16,64,256")
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--root", default="/tmp/bench_streaming_eval")
    ap.add_argument("--before", default="c58024f", help="commit of the package before streaming ('' to skip)")
    ap.add_argument("--before-max-gb", type=float, default=6.0,
                    help="skip 'before' where the stacked split (float images + int64 labels) exceeds this")
    ap.add_argument("--procs", default="1,2", help="process counts of the streamed runs")
    ap.add_argument("--two-process-sizes", default=None, help="sizes run with more than one process (default all)")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--suites", default="clean,imagenet_c",
                    help=f"comma-separated from {','.join(SUITES)}, one item each (see the module docstring)")
    ap.add_argument("--out", default=str(RESULTS / "bench_streaming_eval.md"))
    a = ap.parse_args(argv)
    sizes = [int(v) for v in a.sizes.split(",")]
    suites = [x for x in a.suites.split(",") if x]
    if not suites or [x for x in suites if x not in SUITES]:
        ap.error(f"--suites: expected names from {','.join(SUITES)}, got {a.suites!r}")
    n_items = len(suites)
    procs = [int(v) for v in a.procs.split(",")]
    multi_sizes = sizes if a.two_process_sizes is None else [int(v) for v in a.two_process_sizes.split(",")]
    root = Path(a.root)
    t0 = time.perf_counter()
    data = {n: make_dataset(root, n, a.width, a.height) for n in sizes}
    gen_s = time.perf_counter() - t0
    rows, notes = [], []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as old:
        if a.before:
            subprocess.run(f"git -C {ROOT} archive {a.before} repro | tar -x -C {old}", shell=True, check=True)
        for n in sizes:
            stacked_gb = n * a.width * a.height * (3 * 4 + 8) / 1e9
            if a.before and stacked_gb <= a.before_max_gb:
                r = run(Path(old), data[n], 1, 0, ",".join(suites))
                rows.append(("before (stacked)", n, 1, r))
                print(rows[-1], flush=True)
            elif a.before:
                notes.append(f"before at {n} images skipped: the stacked split alone is {stacked_gb:.1f} GB "
                             f"(float32 images + int64 labels), over --before-max-gb {a.before_max_gb:g}")
            for k in procs:
                if k > 1 and n not in multi_sizes:
                    continue
                rows.append(("after (streamed)", n, k, run(ROOT, data[n], k, a.workers, ",".join(suites))))
                print(rows[-1], flush=True)
    load_after = os.getloadavg()
    lines = ["# Robustness report at the paper's image size: stacked vs streamed, 1 vs 2 processes "
             "(benchmarks/bench_streaming_eval.py)", "",
             f"Synthetic on-disk dataset of {a.width}×{a.height} JPEG images (PNG labels, 3 classes); a report with "
             f"the items {', '.join(_ITEM_NAMES[x] for x in suites)}, "
             f"batch size 4, a 1×1-convolution model, `OMP_NUM_THREADS=1`, `--workers {a.workers}`, "
             "gloo on loopback for 2 processes. Each row a fresh run (process start excluded from the time). "
             f"Peak RSS: `ru_maxrss` of a rank's process (max over ranks; sum in brackets). images/s = "
             f"{n_items} items × images / wall time. Before = package at `{a.before}` (whole split stacked). "
             "SHA-1 of all scores: of the report's `suites` (every row of every item; equal hashes, equal "
             "numbers bit for bit; one per rank).", "",
             "| data flow | images | processes | wall (s) | images/s | peak RSS (MB) | clean mIoU | SHA-1 of all scores |",
             "|---|---|---|---|---|---|---|---|"]
    for what, n, k, r in rows:
        rss = f"{r['maxrss_mb']:.0f}" + (f" ({r['sum_rss_mb']:.0f})" if k > 1 else "")
        lines.append(f"| {what} | {n} | {k} | {r['wall_s']:.1f} | {n_items * n / r['wall_s']:.2f} | {rss} | "
                     f"{r['clean_miou']:.4f} | {','.join(sorted(h[:12] for h in r['suites_sha1']))} |")
    after1 = {n: r for what, n, k, r in rows if what.startswith("after") and k == 1}
    if len(after1) > 1:
        lo, hi = min(after1), max(after1)
        lines += ["", f"Streamed, 1 process: peak RSS at {hi} images / at {lo} images = "
                      f"{after1[hi]['maxrss_mb'] / after1[lo]['maxrss_mb']:.2f}."]
    lines += [""] + [f"- {x}" for x in notes]
    lines += [f"- machine: {os.cpu_count()} cores shared with other jobs; load average (1, 5, 15 min) "
              f"{load_before[0]:.2f}, {load_before[1]:.2f}, {load_before[2]:.2f} at the start and "
              f"{load_after[0]:.2f}, {load_after[1]:.2f}, {load_after[2]:.2f} at the end; data written in "
              f"{gen_s:.0f} s (0 when reused)"]
    return write_report(lines, a.out)


if __name__ == "__main__":
    sys.exit(main())
