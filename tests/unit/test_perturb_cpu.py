"""Tests of repro.perturb.cpu: the per-sample OpenCV path against the batched torch kernels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import repro.perturb as P
from repro.perturb import cpu
from repro.perturb import functional as F
from repro.perturb.functional import _geometry

MAGNITUDES = (0.1, 0.35, 0.7, 1.0)


def _smooth(h=60, w=80, seed=0):
    """A natural-looking image (bicubic upsampling of coarse noise) and a blocky label map."""
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    lab = cv2.resize(rng.integers(0, 7, (h // 8 + 1, w // 8 + 1), dtype=np.uint8), (w, h),
                     interpolation=cv2.INTER_NEAREST)
    img[:3, :3] = 0  # black pixels (V = 0)
    img[3:6, :3] = 97  # grey pixels (S = 0)
    return img, lab


def _random(h=37, w=51, seed=1):
    """Worst case for interpolation: independent uniform pixels and labels (odd sizes)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rng.integers(0, 9, (h, w), dtype=np.uint8)


IMAGES = {"smooth": _smooth(), "random": _random()}


def torch_ref(img, lab, name, m, border="zoom"):
    """The torch path on the same uint8 image: round(255·apply(img/255))."""
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    y = None if lab is None else torch.from_numpy(lab.astype(np.int64))[None]
    out, out_y = F.apply(x, y, name, m, border=border)
    o = (out[0].permute(1, 2, 0) * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()
    return o, (None if out_y is None else out_y[0].numpy())


def _diff(a, b):
    d = np.abs(a.astype(np.int64) - b.astype(np.int64))
    return int(d.max()), float(d.mean())


# --------------------------------------------------------------------------- agreement per type
@pytest.mark.parametrize("kind", sorted(IMAGES))
@pytest.mark.parametrize("name", [n for n in P.NAMES if n not in P.GEOMETRIC and n != "gaussian_noise"])
def test_channel_and_blur_match_torch(name, kind):
    img, lab = IMAGES[kind]
    tol = cpu.TOLERANCE[name]
    for m in MAGNITUDES:
        ref, _ = torch_ref(img, lab, name, m)
        out, lab2 = cpu.apply(img, lab, name, m)
        assert lab2 is lab  # photometric/other: the label object, untouched
        assert out.dtype == np.uint8 and out.shape == img.shape
        mx, mean = _diff(out, ref)
        assert mx <= tol["max"] and mean <= tol["mean"], f"{name} m={m} {kind}: max {mx}, mean {mean:.3f}"


@pytest.mark.parametrize("border", P.BORDERS)
@pytest.mark.parametrize("name", P.GEOMETRIC)
def test_geometric_match_torch(name, border):
    tol = cpu.TOLERANCE[name]
    for kind, (img, lab) in IMAGES.items():
        for m in MAGNITUDES:
            ref, ref_y = torch_ref(img, lab, name, m, border)
            out, lab2 = cpu.apply(img, lab, name, m, border=border)
            assert lab2.dtype == lab.dtype and lab2.shape == lab.shape
            mx, mean = _diff(out, ref)
            frac = float((lab2 != ref_y).mean())
            assert mx <= tol["max"] and mean <= tol["mean"], f"{name} {border} m={m} {kind}: max {mx}, mean {mean:.3f}"
            assert frac <= tol["label"], f"{name} {border} m={m} {kind}: {frac:.4f} of label pixels differ"
            # labels differ only where the source coordinate is a rounding tie (x.5: torch rounds half to even,
            # OpenCV half up, on its 1/1024-pixel grid)
            ys, xs = np.nonzero(lab2 != ref_y)
            if len(xs):
                src = np.array(F.warp_matrix(name, m, *lab.shape, border=border)) @ np.stack(
                    [xs, ys, np.ones_like(xs)]).astype(np.float64)
                tie = np.abs(src - np.floor(src) - 0.5).min(axis=0)
                assert tie.max() < 2e-3, f"{name} {border} m={m} {kind}: a label differs away from a rounding tie"
            if border == "zoom":
                assert not (lab2 == 255).any()  # no padded pixel is ever shown
    # pad: the fill reaches the labels (255) and the image (0) at a strong magnitude
    img, lab = IMAGES["smooth"]
    out, lab2 = cpu.apply(img, lab, name, 1.0, border="pad")
    assert (lab2 == 255).mean() > 0.05 and (out[lab2 == 255] == 0).mean() > 0.5


def test_warp_matrix_is_the_batched_map():
    """The scalar matrix equals the batched kernels' output→source map (the one definition)."""
    for name in P.GEOMETRIC:
        for border in P.BORDERS:
            for m in (0.0, 0.013, 0.5, 0.77, 1.0):
                for h, w in ((360, 480), (7, 5), (1, 9)):
                    mat = np.array(F.warp_matrix(name, m, h, w, border=border))
                    b, d = _geometry._inverse_maps(name, torch.tensor([m], dtype=torch.float64), h, w, border)
                    c = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
                    b, d = b[0].numpy(), d[0].numpy()
                    ref = np.concatenate([b, (c + d - b @ c)[:, None]], axis=1)
                    np.testing.assert_allclose(mat, ref, rtol=0, atol=1e-9, err_msg=f"{name} {border} {m} {h}x{w}")
    # rotate+ is counter-clockwise on screen, as cv2.getRotationMatrix2D (pad: no zoom)
    fwd = cv2.getRotationMatrix2D((239.5, 179.5), 45.0 * 0.4, 1.0)
    np.testing.assert_allclose(np.array(F.warp_matrix("rotate+", 0.4, 360, 480, border="pad")),
                               cv2.invertAffineTransform(fwd), atol=1e-9)
    with pytest.raises(ValueError, match="not a geometric perturbation"):
        F.warp_matrix("R+", 0.5, 10, 10)
    with pytest.raises(ValueError, match="border must be one of"):
        F.warp_matrix("rotate+", 0.5, 10, 10, border="wrap")
    with pytest.raises(ValueError, match="height must be a positive int"):
        F.warp_matrix("rotate+", 0.5, 0, 10)


def test_channel_targets_are_shared():
    assert set(F.CHANNEL_TARGETS) == set(P.PHOTOMETRIC)
    assert P.channel_target("V-") == ("hsv", 2, F.V_MIN)
    assert P.channel_target("B+") == ("rgb", 2, 1.0)
    with pytest.raises(ValueError, match="not a channel perturbation"):
        P.channel_target("rotate+")
    # R+ at m = 1 is the channel's maximum in both paths
    img, _ = IMAGES["smooth"]
    out, _ = cpu.apply(img, None, "R+", 1.0)
    assert (out[..., 0] == 255).all() and np.array_equal(out[..., 1:], img[..., 1:])


# --------------------------------------------------------------------------- identity, layout
@pytest.mark.parametrize("name", P.NAMES)
def test_magnitude_zero_is_identity_bit_for_bit(name):
    for img, lab in IMAGES.values():
        for border in P.BORDERS:
            out, lab2 = cpu.apply(img, lab, name, 0.0, border=border, rng=5)
            assert np.array_equal(out, img) and out is not img
            assert np.array_equal(lab2, lab)
    # a blur whose kernel rounds to 1 is the identity too
    img, lab = IMAGES["random"]
    assert np.array_equal(cpu.apply(img, lab, "gaussian_blur", 1.0 / 49.0 - 1e-6)[0], img)


@pytest.mark.parametrize("name", ["R+", "G-", "H+", "S+", "V-", "rotate-", "gaussian_blur"])
def test_bgr_is_rgb_reversed(name):
    img, lab = IMAGES["smooth"]
    rgb, lab_rgb = cpu.apply(img, lab, name, 0.6)
    bgr, lab_bgr = cpu.apply(np.ascontiguousarray(img[..., ::-1]), lab, name, 0.6, channel_order="bgr")
    assert np.array_equal(bgr[..., ::-1], rgb) and np.array_equal(lab_bgr, lab_rgb)


@pytest.mark.parametrize("name", ["R+", "H-", "S+", "V+", "shear_x+", "gaussian_blur"])
def test_greyscale_is_three_equal_channels(name):
    img, lab = IMAGES["random"]
    grey = img[..., 0].copy()
    out, _ = cpu.apply(grey, lab, name, 0.5)
    assert out.shape == grey.shape and out.dtype == np.uint8
    ref, _ = torch_ref(np.repeat(grey[..., None], 3, axis=2), lab, name, 0.5)
    ref = np.rint(ref.mean(axis=2)).astype(np.uint8)
    mx, mean = _diff(out, ref)
    # both round per channel, then the mean: a one-level difference in a channel can survive the mean
    assert mx <= cpu.TOLERANCE[name]["max"] and mean <= cpu.TOLERANCE[name]["mean"] + 0.15


def test_small_and_odd_sizes():
    rng = np.random.default_rng(3)
    for h, w in ((1, 1), (1, 7), (5, 3), (9, 13)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        lab = rng.integers(0, 4, (h, w), dtype=np.uint8)
        for name in ("gaussian_blur", "rotate+", "translate_y-", "H+", "gaussian_noise"):
            out, lab2 = cpu.apply(img, lab, name, 1.0)
            assert out.shape == img.shape and (lab2 is lab or lab2.shape == lab.shape)
        ref, _ = torch_ref(img, lab, "gaussian_blur", 1.0)  # kernel 49 on a tiny image: repeated reflection
        assert _diff(cpu.apply(img, lab, "gaussian_blur", 1.0)[0], ref)[0] <= cpu.TOLERANCE["gaussian_blur"]["max"]


def test_label_dtypes_and_lists():
    img, lab = IMAGES["smooth"]
    ref = cpu.apply(img, lab, "rotate+", 0.5)[1]
    wide = lab.astype(np.int64) * 100  # values beyond uint8 keep their identity
    out = cpu.apply(img, wide, "rotate+", 0.5)[1]
    assert out.dtype == np.int64 and np.array_equal(out, ref.astype(np.int64) * 100)
    _, maps = cpu.apply(img, [lab, lab.astype(np.int32)], "rotate+", 0.5)
    assert isinstance(maps, list) and np.array_equal(maps[0], ref) and maps[1].dtype == np.int32
    _, maps = cpu.apply(img, (lab,), "R+", 0.5)
    assert maps[0] is lab
    assert cpu.apply(img, None, "rotate+", 0.5)[1] is None


# --------------------------------------------------------------------------- noise
def test_noise_distribution_matches_torch():
    img = np.full((200, 240, 3), 128, np.uint8)
    for m in (0.1, 0.4):
        sigma = F.noise_sigma(m)
        out, _ = cpu.apply(img, None, "gaussian_noise", m, rng=np.random.default_rng(1))
        ref, _ = torch_ref(img, None, "gaussian_noise", m)
        d = out.astype(np.float64) - 128.0
        r = ref.astype(np.float64) - 128.0
        n = d.size
        assert abs(d.mean()) < 4 * sigma / np.sqrt(n) + 0.02
        assert abs(d.std() - r.std()) < 0.02 * sigma + 0.05, (d.std(), r.std())
        assert abs(d.std() - np.sqrt(sigma ** 2 + 1 / 12)) < 0.02 * sigma  # + the rounding's variance
        # independent per pixel and channel
        assert abs(np.corrcoef(d[..., 0].ravel(), d[..., 1].ravel())[0, 1]) < 0.02
        assert abs(np.corrcoef(d[:, :-1, 0].ravel(), d[:, 1:, 0].ravel())[0, 1]) < 0.02
    # clipping at the ends of the range, as the torch path
    white = np.full((100, 100, 3), 250, np.uint8)
    out, _ = cpu.apply(white, None, "gaussian_noise", 1.0, rng=0)
    ref, _ = torch_ref(white, None, "gaussian_noise", 1.0)
    assert out.max() == 255 and abs(out.mean() - ref.mean()) < 1.0
    q = cpu._normal_q16()
    assert abs(q.mean()) < 1e-12 and abs((q * q).mean() - 1) < 1e-12 and q.max() > 4.2


def test_noise_is_seeded():
    img, lab = IMAGES["smooth"]
    a = cpu.apply(img, lab, "gaussian_noise", 0.5, rng=np.random.default_rng(7))[0]
    b = cpu.apply(img, lab, "gaussian_noise", 0.5, rng=7)[0]
    c = cpu.apply(img, lab, "gaussian_noise", 0.5, rng=8)[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(cpu.apply(img, lab, "gaussian_noise", 0.5)[0],
                          cpu.apply(img, lab, "gaussian_noise", 0.5, rng=0)[0])  # None = seed 0


# --------------------------------------------------------------------------- errors
def test_errors():
    img, lab = IMAGES["smooth"]
    with pytest.raises(TypeError, match=r"image must have dtype uint8 \(0\.\.255\), got float32"):
        cpu.apply(img.astype(np.float32), lab, "R+", 0.5)
    with pytest.raises(TypeError, match="image must be a numpy array"):
        cpu.apply(torch.zeros(3, 4, 4), None, "R+", 0.5)
    with pytest.raises(ValueError, match=r"image must have shape H×W×3 or H×W"):
        cpu.apply(img[..., :2], None, "R+", 0.5)
    with pytest.raises(ValueError, match=r"labels has shape \(59, 80\), expected the image's H×W"):
        cpu.apply(img, lab[1:], "R+", 0.5)
    with pytest.raises(ValueError, match=r"labels\[1\] has shape"):
        cpu.apply(img, [lab, lab[1:]], "R+", 0.5)
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        cpu.apply(img, lab.astype(np.float32), "R+", 0.5)
    with pytest.raises(TypeError, match="labels must be None, an H×W integer numpy array or a list"):
        cpu.apply(img, "lab", "R+", 0.5)
    with pytest.raises(ValueError, match="unknown perturbation 'warp'"):
        cpu.apply(img, lab, "warp", 0.5)
    with pytest.raises(ValueError, match=r"magnitude must be in \[0, 1\], got 1.5"):
        cpu.apply(img, lab, "R+", 1.5)
    with pytest.raises(ValueError, match="one float in"):
        cpu.apply(img, lab, "R+", [0.1, 0.2])
    with pytest.raises(ValueError, match="border must be one of"):
        cpu.apply(img, lab, "rotate+", 0.5, border="wrap")
    with pytest.raises(ValueError, match="channel_order must be one of"):
        cpu.apply(img, lab, "R+", 0.5, channel_order="rgba")
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        cpu.apply(img, lab, "gaussian_noise", 0.5, rng=torch.Generator())
    with pytest.raises(ValueError, match="labels hold values outside"):
        cpu.apply(img, np.full(lab.shape, 2 ** 40, np.int64), "rotate+", 0.5)


# --------------------------------------------------------------------------- the numpy entry points
def test_apply_numpy_backends():
    img, lab = IMAGES["smooth"]
    for name in ("S+", "rotate+", "gaussian_blur"):
        a, la = P.apply_numpy(img, lab, name, 0.6, border="pad")  # default: opencv
        b, lb = P.apply_numpy(img, lab, name, 0.6, border="pad", backend="torch")
        c, lc = cpu.apply(img, lab, name, 0.6, border="pad")
        assert np.array_equal(a, c) and np.array_equal(la, lc) and la is not lab
        assert _diff(a, b)[0] <= cpu.TOLERANCE[name]["max"]
    with pytest.raises(ValueError, match="backend must be one of"):
        P.apply_numpy(img, lab, "R+", 0.5, backend="cuda")


def test_training_path_backends_and_hashes():
    """The mmseg transforms take a backend; the committed cpu/smoke configs keep theirs (torch) and
    their run hashes, the paper profile uses opencv."""
    T = pytest.importorskip("repro.train")
    from repro.train.runner import run_hash

    bgr, lab = IMAGES["smooth"]
    for name in ("R+", "H+", "rotate-", "translate_x+"):
        a, (la,) = T.apply_perturbation_numpy(bgr, [lab], name, 0.7)
        b, (lb,) = T.apply_perturbation_numpy(bgr, [lab], name, 0.7, backend="torch")
        ref, ref_y = cpu.apply(bgr, lab, name, 0.7, channel_order="bgr")
        assert np.array_equal(a, ref) and np.array_equal(la, ref_y)
        assert _diff(a, b)[0] <= cpu.TOLERANCE[name]["max"]
    grey = bgr[..., 1].copy()
    a, _ = T.apply_perturbation_numpy(grey, [lab], "V+", 0.5)
    b, _ = T.apply_perturbation_numpy(grey, [lab], "V+", 0.5, backend="torch")
    assert a.shape == grey.shape and _diff(a, b)[0] <= 1
    with pytest.raises(ValueError, match="backend must be one of"):
        T.apply_perturbation_numpy(bgr, [lab], "R+", 0.5, backend="numpy")
    with pytest.raises(ValueError, match="backend must be one of"):
        T.SensitivityAugment(schedule_file=None, backend="gpu")
    with pytest.raises(ValueError, match="backend must be one of"):
        T.BasisPerturbation("R+", backend="gpu")
    assert T.SensitivityAugment(schedule_file=None).backend == "opencv"
    assert T.BasisPerturbation("R+").backend == "opencv"

    # runs whose hook measures mIoU at levels (ours_no_sa: analysis "none"; smoke: refreshes) got new hashes
    # with repro.scoring.perturbed's seed rule (were a93d0c2a2de6f474, 2154567319459203, 6eade7482892933c); the others not
    # (the cpu profile trains every run anew since its ImageNet-initialised protocol, with the opencv path)
    want = {("ours", "smoke"): "6f4fe9852796e3b0", ("ours_no_sa", "smoke"): "bf9d183a9c0d85c1",
            ("baseline", "smoke"): "0ef85bf561c88edf"}
    for (method, profile), h in want.items():
        cfg = T.build_config(model="fastscnn", method=method, dataset="camvid", profile=profile)
        assert run_hash(cfg) == h, (method, profile)
        for t in cfg.train_dataloader.dataset.pipeline:
            if t["type"] == "SensitivityAugment":
                assert t["backend"] == "torch"
    cfg = T.build_config(model="lite0_segformer", method="ours", dataset="camvid", profile="cpu")
    assert [t["backend"] for t in cfg.train_dataloader.dataset.pipeline if t["type"] == "SensitivityAugment"] == ["opencv"]
    for method in ("ours", "ours_no_geo"):
        cfg = T.build_config(model="fastscnn", method=method, dataset="camvid", profile="paper", pretrained=None)
        aug = [t for t in cfg.train_dataloader.dataset.pipeline if t["type"] == "SensitivityAugment"]
        assert len(aug) == 1 and aug[0]["backend"] == "opencv"
        # opencv is part of the hash (it changes the numbers within a tolerance); torch hashes as no backend
        cfg_t = T.build_config(model="fastscnn", method=method, dataset="camvid", profile="paper", pretrained=None)
        aug_t = [t for t in cfg_t.train_dataloader.dataset.pipeline if t["type"] == "SensitivityAugment"][0]
        aug_t["backend"] = "torch"
        h_torch = run_hash(cfg_t)
        del aug_t["backend"]
        assert h_torch == run_hash(cfg_t) != run_hash(cfg)


@pytest.mark.parametrize("share", [0.01, 1.0])
def test_hue_seam(share):
    """Hues just below 360° (red with B > G), which OpenCV's 8-bit HSV rounds to 0, stay at the top
    of the hue range as in the torch path (few of them, or a whole image of them)."""
    img, _ = IMAGES["smooth"]
    img = img.copy()
    n = max(1, int(share * img.shape[0] * img.shape[1]))
    img.reshape(-1, 3)[:n] = (237, 15, 17)  # hue 359.5°
    assert cv2.cvtColor(img, cv2.COLOR_RGB2HSV)[0, 0, 0] == 0
    for name in ("H+", "H-"):
        for m in (0.1, 0.5):
            ref, _ = torch_ref(img, None, name, m)
            out, _ = cpu.apply(img, None, name, m)
            assert _diff(out, ref)[0] <= cpu.TOLERANCE[name]["max"], (name, m)
            bgr, _ = cpu.apply(np.ascontiguousarray(img[..., ::-1]), None, name, m, channel_order="bgr")
            assert np.array_equal(bgr[..., ::-1], out)
