"""Throughput of the 24 basis perturbations: ours (batched torch, CPU) vs albumentations 2.0.8.

Run:  python benchmarks/bench_perturb.py [--repeats 3] [--batch 32] [--names R+,gaussian_blur]

Setting: magnitude 0.5, 360×480 RGB images (CamVid val images from ``data/`` resized from
240×180 to 480×360; a seeded synthetic image if the data are missing), labels passed to both
libraries.  Ours runs on N×3×H×W float32 tensors with ``torch.set_num_threads(2)`` at batch 1
and batch 32; albumentations runs on H×W×3 uint8 arrays one image at a time (its native mode)
with ``cv2.setNumThreads(2)``.  Images/s = images processed / best wall time of ``--repeats``
runs (one warm-up run each first).  Input conversions (uint8 ↔ float) are not timed for either.
Because wall-clock numbers on a shared machine are dominated by other processes (torch's
2-thread parallel regions stall whenever a core is taken), the script also reports the CPU time
per image of both with 1 thread each (``time.process_time``; ``--no-cpu-time`` skips it).

Albumentations equivalents (the closest op of the same cost class; they do not match our
formulas exactly, where they differ the op is named here):

* ``R± G± B±``  → ``RGBShift`` with a fixed shift of ±0.5·127.5 on that channel (a per-channel
  add; ours is the blend ``(1-m)·c + m·c_max``).
* ``H±``        → ``HueSaturationValue(hue_shift_limit=±0.5·90)`` (hue rotation; ours scales the
  hue linearly), ``S±``/``V±`` → ``HueSaturationValue`` with ``sat_shift_limit`` /
  ``val_shift_limit`` = ±0.5·127.5 (an add in HSV; ours scales).  Both do the HSV round trip.
* affine        → ``Affine(rotate=±22.5°, shear=±atan(0.15)°, translate_px=±W/8 or ±H/8,
  scale=<our zoom factor>)``, bilinear image, nearest mask, constant border (fill 0, mask 255):
  the same composed warp+zoom as ours with ``border="zoom"``.
* ``gaussian_blur`` → ``GaussianBlur(blur_limit=(25, 25), sigma_limit=σ(25))`` (same kernel).
* ``gaussian_noise`` → ``GaussNoise(std_range=(25/255, 25/255), mean_range=(0, 0),
  per_channel=True)`` (same distribution).

The machine's CPU is shared with other processes while this runs; the table says so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if "--thp" in sys.argv:  # must be set before torch allocates anything
    os.environ["THP_MEM_ALLOC_ENABLE"] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from repro import perturb  # noqa: E402
from repro.perturb.functional._geometry import _inverse_maps  # noqa: E402

MAGNITUDE = 0.5
HEIGHT, WIDTH = 360, 480
THREADS = 2


def load_images(n: int):
    """n images as (float N×3×H×W tensor, int64 labels, uint8 HWC arrays, uint8 HW labels)."""
    try:
        from repro.data import load_dataset

        ds = load_dataset("camvid", "val")
        idx = [i % len(ds) for i in range(n)]
        x, y = ds.batch(idx)
        source = "CamVid val (data/), resized 240×180 → 480×360"
    except Exception as exc:  # data missing: seeded synthetic, timing does not depend on content
        g = torch.Generator().manual_seed(0)
        x = F.interpolate(torch.rand(n, 3, 23, 31, generator=g), size=(45, 60), mode="bilinear")
        y = torch.randint(0, 11, (n, 45, 60), generator=g)
        source = f"synthetic (data unavailable: {type(exc).__name__})"
    x = F.interpolate(x, size=(HEIGHT, WIDTH), mode="bilinear", align_corners=False).clamp_(0, 1)
    y = F.interpolate(y[:, None].float(), size=(HEIGHT, WIDTH), mode="nearest")[:, 0].long()
    x = (x * 255).round_() / 255
    imgs = [(xi.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for xi in x]
    labs = [yi.numpy().astype(np.uint8) for yi in y]
    return x.contiguous(), y.contiguous(), imgs, labs, source


def albumentations_transform(name: str, m: float):
    import albumentations as A
    import cv2

    sign = 1.0 if name.endswith("+") else -1.0
    if name in perturb.RGB_NAMES:
        shift = {c: (0.0, 0.0) for c in "rgb"}
        s = sign * m * 127.5
        shift[name[0].lower()] = (s, s)
        return A.RGBShift(r_shift_limit=shift["r"], g_shift_limit=shift["g"], b_shift_limit=shift["b"], p=1.0)
    if name in perturb.HSV_NAMES:
        lim = {"H": (0.0, 0.0), "S": (0.0, 0.0), "V": (0.0, 0.0)}
        s = sign * m * (90.0 if name[0] == "H" else 127.5)
        lim[name[0]] = (s, s)
        return A.HueSaturationValue(hue_shift_limit=lim["H"], sat_shift_limit=lim["S"], val_shift_limit=lim["V"], p=1.0)
    if name in perturb.GEOMETRIC:
        p = perturb.affine_parameters(name, m, HEIGHT, WIDTH)
        mat, _ = _inverse_maps(name, torch.tensor([m], dtype=torch.float64), HEIGHT, WIDTH, "zoom")
        # mat = s·A⁻¹ with det(A) = 1 for all three kinds, so s = sqrt(|det(mat)|)
        zoom = 1.0 / float(abs(torch.linalg.det(mat[0])) ** 0.5)
        shear = {"x": (0.0, 0.0), "y": (0.0, 0.0)}
        if name.startswith("shear_x"):
            d = math.degrees(math.atan(p["shear_x"]))
            shear["x"] = (d, d)
        if name.startswith("shear_y"):
            d = math.degrees(math.atan(p["shear_y"]))
            shear["y"] = (d, d)
        return A.Affine(
            scale=(zoom, zoom), rotate=(p["angle"], p["angle"]), shear=shear,
            translate_px={"x": (int(p["tx"]), int(p["tx"])), "y": (int(p["ty"]), int(p["ty"]))},
            interpolation=cv2.INTER_LINEAR, mask_interpolation=cv2.INTER_NEAREST,
            border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=255, p=1.0,
        )
    if name == "gaussian_blur":
        k = perturb.blur_kernel_size(m)
        s = perturb.blur_sigma(k)
        return A.GaussianBlur(blur_limit=(k, k), sigma_limit=(s, s), p=1.0)
    if name == "gaussian_noise":
        s = perturb.noise_sigma(m) / 255.0
        return A.GaussNoise(std_range=(s, s), mean_range=(0.0, 0.0), per_channel=True, p=1.0)
    raise ValueError(name)


def best_time(fn, repeats: int, clock=time.perf_counter) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


def measure(names, x, y, imgs, labs, repeats, *, cpu_time: bool):
    """Per name: wall-clock images/s with 2 threads (ours b=1, ours b=N, albumentations), or
    with ``cpu_time`` the process CPU time per image with 1 thread (ours b=N, albumentations)."""
    import cv2

    x1, y1 = x[:1].clone(), y[:1].clone()
    gen = torch.Generator()
    threads = 1 if cpu_time else THREADS
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    rows = {}
    for name in names:
        tr = albumentations_transform(name, MAGNITUDE)
        tr.set_random_seed(0)

        def ours(xb=x, yb=y, name=name):
            perturb.apply(xb, yb, name, MAGNITUDE, generator=gen.manual_seed(0))

        def alb(tr=tr):
            for img, lab in zip(imgs, labs):
                tr(image=img, mask=lab)

        if cpu_time:
            row = {"co": best_time(ours, repeats, time.process_time) / len(x) * 1e3,
                   "ca": best_time(alb, repeats, time.process_time) / len(imgs) * 1e3}
            print(f"{name:15s} CPU ms/img (1 thread): ours {row['co']:.2f}  alb {row['ca']:.2f}", flush=True)
        else:
            row = {"o1": 1.0 / best_time(lambda: ours(x1, y1), repeats),
                   "ob": len(x) / best_time(ours, repeats),
                   "a": len(imgs) / best_time(alb, repeats)}
            print(f"{name:15s} images/s: ours@1 {row['o1']:8.1f}  ours@{len(x)} {row['ob']:8.1f}  "
                  f"alb {row['a']:8.1f}  ratio@{len(x)} {row['ob'] / row['a']:5.2f}", flush=True)
        rows[name] = row
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--names", default=",".join(perturb.NAMES))
    ap.add_argument("--no-cpu-time", action="store_true", help="skip the single-thread CPU-time columns")
    ap.add_argument("--thp", action="store_true",
                    help="set THP_MEM_ALLOC_ENABLE=1 (PyTorch allocates large tensors on transparent huge "
                         "pages: far fewer page faults for the 66 MB float32 outputs of a 32-image batch)")
    ap.add_argument("--phase", choices=["cpu"], help=argparse.SUPPRESS)  # internal: CPU-time child
    ap.add_argument("--json", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "bench_perturb.md"))
    args = ap.parse_args(argv)
    names = [perturb.check_name(n) for n in args.names.split(",")]

    import albumentations
    import cv2

    x, y, imgs, labs, source = load_images(args.batch)
    if args.phase == "cpu":
        Path(args.json).write_text(json.dumps(measure(names, x, y, imgs, labs, args.repeats, cpu_time=True)))
        return 0

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    wall = measure(names, x, y, imgs, labs, args.repeats, cpu_time=False)
    rows = [{"name": n, **wall[n]} for n in names]
    if not args.no_cpu_time:
        # a fresh single-threaded process: no idle OpenMP workers spinning into the CPU time
        with tempfile.TemporaryDirectory() as tmp:
            js = Path(tmp) / "cpu.json"
            env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
            cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", "cpu", "--json", str(js),
                   "--names", ",".join(names), "--repeats", str(args.repeats), "--batch", str(args.batch)]
            cmd += ["--thp"] if args.thp else []
            subprocess.run(cmd, check=True, env=env)
            cpu_rows = json.loads(js.read_text())
        for r in rows:
            r.update(cpu_rows[r["name"]])
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    def med(key):
        return statistics.median(key(r) for r in rows)

    rb = [r["ob"] / r["a"] for r in rows]
    cpu = "co" in rows[0]
    head = f"| perturbation | ours b=1 | ours b={args.batch} | albumentations | ratio b=1 | ratio b={args.batch} |"
    sep = "|---|---:|---:|---:|---:|---:|"
    if cpu:
        head += " CPU ms/img ours | CPU ms/img alb. | CPU ratio |"
        sep += "---:|---:|---:|"
    lines = [
        f"Basis perturbations at magnitude {MAGNITUDE}, {WIDTH}×{HEIGHT} RGB, CPU: torch {torch.__version__} "
        f"vs albumentations {albumentations.__version__} (cv2 {cv2.__version__}).",
        f"Columns 2-6: images/s, wall clock, best of {args.repeats}, torch and cv2 with {THREADS} threads"
        + (f"; columns 7-9: CPU time per image (process time, 1 thread each, in a fresh process, best of {args.repeats}), "
           "a measure that other processes on the machine barely disturb; CPU ratio = albumentations/ours "
           "(> 1: ours is cheaper)." if cpu else "."),
        f"Machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} logical CPUs; "
        f"load average {load_before:.1f} before and {load_after:.1f} after the run: the CPU was shared with "
        "other processes, so the wall-clock numbers are noisy (torch's multi-threaded ops suffer most when "
        "the cores are oversubscribed).",
        f"Images: {source}. THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE', 'unset')} "
        "(1 = torch's large allocations on transparent huge pages, see --thp).",
        "",
        head,
        sep,
    ]
    for r, ratio in zip(rows, rb):
        line = f"| {r['name']} | {r['o1']:.0f} | {r['ob']:.0f} | {r['a']:.0f} | {r['o1'] / r['a']:.2f} | {ratio:.2f} |"
        if cpu:
            line += f" {r['co']:.2f} | {r['ca']:.2f} | {r['ca'] / r['co']:.2f} |"
        lines.append(line)
    lines += [
        "",
        f"Wall clock: median ratio ours/albumentations {med(lambda r: r['o1'] / r['a']):.2f} at batch 1, "
        f"{statistics.median(rb):.2f} at batch {args.batch}; smallest at batch {args.batch}: {min(rb):.2f} "
        f"({rows[rb.index(min(rb))]['name']}).",
    ]
    if cpu:
        cr = [r["ca"] / r["co"] for r in rows]
        lines.append(
            f"CPU time (1 thread): median ratio {statistics.median(cr):.2f}; smallest {min(cr):.2f} "
            f"({rows[cr.index(min(cr))]['name']}); {sum(c >= 1 for c in cr)} of {len(cr)} at or above 1."
        )
    table = "\n".join(lines)
    print()
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table + "\n")
    print(f"\nwritten to {out.name} in {out.parent.name}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
