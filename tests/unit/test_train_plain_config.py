"""The method in a plain MMSegmentation config run by mmengine's own Runner (not repro.train.run).

Three additions to an ordinary config: ``custom_imports``, a ``SensitivityAugment`` pipeline entry
and a ``SensitivityHook`` in ``custom_hooks``. The transform must find the hook's schedule by
itself, inside persistent dataloader workers, and draw from the analysed distribution.
README's section "In your own MMSegmentation config" is run as written (its code block is read from
README.md) on a user's 2-class folder dataset, and ``python -m repro train USER_CONFIG.py`` on such
a config (not composed by ``build_config``).
"""
import json
import os
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("mmseg")

import repro.train as T  # noqa: E402  (registers the transforms, hook and datasets)
from mmcv.transforms import BaseTransform  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmseg.registry import TRANSFORMS  # noqa: E402

from repro.analysis.sampling import Distribution  # noqa: F401

TYPES = ["R+", "V-", "rotate+"]


@TRANSFORMS.register_module(name="RecordSensitivityDraws", force=True)
class RecordSensitivityDraws(BaseTransform):
    """Test helper: append (pid, iteration, type, magnitude, rank) of each SensitivityAugment draw to a file."""

    def __init__(self, out: str):
        self.out = out

    def transform(self, results):
        name, mag = results["sia_perturbation"]
        with open(self.out, "a") as f:
            f.write(json.dumps([os.getpid(), results["sia_batch"], name, mag, int(os.environ.get("RANK", "0"))]) + "\n")
        return results


def _write_config(tmp_path: Path, *, hooks: bool = True, workers: int = 1) -> Path:
    hook = (f"custom_hooks = [dict(type='SensitivityHook', types={TYPES!r}, num_analyses=1, num_refreshes=0, "
            "analyse_at_start=True, final_refresh=False, subset=4, dataset_size=(96, 72), extractor='conv-random', "
            "analysis=dict(budget=3), measure_levels=False)]") if hooks else "custom_hooks = []"
    text = textwrap.dedent(f"""\
        default_scope = 'mmseg'
        custom_imports = dict(imports=['repro.train'], allow_failed_imports=False)
        crop_size = (64, 64)
        norm_cfg = dict(type='BN', requires_grad=True)
        model = dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                                   std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
                                   size=crop_size),
            backbone=dict(type='FastSCNN', norm_cfg=norm_cfg),
            decode_head=dict(type='DepthwiseSeparableFCNHead', in_channels=128, channels=128, concat_input=False,
                             num_classes=11, in_index=-1, norm_cfg=norm_cfg,
                             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
            train_cfg=dict(), test_cfg=dict(mode='whole'))
        train_pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='RandomCrop', crop_size=crop_size),
            dict(type='SensitivityAugment', types={TYPES!r}, seed=0),
            dict(type='RecordSensitivityDraws', out={str(tmp_path / 'draws.jsonl')!r}),
            dict(type='PackSegInputs'),
        ]
        test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
        train_dataloader = dict(batch_size=2, num_workers={workers}, persistent_workers={workers > 0},
                                sampler=dict(type='InfiniteSampler', shuffle=True),
                                dataset=dict(type='CamVidDataset', split='train', pipeline=train_pipeline))
        val_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                              dataset=dict(type='CamVidDataset', split='val', pipeline=test_pipeline))
        val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=1000)
        val_cfg = dict(type='ValLoop')
        optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
        default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, save_last=False),
                             logger=dict(type='LoggerHook', interval=1000))
        {hook}
        env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
                       dist_cfg=dict(backend='gloo'))
        randomness = dict(seed=0)
        log_level = 'WARNING'
        work_dir = {str(tmp_path / 'work')!r}
        """)
    path = tmp_path / "fastscnn_ours_camvid.py"
    path.write_text(text)
    return path


