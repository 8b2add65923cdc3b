"""``python -m repro gpu-check``: the no-CUDA skip (what CI sees), the synthetic Cityscapes writer and the
training + report path on the CPU at tiny sizes (``--device cpu --tiny``)."""
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from PIL import Image

from repro import gpu_check as G
from repro.base.paths import REPO_ROOT


def _env(**extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT))
    env.update(extra)
    return env


def test_skips_with_one_line_without_cuda():
    # CUDA hidden: what a CPU-only machine (CI) sees, also on a machine with a GPU
    proc = subprocess.run([sys.executable, "-m", "repro", "gpu-check"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, env=_env(CUDA_VISIBLE_DEVICES=""))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == G.SKIP_LINE
    assert "Traceback" not in proc.stderr


def test_synthetic_cityscapes_layout(tmp_path):
    root = G.write_synthetic_cityscapes(tmp_path / "cs", size=(40, 24), num_train=3, num_val=2, city="aachen")
    for split, n in (("train", 3), ("val", 2)):
        imgs = sorted((root / "leftImg8bit" / split / "aachen").glob("*_leftImg8bit.png"))
        anns = sorted((root / "gtFine" / split / "aachen").glob("*_gtFine_labelTrainIds.png"))
        assert len(imgs) == len(anns) == n
        assert [p.name.replace("_leftImg8bit", "") for p in imgs] == \
            [p.name.replace("_gtFine_labelTrainIds", "") for p in anns]
        img, ann = Image.open(imgs[0]), np.asarray(Image.open(anns[0]))
        assert img.mode == "RGB" and img.size == (40, 24) and ann.shape == (24, 40) and ann.dtype == np.uint8
        assert set(np.unique(ann).tolist()) <= set(range(19)) | {255}
    # deterministic
    again = G.write_synthetic_cityscapes(tmp_path / "cs2", size=(40, 24), num_train=3, num_val=2, city="aachen")
    a = sorted((root / "gtFine").rglob("*.png"))
    b = sorted((again / "gtFine").rglob("*.png"))
    assert all(np.array_equal(np.asarray(Image.open(x)), np.asarray(Image.open(y))) for x, y in zip(a, b))
    with pytest.raises(ValueError, match="size must be a pair"):
        G.write_synthetic_cityscapes(tmp_path / "x", size=(4, 4))
    with pytest.raises(ValueError, match="num_val must be a positive int"):
        G.write_synthetic_cityscapes(tmp_path / "x", num_val=0)
    with pytest.raises(ValueError, match="city must be"):
        G.write_synthetic_cityscapes(tmp_path / "x", city="a_b")


@pytest.mark.parametrize("argv, match", [
    (["--iters", "1"], "--iters must be >= 2"),
    (["--iters", "0"], "--iters must be a positive int"),
    (["--models", "pspnet_r51"], "--models: unknown model 'pspnet_r51'"),
    (["--num-images", "1"], "--num-images must be >= 2"),
    (["--size", "4", "32"], "--size must be two ints >= 8"),
    (["--crop", "32", "2"], "--crop must be two ints >= 8"),
    (["--batch-size", "0"], "--batch-size must be a positive int"),
    (["--num-workers", "-1"], "--num-workers must be a non-negative int"),
])
def test_bad_arguments(argv, match):
    with pytest.raises(ValueError, match=match):
        G._settings(G._parser().parse_args(argv))


def test_defaults_are_the_paper_models_and_one_analysis_one_refresh():
    from repro.train.hooks import event_iterations

    s = G._settings(G._parser().parse_args([]))
    assert s["models"] == ["pspnet_r50", "segformer_b0"] and s["crop"] is None and s["batch_size"] is None
    ana, ref = event_iterations(s["iters"], s["sia"]["num_analyses"], s["sia"]["num_refreshes"],
                                at_start=s["sia"]["analyse_at_start"], final_refresh=s["sia"]["final_refresh"])
    assert len(ana) == 1 and [r for r in ref if r not in ana]
    tiny = G._settings(G._parser().parse_args(["--tiny"]))
    assert tiny["models"] == ["fastscnn"] and tiny["sia"]["extractor"] == "conv-random"


@pytest.mark.parametrize("output, rc, passed", [
    ("....\n24 passed, 410 deselected in 3.21s\n", 0, True),
    ("ssss\n24 skipped, 410 deselected in 0.50s\n", 0, False),
    ("..F.\n1 failed, 23 passed, 410 deselected in 3.00s\n", 1, False),
])
def test_cuda_test_summary(monkeypatch, output, rc, passed):
    seen = {}

    def fake_run(cmd, **kw):
        seen["cmd"] = cmd
        return types.SimpleNamespace(returncode=rc, stdout=output, stderr="")

    monkeypatch.setattr(G.subprocess, "run", fake_run)
    res = G.run_cuda_tests()
    assert res["passed"] is passed and res["summary"] == output.strip().splitlines()[-1]
    assert seen["cmd"][-4:] == ["-k", "cuda", "-p", "no:cacheprovider"] and "not slow" in seen["cmd"]


def test_tiny_cpu_check_writes_the_report(tmp_path):
    out = tmp_path / "res" / "gpu_check"
    proc = subprocess.run([sys.executable, "-m", "repro", "gpu-check", "--device", "cpu", "--tiny", "--out",
                           str(out) + ".md"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          env=_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "gpu-check: device cpu" in proc.stdout and "fastscnn:" in proc.stdout and "s/iter" in proc.stdout
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["ok"] and summary["device"]["type"] == "cpu" and summary["tests"] is None
    (r,) = summary["runs"]
    assert r["model"] == "fastscnn" and r["ok"] and r["iters"] == 4 and r["peak_memory_bytes"] is None
    assert r["checkpoint_cuda_rng_states"] is None  # the checkpoint loaded with weights_only=True; no CUDA state
    assert [e["kind"] for e in r["events"]] == ["analysis", "refresh"]
    assert r["step_time_s"] > 0 and r["analysis_time_s"] > 0 and r["refresh_time_s"] > 0
    md = out.with_suffix(".md").read_text()
    assert "**Device: cpu**" in md and "| fastscnn | yes |" in md
