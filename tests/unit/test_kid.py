"""Tests of repro.analysis.kid (KID/FID) and repro.analysis.features (extractors, feature cache)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from repro.analysis import features as F
from repro.analysis import kid as K


def _feats(n, d, seed, shift=0.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, d, generator=g, dtype=torch.float64) + shift).to(dtype)


# --------------------------------------------------------------------------------------------
# KID exactness
# --------------------------------------------------------------------------------------------
def _torchmetrics_kid(x, y, subsets, subset_size):
    from torchmetrics.image.kid import KernelInceptionDistance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric = KernelInceptionDistance(feature=nn.Identity(), subsets=subsets, subset_size=subset_size)
    metric.update(x, real=True)
    metric.update(y, real=False)
    with torch.random.fork_rng(devices=[]):
        mean, std = metric.compute()
    return float(mean), float(std)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.5])
def test_one_full_subset_equals_torchmetrics(shift):
    x, y = _feats(64, 48, 1), _feats(64, 48, 2, shift)
    ref, _ = _torchmetrics_kid(x, y, subsets=1, subset_size=64)
    mean, std = K.kid(x, y, subsets=1, subset_size=64)
    assert mean == pytest.approx(ref, rel=1e-6, abs=1e-12)
    assert std == 0.0


def test_float32_features_match_torchmetrics_float64():
    x, y = _feats(50, 20, 3, dtype=torch.float32), _feats(50, 20, 4, 0.2, dtype=torch.float32)
    ref, _ = _torchmetrics_kid(x.double(), y.double(), subsets=1, subset_size=50)
    assert K.kid(x, y, subsets=1, subset_size=50)[0] == pytest.approx(ref, rel=1e-9)


def test_mmd_formula_by_hand():
    x, y = _feats(5, 3, 5), _feats(5, 3, 6, 0.3)
    k = lambda a, b: (float(a @ b) / 3 + 1) ** 3  # noqa: E731
    m = 5
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    ref = (sxx + syy) / (m * (m - 1)) - 2 * sxy / m**2
    assert K.mmd2_unbiased(x, y) == pytest.approx(ref, rel=1e-12)
    assert K.kid(x, y, subsets=1, subset_size=5)[0] == pytest.approx(ref, rel=1e-12)


def test_paired_formula_by_hand_and_paths():
    """MMD²_p = Σ_{i≠j} [k(x_i,x_j) + k(y_i,y_j) - k(x_i,y_j) - k(y_i,x_j)] / (m(m-1)), subsets
    taking the same rows on both sides; gram and direct paths agree."""
    x = _feats(9, 4, 11)
    y = x + 0.05 * _feats(9, 4, 12)
    k = lambda a, b: (float(a @ b) / 4 + 1) ** 3  # noqa: E731
    idx, _ = K.kid_subset_indices(9, 9, 3, 6, seed=5)
    ref = []
    for s in range(3):
        r = idx[s].tolist()
        tot = sum(k(x[i], x[j]) + k(y[i], y[j]) - k(x[i], y[j]) - k(y[i], x[j]) for i in r for j in r if i != j)
        ref.append(tot / (6 * 5))
    for method in ("gram", "direct"):
        res = K.kid_result(x, y, subsets=3, subset_size=6, seed=5, method=method, paired=True)
        np.testing.assert_allclose(res.values, ref, rtol=1e-10)
        assert res.paired and res.as_dict()["paired"]


def test_paired_kid_is_zero_for_identical_sets_and_positive_for_small_changes():
    """The standard estimator compares each image with its own perturbed copy in the cross term
    and goes negative for a small change; the paired one does not (and is exactly 0 for Y = X)."""
    x = _feats(32, 64, 13)
    assert K.kid(x, x.clone(), subsets=5, subset_size=16, paired=True) == (0.0, 0.0)
    y = x * 1.02  # a small systematic change (e.g. a slightly brighter image)
    assert K.kid(x, y, subsets=20, subset_size=16)[0] < 0
    assert K.kid(x, y, subsets=20, subset_size=16, paired=True)[0] > 0
    with pytest.raises(ValueError, match="paired=True needs one perturbed row per clean row"):
        K.kid(x, y[:30], subsets=2, subset_size=10, paired=True)
    with pytest.raises(TypeError, match="paired must be a bool"):
        K.kid(x, y, subsets=2, subset_size=10, paired=1)


@pytest.mark.parametrize("method", ["gram", "direct"])
def test_several_subsets_equal_direct_computation(method):
    x, y = _feats(50, 16, 7), _feats(40, 16, 8, 0.1)
    idx_x, idx_y = K.kid_subset_indices(50, 40, 7, 20, seed=3)
    vals = np.array([K.mmd2_unbiased(x[idx_x[s]], y[idx_y[s]]) for s in range(7)])
    res = K.kid_result(x, y, subsets=7, subset_size=20, seed=3, method=method)
    np.testing.assert_allclose(res.values, vals, rtol=1e-10)
    assert res.mean == pytest.approx(vals.mean(), rel=1e-10)
    assert res.std == pytest.approx(vals.std(ddof=0), rel=1e-9)
    assert tuple(res) == K.kid(x, y, subsets=7, subset_size=20, seed=3, method=method)


def test_chunked_paths_equal_unchunked():
    x, y = _feats(60, 8, 9), _feats(60, 8, 10, 0.2)
    ref = K.kid_result(x, y, subsets=9, subset_size=30, seed=1, method="gram").values
    tiny = 4096  # forces one subset per chunk in the Gram path and 1-row blocks in the direct path
    for method in ("gram", "direct"):
        got = K.kid_result(x, y, subsets=9, subset_size=30, seed=1, method=method, memory_bytes=tiny).values
        np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_subset_indices_reproducible_and_without_repeats():
    a = K.kid_subset_indices(30, 25, 5, 10, seed=4)
    b = K.kid_subset_indices(30, 25, 5, 10, seed=4)
    c = K.kid_subset_indices(30, 25, 5, 10, seed=5)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert a[0].shape == (5, 10) and a[1].shape == (5, 10)
    for row in a[0]:
        assert len(set(row.tolist())) == 10 and int(row.max()) < 30
    assert int(a[1].max()) < 25
    assert not torch.equal(a[0][0], a[0][1])  # subsets differ


def test_kid_does_not_touch_global_rng():
    state = torch.get_rng_state()
    K.kid(_feats(20, 4, 1), _feats(20, 4, 2), subsets=3, subset_size=10)
    assert torch.equal(state, torch.get_rng_state())


def test_subset_size_clipped_with_warning():
    x, y = _feats(30, 6, 11), _feats(25, 6, 12, 0.3)
    with pytest.warns(UserWarning, match="subset_size=1000 is larger than the smaller sample"):
        res = K.kid_result(x, y, subsets=2, subset_size=1000)
    assert res.subset_size == 25
    idx_x, idx_y = K.kid_subset_indices(30, 25, 2, 25, seed=0)
    assert res.values[0] == pytest.approx(K.mmd2_unbiased(x[idx_x[0]], y[idx_y[0]]), rel=1e-10)


def test_kid_small_for_same_distribution_large_for_shift():
    x, y, z = _feats(400, 32, 13), _feats(400, 32, 14), _feats(400, 32, 15, 0.3)
    same, _ = K.kid(x, y, subsets=20, subset_size=200)
    diff, _ = K.kid(x, z, subsets=20, subset_size=200)
    assert abs(same) < 0.05 * diff
    assert diff > 0


def test_kid_result_records_extractor():
    x, y = _feats(10, 4, 1), _feats(10, 4, 2)
    res = K.kid_result(x, y, subsets=2, subset_size=5, extractor="resnet18-random@abc")
    assert res.extractor == "resnet18-random@abc"
    assert res.as_dict()["extractor"] == "resnet18-random@abc"
    mean, std = res
    assert (mean, std) == (res.mean, res.std)


@pytest.mark.parametrize("x, y, kwargs, exc, match", [
    (torch.zeros(5, 3), torch.zeros(5, 4), {}, ValueError, "feature dimensions differ"),
    (torch.zeros(1, 3), torch.zeros(5, 3), {}, ValueError, "at least 2 samples"),
    (torch.zeros(5, 3), torch.zeros(1, 3), {}, ValueError, "at least 2 samples"),
    (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), torch.zeros(2, 2), {}, ValueError, "NaN or inf"),
    (torch.zeros(2, 2), torch.tensor([[0.0, float("inf")], [1.0, 2.0]]), {}, ValueError, "NaN or inf"),
    (torch.zeros(5, 3), torch.zeros(5, 3), {"subsets": 0}, ValueError, "subsets must be an int >= 1"),
    (torch.zeros(5, 3), torch.zeros(5, 3), {"subsets": 2.0}, TypeError, "subsets must be an int"),
    (torch.zeros(5, 3), torch.zeros(5, 3), {"subset_size": 1}, ValueError, "subset_size must be an int >= 2"),
    (torch.zeros(5, 3), torch.zeros(5, 3), {"method": "fast"}, ValueError, "method must be"),
    (torch.zeros(5), torch.zeros(5, 3), {}, ValueError, "2-D tensor"),
    (np.zeros((5, 3)), torch.zeros(5, 3), {}, TypeError, "torch.Tensor"),
    (torch.zeros(5, 3, dtype=torch.int64), torch.zeros(5, 3), {}, TypeError, "floating-point"),
    (torch.zeros(5, 3), torch.zeros(5, 3), {"extractor": 3}, TypeError, "extractor must be"),
])
def test_kid_bad_input(x, y, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        K.kid(x, y, **kwargs)


def test_subset_indices_bad_input():
    with pytest.raises(ValueError, match="exceeds the smaller sample size"):
        K.kid_subset_indices(10, 5, 2, 6)
    with pytest.raises(ValueError, match="subsets must be an int >= 1"):
        K.kid_subset_indices(10, 5, 0, 3)


# --------------------------------------------------------------------------------------------
# FID
# --------------------------------------------------------------------------------------------
def _fid_scipy(x, y):
    x, y = x.numpy(), y.numpy()
    mu = x.mean(0) - y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(mu @ mu + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _fid_eig(x, y):
    x, y = x.numpy(), y.numpy()
    mu = x.mean(0) - y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = np.linalg.eigvalsh(r1 @ s2 @ r1)
    return float(mu @ mu + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


def test_fid_matches_scipy_sqrtm_full_rank():
    x, y = _feats(200, 12, 1), _feats(150, 12, 2, 0.2) * 1.5
    assert K.fid(x, y) == pytest.approx(_fid_scipy(x, y), rel=1e-8)


@pytest.mark.parametrize("n_x, n_y", [(10, 30), (30, 10), (25, 25)])
def test_fid_rank_deficient_matches_eigen_reference(n_x, n_y):
    x, y = _feats(n_x, 40, 3), _feats(n_y, 40, 4, 0.1)
    assert K.fid(x, y) == pytest.approx(_fid_eig(x, y), rel=1e-7)


def test_fid_identical_sets_is_zero_and_symmetric():
    x, y = _feats(100, 20, 5), _feats(80, 20, 6, 0.3)
    assert abs(K.fid(x, x)) < 1e-9
    assert K.fid(x, y) == pytest.approx(K.fid(y, x), rel=1e-9)


def test_fid_bad_input():
    with pytest.raises(ValueError, match="feature dimensions differ"):
        K.fid(torch.zeros(5, 3), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="NaN or inf"):
        K.fid(torch.full((3, 2), float("nan")), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="at least 2 samples"):
        K.fid(torch.zeros(1, 2), torch.zeros(3, 2))


# --------------------------------------------------------------------------------------------
# extractors
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inception_random():
    return F.extractor("inception-random")


def _images(n, seed, h=48, w=64):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_inception_random_is_deterministic_and_leaves_global_rng(inception_random):
    state = torch.get_rng_state()
    again = F.extractor("inception-random")
    assert torch.equal(state, torch.get_rng_state())
    assert again.tag == inception_random.tag
    assert inception_random.name == "inception-random" and inception_random.input_size == 299
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(),
                                                 inception_random.state_dict().values()))
    f1 = inception_random(_images(2, 1))
    assert f1.shape == (2, 2048) and f1.dtype == torch.float32
    assert torch.isfinite(f1).all() and f1.std() > 0


def test_inception_weights_from_file_argument_and_env(inception_random, tmp_path, monkeypatch):
    path = tmp_path / "my_inception.pth"
    torch.save(inception_random.model.state_dict(), path)
    ext = F.extractor("inception", weights=path)
    assert ext.name == "inception" and ext.weights_hash == inception_random.weights_hash
    imgs = _images(1, 2)
    assert torch.allclose(ext(imgs), inception_random(imgs))
    monkeypatch.setenv(F.INCEPTION_ENV, str(path))
    assert F.inception_weights_path() == path


def test_inception_weights_from_hub_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(F.INCEPTION_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    target = tmp_path / "checkpoints" / F.INCEPTION_WEIGHT_FILES[1]
    target.write_bytes(b"x")
    assert F.inception_weights_path() == target


def test_missing_inception_weights_error(tmp_path, monkeypatch):
    monkeypatch.delenv(F.INCEPTION_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="weights-inception-2015-12-05-6726825d.pth.*REPRO_INCEPTION_WEIGHTS"):
        F.extractor("inception")
    with pytest.raises(FileNotFoundError, match="argument weights="):
        F.extractor("inception", weights=tmp_path / "nope.pth")
    monkeypatch.setenv(F.INCEPTION_ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(FileNotFoundError, match="never downloads"):
        F.extractor("inception")


def test_wrong_weight_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="does not hold Inception-V3 FID weights"):
        F.extractor("inception", weights=path)


def test_missing_weights_message_names_the_real_hub_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(F.INCEPTION_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        F.inception_weights_path()
    msg = str(info.value)
    assert "<torch.hub.get_dir()>" not in msg and "<TORCH_HOME>" not in msg
    assert f"{tmp_path.resolve().as_posix()}/checkpoints" in msg


def test_corrupt_weight_file_is_one_clear_error_naming_the_file(tmp_path):
    path = tmp_path / F.INCEPTION_WEIGHT_FILES[0]
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="^" + re.escape(path.resolve().as_posix()) +
                       r": cannot read it as a torch state dict \(expected the Inception-V3 FID weights") as info:
        F.extractor("inception", weights=path)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert "\n" not in str(info.value)


def _no_inception_file(tmp_path, monkeypatch):
    monkeypatch.delenv(F.INCEPTION_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(F, "_AUTO_ANNOUNCED", set())


def test_auto_without_inception_file_falls_back_to_resnet18_and_says_so_once(tmp_path, monkeypatch):
    _no_inception_file(tmp_path, monkeypatch)
    with pytest.warns(UserWarning) as record:
        ext = F.extractor("auto")
    msgs = [str(w.message) for w in record if "extractor('auto')" in str(w.message)]
    assert len(msgs) == 1 and "\n" not in msgs[0]
    assert "using 'imagenet-lite0'" in msgs[0] and F.INCEPTION_WEIGHT_FILES[0] in msgs[0]
    assert "REPRO_INCEPTION_WEIGHTS" in msgs[0] and f"{tmp_path.resolve().as_posix()}/checkpoints" in msgs[0]
    assert ext.name == "imagenet-lite0" and ext.tag == F.extractor("imagenet-lite0").tag
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same choice is not announced twice in one process
        assert F.extractor("auto").tag == ext.tag


def test_auto_with_missing_env_file_names_it(tmp_path, monkeypatch):
    _no_inception_file(tmp_path, monkeypatch)
    monkeypatch.setenv(F.INCEPTION_ENV, str(tmp_path / "gone.pth"))
    with pytest.warns(UserWarning, match=r"REPRO_INCEPTION_WEIGHTS=.*gone\.pth \(no such file\)"):
        assert F.extractor("auto").name == "imagenet-lite0"


def test_auto_with_named_missing_file_is_an_error(tmp_path, monkeypatch):
    _no_inception_file(tmp_path, monkeypatch)
    with pytest.raises(FileNotFoundError, match="argument weights="):
        F.extractor("auto", weights=tmp_path / "nope.pth")


@pytest.mark.filterwarnings("ignore:.*not the standard FID weights")
def test_auto_uses_inception_file_when_present_and_says_so_once(inception_random, tmp_path, monkeypatch):
    _no_inception_file(tmp_path, monkeypatch)
    (tmp_path / "checkpoints").mkdir()
    path = tmp_path / "checkpoints" / F.INCEPTION_WEIGHT_FILES[1]
    torch.save(inception_random.model.state_dict(), path)
    with pytest.warns(UserWarning, match="using 'inception' with the FID weights " + re.escape(path.resolve().as_posix())):
        ext = F.extractor("auto")
    assert ext.name == "inception" and ext.weights_hash == inception_random.weights_hash
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*not the standard FID weights")
        assert F.extractor("auto").name == "inception"


def test_library_defaults_are_auto():
    import inspect

    from repro.analysis import sensitivity

    assert inspect.signature(sensitivity.analyse).parameters["extractor"].default == "auto"


def test_resnet18_random_deterministic_and_bounded():
    state = torch.get_rng_state()
    ext = F.extractor("resnet18-random")
    assert torch.equal(state, torch.get_rng_state())
    assert F.extractor("resnet18-random").tag == ext.tag
    assert F.extractor("resnet18-random", seed=1).tag != ext.tag
    f = ext(_images(2, 3))
    assert f.shape == (2, 512) and torch.isfinite(f).all()
    assert 0.01 < float(f.abs().mean()) < 100  # activations stay O(1)


@pytest.mark.slow
def test_random_extractors_deterministic_across_processes():
    ext = F.extractor("resnet18-random")
    out = subprocess.run([sys.executable, "-c",
                          "from repro.analysis import features as F; print(F.extractor('resnet18-random').tag)"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.stdout.strip().splitlines()[-1] == ext.tag


class _FakeSegmentor(nn.Module):
    """Duck-typed MMSegmentation segmentor: a data_preprocessor with mean/std and a backbone."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.backbone = nn.Conv2d(3, 4, 3, stride=2)
        with torch.no_grad():
            self.backbone.weight.copy_(torch.randn(self.backbone.weight.shape, generator=g))
        self.data_preprocessor = nn.Module()
        self.data_preprocessor.register_buffer("mean", torch.tensor([120.0, 110.0, 100.0]).view(3, 1, 1))
        self.data_preprocessor.register_buffer("std", torch.tensor([60.0, 55.0, 50.0]).view(3, 1, 1))

    def extract_feat(self, x):
        return (self.backbone(x),)


