"""Tests of repro.analysis.augment.SensitivityTransform / refresh_distribution (plain-PyTorch use of the method)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors

import repro.perturb as P
from repro.analysis.augment import SensitivityTransform, refresh_distribution
from repro.analysis.sampling import Distribution

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "or, in plain PyTorch:"


def sample(seed=0, h=24, w=32):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(3, h, w, generator=g)
    y = torch.randint(0, 5, (h, w), generator=g)
    y[:2] = 255
    return tv_tensors.Image(x), tv_tensors.Mask(y)


def analysis_table():
    """A small sensitivity table: three types, 3 levels, unequal mIoUs (percent)."""
    rows = []
    for t, mious in (("R+", (60.0, 30.0, 10.0)), ("rotate+", (50.0, 40.0, 10.0)),
                     ("gaussian_noise", (20.0, 20.0, 60.0))):
        for k, m in enumerate(mious):
            rows.append({"type": t, "level": k + 1, "alpha": 0.25 * (k + 1), "miou": m})
    return pd.DataFrame(rows)


def index_with(t, pred, start=0):
    """First sample index whose draw satisfies ``pred(params)``."""
    for i in range(start, start + 2000):
        if pred(t.sample_params(i)):
            return i
    raise AssertionError("no such draw in 2000 indices")


# --------------------------------------------------------------------------- the README example
def readme_block() -> str:
    lines = README.read_text(encoding="utf-8").splitlines()
    at = [i for i, line in enumerate(lines) if line.strip() == MARKER]
    assert len(at) == 1, f"README.md must hold the line {MARKER!r} exactly once"
    i = at[0] + 1
    while lines[i].strip() == "":
        i += 1
    assert lines[i].strip() == "```python", "the block right after the marker must be a ```python block"
    end = lines.index("```", i + 1)
    return "\n".join(lines[i + 1:end]) + "\n"


def test_readme_plain_pytorch_example_runs(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    code = readme_block()
    assert "SensitivityTransform" in code and "refresh_distribution" in code and "num_workers=2" in code
    ns = {"__name__": "readme_example"}
    exec(compile(code, "README.md:plain-PyTorch", "exec"), ns)
    assert len(ns["losses"]) == 8 and all(np.isfinite(ns["losses"]))  # 2 epochs × 32 samples / batch 8
    aug, table = ns["aug"], ns["table"]
    assert aug.epoch == 1
    assert len(table) == 24 * 5 and set(table["type"]) == set(P.NAMES)
    assert aug.distribution.weighting == "accuracy"  # refreshed from the analysis (warm-up: "uniform")
    assert aug.distribution == Distribution.from_analysis(table)


# --------------------------------------------------------------------------- draws
def test_draws_follow_the_distribution():
    dist = Distribution.from_analysis(analysis_table())
    t = SensitivityTransform(dist, seed=3)
    n = 6000
    draws = [t.sample_params(i) for i in range(n)]
    names = [d["name"] or "clean" for d in draws]
    mass = dist.type_mass()
    observed = np.array([names.count(k) for k in mass.index])
    expected = mass.to_numpy() * n
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < 18.5, (chi2, dict(zip(mass.index, observed)))  # 3 dof: p ≈ 3e-4
    # within a type, levels are drawn ∝ mIoU and jittered by N(0, 0.1²) in magnitude units
    mags = np.array([d["magnitude"] for d in draws if d["name"] == "R+"])
    assert 0.0 <= mags.min() and mags.max() <= 1.0
    exp_mean = np.dot([0.25, 0.5, 0.75], [0.6, 0.3, 0.1])
    assert abs(mags.mean() - exp_mean) < 4 * 0.2 / np.sqrt(len(mags))
    assert all(d["magnitude"] == 0.0 for d in draws if d["name"] is None)
    # the counter path (no index) follows the same distribution
    t2 = SensitivityTransform(dist, seed=3)
    names2 = [t2.sample_params()["name"] or "clean" for _ in range(3000)]
    obs2 = np.array([names2.count(k) for k in mass.index])
    assert float(((obs2 - mass.to_numpy() * 3000) ** 2 / (mass.to_numpy() * 3000)).sum()) < 18.5


def test_seed_rule_same_seed_same_output():
    dist = Distribution.uniform("all")
    a, b = SensitivityTransform(dist, seed=5), SensitivityTransform(dist, seed=5)
    x, y = sample()
    for i in (0, 7, 11):
        ox, oy = a(x, y, index=i)
        px, py = b(x, y, index=i)
        assert torch.equal(ox, px) and torch.equal(oy, py)
    # by index: independent of the call order and of earlier calls
    assert [a.sample_params(i) for i in (4, 2, 9)] == [b.sample_params(i) for i in (9, 2, 4)][::-1]
    # other seed / other epoch: other draws
    c = SensitivityTransform(dist, seed=6)
    assert [a.sample_params(i) for i in range(20)] != [c.sample_params(i) for i in range(20)]
    first = [a.sample_params(i) for i in range(20)]
    a.set_epoch(1)
    assert [a.sample_params(i) for i in range(20)] != first
    a.set_epoch(0)
    assert [a.sample_params(i) for i in range(20)] == first
    # without index: a per-process counter, reset by set_epoch
    seq = [b.sample_params() for _ in range(5)]
    b.set_epoch(0)
    assert [b.sample_params() for _ in range(5)] == seq


# --------------------------------------------------------------------------- what a draw does
def test_geometric_moves_mask_like_apply():
    t = SensitivityTransform(Distribution.uniform(P.GEOMETRIC), seed=1)
    x, y = sample(1)
    i = index_with(t, lambda p: p["name"] is not None and p["magnitude"] > 0.3)
    p = t.sample_params(i)
    ox, oy = t(x, y, index=i)
    assert type(ox) is tv_tensors.Image and type(oy) is tv_tensors.Mask
    assert ox.dtype == x.dtype and oy.dtype == y.dtype and oy.shape == y.shape
    ex, ey = P.apply(x.as_subclass(torch.Tensor)[None], y.as_subclass(torch.Tensor)[None], p["name"], p["magnitude"],
                     border="zoom")
    assert torch.equal(ox.as_subclass(torch.Tensor), ex[0]) and torch.equal(oy.as_subclass(torch.Tensor), ey[0])
    assert not torch.equal(oy, y)
    # uint8 image, uint8 1×H×W mask, pad border
    tp = SensitivityTransform(Distribution.uniform(P.GEOMETRIC), seed=1, border="pad")
    xu = tv_tensors.Image((x * 255).round().to(torch.uint8))
    yu = tv_tensors.Mask(y[None].to(torch.uint8))
    ox, oy = tp(xu, yu, index=i)
    ex, ey = P.apply(xu.float()[None] / 255, y.as_subclass(torch.Tensor)[None], p["name"], p["magnitude"], border="pad")
    assert ox.dtype == torch.uint8 and oy.dtype == torch.uint8 and oy.shape == (1, 24, 32)
    assert torch.equal(ox.as_subclass(torch.Tensor), (ex[0] * 255).round().clamp(0, 255).to(torch.uint8))
    assert torch.equal(oy[0].long(), ey[0])


@pytest.mark.parametrize("types", [P.PHOTOMETRIC, ("gaussian_noise",)])
def test_photometric_and_noise_leave_mask(types):
    t = SensitivityTransform(Distribution.uniform(types), seed=2)
    x, y = sample(2)
    i = index_with(t, lambda p: p["name"] is not None and p["magnitude"] > 0.2)
    p = t.sample_params(i)
    ox, oy = t(x, y, index=i)
    assert oy is y  # untouched: the input object itself
    g = torch.Generator().manual_seed(p["seed"])
    ex, _ = P.apply(x.as_subclass(torch.Tensor)[None], None, p["name"], p["magnitude"], generator=g)
    assert type(ox) is tv_tensors.Image and torch.equal(ox.as_subclass(torch.Tensor), ex[0])
    assert not torch.equal(ox, x)


def test_clean_draw_returns_inputs_and_pytree_inputs():
    t = SensitivityTransform(Distribution.uniform(["R+"]), seed=0)  # p(clean) = 1/2
    x, y = sample()
    i = index_with(t, lambda p: p["name"] is None)
    ox, oy = t(x, y, index=i)
    assert ox is x and oy is y
    d = {"image": x, "mask": y, "name": "a"}
    assert t(d, index=i) is d
    j = index_with(t, lambda p: p["name"] == "R+")
    out = t(d, index=j)
    assert out["name"] == "a" and out["mask"] is y and not torch.equal(out["image"], x)
    assert torch.equal(t(x, index=j), out["image"])  # image alone
    ox, oy = t(tv_tensors.Image(x.half()), y, index=j)
    assert ox.dtype == torch.float16


# --------------------------------------------------------------------------- DataLoader
class _DS(Dataset):
    def __init__(self, t, n=12):
        self.t, self.n = t, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x, y = sample(i)
        ox, oy = self.t(x, y, index=i)
        return ox, oy, self.t.epoch, len(self.t.distribution.types)


def _collect(loader):
    xs, ys = [], []
    for x, y, _, _ in loader:
        xs.append(x)
        ys.append(y)
    return torch.cat(xs), torch.cat(ys)


def test_dataloader_workers_same_as_main_process():
    t = SensitivityTransform(Distribution.uniform("all"), seed=4)
    t.set_epoch(2)
    t = pickle.loads(pickle.dumps(t))
    assert t.epoch == 2
    x0, y0 = _collect(DataLoader(_DS(t), batch_size=4, num_workers=0))
    x2, y2 = _collect(DataLoader(_DS(t), batch_size=4, num_workers=2))
    assert torch.equal(x0, x2) and torch.equal(y0, y2)


def test_new_distribution_reaches_persistent_workers_through_sync_file(tmp_path):
    def epochs(t):
        loader = DataLoader(_DS(t, 4), batch_size=2, num_workers=1, persistent_workers=True)
        seen = []
        for epoch in range(2):
            if epoch == 1:
                t.set_epoch(1)
                t.set_distribution(Distribution.uniform(["R+", "rotate+"]))
            seen.append({(int(e), int(k)) for _, _, es, ks in loader for e, k in zip(es, ks)})
        return seen

    assert epochs(SensitivityTransform(Distribution.uniform("all"), sync_file=tmp_path / "state.json")) == [
        {(0, 24)}, {(1, 2)}]
    # without a sync file a persistent worker keeps the copy it started with (documented)
    assert epochs(SensitivityTransform(Distribution.uniform("all"))) == [{(0, 24)}, {(0, 24)}]


# --------------------------------------------------------------------------- refresh and errors
def test_refresh_distribution_installs_from_analysis():
    x, y = sample(0)
    xs = torch.stack([sample(i)[0] for i in range(4)])
    ys = torch.stack([sample(i)[1] for i in range(4)])

    def model(im):  # a fixed "model": 5 logits from the colour channels
        return torch.cat([im, im[:, :2]], 1) * 10

    t = SensitivityTransform(Distribution.uniform(["R+", "rotate+"]), seed=0)
    table = refresh_distribution(t, model, xs, ys, num_classes=5, extractor="conv-random", budget=2,
                                   num_levels=3, cache=False, progress=False, warn=False, weighting="rank")
    assert set(table["type"]) == {"R+", "rotate+"} and len(table) == 6
    assert t.distribution == Distribution.from_analysis(table, weighting="rank")


def test_errors_name_the_argument():
    dist = Distribution.uniform("all")
    x, y = sample()
    with pytest.raises(TypeError, match=r"^distribution must be a repro\.analysis\.sampling\.Distribution"):
        SensitivityTransform({"R+": 1.0})
    with pytest.raises(TypeError, match=r"^seed must be a non-negative int, got float"):
        SensitivityTransform(dist, seed=1.5)
    with pytest.raises(ValueError, match=r"^seed must be a non-negative int, got -1"):
        SensitivityTransform(dist, seed=-1)
    with pytest.raises(ValueError, match=r"^border must be one of"):
        SensitivityTransform(dist, border="wrap")
    with pytest.raises(TypeError, match=r"^sync_file must be a path"):
        SensitivityTransform(dist, sync_file=3)
    t = SensitivityTransform(dist)
    with pytest.raises(TypeError, match=r"^distribution must be"):
        t.set_distribution(None)
    with pytest.raises(ValueError, match=r"^epoch must be a non-negative int"):
        t.set_epoch(-2)
    with pytest.raises(ValueError, match=r"^index must be a non-negative int"):
        t(x, y, index=-1)
    with pytest.raises(TypeError, match=r"^image must be a torchvision\.tv_tensors\.Image"):
        t(y)
    with pytest.raises(ValueError, match=r"^image must be one 3×H×W RGB image"):
        t(tv_tensors.Image(x[None].expand(2, -1, -1, -1)), index=0)
    with pytest.raises(ValueError, match=r"^image must be one 3×H×W RGB image"):
        t(tv_tensors.Image(x[:1]), index=0)
    with pytest.raises(TypeError, match=r"^image must be uint8 \(0\.\.255\) or float"):
        t(tv_tensors.Image(x.to(torch.int32)), index=0)
    with pytest.raises(ValueError, match=r"^image: expected one tv_tensors\.Image per call, got 2"):
        t(x, x, index=0)
    with pytest.raises(TypeError, match=r"^mask must hold integer class ids"):
        t(x, tv_tensors.Mask(y.float()), index=0)
    with pytest.raises(ValueError, match=re.escape("mask must be H×W (or 1×H×W) with the image's H×W = (24, 32)")):
        t(x, tv_tensors.Mask(y[:10]), index=0)
    with pytest.raises(ValueError, match=r"^mask: expected at most one tv_tensors\.Mask per call"):
        t(x, y, y, index=0)
    with pytest.raises(TypeError, match=r"^inputs: BoundingBoxes is not supported"):
        t(x, tv_tensors.BoundingBoxes(torch.zeros(1, 4), format="XYXY", canvas_size=(24, 32)), index=0)
    with pytest.raises(TypeError, match=r"^transform must be a repro\.analysis\.augment\.SensitivityTransform"):
        refresh_distribution(object(), lambda im: im, x[None], y[None], num_classes=5)
    with pytest.raises(ValueError, match=r"^images must be an N×3×H×W tensor"):
        refresh_distribution(t, lambda im: im, x, y, num_classes=5)
    with pytest.raises(ValueError, match=r"^labels must be an N×H×W integer tensor"):
        refresh_distribution(t, lambda im: im, x[None], y, num_classes=5)
    with pytest.raises(TypeError, match=r"^labels must hold integer class ids"):
        refresh_distribution(t, lambda im: im, x[None], y[None].float(), num_classes=5)


# --------------------------------------------------------------------------- backend="opencv" (issue 14)
def test_sensitivity_transform_opencv_backend():
    from repro.perturb import cpu

    x, y = sample(3, 36, 44)
    xu = tv_tensors.Image((x * 255).round().to(torch.uint8))
    yu = tv_tensors.Mask(y.to(torch.uint8))
    tt = SensitivityTransform(Distribution.uniform("all"), seed=2)
    to = SensitivityTransform(Distribution.uniform("all"), seed=2, backend="opencv")
    assert tt.backend == "torch" and to.backend == "opencv" and "backend='opencv'" in repr(to)
    seen = set()
    for i in range(60):
        p = to.sample_params(i)
        if p["name"] is None or p["name"] == "gaussian_noise":
            continue
        seen.add(p["name"])
        a, ya = to(xu, yu, index=i)
        b, yb = tt(xu, yu, index=i)
        assert type(a) is tv_tensors.Image and a.dtype == torch.uint8 and ya.dtype == torch.uint8
        d = (a.as_subclass(torch.Tensor).int() - b.as_subclass(torch.Tensor).int()).abs()
        assert int(d.max()) <= cpu.TOLERANCE[p["name"]]["max"], p
        # the same as repro.perturb.cpu on the HWC array, noise seeded by the draw's seed
        ref, ref_y = cpu.apply(xu.permute(1, 2, 0).numpy().copy(), yu.numpy(), p["name"], p["magnitude"],
                               rng=np.random.Generator(np.random.PCG64(p["seed"])))
        assert np.array_equal(a.permute(1, 2, 0).numpy(), ref) and np.array_equal(ya.numpy(), ref_y)
    assert len(seen) > 10
    # float images always take the torch kernels
    for i in range(5):
        a, _ = to(x, y, index=i)
        b, _ = tt(x, y, index=i)
        assert torch.equal(a, b)
    # picklable with its backend (DataLoader workers)
    assert pickle.loads(pickle.dumps(to)).backend == "opencv"
    with pytest.raises(ValueError, match=r"backend must be one of \('opencv', 'torch'\)"):
        SensitivityTransform(Distribution.uniform("all"), backend="cuda")
