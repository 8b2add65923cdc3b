"""``python -m repro robustness``: the command line of the robustness report (argument checks with
one ``error:`` line and exit 2, then :func:`repro.robustness.report.robustness_report`).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import torch

from repro.robustness.compare import compare_reports, compare_summary, flat_numbers, load_report
from repro.robustness.report import REPORT_SUITES, SA_IMAGES, robustness_report

# ------------------------------------------------------------------------------------------ command line

PROG = "python -m repro robustness"


def build_parser():
    import argparse

    p = argparse.ArgumentParser(prog=PROG, description="Robustness report of an MMSegmentation model (config + "
                                "checkpoint) on a shipped split or a folder; or --compare two reports.")
    p.add_argument("config", nargs="?", help="MMSegmentation config file (.py)")
    p.add_argument("checkpoint", nargs="?", help="checkpoint file (.pth)")
    p.add_argument("--data", help="a shipped split NAME:SPLIT (e.g. camvid:test) or a folder holding images/ and "
                                  "labels/ (label files of class ids, 255 ignored; paired by file stem, see --label-map/--label-suffix)")
    p.add_argument("--suites", default=",".join(REPORT_SUITES),
                   help=f"comma-separated, from {','.join(REPORT_SUITES)} (default: all)")
    p.add_argument("--out", default=None, help="report folder (default: robustness_report/<config name>); with "
                                               "--compare: the CSV file (.csv) or its folder")
    p.add_argument("--reference", nargs=2, metavar=("CONFIG", "CHECKPOINT"), default=None,
                   help="reference model for the corruption errors (CE, mCE, relative mCE)")
    p.add_argument("--real-world", action="append", default=[], metavar="SPLIT_OR_FOLDER",
                   help="a real-world split scored as is (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subset", type=int, default=None, help="score N images evenly spaced (default: all)")
    p.add_argument("--sa-images", type=int, default=SA_IMAGES, metavar="N",
                   help=f"images of the sensitivity analysis, drawn with --seed (default {SA_IMAGES}; 16: less noisy "
                        "levels, twice the time)")
    p.add_argument("--corruptions", default=None, help="comma-separated ImageNet-C names (default: all 19)")
    p.add_argument("--extractor", default="auto",
                   help="KID features: auto, inception, resnet18-random, conv-random, encoder (the model's own)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--classes", default=None, help="comma-separated class names of a folder (default: the "
                                                   "checkpoint's / config's)")
    p.add_argument("--workers", type=int, default=2,
                   help="processes reading images ahead, per rank (DataLoader workers; 0: none)")
    p.add_argument("--force", action="store_true", help="recompute every item")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), default=None,
                   help="print a short summary of two report folders and write every differing number to a CSV "
                        "file (--out: its path or folder; default ./compare_<A>_vs_<B>.csv)")
    return p


def _compare_csv_path(out: str | None, a: str, b: str) -> Path:
    """Where ``--compare`` writes its rows: ``--out`` (a ``.csv`` file, else a folder holding
    ``compare_<A>_vs_<B>.csv``), by default that file in the current folder."""
    def stem(p):
        p = Path(p)
        return (p.parent.name if p.name == "report.json" else p.name) or "report"

    name = f"compare_{stem(a)}_vs_{stem(b)}.csv"
    if out is None:
        return Path(name)
    return Path(out) if str(out).endswith(".csv") else Path(out) / name


def _error(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def _check_data_spec(spec: str, what: str) -> str | None:
    """One line naming what is missing for a ``--data``-style argument, else ``None``."""
    from repro.data import SHIPPED

    name, _, split = spec.partition(":")
    if split and name in SHIPPED:
        from repro.data import manifest

        splits = manifest(name)["splits"]
        return None if split in splits else f"{what} {spec}: {name} has no split {split!r} (splits: {', '.join(splits)})"
    p = Path(spec).expanduser()
    if not p.is_dir():
        return f"{what} {spec}: no such folder (and not a shipped split NAME:SPLIT of {', '.join(SHIPPED)})"
    for sub in ("images", "labels"):
        if not (p / sub).is_dir():
            return f"{what} {p / sub}: folder missing (a data folder holds images/ and labels/)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m repro robustness ...``; returns the exit status (2: a bad argument, nothing created)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.compare:
        for p in args.compare:
            if not (Path(p) / "report.json").is_file() and not (Path(p).is_file() and p.endswith(".json")):
                return _error(f"report {p}: no report.json there")
        diff = compare_reports(*args.compare)
        if diff.empty:
            print(f"no differences ({len(flat_numbers(load_report(args.compare[0])))} numbers compared)")
            return 0
        for line in compare_summary(*args.compare):
            print(line)
        csv = _compare_csv_path(args.out, *args.compare)
        csv.parent.mkdir(parents=True, exist_ok=True)
        diff.to_csv(csv, index=False)
        print(f"{len(diff)} differing numbers (number, a, b, b_minus_a) written to {csv}")
        return 0
    if not args.config or not args.checkpoint or not args.data:
        return _error("give CONFIG CHECKPOINT --data SPLIT_OR_FOLDER (or --compare A B)")
    checks = [("config", args.config), ("checkpoint", args.checkpoint)]
    if args.reference:
        checks += [("reference config", args.reference[0]), ("reference checkpoint", args.reference[1])]
    for what, p in checks:
        if not Path(p).expanduser().is_file():
            return _error(f"{what} {p}: no such file")
        if "config" in what and not p.endswith(".py"):
            return _error(f"{what} {p}: not an MMSegmentation .py config file")
    for what, spec in [("data", args.data)] + [("real-world", r) for r in args.real_world]:
        msg = _check_data_spec(spec, what)
        if msg:
            return _error(msg)
    suites = [s for s in args.suites.split(",") if s]
    bad = [s for s in suites if s not in REPORT_SUITES]
    if bad or not suites:
        return _error(f"--suites: unknown {', '.join(bad) or '(none given)'}; expected names from {', '.join(REPORT_SUITES)}")
    from repro.evaluation import corruptions as corrupt

    corruptions = args.corruptions.split(",") if args.corruptions else None
    if corruptions and [c for c in corruptions if c not in corrupt.IMAGENET_C]:
        return _error(f"--corruptions: unknown {', '.join(c for c in corruptions if c not in corrupt.IMAGENET_C)}")
    if args.seed < 0 or args.batch_size < 1 or (args.subset is not None and args.subset < 1):
        return _error("--seed must be >= 0, --batch-size and --subset >= 1")
    if args.sa_images < 2:
        return _error(f"--sa-images must be >= 2 (KID needs two images a side), got {args.sa_images}")
    if args.workers < 0:
        return _error(f"--workers must be >= 0, got {args.workers}")
    from repro.base import distributed

    distributed.init_from_env()  # under torchrun: the items' work is shared out over the ranks
    device = args.device
    if distributed.is_distributed() and device == "cuda":
        device = f"cuda:{torch.cuda.current_device()}"  # this rank's GPU (LOCAL_RANK)
    from repro.robustness.mmseg import load_data, load_segmentor  # mmseg from here on

    model = load_segmentor(args.config, args.checkpoint, device=device)
    classes = args.classes.split(",") if args.classes else None
    dataset = load_data(args.data, model, classes=classes)
    real = {Path(r).name if ":" not in r else r.replace(":", "_"): load_data(r, model, classes=classes)
            for r in args.real_world}
    reference = load_segmentor(*args.reference, device=device) if args.reference else None
    out = Path(args.out) if args.out else Path("robustness_report") / Path(args.config).stem
    report = robustness_report(model, dataset, suites=suites, out=out, reference=reference, real_world=real,
                               seed=args.seed, extractor=args.extractor, subset=args.subset, sa_subset=args.sa_images,
                               batch_size=args.batch_size, device=device, corruptions=corruptions,
                               model_name=f"{Path(args.config).stem}@{Path(args.checkpoint).name}",
                               reference_name=(f"{Path(args.reference[0]).stem}@{Path(args.reference[1]).name}"
                                               if args.reference else None), force=args.force,
                               num_workers=args.workers, progress=distributed.rank() == 0)
    if distributed.rank() != 0:
        return 0
    clean = report["suites"].get("clean", {}).get("summary", {}).get("mIoU")
    print(f"{out}/report.md" + (f" (clean mIoU {clean:.2f})" if clean is not None else ""))
    return 0
