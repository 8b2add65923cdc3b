"""Tests for repro.evaluation.corruptions (AdvSteer, ImageNet-C) and repro.base.compat.imagecorruptions."""
import colorsys

import cv2
import numpy as np
import pytest
import torch

from repro.evaluation import corruptions as C
from repro.base.compat import imagecorruptions as compat

# 8 well separated colours (corners of the RGB cube) for "label painted as image" tests
PALETTE = torch.tensor([[r, g, b] for r in (0.1, 0.9) for g in (0.1, 0.9) for b in (0.1, 0.9)])


def painted(h, w, block, seed=0):
    """A label map of random square blocks and the image that paints it with PALETTE."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, 8, (1, (h + block - 1) // block, (w + block - 1) // block), generator=g)
    label = coarse.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :h, :w].contiguous()
    image = PALETTE[label].permute(0, 3, 1, 2).contiguous()
    return image, label


def decode(image):
    """Nearest palette colour of every pixel → label map."""
    d = ((image.permute(0, 2, 3, 1).unsqueeze(-2) - PALETTE) ** 2).sum(-1)
    return d.argmin(-1)


def interior(label, radius):
    """Pixels whose (2r+1)² neighbourhood holds a single label value that is not 255."""
    lab = label.float().unsqueeze(1)
    k = 2 * radius + 1
    mx = torch.nn.functional.max_pool2d(lab, k, 1, radius)
    mn = -torch.nn.functional.max_pool2d(-lab, k, 1, radius)
    inner = torch.zeros_like(label, dtype=torch.bool)
    inner[:, radius:-radius, radius:-radius] = True
    return (mx == mn).squeeze(1) & (label != 255) & inner


# --------------------------------------------------------------------------- AdvSteer


def test_advsteer_table_as_printed_and_authors_variant():
    assert sorted(C.ADVSTEER) == [1, 2, 3, 4, 5, 6]
    p1 = C.ADVSTEER[1]
    assert (p1.B, p1.G, p1.R, p1.H, p1.S, p1.V) == (0.11560, 0.34747, -0.09439, 0.24316, -0.20787, 0.14526)
    assert (p1.blur_kernel, p1.noise_sigma, p1.distortion) == (3, 6.0, 9.0)
    assert [C.ADVSTEER[i].blur_kernel for i in range(1, 7)] == [3, 21, 1, 3, 27, 15]
    assert [C.ADVSTEER[i].distortion for i in range(1, 7)] == [9, 38, 49, 4, 0, 21]
    a6 = C.advsteer_params(6, "authors")
    p6 = C.ADVSTEER[6]
    assert a6.R == pytest.approx(1.25 * p6.B) and a6.B == pytest.approx(1.25 * p6.R)
    assert a6.V == pytest.approx(1.25 * p6.V) and a6.blur_kernel == p6.blur_kernel
    assert C.advsteer_params(6, "paper") is p6
    assert C.advsteer_params(6, "code") == a6


def _lighten_or_darken(c, a, cmax):
    return (1 - a) * c + a * cmax if a >= 0 else (1 + a) * c


def test_advsteer_combination1_hand_computed_pixel():
    r, g, b = 200 / 255, 100 / 255, 50 / 255
    p = C.ADVSTEER[1]
    # RGB stage (c_max = 1 on the [0, 1] scale)
    r = _lighten_or_darken(r, p.R, 1.0)  # R darkens: (1 - 0.09439) * 200/255
    g = _lighten_or_darken(g, p.G, 1.0)
    b = _lighten_or_darken(b, p.B, 1.0)
    assert r == pytest.approx((1 - 0.09439) * 200 / 255)
    assert g == pytest.approx((1 - 0.34747) * 100 / 255 + 0.34747)
    # HSV stage, one round trip per channel; OpenCV H in 0..180, S, V in 0..255
    for k, a, cmax in ((0, p.H, 180.0), (1, p.S, 255.0), (2, p.V, 255.0)):
        h, s, v = colorsys.rgb_to_hsv(r, g, b)
        hsv8 = [h * 180.0, s * 255.0, v * 255.0]
        hsv8[k] = _lighten_or_darken(hsv8[k], a, cmax)
        r, g, b = colorsys.hsv_to_rgb((hsv8[0] / 180.0) % 1.0, hsv8[1] / 255.0, hsv8[2] / 255.0)
    expected = torch.tensor([r, g, b], dtype=torch.float64)

    img = torch.tensor([200 / 255, 100 / 255, 50 / 255], dtype=torch.float64).view(1, 3, 1, 1).expand(2, 3, 24, 32)
    out, _ = C.advsteer(img, None, 1, parts=("channels",))
    torch.testing.assert_close(out[0, :, 5, 7], expected, atol=1e-9, rtol=0)
    # blur and distortion leave the centre of a flat image at the channel result
    out2, _ = C.advsteer(img, None, 1, parts=("channels", "blur", "distortion"))
    torch.testing.assert_close(out2[1, :, 12, 16], expected, atol=1e-9, rtol=0)


def test_channel_factors_gray_pixel_hue_is_reset_between_hsv_steps():
    # grey pixel: H lightening is invisible, the round trip resets H to 0, S lightening then gives red
    img = torch.full((1, 3, 4, 4), 0.5)
    out = C.channel_factors(img, {"H": 0.5, "S": 0.5})
    r, g, b = out[0, :, 0, 0].tolist()
    assert r == pytest.approx(0.5) and g == pytest.approx(0.25) and b == pytest.approx(0.25)


@pytest.mark.parametrize("k", [1, 3, 5, 7, 15, 21, 27])
def test_blur_matches_cv2_gaussian_blur(k):
    img = np.random.RandomState(k).rand(40, 56, 3).astype(np.float32)
    ours = C.gaussian_blur_cv(torch.from_numpy(img).permute(2, 0, 1)[None], k)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, cv2.GaussianBlur(img, (k, k), 0), atol=1e-5)


@pytest.mark.parametrize("d", [4, 21, 49])
def test_distortion_matches_cv2_undistort(d):
    h, w = 90, 120
    yy, xx = np.mgrid[0:h, 0:w]
    img = (0.5 + 0.5 * np.stack([np.sin(xx / 9.0), np.cos(yy / 7.0), np.sin((xx + yy) / 11.0)], -1)).astype(np.float32)
    K = np.array([[1000.0, 0, w / 2], [0, 1000.0, h / 2], [0, 0, 1]])
    ref = cv2.undistort(img, K, np.array([d, d, 0, 0], dtype=np.float64))
    ours, _ = C.radial_distortion(torch.from_numpy(img).permute(2, 0, 1)[None], None, d, d)
    diff = np.abs(ours[0].permute(1, 2, 0).numpy() - ref)
    assert diff.max() < 0.02  # OpenCV interpolates with 1/32-pixel fixed-point weights
    assert diff.mean() < 1e-3


def test_labels_move_with_distortion():
    image, label = painted(90, 120, 10)
    out, lab = C.advsteer(image, label, 3, parts=("distortion",))  # d = 49
    assert lab.dtype == label.dtype and lab.shape == label.shape
    assert (lab == 255).any() and not torch.equal(lab, label)
    assert set(lab.unique().tolist()) <= set(label.unique().tolist()) | {255}
    keep = interior(lab, 1)
    assert keep.float().mean() > 0.3
    assert torch.equal(decode(out)[keep], lab[keep])


def test_advsteer_noise_std_and_determinism():
    flat = torch.full((2, 3, 64, 64), 0.5)
    a, _ = C.advsteer(flat, None, 2, parts=("noise",), seed=3)
    b, _ = C.advsteer(flat, None, 2, parts=("noise",), generator=torch.Generator().manual_seed(3))
    c, _ = C.advsteer(flat, None, 2, parts=("noise",), seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a - 0.5).std().item() == pytest.approx(4 / 255, rel=0.05)
    full1, _ = C.advsteer(painted(48, 64, 8)[0], None, 6, seed=11)
    full2, _ = C.advsteer(painted(48, 64, 8)[0], None, 6, seed=11)
    assert torch.equal(full1, full2) and full1.min() >= 0 and full1.max() <= 1


def test_advsteer_all_six_run_on_float64_and_keep_dtype():
    image, label = painted(48, 64, 8)
    for i in range(1, 7):
        for variant in C.ADVSTEER_VARIANTS:
            out, lab = C.advsteer(image.double(), label, i, variant=variant, seed=0)
            assert out.dtype == torch.float64 and out.shape == image.shape and lab.shape == label.shape
            assert not torch.equal(out.float(), image)


def test_advsteer_errors():
    image, label = painted(32, 32, 8)
    with pytest.raises(ValueError, match="1..6"):
        C.advsteer(image, label, 7)
    with pytest.raises(TypeError, match="int in 1..6"):
        C.advsteer(image, label, True)
    with pytest.raises(ValueError, match="variant"):
        C.advsteer(image, label, 1, variant="v2")
    with pytest.raises(ValueError, match="parts"):
        C.advsteer(image, label, 1, parts=("channels", "jpeg"))
    with pytest.raises(ValueError, match="either generator or seed"):
        C.advsteer(image, label, 1, seed=1, generator=torch.Generator())
    with pytest.raises(TypeError, match="float"):
        C.advsteer((image * 255).to(torch.uint8), label, 1)
    with pytest.raises(ValueError, match="N×3×H×W"):
        C.advsteer(image[0], label, 1)
    with pytest.raises(ValueError, match="labels must have shape"):
        C.advsteer(image, label[:, :16], 1)
    with pytest.raises(TypeError, match="integer"):
        C.advsteer(image, label.float(), 1)
    with pytest.raises(ValueError, match="positive odd"):
        C.cv_gaussian_kernel(4)
    with pytest.raises(ValueError, match="unknown channel"):
        C.channel_factors(image, {"Y": 0.1})


# --------------------------------------------------------------------------- ImageNet-C


def test_imagenet_c_names():
    assert len(C.IMAGENET_C) == 19 and len(set(C.IMAGENET_C)) == 19
    assert C.IMAGENET_C == compat.CORRUPTIONS
    assert set(C.AUTHORS_IMAGENET_C) <= set(C.IMAGENET_C) and len(C.AUTHORS_IMAGENET_C) == 7
    assert set(C.MOVES_CONTENT) <= set(C.IMAGENET_C)


@pytest.mark.parametrize("name", C.IMAGENET_C)
def test_all_19_corruptions_run_at_severity_1(name):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 40, 48, generator=g) * 0.6 + 0.2
    label = torch.randint(0, 11, (1, 40, 48), generator=g)
    out, lab = C.imagenet_c(image, label, name, 1, seed=0)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert 0 <= out.min() and out.max() <= 1
    assert (out - image).abs().mean() > 1e-3  # it changed the image
    assert lab.shape == label.shape
    if name not in C.MOVES_CONTENT:
        assert lab is label


def test_frost_images_load():
    files = compat.frost_files()
    assert len(files) == 6
    for f in files:
        im = cv2.imread(f)
        assert im is not None and im.ndim == 3 and min(im.shape[:2]) > 100


def test_compat_patches_stay_local():
    import skimage.filters

    mod = compat.module()
    assert mod.np.float_ is np.float64
    assert not hasattr(np, "float_")  # numpy itself is untouched
    assert skimage.filters.gaussian is not mod.gaussian


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_fast_glass_blur_equals_package(severity):
    img = (np.random.RandomState(severity).rand(36, 44, 3) * 255).astype(np.uint8)
    entropy = (9, 2)
    with C._global_numpy_seeded(entropy):
        ref = compat.corrupt(img, severity, "glass_blur")
    ours, _ = C._glass_blur(img, None, severity, entropy)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_fast_zoom_blur_equals_package(severity):
    """zoom_blur draws nothing: ours (torch bilinear, align_corners=True, float64) must give the
    package's uint8 output, up to a rare 1 where a value sits on the uint8 truncation boundary."""
    rs = np.random.RandomState(severity)
    smooth = torch.nn.functional.interpolate(torch.from_numpy(rs.rand(1, 3, 9, 11)), size=(61, 83), mode="bicubic",
                                             align_corners=False).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    for img in ((rs.rand(37, 45, 3) * 255).astype(np.uint8), (smooth * 255).astype(np.uint8)):
        ref = compat.corrupt(img, severity, "zoom_blur")
        ours = C._zoom_blur(img, severity)
        assert ours.dtype == np.uint8 and ours.shape == ref.shape
        d = np.abs(ours.astype(int) - ref.astype(int))
        assert d.max() <= 1 and (d > 0).mean() <= 1e-3
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    via_api, _ = C.imagenet_c(x, None, "zoom_blur", severity, seed=0)
    assert torch.equal(via_api[0], torch.from_numpy(ours).permute(2, 0, 1).float() / 255)


