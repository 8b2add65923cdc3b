import pandas as pd
import pytest
import torch

from repro.evaluation import suites as ev
from repro.data import load_dataset


class ColourModel(torch.nn.Module):
    """A fixed, deterministic 'segmenter': a seeded 1×1 convolution from RGB to class logits."""

    def __init__(self, num_classes=11):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = torch.nn.Conv2d(3, num_classes, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g))
            self.conv.bias.zero_()

    def forward(self, x):
        return self.conv(x)


class OracleModel(torch.nn.Module):
    """Reads the label painted into the red channel back out: perfect when labels stay aligned."""

    num_classes = 11

    def forward(self, x):
        cls = (x[:, 0] * 255 / 20).round().long().clamp(0, self.num_classes - 1)
        return torch.nn.functional.one_hot(cls, self.num_classes).permute(0, 3, 1, 2).float()


@pytest.fixture(scope="module")
def val():
    return load_dataset("camvid", "val")


def test_clean_matches_direct_scoring(val):
    from repro.scoring.inference import predict
    from repro.scoring.metrics import segmentation_scores

    model = ColourModel()
    res = ev.evaluate(model, val, "clean", indices=range(4), progress=False)
    x, y = val.batch(range(4))
    direct = segmentation_scores(predict(model, x), y, 11)
    assert res.summary["mIoU"] == pytest.approx(direct["mIoU"])
    assert list(res.table.columns) == ["suite", "item", "level", "aAcc", "mAcc", "mIoU"]


def test_basis_aug_deterministic_and_shaped(val):
    model = ColourModel()
    kw = dict(indices=range(2), types=["R+", "gaussian_noise", "rotate+"], magnitudes=(0.5, 1.0), progress=False)
    a = ev.evaluate(model, val, "basis_aug", seed=3, **kw)
    b = ev.evaluate(model, val, "basis_aug", seed=3, **kw)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert len(a.table) == 6 and set(a.per_item().index) == {"R+", "gaussian_noise", "rotate+"}
    c = ev.evaluate(model, val, "basis_aug", seed=4, **kw)
    noise = lambda r: r.table.set_index(["item", "level"]).loc[("gaussian_noise", 1.0), "aAcc"]  # noqa: E731
    assert noise(a) != noise(c)  # the seed reaches the noise draw


def _painted(val, n=2):
    """A dataset view of the first ``n`` images whose images carry their own labels in the red channel
    (value = 20·class); read sample by sample like any dataset, so the suites stream it."""
    from repro.data import SegDataset

    class Painted(SegDataset):
        def __getitem__(self, index):
            it = dict(val[int(index)])
            lab = torch.where(it["label"] == 255, torch.zeros_like(it["label"]), it["label"])
            it["image"] = it["image"].clone()
            it["image"][0] = lab.float() * 20 / 255
            return it

    return Painted(val.image_paths[:n], val.label_paths[:n], val.classes, val.palette, val.name, val.split,
                   names=val.names[:n])


def test_labels_move_with_geometry_and_distortion(val, monkeypatch):
    val = _painted(val)
    oracle = OracleModel()
    geo = ev.evaluate(oracle, val, "basis_aug", types=["rotate+", "translate_x-"], magnitudes=(1.0,), progress=False)
    # labels moved like the images: only pixels on class boundaries (where bilinear resampling
    # mixes painted values) can be misread
    assert geo.table["aAcc"].min() > 90.0
    pad = ev.evaluate(oracle, val, "basis_aug", types=["rotate+"], magnitudes=(1.0,), border="pad", progress=False)
    assert pad.table["aAcc"].min() > 90.0
    # the same check fails when the ground truth is NOT moved: it really tests alignment
    from repro.perturb import functional as perturb  # the module repro.scoring.perturbed applies

    real_apply = perturb.apply
    monkeypatch.setattr(perturb, "apply", lambda x, y, *a, **k: (real_apply(x, y, *a, **k)[0], y))
    stale = ev.evaluate(oracle, val, "basis_aug", types=["translate_x-"], magnitudes=(1.0,), progress=False)
    assert stale.table["aAcc"].min() < geo.table["aAcc"].min() - 20


def test_imagenet_c_labels_aligned_and_cached(val, monkeypatch):
    val = _painted(val)
    oracle = OracleModel()
    # pixelate and jpeg keep content in place: labels must be the unchanged ground truth
    res = ev.evaluate(oracle, val, "imagenet_c", indices=[0, 1], corruptions=["pixelate"], severities=(1,), progress=False)
    assert res.table.loc[0, "aAcc"] > 80.0
    again = ev.evaluate(oracle, val, "imagenet_c", indices=[0, 1], corruptions=["pixelate"], severities=(1,), progress=False)
    pd.testing.assert_frame_equal(res.table, again.table)


def test_advsteer_and_real_world(val):
    model = ColourModel()
    adv = ev.evaluate(model, val, "advsteer", indices=range(2), combinations=(1, 2), progress=False)
    assert list(adv.table["item"]) == ["advsteer_1", "advsteer_2"]
    rw = ev.evaluate(model, {"camvid_dusk": load_dataset("camvid", "test_dusk")}, "real_world", indices=range(3),
                     progress=False)
    assert list(rw.table["item"]) == ["camvid_dusk"] and 0 <= rw.summary["mIoU"] <= 100


def test_bad_arguments(val):
    with pytest.raises(ValueError, match="unknown suite 'fog'; suites are clean, basis_aug"):
        ev.evaluate(ColourModel(), val, "fog")
    with pytest.raises(TypeError, match="seed must be an int"):
        ev.evaluate(ColourModel(), val, "clean", seed=1.5)
    with pytest.raises(TypeError, match="repro.data.SegDataset"):
        ev.evaluate(ColourModel(), [1, 2], "clean")
    with pytest.raises(ValueError, match="unknown perturbation|valid names|Unknown"):
        ev.evaluate(ColourModel(), val, "basis_aug", types=["sepia"], indices=[0])


def test_real_world_sets_acdc_layout_error(tmp_path):
    sets = ev.real_world_sets(include_shipped=True)
    assert list(sets) == ["camvid_dusk"] and len(sets["camvid_dusk"]) == 62
    with pytest.raises(Exception, match="ACDC condition folder missing"):
        ev.real_world_sets(acdc_root=tmp_path)


def test_wrong_number_of_output_channels_is_named(val):
    from repro.scoring.inference import evaluate_images, predict

    model = ColourModel(num_classes=19)  # e.g. a Cityscapes head on 11-class CamVid
    with pytest.raises(ValueError, match=r"the model outputs 19 channels .* but the data has 11 classes"):
        ev.evaluate(model, val, "clean", indices=range(2), progress=False)
    with pytest.raises(ValueError, match=r"the model outputs 19 channels .* but the data has 11 classes"):
        ev.evaluate(model, val, "basis_aug", indices=range(2), types=["R+"], magnitudes=(0.2,),
                    progress=False)
    x, y = val.batch(range(2))
    with pytest.raises(ValueError, match=r"the model outputs 2 channels .* but the data has 11 classes"):
        evaluate_images(ColourModel(num_classes=2), x, y, 11)
    # without num_classes predict does not check; with the right count it passes
    assert predict(model, x).shape == (2, 180, 240)
    assert predict(ColourModel(), x, num_classes=11).shape == (2, 180, 240)
    with pytest.raises(ValueError, match="num_classes must be an int >= 1 or None"):
        predict(model, x, num_classes=0)
