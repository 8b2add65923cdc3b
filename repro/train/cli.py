"""Command line: ``python -m repro train --model pspnet_r18 --method ours --dataset camvid --profile cpu``,
or ``python -m repro train CONFIG.py`` (an MMSegmentation config file, e.g. one of ``configs/sia/`` or your
own: it is trained in its ``work_dir`` when it sets one and evaluated with its own test evaluator, else
its val evaluator; a file without ``custom_imports`` of ``repro.train`` gets it, with a one-line note).

:func:`cli_main` parses ``argv`` (without the program/subcommand name), runs
:func:`repro.train.run` and prints the results as JSON; ``--dump-config FILE`` writes the
composed config instead of training.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

__all__ = ["cli_main", "build_parser"]


def build_parser(prog: str = "python -m repro train") -> argparse.ArgumentParser:
    from repro.train.config import DATASETS, METHODS, MODELS, PROFILES

    p = argparse.ArgumentParser(prog=prog, description="Train and evaluate one MMSegmentation configuration "
                                "(cached by the config hash).")
    p.add_argument("config", nargs="?", default=None,
                   help="an MMSegmentation config file (e.g. configs/sia/*.py); then --model/--method/--dataset/"
                        "--profile and the other composition options are not used")
    p.add_argument("--model", default="pspnet_r18", choices=MODELS)
    p.add_argument("--method", default="baseline", choices=METHODS)
    p.add_argument("--dataset", default="camvid", choices=DATASETS)
    p.add_argument("--profile", default="cpu", choices=PROFILES)
    p.add_argument("--iters", type=int, default=None, help="training iterations (default: profile)")
    p.add_argument("--crop", type=int, nargs="+", default=None, help="crop size: S or H W (default: profile)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-workers", type=int, default=None)
    p.add_argument("--data-root", default=None, help="dataset folder (paper datasets; default $REPRO_<NAME>_ROOT, else $REPRO_DATA_ROOT/<name>)")
    p.add_argument("--work-dir", default=None, help="run folder (default: the config file's work_dir when it sets "
                                                    "one, else <cache>/runs/<config hash>)")
    p.add_argument("--launcher", default="none", choices=("none", "pytorch", "slurm", "mpi"))
    p.add_argument("--force", action="store_true", help="retrain even if cached results exist")
    p.add_argument("--no-eval", action="store_true", help="skip the final evaluation (default: the dataset's "
                   "evaluation splits; for your own config file its test_evaluator on test_dataloader, else its "
                   "val_evaluator on val_dataloader)")
    p.add_argument("--dump-config", default=None, metavar="FILE", help="write the composed config and exit")
    return p


def cli_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m repro train``; returns the exit status."""
    from repro.train.config import build_config
    from repro.train.runner import plain_eval_loop, run, with_repro_imports

    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.config is not None:
        from pathlib import Path

        from mmengine.config import Config

        path = Path(args.config).expanduser()
        if path.suffix != ".py" or not path.is_file():
            parser.error(f"config must be an existing MMSegmentation .py config file, got {str(path.resolve())!r}")
        cfg = Config.fromfile(str(path))
        if with_repro_imports(cfg):
            print(f"note: {path} has no custom_imports=dict(imports=['repro.train']); added for this run (every "
                  "MMSegmentation config on this stack needs it: it installs the mmcv.ops stand-in for mmcv-lite "
                  "and registers the package's transforms and hooks; add it to the file for mmengine's Runner)",
                  file=sys.stderr)
        if args.work_dir is None and cfg.get("work_dir"):
            args.work_dir = cfg.work_dir
    else:
        cfg = None
    crop = None
    if args.crop is not None:
        if len(args.crop) not in (1, 2):
            raise SystemExit("--crop takes one size S or two sizes H W")
        crop = args.crop[0] if len(args.crop) == 1 else tuple(args.crop)
    if cfg is None:
        cfg = build_config(args.model, args.method, args.dataset, profile=args.profile, iters=args.iters, crop=crop,
                           batch_size=args.batch_size, seed=args.seed, lr=args.lr, data_root=args.data_root,
                           num_workers=args.num_workers)
    if args.dump_config:
        cfg.dump(args.dump_config)
        print(args.dump_config)
        return 0
    if args.config is not None and not args.no_eval and cfg.get("eval_splits") is None and plain_eval_loop(cfg) is None:
        print(f"note: {args.config} has neither test_dataloader+test_evaluator nor val_dataloader+val_evaluator: "
              "the trained model is not evaluated", file=sys.stderr)
    res = run(cfg, args.work_dir, force=args.force, launcher=args.launcher, evaluate=not args.no_eval)
    print(json.dumps(res, indent=1))
    return 0
