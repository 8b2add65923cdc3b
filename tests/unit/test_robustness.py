"""repro.robustness: the robustness report, its resume, the corruption error, compare and the CLI."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from repro.evaluation import suites as ev
from repro import robustness as rb
from repro.data import FolderDataset

CORR = ["fog", "glass_blur"]
SEV = (1, 3)
TYPES = ["R+", "rotate+"]
MAGS = (0.5, 1.0)
SMALL = dict(corruptions=CORR, severities=SEV, types=TYPES, magnitudes=MAGS, combinations=(1, 3),
             extractor="conv-random", sa_subset=3, analysis=dict(budget=3), kid_subsets=10, batch_size=2, progress=False)


def _write_folder(root: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    yy, xx = np.mgrid[0:40, 0:48]
    for i in range(n):
        img = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        lab = ((xx + yy * (i + 1)) // 16 % 3).astype(np.uint8)
        img[..., 0] = (lab * 100 + rng.integers(0, 30, lab.shape)).astype(np.uint8)  # class readable from red
        Image.fromarray(img).save(root / "images" / f"im{i}.png")
        Image.fromarray(lab).save(root / "labels" / f"im{i}.png")
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = _write_folder(tmp_path_factory.mktemp("rb") / "tiny", 3, 0)
    return FolderDataset(root / "images", root / "labels", ("a", "b", "c"), name="tiny")


@pytest.fixture(scope="module")
def dusk(tmp_path_factory):
    root = _write_folder(tmp_path_factory.mktemp("rb") / "dusk", 2, 1)
    return FolderDataset(root / "images", root / "labels", ("a", "b", "c"), name="dusk")


def _conv(seed=0):
    g = torch.Generator().manual_seed(seed)
    m = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        m.weight.copy_(torch.randn(m.weight.shape, generator=g))
        m.bias.copy_(torch.randn(3, generator=g))
    return m


@pytest.fixture(scope="module")
def full(data, dusk, tmp_path_factory):
    out = tmp_path_factory.mktemp("rb") / "full"
    rep = rb.robustness_report(_conv(), data, out=out, reference=_conv(), real_world={"dusk": dusk}, **SMALL)
    return out, rep


def test_report_files(full):
    out, rep = full
    for f in ("report.json", "report.md", "report.html", "timing.json", "basis_perturbations.png",
              "sampling_distribution.png", "imagenet_c.png"):
        assert (out / f).is_file(), f
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and 'src="http' not in html and ".png\"" not in html
    assert "## ImageNet-C" in (out / "report.md").read_text()
    j = json.loads((out / "report.json").read_text())
    assert j == json.loads(json.dumps(rep))
    assert j["versions"]["torch"] == torch.__version__ and j["versions"]["imagecorruptions"]
    assert len(j["data"]["sha256"]) == 64 and j["data"]["n_images"] == 3 and j["seed"] == 0
    assert j["extractors"] and all(k["extractor"] in j["extractors"] for k in j["kid"])
    assert {k["what"].split()[0] for k in j["kid"]} == {"sensitivity", "imagenet_c", "real_world"}
    p = sum(r["p"] for r in j["sampling"]["probabilities"])
    assert p == pytest.approx(1.0)
    assert {r["type"] for r in j["sensitivity"]["levels"]} == set(TYPES)


def test_numbers_equal_evaluate(full, data, dusk):
    _, rep = full
    m = _conv()
    kw = dict(seed=0, batch_size=2, progress=False)
    expected = {
        "clean": ev.evaluate(m, data, "clean", **kw),
        "basis_aug": ev.evaluate(m, data, "basis_aug", types=TYPES, magnitudes=MAGS, **kw),
        "imagenet_c": ev.evaluate(m, data, "imagenet_c", corruptions=CORR, severities=SEV, **kw),
        "advsteer": ev.evaluate(m, data, "advsteer", combinations=(1, 3), **kw),
        "real_world": ev.evaluate(m, {"dusk": dusk}, "real_world", **kw),
    }
    for suite, res in expected.items():
        got = rep["suites"][suite]["rows"]
        want = res.table.to_dict(orient="records")
        assert [(r["item"], r["level"]) for r in got] == [(r["item"], r["level"]) for r in want]
        for g, w in zip(got, want):
            for metric in ev.METRICS:
                assert g[metric] == w[metric], (suite, g["item"], metric)
        assert rep["suites"][suite]["summary"] == pytest.approx(res.summary, abs=1e-12)


def test_corruption_error_against_itself_is_100(data, tmp_path):
    rep = rb.robustness_report(_conv(), data, suites=["clean", "imagenet_c"], out=tmp_path / "r",
                               reference=_conv(), render=False, **SMALL)
    ce = rep["suites"]["imagenet_c"]["corruption_error"]
    for c in CORR:
        assert ce["per_corruption"][c]["CE"] == pytest.approx(100.0)
    assert ce["mCE"] == pytest.approx(100.0) and ce["mCE_all"] == pytest.approx(100.0)


def test_corruption_error_formula():
    rows = [{"item": "fog", "level": s, "mIoU": m} for s, m in ((1, 80.0), (2, 60.0))]
    ref = [{"item": "fog", "level": s, "mIoU": m} for s, m in ((1, 70.0), (2, 50.0))]
    ce = rb.corruption_errors(rows, 90.0, ref, 80.0)["per_corruption"]["fog"]
    assert ce["CE"] == pytest.approx(100 * (0.2 + 0.4) / (0.3 + 0.5))
    assert ce["rCE"] == pytest.approx(100 * (0.1 + 0.3) / (0.1 + 0.3))
    assert ce["mean_error"] == pytest.approx(0.3)
    no_ref = rb.corruption_errors(rows, 90.0)
    assert no_ref["per_corruption"]["fog"]["CE"] is None and no_ref["mCE"] is None
    with pytest.raises(ValueError, match="reference lacks corruption 'fog'"):
        rb.corruption_errors(rows, 90.0, ref[:1], 80.0)


def test_interrupted_run_resumes_to_the_same_json(full, data, dusk, tmp_path, monkeypatch):
    out_ref, _ = full
    real = ev.score_item
    calls = []

    def failing(model, dataset, suite, item, level, **kw):
        calls.append((suite, item, level))
        if (suite, item, level) == ("imagenet_c", "glass_blur", 1):
            raise RuntimeError("interrupted")
        return real(model, dataset, suite, item, level, **kw)

    monkeypatch.setattr(ev, "score_item", failing)
    out = tmp_path / "resumed"
    with pytest.raises(RuntimeError, match="interrupted"):
        rb.robustness_report(_conv(), data, out=out, reference=_conv(), real_world={"dusk": dusk}, **SMALL)
    done = len(list((out / "items").rglob("*.json")))
    assert done >= 1 + len(TYPES) * len(MAGS) + 2  # clean, basis_aug, fog: kept
    monkeypatch.setattr(ev, "score_item", real)
    counted = []
    monkeypatch.setattr(ev, "score_item", lambda *a, **k: counted.append(a[2:5]) or real(*a, **k))
    rb.robustness_report(_conv(), data, out=out, reference=_conv(), real_world={"dusk": dusk}, **SMALL)
    # the items finished before the interruption are read back (the reference has the same weights here,
    # so its items share the model's entries, except fog 3, whose model entry carries a KID); scoring
    # restarts at the failed item
    assert counted[0] == ("imagenet_c", "glass_blur", 1)
    assert not [c for c in counted if c[0] in ("clean", "basis_aug") or c[1:] == ("fog", 1)]
    assert (out / "report.json").read_text() == (out_ref / "report.json").read_text()


def test_same_seed_same_numbers_other_seed_differs(data, full, tmp_path):
    _, rep = full
    kw = {**SMALL, "corruptions": ["gaussian_noise"], "severities": (5,)}
    a = rb.robustness_report(_conv(), data, suites=["basis_aug", "imagenet_c"], out=tmp_path / "a", render=False, **kw)
    assert a["suites"]["basis_aug"]["rows"] == rep["suites"]["basis_aug"]["rows"]
    again = rb.robustness_report(_conv(), data, suites=["basis_aug", "imagenet_c"], out=tmp_path / "a2", render=False,
                                 **kw)
    assert again == a
    rb.robustness_report(_conv(), data, suites=["basis_aug", "imagenet_c"], out=tmp_path / "b", seed=1, render=False,
                         **kw)
    diff = rb.compare_reports(tmp_path / "a", tmp_path / "b")
    assert "meta:seed" in set(diff["number"])
    assert not diff[diff["number"].str.startswith("imagenet_c/gaussian_noise/5/")].empty  # the noise draws moved
    assert diff[diff["number"].str.startswith("basis_aug/rotate+")].empty  # rotations draw nothing
    assert rb.compare_reports(tmp_path / "a", tmp_path / "a2").empty


def test_preprocess_is_applied(data, tmp_path):
    m = _conv()
    pre = torch.nn.Identity()
    a = rb.robustness_report(m, data, suites=["clean"], out=tmp_path / "a", preprocess=lambda x: 1 - x,
                             render=False, progress=False)
    b = ev.evaluate(lambda x: m(1 - x), data, "clean", progress=False)
    assert a["suites"]["clean"]["rows"][0]["mIoU"] == b.table["mIoU"].iloc[0]
    with pytest.raises(TypeError, match="preprocess must be callable"):
        rb.robustness_report(m, data, suites=["clean"], out=tmp_path / "c", preprocess=3, progress=False)
    assert pre(torch.ones(1)).item() == 1


def test_argument_errors(data, tmp_path):
    m = _conv()
    with pytest.raises(ValueError, match="suites must be a list of names"):
        rb.robustness_report(m, data, suites=["clean", "nope"], out=tmp_path / "x")
    with pytest.raises(TypeError, match="dataset must be a repro.data.SegDataset"):
        rb.robustness_report(m, [1, 2], out=tmp_path / "x")
    with pytest.raises(ValueError, match="needs model_key"):
        rb.robustness_report(lambda x: m(x), data, suites=["clean"], out=tmp_path / "x")
    with pytest.raises(TypeError, match="unknown analysis setting\\(s\\) sa_budget"):
        rb.robustness_report(m, data, suites=["clean"], out=tmp_path / "x", analysis=dict(sa_budget=3))
    with pytest.raises(ValueError, match="method 'none' has no analysis to report"):
        rb.robustness_report(m, data, suites=["clean"], out=tmp_path / "x", analysis=dict(method="none"))
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------------------ suites: one builder


def _seed(*parts):
    """The package's seed rule written out (repro.base.seeds): SHA-1 of "seed|part|...", first 15 hex digits."""
    import hashlib

    return int(hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:15], 16)


