"""KID speed and exactness: ours (``repro.analysis.kid.kid``) vs torchmetrics 1.9.0; extractor throughput.

Run:  python benchmarks/bench_kid.py [--n 2000] [--d 2048] [--subsets 100] [--subset-size 1000]
                                      [--threads 2] [--images 32] [--skip-torchmetrics-float32]

Part 1 — KID on identical precomputed random features (``n`` rows per side, ``d`` columns,
uniform [0, 1) for X and shifted by +0.02 for Y, seeded), ``subsets`` subsets of
``subset_size``.  Ours: three Gram matrices once, per-subset sums through indicator vectors,
float64.  torchmetrics: ``KernelInceptionDistance(feature=nn.Identity())`` fed the same
features; its ``compute()`` draws subsets with ``torch.randperm`` on the global RNG and does
three matrix products per subset.  ``repro.analysis.kid.kid_subset_indices`` makes the same sequence of
``randperm`` calls on a generator seeded with ``seed``, so with the global RNG seeded alike both
libraries use identical subsets and must return identical values.  Both are also run with one
subset of the full size (a permutation: the full-sample unbiased MMD²).
torchmetrics is run on float64 features (same arithmetic as ours) and, for reference, on
float32 features (its usual dtype; less accurate).  Times are one run each (wall clock).

Part 2 — feature extraction time per image for each offline extractor on CPU, on CamVid val
images (240×180) at batch 16 (best of 2 runs after a warm-up batch).  ``inception`` (the FID
weights) has the same architecture and cost as ``inception-random``.

Writes the Markdown table to ``benchmarks/results/bench_kid.md``.  The machine's CPU may be
shared with other processes; the table says how many threads were used.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from repro.analysis import kid as K  # noqa: F401
from repro.analysis.features import extractor  # noqa: F401


def _torchmetrics_kid(x, y, subsets, subset_size, seed=0):
    from torchmetrics.image.kid import KernelInceptionDistance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric = KernelInceptionDistance(feature=nn.Identity(), subsets=subsets, subset_size=subset_size)
    metric.update(x, real=True)
    metric.update(y, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # benchmark script, not library code: seeds torchmetrics' draw
        t = time.perf_counter()
        mean, std = metric.compute()
        dt = time.perf_counter() - t
    return float(mean), float(std), dt


def _ours(x, y, subsets, subset_size):
    t = time.perf_counter()
    mean, std = K.kid(x, y, subsets=subsets, subset_size=subset_size, seed=0)
    return mean, std, time.perf_counter() - t


def bench_kid(n, d, subsets, subset_size, f32=True):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, d, generator=g, dtype=torch.float64)
    y = torch.rand(n, d, generator=g, dtype=torch.float64) + 0.02
    rows = []
    m_o, s_o, t_o = _ours(x, y, subsets, subset_size)
    m_t, s_t, t_t = _torchmetrics_kid(x, y, subsets, subset_size)
    rows.append(("ours (float64)", f"{subsets}×{subset_size}", m_o, s_o, t_o))
    rows.append(("torchmetrics (float64 features)", f"{subsets}×{subset_size}", m_t, s_t, t_t))
    if f32:
        m_3, s_3, t_3 = _torchmetrics_kid(x.float(), y.float(), subsets, subset_size)
        rows.append(("torchmetrics (float32 features)", f"{subsets}×{subset_size}", m_3, s_3, t_3))
    e_o, _, te_o = _ours(x, y, 1, n)
    e_t, _, te_t = _torchmetrics_kid(x, y, 1, n)
    rows.append(("ours, 1 subset of n (exact check)", f"1×{n}", e_o, 0.0, te_o))
    rows.append(("torchmetrics, 1 subset of n (exact check)", f"1×{n}", e_t, 0.0, te_t))
    return rows, t_t / t_o, (t_3 / t_o if f32 else None), abs(m_o - m_t) / abs(m_t), abs(e_o - e_t) / abs(e_t)


def bench_extractors(threads, n_images, batch=16):
    from repro.data import load_dataset

    ds = load_dataset("camvid", "val")
    images, _ = ds.batch(range(min(n_images, len(ds))))
    rows = []
    for name in ("inception-random", "resnet18-random"):
        t = time.perf_counter()
        ext = extractor(name)
        build = time.perf_counter() - t
        ext(images[:batch])  # warm-up
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            for s in range(0, images.shape[0], batch):
                f = ext(images[s:s + batch])
            best = min(best, time.perf_counter() - t)
        rows.append((name, ext.tag, int(f.shape[1]), ext.input_size, 1000 * best / images.shape[0], build))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--subsets", type=int, default=100)
    ap.add_argument("--subset-size", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=32, help="images per extractor timing")
    ap.add_argument("--skip-torchmetrics-float32", action="store_true")
    ap.add_argument("--skip-extractors", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_kid.md"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0]

    rows, speedup, speedup32, rel_sub, rel = bench_kid(args.n, args.d, args.subsets, args.subset_size,
                                   f32=not args.skip_torchmetrics_float32)
    lines = [f"# KID benchmark (n = {args.n} per side, d = {args.d}; CPU, {args.threads} threads, "
             f"torch {torch.__version__}, {platform.machine()})", "",
             f"1-minute load average at start: {load_start:.1f} on {os.cpu_count()} cores (other "
             "processes share the CPU: absolute times are inflated when it exceeds the core count; "
             "the speed-up compares runs made back to back).", "",
             "| implementation | subsets × size | KID mean | KID std | wall time (s) |",
             "|---|---|---|---|---|"]
    for name, sub, m, s, t in rows:
        lines.append(f"| {name} | {sub} | {m:.10g} | {s:.4g} | {t:.2f} |")
    s32 = f" ({speedup32:.1f}× over torchmetrics on float32 features)" if speedup32 else ""
    lines += ["", f"Speed-up of ours over torchmetrics (float64, {args.subsets}×{args.subset_size}): "
                  f"**{speedup:.1f}×**{s32}.  Same subsets (torchmetrics' global RNG seeded with our "
                  f"seed): relative difference of the means {rel_sub:.1e}; one subset of all {args.n} "
                  f"rows: {rel:.1e}.", ""]
    if not args.skip_extractors:
        load_ext = os.getloadavg()[0]
        ext_rows = bench_extractors(args.threads, args.images)
        lines += [f"## Feature extraction on CPU ({args.threads} threads, CamVid 240×180, batch 16; "
                  f"load average {load_ext:.1f})", "",
                  "| extractor | tag | d | input size | ms / image | build (s) |", "|---|---|---|---|---|---|"]
        for name, tag, d, size, ms, build in ext_rows:
            lines.append(f"| {name} | `{tag}` | {d} | {size}×{size} | {ms:.0f} | {build:.1f} |")
        lines += ["", "`inception` (standard FID weights from a local file) has the architecture and "
                      "cost of `inception-random`.", ""]
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"wrote {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    main()