def expected(dist, b, rank=0):
    """Draws of iteration ``b`` (batch of 2) by the transform's seed rule SeedSequence([seed, rank, batch, position])."""
    out = []
    for pos in range(2):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([0, rank, b, pos])))
        name, mag = dist.sample(1, rng)[0]
        out.append((name, round(float(mag), 9)))
    return sorted(out, key=repr)


def test_plain_mmseg_config_draws_from_the_analysed_distribution(tmp_path):
    cfg = Config.fromfile(str(_write_config(tmp_path)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = Runner.from_cfg(cfg)
        runner.train_dataloader  # builds the transforms (in this process)
    assert not [w for w in caught if "SensitivityHook" in str(w.message)]  # the transform found its hook
    runner.train()
    hook = next(h for h in runner.hooks if type(h).__name__ == "SensitivityHook")
    assert [e["iter"] for e in hook.history] == [0] and hook.history[0]["kind"] == "analysis"
    # the hook analysed the config's own validation data (CamVid val, 11 classes) by default
    assert hook.dataset_cfg["type"] == "CamVidDataset" and hook.dataset_cfg["split"] == "val"
    analysed = Distribution.from_dict(hook.history[0]["distribution"])
    warmup = Distribution.uniform(TYPES)
    assert analysed != warmup

    rows = [json.loads(line) for line in (tmp_path / "draws.jsonl").read_text().splitlines()]
    assert rows and all(pid != os.getpid() for pid, *_ in rows)  # drawn in the (persistent) worker
    by_batch: dict[int, list] = {}
    for _, b, name, mag, _rank in rows:
        by_batch.setdefault(b, []).append((name, round(float(mag), 9)))
    assert set(range(4)) <= set(by_batch)  # every trained iteration was drawn

    for b in range(4):
        assert sorted(by_batch[b], key=repr) == expected(analysed, b)
    assert any(expected(warmup, b) != expected(analysed, b) for b in range(4))  # the check can tell them apart
    assert not T.channel.pointer_path(runner.experiment_name).exists()  # cleaned up after the run


def test_plain_config_without_hook_warns_once_and_uses_the_warm_up(tmp_path):
    cfg = Config.fromfile(str(_write_config(tmp_path, hooks=False, workers=0)))
    runner = Runner.from_cfg(cfg)
    with pytest.warns(UserWarning, match="has no SensitivityHook in custom_hooks"):
        dl = runner.build_dataloader(cfg.train_dataloader)
    t = next(t for t in dl.dataset.pipeline.transforms if type(t).__name__ == "SensitivityAugment")
    assert t._distribution(0) == Distribution.uniform(TYPES)


def test_hook_checks_the_class_count_of_its_dataset():
    hook = T.SensitivityHook(types=["R+"], dataset=dict(name="isbi2012_em", split="test"))
    with pytest.raises(ValueError, match="model predicts 11 classes but the analysis dataset isbi2012_em/test has 2"):
        hook._load_data(11)
    with pytest.raises(TypeError, match="SensitivityHook: dataset must be None"):
        T.SensitivityHook(dataset="camvid")
    with pytest.raises(TypeError, match="schedule_file must be 'auto', a path or None"):
        T.SensitivityAugment(schedule_file=3)


DDP_SCRIPT = r"""
import json, os, sys
import torch.distributed as dist
from mmcv.transforms import BaseTransform
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module(name="RecordSensitivityDraws", force=True)
class RecordSensitivityDraws(BaseTransform):
    def __init__(self, out):
        self.out = out

    def transform(self, results):
        name, mag = results["sia_perturbation"]
        with open(self.out, "a") as f:
            f.write(json.dumps([os.getpid(), results["sia_batch"], name, mag, int(os.environ.get("RANK", "0"))]) + "\n")
        return results


cfg = Config.fromfile(sys.argv[1])
cfg.launcher = "pytorch"
# CPU only: mmengine's pytorch launcher would call torch.cuda.set_device; start gloo first (as repro.train.run does)
dist.init_process_group(backend="gloo")
cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=None)
runner = Runner.from_cfg(cfg)
runner.train()
hook = next(h for h in runner.hooks if type(h).__name__ == "SensitivityHook")
json.dump(hook.history[0]["distribution"], open(os.path.join(cfg.work_dir, f"dist_rank{os.environ['RANK']}.json"), "w"))
"""


@pytest.mark.slow
def test_plain_mmseg_config_under_ddp_draws_from_the_analysed_distribution_on_every_rank(tmp_path):
    cfg_file = _write_config(tmp_path)
    script = tmp_path / "ddp_plain.py"
    script.write_text(DDP_SCRIPT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(T.__file__).parents[2]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(port), str(script), str(cfg_file)]
    out = subprocess.run(cmd, env=env, capture_output=True, timeout=900)
    assert out.returncode == 0, out.stderr.decode()[-4000:]
    work = tmp_path / "work"
    d0 = json.loads((work / "dist_rank0.json").read_text())
    assert d0 == json.loads((work / "dist_rank1.json").read_text())  # rank 0 analysed, rank 1 received it
    analysed = Distribution.from_dict(d0)
    rows = [json.loads(line) for line in (tmp_path / "draws.jsonl").read_text().splitlines()]
    for rank in (0, 1):
        by_batch: dict[int, list] = {}
        for _, b, name, mag, r in rows:
            if r == rank:
                by_batch.setdefault(b, []).append((name, round(float(mag), 9)))
        for b in range(4):
            assert sorted(by_batch[b], key=repr) == expected(analysed, b, rank)


# ------------------------------------------------------------------ README "In your own MMSegmentation config"

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_own_config_block() -> tuple[str, dict]:
    """The python block of README's "In your own MMSegmentation config" and what it defines (it is plain
    dict literals: the three additions)."""
    section = README.read_text().split("**In your own MMSegmentation config**", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)  # noqa: S102 -- the README's own config lines
    return block, ns


def write_binary_folder(root: Path, n: int = 8, size: int = 64) -> Path:
    """``n`` synthetic RGB images with label PNGs of classes 0/1 (blocks; the object class is bright)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        lab = (((xx + 5 * i) // 16 + yy // 16) % 2).astype(np.uint8)
        img = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
        img[lab == 1] += 150
        Image.fromarray(img).save(root / "images" / f"im{i}.png")
        Image.fromarray(lab).save(root / "labels" / f"im{i}.png")
    return root


def user_config_text(data_root: Path, work_dir: Path, *, additions: str = "", sia_transform: str = "",
                     evaluators: str = "test", iters: int = 2) -> str:
    """A plain MMSegmentation config as a user writes it: Fast-SCNN, 2 classes, ``BaseSegDataset`` on a
    folder, mmengine's default hooks (its default ``CheckpointHook``); ``additions`` and
    ``sia_transform`` (a pipeline entry after the crop) are inserted as given. ``evaluators``: "test"
    (val and test loaders/evaluators, as MMSegmentation's configs have), "val" (val only) or "none"."""
    ev = ""
    if evaluators in ("test", "val"):
        ev = textwrap.dedent("""\
            val_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                                  dataset=dict(dataset, pipeline=test_pipeline))
            val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
            val_cfg = dict(type='ValLoop')
            """)
    if evaluators == "test":
        ev += "test_dataloader = val_dataloader\ntest_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice'])\n" \
              "test_cfg = dict(type='TestLoop')\n"
    return additions + textwrap.dedent(f"""\
        default_scope = 'mmseg'
        crop_size = (64, 64)
        norm_cfg = dict(type='BN', requires_grad=True)
        model = dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                                   std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
                                   size=crop_size),
            backbone=dict(type='FastSCNN', norm_cfg=norm_cfg),
            decode_head=dict(type='DepthwiseSeparableFCNHead', in_channels=128, channels=32, concat_input=False,
                             num_classes=2, in_index=-1, norm_cfg=norm_cfg,
                             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
            train_cfg=dict(), test_cfg=dict(mode='whole'))
        dataset = dict(type='BaseSegDataset', data_root={str(data_root)!r}, img_suffix='.png', seg_map_suffix='.png',
                       data_prefix=dict(img_path='images', seg_map_path='labels'),
                       metainfo=dict(classes=('background', 'vessel'), palette=[[0, 0, 0], [255, 255, 255]]))
        train_pipeline = [
            dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='RandomCrop', crop_size=crop_size),
            {sia_transform}
            dict(type='PackSegInputs'),
        ]
        test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
        train_dataloader = dict(batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
                                dataset=dict(dataset, pipeline=train_pipeline))
        train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, val_interval=1000)
        optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
        randomness = dict(seed=0)
        log_level = 'WARNING'
        work_dir = {str(work_dir)!r}
        """) + ev


def test_readme_own_config_section_as_written(tmp_path, capsys):
    """README's three additions in a user's binary Fast-SCNN config: trained by ``Runner.from_cfg(cfg).train()``
    with mmengine's default CheckpointHook, then ``python -m repro robustness`` on its checkpoint."""
    from repro.cli import main
    from repro.robustness.mmseg import load_segmentor

    block, ns = readme_own_config_block()
    assert ns["custom_imports"] == dict(imports=["repro.train"], allow_failed_imports=False)
    readme_pipeline = [t["type"] for t in ns["train_pipeline"]]
    sia = ns["train_pipeline"][readme_pipeline.index("SensitivityAugment")]
    assert readme_pipeline[-2:] == ["SensitivityAugment", "PackSegInputs"] and "RandomCrop" in readme_pipeline[:-2]
    (hook,) = ns["custom_hooks"]
    assert hook["type"] == "SensitivityHook"
    # the README's hook with a tiny subset and tiny analysis settings (one analysis before the first step)
    hook = dict(hook, subset=4, dataset_size=(64, 64), num_analyses=1, num_refreshes=0, analyse_at_start=True,
                final_refresh=False, measure_levels=False, extractor="conv-random", analysis=dict(budget=2))
    additions = f"custom_imports = {ns['custom_imports']!r}\ncustom_hooks = [{hook!r}]\n"
    data = write_binary_folder(tmp_path / "vessels")
    cfg_file = tmp_path / "fastscnn_vessels.py"
    cfg_file.write_text(user_config_text(data, tmp_path / "work", additions=additions, sia_transform=f"{sia!r},",
                                         iters=3))

    cfg = Config.fromfile(str(cfg_file))
    assert "default_hooks" not in cfg  # mmengine's defaults, its own CheckpointHook among them
    runner = Runner.from_cfg(cfg)
    runner.train()
    sia_hook = next(h for h in runner.hooks if type(h).__name__ == "SensitivityHook")
    assert [e["kind"] for e in sia_hook.history] == ["analysis"]
    assert sia_hook.dataset_cfg["type"] == "BaseSegDataset"  # the config's own val data, 2 classes
    analysed = Distribution.from_dict(sia_hook.history[0]["distribution"])
    assert analysed != Distribution.uniform(sia["types"])
    ckpt = Path((tmp_path / "work" / "last_checkpoint").read_text().strip())
    assert ckpt.is_file() and ckpt.parent == tmp_path / "work"

    out = tmp_path / "report"
    capsys.readouterr()
    assert main(["robustness", str(cfg_file), str(ckpt), "--data", str(data), "--suites", "clean", "--out", str(out),
                 "--batch-size", "8"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"{out}/report.md (clean mIoU ")
    report = json.loads((out / "report.json").read_text())
    assert 0.0 <= report["suites"]["clean"]["summary"]["mIoU"] <= 100.0
    model = load_segmentor(cfg_file, ckpt)  # the weights the report scored are the trained ones
    expected = runner.model.state_dict()
    assert set(model.state_dict()) == set(expected)
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())
    assert model.dataset_meta["classes"] == ("background", "vessel")


# ------------------------------------------------------------------ python -m repro train USER_CONFIG.py

def _cli_json(capsys) -> tuple[dict, str]:
    cap = capsys.readouterr()
    return json.loads(cap.out), cap.err


def _miou_of_run(res: dict, cfg_file: Path) -> float:
    """mIoU (percent) of the run's final checkpoint on the config's test data, counted here with numpy."""
    model = T.load_model(res["run_dir"])
    cfg = Config.fromfile(str(cfg_file))
    from mmengine.registry import init_default_scope

    init_default_scope("mmseg")
    dl = Runner.build_dataloader(cfg.test_dataloader, seed=0)
    conf = np.zeros((2, 2), dtype=np.int64)
    with torch.no_grad():
        for batch in dl:
            for s in model.test_step(batch):
                pred = s.pred_sem_seg.data.squeeze(0).numpy().ravel()
                gt = s.gt_sem_seg.data.squeeze(0).numpy().ravel()
                conf += np.bincount(gt * 2 + pred, minlength=4).reshape(2, 2)
    inter = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - inter
    return float(np.nanmean(np.where(union > 0, inter / np.maximum(union, 1), np.nan)) * 100)


def test_repro_train_user_config_uses_its_own_test_evaluator(tmp_path, capsys):
    data = write_binary_folder(tmp_path / "vessels")
    cfg_file = tmp_path / "user_fastscnn.py"  # no custom_imports: `repro train` adds it and says so
    cfg_file.write_text(user_config_text(data, tmp_path / "work", evaluators="test"))
    assert T.cli_main([str(cfg_file)]) == 0
    res, err = _cli_json(capsys)
    notes = [ln for ln in err.splitlines() if ln.startswith("note: ")]
    assert len(notes) == 1 and "custom_imports=dict(imports=['repro.train'])" in notes[0] and "mmcv.ops" in notes[0]
    assert Path(res["run_dir"]) == tmp_path / "work"  # the config's own work_dir
    assert "repro.train" in Config.fromfile(str(tmp_path / "work" / "config.py")).custom_imports["imports"]
    assert res["eval_splits"] == ["test"] and set(res["metrics"]["test"]) == {"aAcc", "mIoU", "mAcc", "mDice"}
    assert (res["seed"], res["iters"], res["batch_size"], res["crop"]) == (0, 2, 2, [64, 64])
    # mmengine's default CheckpointHook (by epoch: one epoch of the infinite sampler) wrote it
    assert res["checkpoint"] == "epoch_1.pth" and (tmp_path / "work" / "epoch_1.pth").is_file()
    # the metric is the config's test evaluator on its test data, for the final weights
    assert res["metrics"]["test"]["mIoU"] == pytest.approx(_miou_of_run(res, cfg_file), abs=0.006)


def test_repro_train_user_config_no_eval_val_only_and_no_evaluator(tmp_path, capsys):
    data = write_binary_folder(tmp_path / "vessels")
    imports = "custom_imports = dict(imports=['repro.train'], allow_failed_imports=False)\n"
    runs = {}
    for name, evaluators, extra in (("no_eval", "test", ["--no-eval"]), ("val_only", "val", []),
                                    ("none", "none", [])):
        cfg_file = tmp_path / f"{name}.py"
        cfg_file.write_text(user_config_text(data, tmp_path / name, additions=imports, evaluators=evaluators))
        assert T.cli_main([str(cfg_file), *extra]) == 0, name
        runs[name] = _cli_json(capsys)
    res, err = runs["no_eval"]
    assert res["metrics"] == {} and res["eval_splits"] == [] and "note" not in err
    assert (tmp_path / "no_eval" / res["checkpoint"]).is_file()
    res, err = runs["val_only"]
    assert res["eval_splits"] == ["val"] and set(res["metrics"]["val"]) == {"aAcc", "mIoU", "mAcc"} and "note" not in err
    res, err = runs["none"]
    assert res["metrics"] == {} and res["eval_splits"] == []
    notes = [ln for ln in err.splitlines() if ln.startswith("note: ")]
    assert notes == [f"note: {tmp_path / 'none.py'} has neither test_dataloader+test_evaluator nor "
                     "val_dataloader+val_evaluator: the trained model is not evaluated"]