def _reference_item_batches(dataset, suite, item, level, seed, batch_size):
    """The suites' perturbation written out inline from the seed rule: basis_aug and advsteer draw from one
    generator per item through the chunks (the same draws at every magnitude), ImageNet-C per image name."""
    from repro.evaluation import corruptions as corrupt
    from repro import perturb

    images, labels = dataset.batch(None)
    chunks = [(images[s:s + batch_size], labels[s:s + batch_size]) for s in range(0, len(images), batch_size)]
    if suite == "clean":
        return chunks
    if suite == "basis_aug":
        g = torch.Generator().manual_seed(_seed(seed, item))
        return [perturb.apply(x, y, item, float(level), generator=g, border="zoom") for x, y in chunks]
    if suite == "advsteer":
        c = int(item.split("_")[1])
        g = torch.Generator().manual_seed(_seed(seed, "advsteer", c))
        return [corrupt.advsteer(x, y, c, variant="paper", generator=g) for x, y in chunks]
    out = []
    names = dataset.names
    for b, (x, y) in enumerate(chunks):
        seeds = [_seed(seed, item, level, n) for n in names[b * batch_size:b * batch_size + len(x)]]
        x2, y2 = corrupt.imagenet_c(x, y, item, level, seed=seeds)
        out.append(((x2.clamp(0, 1) * 255).round().to(torch.uint8).float() / 255.0, y2))
    return out