def test_glass_blur_distribution_matches_package_over_seeds():
    """Over many seeds the public path (per-image SeedSequence draws) and the package (global
    numpy seeds) give outputs with the same per-pixel mean and spread: the draws differ, their
    distribution does not."""
    img = (np.random.RandomState(0).rand(40, 48, 3) * 255).astype(np.uint8)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    ours = np.stack([C.imagenet_c(x, None, "glass_blur", 3, seed=[k])[0][0].permute(1, 2, 0).numpy() * 255
                     for k in range(24)])
    ref = []
    for k in range(24):
        with C._global_numpy_seeded((1000 + k,)):
            ref.append(compat.corrupt(img, 3, "glass_blur").astype(np.float64))
    ref = np.stack(ref)
    assert not np.array_equal(ours[0], ref[0])  # different draws...
    inner = (slice(None), slice(4, -4), slice(4, -4))
    assert abs(ours[inner].mean() - ref[inner].mean()) < 0.5  # ... same distribution (values 0..255)
    # equal distributions: E|mean_a - mean_b| ≈ 0.8·√2·σ/√24 ≈ 1.7 with σ ≈ 7.5 per pixel (measured 1.73);
    # a wrong one (plain gaussian_blur, no pixel copies) gives 5.2
    assert np.abs(ours.mean(0) - ref.mean(0))[inner[1:]].mean() < 2.5
    assert ours.std(0)[inner[1:]].mean() == pytest.approx(ref.std(0)[inner[1:]].mean(), rel=0.1)


