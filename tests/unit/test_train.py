"""Tests of repro.train: mmcv.ops stand-in, checkpoints, transforms, schedule channel, hook, configs, run."""
import json
import os
import pickle
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import repro.train as T
from repro import perturb
from repro.analysis.sampling import Distribution
from repro.train import channel
from repro.train.config import METHODS, MODELS, PAPER_DATASETS, SHIPPED_DATASETS


# ----------------------------------------------------------------------------- mmcv.ops stand-in
def test_mmcv_ops_stand_in_registered_and_mmseg_imports():
    import sys

    import mmseg.models  # noqa: F401  (would fail with mmcv-lite without the stand-in)
    from mmseg.models.utils import point_sample as mmseg_point_sample  # noqa: F401

    ops = sys.modules["mmcv.ops"]
    assert getattr(ops, "IS_REPRO_STAND_IN", False)
    with pytest.raises(ModuleNotFoundError, match="mmcv-lite"):
        ops.DeformConv2d  # noqa: B018
    with pytest.raises(ModuleNotFoundError, match="SyncBatchNorm"):
        from mmcv.ops import SyncBatchNorm  # noqa: F401


def test_point_sample_is_bilinear_at_normalised_coordinates():
    from repro.train._mmcv_compat import point_sample

    x = torch.arange(16.0).view(1, 1, 4, 4)
    # pixel centres (align_corners=False): (i + 0.5)/4
    pts = torch.tensor([[[0.125, 0.125], [0.875, 0.125], [0.5, 0.5], [0.125, 0.625]]])
    out = point_sample(x, pts)
    assert out.shape == (1, 1, 4)
    assert torch.allclose(out[0, 0], torch.tensor([0.0, 3.0, 7.5, 8.0]))
    grid = torch.rand(2, 3, 5, 2)
    assert point_sample(torch.rand(2, 3, 8, 8), grid).shape == (2, 3, 3, 5)
    with pytest.raises(ValueError, match="N×P×2"):
        point_sample(x, torch.rand(1, 4, 3))