@pytest.mark.parametrize("suite,item,level", [("clean", "clean", ""), ("basis_aug", "gaussian_noise", 0.6),
                                              ("basis_aug", "rotate-", 1.0), ("advsteer", "advsteer_2", ""),
                                              ("imagenet_c", "elastic_transform", 2), ("imagenet_c", "fog", 4)])
def test_shared_suite_builder_follows_the_seed_rule(data, suite, item, level):
    new = list(ev.item_batches(data, suite, item, level, seed=3, batch_size=2))
    old = _reference_item_batches(data, suite, item, level, 3, 2)
    assert len(new) == len(old) == 2
    for (x1, y1), (x0, y0) in zip(new, old):
        assert torch.equal(x1, x0) and torch.equal(y1, y0)


def test_suite_items_order_is_the_notebooks():
    from repro import perturb

    items = ev.suite_items("basis_aug", magnitudes=[1.0])
    assert items == [(t, 1.0) for t in perturb.NAMES]
    assert ev.suite_items("imagenet_c", corruptions=["fog", "snow"], severities=[3]) == [("fog", 3), ("snow", 3)]
    assert ev.suite_items("advsteer", combinations=[1, 2]) == [("advsteer_1", ""), ("advsteer_2", "")]
    assert ev.even_indices(171, 12) == np.linspace(0, 170, 12).round().astype(int).tolist()
    assert ev.even_indices(10, 0) is None and ev.even_indices(10, 10) is None


# ------------------------------------------------------------------------------------------ CLI


