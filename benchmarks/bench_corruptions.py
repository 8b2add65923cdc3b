"""CPU time per image of the 19 ImageNet-C corruptions: ``repro.evaluation.corruptions.imagenet_c`` vs ``imagecorruptions``.

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_corruptions.py [--rounds 3] [--severity 3] [--size 180x240]
      [--names glass_blur,zoom_blur] [--out benchmarks/results/bench_corruptions.md [--append]]

Setting: one CamVid ``test`` image (240×180, the report's data; a seeded synthetic image if the
data are missing) resized to ``--size`` (H×W), severity ``--severity``. Ours: ``imagenet_c`` on a
1×3×H×W float tensor with its label (labels moved for glass_blur / elastic_transform; the uint8
round trip and the label handling are timed too). Reference: ``imagecorruptions.corrupt`` (1.1.2,
through :mod:`repro.base.compat.imagecorruptions`) on the H×W×3 uint8 array, image only. Both on one
thread (``torch.set_num_threads(1)``, ``OMP_NUM_THREADS=1``). Time: ``time.process_time`` (CPU time
of this process, so other processes on a shared machine do not inflate it), rounds interleaved
(round r runs every corruption once with ours and once with the reference, in alternating order)
after one warm-up call each; the table gives the median over rounds and the ratio.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from repro.evaluation import corruptions as corrupt  # noqa: F401
from repro.base.compat import imagecorruptions as compat  # noqa: F401


def _image(h: int, w: int):
    try:
        from repro.data import load_dataset

        x, y = load_dataset("camvid", "test").batch([0])
        src = "CamVid test image 0"
    except Exception:  # data missing: a seeded synthetic image
        g = torch.Generator().manual_seed(0)
        x, y = torch.rand(1, 3, 180, 240, generator=g), torch.randint(0, 11, (1, 180, 240), generator=g)
        src = "synthetic image (seed 0)"
    if x.shape[-2:] != (h, w):
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)
        y = torch.nn.functional.interpolate(y[:, None].float(), size=(h, w), mode="nearest")[:, 0].long()
        src += f", resized to {h}×{w}"
    return x, y, src


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--severity", type=int, default=3)
    p.add_argument("--size", default="180x240", help="H×W in pixels, e.g. 180x240 or 427x640")
    p.add_argument("--names", default=None, help="comma-separated corruptions (default: all 19)")
    p.add_argument("--out", default=None, help="also write the table here (markdown)")
    p.add_argument("--append", action="store_true", help="append to --out instead of replacing it")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    h, w = (int(v) for v in a.size.lower().split("x"))
    names = a.names.split(",") if a.names else list(corrupt.IMAGENET_C)
    x, y, src = _image(h, w)
    arr = (x[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    compat.module()

    def ours(name):
        corrupt.imagenet_c(x, y, name, a.severity, seed=[1])

    def ref(name):
        saved = np.random.get_state()
        np.random.seed(1)
        try:
            compat.corrupt(arr, a.severity, name)
        finally:
            np.random.set_state(saved)

    def cpu(f, name):
        t = time.process_time()
        f(name)
        return time.process_time() - t

    for n in names:  # warm-up (imports, frost files, caches)
        ours(n)
        ref(n)
    times = {n: {"ours": [], "ref": []} for n in names}
    for r in range(a.rounds):
        for n in names:
            order = (("ours", ours), ("ref", ref)) if r % 2 == 0 else (("ref", ref), ("ours", ours))
            for k, f in order:
                times[n][k].append(cpu(f, n))
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"] * 3
    lines = [f"## ImageNet-C corruptions at {h}×{w}: CPU time per image, ours vs imagecorruptions 1.1.2", "",
             f"{src}; severity {a.severity}; {a.rounds} interleaved rounds, median CPU seconds "
             f"(`time.process_time`), one thread (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
             f"torch threads {torch.get_num_threads()}); {platform.processor() or platform.machine()}, "
             f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}. "
             f"Load average at the end: {' '.join(load)} (shared machine; CPU time is per process).", "",
             "| corruption | ours (s) | imagecorruptions (s) | ours / reference | labels moved |",
             "|---|---|---|---|---|"]
    tot_o = tot_r = 0.0
    for n in names:
        mo, mr = statistics.median(times[n]["ours"]), statistics.median(times[n]["ref"])
        tot_o, tot_r = tot_o + mo, tot_r + mr
        lines.append(f"| {n} | {mo:.4f} | {mr:.4f} | {mo / mr:.2f} | {'yes' if n in corrupt.MOVES_CONTENT else ''} |")
    lines.append(f"| **sum** | {tot_o:.3f} | {tot_r:.3f} | {tot_o / tot_r:.2f} | |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        old = Path(a.out).read_text() + "\n" if a.append and Path(a.out).is_file() else ""
        Path(a.out).write_text(old + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
