"""Tests of repro.sensitivity: S(α), ASA (Algorithm 1) and uniform SA on synthetic curves with a
known inverse, robustness to noise, and analyse() on a tiny model and synthetic images."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.optimize import brentq

from repro.sensitivity import (adaptive_levels, cumulative_sensitivity, monotone_points, snap_blur,
                               solve_targets, targets, uniform_levels)

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
    assert res.uncertainty.shape == (4,) and res.stop_reason in ("tolerance", "converged")


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
        assert a.n_evaluations <= 0.5 * u.n_evaluations, name
        truth = true_levels(h, 5)
        assert np.abs(a.levels[:-1] - truth).max() <= np.abs(u.levels[:-1] - truth).max() + 1e-4, name  # ε of S


def test_linear_curve_needs_two_evaluations():
    res = adaptive_levels(synthetic(CURVES["linear"]), clean=(CLEAN_MIOU, 0.0))
    assert res.n_evaluations == 2
    np.testing.assert_allclose(res.levels, [0.2, 0.4, 0.6, 0.8, 1.0], atol=1e-4)  # ε of S


@pytest.mark.parametrize("num_levels", [3, 5, 7])
def test_num_levels(num_levels):
    res = adaptive_levels(synthetic(CURVES["s_shaped"]), num_levels=num_levels, clean=(CLEAN_MIOU, 0.0))
    assert len(res.levels) == num_levels
    assert np.all(np.abs(res.levels[:-1] - true_levels(CURVES["s_shaped"], num_levels)) <= 0.05)


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
