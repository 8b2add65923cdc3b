import numpy as np
import pandas as pd
import pytest

from repro import report


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
    s = report.suite_means(_scores(), by=("method", "suite"))
    r = s[(s.method == "ours") & (s.suite == "clean")].iloc[0]
    assert r["mIoU"] == pytest.approx(52.0, abs=0.2) and r["n_seeds"] == 3 and 0 < r["mIoU_std"] < 0.3


def test_table1_gain_and_paper_columns():
    t = report.table1(_scores())
    assert list(t["method"]) == ["Baseline", "AugMix", "SOTA", "Ours"]  # paper order
    ours = t[t.method == "Ours"].iloc[0]
    assert ours["mIoU_gain_vs_baseline_%"] == pytest.approx(30.0, abs=1.0)
    assert ours["paper_mIoU"] == pytest.approx(71.84)
    assert ours["paper_mIoU_gain_vs_baseline_%"] == pytest.approx(round(100 * (71.84 / 35.715 - 1), 1))


def test_table2_and_5_join_published():
    t2 = report.table2(_scores())
    assert set(t2["item"]) == {"camvid_dusk"}
    assert t2[t2.method == "Ours"]["paper_acdc_mIoU"].iloc[0] == pytest.approx(26.34)
    t5 = report.table5(_scores())
    row = t5[(t5.method == "Ours") & (t5.suite == "real_world")].iloc[0]
    assert row["paper_suite"] == "acdc" and row["paper_mIoU"] == pytest.approx(26.34)  # printed order aAcc, mIoU, mAcc
    assert t5[(t5.method == "Ours") & (t5.suite == "clean")]["paper_mIoU"].iloc[0] == pytest.approx(71.84)


def test_claim_sentences_follow_numbers():
    cmp = report.compare(_scores(), "ours", "sota", ["basis_aug", "real_world"])
    text = report.claim_sentence(cmp, "ours", "sota", "Ours ≥ SOTA on corrupted suites")
    assert "holds in our numbers" in text and "holds in 2, does not hold in 0, is inconclusive in 0 of 2" in text
    assert "paired over 3 seeds" in text and set(cmp["verdict"]) == {"holds"}
    cmp2 = report.compare(_scores(), "augmix", "sota", ["basis_aug"])
    assert "does not hold" in report.claim_sentence(cmp2, "augmix", "sota", "x")
    means = pd.Series({"ours": 3.0, "sota": 2.0, "baseline": 1.0})
    assert "the same order" in report.ordering_sentence(means, ["ours", "sota", "baseline"], "c")
    assert "a different order" in report.ordering_sentence(means, ["sota", "ours", "baseline"], "c")


def test_paired_interval_is_the_t_interval():
    from scipy import stats

    d = [1.0, 2.5, 0.5, 1.5]
    mean, half, n = report.paired_interval(d)
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(d), scale=stats.sem(d))
    assert n == 4 and mean == pytest.approx(1.375) and half == pytest.approx((hi - lo) / 2)
    assert np.isnan(report.paired_interval([2.0])[1]) and report.paired_interval([])[2] == 0
    assert report.verdict(1.0, 0.5) == "holds" and report.verdict(-1.0, 0.5) == "does not hold"
    assert report.verdict(0.2, 0.5) == "inconclusive" and report.verdict(3.0, float("nan")) == "inconclusive"


def test_compare_pairs_by_seed():
    """The interval comes from the per-seed differences, not from the spread of each method: a
    seed effect shared by both methods cancels."""
    rows = []
    for seed, shift in ((0, -5.0), (1, 0.0), (2, 5.0)):  # large seed effect, same for both methods
        for method, v in (("ours", 51.0), ("sota", 50.0)):
            rows.append({"dataset": "camvid", "model": "m", "method": method, "seed": seed, "suite": "clean",
                         "item": "clean", "level": "", "aAcc": 0.0, "mAcc": 0.0, "mIoU": v + shift + 0.01 * seed})
    rows.append({**rows[0], "method": "ours", "seed": 7, "mIoU": 99.0})  # a seed sota lacks: not paired
    cmp = report.compare(pd.DataFrame(rows), "ours", "sota", ["clean"])
    r = cmp.iloc[0]
    assert r["n"] == 3 and r["diff"] == pytest.approx(1.0) and r["half"] < 1e-9 and r["verdict"] == "holds"
    text = report.claim_sentence(cmp, "ours", "sota", "c")
    assert "+1.00 ± 0.00, holds" in text
    one = report.compare(pd.DataFrame(rows[:2]), "ours", "sota", ["clean"])
    assert one.iloc[0]["verdict"] == "inconclusive" and "one seed" in report.claim_sentence(one, "ours", "sota", "c")