def test_encoder_extractor_pools_a_grid_of_the_normalised_encoder():
    seg = _FakeSegmentor()
    ext = F.encoder_extractor(seg, name="fake-init", grid=(2, 3))
    imgs = _images(3, 5)
    want = nn.functional.adaptive_avg_pool2d(
        seg.backbone((imgs * 255 - seg.data_preprocessor.mean) / seg.data_preprocessor.std), (2, 3)).flatten(1)
    torch.testing.assert_close(ext(imgs), want)
    assert ext.tag.startswith("encoder:fake-init@") and ext(imgs).shape == (3, 4 * 6)
    with torch.no_grad():  # a frozen copy: training the model afterwards changes nothing
        seg.backbone.weight.add_(1.0)
    torch.testing.assert_close(ext(imgs), want)
    # the grid sees where things are: a horizontal flip changes the features, a global pool would not
    flipped = ext(imgs.flip(-1))
    assert not torch.allclose(flipped, want)
    # a plain encoder module (RGB [0, 1] in, feature maps out) works as is
    plain = F.encoder_extractor(nn.Conv2d(3, 2, 1), name="plain", grid=(1, 1))
    assert plain(imgs).shape == (3, 2)
    with pytest.raises(ValueError, match="grid must be a pair"):
        F.encoder_extractor(seg, name="x", grid=(0, 2))
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        F.encoder_extractor(seg, name="")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        F.encoder_extractor(lambda x: x, name="x")