def test_cli_errors_one_line_exit_2(tmp_path, capsys):
    from repro.cli import main

    cfg = tmp_path / "c.py"
    cfg.write_text("model = dict()\n")
    ck = tmp_path / "w.pth"
    ck.write_bytes(b"0")
    out = tmp_path / "never"
    cases = [
        ([str(tmp_path / "missing.py"), str(ck), "--data", "camvid:test"], "config .*missing.py: no such file"),
        ([str(cfg), str(tmp_path / "none.pth"), "--data", "camvid:test"], "checkpoint .*none.pth: no such file"),
        ([str(cfg), str(ck), "--data", str(tmp_path / "nodata")], "data .*nodata: no such folder"),
        ([str(cfg), str(ck), "--data", "camvid:nosplit"], "camvid has no split 'nosplit'"),
        ([str(cfg), str(ck), "--data", "camvid:test", "--suites", "clean,bogus"], "--suites: unknown bogus"),
        ([str(cfg), str(ck), "--data", "camvid:test", "--reference", str(cfg), str(tmp_path / "r.pth")],
         "reference checkpoint .*r.pth: no such file"),
    ]
    (tmp_path / "half").mkdir()
    cases.append(([str(cfg), str(ck), "--data", str(tmp_path / "half")], "half/images: folder missing"))
    for argv, msg in cases:
        assert main(["robustness", *argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("python -m repro robustness: error: "), err
        import re

        assert re.search(msg, err), (msg, err)
        assert not out.exists()
    assert main(["robustness", "--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "no report.json" in capsys.readouterr().err


def test_cli_compare_prints_differences(full, data, tmp_path, capsys):
    from repro.cli import main

    out, rep = full
    other = json.loads((out / "report.json").read_text())
    other["suites"]["clean"]["rows"][0]["mIoU"] += 1.5
    other["suites"]["clean"]["summary"]["mIoU"] += 1.5
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "report.json").write_text(json.dumps(other))
    assert main(["robustness", "--compare", str(out), str(tmp_path / "b"), "--out", str(tmp_path / "d.csv")]) == 0
    text = capsys.readouterr().out
    assert "clean: mean mIoU" in text and "B-A +1.50 (B better)" in text
    assert "clean/clean/mIoU,{},{},1.5".format(rep["suites"]["clean"]["rows"][0]["mIoU"],
                                               other["suites"]["clean"]["rows"][0]["mIoU"]) \
        in (tmp_path / "d.csv").read_text()
    assert main(["robustness", "--compare", str(out), str(out)]) == 0
    assert capsys.readouterr().out.startswith("no differences (")


# ------------------------------------------------------------------------------------------ readability (issue 24)


def test_trivial_floor_of_a_hand_computed_confusion_matrix():
    from repro.scoring.metrics import ConfusionMatrix, majority_floor, segmentation_scores

    # binary, 92 % background: predicting background everywhere scores IoU_bg = 0.92, IoU_fg = 0 -> mIoU 46
    f = majority_floor(np.array([[80, 12], [3, 5]]))
    assert f["class"] == 0 and f["fraction"] == pytest.approx(0.92)
    assert f["mIoU"] == pytest.approx(46.0) and f["aAcc"] == pytest.approx(92.0) and f["mAcc"] == pytest.approx(50.0)
    # 3 classes, class 2 absent from the labels (left out of the mean), class 1 the majority
    f = majority_floor(torch.tensor([[10, 0, 0], [5, 20, 5], [0, 0, 0]]))
    assert f["class"] == 1 and f["mIoU"] == pytest.approx(100 * (30 / 40) / 2) and f["mAcc"] == pytest.approx(50.0)
    assert majority_floor(np.array([[3, 2], [0, 5]]))["class"] == 0  # a tie: the lowest id
    assert np.isnan(majority_floor(np.zeros((2, 2)))["mIoU"]) and majority_floor(np.zeros((2, 2)))["class"] is None
    # the same as scoring a constant prediction of the majority class, ignored pixels skipped
    labels = torch.zeros(2, 8, 8, dtype=torch.long)
    labels[0, :2] = 1
    labels[1, 0, :3] = 255
    want = segmentation_scores(torch.zeros_like(labels), labels, 2)
    got = rb.trivial_floor(labels, 2, 255, ("background", "vessel"))
    assert got["class_name"] == "background" and got["mIoU"] == pytest.approx(want["mIoU"])
    assert got == {**majority_floor(ConfusionMatrix(2).update(labels, labels)), "class_name": "background"}
    with pytest.raises(ValueError, match=r"matrix must be a C×C confusion matrix"):
        majority_floor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="matrix must hold finite counts >= 0"):
        majority_floor(np.array([[1, -1], [0, 1]]))


def test_resilience_rate_formula():
    rows = [{"item": "fog", "level": 1, "mIoU": 80.0}, {"item": "fog", "level": 2, "mIoU": 60.0},
            {"item": "gaussian_noise", "level": 1, "mIoU": 45.0}, {"item": "gaussian_noise", "level": 2, "mIoU": 45.0},
            {"item": "speckle_noise", "level": 1, "mIoU": 9.0}, {"item": "speckle_noise", "level": 2, "mIoU": 9.0}]
    r = rb.resilience_rates(rows, 90.0)
    assert r["per_item"]["fog"] == pytest.approx(100 * 70 / 90)
    assert r["per_item"]["gaussian_noise"] == pytest.approx(50.0) and r["per_item"]["speckle_noise"] == pytest.approx(10.0)
    assert r["mean_common"] == pytest.approx((100 * 70 / 90 + 50) / 2)  # fog and gaussian_noise: common
    assert r["mean_held_out"] == pytest.approx(10.0)  # speckle_noise: held out
    assert r["mean"] == pytest.approx((100 * 70 / 90 + 50 + 10) / 3)
    undefined = rb.resilience_rates(rows, 0.0)
    assert undefined["mean"] is None and undefined["per_item"]["fog"] is None


def test_report_floor_resilience_units_and_kid_scale(full, data):
    from repro.robustness.render import KID_COLUMN, KID_SCALE, KID_SCALE_SHORT

    out, rep = full
    clean = rep["suites"]["clean"]["rows"][0]["mIoU"]
    ic = rep["suites"]["imagenet_c"]
    for c in CORR:
        mi = [r["mIoU"] for r in ic["rows"] if r["item"] == c]
        assert ic["resilience"]["per_item"][c] == pytest.approx(100 * np.mean(mi) / clean)
    assert all("resilience" in rep["suites"][s] for s in ("basis_aug", "imagenet_c", "advsteer", "real_world"))
    _, labels = data.batch(None)
    assert rep["floor"] == rb.trivial_floor(labels, 3, 255, ("a", "b", "c"))
    md = (out / "report.md").read_text()
    import html as html_mod

    html = html_mod.unescape((out / "report.html").read_text())
    for text in (md, html):
        assert "in points (0–100)" in text and "mIoU (%)" not in text and "Scores in percent" not in text
        assert f"trivial floor: all '{rep['floor']['class_name']}'" in text
        assert f"trivial floor mIoU {rep['floor']['mIoU']:.2f}" in text
        assert f"mean rR common (%) {ic['resilience']['mean_common']:.2f}" in text  # beside mCE
        assert "mean error (points)" in text and "rR (%)" in text
        assert KID_COLUMN in text and KID_SCALE in text and KID_SCALE_SHORT in text
        assert ">None<" not in text and "| None |" not in text  # undefined values are shown as a dash
    kid_tables = [blk for blk in md.split("\n\n") if blk.startswith("| what |")]
    assert len(kid_tables) == 1 and kid_tables[0].startswith(f"| what | {KID_COLUMN} |")


def test_converted_images_note(data, tmp_path):
    class Converted:  # another dataset object with the flag set (repro.data's datasets may carry it)
        converted = "L"
        name, split = "gray", "test"

    assert rb.converted_note(data) is None  # no attribute: no note
    note = rb.converted_note(Converted())
    assert note.startswith("the images of gray/test were converted to RGB on reading (source mode L)")
    assert "(3 images)" in rb.converted_note(type("C", (), {"converted": 3})())
    assert "(L: 2)" in rb.converted_note(type("C", (), {"converted": {"L": 2}})())
    for off in (None, False, 0, "", ()):
        assert rb.converted_note(type("C", (), {"converted": off})()) is None
    flagged = data.subset(range(len(data)))
    flagged.__class__ = type("Flagged", (type(flagged),), {"converted": "L"})  # SegDataset's is read from the files
    rep = rb.robustness_report(_conv(), flagged, suites=["clean"], out=tmp_path / "r", progress=False)
    assert rep["notes"] == [rb.converted_note(flagged)]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Note: the images of tiny/all were converted to RGB on reading (source mode L)" in md
    assert "converted to RGB" in (tmp_path / "r" / "report.html").read_text()
    plain = rb.robustness_report(_conv(), data, suites=["clean"], out=tmp_path / "p", progress=False)
    assert plain["notes"] == [] and "converted" not in (tmp_path / "p" / "report.md").read_text()


def test_module_does_not_import_mmseg():
    code = ("import sys, repro.robustness, repro.robustness.render; "
            "bad = [m for m in ('repro.train', 'mmseg', 'mmengine') if m in sys.modules]; print(bad); "
            "sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
