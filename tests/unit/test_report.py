import numpy as np
import pandas as pd
import pytest

from repro.paper import claims, tables
from repro.paper.publish import publish


def _scores():
    rows = []
    rng = np.random.default_rng(0)
    base = {"baseline": 40.0, "sota": 50.0, "ours": 52.0, "augmix": 45.0}
    for method, v in base.items():
        for seed in (0, 1, 2):
            for suite, items in (("clean", ["clean"]), ("basis_aug", ["R+", "V-"]), ("real_world", ["camvid_dusk"])):
                for item in items:
                    m = v - (10 if suite != "clean" else 0) + rng.normal(0, 0.1)
                    rows.append({"dataset": "camvid", "model": "pspnet_r18", "method": method, "seed": seed, "suite": suite,
                                 "item": item, "level": "", "aAcc": m + 30, "mAcc": m + 5, "mIoU": m})
    return pd.DataFrame(rows)


def test_suite_means_mean_std_over_seeds():
    s = tables.suite_means(_scores(), by=("method", "suite"))
    r = s[(s.method == "ours") & (s.suite == "clean")].iloc[0]
    assert r["mIoU"] == pytest.approx(52.0, abs=0.2) and r["n_seeds"] == 3 and 0 < r["mIoU_std"] < 0.3


def test_table1_gain_and_paper_columns():
    t = tables.table1(_scores())
    assert list(t["method"]) == ["Baseline", "AugMix", "SOTA", "Ours"]  # paper order
    ours = t[t.method == "Ours"].iloc[0]
    assert ours["mIoU_gain_vs_baseline_%"] == pytest.approx(30.0, abs=1.0)
    assert ours["paper_mIoU"] == pytest.approx(71.84)
    assert ours["paper_mIoU_gain_vs_baseline_%"] == pytest.approx(round(100 * (71.84 / 35.715 - 1), 1))


def test_table2_and_5_join_published():
    t2 = tables.table2(_scores())
    assert set(t2["item"]) == {"camvid_dusk"}
    assert t2[t2.method == "Ours"]["paper_acdc_mIoU"].iloc[0] == pytest.approx(26.34)
    t5 = tables.table5(_scores())
    row = t5[(t5.method == "Ours") & (t5.suite == "real_world")].iloc[0]
    assert row["paper_suite"] == "acdc" and row["paper_mIoU"] == pytest.approx(26.34)  # printed order aAcc, mIoU, mAcc
    assert t5[(t5.method == "Ours") & (t5.suite == "clean")]["paper_mIoU"].iloc[0] == pytest.approx(71.84)


def test_claim_sentences_follow_numbers():
    cmp = claims.compare(_scores(), "ours", "sota", ["basis_aug", "real_world"])
    text = claims.claim_sentence(cmp, "ours", "sota", "Ours ≥ SOTA on corrupted suites")
    assert "holds in our numbers" in text and "holds in 2, does not hold in 0, is inconclusive in 0 of 2" in text
    assert "paired over 3 seeds" in text and set(cmp["verdict"]) == {"holds"}
    cmp2 = claims.compare(_scores(), "augmix", "sota", ["basis_aug"])
    assert "does not hold" in claims.claim_sentence(cmp2, "augmix", "sota", "x")
    means = pd.Series({"ours": 3.0, "sota": 2.0, "baseline": 1.0})
    assert "the same order" in claims.ordering_sentence(means, ["ours", "sota", "baseline"], "c")
    assert "a different order" in claims.ordering_sentence(means, ["sota", "ours", "baseline"], "c")


def test_paired_interval_is_the_t_interval():
    from scipy import stats

    d = [1.0, 2.5, 0.5, 1.5]
    mean, half, n = claims.paired_interval(d)
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(d), scale=stats.sem(d))
    assert n == 4 and mean == pytest.approx(1.375) and half == pytest.approx((hi - lo) / 2)
    assert np.isnan(claims.paired_interval([2.0])[1]) and claims.paired_interval([])[2] == 0
    assert claims.verdict(1.0, 0.5) == "holds" and claims.verdict(-1.0, 0.5) == "does not hold"
    assert claims.verdict(0.2, 0.5) == "inconclusive" and claims.verdict(3.0, float("nan")) == "inconclusive"


