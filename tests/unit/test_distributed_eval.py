"""Sharded evaluation under torch.distributed (torchrun, gloo on loopback): a 2-process robustness report
and evaluate() equal the 1-process ones bit for bit; a killed sharded run resumes where it stopped."""
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from repro.base import paths

WORKER = textwrap.dedent('''
    import json, os, signal, sys
    import torch
    from repro import robustness as rb
    from repro.base import distributed
    from repro.evaluation import suites as ev
    from repro.data import FolderDataset

    data_dir, out, kill_at = sys.argv[1], sys.argv[2], sys.argv[3]
    distributed.init_from_env()
    rank = distributed.rank()
    data = FolderDataset(f"{data_dir}/images", f"{data_dir}/labels", ("a", "b", "c"), name="tiny")
    g = torch.Generator().manual_seed(0)
    model = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        model.weight.copy_(torch.randn(model.weight.shape, generator=g))
        model.bias.copy_(torch.randn(3, generator=g))
    real = ev.score_item
    log, phase = {"report": [], "evaluate": []}, ["report"]

    def counted(m, ds, suite, item, level, **kw):
        if rank == 1 and f"{suite}/{item}/{level}" == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # a real kill, mid-run
        log[phase[0]].append([suite, item, str(level), kw.get("chunks")])
        return real(m, ds, suite, item, level, **kw)

    ev.score_item = counted
    rep = rb.robustness_report(model, data, out=out, corruptions=["fog", "glass_blur"], severities=(1, 3),
                               types=["R+", "gaussian_noise"], magnitudes=(0.5, 1.0), combinations=(1, 3),
                               extractor="conv-random", sa_subset=3, analysis=dict(budget=3), kid_subsets=10,
                               batch_size=2, progress=False, render=False, num_workers=1)
    phase[0] = "evaluate"
    res = ev.evaluate(model, data, "basis_aug", seed=3, types=["gaussian_noise", "R+", "rotate+"], magnitudes=(1.0,),
                      batch_size=2, progress=False)
    with open(f"{out}.rank{rank}.json", "w") as fh:
        json.dump({"world": distributed.world_size(), "calls": log["report"], "evaluate_calls": log["evaluate"],
                   "report": rep, "evaluate": res.table.to_dict(orient="list")}, fh)
''')


def _write_folder(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    yy, xx = np.mgrid[0:40, 0:48]
    for i in range(n):
        img = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        lab = ((xx + yy * (i + 1)) // 16 % 3).astype(np.uint8)
        img[..., 0] = (lab * 100 + rng.integers(0, 30, lab.shape)).astype(np.uint8)
        Image.fromarray(img).save(root / "images" / f"im{i}.png")
        Image.fromarray(lab).save(root / "labels" / f"im{i}.png")
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tmp_path, data, out, nproc, kill_at="-"):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(paths.REPO_ROOT), "OMP_NUM_THREADS": "1", "REPRO_DIST_BACKEND": "gloo",
           "TQDM_DISABLE": "1"}
    if nproc == 1:
        cmd = [sys.executable, str(script)]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(nproc),
               "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), str(script)]
    return subprocess.run([*cmd, str(data), str(out), kill_at], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One 1-process and one 2-process run of the same report (5 images: chunks of 2, 2 and 1)."""
    tmp = tmp_path_factory.mktemp("dist")
    data = _write_folder(tmp / "tiny", 5)
    one = _run(tmp, data, tmp / "one", 1)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _run(tmp, data, tmp / "two", 2)
    assert two.returncode == 0, two.stderr[-3000:]
    return tmp, data


def _result(out: Path, rank: int) -> dict:
    return json.loads(Path(f"{out}.rank{rank}.json").read_text())


def test_two_processes_equal_one_bit_for_bit(runs):
    tmp, _ = runs
    one, r0, r1 = _result(tmp / "one", 0), _result(tmp / "two", 0), _result(tmp / "two", 1)
    assert one["world"] == 1 and r0["world"] == r1["world"] == 2
    # report.json (every score, KID, corruption error and the sampling distribution) is byte-identical
    assert (tmp / "two" / "report.json").read_text() == (tmp / "one" / "report.json").read_text()
    assert r0["report"] == r1["report"] == one["report"]  # every rank returns the report
    assert r0["evaluate"] == r1["evaluate"] == one["evaluate"]
    # the work really was split: chunks of clean / imagenet_c items on both ranks, whole basis_aug items
    clean0 = [c[3] for c in r0["calls"] if c[0] == "clean"]
    clean1 = [c[3] for c in r1["calls"] if c[0] == "clean"]
    assert clean0 and clean1 and sorted(sum(clean0 + clean1, [])) == [0, 1, 2]
    basis = [tuple(c[1:3]) for r in (r0, r1) for c in r["calls"] if c[0] == "basis_aug"]
    assert len(basis) == len(set(basis)) == 4 and all(c[3] is None for r in (r0, r1) for c in r["calls"]
                                                 if c[0] == "basis_aug")
    ev_items = [tuple(c[1:]) for r in (r0, r1) for c in r["evaluate_calls"]]  # evaluate(): 3 whole items, once
    assert sorted(ev_items) == sorted(tuple(c[1:]) for c in one["evaluate_calls"]) and len(ev_items) == 3


def test_killed_sharded_run_resumes_where_it_stopped(runs, tmp_path):
    tmp, data = runs
    out = tmp_path / "killed"
    killed = _run(tmp_path, data, out, 2, kill_at="imagenet_c/glass_blur/1")
    assert killed.returncode != 0 and not (out / "report.json").exists()
    finished = {p.stem for p in (out / "items").rglob("*.json")}
    assert len(finished) >= 6  # clean, sensitivity, 4 basis_aug items at least were written before the kill
    resumed = _run(tmp_path, data, out, 2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (out / "report.json").read_text() == (tmp / "one" / "report.json").read_text()
    report_calls = [tuple(c[:3]) for r in (0, 1) for c in _result(out, r)["calls"]]
    assert ("imagenet_c", "glass_blur", "1") in report_calls
    assert not [c for c in report_calls if c[0] in ("clean", "sensitivity") or c[1:] == ("fog", "1")]


def test_init_from_env_errors_and_single_process(monkeypatch):
    from repro.base import distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.init_from_env() is False and distributed.world_size() == 1 and distributed.rank() == 0
    assert distributed.gather("x") == ["x"] and distributed.broadcast({"a": 1}) == {"a": 1}
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="environment variable WORLD_SIZE must be an int, got 'two'"):
        distributed.init_from_env()
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="backend must be 'gloo' or 'nccl', got 'mpi'"):
        distributed.init_from_env(backend="mpi")


def test_cli_workers_error(tmp_path, capsys):
    from repro.cli import main

    cfg, ck = tmp_path / "c.py", tmp_path / "w.pth"
    cfg.write_text("model = dict()\n")
    ck.write_bytes(b"0")
    assert main(["robustness", str(cfg), str(ck), "--data", "camvid:test", "--workers", "-1",
                 "--out", str(tmp_path / "never")]) == 2
    assert "--workers must be >= 0, got -1" in capsys.readouterr().err and not (tmp_path / "never").exists()
