"""Tests of repro.analysis.sampling: Eq. 10–11 masses, weightings, sampling frequencies, (de)serialisation."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import betabinom, chisquare

from repro.analysis.sampling import TYPE_SETS, Distribution, rank_weights, resolve_types


def table(types=("R+", "rotate+", "gaussian_blur"), seed=0, levels=5):
    rng = np.random.default_rng(seed)
    rows = []
    for t in types:
        alpha = np.sort(rng.uniform(0.05, 0.95, levels - 1)).tolist() + [1.0]
        miou = np.sort(rng.uniform(10, 60, levels))[::-1]  # falls with α
        rng.shuffle(miou[1:3])  # make the mIoU order differ from the α order somewhere
        for k, (a, m) in enumerate(zip(alpha, miou), 1):
            rows.append({"type": t, "level": k, "alpha": a, "miou": m})
    return pd.DataFrame(rows)


def test_type_sets_sizes():
    assert {k: len(v) for k, v in TYPE_SETS.items()} == {"all": 24, "no_geo": 14, "no_photo": 12}
    assert set(TYPE_SETS["no_geo"]) | set(TYPE_SETS["no_photo"]) == set(TYPE_SETS["all"])
    assert "gaussian_blur" in TYPE_SETS["no_geo"] and "gaussian_blur" in TYPE_SETS["no_photo"]


@pytest.mark.parametrize("weighting", ["accuracy", "rank"])
def test_masses(weighting):
    d = Distribution.from_analysis(table(), weighting=weighting)
    p = d.probabilities
    assert p["p"].sum() == pytest.approx(1.0, abs=1e-12)
    mass = d.type_mass()
    assert mass["clean"] == pytest.approx(1 / 4, abs=1e-12)
    for t in ("R+", "rotate+", "gaussian_blur"):
        assert mass[t] == pytest.approx(1 / 4, abs=1e-12)
    assert (p["p"] >= 0).all()
    assert list(p.columns) == ["type", "level", "alpha", "miou", "p"]


def test_accuracy_weighting_monotone_in_miou():
    tab = table(seed=3)
    d = Distribution.from_analysis(tab, weighting="accuracy")
    p = d.probabilities
    for t, g in p[p["type"] != "clean"].groupby("type"):
        g = g.sort_values("miou")
        assert np.all(np.diff(g["p"].to_numpy()) >= 0), t  # higher mIoU never gets less mass
        np.testing.assert_allclose(g["p"] / g["p"].sum(), g["miou"] / g["miou"].sum())


def test_rank_weights_values():
    # the spec's numbers: Beta-Binomial(n=4, a=0.75, b=1) pmf, ranks 0..3 of 5 levels
    w = rank_weights(5)
    np.testing.assert_allclose(w[:4], [0.28, 0.21, 0.184, 0.168], atol=6e-4)
    np.testing.assert_allclose(w, betabinom.pmf(np.arange(5), 4, 0.75, 1))
    assert w.sum() == pytest.approx(1.0)
    assert np.all(np.diff(w) < 0)
    d = Distribution.from_analysis(table(levels=5), weighting="rank")
    p = d.probabilities
    for t, g in p[p["type"] != "clean"].groupby("type"):
        frac = np.sort(g["p"].to_numpy() / g["p"].sum())[::-1]
        np.testing.assert_allclose(frac[:4], [0.28, 0.21, 0.184, 0.168], atol=6e-4)
        # ranks follow mIoU: best mIoU gets 0.28
        best = g.loc[g["miou"].idxmax()]
        assert best["p"] / g["p"].sum() == pytest.approx(w[0])


def test_ablation_sets_change_n():
    types = list(TYPE_SETS["all"])
    tab = table(types=types)
    for name, n in (("all", 24), ("no_geo", 14), ("no_photo", 12)):
        d = Distribution.from_analysis(tab, types=name)
        assert len(d.types) == n
        assert d.type_mass()["clean"] == pytest.approx(1 / (n + 1))
        assert d.probabilities["p"].sum() == pytest.approx(1.0)


def test_sampling_frequencies_chi_square():
    d = Distribution.from_analysis(table(), weighting="accuracy")
    p = d.probabilities
    n = 20000
    for gen in (np.random.default_rng(0), torch.Generator().manual_seed(0)):
        draws = d.sample(n, gen)
        assert len(draws) == n
        # map each draw back to its type (levels are jittered, so test type masses + clean)
        counts = pd.Series([t if t is not None else "clean" for t, _ in draws]).value_counts()
        mass = d.type_mass()
        obs = np.array([counts.get(k, 0) for k in mass.index])
        stat, pval = chisquare(obs, n * mass.to_numpy())
        assert pval > 0.01, (stat, pval)
        mags = np.array([m for t, m in draws if t is not None])
        assert mags.min() >= 0 and mags.max() <= 1
        assert all(m == 0.0 for t, m in draws if t is None)


def test_sampling_levels_chi_square_without_jitter():
    d = Distribution.from_analysis(table(), weighting="rank", jitter=0.0)
    p = d.probabilities
    n = 20000
    draws = d.sample(n, np.random.default_rng(1))
    key = {(r.type, round(r.alpha, 12)): i for i, r in enumerate(p.itertuples())}
    obs = np.zeros(len(p))
    for t, m in draws:
        obs[key[("clean", 0.0) if t is None else (t, round(m, 12))]] += 1
    stat, pval = chisquare(obs, n * p["p"].to_numpy())
    assert pval > 0.01


def test_jitter_distribution():
    tab = pd.DataFrame({"type": ["R+"], "level": [1], "alpha": [0.5], "miou": [40.0]})
    d = Distribution.from_analysis(tab, jitter=0.1)
    mags = np.array([m for t, m in d.sample(20000, np.random.default_rng(2)) if t is not None])
    assert mags.mean() == pytest.approx(0.5, abs=0.005)
    assert mags.std() == pytest.approx(0.1, abs=0.005)
    tab2 = pd.DataFrame({"type": ["R+"], "level": [1], "alpha": [1.0], "miou": [40.0]})
    mags2 = np.array([m for t, m in Distribution.from_analysis(tab2).sample(4000, np.random.default_rng(3))
                      if t is not None])
    assert mags2.max() == 1.0 and (mags2 == 1.0).mean() == pytest.approx(0.5, abs=0.05)  # clipped half


def test_same_seed_same_draws():
    d = Distribution.from_analysis(table())
    assert d.sample(50, np.random.default_rng(7)) == d.sample(50, np.random.default_rng(7))
    assert d.sample(50, torch.Generator().manual_seed(7)) == d.sample(50, torch.Generator().manual_seed(7))
    assert d.sample(50, np.random.default_rng(7)) != d.sample(50, np.random.default_rng(8))


def test_uniform_distribution():
    d = Distribution.uniform("no_photo")
    assert len(d.types) == 12
    assert d.type_mass()["clean"] == pytest.approx(1 / 13)
    draws = d.sample(5000, np.random.default_rng(0))
    mags = np.array([m for t, m in draws if t is not None])
    assert 0.45 < mags.mean() < 0.55 and mags.min() >= 0 and mags.max() <= 1
    assert np.histogram(mags, bins=4, range=(0, 1))[0].min() > 0.2 * len(mags)
    d5 = Distribution.uniform("all", num_levels=5)
    p = d5.probabilities
    assert len(p) == 1 + 24 * 5
    np.testing.assert_allclose(sorted(p[p["type"] == "R+"]["alpha"]), [0.2, 0.4, 0.6, 0.8, 1.0])


def test_to_dict_round_trip_json():
    for d in (Distribution.from_analysis(table(), weighting="rank"), Distribution.uniform("all")):
        blob = json.dumps(d.to_dict())
        d2 = Distribution.from_dict(json.loads(blob))
        assert d2 == d
        pd.testing.assert_frame_equal(d2.probabilities, d.probabilities)
        assert d2.sample(20, np.random.default_rng(0)) == d.sample(20, np.random.default_rng(0))


def test_bad_inputs():
    tab = table()
    with pytest.raises(ValueError, match="weighting must be"):
        Distribution.from_analysis(tab, weighting="softmax")
    with pytest.raises(ValueError, match="lacks columns"):
        Distribution.from_analysis(tab.drop(columns="miou"))
    with pytest.raises(TypeError, match="pandas DataFrame"):
        Distribution.from_analysis(tab.to_dict())
    with pytest.raises(ValueError, match="not in the table"):
        Distribution.from_analysis(tab, types=["R-"])
    with pytest.raises(ValueError, match="unknown type set"):
        resolve_types("no_colour")
    with pytest.raises(ValueError, match="unknown perturbation names"):
        resolve_types(["R+", "sepia"])
    bad = tab.copy()
    bad.loc[0, "miou"] = -1.0
    with pytest.raises(ValueError, match="finite and >= 0"):
        Distribution.from_analysis(bad)
    bad = tab.copy()
    bad.loc[0, "alpha"] = 1.5
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        Distribution.from_analysis(bad)
    with pytest.raises(ValueError, match="jitter must be"):
        Distribution.from_analysis(tab, jitter=-0.1)
    d = Distribution.from_analysis(tab)
    with pytest.raises(TypeError, match="numpy.random.Generator or a torch.Generator"):
        d.sample(3, 0)
    with pytest.raises(ValueError, match="non-negative integer"):
        d.sample(-1, np.random.default_rng())
    with pytest.raises(ValueError, match="to_dict"):
        Distribution.from_dict({"rows": []})
    with pytest.raises(ValueError, match="positive integer"):
        rank_weights(0)