def test_compare_pairs_by_seed():
    """The interval comes from the per-seed differences, not from the spread of each method: a
    seed effect shared by both methods cancels."""
    rows = []
    for seed, shift in ((0, -5.0), (1, 0.0), (2, 5.0)):  # large seed effect, same for both methods
        for method, v in (("ours", 51.0), ("sota", 50.0)):
            rows.append({"dataset": "camvid", "model": "m", "method": method, "seed": seed, "suite": "clean",
                         "item": "clean", "level": "", "aAcc": 0.0, "mAcc": 0.0, "mIoU": v + shift + 0.01 * seed})
    rows.append({**rows[0], "method": "ours", "seed": 7, "mIoU": 99.0})  # a seed sota lacks: not paired
    cmp = claims.compare(pd.DataFrame(rows), "ours", "sota", ["clean"])
    r = cmp.iloc[0]
    assert r["n"] == 3 and r["diff"] == pytest.approx(1.0) and r["half"] < 1e-9 and r["verdict"] == "holds"
    text = claims.claim_sentence(cmp, "ours", "sota", "c")
    assert "+1.00 ± 0.00, holds" in text
    one = claims.compare(pd.DataFrame(rows[:2]), "ours", "sota", ["clean"])
    assert one.iloc[0]["verdict"] == "inconclusive" and "one seed" in claims.claim_sentence(one, "ours", "sota", "c")


def test_bad_scores():
    with pytest.raises(ValueError, match="scores lack columns"):
        tables.suite_means(pd.DataFrame({"a": [1]}))
    with pytest.raises(TypeError, match="scores must be a DataFrame"):
        tables.suite_means([1])


def test_claims_are_the_compare_sentences_labelled_group_by_group():
    s = pd.concat([_scores(), _scores().assign(model="segformer_b0")])
    specs = [("ours", "sota", ["basis_aug"], "A"), ("ours", "baseline", ["clean"], "B")]
    got = claims.claims(s, specs, by="model", groups=["segformer_b0", "pspnet_r18"])
    want = [f"{m}: " + claims.claim_sentence(claims.compare(s[s.model == m], a, b, suites), a, b, text)
            for m in ("segformer_b0", "pspnet_r18") for a, b, suites, text in specs]
    assert got == want and got[0].startswith("segformer_b0: Claim 'A' holds")
    assert claims.claims(s, specs) == [claims.claim(s, a, b, su, t) for a, b, su, t in specs]
    assert claims.claim(s, "ours", "sota", ["clean"], "C", label="x").startswith("x: Claim 'C'")
    with pytest.raises(ValueError, match="by must be a column of scores"):
        claims.claims(s, specs, by="backbone")


def test_method_order_claim_and_loss_sentence():
    t1 = tables.table1(_scores())
    pub = claims.published("table1_cityscapes_methods")
    text = claims.method_order_claim(t1.assign(model="pspnet_r18"), pub, "pspnet_r18", "order")
    assert text.startswith("pspnet_r18: Claim 'order': the paper's order is ") and "ours is Ours > SOTA > AugMix > Baseline" in text
    line = claims.loss_sentence(_scores(), "clean", "real_world", "lost", label="m")
    means = tables.suite_means(_scores(), by=("method", "suite")).set_index(["method", "suite"])["mIoU"]
    assert line == "m: lost: " + ", ".join(f"{tables.METHOD_NAMES[m]} {means[m, 'clean'] - means[m, 'real_world']:.1f}"
                                          for m in sorted(["augmix", "baseline", "ours", "sota"]))