def test_wrap_module_and_bad_names():
    mod = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten())
    ext = F.extractor(mod)
    assert ext.name == "module:Sequential" and ext.tag.startswith("module:Sequential@")
    imgs = _images(3, 4)
    assert torch.allclose(ext(imgs), nn.functional.adaptive_avg_pool2d(imgs, 2).flatten(1))
    assert F.extractor(ext) is ext
    with pytest.raises(ValueError, match="unknown extractor 'vgg'"):
        F.extractor("vgg")
    with pytest.raises(TypeError, match="extractor must be one of"):
        F.extractor(3)
    with pytest.raises(ValueError, match="weights is only used by the 'inception' extractor"):
        F.extractor("resnet18-random", weights="x.pth")
    with pytest.raises(ValueError, match="N×3×H×W"):
        ext(torch.zeros(2, 1, 8, 8))
    with pytest.raises(TypeError, match="floating point"):
        ext(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


# --------------------------------------------------------------------------------------------
# feature cache
# --------------------------------------------------------------------------------------------
class _CountingPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += x.shape[0]
        return nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)


class _TinyDataset:
    name, split = "tiny", "train"

    def __init__(self, n=7):
        self.images = _images(n, 5, 8, 8)
        self.names = [f"im{i}" for i in range(n)]

    def __len__(self):
        return len(self.names)

    def batch(self, indices):
        return self.images[list(indices)], torch.zeros(len(indices), 8, 8, dtype=torch.int64)


