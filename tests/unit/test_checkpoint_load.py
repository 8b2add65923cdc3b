"""repro.train.checkpoint: every checkpoint that mmengine's Runner writes loads with weights_only=True.

mmengine's default ``CheckpointHook`` pickles the message hub's ``HistoryBuffer`` objects, numpy
arrays/scalars and, inside each buffer, its statistics methods as ``getattr(HistoryBuffer, "min")``.
The loader allow-lists exactly those (``getattr`` replaced by a stand-in that returns nothing else);
any other file is refused with one ``CheckpointError`` naming it.
"""
import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("mmseg")

import repro.train  # noqa: E402,F401  (mmcv.ops stand-in, registries)
from repro.train.checkpoint import (CheckpointError, history_buffer_statistic, load_checkpoint_file,  # noqa: E402
                                    load_weights, trusted_checkpoints)


class Evil:
    """Unpickling it would run a shell command; the loader must never get that far."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


class Other:
    """A harmless class that is simply not on the allow-list."""


class TensorRepr:
    """Pickles as getattr(torch.Tensor, '__repr__'): a getattr outside the HistoryBuffer statistics."""

    def __reduce__(self):
        return (getattr, (torch.Tensor, "__repr__"))


def test_bad_files_give_one_error_naming_the_file(tmp_path):
    cases = {}
    (tmp_path / "text.pth").write_text("not a checkpoint")
    cases["text.pth"] = "not a file written by torch.save"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": Evil()}, tmp_path / "evil.pth")
    cases["evil.pth"] = "holds posix.system|holds os.system|holds nt.system"
    torch.save({"meta": Other()}, tmp_path / "other.pth")
    cases["other.pth"] = r"holds test_checkpoint_load.Other, which is not on the allow-list"
    torch.save({"x": TensorRepr()}, tmp_path / "getattr.pth")
    cases["getattr.pth"] = r"getattr\(Tensor, '__repr__'\) is not allowed: only the HistoryBuffer statistics"
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    cases["list.pth"] = "holds a list, expected a checkpoint dict"
    cases["missing.pth"] = "no such file"
    for name, reason in cases.items():
        path = (tmp_path / name).absolute()
        with pytest.raises(CheckpointError, match=rf"^checkpoint {path}: .*({reason})") as e:
            load_checkpoint_file(path)
        assert "\n" not in str(e.value) and e.value.path == path and isinstance(e.value, ValueError)


def test_history_buffer_stand_in_for_getattr_gives_only_the_statistics():
    from mmengine.logging.history_buffer import HistoryBuffer

    for name in ("min", "max", "current", "mean"):
        assert history_buffer_statistic(HistoryBuffer, name) is HistoryBuffer.__dict__[name]
    import pickle

    for obj, name in ((HistoryBuffer, "update"), (HistoryBuffer, "__init__"), (os, "system"), (torch.Tensor, "min")):
        with pytest.raises(pickle.UnpicklingError, match="is not allowed"):
            history_buffer_statistic(obj, name)


def test_mmengine_history_buffer_round_trips(tmp_path):
    from mmengine.logging.history_buffer import HistoryBuffer

    buf = HistoryBuffer()
    for v in (1.0, 2.0, 4.0):
        buf.update(v)
    p = tmp_path / "hub.pth"
    torch.save({"message_hub": {"log_scalars": {"train/loss": buf}}, "meta": {"seed": np.int64(3)},
                "state_dict": {"w": torch.arange(3.0)}}, p)
    with pytest.raises(Exception, match="HistoryBuffer"):
        torch.load(p)  # torch's default (weights_only=True) without the allow-list
    ck = load_checkpoint_file(p)
    back = ck["message_hub"]["log_scalars"]["train/loss"]
    assert isinstance(back, HistoryBuffer) and back.mean() == pytest.approx(7 / 3) and back.current() == 4.0
    assert back.max() == 4.0 and ck["meta"]["seed"] == 3 and torch.equal(ck["state_dict"]["w"], torch.arange(3.0))
    # the allow-list is active inside the block only
    with trusted_checkpoints():
        torch.load(p)
    with pytest.raises(Exception, match="HistoryBuffer"):
        torch.load(p)


def test_load_weights_refuses_weights_that_do_not_fit(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    good = tmp_path / "good.pth"
    ref = {f"module.{k}": v + 1 for k, v in model.state_dict().items()}  # saved inside a DDP wrapper
    torch.save({"state_dict": ref, "meta": {"dataset_meta": {"classes": ("a", "b")}}}, good)
    ck = load_weights(model, good)
    assert ck["meta"]["dataset_meta"]["classes"] == ("a", "b")
    assert all(torch.equal(v, ref[f"module.{k}"]) for k, v in model.state_dict().items())
    part = tmp_path / "part.pth"
    torch.save({"state_dict": {"0.weight": torch.zeros(4, 3, 1, 1)}}, part)
    with pytest.raises(CheckpointError, match=rf"checkpoint {part}: does not fit the model of the config: 6 of the "
                                              r"model's 7 weights are missing \(e.g. 0.bias"):
        load_weights(model, part)
    shape = tmp_path / "shape.pth"
    torch.save({k: torch.zeros(5) if k == "0.bias" else v for k, v in model.state_dict().items()}, shape)
    with pytest.raises(CheckpointError, match=r"1 have another shape \(e.g. 0.bias \(5,\) vs \(4,\)\)"):
        load_weights(model, shape)
    none = tmp_path / "none.pth"
    torch.save({"meta": {"x": 1}}, none)
    with pytest.raises(CheckpointError, match=rf"checkpoint {none}: holds no state dict"):
        load_weights(model, none)


# ------------------------------------------------------------------ a real Runner, mmengine's defaults

def _plain_config(root: Path) -> Path:
    """A plain MMSegmentation config (Fast-SCNN, 2 classes, 8 synthetic 64x64 images) that sets no
    ``default_hooks``: mmengine's default ``CheckpointHook`` writes the checkpoint."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    for sub in ("images", "labels"):
        (root / "data" / sub).mkdir(parents=True)
    for i in range(8):
        lab = (((xx + 5 * i) // 16 + yy // 16) % 2).astype(np.uint8)
        img = rng.integers(0, 80, (64, 64, 3), dtype=np.uint8)
        img[lab == 1] += 150
        Image.fromarray(img).save(root / "data" / "images" / f"im{i}.png")
        Image.fromarray(lab).save(root / "data" / "labels" / f"im{i}.png")
    cfg = root / "fastscnn_binary.py"
    cfg.write_text(textwrap.dedent(f"""\
        custom_imports = dict(imports=['repro.train'], allow_failed_imports=False)
        default_scope = 'mmseg'
        norm_cfg = dict(type='BN', requires_grad=True)
        model = dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                                   std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
                                   size=(64, 64)),
            backbone=dict(type='FastSCNN', norm_cfg=norm_cfg),
            decode_head=dict(type='DepthwiseSeparableFCNHead', in_channels=128, channels=32, concat_input=False,
                             num_classes=2, in_index=-1, norm_cfg=norm_cfg,
                             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
            train_cfg=dict(), test_cfg=dict(mode='whole'))
        dataset = dict(type='BaseSegDataset', data_root={str(root / 'data')!r}, img_suffix='.png',
                       seg_map_suffix='.png', data_prefix=dict(img_path='images', seg_map_path='labels'),
                       metainfo=dict(classes=('background', 'object'), palette=[[0, 0, 0], [255, 255, 255]]))
        train_dataloader = dict(batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
                                dataset=dict(dataset, pipeline=[dict(type='LoadImageFromFile'),
                                                                dict(type='LoadAnnotations'),
                                                                dict(type='PackSegInputs')]))
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
        optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
        randomness = dict(seed=0)
        log_level = 'WARNING'
        work_dir = {str(root / 'work')!r}
        """))
    return cfg


def test_default_checkpoint_hook_loads_in_the_robustness_report(tmp_path, capsys):
    from mmengine.config import Config
    from mmengine.runner import Runner

    from repro.cli import main

    cfg_file = _plain_config(tmp_path)
    runner = Runner.from_cfg(Config.fromfile(str(cfg_file)))
    runner.train()
    assert [type(h).__name__ for h in runner.hooks if "Checkpoint" in type(h).__name__] == ["CheckpointHook"]
    ckpt = Path((tmp_path / "work" / "last_checkpoint").read_text().strip())
    with pytest.raises(Exception, match="HistoryBuffer"):
        torch.load(ckpt)  # what failed before: torch's default weights_only=True, no allow-list
    expected = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}

    out = tmp_path / "report"
    capsys.readouterr()
    assert main(["robustness", str(cfg_file), str(ckpt), "--data", str(tmp_path / "data"), "--suites", "clean",
                 "--out", str(out), "--batch-size", "4"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"{out}/report.md (clean mIoU ")
    report = json.loads((out / "report.json").read_text())
    clean = report["suites"]["clean"]["summary"]["mIoU"]
    assert 0.0 <= clean <= 100.0

    from repro.robustness.mmseg import load_segmentor

    model = load_segmentor(cfg_file, ckpt)  # what the report scored
    got = model.state_dict()
    assert set(got) == set(expected)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert model.dataset_meta["classes"] == ("background", "object")

    # resuming the same checkpoint under a plain Runner needs only the allow-list block
    cfg = Config.fromfile(str(cfg_file))
    cfg.resume = True
    cfg.experiment_name = "resume_default_checkpoint"
    resumed = Runner.from_cfg(cfg)
    with trusted_checkpoints():
        resumed.train()
    losses = resumed.message_hub.get_scalar("train/loss").data[0]  # the 2 logged losses, from the checkpoint
    before = runner.message_hub.get_scalar("train/loss").data[0]
    assert resumed.iter == 2 and len(losses) == 2 and np.array_equal(losses, before)
