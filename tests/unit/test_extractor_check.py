"""repro.analysis.extractor_check: the acceptance criteria and the response measurement on a small fixture."""
import pandas as pd
import pytest
import torch
from torch import nn

from repro.analysis import features as F
from repro.analysis.extractor_check import acceptance, perturbation_response


def _images(n=8, h=24, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, h // 4, w // 4, generator=g)
    return torch.nn.functional.interpolate(base, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)


class _Zeros(nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0], 4, 2, 2)


def _frame(kids, sds, ext="e", t="T", alphas=(0.2, 0.4, 0.6, 0.8, 1.0)):
    return pd.DataFrame({"type": t, "alpha": list(alphas), "kid": kids, "kid_std": sds, "extractor": ext})


def test_acceptance_criteria_on_constructed_curves():
    good = _frame([1, 2, 3, 4, 5], [0.1] * 5, t="good")
    wobble = _frame([1, 2, 1.95, 4, 5], [0.1] * 5, t="wobble")  # drop 0.05 < noise 0.1: still monotone
    drop = _frame([1, 2, 3, 5, 4], [0.1] * 5, t="drop")  # drop 1 > noise: not monotone
    negative = _frame([-0.1, 2, 3, 4, 5], [0.1] * 5, t="negative")
    weak = _frame([1, 2, 3, 4, 5], [2.0] * 5, t="weak")  # KID(1)/σ = 2.5 < 5
    acc = acceptance(pd.concat([good, wobble, drop, negative, weak])).set_index("type")
    assert acc.loc["good", "ok"] and acc.loc["wobble", "ok"]
    assert acc.loc["drop", ["positive", "strong"]].all() and not acc.loc["drop", "monotone"]
    assert not acc.loc["drop", "ok"]
    assert not acc.loc["negative", "positive"] and not acc.loc["negative", "ok"]
    assert acc.loc["weak", "snr_max"] == pytest.approx(2.5)
    assert not acc.loc["weak", "strong"] and not acc.loc["weak", "ok"]
    assert acceptance(weak, snr=2.0).loc[0, "ok"]


def test_pixel_grid_extractor_sees_channel_scaling_and_a_constant_one_sees_nothing():
    x = _images()
    pixels = F.encoder_extractor(nn.Identity(), name="pixels", grid=(3, 4))
    blind = F.encoder_extractor(_Zeros(), name="zeros", grid=(1, 1))
    types = ["R+", "V-"]
    resp = pd.concat([perturbation_response(pixels, x, types, subsets=50, seed=0),
                      perturbation_response(blind, x, types, subsets=50, seed=0)])
    assert set(resp["extractor"]) == {pixels.tag, blind.tag}
    acc = acceptance(resp).set_index(["extractor", "type"])
    for t in types:
        assert acc.loc[(pixels.tag, t), "ok"], acc.loc[pixels.tag]
        assert not acc.loc[(blind.tag, t), "positive"] and not acc.loc[(blind.tag, t), "ok"]
    # the pixel response grows with α for a channel scaling
    r = resp[(resp["extractor"] == pixels.tag) & (resp["type"] == "V-")].sort_values("alpha")["kid"].to_numpy()
    assert (r[1:] > r[:-1]).all()


def test_response_is_deterministic_per_seed():
    x = _images(n=6)
    ext = F.encoder_extractor(nn.Identity(), name="pixels", grid=(2, 2))
    a = perturbation_response(ext, x, ["gaussian_noise"], magnitudes=(0.5, 1.0), subsets=20, seed=3)
    b = perturbation_response(ext, x, ["gaussian_noise"], magnitudes=(0.5, 1.0), subsets=20, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs == {"n_images": 6, "subset_size": 3, "seed": 3}


def test_errors_name_the_argument():
    ext = F.encoder_extractor(nn.Identity(), name="pixels", grid=(1, 1))
    with pytest.raises(ValueError, match="at least 4 images"):
        perturbation_response(ext, _images(n=3), ["R+"])
    with pytest.raises(ValueError, match=r"images must be an N×3×H×W tensor"):
        perturbation_response(ext, torch.rand(4, 1, 8, 8), ["R+"])
    with pytest.raises(ValueError, match=r"magnitudes must be values in \(0, 1\]"):
        perturbation_response(ext, _images(n=4), ["R+"], magnitudes=(0.0, 1.0))
    with pytest.raises(ValueError, match="unknown|perturbation"):
        perturbation_response(ext, _images(n=4), ["not-a-type"])
    with pytest.raises(ValueError, match="response must be a DataFrame"):
        acceptance(pd.DataFrame({"type": ["R+"]}))