def test_features_cached_per_dataset_indices_and_extractor():
    mod = _CountingPool()
    ext = F.extractor(mod)
    ds = _TinyDataset()
    f1 = F.features(ds, ext, indices=[0, 2, 4], batch_size=2, progress=False)
    assert mod.calls == 3
    assert torch.allclose(f1, nn.functional.adaptive_avg_pool2d(ds.images[[0, 2, 4]], 2).flatten(1))
    f2 = F.features(ds, ext, indices=[0, 2, 4], batch_size=3, progress=False)
    assert mod.calls == 3 and torch.equal(f1, f2)  # served from the cache
    F.features(ds, ext, indices=[0, 2, 5], progress=False)
    assert mod.calls == 6  # other indices: recomputed
    F.features(ds, ext, indices=[0, 2, 4], force=True, progress=False)
    assert mod.calls == 9


def test_features_of_transformed_or_tensor_images_not_cached_by_default():
    mod = _CountingPool()
    ext = F.extractor(mod)
    ds = _TinyDataset()
    flip = lambda im, idx: im.flip(-1)  # noqa: E731
    a = F.features(ds, ext, transform=flip, progress=False)
    F.features(ds, ext, transform=flip, progress=False)
    assert mod.calls == 14
    assert torch.allclose(a, nn.functional.adaptive_avg_pool2d(ds.images.flip(-1), 2).flatten(1))
    t = F.features(ds.images, ext, batch_size=3, progress=False)
    F.features(ds.images, ext, progress=False)
    assert mod.calls == 28 and t.shape == (7, 12)
    F.features(ds.images, ext, key="tiny-images", progress=False)
    F.features(ds.images, ext, key="tiny-images", progress=False)
    assert mod.calls == 35