def test_imagenet_c_seeded_and_global_state_unchanged():
    image = painted(40, 48, 8)[0].repeat(2, 1, 1, 1) * 0.8 + 0.1
    np.random.seed(123)
    expected_next = np.random.random()
    np.random.seed(123)
    a, _ = C.imagenet_c(image, None, "frost", 2, seed=5)
    b, _ = C.imagenet_c(image, None, "gaussian_noise", 2, seed=5)
    assert np.random.random() == expected_next  # caller's global numpy RNG untouched
    assert torch.equal(a, C.imagenet_c(image, None, "frost", 2, seed=5)[0])
    b2, _ = C.imagenet_c(image, None, "gaussian_noise", 2, seed=6)
    assert torch.equal(b, C.imagenet_c(image, None, "gaussian_noise", 2, seed=5)[0]) and not torch.equal(b, b2)
    assert not torch.equal(b[0], b[1])  # images of a batch get different noise
    imp1, _ = C.imagenet_c(image, None, "impulse_noise", 3, seed=1)
    assert torch.equal(imp1, C.imagenet_c(image, None, "impulse_noise", 3, seed=1)[0])
    # per-image seed lists make results independent of batch composition
    both, _ = C.imagenet_c(image, None, "shot_noise", 3, seed=[7, 8])
    one, _ = C.imagenet_c(image[1:], None, "shot_noise", 3, seed=[8])
    assert torch.equal(both[1:], one)


