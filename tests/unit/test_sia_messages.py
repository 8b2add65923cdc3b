"""What the sensitivity analysis tells a user: degenerate-curve messages in mIoU points (0-100), and the
SensitivityHook's log line naming the analysed dataset and its image count (issue 24)."""
from __future__ import annotations

import logging

import pytest
import torch

from repro.analysis import sensitivity as sa

TYPE = "gaussian_noise"  # a 1x1-convolution model loses ~0.8 points under it: not mistakable for a fraction


def test_degenerate_message_names_points_and_the_raw_kid():
    msg = sa.degenerate_reason(-0.011, 0.0, miou_se=0.0038, kid_se=0.0)
    assert "mIoU drop at alpha_max -0.011 points <= 2 x noise 0.0038 points" in msg
    assert "KID at alpha_max 0 (raw MMD²) <= 2 x noise 0" in msg
    assert sa.degenerate_reason(5.0, 0.01) == ""


def test_degenerate_flag_of_a_real_level_search_is_in_points():
    """An evaluator in points (as perturbation_evaluator, via repro.scoring.metrics): a drop of 1.5 points under noise
    1.0 is flagged, and the message repeats the drop in points (1.5), not as a fraction (0.015)."""
    def evaluate(alpha):
        return 80.0 - 1.5 * alpha, 0.2 * alpha, 1.0, 0.01

    res = sa.adaptive_levels(evaluate, num_levels=3, budget=4, clean=(80.0, 0.0))
    assert res.stop_reason == "degenerate"
    assert res.flag == "mIoU drop at alpha_max 1.5 points <= 2 x noise 1 points"


@pytest.fixture(scope="module")
def hook_run(tmp_path_factory):
    pytest.importorskip("mmseg")
    from repro.train import hooks as H

    class TinySeg(torch.nn.Module):
        def __init__(self):
            super().__init__()
            g = torch.Generator().manual_seed(3)
            self.conv = torch.nn.Conv2d(3, 11, 1)
            with torch.no_grad():
                self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g))
                self.conv.bias.zero_()
            self.decode_head = type("Head", (), {"num_classes": 11})()

        def forward(self, x):
            return self.conv(x)

    class Runner:
        model = TinySeg().eval()
        iter = 0
        logger = logging.getLogger("test_sia_messages")
        cfg: dict = {}

    # guard 1e6: every curve is degenerate, so the warning is logged too
    return H, Runner(), dict(types=[TYPE], dataset=dict(name="camvid", split="val"), subset=3, dataset_size=(48, 32),
                             extractor="conv-random", analysis=dict(budget=2, batch_size=3, guard=1e6))


def _run_event(H, runner, kw, caplog, monkeypatch, tmp_path, cache):
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    hook = H.SensitivityHook(**kw, cache_events=cache)
    monkeypatch.setattr(hook, "_publish", lambda *a, **k: None)
    monkeypatch.setattr(hook, "_log", lambda *a, **k: None)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="test_sia_messages"):
        hook._event(runner, "analysis", 7)
    return hook, [r.getMessage() for r in caplog.records]


def test_hook_logs_the_analysed_dataset_and_image_count(hook_run, caplog, monkeypatch, tmp_path):
    H, runner, kw = hook_run
    from repro.base import paths

    hook, lines = _run_event(H, runner, kw, caplog, monkeypatch, tmp_path, cache=True)
    data = [m for m in lines if m.startswith("[SIA] analysis at iter 7 on")]
    assert len(data) == 1, lines
    assert data[0] == (f"[SIA] analysis at iter 7 on 3 of {len(hook._ds)} images of SegDataset camvid (data_root "
                       f"{paths.DATA_DIR / 'camvid'}, split val), resized to 48x32 (W x H)")
    warn = [m for m in lines if "degenerate sensitivity curves" in m]
    assert len(warn) == 1 and "(mIoU in points, 0-100)" in warn[0]
    pts = {p["alpha"]: p["miou"] for p in hook.history[-1]["analysis_points"] if p["type"] == TYPE}
    drop = pts[0.0] - pts[1.0]  # mIoU of repro.scoring.metrics: points
    assert 0.1 < abs(drop) < 100 and f"{TYPE} (mIoU drop at alpha_max {drop:.3g} points <= 1e+06 x noise " in warn[0]
    # the same event again, read from the cache: nothing loaded, the configured subset is named
    _, again = _run_event(H, runner, kw, caplog, monkeypatch, tmp_path, cache=True)
    assert [m for m in again if m.startswith("[SIA] analysis at iter 7 on")] == [
        f"[SIA] analysis at iter 7 on a subset of 3 images (event read from the cache) of SegDataset camvid "
        f"(data_root ?, split val), resized to 48x32 (W x H)"]


def test_analysis_data_message_of_an_mmseg_dataset_config():
    pytest.importorskip("mmseg")
    from repro.train.hooks import analysis_data_message

    cfg = dict(type="CityscapesDataset", data_root="/data/cityscapes", data_prefix=dict(img_path="leftImg8bit/val",
                                                                                         seg_map_path="gtFine/val"))
    assert analysis_data_message(40, cfg, None, 8) == (
        "[SIA] analysis at iter 40 on 8 images of CityscapesDataset (data_root /data/cityscapes, split "
        "leftImg8bit/val)")
    assert analysis_data_message(0, dict(name="isbi2012_em", split="test"), None, None, [4, 9]) == (
        "[SIA] analysis at iter 0 on 2 images (event read from the cache) of SegDataset isbi2012_em (data_root ?, "
        "split test)")