def test_bad_scores():
    with pytest.raises(ValueError, match="scores lack columns"):
        report.suite_means(pd.DataFrame({"a": [1]}))
    with pytest.raises(TypeError, match="scores must be a DataFrame"):
        report.suite_means([1])


def test_claims_are_the_compare_sentences_labelled_group_by_group():
    s = pd.concat([_scores(), _scores().assign(model="segformer_b0")])
    specs = [("ours", "sota", ["basis_aug"], "A"), ("ours", "baseline", ["clean"], "B")]
    got = report.claims(s, specs, by="model", groups=["segformer_b0", "pspnet_r18"])
    want = [f"{m}: " + report.claim_sentence(report.compare(s[s.model == m], a, b, suites), a, b, text)
            for m in ("segformer_b0", "pspnet_r18") for a, b, suites, text in specs]
    assert got == want and got[0].startswith("segformer_b0: Claim 'A' holds")
    assert report.claims(s, specs) == [report.claim(s, a, b, su, t) for a, b, su, t in specs]
    assert report.claim(s, "ours", "sota", ["clean"], "C", label="x").startswith("x: Claim 'C'")
    with pytest.raises(ValueError, match="by must be a column of scores"):
        report.claims(s, specs, by="backbone")


def test_method_order_claim_and_loss_sentence():
    t1 = report.table1(_scores())
    pub = report.published("table1_cityscapes_methods")
    text = report.method_order_claim(t1.assign(model="pspnet_r18"), pub, "pspnet_r18", "order")
    assert text.startswith("pspnet_r18: Claim 'order': the paper's order is ") and "ours is Ours > SOTA > AugMix > Baseline" in text
    line = report.loss_sentence(_scores(), "clean", "real_world", "lost", label="m")
    means = report.suite_means(_scores(), by=("method", "suite")).set_index(["method", "suite"])["mIoU"]
    assert line == "m: lost: " + ", ".join(f"{report.METHOD_NAMES[m]} {means[m, 'clean'] - means[m, 'real_world']:.1f}"
                                          for m in sorted(["augmix", "baseline", "ours", "sota"]))


def test_publish_writes_table_and_figure(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from repro import paths

    monkeypatch.setattr(paths, "TABLES_DIR", tmp_path)
    t1 = report.table1(_scores()).assign(model="pspnet_r18")
    fig = report.publish(t1, "table1_test", profile="cpu", caption="cap", notes=["n1"],
                         plot=dict(group="method", hue="model", value="mIoU", err="mIoU_std", title="T"))
    out = paths.output_dir("cpu")
    assert (out / "table1_test.png").is_file() and fig is not None
    md = (out / "table1_test.md").read_text()
    assert md.startswith("cap\n") and "- n1" in md and (out / "table1_test.csv").is_file()
    assert report.publish(t1, "table1_nofig", profile="cpu", caption="c") is None
    assert not (out / "table1_nofig.png").exists()


def test_plot_bars_groups_by_several_columns():
    import matplotlib

    matplotlib.use("Agg")
    t = report.suite_means(_scores(), by=("dataset", "suite", "method"))
    fig = report.plot_bars(t, group=["dataset", "suite"], hue="method", err="mIoU_std")
    labels = [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    assert labels == ["camvid/clean", "camvid/basis_aug", "camvid/real_world"]
    assert "_group" not in t.columns  # the caller's frame is left as it is
