"""Two independent training runs on 2 cores: side by side (one thread each) or one after the other
(two threads each)?

Runs the same kind of `cpu`-profile fine-tune (from the shared warm start, which must already be in
the cache) four times with different seeds: two one after the other with ``OMP_NUM_THREADS=2``,
then two at once, each in its own process with ``OMP_NUM_THREADS=1``. Each run is a fresh
``python -c 'repro.train.run(...)'`` process (startup included, as in the batch). Prints and
writes ``benchmarks/results/bench_parallel_runs.md``.

    .venv/bin/python benchmarks/bench_parallel_runs.py --method sota --iters 200
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _cmd(model, method, iters, seed):
    code = (f"import repro.train as T; r = T.run(dict(model={model!r}, method={method!r}, dataset='camvid', "
            f"iters={iters}, seed={seed}), profile='cpu', force=True); print(r['train_time_s'])")
    return [sys.executable, "-c", code]


def _start(model, method, iters, seed, threads):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return subprocess.Popen(_cmd(model, method, iters, seed), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="fastscnn")
    ap.add_argument("--method", default="sota")
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--seeds", default="100,101,102,103")
    a = ap.parse_args(argv)
    s = [int(v) for v in a.seeds.split(",")]
    rows = []
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    train = []
    for seed in s[:2]:
        p = _start(a.model, a.method, a.iters, seed, 2)
        train.append(float(p.communicate()[0].strip().splitlines()[-1]))
    seq = time.perf_counter() - t0
    rows.append(("one after the other, 2 threads each", seq, train, load0))
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    procs = [_start(a.model, a.method, a.iters, seed, 1) for seed in s[2:4]]
    train = [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    par = time.perf_counter() - t0
    rows.append(("side by side, 1 thread each", par, train, load0))
    lines = ["# Two runs on 2 cores: side by side or one after the other (benchmarks/bench_parallel_runs.py)", "",
             f"`cpu` profile fine-tunes of {a.model} / {a.method}, {a.iters} iterations each, from the cached warm "
             "start; each run a fresh process (startup, training, final evaluation on val/test/test_dusk).", "",
             "| schedule | wall time for both (s) | training time of each (s) | load at start |", "|---|---|---|---|"]
    for name, wall, tr, ld in rows:
        lines.append(f"| {name} | {wall:.0f} | {', '.join(f'{v:.0f}' for v in tr)} | {ld:.2f} |")
    lines += ["", f"Side by side / one after the other: {par / seq:.2f} of the wall time "
              f"({'faster' if par < seq else 'slower'} side by side)."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_parallel_runs.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
