"""Slow tests of repro.train: kill-and-resume reproducibility and 2-process DDP (gloo, CPU).

Each test starts fresh Python processes (mmengine runners), so they take a few minutes on 2 CPU
cores; they are marked ``slow`` (``make test-slow``).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repro.base import paths

pytestmark = pytest.mark.slow

# the paper's schedule (random init, warm-up, analyses and refreshes during training) on a tiny scale
CFG = dict(model="segformer_b0", method="ours", dataset="camvid", profile="smoke", iters=12, crop=48,
           batch_size=2, num_workers=1, checkpoint_interval=4, eval_splits=["val"], eval_limit=2, warm_start=None,
           sia=dict(types=["R+", "rotate+"], subset=2, dataset_size=(64, 48), analysis=dict(budget=2), extractor="conv-random",
                    num_analyses=4, num_refreshes=8, analyse_at_start=False, final_refresh=True,
                    refresh_subset=None, cache_events=False))

SCRIPT = r"""
import json, os, sys, time
import repro.train as T
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

cfg_kwargs, work_dir, block_at, launcher = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
cfg = T.build_config(**cfg_kwargs)
if block_at > 0:
    @HOOKS.register_module()
    class _BlockHook(Hook):
        priority = "LOWEST"
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == block_at:
                open(os.path.join(work_dir, "BLOCKED"), "w").write(str(runner.iter + 1))
                time.sleep(3600)
    cfg.custom_hooks.append(dict(type="_BlockHook"))
res = T.run(cfg, work_dir, launcher=launcher)
rank = int(os.environ.get("RANK", "0"))
json.dump(res["sia"], open(os.path.join(work_dir, f"final_rank{rank}.json"), "w"))
"""


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(paths.REPO_ROOT))
    env["REPRO_CACHE_DIR"] = str(paths.CACHE_DIR)
    return env


def _cmd(work_dir, block_at=0, launcher="none"):
    return [sys.executable, "-c", SCRIPT, json.dumps(CFG), str(work_dir), str(block_at), launcher]


def test_killed_and_resumed_run_ends_with_the_uninterrupted_distribution(tmp_path):
    ref_dir, kill_dir = tmp_path / "ref", tmp_path / "killed"
    ref_dir.mkdir()
    kill_dir.mkdir()
    ref = subprocess.Popen(_cmd(ref_dir), env=_env(), cwd=paths.REPO_ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    victim = subprocess.Popen(_cmd(kill_dir, block_at=7), env=_env(), cwd=paths.REPO_ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 900
    while not (kill_dir / "BLOCKED").exists():
        assert victim.poll() is None, victim.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "the run never reached iteration 7"
        time.sleep(0.5)
    assert (kill_dir / "iter_4.pth").is_file() and not (kill_dir / "results.json").exists()
    victim.send_signal(signal.SIGKILL)
    victim.wait(60)
    assert victim.returncode == -signal.SIGKILL
    time.sleep(1)  # its orphaned dataloader worker notices the dead parent and exits
    # resume: same config, same folder, no blocking hook
    out = subprocess.run(_cmd(kill_dir), env=_env(), cwd=paths.REPO_ROOT, capture_output=True, timeout=900)
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    assert ref.wait(900) == 0, ref.stderr.read().decode()[-3000:]
    log = "".join(p.read_text() for p in kill_dir.glob("*/*.log"))
    assert "resumed" in log.lower() or "Advance dataloader" in log
    left = [d for d in Path("/proc").iterdir() if d.name.isdigit() and _cmdline(d).endswith(f"{kill_dir} 7 none")]
    assert not left, "processes of the killed run are still alive"
    a = json.loads((ref_dir / "final_rank0.json").read_text())
    b = json.loads((kill_dir / "final_rank0.json").read_text())
    assert [(e["kind"], e["iter"]) for e in a["events"]] == [(e["kind"], e["iter"]) for e in b["events"]]
    assert b["levels"] == a["levels"]
    assert b["distribution"] == a["distribution"]


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_processes_end_with_identical_distributions(tmp_path):
    wd = tmp_path / "ddp"
    wd.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-c"]
    # torch.distributed.run runs a script file: write the script out
    script = tmp_path / "ddp_script.py"
    script.write_text(SCRIPT)
    cmd = cmd[:-1] + [str(script), json.dumps(CFG), str(wd), "0", "pytorch"]
    out = subprocess.run(cmd, env=_env(), cwd=paths.REPO_ROOT, capture_output=True, timeout=1500)
    assert out.returncode == 0, (out.stdout.decode()[-2000:], out.stderr.decode()[-4000:])
    r0 = json.loads((wd / "final_rank0.json").read_text())
    r1 = json.loads((wd / "final_rank1.json").read_text())
    assert [(e["kind"], e["iter"]) for e in r0["events"]] == [
        ("analysis", 2), ("refresh", 3), ("refresh", 4), ("analysis", 5), ("refresh", 6), ("analysis", 7),
        ("refresh", 8), ("refresh", 9), ("analysis", 10), ("refresh", 12)]
    assert r0["distribution"] == r1["distribution"] and r0["levels"] == r1["levels"]
    s0 = json.loads((wd / "sia_schedule.rank0.json").read_text())["schedule"]
    s1 = json.loads((wd / "sia_schedule.rank1.json").read_text())["schedule"]
    assert s0 == s1 and len(s0) == 11
    # every event was split between the two ranks (SensitivityHook(shard=True), the default)
    hist = json.loads((wd / "sia_history.json").read_text())["history"]
    assert len(hist) == 10 and all(e["ranks"] == 2 for e in hist)
    res = json.loads((wd / "results.json").read_text())
    assert set(res["metrics"]["val"]) == {"aAcc", "mIoU", "mAcc"}
