"""A GPU check that fits in five minutes: ``python -m repro gpu-check`` (also ``make gpu-check``).

What it does, on a machine with a CUDA device:

1. runs the CUDA tests of the perturbations (``tests/unit/test_perturb.py -k cuda``: every
   perturbation on the GPU against the CPU reference; 24 tests, they skip without CUDA);
2. writes a small synthetic dataset in Cityscapes' folder layout to a temporary folder
   (``leftImg8bit/{train,val}/<city>/*_leftImg8bit.png``,
   ``gtFine/{train,val}/<city>/*_gtFine_labelTrainIds.png``; 19 classes + 255) and trains
   PSPNet-R50 and SegFormer-b0 with method ``ours`` under the ``paper`` profile (its crop, batch
   size, optimiser and analysis settings) from random weights for a few iterations: enough
   for one sensitivity analysis and one refresh (8 iterations by default);
3. prints and writes (``--out``, default ``benchmarks/results/gpu_check.md`` and ``.json``) the
   device, the per-iteration time, the analysis and refresh times and the peak GPU memory
   (``torch.cuda.max_memory_allocated``) of each model.

The numbers are measurements of the machine and the code, not of the method: the data are
synthetic and the weights random (mIoU is meaningless).

Without a CUDA device it prints one line and exits with status 0 (what CI runs).
``--device cpu --tiny`` exercises the dataset writer, the training and the report on the CPU
with tiny sizes (Fast-SCNN, 64x32 images, 4 iterations; under a minute), for tests.

Exit status: 0 when every step passed (or nothing was checked for want of CUDA), 1 when a test
or a training run failed, 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Sequence

from repro.base.validation import is_int_pair

__all__ = ["main", "write_synthetic_cityscapes", "run_cuda_tests", "train_check", "write_report",
           "SKIP_LINE", "DEFAULT_MODELS", "DEFAULT_OUT"]

#: printed (and nothing else done) when no CUDA device is found
SKIP_LINE = "gpu-check: no CUDA device (torch.cuda.is_available() is False); nothing to check"
DEFAULT_MODELS = ("pspnet_r50", "segformer_b0")
#: default output base: ``<base>.md`` and ``<base>.json``
DEFAULT_OUT = "benchmarks/results/gpu_check"
NUM_CLASSES = 19  # Cityscapes train ids 0..18, 255 = ignore
_PREFIX = "gpu-check:"


def _say(msg: str) -> None:
    print(f"{_PREFIX} {msg}", flush=True)


def _check_pos_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------- synthetic data
def write_synthetic_cityscapes(root: str | os.PathLike, *, size: Sequence[int] = (256, 128), num_train: int = 4,
                               num_val: int = 4, city: str = "synthcity", seed: int = 0) -> Path:
    """Write a synthetic dataset in Cityscapes' folder layout under ``root``; returns ``root``.

    Parameters
    ----------
    root : folder to write to (created; existing files of the same names are overwritten).
    size : (W, H) of every image in pixels.
    num_train, num_val : images per split.
    city : the one city folder name.
    seed : seed of the random layouts.

    Each label map (``*_gtFine_labelTrainIds.png``, uint8) is a grid of random blocks of the 19
    train ids with a few pixels of 255 (ignore); the image (``*_leftImg8bit.png``, RGB) paints
    each class in its own colour plus noise, so that the classes can be learnt.
    """
    import numpy as np
    from PIL import Image

    if not is_int_pair(size, 8):
        raise ValueError(f"size must be a pair (W, H) of ints >= 8 (pixels), got {size!r}")
    _check_pos_int(num_train, "num_train")
    _check_pos_int(num_val, "num_val")
    if not isinstance(city, str) or not city or "/" in city or "_" in city:
        raise ValueError(f"city must be a non-empty folder name without '/' or '_', got {city!r}")
    w, h = int(size[0]), int(size[1])
    root = Path(root)
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, size=(NUM_CLASSES, 3), dtype=np.uint8)
    block = max(4, min(w, h) // 8)
    for split, n in (("train", num_train), ("val", num_val)):
        img_dir = root / "leftImg8bit" / split / city
        ann_dir = root / "gtFine" / split / city
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            grid = rng.integers(0, NUM_CLASSES, size=(-(-h // block), -(-w // block)))
            label = np.kron(grid, np.ones((block, block), dtype=np.int64))[:h, :w].astype(np.uint8)
            img = palette[label].astype(np.int16) + rng.integers(-20, 21, size=(h, w, 3))
            label[rng.random((h, w)) < 0.02] = 255
            stem = f"{city}_{i:06d}_000019"
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="RGB").save(
                img_dir / f"{stem}_leftImg8bit.png")
            Image.fromarray(label, mode="L").save(ann_dir / f"{stem}_gtFine_labelTrainIds.png")
    return root


# ----------------------------------------------------------------------------- step 1: the CUDA tests
def run_cuda_tests(timeout: float = 240.0) -> dict:
    """Run the CUDA tests of ``tests/unit/test_perturb.py`` in a subprocess.

    ``timeout`` in seconds.  Returns ``dict(command, returncode, summary, passed, skipped,
    seconds)``; ``passed`` is true only when the tests ran (none skipped) and all passed.
    """
    from repro.base import paths

    test_file = paths.REPO_ROOT / "tests" / "unit" / "test_perturb.py"
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "not slow", str(test_file.relative_to(paths.REPO_ROOT)),
           "-k", "cuda", "-p", "no:cacheprovider"]
    shown = " ".join(cmd[1:4]) + ' "not slow" ' + " ".join(cmd[5:])
    if not test_file.is_file():
        return dict(command=shown, returncode=None, summary=f"{test_file} not found (not a repository checkout)",
                    passed=False, skipped=0, seconds=0.0)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(command=shown, returncode=None, summary=f"timed out after {timeout:.0f} s", passed=False,
                    skipped=0, seconds=time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    summary = next((ln.strip("= ") for ln in reversed(lines)
                    if re.search(r"\b(passed|failed|skipped|deselected|error|errors|no tests ran)\b", ln)),
                   lines[-1] if lines else "(no output)")
    m_pass = re.search(r"(\d+) passed", summary)
    m_skip = re.search(r"(\d+) skipped", summary)
    skipped = int(m_skip.group(1)) if m_skip else 0
    ok = proc.returncode == 0 and m_pass is not None and skipped == 0
    return dict(command=shown, returncode=proc.returncode, summary=summary, passed=ok, skipped=skipped,
                seconds=seconds, output_tail=None if ok else "\n".join(lines[-30:]))


# ----------------------------------------------------------------------------- step 2: training
def _build(model: str, data_root: Path, work_dir: Path, *, iters: int, crop, batch_size, num_workers, scale,
           sia: dict):
    import inspect

    from repro.train.config import build_config

    kwargs: dict[str, Any] = dict(profile="paper", iters=iters, crop=crop, batch_size=batch_size,
                                  num_workers=num_workers, data_root=str(data_root), val_interval=None,
                                  checkpoint_interval=iters, scale=list(scale), sia=sia, warm_start=None,
                                  work_dir=str(work_dir))
    if "pretrained" in inspect.signature(build_config).parameters:
        kwargs["pretrained"] = None  # no weights to download on this machine: random init
    return build_config(model, "ours", "cityscapes", **kwargs)


def train_check(model: str, data_root: str | os.PathLike, work_dir: str | os.PathLike, *, device: str,
                iters: int = 8, crop: Sequence[int] | None = None, batch_size: int | None = None,
                num_workers: int | None = None, scale: Sequence[int] = (256, 128),
                sia: dict | None = None) -> dict:
    """Train ``model`` with method ``ours`` (``paper`` profile) on the synthetic Cityscapes at
    ``data_root`` for ``iters`` iterations; returns the measurements.

    ``crop`` (H, W) / ``batch_size`` / ``num_workers`` ``None``: the paper profile's (the
    dataset's 512x1024 crop, batch 8, 4 workers).  ``scale`` (W, H) in pixels: the images'
    size.  ``sia``: overrides of the ``SensitivityHook`` arguments (default: one analysis, two
    refreshes, on every validation image).

    The returned dict holds ``model``, ``ok``, ``error`` (one line, or ``None``), ``iters``,
    ``batch_size``, ``crop``, ``iter_time_s`` (mmengine's median step time), ``step_time_s``
    (training time without the analyses/refreshes, per iteration), ``train_time_s``,
    ``analysis_time_s`` / ``refresh_time_s`` (sums over the events), ``events``,
    ``peak_memory_bytes`` / ``peak_memory_gib`` (``torch.cuda.max_memory_allocated``; ``None``
    on the CPU), ``wall_s`` (everything incl. building and the final evaluation) and
    ``metrics`` (synthetic data, random init: meaningless), ``checkpoint_cuda_rng_states`` (CUDA RNG
    states in the final checkpoint's ``SensitivityHook`` state; on CUDA one per device, else ``None``).
    Times in seconds.
    """
    import torch

    from repro.train.runner import run

    out: dict[str, Any] = dict(model=model, ok=False, error=None)
    t0 = time.perf_counter()
    on_cuda = device == "cuda"
    try:
        cfg = _build(model, Path(data_root), Path(work_dir), iters=iters, crop=crop, batch_size=batch_size,
                     num_workers=num_workers, scale=scale, sia=dict(sia or {}))
        if on_cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        res = run(cfg, Path(work_dir), evaluate=True)
        if on_cuda:
            torch.cuda.synchronize()
    except Exception as err:  # a check reports every failure and goes on with the next model
        out.update(error=f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}".rstrip(": "),
                   traceback=traceback.format_exc(limit=8), wall_s=time.perf_counter() - t0)
        return out
    events = (res.get("sia") or {}).get("events") or []
    ana = sum(float(e["time_s"]) for e in events if e["kind"] == "analysis")
    ref = sum(float(e["time_s"]) for e in events if e["kind"] == "refresh")
    train_s = float(res["train_time_s"])
    peak = int(torch.cuda.max_memory_allocated()) if on_cuda else None
    kinds = [e["kind"] for e in events]
    problems = [] if "analysis" in kinds and "refresh" in kinds else [
        f"expected one analysis and one refresh, got events {kinds}"]
    # the checkpoint loads with weights_only=True and holds the CUDA RNG state of every device (on CUDA)
    cuda_rng = None
    try:
        from repro.train.checkpoint import load_checkpoint_file

        ck = load_checkpoint_file(Path(work_dir) / res["checkpoint"])
        cuda_rng = (ck.get("sia_state") or {}).get("cuda_rng_state")
        if on_cuda and not (isinstance(cuda_rng, list) and len(cuda_rng) == torch.cuda.device_count()):
            problems.append(f"checkpoint: expected the CUDA RNG state of {torch.cuda.device_count()} device(s), "
                            f"got {type(cuda_rng).__name__}")
    except Exception as err:
        problems.append(f"checkpoint {res.get('checkpoint')}: {type(err).__name__}: {str(err).splitlines()[0]}")
    out.update(ok=not problems, error="; ".join(problems) or None,
               checkpoint_cuda_rng_states=None if cuda_rng is None else len(cuda_rng),
               iters=int(res["iters"]), batch_size=int(res["batch_size"]), crop=list(res["crop"]),
               iter_time_s=res.get("iter_time_s"), step_time_s=max(0.0, train_s - ana - ref) / int(res["iters"]),
               train_time_s=train_s, analysis_time_s=ana, refresh_time_s=ref,
               events=[dict(kind=e["kind"], iter=e["iter"], time_s=e["time_s"],
                            n_evaluations=e.get("n_evaluations")) for e in events],
               peak_memory_bytes=peak, peak_memory_gib=None if peak is None else peak / 2 ** 30,
               metrics=res.get("metrics"), wall_s=time.perf_counter() - t0)
    return out


# ----------------------------------------------------------------------------- report
def _fmt(x, spec=".3f", unit="") -> str:
    return "n/a" if x is None else f"{x:{spec}}{unit}"


def write_report(summary: dict, out_base: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``summary`` to ``<out_base>.json`` and a Markdown table to ``<out_base>.md``; returns both paths."""
    base = Path(out_base)
    base.parent.mkdir(parents=True, exist_ok=True)
    js, md = base.with_name(base.name + ".json"), base.with_name(base.name + ".md")
    js.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    dev = summary["device"]
    lines = [f"# GPU check ({summary['created']})", "",
             f"**Device: {dev['type']}** ({dev['name']}); torch {summary['versions'].get('torch')}, "
             f"(CUDA build {dev.get('cuda') or 'none'}), mmseg {summary['versions'].get('mmseg')}, "
             f"mmengine {summary['versions'].get('mmengine')}.", "",
             f"Overall: **{'passed' if summary['ok'] else 'FAILED'}** in {summary['total_s']:.0f} s"
             f"{' (over the five-minute budget)' if summary['total_s'] > 300 else ''}.", ""]
    t = summary.get("tests")
    lines.append("## CUDA tests")
    lines.append("")
    if t is None:
        lines.append("not run (" + summary.get("tests_note", "device is not cuda") + ")")
    else:
        lines.append(f"`{t['command']}`: {t['summary']} ({t['seconds']:.0f} s) -- "
                     f"{'passed' if t['passed'] else 'FAILED'}")
    s = summary["settings"]
    lines += ["", "## Training (`paper` profile, method `ours`, random init, synthetic Cityscapes layout)", "",
              f"{s['num_train']} training / {s['num_val']} validation images of {s['size'][0]}x{s['size'][1]} "
              f"(W x H) pixels; {s['iters']} iterations; analysis settings {s['sia']}. Times in seconds; "
              "step = training time without the analyses/refreshes, per iteration; mmengine = its median step "
              "time. The data are synthetic and the weights random: only the times and the memory mean something.",
              "", "| model | ok | batch | crop (H x W) | step s/iter | mmengine s/iter | analysis s | refresh s | "
              "peak GPU memory GiB | wall s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["runs"]:
        if r.get("iters") is None:
            lines.append(f"| {r['model']} | FAILED: {r['error']} | | | | | | | | {_fmt(r.get('wall_s'), '.0f')} |")
            continue
        lines.append(f"| {r['model']} | {'yes' if r['ok'] else 'NO: ' + str(r['error'])} | {r['batch_size']} | "
                     f"{r['crop'][0]} x {r['crop'][1]} | {_fmt(r['step_time_s'])} | {_fmt(r['iter_time_s'])} | "
                     f"{_fmt(r['analysis_time_s'], '.1f')} | {_fmt(r['refresh_time_s'], '.1f')} | "
                     f"{_fmt(r['peak_memory_gib'], '.2f')} | {_fmt(r['wall_s'], '.0f')} |")
    md.write_text("\n".join(lines) + "\n")
    return md, js


# ----------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m repro gpu-check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default; skips without a CUDA device) or cpu")
    p.add_argument("--tiny", action="store_true",
                   help="tiny sizes for a CPU test: fastscnn, 64x32 images, 4 iterations, batch 2, crop 32x64, "
                        "subset 2, 3 perturbation types, conv-random KID features")
    p.add_argument("--out", default=None, help=f"output base: writes OUT.md and OUT.json (default {DEFAULT_OUT})")
    p.add_argument("--models", default=None, help=f"comma-separated models (default {','.join(DEFAULT_MODELS)})")
    p.add_argument("--iters", type=int, default=None, help="training iterations per model (default 8; tiny 4)")
    p.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=None,
                   help="synthetic image size in pixels (default 256 128; tiny 64 32)")
    p.add_argument("--num-images", type=int, default=None, help="images per split (default 4; tiny 2)")
    p.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="training crop in pixels (default: the paper profile's, 512 1024; tiny 32 64)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the paper profile's (8); tiny 2")
    p.add_argument("--num-workers", type=int, default=None, help="default: the paper profile's (4); tiny 0")
    p.add_argument("--skip-tests", action="store_true", help="do not run the CUDA tests")
    p.add_argument("--keep-data", default=None, metavar="DIR",
                   help="write the synthetic dataset and the run folders to DIR (kept) instead of a temporary folder")
    return p


def _settings(args) -> dict:
    tiny = args.tiny
    models = tuple(m.strip() for m in args.models.split(",") if m.strip()) if args.models else \
        (("fastscnn",) if tiny else DEFAULT_MODELS)
    from repro.train.config import MODELS

    for m in models:
        if m not in MODELS:
            raise ValueError(f"--models: unknown model {m!r}; expected names from {', '.join(MODELS)}")
    if not models:
        raise ValueError("--models: expected at least one model name")
    iters = _check_pos_int(args.iters if args.iters is not None else (4 if tiny else 8), "--iters")
    if iters < 2:
        raise ValueError(f"--iters must be >= 2 (one analysis and one refresh), got {iters}")
    size = tuple(args.size) if args.size is not None else ((64, 32) if tiny else (256, 128))
    if any(v < 8 for v in size):
        raise ValueError(f"--size must be two ints >= 8 (W H, pixels), got {list(size)}")
    n = _check_pos_int(args.num_images if args.num_images is not None else (2 if tiny else 4), "--num-images")
    if n < 2:
        raise ValueError(f"--num-images must be >= 2 (the analysis' KID needs 2 images), got {n}")
    crop = tuple(args.crop) if args.crop is not None else ((32, 64) if tiny else None)
    if crop is not None and any(v < 8 for v in crop):
        raise ValueError(f"--crop must be two ints >= 8 (H W, pixels), got {list(crop)}")
    batch = args.batch_size if args.batch_size is not None else (2 if tiny else None)
    if batch is not None:
        _check_pos_int(batch, "--batch-size")
    workers = args.num_workers if args.num_workers is not None else (0 if tiny else None)
    if workers is not None and (isinstance(workers, bool) or workers < 0):
        raise ValueError(f"--num-workers must be a non-negative int, got {workers}")
    sia = dict(num_analyses=1, num_refreshes=2, subset=n, analyse_at_start=False, final_refresh=True)
    if tiny:
        sia.update(extractor="conv-random", subset=2, types=["R+", "rotate+", "gaussian_blur"],
                   analysis=dict(budget=3, batch_size=2))
    return dict(models=list(models), iters=iters, size=list(size), num_train=n, num_val=n,
                crop=None if crop is None else list(crop), batch_size=batch, num_workers=workers, sia=sia,
                tiny=bool(tiny))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m repro gpu-check [options]``; returns the exit status (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.device not in ("cuda", "cpu"):
        parser.exit(2, f"{parser.prog}: error: --device must be 'cuda' or 'cpu', got {args.device!r}\n")
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch initialises CUDA: mmengine then trains on the CPU
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(SKIP_LINE, flush=True)
        return 0
    if args.device == "cpu" and torch.cuda.is_available():
        parser.exit(2, f"{parser.prog}: error: --device cpu: CUDA was initialised before the check could hide it; "
                       "run it in a fresh process\n")
    try:
        settings = _settings(args)
    except ValueError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    from repro.base import paths

    out_base = Path(args.out) if args.out is not None else paths.REPO_ROOT / DEFAULT_OUT
    if out_base.suffix in (".md", ".json"):
        out_base = out_base.with_suffix("")
    t_start = time.perf_counter()
    dev = dict(type=args.device, name="CPU", cuda=torch.version.cuda, count=0)
    if args.device == "cuda":
        dev.update(name=torch.cuda.get_device_name(0), count=torch.cuda.device_count(),
                   memory_gib=torch.cuda.get_device_properties(0).total_memory / 2 ** 30)
    _say(f"device {dev['type']} ({dev['name']})")

    tests = None
    tests_note = "device is cpu" if args.device != "cuda" else "--skip-tests"
    if args.device == "cuda" and not args.skip_tests:
        _say("[1/2] CUDA tests: pytest tests/unit/test_perturb.py -k cuda ...")
        tests = run_cuda_tests()
        _say(f"      {tests['summary']} ({tests['seconds']:.0f} s) -- {'ok' if tests['passed'] else 'FAILED'}")
        if not tests["passed"] and tests.get("output_tail"):
            print(tests["output_tail"], flush=True)

    runs = []
    tmp = None
    if args.keep_data is not None:
        base = Path(args.keep_data).expanduser()
        base.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="repro_gpu_check_")
        base = Path(tmp.name)
    try:
        data_root = write_synthetic_cityscapes(base / "cityscapes", size=settings["size"],
                                               num_train=settings["num_train"], num_val=settings["num_val"])
        _say(f"[2/2] synthetic Cityscapes layout: {settings['num_train']}+{settings['num_val']} images of "
             f"{settings['size'][0]}x{settings['size'][1]} in {data_root}")
        for i, model in enumerate(settings["models"], 1):
            _say(f"      training {model} ({i}/{len(settings['models'])}): {settings['iters']} iterations, "
                 "method ours, paper profile, random init ...")
            r = train_check(model, data_root, base / "runs" / model, device=args.device, iters=settings["iters"],
                            crop=settings["crop"], batch_size=settings["batch_size"],
                            num_workers=settings["num_workers"], scale=settings["size"], sia=settings["sia"])
            runs.append(r)
            if r.get("iters") is None:
                _say(f"      {model}: FAILED: {r['error']}")
                print(r.get("traceback", ""), flush=True)
                continue
            mem = "n/a (cpu)" if r["peak_memory_gib"] is None else f"{r['peak_memory_gib']:.2f} GiB"
            _say(f"      {model}: {r['step_time_s']:.3f} s/iter (mmengine median {_fmt(r['iter_time_s'])}), "
                 f"analysis {r['analysis_time_s']:.1f} s, refresh {r['refresh_time_s']:.1f} s, peak GPU memory "
                 f"{mem}, batch {r['batch_size']}, crop {r['crop'][0]}x{r['crop'][1]}, wall {r['wall_s']:.0f} s"
                 + ("" if r["ok"] else f" -- FAILED: {r['error']}"))
    finally:
        if tmp is not None:
            tmp.cleanup()
    import mmengine
    import mmseg

    ok = (tests is None or tests["passed"]) and all(r["ok"] for r in runs)
    summary = dict(format=1, ok=ok, device=dev, created=time.strftime("%Y-%m-%dT%H:%M:%S"),
                   versions={"torch": torch.__version__, "mmengine": mmengine.__version__, "mmseg": mmseg.__version__},
                   tests=tests, tests_note=tests_note, settings=settings,
                   runs=[{k: v for k, v in r.items() if k != "traceback"} for r in runs],
                   total_s=time.perf_counter() - t_start)
    md, js = write_report(summary, out_base)
    _say(f"{'passed' if ok else 'FAILED'} on {dev['type']} ({dev['name']}) in {summary['total_s']:.0f} s"
         f"{' (over the five-minute budget)' if summary['total_s'] > 300 else ''}; "
         f"wrote {paths.relpath(md)} and {paths.relpath(js)}")
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
