"""``python -m repro robustness --compare A B``: a short summary first, every differing number in a CSV file."""
import csv
import json

import pytest

from repro import robustness as rb
from repro.cli import main

from test_robustness import _conv, _write_folder  # the tiny data and models of the report tests

KW = dict(suites=["clean", "basis_aug", "imagenet_c"], corruptions=["fog", "gaussian_noise"], severities=(1, 3),
          types=["R+"], magnitudes=(1.0,), extractor="conv-random", kid_severities=(), batch_size=2, render=False,
          progress=False)


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory):
    """A: model 0 with a reference model; B: model 1 without one (the case of issue 24)."""
    from repro.data import FolderDataset

    root = tmp_path_factory.mktemp("cmp")
    d = _write_folder(root / "tiny", 3, 0)
    data = FolderDataset(d / "images", d / "labels", ("a", "b", "c"), name="tiny")
    a = rb.robustness_report(_conv(0), data, out=root / "A", reference=_conv(2), reference_name="ref2",
                             model_name="model0", **KW)
    b = rb.robustness_report(_conv(1), data, out=root / "B", model_name="model1", **KW)
    return root, a, b


def test_compare_prints_a_short_summary_and_writes_every_row_to_csv(two_reports, tmp_path, capsys):
    root, a, b = two_reports
    out = tmp_path / "cmp"
    assert main(["robustness", "--compare", str(root / "A"), str(root / "B"), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    diff = rb.compare_reports(root / "A", root / "B")
    assert len(lines) <= 12 < len(diff)  # the rows go to the file, not to the terminal
    text = "\n".join(lines)
    assert "reference model: A ref2" in text and "B none" in text
    assert "only A has a reference model: mCE is defined for that report only" in text
    floor = a["floor"]["mIoU"]
    assert floor == b["floor"]["mIoU"] and f"trivial floor (majority class everywhere), mIoU points: A {floor:.2f}" in text
    for s in ("clean", "basis_aug", "imagenet_c"):
        ma, mb = a["suites"][s]["summary"]["mIoU"], b["suites"][s]["summary"]["mIoU"]
        line = next(x for x in lines if x.startswith(f"  {s}: "))
        side = "B better" if mb > ma else "A better"
        assert f"mean mIoU A {ma:.2f}, B {mb:.2f}, B-A {mb - ma:+.2f} ({side})" in line, line
        if s != "clean":
            rra, rrb = a["suites"][s]["resilience"]["mean"], b["suites"][s]["resilience"]["mean"]
            assert f"rR A {rra:.2f}%, B {rrb:.2f}%" in line
    ic = next(x for x in lines if x.startswith("  imagenet_c: "))
    mce = a["suites"]["imagenet_c"]["corruption_error"]["mCE"]
    assert f"mCE A {mce:.2f}, B – (not comparable: only one report has a reference)" in ic
    path = out / "compare_A_vs_B.csv"
    assert lines[-1] == f"{len(diff)} differing numbers (number, a, b, b_minus_a) written to {path}"
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(diff) and list(rows[0]) == ["number", "a", "b", "b_minus_a"]
    got = {r["number"]: r for r in rows}
    key = "imagenet_c/fog/3/mIoU"
    assert float(got[key]["b_minus_a"]) == pytest.approx(float(diff.set_index("number").loc[key, "b_minus_a"]))
    assert got["imagenet_c/mCE"]["b"] == ""  # only A has it
    assert "imagenet_c/mean_rR" in got and "meta:model" in got


def test_compare_csv_default_path_and_csv_out(two_reports, tmp_path, capsys, monkeypatch):
    root, _, _ = two_reports
    monkeypatch.chdir(tmp_path)
    assert main(["robustness", "--compare", str(root / "B" / "report.json"), str(root / "A")]) == 0
    assert capsys.readouterr().out.rstrip().endswith("written to compare_B_vs_A.csv")
    assert (tmp_path / "compare_B_vs_A.csv").is_file()
    assert main(["robustness", "--compare", str(root / "A"), str(root / "B"), "--out", "x/d.csv"]) == 0
    assert (tmp_path / "x" / "d.csv").is_file()


def test_compare_summary_same_reference_compares_mce(two_reports):
    _, a, _ = two_reports
    b = json.loads(json.dumps(a))
    b["suites"]["imagenet_c"]["corruption_error"]["mCE"] = a["suites"]["imagenet_c"]["corruption_error"]["mCE"] - 5
    ic = next(x for x in rb.compare_summary(a, b) if x.startswith("  imagenet_c: "))
    assert ic.endswith("(B better)")  # lower mCE wins, against the same reference
    assert "(the same in both)" in rb.compare_summary(a, b)[1]
    neither = {**a, "reference": None}
    lines = rb.compare_summary(neither, {**neither})
    assert "neither report has a reference model" in lines[1]
    with pytest.raises(FileNotFoundError, match="no report.json"):
        rb.compare_summary(a, "/nonexistent/folder")