@pytest.mark.parametrize("name,severity", [("elastic_transform", 5), ("elastic_transform", 2), ("glass_blur", 1), ("glass_blur", 5)])
def test_labels_move_with_content(name, severity):
    image, label = painted(96, 96, 16, seed=1)
    image = image * 0.9 + 0.05
    out, lab = C.imagenet_c(image, label, name, severity, seed=3)
    assert lab.dtype == label.dtype and not torch.equal(lab, label)
    assert set(lab.unique().tolist()) <= set(label.unique().tolist())
    keep = interior(lab, 1)
    assert keep.float().mean() > 0.2
    seen = decode(out)
    assert torch.equal(seen[keep], lab[keep])  # the painted label survives where it is unambiguous
    if (name, severity) != ("glass_blur", 5):  # (at severity 5 the final σ=1.5 blur hides single moved pixels)
        # the moved label explains the corrupted image better than the original label does
        assert (seen == lab).float().mean() > (seen == label).float().mean() + 0.03


def test_imagenet_c_errors():
    image, label = painted(40, 40, 8)
    with pytest.raises(ValueError, match="unknown ImageNet-C corruption 'fogg'.*motion_blur"):
        C.imagenet_c(image, label, "fogg", 1, seed=0)
    for bad in (0, 6):
        with pytest.raises(ValueError, match="1..5"):
            C.imagenet_c(image, label, "fog", bad, seed=0)
    with pytest.raises(TypeError, match="severity must be an int"):
        C.imagenet_c(image, label, "fog", 2.5, seed=0)
    with pytest.raises(TypeError, match="severity must be an int"):
        C.imagenet_c(image, label, "fog", True, seed=0)
    with pytest.raises(ValueError, match="at least 32"):
        C.imagenet_c(image[:, :, :16], None, "fog", 1, seed=0)
    with pytest.raises(ValueError, match="one per image"):
        C.imagenet_c(image, label, "fog", 1, seed=[1, 2])
    with pytest.raises(TypeError, match="seed must be"):
        C.imagenet_c(image, label, "fog", 1, seed="0")
    with pytest.raises(ValueError, match="unknown ImageNet-C corruption"):
        compat.corrupt(np.zeros((40, 40, 3), np.uint8), 1, "rain")


def test_advsteer_blur_kernel_is_the_basis_blur_kernel_above_opencvs_tables():
    """corrupt builds on perturb's Gaussian: bit-equal for every k > 7; OpenCV's fixed tables below."""
    from repro.perturb.functional import gaussian_kernel1d

    for k in range(9, 100, 2):
        for dt in (torch.float32, torch.float64):
            assert torch.equal(C.cv_gaussian_kernel(k, dtype=dt), gaussian_kernel1d(k, dtype=dt)), k
    assert torch.equal(C.cv_gaussian_kernel(3), torch.tensor([0.25, 0.5, 0.25]))
    assert not torch.allclose(C.cv_gaussian_kernel(5), gaussian_kernel1d(5))  # the tables differ on purpose
