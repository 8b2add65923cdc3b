"""Tests of the 24 basis perturbations (repro.perturb), SPEC.md §1."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import repro.perturb as P
from repro.perturb.functional._geometry import _inverse_maps

GEN_SEED = 1234


@pytest.fixture(scope="module")
def camvid():
    """Four real CamVid val images (180×240) with their labels (void = 255)."""
    from repro.data import load_dataset

    ds = load_dataset("camvid", "val")
    idx = [0, len(ds) // 3, 2 * len(ds) // 3, len(ds) - 1]
    x, y = ds.batch(idx)
    assert x.shape[1:] == (3, 180, 240) and y.dtype == torch.int64
    return x, y


def gen(seed=GEN_SEED):
    return torch.Generator().manual_seed(seed)


def run(x, y, name, m, **kw):
    return P.apply(x, y, name, m, generator=gen(), **kw)


# --------------------------------------------------------------------------- names and groups
def test_names_order_and_groups():
    assert len(P.NAMES) == 24
    assert P.NAMES[:12] == ("R+", "R-", "G+", "G-", "B+", "B-", "H+", "H-", "S+", "S-", "V+", "V-")
    assert P.NAMES[12:22] == (
        "rotate+", "rotate-", "shear_x+", "shear_x-", "shear_y+", "shear_y-",
        "translate_x+", "translate_x-", "translate_y+", "translate_y-",
    )
    assert P.NAMES[22:] == ("gaussian_blur", "gaussian_noise")
    assert P.PHOTOMETRIC + P.GEOMETRIC + P.OTHER == P.NAMES
    assert (len(P.PHOTOMETRIC), len(P.GEOMETRIC), len(P.OTHER)) == (12, 10, 2)


# --------------------------------------------------------------------------- properties for all 24
@pytest.mark.parametrize("name", P.NAMES)
def test_identity_at_zero(camvid, name):
    x, y = camvid
    out, out_y = run(x, y, name, 0.0)
    assert torch.equal(out, x)
    assert torch.equal(out_y, y)
    assert out.data_ptr() != x.data_ptr()  # a new image tensor, never the input


@pytest.mark.parametrize("name", P.NAMES)
def test_change_grows_with_magnitude(camvid, name):
    x, y = camvid
    diffs = [(run(x, y, name, m)[0] - x).abs().mean().item() for m in (0.25, 0.5, 0.75, 1.0)]
    assert diffs[0] > 1e-3, diffs
    assert all(b > a for a, b in zip(diffs, diffs[1:])), diffs


@pytest.mark.parametrize("name", P.PHOTOMETRIC + P.OTHER)
def test_non_geometric_leave_labels(camvid, name):
    x, y = camvid
    y0 = y.clone()
    out, out_y = run(x, y, name, 0.7)
    assert torch.equal(out_y, y0)
    assert not torch.equal(out, x)


@pytest.mark.parametrize("name", P.GEOMETRIC)
@pytest.mark.parametrize("border", ["pad", "zoom"])
def test_geometric_label_values(camvid, name, border):
    x, y = camvid
    out, out_y = run(x, y, name, 0.8, border=border)
    assert out_y.dtype == torch.int64 and out_y.shape == y.shape
    for i in range(len(y)):
        allowed = set(y[i].unique().tolist())
        got = set(out_y[i].unique().tolist())
        if border == "pad":
            allowed.add(P.IGNORE_INDEX)
            assert P.IGNORE_INDEX in got  # something was padded at m = 0.8
        assert got <= allowed, (got, allowed)
    assert not torch.equal(out_y, y)


@pytest.mark.parametrize("name", P.NAMES)
def test_same_seed_same_output(camvid, name):
    x, y = camvid
    a = P.apply(x, y, name, 0.6, generator=gen(7))
    b = P.apply(x, y, name, 0.6, generator=gen(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    c = P.apply(x, y, name, 0.6, generator=gen(8))
    assert torch.equal(a[0], c[0]) == (name != "gaussian_noise")


@pytest.mark.parametrize("name", P.NAMES)
def test_mixed_batch_equals_per_sample(camvid, name):
    x, y = camvid
    ms = torch.tensor([0.0, 0.3, 0.65, 1.0])
    out, out_y = run(x, y, name, ms)
    assert torch.equal(out[0], x[0]) and torch.equal(out_y[0], y[0])  # m = 0 row untouched
    for i, m in enumerate(ms.tolist()):
        if name == "gaussian_noise":
            # the noise field depends on the generator and the batch shape only
            ref, ref_y = run(x, y, name, m)
            ref, ref_y = ref[i], ref_y[i]
        else:
            ref, ref_y = run(x[i : i + 1], y[i : i + 1], name, m)
            ref, ref_y = ref[0], ref_y[0]
        torch.testing.assert_close(out[i], ref, rtol=0, atol=1e-6)
        assert torch.equal(out_y[i], ref_y)


def test_magnitude_as_list_numpy_and_tensor_agree(camvid):
    x, y = camvid
    ref = run(x, y, "rotate+", [0.1, 0.2, 0.3, 0.4])[0]
    for m in (np.array([0.1, 0.2, 0.3, 0.4]), torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)):
        assert torch.equal(run(x, y, "rotate+", m)[0], ref)
    # float32 magnitudes differ from float64 ones by round-off only
    torch.testing.assert_close(run(x, y, "rotate+", torch.tensor([0.1, 0.2, 0.3, 0.4]))[0], ref, rtol=0, atol=1e-4)


def test_labels_none_and_float64(camvid):
    x = camvid[0][:1]
    for name in ("V+", "shear_x-", "gaussian_blur", "gaussian_noise"):
        out, out_y = run(x, None, name, 0.5)
        assert out_y is None and out.shape == x.shape
        out64, _ = run(x.double(), None, name, 0.5)
        assert out64.dtype == torch.float64
        torch.testing.assert_close(out64.float(), out, rtol=0, atol=2e-5 if name != "gaussian_noise" else 1.0)


# --------------------------------------------------------------------------- known values
@pytest.mark.parametrize("scale", [1, 2])
def test_rgb_known_values(camvid, scale):
    x = F.interpolate(camvid[0][:2], scale_factor=scale, mode="bilinear").clamp(0, 1)
    out, _ = run(x, None, "R+", 1.0)
    assert torch.all(out[:, 0] == 1.0)
    assert torch.equal(out[:, 1:], x[:, 1:])
    out, _ = run(x, None, "G-", 1.0)
    assert torch.all(out[:, 1] == 0.0)
    out, _ = run(x, None, "B+", 0.5)
    torch.testing.assert_close(out[:, 2], 0.5 * x[:, 2] + 0.5)


def test_v_minus_at_one_is_10_over_255(camvid):
    x, _ = camvid
    out, _ = run(x, None, "V-", 1.0)
    torch.testing.assert_close(out.amax(dim=1), torch.full_like(out[:, 0], 10 / 255), rtol=0, atol=1e-6)
    out, _ = run(x, None, "V+", 1.0)
    torch.testing.assert_close(out.amax(dim=1), torch.ones_like(out[:, 0]), rtol=0, atol=1e-6)


def test_blur_kernel_sizes():
    assert P.blur_kernel_size(1.0) == 49
    assert P.blur_kernel_size(0.0) == 1
    assert P.blur_kernel_size(0.5) == 25  # 2·floor(12.25)+1
    for k in range(1, 50, 2):
        assert P.blur_kernel_size(P.blur_magnitude(k)) == k
    assert P.blur_sigma(49) == pytest.approx(0.3 * 23 + 0.8)
    w = P.gaussian_kernel1d(49)
    assert w.numel() == 49 and float(w.sum()) == pytest.approx(1.0, abs=1e-6)


def test_noise_sigma_on_flat_grey():
    assert P.noise_sigma(1.0) == 50.0 and P.noise_sigma(0.3) == pytest.approx(15.0)
    assert P.noise_magnitude(25.0) == 0.5
    flat = torch.full((2, 3, 128, 128), 0.5)
    out, _ = run(flat, None, "gaussian_noise", 1.0)
    # clipping at 0 and 1 (±2.55σ) lowers the std by about 1%
    assert float(out.std()) == pytest.approx(50 / 255, rel=0.025)
    assert float(out.mean()) == pytest.approx(0.5, abs=0.005)
    assert out.min() >= 0 and out.max() <= 1
    out, _ = run(flat, None, "gaussian_noise", 0.2)  # σ = 10/255, no clipping
    assert float(out.std()) == pytest.approx(10 / 255, rel=0.02)


# --------------------------------------------------------------------------- against references
@pytest.mark.parametrize("name", P.HSV_NAMES)
@pytest.mark.parametrize("scale", [1, 2])  # 360×480 exercises the strip-wise CPU path
def test_hsv_matches_opencv_float_round_trip(camvid, name, scale):
    cv2 = pytest.importorskip("cv2")
    x, _ = camvid
    if scale != 1:  # re-quantised to 8-bit levels like real images (no near-grey float noise)
        x = (F.interpolate(x[:1], scale_factor=scale, mode="bilinear") * 255).round() / 255
    else:
        x = x[:1].clone()
    x[0, :, :4, :4] = 0.0  # black, white and grey pixels (S = 0, hue undefined)
    x[0, :, 4:8, :4] = 1.0
    x[0, :, 8:12, :4] = 0.5
    img = x[0].permute(1, 2, 0).numpy().copy()
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)  # float: H 0..360, S and V 0..1
    ch = "HSV".index(name[0])
    c_max = 360.0 if ch == 0 else 1.0
    c_min = 10 / 255 if name == "V-" else 0.0
    for m in (0.3, 1.0):
        h2 = hsv.copy()
        h2[..., ch] = (1 - m) * h2[..., ch] + m * (c_max if name[1] == "+" else c_min)
        ref = cv2.cvtColor(h2, cv2.COLOR_HSV2RGB)
        out, _ = run(x, None, name, m)
        np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy(), ref, atol=1e-4)


@pytest.mark.parametrize("size", [(180, 240), (17, 23)])
def test_blur_matches_opencv(size):
    cv2 = pytest.importorskip("cv2")
    x = torch.rand(2, 3, *size, generator=gen())
    for k in (3, 13, 49):
        out, _ = run(x, None, "gaussian_blur", P.blur_magnitude(k))
        for i in range(2):
            ref = cv2.GaussianBlur(x[i].permute(1, 2, 0).numpy(), (k, k), P.blur_sigma(k))  # reflect-101
            np.testing.assert_allclose(out[i].permute(1, 2, 0).numpy(), ref, atol=2e-6)


def _grid_sample_reference(x, name, m, border):
    n, _, h, w = x.shape
    mat, d = _inverse_maps(name, m.double(), h, w, border)
    half = torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64)
    theta = torch.empty(n, 2, 3, dtype=torch.float64)
    theta[:, :, :2] = mat * half.view(1, 1, 2) / half.view(1, 2, 1)
    theta[:, :, 2] = d / half
    grid = F.affine_grid(theta.float(), [n, 3, h, w], align_corners=False)
    pad = "border" if border == "zoom" else "zeros"
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=pad, align_corners=False)


@pytest.mark.parametrize("name", P.GEOMETRIC)
@pytest.mark.parametrize("border", ["pad", "zoom"])
def test_geometric_matches_grid_sample(name, border):
    x = torch.rand(3, 3, 31, 47, generator=gen())
    m = torch.tensor([0.2, 0.6, 1.0])
    out, _ = P.apply(x, None, name, m, border=border)
    torch.testing.assert_close(out, _grid_sample_reference(x, name, m, border), rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", P.GEOMETRIC)
def test_geometric_pad_matches_opencv_warp(camvid, name):
    cv2 = pytest.importorskip("cv2")
    x, y = camvid
    x, y = x[:1], y[:1]
    h, w = y.shape[1:]
    p = P.affine_parameters(name, 0.6, h, w)
    c = ((w - 1) / 2.0, (h - 1) / 2.0)
    a = cv2.getRotationMatrix2D(c, p["angle"], 1.0)[:, :2]
    a = a @ np.array([[1.0, p["shear_x"]], [p["shear_y"], 1.0]]) if p["angle"] == 0 else a
    mat = np.concatenate([a, (np.array(c) + (p["tx"], p["ty"]) - a @ np.array(c))[:, None]], 1)
    ref_y = cv2.warpAffine(y[0].numpy().astype(np.uint8), mat, (w, h), flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    ref = cv2.warpAffine(x[0].permute(1, 2, 0).numpy(), mat, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out, out_y = P.apply(x, y, name, 0.6, border="pad")
    assert (out_y[0].numpy() != ref_y).mean() < 1e-3  # rounding ties only
    assert np.abs(out[0].permute(1, 2, 0).numpy() - ref).mean() < 1e-3


@pytest.mark.parametrize("name", P.GEOMETRIC)
def test_zoom_is_largest_valid_rectangle(name):
    h, w = 90, 120
    m = torch.tensor([0.3, 1.0], dtype=torch.float64)
    mat, d = _inverse_maps(name, m, h, w, "zoom")
    corners = torch.tensor([[sx * w / 2, sy * h / 2] for sx in (-1, 1) for sy in (-1, 1)], dtype=torch.float64)
    src = torch.einsum("nij,kj->nki", mat, corners) + d[:, None]  # relative to the centre
    slack = torch.stack([w / 2 - src[..., 0].abs(), h / 2 - src[..., 1].abs()], -1)
    assert slack.min() >= -1e-9  # every corner inside the source image
    assert torch.all(slack.flatten(1).amin(1) < 1e-9)  # and it touches: the rectangle is maximal
    if name.startswith("translate"):  # beside the padded strip, not centred: s = 1 - m/4 (≤ 4/3 zoom)
        assert torch.allclose(torch.linalg.det(mat).sqrt(), 1 - m / 4)


@pytest.mark.parametrize("name", P.NAMES)
def test_distance_grows_with_magnitude(camvid, name):
    """The mean absolute pixel change from the clean images rises with m for every type (the
    sensitivity analysis assumes it); noise uses the same draws at every m."""
    x, y = camvid
    dist = []
    for m in (0.1, 0.2, 0.4, 0.6, 0.8, 1.0):
        out, _ = P.apply(x, y, name, m, generator=gen(7))
        dist.append(float((out - x).abs().mean()))
    assert all(b > a for a, b in zip(dist, dist[1:])), [round(v, 5) for v in dist]


def test_geometric_directions():
    h, w = 41, 61
    x = torch.zeros(1, 3, h, w)
    x[0, :, 20, 40] = 1.0  # a dot right of the centre (30, 20)
    y = torch.zeros(1, h, w, dtype=torch.long)

    def where(name, m=0.5):
        out, _ = P.apply(x, y, name, m, border="pad")
        iy, ix = np.unravel_index(int(out[0, 0].argmax()), (h, w))
        return ix, iy

    assert where("translate_x+")[0] > 40 and where("translate_x-")[0] < 40
    assert where("rotate+")[1] < 20 and where("rotate-")[1] > 20  # counter-clockwise = up on the right
    assert where("shear_y+")[1] > 20 and where("shear_y-")[1] < 20
    x2 = torch.zeros(1, 3, h, w)
    x2[0, :, 30, 30] = 1.0  # a dot below the centre
    out, _ = P.apply(x2, None, "shear_x+", 0.5, border="pad")
    assert int(out[0, 0].argmax()) % w > 30  # x' = x + k·y moves points below the centre right
    out, _ = P.apply(x2, None, "translate_y+", 0.5, border="pad")
    assert int(out[0, 0].argmax()) // w > 30


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", P.NAMES)
def test_cuda_matches_cpu(camvid, name):
    x, y = camvid
    ms = torch.tensor([0.0, 0.3, 0.65, 1.0])
    cpu = P.apply(x, y, name, ms, generator=gen())
    cuda = P.apply(x.cuda(), y.cuda(), name, ms.cuda(), generator=torch.Generator("cuda").manual_seed(GEN_SEED))
    assert cuda[0].device.type == "cuda"
    if name != "gaussian_noise":  # different random streams per device
        torch.testing.assert_close(cuda[0].cpu(), cpu[0], rtol=0, atol=1e-4)
        assert (cuda[1].cpu() != cpu[1]).float().mean() < 1e-3


# --------------------------------------------------------------------------- transforms
def test_perturb_transform_and_numpy_entry(camvid):
    x, y = camvid
    t = P.Perturb("shear_y-", 0.4, border="pad")
    out, out_y = t(x[0], y[0])
    ref, ref_y = P.apply(x[:1], y[:1], "shear_y-", 0.4, border="pad")
    assert torch.equal(out, ref[0]) and torch.equal(out_y, ref_y[0])
    img = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    lab = y[0].numpy().astype(np.uint8)
    for name in P.NAMES:
        a, b = P.apply_numpy(img, lab, name, 0.0, seed=1)
        assert np.array_equal(a, img) and np.array_equal(b, lab) and b.dtype == np.uint8
    a1, _ = P.apply_numpy(img, lab, "gaussian_noise", 0.5, seed=5)
    a2, _ = P.apply_numpy(img, lab, "gaussian_noise", 0.5, seed=5)
    a3, _ = P.apply_numpy(img, lab, "gaussian_noise", 0.5, seed=6)
    assert np.array_equal(a1, a2) and not np.array_equal(a1, a3)
    a, b = P.apply_numpy(img, lab, "rotate+", 0.5, border="pad")
    assert a.dtype == np.uint8 and set(np.unique(b)) <= set(np.unique(lab)) | {255}


def test_random_perturb_sampling_is_seeded():
    t = P.RandomPerturb(P.GEOMETRIC, (0.2, 0.4), p_clean=0.25)
    p1 = [t.sample_params(gen(3)) for _ in range(2)]
    assert p1[0] == p1[1]
    g = gen(3)
    draws = [t.sample_params(g) for _ in range(400)]
    clean = sum(d["name"] is None for d in draws)
    assert 60 < clean < 140  # p_clean = 0.25 of 400
    mags = [d["magnitude"] for d in draws if d["name"] is not None]
    assert min(mags) >= 0.2 and max(mags) <= 0.4
    assert {d["name"] for d in draws if d["name"]} == set(P.GEOMETRIC)
    x = torch.rand(3, 20, 30, generator=gen())
    u8 = (x * 255).to(torch.uint8)
    out, _ = t.apply_params(u8, None, {"name": "R+", "magnitude": 1.0, "seed": 0})
    assert out.dtype == torch.uint8 and torch.all(out[0] == 255)


# --------------------------------------------------------------------------- bad input
def test_bad_inputs():
    x = torch.rand(2, 3, 16, 20)
    y = torch.zeros(2, 16, 20, dtype=torch.long)
    with pytest.raises(ValueError, match="unknown perturbation 'R\\*'.*valid names are: R\\+, R-"):
        P.apply(x, y, "R*", 0.5)
    with pytest.raises(TypeError, match="name must be a str"):
        P.apply(x, y, 3, 0.5)
    with pytest.raises(ValueError, match="must not be NaN"):
        P.apply(x, y, "R+", float("nan"))
    with pytest.raises(ValueError, match=r"must be in \[0, 1\], got 1.5"):
        P.apply(x, y, "R+", 1.5)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\], got -0.1"):
        P.apply(x, y, "R+", torch.tensor([0.2, -0.1]))
    with pytest.raises(ValueError, match="magnitude has 3 values but the batch has 2"):
        P.apply(x, y, "R+", [0.1, 0.2, 0.3])
    with pytest.raises(TypeError, match="magnitude must be a float"):
        P.apply(x, y, "R+", "0.5")
    with pytest.raises(TypeError, match="got bool"):
        P.apply(x, y, "R+", True)
    with pytest.raises(TypeError, match="floating tensor"):
        P.apply((x * 255).to(torch.uint8), y, "R+", 0.5)
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        P.apply(x.numpy(), y, "R+", 0.5)
    with pytest.raises(ValueError, match="N×3×H×W"):
        P.apply(x[0], y, "R+", 0.5)
    with pytest.raises(ValueError, match="N×3×H×W"):
        P.apply(torch.rand(2, 1, 16, 20), y, "R+", 0.5)
    with pytest.raises(TypeError, match="labels must have dtype torch.int64"):
        P.apply(x, y.int(), "R+", 0.5)
    with pytest.raises(ValueError, match="labels must have shape N×H×W"):
        P.apply(x, y[:, :8], "rotate+", 0.5)
    with pytest.raises(ValueError, match="labels must have shape N×H×W"):
        P.apply(x, y[:1], "rotate+", 0.5)
    with pytest.raises(ValueError, match="border must be one of"):
        P.apply(x, y, "rotate+", 0.5, border="reflect")
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        P.apply(x, y, "gaussian_noise", 0.5, generator=0)
    with pytest.raises(ValueError, match="positive odd integer"):
        P.blur_sigma(4)
    with pytest.raises(ValueError, match="<= 49"):
        P.blur_magnitude(51)
    with pytest.raises(ValueError, match=r"sigma must be in \[0, 50"):
        P.noise_magnitude(60)
    with pytest.raises(ValueError, match="not a geometric perturbation"):
        P.affine_parameters("R+", 0.5, 10, 10)


def test_bad_transform_inputs():
    img = np.zeros((8, 10, 3), np.uint8)
    with pytest.raises(TypeError, match="dtype uint8"):
        P.apply_numpy(img.astype(np.float32), None, "R+", 0.5)
    with pytest.raises(ValueError, match="H×W×3"):
        P.apply_numpy(img[..., :2], None, "R+", 0.5)
    with pytest.raises(ValueError, match="does not match image"):
        P.apply_numpy(img, np.zeros((8, 9), np.uint8), "R+", 0.5)
    with pytest.raises(TypeError, match="integer dtype"):
        P.apply_numpy(img, np.zeros((8, 10), np.float32), "R+", 0.5)
    with pytest.raises(ValueError, match="unknown perturbation"):
        P.Perturb("blur", 0.5)
    with pytest.raises(ValueError, match="one magnitude"):
        P.Perturb("R+", [0.1, 0.2])
    with pytest.raises(ValueError, match="lo <= hi"):
        P.RandomPerturb(magnitude_range=(0.8, 0.2))
    with pytest.raises(ValueError, match="p_clean must be a probability"):
        P.RandomPerturb(p_clean=1.5)
    with pytest.raises(TypeError, match="not a single str"):
        P.RandomPerturb("R+")
    with pytest.raises(ValueError, match="params must be a dict"):
        P.Perturb("R+", 0.5).apply_params(torch.zeros(3, 4, 4), None, {"name": "R+"})
