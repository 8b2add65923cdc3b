"""Tests of repro.analysis.sensitivity: S(α), ASA (Algorithm 1) and uniform SA on synthetic curves with a
known inverse, robustness to noise, and analyse() on a tiny model and synthetic images."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.optimize import brentq

from repro.analysis.sensitivity import adaptive_levels, cumulative_sensitivity, monotone_points, snap_blur, solve_targets, targets, uniform_levels

CLEAN_MIOU, DROP, KID_MAX = 60.0, 40.0, 0.05


def _sigmoid(a, k=12.0):
    lo, hi = 1 / (1 + math.exp(k / 2)), 1 / (1 + math.exp(-k / 2))
    return (1 / (1 + np.exp(-k * (a - 0.5))) - lo) / (hi - lo)


# h(α): fraction of the mIoU drop at α (h(0) = 0, h(1) = 1); KID grows linearly, so
# S(α) = h(α) + 2α - α = h(α) + α, monotone, with S(0) = 0 and S(1) = 2.
CURVES = {
    "linear": lambda a: a,
    "convex": lambda a: a ** 2,
    "concave": lambda a: np.sqrt(a),
    "s_shaped": _sigmoid,
}


def synthetic(h, noise=0.0, seed=0):
    """evaluate(α) -> (mIoU, KID) whose S is h(α) + α (plus noise on mIoU and KID)."""
    rng = np.random.default_rng(seed)

    def evaluate(alpha):
        m = CLEAN_MIOU - DROP * float(h(alpha)) + noise * DROP * rng.standard_normal()
        k = KID_MAX * alpha + noise * KID_MAX * rng.standard_normal()
        return m, k
    return evaluate


def true_levels(h, num_levels):
    return np.array([brentq(lambda a: float(h(a)) + a - y, 0.0, 1.0, xtol=1e-12) for y in targets(num_levels)])



def test_cumulative_sensitivity_endpoints_and_vectorised():
    a = np.linspace(0, 1, 11)
    m = CLEAN_MIOU - DROP * a ** 2
    k = KID_MAX * a
    s = cumulative_sensitivity(a, m, k, clean_miou=CLEAN_MIOU, miou_max=m[-1], kid_max=k[-1])
    assert s.shape == (11,)
    assert s[0] == pytest.approx(0.0, abs=1e-9) and s[-1] == pytest.approx(2.0, abs=1e-4)
    np.testing.assert_allclose(s, a ** 2 + a, atol=1e-4)
    one = cumulative_sensitivity(0.5, m[5], k[5], clean_miou=CLEAN_MIOU, miou_max=m[-1], kid_max=k[-1])
    assert isinstance(one, float) and one == pytest.approx(s[5])
    # no accuracy change and no KID change: ε keeps it finite, S = 2α/α_max
    flat = cumulative_sensitivity(a, 50.0, 0.0, clean_miou=50.0, miou_max=50.0, kid_max=0.0, alpha_max=2.0)
    np.testing.assert_allclose(flat, a)


def test_targets():
    np.testing.assert_allclose(targets(5), [0.4, 0.8, 1.2, 1.6])
    np.testing.assert_allclose(targets(3), [2 / 3, 4 / 3])


@pytest.mark.parametrize("name", list(CURVES))
@pytest.mark.parametrize("noise", [0.0, 0.002])
def test_adaptive_levels_hit_true_inverse(name, noise, record_property):
    h = CURVES[name]
    tol = 0.05
    res = adaptive_levels(synthetic(h, noise, seed=1), num_levels=5, tol=tol, clean=(CLEAN_MIOU, 0.0))
    truth = true_levels(h, 5)
    assert len(res.levels) == 5 and res.levels[-1] == 1.0
    assert np.all(np.abs(res.levels[:-1] - truth) <= tol), (res.levels, truth)
    assert np.all(np.diff(res.levels) >= 0)
    record_property("asa_evaluations", res.n_evaluations)  # in the junit report
    if noise == 0.0:
        assert res.n_evaluations < 10  # fewer than the uniform grid's 10
        assert res.n_evaluations <= 6
    # every counted point is in the record, in evaluation order, starting with α_max
    pts = res.points
    assert pts["counted"].sum() == res.n_evaluations
    assert pts.iloc[0]["alpha"] == 0.0 and not pts.iloc[0]["counted"]
    assert pts.iloc[1]["alpha"] == 1.0 and pts.iloc[1]["S"] == 2.0
    assert list(pts["order"]) == list(range(len(pts)))
    assert res.uncertainty.shape == (4,) and res.stop_reason == "tolerance"
    assert np.all(res.uncertainty < tol)  # every level within the tolerance of an evaluated magnitude


@pytest.mark.parametrize("name", list(CURVES))
def test_uniform_levels_within_grid_spacing(name):
    h = CURVES[name]
    res = uniform_levels(synthetic(h), num_levels=5, grid=10, clean=(CLEAN_MIOU, 0.0))
    truth = true_levels(h, 5)
    assert res.n_evaluations == 10
    assert np.all(np.abs(res.levels[:-1] - truth) <= 0.1 + 1e-9), (res.levels, truth)
    # the levels are grid points
    np.testing.assert_allclose(res.levels * 10, np.round(res.levels * 10), atol=1e-12)


def test_adaptive_beats_uniform_on_evaluations():
    for name, h in CURVES.items():
        a = adaptive_levels(synthetic(h), clean=(CLEAN_MIOU, 0.0))
        u = uniform_levels(synthetic(h), clean=(CLEAN_MIOU, 0.0))
        assert a.n_evaluations <= 0.6 * u.n_evaluations, name
        truth = true_levels(h, 5)
        assert np.abs(a.levels[:-1] - truth).max() <= np.abs(u.levels[:-1] - truth).max() + 1e-4, name  # ε of S


def test_linear_curve_evaluates_each_level():
    """Stopping is on the tolerance alone: every interior level gets an evaluated magnitude
    within tol of it (here the levels themselves), so L-1 interior points plus α_max."""
    res = adaptive_levels(synthetic(CURVES["linear"]), clean=(CLEAN_MIOU, 0.0))
    assert res.n_evaluations == 5 and res.stop_reason == "tolerance"
    np.testing.assert_allclose(res.levels, [0.2, 0.4, 0.6, 0.8, 1.0], atol=1e-4)  # ε of S


@pytest.mark.parametrize("num_levels", [3, 5, 7])
def test_num_levels(num_levels):
    res = adaptive_levels(synthetic(CURVES["s_shaped"]), num_levels=num_levels, clean=(CLEAN_MIOU, 0.0))
    assert len(res.levels) == num_levels
    assert np.all(np.abs(res.levels[:-1] - true_levels(CURVES["s_shaped"], num_levels)) <= 0.05)


def test_no_early_stop_on_a_curve_that_looks_straight():
    """S = 2α + 0.2·sin(2.5πα)(1-α) equals 2α at α = 0.4 and 0.8: points there move no solution
    (a "solutions stopped moving" rule returned [0.2, 0.4, 0.6, 0.8] after 2 evaluations against
    the true [0.127, 0.4, 0.635, 0.8])."""
    def s_true(a):
        return 2 * a + 0.2 * np.sin(2.5 * np.pi * a) * (1 - a)

    def evaluate(a):  # KID linear in α, so S = Δ/Δmax + 2α - α  ->  Δ/Δmax = S - α
        return CLEAN_MIOU - DROP * (s_true(a) - a), KID_MAX * a
    res = adaptive_levels(evaluate, num_levels=5, tol=0.05, clean=(CLEAN_MIOU, 0.0))
    truth = np.array([brentq(lambda a: s_true(a) - y, 0.0, 1.0) for y in targets(5)])
    np.testing.assert_allclose(truth, [0.127, 0.4, 0.635, 0.8], atol=2e-3)
    interior = res.points[(res.points.alpha > 0) & (res.points.alpha < 1)]
    assert len(interior) >= 2 and res.stop_reason == "tolerance"
    assert np.abs(res.levels[:-1] - truth).max() <= 0.05, res.levels


@pytest.mark.parametrize("finder", ["adaptive", "uniform"])
@pytest.mark.parametrize("case", ["miou_flat", "kid_negative", "kid_in_noise", "fine"])
def test_guard_falls_back_to_uniform_levels(finder, case):
    calls = []

    def evaluate(a):
        calls.append(a)
        if case == "miou_flat":    # the perturbation does not hurt the model: ΔmIoU(1) = 0.1 < 2 × 0.3
            return CLEAN_MIOU - 0.1 * a, KID_MAX * a, 0.3, 0.001
        if case == "kid_negative":  # the extractor does not see it
            return CLEAN_MIOU - DROP * a, -1e-4 * a, 0.3, 1e-5
        if case == "kid_in_noise":  # KID(1) = 3e-4 but its noise is 2e-4
            return CLEAN_MIOU - DROP * a, 3e-4 * a, 0.3, 2e-4
        return CLEAN_MIOU - DROP * a ** 2, KID_MAX * a, 0.3, 0.001
    fn = adaptive_levels if finder == "adaptive" else uniform_levels
    res = fn(evaluate, num_levels=5, clean=(CLEAN_MIOU, 0.0))
    if case == "fine":
        assert res.flag == "" and res.stop_reason != "degenerate"
        return
    assert res.stop_reason == "degenerate" and res.n_evaluations == 1 and calls == [1.0]
    np.testing.assert_allclose(res.levels, [0.2, 0.4, 0.6, 0.8, 1.0])
    assert ("mIoU drop" in res.flag) == (case == "miou_flat")
    assert ("KID at alpha_max" in res.flag) == (case != "miou_flat")
    assert res.to_dict()["flag"] == res.flag
    # without the guard the old behaviour: S is computed from the degenerate end point
    assert fn(evaluate, num_levels=5, clean=(CLEAN_MIOU, 0.0), guard=None).stop_reason != "degenerate"


def test_guard_without_noise_estimates_needs_positive_end_points():
    from repro.analysis.sensitivity import degenerate_reason
    assert degenerate_reason(5.0, 0.01) == ""
    assert "KID" in degenerate_reason(5.0, 0.0) and "mIoU" in degenerate_reason(-0.1, 0.01)
    assert degenerate_reason(5.0, 0.01, miou_se=float("nan"), kid_se=float("nan")) == ""
    with pytest.raises(ValueError, match="guard z must be a number >= 0"):
        degenerate_reason(1.0, 1.0, z=-1)
    with pytest.raises(TypeError, match="miou_se, kid_se"):
        adaptive_levels(lambda a: (1.0, 2.0, 3.0), clean=(60.0, 0.0))


def test_clean_evaluated_when_not_given():
    calls = []
    ev = synthetic(CURVES["convex"])
    res = adaptive_levels(lambda a: calls.append(a) or ev(a))
    assert calls[0] == 0.0 and calls[1] == 1.0
    assert res.n_evaluations == len(calls) and res.points.iloc[0]["counted"]


@pytest.mark.parametrize("seed", range(6))
def test_non_monotone_noise_never_crashes(seed):
    rng = np.random.default_rng(100 + seed)

    def evaluate(alpha):  # wildly non-monotone: big noise, mIoU may rise with α
        return 50 + 20 * rng.standard_normal(), abs(0.02 * rng.standard_normal())
    for L in (3, 5, 7):
        res = adaptive_levels(evaluate, num_levels=L, clean=(50.0, 0.0), budget=12)
        assert len(res.levels) == L
        assert np.all(np.diff(res.levels) >= 0)
        assert res.levels.min() >= 0 and res.levels.max() <= 1
        assert res.n_evaluations <= 12
        u = uniform_levels(evaluate, num_levels=L, clean=(50.0, 0.0))
        assert len(u.levels) == L and u.levels.min() > 0 and u.levels.max() <= 1


def test_budget_stops():
    res = adaptive_levels(synthetic(CURVES["s_shaped"]), tol=0.001, budget=3, clean=(CLEAN_MIOU, 0.0))
    assert res.n_evaluations == 3 and res.stop_reason == "budget"


def test_round_fn_snaps_blur_levels():
    res = adaptive_levels(synthetic(CURVES["concave"]), round_fn=snap_blur, clean=(CLEAN_MIOU, 0.0))
    from repro.perturb import blur_kernel_size
    for a in res.levels:
        k = blur_kernel_size(float(a))
        assert k % 2 == 1
        assert blur_kernel_size(snap_blur(a)) == k  # already on an odd kernel
    evaluated = res.points["alpha"].to_numpy()
    assert all(a == pytest.approx(snap_blur(a)) for a in evaluated if a < 1)


def test_snap_blur():
    from repro.perturb import blur_kernel_size
    for k in range(1, 50, 2):
        a = (k - 1) / 49
        assert blur_kernel_size(snap_blur(a)) == k
        assert blur_kernel_size(snap_blur(a + 0.4 / 49)) == k  # rounds to the nearest odd kernel
    assert snap_blur(0.0) == 0.0 and snap_blur(1.0) <= 1.0


def test_monotone_points_and_solve():
    a, s = monotone_points([0.5, 0.0, 1.0, 0.5, 0.7], [1.5, 0.0, 2.0, 0.5, 0.9])
    np.testing.assert_allclose(a, [0.0, 0.5, 0.7, 1.0])
    np.testing.assert_allclose(s, [0.0, 1.0, 1.0, 2.0])  # merged mean 1.0, then running max
    sol = solve_targets([0.0, 0.5, 0.7, 1.0], [0.0, 1.0, 0.9, 2.0], [0.5, 1.0, 1.5])
    assert sol[1] == pytest.approx(0.5)  # first crossing at the node
    assert 0 < sol[0] < 0.5 and 0.7 < sol[2] < 1.0


def test_result_level_values_and_dict():
    res = adaptive_levels(synthetic(CURVES["convex"]), clean=(CLEAN_MIOU, 0.0))
    m = res.level_values("miou")
    assert m.shape == (5,) and m[-1] == pytest.approx(CLEAN_MIOU - DROP)
    assert np.all(np.diff(m) <= 1e-9)
    d = res.to_dict()
    import json
    json.dumps(d)
    assert d["n_evaluations"] == res.n_evaluations


def test_bad_arguments():
    ev = synthetic(CURVES["linear"])
    with pytest.raises(ValueError, match="num_levels must be an integer >= 2"):
        adaptive_levels(ev, num_levels=1)
    with pytest.raises(ValueError, match="tol must be"):
        adaptive_levels(ev, tol=0.0)
    with pytest.raises(ValueError, match="budget must be an integer >= 2"):
        adaptive_levels(ev, budget=1)
    with pytest.raises(ValueError, match="alpha_max must be a positive number"):
        adaptive_levels(ev, alpha_max=0)
    with pytest.raises(TypeError, match="evaluate must be a callable"):
        adaptive_levels(0.5)
    with pytest.raises(TypeError, match="pair \\(miou, kid\\)"):
        adaptive_levels(lambda a: 3.0, clean=(60.0, 0.0))
    with pytest.raises(ValueError, match="non-finite"):
        adaptive_levels(lambda a: (float("nan"), 0.0), clean=(60.0, 0.0))
    with pytest.raises(TypeError, match="round_fn must be callable"):
        adaptive_levels(ev, round_fn=3)
    with pytest.raises(ValueError, match="grid must be an integer >= num_levels"):
        uniform_levels(ev, num_levels=5, grid=4)
    with pytest.raises(ValueError, match="equal length"):
        monotone_points([0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="alpha_max must be > 0"):
        cumulative_sensitivity(0.5, 1, 1, clean_miou=2, miou_max=0, kid_max=1, alpha_max=0)


# ----------------------------------------------------------------------------- inference + analyse
class RedThreshold(torch.nn.Module):
    """Class 1 where the red channel exceeds 0.5: a model whose accuracy the R± perturbations hurt."""

    def __init__(self, downsample=1, as_dict=False):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 1)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0] = -10.0
            self.conv.weight[1, 0] = 10.0
            self.conv.bias.copy_(torch.tensor([5.0, -5.0]))
        self.downsample = downsample
        self.as_dict = as_dict

    def forward(self, x):
        out = self.conv(x[..., ::self.downsample, ::self.downsample])
        return {"out": out} if self.as_dict else out


def toy_data(n=8, h=24, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, h, w, generator=g)
    images = torch.nn.functional.avg_pool2d(images, 5, 1, 2)  # smooth, so geometric ops matter less
    images[:, 0] = torch.rand(n, 1, 1, generator=g) * 0.6 + (torch.arange(w) / w)[None, None, :] * 0.4
    labels = (images[:, 0] > 0.5).long()
    labels[:, :2, :2] = 255
    return images, labels


def tiny_extractor():
    torch_gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(3, 16, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=torch_gen))
        conv.bias.zero_()
    return torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())


def test_predict_plain_module_resize_and_modes():
    from repro.scoring.inference import evaluate_images, predict
    images, labels = toy_data()
    model = RedThreshold().train()
    pred = predict(model, images, batch_size=3)
    assert pred.dtype == torch.int64 and pred.shape == labels.shape
    assert model.training  # mode restored
    s = evaluate_images(model, images, labels, 2, batch_size=3)
    assert s["mIoU"] == pytest.approx(100.0)
    # logits at half resolution, dict output: resized bilinearly to the input size
    pred2 = predict(RedThreshold(downsample=2, as_dict=True), images)
    assert pred2.shape == labels.shape and (pred2 == labels)[labels != 255].float().mean() > 0.9
    # a plain function works too
    pred3 = predict(lambda x: model(x), images)
    assert torch.equal(pred3, pred)


def test_predict_bad_inputs():
    from repro.scoring.inference import evaluate_images, predict
    images, labels = toy_data()
    with pytest.raises(ValueError, match="N×3×H×W"):
        predict(RedThreshold(), images[:, :2])
    with pytest.raises(TypeError, match="floating tensor"):
        predict(RedThreshold(), (images * 255).byte())
    with pytest.raises(ValueError, match="batch_size must be"):
        predict(RedThreshold(), images, batch_size=0)
    with pytest.raises(TypeError, match="logits N×C×h×w"):
        predict(lambda x: x.sum(), images)
    with pytest.raises(ValueError, match="labels must have shape"):
        evaluate_images(RedThreshold(), images, labels[:, :5], 2)


@pytest.fixture(scope="module")
def mmseg_model():
    try:
        from repro.train import _mmcv_compat
        _mmcv_compat.install()
        from mmengine.config import ConfigDict
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
    except Exception as exc:  # pragma: no cover - depends on the installed stack
        pytest.skip(f"mmseg models not importable: {exc}")
    register_all_modules()
    cfg = ConfigDict(type="EncoderDecoder",
                     data_preprocessor=dict(type="SegDataPreProcessor", mean=[123.675, 116.28, 103.53],
                                            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0, seg_pad_val=255),
                     backbone=dict(type="MobileNetV2", widen_factor=0.25, out_indices=(1, 2)),
                     decode_head=dict(type="FCNHead", in_channels=8, channels=8, num_convs=1, num_classes=5,
                                      in_index=-1, concat_input=False,
                                      loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0)),
                     train_cfg=dict(), test_cfg=dict(mode="whole"))
    torch_state = torch.random.get_rng_state()
    try:
        model = MODELS.build(cfg)
    finally:
        torch.random.set_rng_state(torch_state)  # building initialises weights from the global RNG
    with torch.no_grad():  # make the head's logits vary across pixels and classes
        g = torch.Generator().manual_seed(0)
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return model.eval()


def test_predict_mmseg_segmentor(mmseg_model):
    from repro.scoring.inference import predict
    images, _ = toy_data(n=3, h=40, w=56)
    pred = predict(mmseg_model, images, batch_size=2)
    assert pred.shape == (3, 40, 56) and pred.dtype == torch.int64
    # reference: RGB 0..255, normalised, logits resized to the input, arg-max
    pre = mmseg_model.data_preprocessor
    x = (images * 255 - pre.mean) / pre.std
    with torch.no_grad():
        logits = mmseg_model.encode_decode(x, [dict(img_shape=(40, 56), ori_shape=(40, 56), pad_shape=(40, 56))] * 3)
    ref = logits.argmax(1)
    assert len(ref.unique()) > 1
    assert (pred == ref).float().mean() > 0.999
    # the channel convention is handled: without BGR→RGB conversion the result is the same
    pre.channel_conversion = False
    try:
        assert torch.equal(predict(mmseg_model, images, batch_size=2), pred)
    finally:
        pre.channel_conversion = True


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    import repro.base.paths
    monkeypatch.setattr(repro.base.paths, "CACHE_DIR", tmp_path)
    return tmp_path


@pytest.mark.parametrize("method", ["adaptive", "uniform"])
def test_analyse_tiny_model(method, tmp_cache):
    from repro.analysis.sensitivity import analyse, points_frame
    images, labels = toy_data()
    types = ["R+", "R-", "gaussian_blur", "rotate+"]
    model = RedThreshold()
    df = analyse(model, (images, labels), types, extractor=tiny_extractor(), method=method, num_classes=2,
                 kid_subsets=10, progress=False)
    assert list(df["type"].unique()) == types
    assert len(df) == 4 * 5
    assert set(["alpha", "miou", "kid", "S", "n_evals"]) <= set(df.columns)
    for t, g in df.groupby("type"):
        a = g.sort_values("level")["alpha"].to_numpy()
        assert np.all(np.diff(a) >= 0) and a[-1] == 1.0 and a.min() >= 0
        if method == "uniform":  # the grid, or only α_max for a degenerate curve (guard)
            assert g["n_evals"].iloc[0] == (1 if g["flag"].iloc[0] else 10)
        assert (g["flag"].iloc[0] == "degenerate") == (t in df.attrs["flags"])
    assert "R+" not in df.attrs["flags"]
    blur = df[df["type"] == "gaussian_blur"]["alpha"]
    from repro.perturb import blur_kernel_size
    assert all(blur_kernel_size(snap_blur(a)) == blur_kernel_size(a) for a in blur)
    # R+ makes the red threshold model fail: mIoU at α_max far below clean
    rp = df[(df["type"] == "R+")]
    assert rp["miou"].iloc[-1] < df.attrs["clean_miou"] - 20
    pts = points_frame(df)
    assert set(pts["type"]) == set(types)
    assert df.attrs["n_evaluations"] == int(pts["counted"].sum())
    # cached: a second call loads the same table without evaluating
    df2 = analyse(model, (images, labels), types, extractor=tiny_extractor(), method=method, num_classes=2,
                  kid_subsets=10, progress=False)
    pd.testing.assert_frame_equal(df, df2)
    assert df2.attrs["points"] == df.attrs["points"] and df2.attrs["wall_s"] == df.attrs["wall_s"]
    assert len(list(tmp_cache.glob("sensitivity/*.pt"))) == len(types)  # one entry per type
    # an analysis of some of the types (an ablation) reads them; the same tensors as a dataset subset share too
    part = analyse(model, (images, labels), ["rotate+", "R+"], extractor=tiny_extractor(), method=method,
                   num_classes=2, kid_subsets=10, progress=False)
    pd.testing.assert_frame_equal(part.reset_index(drop=True),
                                  pd.concat([df[df.type == "rotate+"], df[df.type == "R+"]]).reset_index(drop=True))
    assert len(list(tmp_cache.glob("sensitivity/*.pt"))) == len(types)


def test_analyse_adaptive_cheaper_than_uniform_and_hook_usage(tmp_cache):
    from repro.analysis.features import extractor as make_extractor
    from repro.analysis.sensitivity import analyse
    images, labels = toy_data(n=6)
    model = RedThreshold()
    ext = make_extractor(tiny_extractor())
    ad = analyse(model, (images, labels), ["R+", "G-"], extractor=ext, num_classes=2, kid_subsets=5,
                 progress=False, cache=False)
    un = analyse(model, (images, labels), ["R+", "G-"], extractor=ext, method="uniform", num_classes=2,
                 kid_subsets=5, progress=False, cache=False)
    assert ad.attrs["n_evaluations"] < un.attrs["n_evaluations"]
    # training-hook style: a plain function and precomputed clean features give the same table
    feats = ext(images)
    hook = analyse(lambda x: model(x), (images, labels), ["R+", "G-"], extractor=ext, num_classes=2,
                   kid_subsets=5, progress=False, clean_features=feats, clean_miou=ad.attrs["clean_miou"])
    pd.testing.assert_frame_equal(hook, ad)
    assert not list(tmp_cache.glob("sensitivity/*.pt"))  # plain function without cache_key: not cached


def test_analyse_bad_arguments(tmp_cache):
    from repro.analysis.sensitivity import analyse
    images, labels = toy_data(n=4)
    ext = tiny_extractor()
    with pytest.raises(ValueError, match="method must be"):
        analyse(RedThreshold(), (images, labels), ["R+"], extractor=ext, num_classes=2, method="dense")
    with pytest.raises(ValueError, match="num_classes is required"):
        analyse(RedThreshold(), (images, labels), ["R+"], extractor=ext)
    with pytest.raises(ValueError, match="unknown perturbation names"):
        analyse(RedThreshold(), (images, labels), ["sepia"], extractor=ext, num_classes=2)
    with pytest.raises(TypeError, match="SegDataset-like"):
        analyse(RedThreshold(), images, ["R+"], extractor=ext, num_classes=2)
    with pytest.raises(ValueError, match="subset must be between 2"):
        analyse(RedThreshold(), (images, labels), ["R+"], extractor=ext, num_classes=2, subset=10)
    with pytest.raises(ValueError, match="clean_features must be n×d"):
        analyse(RedThreshold(), (images, labels), ["R+"], extractor=ext, num_classes=2,
                clean_features=torch.zeros(3, 16))
    with pytest.raises(TypeError, match="model must be callable"):
        analyse(3, (images, labels), ["R+"], extractor=ext, num_classes=2)


def test_small_models_are_seeded_and_leave_global_rng_alone():
    from repro.analysis.features import extractor
    from repro.paper.small_models import tiny_unet
    state = torch.random.get_rng_state()
    a, b = tiny_unet(11, width=4, downsample=2, seed=3), tiny_unet(11, width=4, downsample=2, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    x = torch.rand(2, 3, 30, 44, generator=torch.Generator().manual_seed(0))
    assert a.eval()(x).shape == (2, 11, 30, 44)
    e1, e2 = extractor("conv-random"), extractor("conv-random", seed=0)
    assert e1.tag == e2.tag and e1.tag.startswith("conv-random@")
    assert extractor("conv-random", seed=3).tag.startswith("conv-random-s3@")
    assert e1(x).shape == (2, 64)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_plot_helpers_tables_and_figures(tmp_cache):
    import matplotlib
    matplotlib.use("Agg")
    from repro.analysis import plots as ps
    from repro.analysis.sampling import Distribution
    from repro.analysis.sensitivity import analyse
    from repro.paper.outputs import published
    images, labels = toy_data(n=4)
    kw = dict(extractor=tiny_extractor(), num_classes=2, kid_subsets=3, progress=False)
    types = ["R+", "V-", "gaussian_blur", "gaussian_noise"]
    ad = analyse(RedThreshold(), (images, labels), types, **kw)
    un = analyse(RedThreshold(), (images, labels), types, method="uniform", **kw)
    wide = ps.levels_wide(ad, units="paper")
    blur = wide[wide["type"] == "gaussian_blur"][["level1", "level2", "level3", "level4"]].to_numpy().ravel()
    assert np.all(blur % 2 == 1) and np.all(blur <= 49)  # kernel sizes
    noise = wide[wide["type"] == "gaussian_noise"]["level1"].iloc[0]
    assert noise == pytest.approx(50 * ad[(ad["type"] == "gaussian_noise") & (ad["level"] == 1)]["alpha"].iloc[0])
    cmp = ps.appendix_d_comparison(un, ad, published("appendixD_levels"))
    paper_blur = cmp[(cmp["kind"] == "blur_kernel") & (cmp["source"] == "paper") & (cmp["method"] == "adaptive")]
    assert paper_blur[["level1", "level2", "level3", "level4"]].to_numpy().ravel().tolist() == [9, 17, 23, 31]
    ours_ch = cmp[(cmp["kind"] == "color_channel") & (cmp["source"] == "ours")]
    assert set(ours_ch["n_types"]) == {2}  # R+ and V- are the channel types here
    tidy = ps.levels_by_num_levels({5: ad})
    assert len(tidy) == len(ad)
    for fig in (ps.plot_s_curves(ad, ["R+", "gaussian_blur"], uniform=un), ps.plot_levels(un, ad),
                ps.plot_levels_by_num_levels(tidy), ps.plot_distribution_heatmap(Distribution.from_analysis(ad))):
        assert len(fig.axes) >= 1
        matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="units must be"):
        ps.levels_wide(ad, units="pixels")


# ----------------------------------------------------------------------------- AnalysisSettings
def test_analysis_settings_of_changes_and_errors():
    from repro.analysis.sensitivity import AnalysisSettings

    s = AnalysisSettings.of({"budget": 6, "batch_size": 16}, tol=0.1)
    assert (s.method, s.budget, s.batch_size, s.tol, s.num_levels) == ("adaptive", 6, 16, 0.1, 5)
    assert AnalysisSettings.of(s) == s and AnalysisSettings.of(s, budget=None).budget is None
    assert AnalysisSettings.of(None) == AnalysisSettings() and AnalysisSettings.of(s.to_dict()) == s
    with pytest.raises(Exception):  # frozen
        s.budget = 3
    with pytest.raises(TypeError, match="unknown analysis setting\\(s\\) eval_batch_size; the settings are method"):
        AnalysisSettings.of(eval_batch_size=8)
    with pytest.raises(TypeError, match="must be an AnalysisSettings, a mapping of its fields or None, got list"):
        AnalysisSettings.of([1])
    for bad, msg in [(dict(method="grid"), "analysis method must be one of adaptive, uniform, none"),
                     (dict(num_levels=1), "num_levels must be an int >= 2"),
                     (dict(tol=0), "tol must be a fraction of alpha_max in \\(0, 1\\)"),
                     (dict(budget=0), "budget must be an int >= 1 or None"),
                     (dict(alpha_max=1.5), "alpha_max must be a number in \\(0, 1\\]"),
                     (dict(batch_size=True), "batch_size must be an int >= 1"),
                     (dict(border="wrap"), "border must be one of"),
                     (dict(kid_subset_size=1), "kid_subset_size must be an int >= 2 or None"),
                     (dict(guard=-1.0), "guard must be a number >= 0 or None")]:
        with pytest.raises((ValueError, TypeError), match=msg):
            AnalysisSettings(**bad)


def test_analyse_takes_settings_or_their_names():
    from repro.analysis.sensitivity import AnalysisSettings, analyse

    images, labels = toy_data()
    kw = dict(extractor=tiny_extractor(), num_classes=2, cache=False, progress=False, warn=False)
    st = AnalysisSettings(num_levels=3, budget=3, batch_size=4, kid_subsets=5, seed=2)
    a = analyse(RedThreshold(), (images, labels), ["R+", "V-"], settings=st, **kw)
    b = analyse(RedThreshold(), (images, labels), ["R+", "V-"], num_levels=3, budget=3, batch_size=4, kid_subsets=5,
                seed=2, **kw)
    c = analyse(RedThreshold(), (images, labels), ["R+", "V-"], settings=st.to_dict(), **kw)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert a.attrs["config"]["budget"] == 3 and a.attrs["config"]["batch_size"] == 4
    with pytest.raises(ValueError, match="'none' means no analysis"):
        analyse(RedThreshold(), (images, labels), ["R+"], method="none", **kw)
    with pytest.raises(TypeError, match="unknown analysis setting\\(s\\) max_evals"):
        analyse(RedThreshold(), (images, labels), ["R+"], max_evals=3, **kw)
