"""Benchmark: adaptive sensitivity analysis (ASA) vs the uniform 10-point grid (SPEC.md §3).

For every perturbation type, on a real model and a CamVid validation subset:

- the dense reference: S on 40 magnitudes i/40 (i = 1..40) plus the clean point (41 points),
  reference levels = first crossings of the monotone PCHIP fit through them;
- ASA (:func:`repro.analysis.sensitivity.adaptive_levels`) and uniform SA
  (:func:`repro.analysis.sensitivity.uniform_levels`, grid 10);
- evaluations (model + feature extractor passes over the subset) and wall time of each, and the
  level error max_k |α_k - α_k^ref| per type.

Target (issue 5): ASA needs ≤ 50% of the grid's evaluations with level error ≤ the grid's.

Evaluations are deterministic per (type, α) (the noise is seeded from them), so one evaluation
serves every method that asks for that α; each method is charged the measured time of every
evaluation it asked for (its wall time is the sum, as if it had run alone).

Model: ``--model cpu-baseline`` is the ``cpu`` protocol's Baseline (the shared Fast-SCNN warm
start, :func:`repro.paper.experiments.baseline_model`; its curves are the ones notebook 03 and the
training runs analyse, at the training resolution, with ``--extractor warm-start``: its frozen
encoder, the protocol's KID features). ``--model stand-in`` (the former default) is a SMALL
STAND-IN trained here with plain PyTorch (:func:`repro.paper.small_models.quick_model`: a tiny U-Net, a
few hundred iterations on CamVid train, cached) — not the paper's PSPNet.
Degenerate curves (the analysis' guard) cost one evaluation and give uniform levels in every
method, the reference included; the summary also reports the non-degenerate types alone. ``run()`` accepts any model (nn.Module / callable returning
logits / mmseg segmentor). Feature extractor: ``--extractor`` (``inception`` needs the FID
weights file; ``resnet18-random``/``inception-random`` need none; ``conv-random`` is a tiny
seeded random conv net, the cheapest, for CPU smoke runs — its KID is not Inception's).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_sensitivity.py --model cpu-baseline --extractor warm-start --tol 0.05,0.1
    .venv/bin/python benchmarks/bench_sensitivity.py --model stand-in --iterations 300 --extractor conv-random
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from repro.analysis import features  # noqa: F401
from repro.paper import small_models  # noqa: F401
from repro.analysis import sensitivity as sa  # noqa: F401
from repro.base.hashing import state_hash  # noqa: F401
from repro.data import load_dataset  # noqa: E402
from repro.scoring.inference import evaluate_images  # noqa: F401
from repro.perturb import NAMES  # noqa: E402


def run(model, images, labels, *, num_classes: int, types=NAMES, extractor="conv-random", num_levels: int = 5,
        tols=(0.05,), grid: int = 10, dense: int = 40, seed: int = 0, batch_size: int = 16, budget: int | None = None,
        memo_key: dict | None = None, progress: bool = True, guard: float | None = sa.GUARD_Z
        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-type rows (evaluations, wall time, level error of each method) and a summary table.

    ``tols``: ASA tolerances to compare (each is charged its own evaluations). ``memo_key``: a
    JSON-like description of model + data; when given, every (type, α) evaluation is stored on
    disk (``<CACHE_DIR>/bench_sensitivity/``) with its measured time, so a re-run (e.g. with
    another tolerance) only evaluates new magnitudes and still charges the measured times.
    """
    from tqdm.auto import tqdm

    from repro.base.cache import entry_path

    if isinstance(extractor, str):
        ext = features.extractor(extractor, seed=seed if extractor == "conv-random" else 0)
    else:
        ext = extractor
    t0 = time.perf_counter()
    clean_feats = torch.cat([ext(images[s:s + batch_size]).cpu() for s in range(0, len(images), batch_size)])
    clean_miou = evaluate_images(model, images, labels, num_classes, batch_size=batch_size)["mIoU"]
    clean_s = time.perf_counter() - t0
    rows = []
    for name in tqdm(types, desc="types", disable=not progress):
        ev = sa.perturbation_evaluator(model, images, labels, name, extractor=ext, clean_features=clean_feats,
                                       num_classes=num_classes, seed=seed, batch_size=batch_size)
        path = None
        memo: dict[float, tuple[tuple, float]] = {}  # α -> (evaluator result, seconds)
        if memo_key is not None:
            path = entry_path("bench_sensitivity", {**memo_key, "type": name, "extractor": ext.tag, "seed": seed,
                                                    "batch_size": batch_size, "format": 2})
            if path.exists():
                memo = torch.load(path, weights_only=False)
        n_before = len(memo)

        def charged(log):
            def evaluate(alpha):
                key = round(float(alpha), 10)
                if key not in memo:
                    t = time.perf_counter()
                    res = tuple(float(v) for v in ev(alpha))
                    memo[key] = (res, time.perf_counter() - t)
                log.append(memo[key][1])
                return memo[key][0]
            return evaluate

        rnd = sa.snap_blur if name == "gaussian_blur" else None
        t_ref, t_un = [], []
        ref = sa.uniform_levels(charged(t_ref), num_levels=num_levels, grid=dense, round_fn=rnd,
                                clean=(clean_miou, 0.0), guard=guard)
        if ref.flag:  # degenerate: every method falls back to the uniform levels k/L
            ref_levels = np.asarray(ref.levels[:-1], dtype=float)
        else:
            ref_levels = sa.solve_targets(ref.points["alpha"].to_numpy(), ref.points["S"].to_numpy(),
                                          sa.targets(num_levels))
        if rnd is not None:
            ref_levels = np.array([rnd(a) for a in ref_levels])
        un = sa.uniform_levels(charged(t_un), num_levels=num_levels, grid=grid, round_fn=rnd, clean=(clean_miou, 0.0),
                               guard=guard)
        row = {"type": name, "degenerate": bool(ref.flag), "ref_evals": ref.n_evaluations, "ref_s": sum(t_ref),
               "grid_evals": un.n_evaluations, "grid_s": sum(t_un),
               "grid_err": float(np.max(np.abs(un.levels[:-1] - ref_levels))),
               "ref_levels": np.round(ref_levels, 3).tolist(), "grid_levels": np.round(un.levels[:-1], 3).tolist()}
        for tol in tols:
            t_ad = []
            ad = sa.adaptive_levels(charged(t_ad), num_levels=num_levels, tol=tol, round_fn=rnd,
                                    clean=(clean_miou, 0.0), budget=budget, guard=guard)
            row.update({f"asa{tol:g}_evals": ad.n_evaluations, f"asa{tol:g}_s": sum(t_ad),
                        f"asa{tol:g}_err": float(np.max(np.abs(ad.levels[:-1] - ref_levels))),
                        f"asa{tol:g}_stop": ad.stop_reason, f"asa{tol:g}_levels": np.round(ad.levels[:-1], 3).tolist()})
        if path is not None and len(memo) > n_before:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(memo, path)
        rows.append(row)
    per = pd.DataFrame(rows)
    def row(frame, prefix, method, no_worse):  # the reference has no level error of its own (0 by definition)
        err = frame[f"{prefix}_err"] if f"{prefix}_err" in frame else pd.Series([0.0])
        return {"method": method, "evaluations": int(frame[f"{prefix}_evals"].sum()),
                "evals/type": frame[f"{prefix}_evals"].mean(), "wall_s": frame[f"{prefix}_s"].sum(),
                "mean level err": err.mean(), "max level err": err.max(), "types no worse than grid": no_worse}

    def asa_no_worse(frame, prefix):
        return int((frame[f"{prefix}_err"] <= frame["grid_err"] + 1e-9).sum())

    summ = [row(per, f"asa{tol:g}", f"ASA (adaptive, tol {tol:g})", asa_no_worse(per, f"asa{tol:g}")) for tol in tols]
    summ += [row(per, "grid", f"uniform grid ({grid})", len(per)),
             row(per, "ref", f"dense reference ({dense} + clean)", None)]
    nd = per[~per["degenerate"]]
    summ += [row(nd, f"asa{tol:g}", f"ASA (tol {tol:g}), non-degenerate types only", asa_no_worse(nd, f"asa{tol:g}"))
             for tol in tols]
    summ.append(row(nd, "grid", f"uniform grid ({grid}), non-degenerate types only", len(nd)))
    summ = pd.DataFrame(summ)
    summ["types no worse than grid"] = summ["types no worse than grid"].astype("Int64")
    summ.attrs.update({"clean_miou": clean_miou, "clean_s": clean_s, "extractor": ext.tag, "n_images": len(images)})
    return per, summ


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subset", type=int, default=16, help="CamVid val images (drawn with --seed)")
    ap.add_argument("--model", default="cpu-baseline", choices=("cpu-baseline", "stand-in"),
                    help="the cpu protocol's Baseline (Fast-SCNN warm start) or the TinyUNet stand-in")
    ap.add_argument("--iterations", type=int, default=200, help="training iterations of the stand-in model")
    ap.add_argument("--budget", type=int, default=None, help="ASA evaluation budget per type (the cpu profile: 6)")
    ap.add_argument("--extractor", default="warm-start",
                    help="warm-start (cpu-baseline only: its frozen encoder) | conv-random | resnet18-random | "
                         "inception-random | inception")
    ap.add_argument("--types", default="all", help="'all' or comma-separated perturbation names")
    ap.add_argument("--num-levels", type=int, default=5)
    ap.add_argument("--tol", default="0.05", help="ASA tolerance(s), comma-separated, e.g. 0.05,0.1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", default=None, help="optional CSV path for the per-type table")
    a = ap.parse_args(argv)
    types = NAMES if a.types == "all" else tuple(a.types.split(","))
    t0 = time.perf_counter()
    extractor = a.extractor
    if a.model == "cpu-baseline":
        from repro.paper import experiments

        model, _ = experiments.baseline_model("fastscnn", profile="cpu")
        print(f"model: the cpu protocol's Baseline (Fast-SCNN warm start; loaded in {time.perf_counter() - t0:.1f} s)")
        if extractor == "warm-start":
            extractor = experiments.offline_extractor("warm-start", model="fastscnn", profile="cpu")
    else:
        if extractor == "warm-start":
            raise SystemExit("--extractor warm-start needs --model cpu-baseline")
        model = small_models.quick_model(iterations=a.iterations, seed=a.seed)
        print(f"model: STAND-IN TinyUNet (repro.paper.small_models.quick_model, {a.iterations} it on CamVid train; "
              f"trained in {model.train_log['wall_s']:.0f} s when first cached; loaded in {time.perf_counter() - t0:.1f} s)")
    val = load_dataset("camvid", "val")
    idx = sorted(np.random.default_rng(a.seed).choice(len(val), a.subset, replace=False).tolist())
    images, labels = val.batch(idx)
    tols = tuple(float(t) for t in a.tol.split(","))
    memo_key = {"model": state_hash(model), "data": "camvid/val", "indices": idx}
    per, summ = run(model, images, labels, num_classes=val.num_classes, types=types, extractor=extractor,
                    num_levels=a.num_levels, tols=tols, seed=a.seed, batch_size=a.batch_size, memo_key=memo_key,
                    budget=a.budget)
    print(f"ASA budget per type: {a.budget if a.budget is not None else 'none'}; degenerate types: "
          f"{', '.join(per.loc[per['degenerate'], 'type']) or 'none'}; load at the end {__import__('os').getloadavg()[0]:.2f}")
    print(f"subset: {len(images)} CamVid val images {tuple(images.shape[-2:])}, clean mIoU {summ.attrs['clean_miou']:.2f}%, "
          f"extractor {summ.attrs['extractor']}, torch threads {torch.get_num_threads()}")
    pd.set_option("display.width", 200)
    p0 = f"asa{tols[0]:g}"
    print(per[["type", f"{p0}_evals", "grid_evals", f"{p0}_err", "grid_err", f"{p0}_stop", "ref_levels",
               f"{p0}_levels", "grid_levels"]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print()
    print(summ.to_markdown(index=False, floatfmt=".3f"))
    un = summ[summ["method"].str.startswith("uniform")].iloc[0]
    for _, ad in summ[summ["method"].str.startswith("ASA") & ~summ["method"].str.contains("non-degenerate")].iterrows():
        ok_evals = ad["evaluations"] <= 0.5 * un["evaluations"]
        ok_err = ad["mean level err"] <= un["mean level err"]
        print(f"{ad['method']}: evaluations / grid = {ad['evaluations'] / un['evaluations']:.2f} "
              f"(target <= 0.50: {'met' if ok_evals else 'NOT met'}); mean level error {ad['mean level err']:.3f} vs "
              f"grid {un['mean level err']:.3f} (target <= grid: {'met' if ok_err else 'NOT met'}); "
              f"no worse than the grid on {ad['types no worse than grid']}/{len(per)} types")
    if a.out:
        per.to_csv(a.out, index=False)


if __name__ == "__main__":
    main()
