import json

import numpy as np
import pandas as pd
import pytest

from repro.paper import claims, claims_page, outputs, reproduce, tables
from repro.paper.publish import publish
from repro.base import paths


def _row(table, claim, label, suite, diff, half, n, verdict, paper_diff=np.nan, note="", paper_order="", ours_order=""):
    return {"table": table, "claim": claim, "label": label, "a": "ours", "b": "sota", "suite": suite, "metric": "mIoU",
            "ours_diff": diff, "ours_half": half, "n": n, "verdict": verdict, "overall": verdict, "paper_diff": paper_diff,
            "paper_note": note, "paper_order": paper_order, "ours_order": ours_order}


def _write(folder, name, rows):
    df = pd.DataFrame(rows, columns=list(claims.CLAIM_COLUMNS))
    df.to_csv(folder / f"{name}{claims.CLAIMS_SUFFIX}", index=False, float_format="%.4f")


@pytest.fixture
def tables_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "TABLES_DIR", tmp_path)
    return tmp_path


def test_page_counts_links_and_order(tables_dir):
    out = tables_dir / "smoke"
    out.mkdir()
    # written in the "wrong" order on purpose: the page sorts by table (table4 before table10)
    _write(out, "table10_extra", [_row("table10_extra", "Z", "", "clean", -2.0, 0.5, 3, "does not hold")])
    _write(out, "table4_datasets", [
        _row("table4_datasets", "Ours >= SOTA on corrupted suites", "camvid", "basis_aug", 1.234, 0.456, 3, "holds",
             6.351, "cityscapes, closest published domain to camvid"),
        _row("table4_datasets", "Ours >= SOTA on corrupted suites", "camvid", "advsteer", 0.1, 0.9, 3, "inconclusive",
             2.615, "cityscapes, closest published domain to camvid"),
        _row("table4_datasets", "Ours keeps clean accuracy", "camvid", "clean", 0.5, np.nan, 1, "inconclusive",
             np.nan, "the paper has no Ours or SOTA row for dataset x"),
        {**_row("table4_datasets", "order", "fastscnn", "", np.nan, np.nan, np.nan, "different order",
                paper_order="Ours > SOTA", ours_order="SOTA > Ours"), "a": "", "b": ""},
    ])
    path = claims_page.write_claims_page("smoke")
    assert path == out / "CLAIMS.md"
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == "# The paper's claims in our numbers (profile `smoke`)"
    assert lines[2].startswith("**4 claim rows — holds: 1, does not hold: 1, inconclusive: 2.**")
    assert "Orderings: 0 of 1 in the paper's order." in lines[2]
    assert "95% Student-t interval" in text and "single numbers" in text
    body = [ln for ln in lines if ln.startswith("| Table")]
    assert len(body) == 5
    assert body[0] == ("| Table 4 | Ours >= SOTA on corrupted suites | camvid | basis_aug | +6.35 (cityscapes, closest "
                       "published domain to camvid) | +1.23 ± 0.46 (n=3) | holds | [table4_datasets.md](table4_datasets.md) |")
    assert "| +0.50 (n=1, no interval) | inconclusive |" in body[2] and "| — (the paper has no" in body[2]
    assert "| Ours > SOTA | SOTA > Ours | different order |" in body[3]
    assert body[4].startswith("| Table 10 | Z |  | clean | — | -2.00 ± 0.50 (n=3) | does not hold | [table10_extra.md]")
    assert claims_page.write_claims_page("smoke").read_text() == text  # deterministic


def test_page_without_claims(tables_dir):
    text = claims_page.write_claims_page("paper").read_text()
    assert (tables_dir / "paper" / "CLAIMS.md").is_file()
    assert "No claims were computed yet for profile `paper`" in text and "|" not in text
    assert claims_page.read_claims(tables_dir / "missing").empty


def test_page_from_published_tables(tables_dir):
    s = pd.DataFrame([{"dataset": "camvid", "model": "fastscnn", "method": m, "seed": seed, "suite": "clean",
                       "item": "clean", "level": "", "aAcc": 0.0, "mAcc": 0.0, "mIoU": v + seed * 0.1 * (m == "ours")}
                      for seed in (0, 1, 2) for m, v in (("ours", 51.0), ("sota", 50.0))])
    notes = claims.claims(s, [("ours", "sota", ["clean"], "Ours >= SOTA on clean data")], by="model")
    publish(tables.table1(s), "table1_methods", profile="cpu", caption="c", notes=notes)
    text = claims_page.write_claims_page("cpu").read_text()
    cmp = claims.compare(s, "ours", "sota", ["clean"]).iloc[0]
    assert f"| {cmp['diff']:+.2f} ± {cmp['half']:.2f} (n=3) | holds | [table1_methods.md](table1_methods.md) |" in text
    assert "| Table 1 | Ours >= SOTA on clean data | fastscnn | clean | +1.98 (Cityscapes, pspnet) |" in text
    assert text.count("**1 claim row — holds: 1, does not hold: 0, inconclusive: 0.**") == 1


def test_bad_profile(tables_dir):
    with pytest.raises(ValueError, match="profile must be one of smoke, cpu, paper, got 'gpu'"):
        claims_page.write_claims_page("gpu")
    with pytest.raises(TypeError, match="profile must be a string"):
        claims_page.write_claims_page(None)
    assert not any(tables_dir.iterdir())  # nothing written


def test_paper_table_label():
    assert claims_page.paper_table_label("table1_methods") == "Table 1"
    assert claims_page.paper_table_label("appendixD_compare") == "Appendix D"
    assert claims_page.paper_table_label("data_brightness") == "data_brightness"


def test_index_links_claims_page_and_each_claims_file_once(tables_dir):
    outputs.save_table(pd.DataFrame({"a": [1.0]}), "table1_methods", profile="smoke", caption="T1")
    outputs.save_table(pd.DataFrame({"a": [1.0]}), "table2_real_world", profile="smoke", caption="T2")
    _write(tables_dir / "smoke", "table1_methods", [_row("table1_methods", "c", "m", "clean", 1.0, 0.5, 3, "holds")])
    index = reproduce.write_index("smoke").read_text()
    assert "[CLAIMS.md](CLAIMS.md)" in index
    assert index.count("table1_methods_claims.csv") == 2  # one link: [name](name)
    assert ("| [table1_methods.csv](table1_methods.csv), [table1_methods.md](table1_methods.md), "
            "[table1_methods_claims.csv](table1_methods_claims.csv) | table |") in index
    assert "table2_real_world_claims" not in index
    recorded = json.loads((tables_dir / "smoke" / ".index.json").read_text())
    assert sorted(recorded) == ["table1_methods", "table2_real_world"]


def test_page_names_the_metric_of_appendix_rows(tables_dir):
    out = tables_dir / "smoke"
    out.mkdir()
    row = {**_row("appendixD_levels_ours", "adaptive SA needs fewer evaluations", "m Baseline", "evaluations per type",
                  5.75, 0.52, 24, "holds", np.nan, "the paper's Appendix D prints levels, not evaluation counts"),
           "a": "adaptive", "b": "uniform", "metric": "evaluations saved: uniform − adaptive"}
    _write(out, "appendixD_levels_ours", [row])
    text = claims_page.write_claims_page("smoke").read_text()
    assert ("| Appendix D | adaptive SA needs fewer evaluations | m Baseline | evaluations per type [evaluations saved: "
            "uniform − adaptive] | — (the paper's Appendix D prints levels, not evaluation counts) | +5.75 ± 0.52 (n=24) "
            "| holds |") in text
    assert "resampled subsets (E) instead of seeds" in text
