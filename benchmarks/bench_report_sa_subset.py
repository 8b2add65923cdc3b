"""How many images the robustness report's sensitivity analysis needs: its levels and sampling
distribution with ``sa_subset`` = 16 and 8 images, over 3 seeds, and the time of each (issue 24, item 6).

The report's analysis (``robustness_report(..., suites=["sensitivity"])``: ASA with budget 6, the
extractor ``"auto"`` → imagenet-lite0 offline) draws its ``sa_subset`` images with ``seed``. For
each case and each n in ``--sizes`` it runs the analysis for seeds 0..``--seeds``-1 (a fresh cache
folder per call: ``analyse`` caches by itself) and records per type the level α (the ASA's chosen
magnitude), (the 5 levels α_1..α_5 of each of the 24 types). It then prints:

* seed-to-seed spread at each n: mean over the 24 × 5 levels of the standard deviation of α over
  the seeds;
* the shift of the seed-mean between n = 16 and n = 8: mean over the levels of |mean_s α_8 − mean_s α_16|
  — the systematic change a smaller subset makes, to compare with the spread at 16;
* seconds per analysis.

Cases: ``vessels`` (the user-sized case of ``bench_analysis_cost.py``: 20 synthetic 280×290 images,
Fast-SCNN trained 600 iterations there; its ``--work`` folder is reused) and ``camvid``
(``--camvid-config``/``--camvid-checkpoint``: an MMSegmentation CamVid model; the split ``test``).

    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_report_sa_subset.py \\
        --case vessels --json benchmarks/results/bench_report_sa_subset.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.append(str(ROOT))

from bench_analysis_cost import load, train  # noqa: E402


def one(model, dataset, n: int, seed: int) -> dict:
    from repro.robustness import robustness_report

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["REPRO_CACHE_DIR"] = str(Path(tmp) / "cache")
        import repro.base.paths

        repro.base.paths.CACHE_DIR = Path(os.environ["REPRO_CACHE_DIR"])
        l0 = load()
        t0 = time.perf_counter()
        rep = robustness_report(model, dataset, suites=["sensitivity"], out=Path(tmp) / "rep", seed=seed,
                                sa_subset=n, render=False, progress=False)
        wall = time.perf_counter() - t0
    sens = rep["sensitivity"]
    levels = {f'{r["type"]}#{r["level"]}': r["alpha"] for r in sens["levels"]}
    return {"n": n, "seed": seed, "seconds": wall, "load_before": l0, "load_after": load(), "levels": levels, "clean_miou": sens.get("clean_miou"),
            "flags": sens.get("flags"), "n_evaluations": sens.get("n_evaluations")}


def summarise(recs: list[dict]) -> str:
    sizes = sorted({r["n"] for r in recs}, reverse=True)
    types = sorted(recs[0]["levels"])  # "type#level"
    alpha = {n: np.array([[r["levels"][t] for t in types] for r in recs if r["n"] == n]) for n in sizes}
    lines = ["| images | seeds | mean s / analysis | seed-to-seed sd of α (mean over levels) | max sd |",
             "|---|---|---|---|---|"]
    for n in sizes:
        secs = [r["seconds"] for r in recs if r["n"] == n]
        sd = alpha[n].std(axis=0, ddof=1)
        lines.append(f"| {n} | {len(secs)} | {np.mean(secs):.1f} | {sd.mean():.4f} | {sd.max():.3f} |")
    if len(sizes) >= 2:
        a, b = alpha[sizes[0]], alpha[sizes[1]]
        shift = np.abs(a.mean(axis=0) - b.mean(axis=0))
        lines += ["", f"shift of the seed-mean α, n={sizes[1]} vs n={sizes[0]}: mean over levels {shift.mean():.4f}, "
                      f"max {shift.max():.3f} ({types[int(shift.argmax())]}); spread at n={sizes[0]}: "
                      f"{a.std(axis=0, ddof=1).mean():.4f}"]
        big = [(t, x) for t, x in zip(types, b.mean(axis=0) - a.mean(axis=0)) if abs(x) > 0.05]
        lines.append(f"levels whose seed-mean moved by more than 0.05: {len(big)} of {len(types)}: "
                     + " ".join(f"{t}:{x:+.2f}" for t, x in big))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=["vessels", "camvid"], default="vessels")
    ap.add_argument("--work", default="/tmp/bench_analysis_cost", help="bench_analysis_cost's folder (vessels)")
    ap.add_argument("--camvid-config", default=None)
    ap.add_argument("--camvid-checkpoint", default=None)
    ap.add_argument("--sizes", default="16,8")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", default=None, help="append one JSON line per analysis to this file")
    a = ap.parse_args(argv)
    from repro.robustness.mmseg import load_data, load_segmentor

    if a.case == "vessels":
        rec = train(Path(a.work), 600, 8)
        model = load_segmentor(rec["config"], rec["checkpoint"])
        dataset = load_data(rec["data"], model)
    else:
        if not (a.camvid_config and a.camvid_checkpoint):
            ap.error("--case camvid needs --camvid-config and --camvid-checkpoint")
        model = load_segmentor(a.camvid_config, a.camvid_checkpoint)
        dataset = load_data("camvid:test", model)
    recs = []
    for n in [int(x) for x in a.sizes.split(",")]:
        for seed in range(a.seeds):
            r = {"case": a.case, "images_in_split": len(dataset), **one(model, dataset, n, seed)}
            recs.append(r)
            print(json.dumps({k: v for k, v in r.items() if k not in ("levels", "flags")}), flush=True)
            if a.json:
                with open(a.json, "a") as f:
                    f.write(json.dumps(r) + "\n")
    print(summarise(recs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