def test_publish_writes_table_and_figure(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from repro.base import paths

    monkeypatch.setattr(paths, "TABLES_DIR", tmp_path)
    t1 = tables.table1(_scores()).assign(model="pspnet_r18")
    fig = publish(t1, "table1_test", profile="cpu", caption="cap", notes=["n1"],
                         plot=dict(group="method", hue="model", value="mIoU", err="mIoU_std", title="T"))
    out = paths.output_dir("cpu")
    assert (out / "table1_test.png").is_file() and fig is not None
    md = (out / "table1_test.md").read_text()
    assert md.startswith("cap\n") and "- n1" in md and (out / "table1_test.csv").is_file()
    assert publish(t1, "table1_nofig", profile="cpu", caption="c") is None
    assert not (out / "table1_nofig.png").exists()


def test_plot_bars_groups_by_several_columns():
    import matplotlib

    matplotlib.use("Agg")
    t = tables.suite_means(_scores(), by=("dataset", "suite", "method"))
    fig = tables.plot_bars(t, group=["dataset", "suite"], hue="method", err="mIoU_std")
    labels = [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    assert labels == ["camvid/clean", "camvid/basis_aug", "camvid/real_world"]
    assert "_group" not in t.columns  # the caller's frame is left as it is


# ---------------------------------------------------------------- structured claims and the claims file


def _fixed_scores():
    """mIoU per (method, suite) and seed without noise (basis_aug: two items around the value shown)."""
    values = {("baseline", "clean"): (40.0, 41.0, 39.5), ("sota", "clean"): (50.0, 50.5, 49.0),
              ("ours", "clean"): (51.0, 51.0, 50.5), ("baseline", "basis_aug"): (30.0, 30.5, 29.0),
              ("sota", "basis_aug"): (40.0, 41.0, 40.5), ("ours", "basis_aug"): (41.0, 42.5, 42.5),
              ("baseline", "real_world"): (20.0, 21.0, 22.0), ("sota", "real_world"): (25.0, 26.0, 24.0),
              ("ours", "real_world"): (24.0, 26.5, 24.2)}
    rows = []
    for (method, suite), per_seed in values.items():
        for seed, v in enumerate(per_seed):
            items = [("R+", v - 1.0), ("V-", v + 1.0)] if suite == "basis_aug" else [(suite if suite == "clean" else "camvid_dusk", v)]
            for item, m in items:
                rows.append({"dataset": "camvid", "model": "fastscnn", "method": method, "seed": seed, "suite": suite,
                             "item": item, "level": "", "aAcc": m + 30, "mAcc": m + 5, "mIoU": m})
    return pd.DataFrame(rows)


_SPECS = [("ours", "sota", ["clean", "basis_aug", "real_world"], "Ours >= SOTA"),
          ("ours", "baseline", ["clean"], "Ours > Baseline"), ("ours", "augmix", ["clean"], "Ours > AugMix")]

#: the sentences claims.claims returned before they carried structure (same frame, same specs)
_OLD_SENTENCES = [
    "fastscnn: Claim 'Ours >= SOTA' holds partly in our numbers: Ours > SOTA holds in 1, does not hold in 0, is "
    "inconclusive in 2 of 3 suites (mIoU difference Ours − SOTA, paired over 3 seeds, mean ± half-width of the 95% "
    "t-interval: clean: +1.00 ± 1.24, inconclusive; basis_aug: +1.50 ± 1.24, holds; real_world: -0.10 ± 1.97, "
    "inconclusive).",
    "fastscnn: Claim 'Ours > Baseline' holds in our numbers: Ours > Baseline holds in 1, does not hold in 0, is "
    "inconclusive in 0 of 1 suites (mIoU difference Ours − Baseline, paired over 3 seeds, mean ± half-width of the "
    "95% t-interval: clean: +10.67 ± 1.43, holds).",
    "fastscnn: Claim 'Ours > AugMix': not testable here (no seed run by both ours and augmix).",
]


def test_claim_results_are_the_old_sentences_with_their_content():
    s = _fixed_scores()
    got = claims.claims(s, _SPECS, by="model")
    assert got == _OLD_SENTENCES and all(type(c) is claims.ClaimResult for c in got)
    first, second, untestable = got
    assert (first.claim, first.label, first.a, first.b, first.metric, first.overall) == (
        "Ours >= SOTA", "fastscnn", "ours", "sota", "mIoU", "holds partly")
    cmp = claims.compare(s, "ours", "sota", ["clean", "basis_aug", "real_world"])
    assert [r.suite for r in first.rows] == list(cmp["suite"]) == ["clean", "basis_aug", "real_world"]
    assert [r.diff for r in first.rows] == pytest.approx(list(cmp["diff"]))
    assert [r.half for r in first.rows] == pytest.approx(list(cmp["half"]))
    assert [r.verdict for r in first.rows] == list(cmp["verdict"]) == ["inconclusive", "holds", "inconclusive"]
    assert [r.n for r in first.rows] == [3, 3, 3] and first.rows[1].diff == pytest.approx(1.5)
    assert second.overall == "holds" and second.rows[0].diff == pytest.approx(32 / 3)
    assert untestable.overall == "not testable here" and untestable.rows == () and untestable.label == "fastscnn"
    one = claims.claims(s[s.seed == 0], _SPECS[:1])[0]
    assert one.label is None and one.overall == "is inconclusive" and one.startswith("Claim 'Ours >= SOTA' is inconclusive")
    assert all(np.isnan(r.half) and r.n == 1 for r in one.rows)


def test_structured_sentences_survive_pickle_and_reject_wrong_fields():
    import copy
    import pickle

    c = claims.claims(_fixed_scores(), _SPECS[:1], by="model")[0]
    back = pickle.loads(pickle.dumps(c))
    assert type(back) is claims.ClaimResult and back == c and back.fields() == c.fields()
    assert copy.deepcopy(c).rows == c.rows
    with pytest.raises(TypeError, match="ClaimResult needs exactly the fields"):
        claims.ClaimResult("x", claim="c")


def test_order_result_carries_both_orders():
    t1 = tables.table1(_fixed_scores())
    pub = claims.published("table1_cityscapes_methods")
    o = claims.method_order_claim(t1, pub, "fastscnn", "order")
    assert o == ("fastscnn: Claim 'order': the paper's order is Ours > SOTA > Baseline; ours is Ours > SOTA > Baseline "
                 "— the same order.")
    assert type(o) is claims.OrderResult and (o.label, o.metric, o.overall) == ("fastscnn", "mIoU", "same order")
    assert o.paper_order == o.ours_order == ("Ours", "SOTA", "Baseline")
    swapped = claims.ordering_sentence(pd.Series({"sota": 2.0, "ours": 1.0}), ["ours", "sota"], "c")
    assert swapped.overall == "different order" and swapped.ours_order == ("SOTA", "Ours") and swapped.label is None


@pytest.mark.parametrize("table, a, b, label, suite, want, note", [
    ("table1_methods", "ours", "sota", "fastscnn", "clean", 71.84 - 69.86, "Cityscapes, pspnet"),
    ("table1_methods", "ours", "baseline", "segformer_b0", "clean", 76.33 - 48.365, "Cityscapes, segformer"),
    ("table2_real_world", "ours", "sota", "fastscnn", "real_world", 26.34 - 25.83, "ACDC"),
    ("table3_conditions", "ours", "sota", "dusk (real)", "real_world", 9.22 - 8.47, "ACDC night, dusk ↔ night"),
    ("table3_conditions", "ours", "sota", "fog (IN-C s3, synthetic)", "imagenet_c", 48.64 - 47.13, "ACDC fog"),
    ("table4_datasets", "ours", "sota", "camvid", "basis_aug", 58.417 - 52.066, "cityscapes"),
    ("table4_datasets", "ours", "sota", "isbi2012_em", "clean", None, "synapse"),
    ("table5_ablation", "ours", "ours_no_sa", None, "real_world", 26.34 - 27.13, "real_world ↔ acdc"),
    ("table5_ablation", "ours", "ours_no_geo", None, "clean", 71.84 - 42.41, "Cityscapes, pspnet"),
])
def test_paper_difference_is_the_published_comparison(table, a, b, label, suite, want, note):
    diff, got_note = claims.paper_difference(table, a, b, label=label, suite=suite)
    if want is None:  # Synapse clean, from the published table itself
        pub = claims.published("table4_datasets_suites")
        row = pub[(pub.dataset == "synapse") & (pub.suite == "clean")].set_index("method")["mIoU"]
        want = row["Ours"] - row["SOTA"]
    assert diff == pytest.approx(want) and note in got_note


@pytest.mark.parametrize("table, label, suite, reason", [
    ("table3_conditions", "frost (IN-C s3, synthetic)", "imagenet_c", "no Ours or SOTA row for condition frost"),
    ("table1_methods", "fastscnn", "real_world", "Table 1 is clean data only"),
    ("table4_datasets", "voc", "clean", "no Ours or SOTA row for dataset voc"),
    ("appendixG_levels_by_L", None, "clean", "no published analogue of appendixG_levels_by_L"),
    ("appendixD_compare", None, "clean", "prints levels, not evaluation counts"),
    ("appendixE_kid_vs_fid", None, "gaussian_noise@0.2, n=10", "Appendix E as a figure, without numbers"),
])
def test_paper_difference_without_analogue_says_why(table, label, suite, reason):
    diff, note = claims.paper_difference(table, "ours", "sota", label=label, suite=suite)
    assert np.isnan(diff) and reason in note


def test_publish_writes_the_claims_file_beside_the_table(tmp_path, monkeypatch):
    import json

    from repro.base import paths

    monkeypatch.setattr(paths, "TABLES_DIR", tmp_path)
    s = _fixed_scores()
    t1 = tables.table1(s)
    order = claims.method_order_claim(t1, claims.published("table1_cityscapes_methods"), "fastscnn", "order")
    notes = [order] + claims.claims(s, _SPECS, by="model") + ["a plain sentence"]
    publish(t1, "table1_methods", profile="smoke", caption="cap", notes=notes)
    out = tmp_path / "smoke"
    df = pd.read_csv(out / "table1_methods_claims.csv", keep_default_na=False, na_values=[""])
    assert list(df.columns) == list(claims.CLAIM_COLUMNS)
    assert len(df) == 1 + 3 + 1 + 1  # the ordering, three suites, one suite, one claim not testable
    assert set(df["table"]) == {"table1_methods"} and set(df["label"]) == {"fastscnn"}
    rows = df[df.claim == "Ours >= SOTA"].set_index("suite")
    cmp = claims.compare(s, "ours", "sota", ["clean", "basis_aug", "real_world"]).set_index("suite")
    for suite in cmp.index:
        assert rows.loc[suite, "ours_diff"] == pytest.approx(cmp.loc[suite, "diff"], abs=1e-4)
        assert rows.loc[suite, "ours_half"] == pytest.approx(cmp.loc[suite, "half"], abs=1e-4)
        assert rows.loc[suite, "n"] == cmp.loc[suite, "n"] and rows.loc[suite, "verdict"] == cmp.loc[suite, "verdict"]
        assert rows.loc[suite, "overall"] == "holds partly" and rows.loc[suite, "metric"] == "mIoU"
    assert rows.loc["clean", "paper_diff"] == pytest.approx(71.84 - 69.86, abs=1e-4)
    assert np.isnan(rows.loc["basis_aug", "paper_diff"]) and "clean data only" in rows.loc["basis_aug", "paper_note"]
    base = df[df.claim == "Ours > Baseline"].iloc[0]
    assert base["paper_diff"] == pytest.approx(71.84 - 35.715, abs=1e-4) and (base["a"], base["b"]) == ("ours", "baseline")
    ordering = df[df.claim == "order"].iloc[0]
    assert ordering["verdict"] == "same order" and ordering["paper_order"] == "Ours > SOTA > Baseline"
    assert df[df.claim == "Ours > AugMix"].iloc[0]["verdict"] == "not testable here"
    index = json.loads((out / ".index.json").read_text())
    assert "table1_methods" in index and not any("claims" in k for k in index)  # listed in its table's row only
    # the same table published again without structured claims: no claims file, the stale one removed
    publish(t1, "table1_methods", profile="smoke", caption="cap", notes=["a plain sentence"])
    assert not (out / "table1_methods_claims.csv").exists() and (out / "table1_methods.csv").exists()
    publish(t1, "table1_other", profile="smoke", caption="cap")
    assert not (out / "table1_other_claims.csv").exists()
    with pytest.raises(TypeError, match="notes must be a list of strings"):
        claims.save_claims("one string", "table1_methods", profile="smoke")
    with pytest.raises(ValueError, match="name must be a plain file stem"):
        claims.save_claims(notes, "../x", profile="smoke")


def test_loss_sentence_still_plain_text():
    line = claims.loss_sentence(_fixed_scores(), "clean", "real_world", "lost", label="m")
    # clean − real_world means: Baseline 40.17 − 21.00, Ours 50.83 − 24.90, SOTA 49.83 − 25.00
    assert type(line) is str and line == "m: lost: Baseline 19.2, Ours 25.9, SOTA 24.8"


# ------------------------------------------------------------------ Appendix D/E claims (measured, not paired over seeds)


def test_measured_claim_verdicts_and_sentence():
    rows = pd.DataFrame([{"suite": "x", "diff": 2.0, "half": 0.5, "n": 5}, {"suite": "y", "diff": -1.0, "half": 2.0, "n": 5}])
    c = claims.measured_claim(rows, "A", "B", "A beats B", metric="points", over="types", label="m")
    assert isinstance(c, claims.ClaimResult)
    assert c.overall == "holds partly" and [r.verdict for r in c.rows] == ["holds", "inconclusive"]
    assert c.label == "m" and str(c).startswith("m: Claim 'A beats B' holds partly")
    assert "over types" in c and "x: +2 ± 0.5, holds" in c
    with pytest.raises(TypeError, match="columns suite, diff, half, n"):
        claims.measured_claim(rows.drop(columns="half"), "A", "B", "c", metric="m", over="t")
    with pytest.raises(ValueError, match="is empty"):
        claims.measured_claim(rows.iloc[:0], "A", "B", "c", metric="m", over="t")


def _wide(adaptive_shift, evals_adaptive):
    types = ["R+", "G-", "V-", "rotate+"]
    uni = np.array([[0.2, 0.4, 0.6, 0.8]] * len(types))
    ada = uni + np.asarray(adaptive_shift, dtype=float)[:, None]
    df = pd.DataFrame({"type": types})
    for k in range(4):
        df[f"level{k + 1}_uniform"] = uni[:, k]
    df["n_evals_uniform"] = 10
    for k in range(4):
        df[f"level{k + 1}_adaptive"] = ada[:, k]
    df["n_evals_adaptive"] = evals_adaptive
    return df


def test_appendix_d_claims_against_hand_computed_values():
    shifts = [0.02, -0.04, 0.03, 0.05]          # mean |Δα| per type = |shift|
    evals = [4, 5, 4, 3]
    saved, levels = claims.appendix_d_claims(_wide(shifts, evals), label="m Baseline")
    d = 10 - np.asarray(evals, float)
    from scipy import stats
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert saved.rows[0].diff == pytest.approx(d.mean()) and saved.rows[0].half == pytest.approx(half)
    assert saved.overall == "holds" and saved.rows[0].n == 4
    m = 0.1 - np.abs(shifts)
    assert levels.rows[0].diff == pytest.approx(m.mean())
    assert levels.rows[0].half == pytest.approx(stats.t.ppf(0.975, 3) * m.std(ddof=1) / 2)
    # adaptive levels two grid steps away: the claim does not hold
    _, far = claims.appendix_d_claims(_wide([0.2, -0.22, 0.21, 0.19], evals))
    assert far.overall == "does not hold"
    rows = claims.claim_rows([saved, levels], "appendixD_levels_ours")
    assert list(rows["suite"]) == ["evaluations per type", "levels (α)"]
    assert np.isnan(rows["paper_diff"].iloc[0]) and "not evaluation counts" in rows["paper_note"].iloc[0]
    assert rows["paper_diff"].iloc[1] == pytest.approx(claims._appendix_d_paper("levels (α)")[0])
    with pytest.raises(TypeError, match="levels table of notebook 03"):
        claims.appendix_d_claims(pd.DataFrame({"type": ["R+"]}))


def test_appendix_d_paper_value_from_the_published_table():
    pub = claims.published("appendixD_levels")
    pub = pub[pub.kind == "color_channel"]
    cols = ["level1", "level2", "level3", "level4"]
    ad = pub[pub.method == "adaptive"].sort_values("row")[cols].to_numpy(float)
    un = pub[pub.method == "baseline"].sort_values("row")[cols].to_numpy(float)
    value, note = claims._appendix_d_paper("levels (α)")
    assert value == pytest.approx(0.1 - np.abs(ad - un).mean()) and "12 colour-channel types" in note


def _kid_fid_summary(kid_mean, fid_mean, std=0.1, resamples=20):
    rows = []
    for n in (10, 20, 50, 200):
        for metric, m in (("KID", kid_mean), ("FID", fid_mean * 10 / n)):
            rows.append({"perturbation": "gaussian_noise", "magnitude": 0.2, "metric": metric, "n": n, "reference": 1.0,
                         "rel_error_mean": m, "rel_error_std": std, "abs_rel_error_mean": abs(m), "resamples": resamples})
    return pd.DataFrame(rows)


def test_appendix_e_claims_two_smallest_sizes_and_interval():
    from scipy import stats
    (c,) = claims.appendix_e_claims(_kid_fid_summary(0.01, 1.5))
    assert [r.suite for r in c.rows] == ["gaussian_noise@0.2, n=10", "gaussian_noise@0.2, n=20"]
    sd = 100 * 0.1 * np.sqrt(20 / 19)
    half = stats.t.ppf(0.975, 19) * np.sqrt(2 * sd ** 2 / 20)
    assert c.rows[0].diff == pytest.approx(100 * (1.5 - 0.01)) and c.rows[0].half == pytest.approx(half)
    assert c.overall == "holds"
    (tie,) = claims.appendix_e_claims(_kid_fid_summary(0.0, 0.0), sizes=[50])
    assert [r.suite for r in tie.rows] == ["gaussian_noise@0.2, n=50"] and tie.overall == "is inconclusive"
    rows = claims.claim_rows([c], "appendixE_kid_vs_fid")
    assert rows["paper_note"].str.contains("as a figure").all()
    with pytest.raises(ValueError, match="no rows at the sample sizes"):
        claims.appendix_e_claims(_kid_fid_summary(0.0, 0.0), sizes=[7])
    with pytest.raises(TypeError, match="summarise_sample_size_study"):
        claims.appendix_e_claims(pd.DataFrame({"n": [1]}))