def test_features_bad_input():
    ext = F.extractor(_CountingPool())
    with pytest.raises(TypeError, match="image tensor N×3×H×W or a dataset"):
        F.features([1, 2], ext)
    with pytest.raises(ValueError, match="indices must lie in"):
        F.features(_TinyDataset(), ext, indices=[0, 9])
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        F.features(_TinyDataset(), ext, batch_size=0)
    with pytest.raises(ValueError, match="needs a key describing the transform"):
        F.features(_TinyDataset(), ext, transform=lambda im, idx: im, cache_result=True)


def test_several_subsets_equal_torchmetrics_with_same_seed():
    from torchmetrics.image.kid import KernelInceptionDistance

    x, y = _feats(40, 10, 21), _feats(35, 10, 22, 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric = KernelInceptionDistance(feature=nn.Identity(), subsets=6, subset_size=15)
    metric.update(x, real=True)
    metric.update(y, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        ref_mean, ref_std = (float(v) for v in metric.compute())
    mean, std = K.kid(x, y, subsets=6, subset_size=15, seed=7)
    assert mean == pytest.approx(ref_mean, rel=1e-10)
    assert std == pytest.approx(ref_std, rel=1e-8)


def test_kid_unbiased_over_independent_draws_fid_biased():
    pool_x, pool_y = _feats(40, 3, 23), _feats(40, 3, 24, 0.15)
    ref_kid = K.mmd2_unbiased(pool_x, pool_y)
    ref_fid = K.fid(pool_x, pool_y)
    g = torch.Generator().manual_seed(0)
    kids, fids = [], []
    for _ in range(600):
        ix, iy = torch.randperm(40, generator=g)[:6], torch.randperm(40, generator=g)[:6]
        kids.append(K.mmd2_unbiased(pool_x[ix], pool_y[iy]))
        fids.append(K.fid(pool_x[ix], pool_y[iy]))
    kids, fids = np.array(kids), np.array(fids)
    assert abs(kids.mean() - ref_kid) < 4 * kids.std() / np.sqrt(len(kids))
    assert fids.mean() - ref_fid > 4 * fids.std() / np.sqrt(len(fids))  # FID biased upwards