def test_sigmoid_focal_loss_matches_torchvision():
    from torchvision.ops import sigmoid_focal_loss as tv_focal

    from repro.train._mmcv_compat import sigmoid_focal_loss

    g = torch.Generator().manual_seed(0)
    pred = torch.randn(6, 4, generator=g)
    target = torch.tensor([0, 3, 1, 4, 2, 0])  # 4 = background (all-zero one-hot row)
    onehot = torch.nn.functional.one_hot(target, 5)[:, :4].float()
    ref = tv_focal(pred, onehot, alpha=0.25, gamma=2.0, reduction="sum")
    assert torch.allclose(sigmoid_focal_loss(pred, target, 2.0, 0.25, None, "sum"), ref, atol=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        sigmoid_focal_loss(pred, target, reduction="max")


@pytest.mark.parametrize("model", MODELS)
def test_models_build_from_configs(model):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS as MM

    init_default_scope("mmseg")
    cfg = T.build_config(model, "baseline", "camvid", profile="cpu")
    m = MM.build(cfg.model)
    assert m.decode_head.num_classes == 11
    assert not any("SyncBatchNorm" in type(mod).__name__ for mod in m.modules())
    if model.startswith("pspnet"):
        assert m.backbone.depth == (18 if model == "pspnet_r18" else 50)
    m.eval()
    with torch.no_grad():
        out = m(torch.rand(1, 3, 64, 64) * 255, mode="tensor")
    assert out.shape[:2] == (1, 11)


# ----------------------------------------------------------------------------- checkpoints
def test_plain_checkpoints_load_with_weights_only(tmp_path):
    from mmengine.logging.history_buffer import HistoryBuffer

    from repro.train.checkpoint import from_plain, to_plain

    buf = HistoryBuffer()
    for v in (1.5, 2.5):
        buf.update(v)
    ck = {"meta": {"seed": np.int64(3), "arr": np.arange(3)}, "message_hub": {"log_scalars": {"b": buf}},
          "state_dict": {"w": torch.ones(2)}}
    raw = tmp_path / "raw.pth"
    torch.save(ck, raw)
    with pytest.raises(Exception, match="weights_only"):
        torch.load(raw)  # what mmengine's own checkpoints do under torch >= 2.6
    hook = T.PlainCheckpointHook()
    hook.before_save_checkpoint(None, ck)
    p = tmp_path / "ck.pth"
    torch.save(ck, p)
    back = torch.load(p)  # weights_only=True, no allow-list needed
    hook.after_load_checkpoint(None, back)
    b2 = back["message_hub"]["log_scalars"]["b"]
    assert isinstance(b2, HistoryBuffer) and b2.mean() == 2.0 and b2.current() == 2.5
    assert back["meta"] == {"seed": 3, "arr": [0, 1, 2]}
    assert from_plain(to_plain({"x": (np.float32(1.5),)})) == {"x": (1.5,)}


def test_trusted_checkpoints_allow_numpy_but_not_arbitrary_code(tmp_path):
    p = tmp_path / "np.pth"
    torch.save({"meta": {"arr": np.arange(3), "s": np.float64(2.0)}}, p)
    with T.trusted_checkpoints():
        assert torch.load(p)["meta"]["arr"].tolist() == [0, 1, 2]

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    bad = tmp_path / "bad.pth"
    torch.save({"x": Evil()}, bad)
    with T.trusted_checkpoints(), pytest.raises(Exception, match="weights_only|Unsupported global"):
        torch.load(bad)


# ----------------------------------------------------------------------------- numpy wrapper
def _painted(h=48, w=64, seed=0):
    """A label map of large blocks and an image whose colour encodes the label (BGR)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 6, size=(h // 8, w // 8))
    lab = np.kron(blocks, np.ones((8, 8), dtype=np.int64)).astype(np.uint8)
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255]], np.uint8)
    img = palette[lab][..., ::-1].copy()  # BGR like mmseg
    return img, lab, palette


@pytest.mark.parametrize("border", ["zoom", "pad"])
@pytest.mark.parametrize("name", perturb.GEOMETRIC)
def test_geometric_ops_keep_labels_aligned(name, border):
    img, lab, palette = _painted()
    out, (lab2,) = T.apply_perturbation_numpy(img, [lab], name, 0.7, border=border)
    assert out.shape == img.shape and lab2.shape == lab.shape and lab2.dtype == lab.dtype
    valid = lab2 != 255
    assert valid.mean() > 0.3
    if border == "zoom":
        assert valid.all()
    # away from label boundaries (bilinear image vs nearest label), every pixel has its label's colour
    from scipy.ndimage import maximum_filter, minimum_filter

    inner = (maximum_filter(lab2, size=5) == minimum_filter(lab2, size=5)) & valid
    assert inner.mean() > 0.15
    rgb = out[..., ::-1].astype(int)
    agree = (np.abs(rgb[inner] - palette[lab2[inner]].astype(int)).max(axis=1) < 40).mean()
    assert agree > 0.99, f"{name}: only {agree:.3f} of labelled pixels carry their label's colour"
    stale = (np.abs(rgb[inner] - palette[np.where(lab == 255, 0, lab)[inner]].astype(int)).max(axis=1) < 40).mean()
    assert stale < agree  # the unmoved label map would not fit
    assert not np.array_equal(lab2, lab)


def test_photometric_op_uses_bgr_and_leaves_labels():
    img = np.full((8, 8, 3), 100, np.uint8)
    lab = np.zeros((8, 8), np.uint8)
    out, (lab2,) = T.apply_perturbation_numpy(img, [lab], "R+", 1.0)
    assert (out[..., 2] == 255).all() and (out[..., :2] == 100).all()  # R is the last channel in BGR
    assert lab2 is lab
    with pytest.raises(TypeError, match="uint8"):
        T.apply_perturbation_numpy(img.astype(np.float32), [lab], "R+", 1.0)


# ----------------------------------------------------------------------------- transforms
def _results(h=24, w=32):
    img, lab, _ = _painted(h, w)
    return {"img": img, "gt_seg_map": lab, "seg_fields": ["gt_seg_map"]}


def test_sensitivity_augment_warmup_is_uniform():
    t = T.SensitivityAugment(types=["R+", "rotate+", "gaussian_noise"], seed=3)
    draws = [t(_results(8, 8))["sia_perturbation"] for _ in range(2000)]
    names = [d[0] for d in draws]
    freq = {k: names.count(k) / len(names) for k in (None, "R+", "rotate+", "gaussian_noise")}
    for k, f in freq.items():
        assert abs(f - 0.25) < 0.04, (k, f)
    mags = np.array([m for n, m in draws if n is not None])
    assert abs(mags.mean() - 0.5) < 0.04 and mags.min() < 0.05 and mags.max() > 0.95
    # same seed, same draws; other seed, other draws
    t2 = T.SensitivityAugment(types=["R+", "rotate+", "gaussian_noise"], seed=3)
    assert [t2(_results(8, 8))["sia_perturbation"] for _ in range(50)] == draws[:50]
    t3 = T.SensitivityAugment(types=["R+", "rotate+", "gaussian_noise"], seed=4)
    assert [t3(_results(8, 8))["sia_perturbation"] for _ in range(50)] != draws[:50]


def _dist(miou_scale=1.0, types=("R+", "rotate+")):
    import pandas as pd

    rows = [dict(type=t, level=k, alpha=a, miou=m * miou_scale) for t in types
            for k, (a, m) in enumerate(zip((0.2, 0.5, 1.0), (60.0, 30.0, 10.0)), 1)]
    return Distribution.from_analysis(pd.DataFrame(rows), jitter=0.0)


def test_sensitivity_augment_follows_schedule_by_iteration(tmp_path):
    base = tmp_path / "sched.json"
    warm = Distribution.uniform(["R+", "rotate+"])
    late = _dist(types=("rotate+",))
    channel.write_schedule(channel.schedule_path(base), run_id="r1", batch_size=2, valid_until=10 ** 9,
                           schedule=[dict(from_iter=0, distribution=warm.to_dict()),
                                     dict(from_iter=3, distribution=late.to_dict())])
    t = T.SensitivityAugment(types=["R+", "rotate+"], schedule_file=str(base), run_id="r1", seed=0)
    draws = [t(_results(8, 8))["sia_perturbation"] for _ in range(6 + 3000)]
    early, after = draws[:6], draws[6:]  # iterations 0-2 (batch size 2), then 3+
    assert any(n == "R+" for n, _ in early) or all(n in (None, "rotate+") for n, _ in early)
    names = [n for n, _ in after]
    assert set(names) <= {None, "rotate+"}
    # frequencies follow the distribution: levels 0.2/0.5/1.0 with weights 6:3:1 of mass 1/2
    mags = np.array([m for n, m in after if n is not None])
    p = late.probabilities
    for a, want in zip((0.2, 0.5, 1.0), p[p["type"] == "rotate+"]["p"].to_numpy()):
        assert abs(np.isclose(mags, a).mean() * 0.5 - want) < 0.03
    assert abs(names.count(None) / len(names) - 0.5) < 0.03


def test_sensitivity_augment_worker_mapping(monkeypatch, tmp_path):
    """Worker w of W maps its c-th sample to batch (c // B)·W + w: draws equal the single-process ones."""
    base = tmp_path / "s.json"
    channel.write_schedule(channel.schedule_path(base), run_id=None, batch_size=2, valid_until=10 ** 9,
                           schedule=[dict(from_iter=0, distribution=_dist().to_dict())])
    single = T.SensitivityAugment(types=["R+", "rotate+"], schedule_file=str(base), seed=1)
    ref = [single(_results(8, 8))["sia_perturbation"] for _ in range(12)]  # batches 0..5

    class Info:
        num_workers, id = 3, 1

    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: Info())
    worker = T.SensitivityAugment(types=["R+", "rotate+"], schedule_file=str(base), seed=1)
    got = [worker(_results(8, 8))["sia_perturbation"] for _ in range(4)]  # its batches: 1 and 4
    assert got == ref[2:4] + ref[8:10]


def test_schedule_reader_waits_for_publication_and_times_out(tmp_path):
    p = tmp_path / "s.rank0.json"
    d0, d1 = Distribution.uniform(["R+"]).to_dict(), _dist().to_dict()
    channel.write_schedule(p, run_id="a", batch_size=1, valid_until=2, schedule=[dict(from_iter=0, distribution=d0)])
    r = channel.ScheduleReader(p, run_id="a", timeout=0.3, poll=0.01)
    assert r.distribution_for(1) == d0
    with pytest.raises(channel.ScheduleTimeout, match="valid until iteration 2"):
        r.distribution_for(2)

    def publish():
        time.sleep(0.1)
        channel.write_schedule(p, run_id="a", batch_size=1, valid_until=5,
                               schedule=[dict(from_iter=0, distribution=d0), dict(from_iter=2, distribution=d1)])

    th = threading.Thread(target=publish)
    th.start()
    r2 = channel.ScheduleReader(p, run_id="a", timeout=5, poll=0.01)
    assert r2.distribution_for(3) == d1
    th.join()
    stale = channel.ScheduleReader(p, run_id="other", timeout=0.1, poll=0.01)
    with pytest.raises(channel.ScheduleTimeout, match="another run"):
        stale.distribution_for(0)
    with pytest.raises(ValueError, match="from_iter=0"):
        channel.write_schedule(p, run_id=None, batch_size=1, valid_until=1, schedule=[dict(from_iter=1, distribution=d0)])
    with pytest.raises(ValueError, match="batch_size"):
        channel.write_schedule(p, run_id=None, batch_size=0, valid_until=1, schedule=[dict(from_iter=0, distribution=d0)])


def test_transforms_are_picklable_for_workers(tmp_path):
    t = T.SensitivityAugment(types="no_photo", schedule_file=str(tmp_path / "x.json"), seed=2)
    t2 = pickle.loads(pickle.dumps(t))
    assert t2.types == t.types and t2.schedule_file == t.schedule_file


def test_basis_perturbation_transform():
    r = T.BasisPerturbation("translate_x+", magnitude=1.0, border="pad")(_results())
    assert (r["gt_seg_map"][:, :8] == 255).all()  # shifted right by W/4 = 8 px, padded with ignore
    r0 = _results()
    same = T.BasisPerturbation("R+", magnitude=0.5, prob=0.0)(dict(r0))
    assert np.array_equal(same["img"], r0["img"])
    ranged = T.BasisPerturbation("V-", magnitude=(0.2, 0.4), seed=1)
    assert ranged.magnitude == (0.2, 0.4)
    with pytest.raises(ValueError, match="magnitude range"):
        T.BasisPerturbation("V-", magnitude=(0.5, 0.2))
    with pytest.raises(ValueError, match="prob"):
        T.BasisPerturbation("V-", prob=2.0)
    with pytest.raises(ValueError, match="border"):
        T.BasisPerturbation("V-", border="wrap")


def test_policy_augment_moves_labels_with_image():
    pytest.importorskip("repro.perturb.policies")
    img, lab, palette = _painted()
    t = T.PolicyAugment("trivialaugment", seed=0)
    for _ in range(10):
        r = t({"img": img.copy(), "gt_seg_map": lab.copy(), "seg_fields": ["gt_seg_map"]})
        assert r["img"].shape == img.shape and r["img"].dtype == np.uint8 and r["gt_seg_map"].dtype == lab.dtype
        valid = r["gt_seg_map"] != 255
        assert set(np.unique(r["gt_seg_map"][valid])) <= set(range(6))
    with pytest.raises(TypeError, match="policy"):
        T.PolicyAugment(3)


def test_sensitivity_augment_bad_arguments():
    with pytest.raises(ValueError, match="border"):
        T.SensitivityAugment(border="reflect")
    with pytest.raises(ValueError, match="unknown perturbation"):
        T.SensitivityAugment(types=["R+", "warp"])
    with pytest.raises(ValueError, match="seed"):
        T.SensitivityAugment(seed=-1)


# ----------------------------------------------------------------------------- hook schedule
def test_event_iterations():
    assert T.event_iterations(200) == ([40, 80, 120, 160], [25, 50, 75, 100, 125, 150, 175, 200])
    assert T.event_iterations(10) == ([2, 4, 6, 8], [1, 2, 4, 5, 6, 8, 9, 10])
    # a warm-started run analyses before its first step; without the final refresh (reporting only)
    assert T.event_iterations(400, 1, 2, at_start=True, final_refresh=False) == ([0], [200])
    assert T.event_iterations(400, 2, 4, at_start=True) == ([0, 200], [100, 200, 300, 400])
    with pytest.raises(ValueError, match="max_iters"):
        T.event_iterations(0)


def test_hook_bad_arguments():
    with pytest.raises(ValueError, match="analysis method must be one of adaptive, uniform, none, got 'grid'"):
        T.SensitivityHook(analysis=dict(method="grid"))
    with pytest.raises(ValueError, match="num_levels must be an int >= 2"):
        T.SensitivityHook(analysis=dict(num_levels=1))
    with pytest.raises(TypeError, match=r"unknown argument\(s\) max_evals \(max_evals is analysis=dict\(budget=...\)"):
        T.SensitivityHook(max_evals=3)
    with pytest.raises(TypeError, match="unknown analysis setting\\(s\\) max_evals; the settings are method"):
        T.SensitivityHook(analysis=dict(max_evals=3))
    with pytest.raises(TypeError, match="analysis must be a dict of repro.analysis.sensitivity.AnalysisSettings fields"):
        T.SensitivityHook(analysis="adaptive")
    with pytest.raises(ValueError, match="at least 2 images"):
        T.SensitivityHook(subset=1)
    with pytest.raises(ValueError, match="weighting"):
        T.SensitivityHook(weighting="softmax")


# ----------------------------------------------------------------------------- configs
NUM_CLASSES = dict(camvid=11, isbi2012_em=2, cityscapes=19, acdc=19, idd=19, ade20k=150, voc2012=21, potsdam=6,
                   loveda=7, synapse=9, a2i2haze=2)


@pytest.mark.parametrize("dataset", SHIPPED_DATASETS + PAPER_DATASETS)
def test_configs_compose_for_every_method(dataset):
    profile = "cpu" if dataset in SHIPPED_DATASETS else "paper"
    for method in METHODS:
        cfg = T.build_config("pspnet_r18" if profile == "cpu" else "pspnet_r50", method, dataset, profile=profile)
        pipe = [t["type"] for t in cfg.train_dataloader.dataset.pipeline]
        assert pipe[:4] == ["LoadImageFromFile", "LoadAnnotations", "RandomResize", "RandomCrop"]
        assert pipe[-1] == "PackSegInputs"
        crop = next(t for t in cfg.train_dataloader.dataset.pipeline if t["type"] == "RandomCrop")
        hooks = [h["type"] for h in cfg.custom_hooks]
        if method == "baseline":
            assert len(pipe) == 5 and crop["cat_max_ratio"] == 1.0
        elif method == "sota":
            assert pipe[4:6] == ["RandomFlip", "PhotoMetricDistortion"] and crop["cat_max_ratio"] == 0.75
        elif method.startswith("ours"):
            assert pipe[4] == "SensitivityAugment" and hooks == ["PlainCheckpointHook", "SensitivityHook"]
            hook = cfg.custom_hooks[1]
            assert hook["analysis"]["method"] == ("none" if method == "ours_no_sa" else "adaptive")
            assert hook["types"] == {"ours_no_geo": "no_geo", "ours_no_photo": "no_photo"}.get(method, "all")
        else:
            assert pipe[4] == "PolicyAugment" and cfg.train_dataloader.dataset.pipeline[4]["policy"] == method
        if not method.startswith("ours"):
            assert hooks == ["PlainCheckpointHook"]
        assert cfg.model.decode_head.num_classes == NUM_CLASSES[dataset]
        assert cfg.model.get("init_cfg") is None and cfg.model.get("pretrained") is None
        init = cfg.model.backbone.get("init_cfg")  # paper: ImageNet backbone (pretrained="auto"), cpu: random init
        assert (init["type"] == "Pretrained") if profile == "paper" else init is None


def test_config_hash_stable_and_sensitive():
    a = T.build_config("pspnet_r18", "ours", "camvid", profile="cpu", seed=0)
    b = T.build_config("pspnet_r18", "ours", "camvid", profile="cpu", seed=0)
    c = T.build_config("pspnet_r18", "ours", "camvid", profile="cpu", seed=1)
    assert T.run_hash(a) == T.run_hash(b) != T.run_hash(c)
    assert a.train_dataloader.dataset.data_root is None  # shipped data: no machine path in the hash


def test_paper_config_without_data_stops_with_layout_error(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(T.DataLayoutError, match=r"(?s)cs is missing.*leftImg8bit/\{train,val\}.*gtFine"):
        T.run(dict(model="pspnet_r50", method="ours", dataset="cityscapes", data_root=str(tmp_path / "cs")),
              profile="paper", seed=0)
    with pytest.raises(T.DataLayoutError, match="ImageSets/Segmentation"):
        T.run(dict(model="pspnet_r50", method="sota", dataset="voc2012", data_root=str(tmp_path)), profile="paper")
    assert time.perf_counter() - t0 < 10


def test_build_config_bad_arguments():
    with pytest.raises(ValueError, match="unknown model"):
        T.build_config("unet", "ours", "camvid")
    with pytest.raises(ValueError, match="unknown method"):
        T.build_config("pspnet_r18", "cutmix", "camvid")
    with pytest.raises(ValueError, match="unknown dataset"):
        T.build_config("pspnet_r18", "ours", "kitti")
    with pytest.raises(ValueError, match="unknown profile"):
        T.build_config(profile="gpu")
    with pytest.raises(ValueError, match="iters"):
        T.build_config(iters=0)
    with pytest.raises(ValueError, match="crop"):
        T.build_config(crop=(64, 0))
    with pytest.raises(ValueError, match="eval split"):
        T.build_config(eval_splits=["night"])
    with pytest.raises(TypeError, match="sia"):
        T.build_config(method="ours", sia=[1])
    with pytest.raises(ValueError, match=r"sia: the analysis settings go under analysis .*max_evals is "
                                         r"sia=dict\(analysis=dict\(budget=...\)\)"):
        T.build_config(method="ours", sia=dict(max_evals=3))
    with pytest.raises(ValueError, match="tol must be a fraction of alpha_max in \\(0, 1\\), got 2"):
        T.build_config(method="ours", sia=dict(analysis=dict(tol=2)))
    with pytest.raises(TypeError, match="Config"):
        T.run(42)


def test_cli_dumps_a_loadable_config(tmp_path):
    from mmengine.config import Config

    out = tmp_path / "c.py"
    assert T.cli_main(["--model", "segformer_b0", "--method", "sota", "--dataset", "isbi2012_em",
                       "--profile", "smoke", "--dump-config", str(out)]) == 0
    cfg = Config.fromfile(str(out))
    assert cfg.method == "sota" and cfg.model.decode_head.num_classes == 2


# ----------------------------------------------------------------------------- a tiny real run
# the paper's schedule (random init, uniform warm-up, 4 analyses, 8 refreshes), on a tiny scale
TINY = dict(model="segformer_b0", method="ours", dataset="camvid", profile="smoke", iters=10, crop=48,
            batch_size=2, num_workers=0, checkpoint_interval=5, eval_splits=["val"], eval_limit=2, warm_start=None,
            sia=dict(types=["R+", "rotate+"], subset=2, dataset_size=(64, 48), analysis=dict(budget=2), extractor="conv-random",
                     num_analyses=4, num_refreshes=8, analyse_at_start=False, final_refresh=True,
                     refresh_subset=None, cache_events=False))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("tiny_run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is faster and immune to a busy second core
    try:
        t0 = time.perf_counter()
        res = T.run(T.build_config(**TINY), wd)
        return res, wd, time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)


def test_tiny_run_results_and_cache(tiny_run):
    res, wd, _ = tiny_run
    assert set(res) == set(T.RESULT_KEYS)
    assert set(res["metrics"]["val"]) == {"aAcc", "mIoU", "mAcc"}
    assert json.loads((wd / "results.json").read_text()) == res
    assert (wd / res["checkpoint"]).is_file() and res["checkpoint"] == "iter_10.pth"
    t0 = time.perf_counter()
    again = T.run(T.build_config(**TINY), wd)
    assert again == res and time.perf_counter() - t0 < 5  # cached


def test_tiny_run_hook_fires_at_configured_iterations(tiny_run):
    res, wd, _ = tiny_run
    events = [(e["kind"], e["iter"]) for e in res["sia"]["events"]]
    # analyses round(k·10/5) = 2,4,6,8; refreshes round(k·10/8) = 1,2,4,5,6,8,9,10 (1: still warm-up)
    assert events == [("analysis", 2), ("analysis", 4), ("refresh", 5), ("analysis", 6), ("analysis", 8),
                      ("refresh", 9), ("refresh", 10)]
    sched = json.loads(next(wd.glob("sia_schedule.rank0.json")).read_text())
    assert [e["from_iter"] for e in sched["schedule"]] == [0, 2, 4, 5, 6, 8, 9, 10]
    assert Distribution.from_dict(sched["schedule"][-1]["distribution"]).to_dict() == res["sia"]["distribution"]
    assert set(res["sia"]["levels"]) == {"R+", "rotate+"}
    assert all(len(v) == 5 and v[-1] == 1.0 for v in res["sia"]["levels"].values())
    hist = json.loads((wd / "sia_history.json").read_text())["history"]
    assert len(hist) == 7 and all(e["time_s"] > 0 for e in hist)
    scalars = (wd / next(p.name for p in wd.iterdir() if p.is_dir()) / "vis_data" / "scalars.json")
    assert "sia/clean_miou" in scalars.read_text()


def test_tiny_run_checkpoint_round_trip(tiny_run):
    res, wd, _ = tiny_run
    with T.trusted_checkpoints():
        ck = torch.load(wd / res["checkpoint"], map_location="cpu")  # weights_only stays on
    state = ck["sia_state"]
    assert state["distribution"] == res["sia"]["distribution"] and state["levels"] == res["sia"]["levels"]
    hook = T.SensitivityHook(types=["R+", "rotate+"])
    hook.load_state_dict(state)
    back = hook.state_dict()
    assert back["distribution"] == state["distribution"] and back["schedule"] == state["schedule"]
    assert back["history"] == state["history"] and torch.equal(back["rng_state"], state["rng_state"])
    with pytest.raises(ValueError, match="version"):
        hook.load_state_dict({"version": 7})


def test_tiny_run_load_model_predicts(tiny_run):
    from repro.scoring.inference import predict

    res, wd, _ = tiny_run
    model = T.load_model(res)
    assert not model.training and model.dataset_meta["classes"][0] == "Sky"
    pred = predict(model, torch.rand(2, 3, 48, 64))
    assert pred.shape == (2, 48, 64) and pred.max() < 11
    assert sum(p.numel() for p in model.parameters()) > 1e6
    with pytest.raises(FileNotFoundError, match="run folder"):
        T.load_model({"run_dir": "nowhere", "config_hash": "0" * 16})


def test_tiny_run_report_frames_and_figures(tiny_run):
    import matplotlib

    matplotlib.use("Agg")
    from repro.train import results

    res, wd, _ = tiny_run
    ev = results.events(res)
    assert list(ev["iter"]) == [2, 4, 5, 6, 8, 9, 10] and ev["p_clean"].round(6).eq(round(1 / 3, 6)).all()
    pe = results.perturbed_evaluations(res)
    assert len(pe) == 7 * 2 * 5 and pe["miou"].between(0, 100).all()
    lv = results.levels(res)
    assert sorted(lv["iter"].unique()) == [2, 4, 6, 8] and (lv.groupby(["iter", "type"]).size() == 5).all()
    pts = results.sensitivity_points(res)
    assert set(pts["type"]) == {"R+", "rotate+"} and (pts.loc[pts["order"] == 1, "S"] == 2.0).all()
    sc = results.scalars(res)
    assert {"loss", "lr", "sia/clean_miou"} <= set(sc["name"])
    for fig in (results.plot_training(res), results.plot_sensitivity_history(res), results.plot_perturbed_evaluations(res),
                results.plot_pipeline(res, n=2)):
        assert len(fig.axes) >= 2
        matplotlib.pyplot.close(fig)


def test_second_run_in_the_same_process_logs_into_its_own_folder(tiny_run, tmp_path):
    """mmengine's logger/visualizer are process-wide singletons: each run must get its own."""
    from repro.train import results

    res, wd, _ = tiny_run
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        other = T.run(T.build_config(**{**TINY, "method": "baseline", "iters": 3, "checkpoint_interval": 3}),
                      tmp_path / "second")
    finally:
        torch.set_num_threads(threads)
    mine = results.scalars(other)
    assert 1 <= mine["step"].max() <= 3 and "sia/clean_miou" not in set(mine["name"])
    assert results.scalars(res)["step"].max() == 10  # the first run's log is untouched
    assert list((tmp_path / "second").glob("*/vis_data/scalars.json"))


# ----------------------------------------------------------------------------- the warm-start protocol (cpu)
WARM = dict(model="fastscnn", method="ours", dataset="camvid", profile="smoke", iters=4, crop=64, batch_size=2,
            num_workers=0, checkpoint_interval=4, eval_splits=["val"], eval_limit=2, warm_start=dict(iters=3),
            sia=dict(types=["R+", "rotate+"], subset=4, refresh_subset=2, dataset_size=(64, 48), analysis=dict(budget=3)))


@pytest.fixture(scope="module")
def warm_runs():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first = T.run(T.build_config(**WARM))
        second = T.run(T.build_config(**{**WARM, "seed": 1}))
        return first, second
    finally:
        torch.set_num_threads(threads)


def test_warm_start_is_trained_once_and_loaded(warm_runs):
    first, second = warm_runs
    cfg = T.build_config(**WARM)
    ws = cfg.warm_start
    assert ws["args"]["method"] == "baseline" and ws["args"]["iters"] == 3 and ws["args"]["warm_start"] is None
    assert first["warm_start"] == second["warm_start"] == ws["hash"]
    base = T.run(T.build_config(**ws["args"]))  # cached: the same run both fine-tunes started from
    assert base["config_hash"] == ws["hash"] and base["iters"] == 3
    # the fine-tune's hash depends on its warm start
    other = T.build_config(**{**WARM, "warm_start": dict(iters=5)})
    assert T.run_hash(other) != T.run_hash(cfg) and T.build_config(**{**WARM, "warm_start": None}).warm_start is None
    with pytest.raises(ValueError, match="warm_start may set iters, lr, method, seed and border only"):
        T.build_config(**{**WARM, "warm_start": dict(iters=3, crop=32)})
    with pytest.raises(ValueError, match="warm_start must be a mapping"):
        T.build_config(**{**WARM, "warm_start": "yes"})


def test_warm_started_runs_share_their_first_analysis(warm_runs):
    first, second = warm_runs
    ev1, ev2 = first["sia"]["events"], second["sia"]["events"]
    # analysis before the first step (iteration 0), one refresh at T/2, no final refresh
    assert [(e["kind"], e["iter"]) for e in ev1] == [("analysis", 0), ("refresh", 2)]
    assert not ev1[0]["cached"] and ev2[0]["cached"]  # the second seed reads the first analysis
    assert ev2[0]["compute_s"] == ev1[0]["compute_s"] and ev2[0]["time_s"] < ev1[0]["compute_s"]
    hist = json.loads((T.run_dir_for(T.build_config(**WARM)) / "sia_history.json").read_text())["history"]
    first_event = hist[0]
    assert first_event["extractor"].startswith("encoder:fastscnn-camvid-init@")
    assert set(first_event["levels"]) == {"R+", "rotate+"}
    flags = first_event["flags"]  # 4 images: a curve may be degenerate; then its levels are uniform
    for t, lv in first_event["levels"].items():
        if t in flags:
            assert lv == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert len(first_event["table"]) == 2 * 5  # measured on the refresh subset


# ----------------------------------------------------------------------------- CUDA RNG state (faked on CPU)
class _FakeCuda:
    """Stands in for torch.cuda's RNG functions: two devices whose states are uint8 tensors."""

    def __init__(self):
        self.states = [torch.full((16,), 1, dtype=torch.uint8), torch.full((16,), 2, dtype=torch.uint8)]
        self.calls = []

    def get_rng_state_all(self):
        self.calls.append("get_all")
        return [s.clone() for s in self.states]

    def set_rng_state_all(self, states):
        self.calls.append("set_all")
        self.states = [s.clone() for s in states]

    def set_rng_state(self, state, device="cuda"):
        self.calls.append(("set", device))
        self.states[int(device)] = state.clone()


def _fake_cuda(monkeypatch, available=True, initialised=True, count=2):
    fake = _FakeCuda()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: initialised)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    for name in ("get_rng_state_all", "set_rng_state_all", "set_rng_state"):
        monkeypatch.setattr(torch.cuda, name, getattr(fake, name))
    return fake


def test_hook_saves_and_restores_cuda_rng_state(monkeypatch, tmp_path):
    fake = _fake_cuda(monkeypatch)
    hook = T.SensitivityHook(types=["R+", "rotate+"])
    hook._events = ([], [])  # no analysis or refresh: only the RNG bookkeeping of the step hooks runs
    runner = type("R", (), {"iter": 0})()
    hook.after_train_iter(runner, 0)
    assert fake.calls == ["get_all"]
    cpu_state = torch.get_rng_state()
    saved = [s.clone() for s in fake.states]
    # in-between work moves both streams
    torch.rand(3)
    fake.states = [torch.zeros(16, dtype=torch.uint8)] * 2
    hook.before_train_iter(runner, 1)
    assert fake.calls[-1] == "set_all"
    assert all(torch.equal(a, b) for a, b in zip(fake.states, saved))
    assert torch.equal(torch.get_rng_state(), cpu_state)

    # the checkpoint: plain tensors, loadable with weights_only=True, and back into a fresh hook
    state = hook.state_dict()
    assert isinstance(state["cuda_rng_state"], list) and all(torch.is_tensor(t) for t in state["cuda_rng_state"])
    p = tmp_path / "state.pth"
    torch.save({"sia_state": state}, p)
    back = torch.load(p, weights_only=True)["sia_state"]
    hook2 = T.SensitivityHook(types=["R+", "rotate+"])
    hook2.load_state_dict(back)
    assert all(torch.equal(a, b) for a, b in zip(hook2.state_dict()["cuda_rng_state"], saved))
    fake.states = [torch.zeros(16, dtype=torch.uint8)] * 2
    hook2.before_train_iter(runner, 1)
    assert all(torch.equal(a, b) for a, b in zip(fake.states, saved))

    # a machine with fewer devices: what matches is restored device by device
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    fake.calls.clear()
    hook2.before_train_iter(runner, 1)
    assert fake.calls == [("set", 0)]

    # an old checkpoint without the CUDA state still loads (and restores the CPU state only)
    old = {k: v for k, v in back.items() if k != "cuda_rng_state"}
    hook3 = T.SensitivityHook(types=["R+", "rotate+"])
    hook3.load_state_dict(old)
    assert hook3.state_dict()["cuda_rng_state"] is None and torch.equal(hook3.state_dict()["rng_state"], cpu_state)
    fake.calls.clear()
    hook3.before_train_iter(runner, 1)
    assert fake.calls == []


def test_hook_leaves_cuda_rng_alone_without_cuda_or_restore_rng(monkeypatch):
    runner = type("R", (), {"iter": 0})()
    for available, initialised in ((False, False), (True, False)):  # no device / no CUDA context yet
        fake = _fake_cuda(monkeypatch, available=available, initialised=initialised)
        hook = T.SensitivityHook(types=["R+", "rotate+"])
        hook._events = ([], [])
        hook.after_train_iter(runner, 0)
        hook.before_train_iter(runner, 1)
        assert fake.calls == [] and hook.state_dict()["cuda_rng_state"] is None
        assert torch.equal(hook.state_dict()["rng_state"], torch.get_rng_state())
    fake = _fake_cuda(monkeypatch)
    hook = T.SensitivityHook(types=["R+", "rotate+"], restore_rng=False)
    hook._events = ([], [])
    hook.after_train_iter(runner, 0)
    hook.before_train_iter(runner, 1)
    assert fake.calls == [] and hook.state_dict()["rng_state"] is None


def test_a_transform_after_a_finished_run_does_not_wait_for_its_hook():
    """mmengine keeps the last runner's MessageHub as the current instance after its run: a
    SensitivityAugment used later outside any runner must not wait for that run's schedule (it once
    waited 600 s in CI after another test's runner); the hook's after_run retires the experiment."""
    import time
    from types import SimpleNamespace

    from mmengine.logging import MessageHub

    from repro.train import channel

    name = f"finished_run_{time.time_ns()}"
    MessageHub.get_instance(name)  # what a runner leaves behind: its hub is the current instance
    assert channel.current_experiment() == name
    hook = T.SensitivityHook(subset=2)  # built "inside" that runner: announces it
    assert channel.announced(name)
    hook.after_run(SimpleNamespace(experiment_name=name))
    assert not channel.announced(name)
    t = T.SensitivityAugment(types=["R+"], seed=0, timeout=5.0)
    t0 = time.monotonic()
    out = t(_results(8, 8))  # before the fix: ScheduleTimeout after `timeout` s
    assert "sia_perturbation" in out and time.monotonic() - t0 < 2.0
    MessageHub.get_instance("mmengine")  # back to mmengine's default instance for the next tests
