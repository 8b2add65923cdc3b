"""``python -m repro robustness`` on a user's folder: every data error is one ``error:`` line on
stderr naming the file (full path) and the fix, exit status 2, and no ``--out`` folder left behind;
``--label-map`` and ``--label-suffix`` read a folder of 0/255 ``.gif`` masks for ``.tif`` images.

The command runs in-process (``repro.cli.main``, which returns the exit status) with a real config
(SegFormer-b0, ISBI-2012 EM smoke profile, 2 classes) and a checkpoint of its freshly built weights."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("mmseg")

from repro.cli import main  # noqa: E402

from test_labels_folders import full, vessel_folder  # noqa: E402

PROG = "python -m repro robustness"
pytestmark = pytest.mark.filterwarnings("ignore:.*image mode L converted to RGB")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """(config .py, checkpoint .pth) of a 2-class SegFormer-b0 with untrained weights."""
    import repro.train as T
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from repro.train.runner import quiet_warnings

    d = tmp_path_factory.mktemp("model")
    cfg = T.build_config(model="segformer_b0", method="sota", dataset="isbi2012_em", profile="smoke")
    cfg.dump(str(d / "c.py"))
    init_default_scope("mmseg")
    model_cfg = dict(cfg.model)
    model_cfg["backbone"] = {k: v for k, v in cfg.model.backbone.items() if k != "init_cfg"}
    with quiet_warnings():
        model = MODELS.build(model_cfg)
    torch.save({"state_dict": model.state_dict(), "meta": {}}, d / "w.pth")
    return d / "c.py", d / "w.pth"


def run(model_files, data, out, *extra):
    cfg, ck = model_files
    return main(["robustness", str(cfg), str(ck), "--data", str(data), "--out", str(out), "--suites", "clean", *extra])


def one_error_line(capsys, pattern: str) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{PROG}: error: "), err
    assert "Traceback" not in err
    assert re.search(pattern, lines[0]), (pattern, lines[0])
    return lines[0]


def test_folder_of_tif_images_and_0_255_gif_masks_reads_with_the_options(model_files, tmp_path, capsys):
    vessel_folder(tmp_path / "vessels", n=2)
    out = tmp_path / "report"
    assert run(model_files, tmp_path / "vessels", out, "--label-suffix", "_manual1", "--label-map", "255:1") == 0
    assert (out / "report.json").is_file()
    assert capsys.readouterr().out.strip().startswith(f"{out}/report.md (clean mIoU ")


def test_data_errors_are_one_line_exit_2_and_leave_no_out_folder(model_files, tmp_path, capsys):
    root = tmp_path / "d"
    vessel_folder(root / "vessels", n=2)
    labels = root / "vessels" / "labels"
    # an empty folder
    (root / "empty" / "images").mkdir(parents=True)
    (root / "empty" / "labels").mkdir()
    # image/label size mismatch, label values out of range, an image without label, a label without image
    img_dir, lab_dir = vessel_folder(root / "size", n=2, label_name="{stem}.png", values=(0, 1))
    Image.fromarray(np.zeros((15, 20), np.uint8)).save(lab_dir / "01.png")
    _, lab_range = vessel_folder(root / "range", n=2, label_name="{stem}.png", values=(0, 1))
    Image.fromarray(np.full((30, 40), 7, np.uint8)).save(lab_range / "00.png")
    img_lone, lab_lone = vessel_folder(root / "lone", n=2, label_name="{stem}.png", values=(0, 1))
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(lab_lone / "05.png")
    # images of two sizes (each pair consistent): found from the headers before anything is computed
    img_mixed, lab_mixed = vessel_folder(root / "mixed", n=2, label_name="{stem}.png", values=(0, 1))
    Image.fromarray(np.zeros((15, 20), np.uint8)).save(img_mixed / "01.tif")
    Image.fromarray(np.ones((15, 20), np.uint8)).save(lab_mixed / "01.png")
    cases = [
        (root / "empty", [], "^" + PROG + ": error: " + full(root / "empty" / "images") + ": no image files "
         r"\(\.png, .*\) found; the split is empty"),
        (root / "size", [], full(lab_dir / "01.png") + r": label size 20×15 \(W×H\) differs from its image 40×30; "
         "resize the label"),
        (root / "range", [], full(lab_range / "00.png") + r": label values \[7\] outside the class range 0\.\.1 .*"
         r"--classes.*--label-map VALUE:CLASS"),
        (root / "lone", [], full(lab_lone / "05.png") + r": label file has no image \(expected "
         + full(img_lone / "05") + r"\.<png\|"),
        (root / "mixed", [], full(img_mixed / "01.tif") + r": image size 20×15 \(W×H\) differs from 40×30 of "
         + full(img_mixed / "00.tif") + "; samples are stacked at one size: resize"),
        (root / "vessels", [], full(root / "vessels" / "images" / "00.tif") + ": label file is missing for image "
         r"00\.tif: .*--label-suffix _manual1 on the command line"),
        (root / "vessels", ["--label-suffix", "_manual1"], full(labels / "00_manual1.gif") + ": the label files of .* "
         r"hold only the values 0 and 255.*--label-map 255:1"),
        (root / "vessels", ["--label-suffix", "_manual1", "--label-map", "255-1"],
         r"error: --label-map '255-1': '255-1' is not a STORED:CLASS pair of integers; write e\.g\. 255:1"),
        (root / "vessels", ["--label-suffix", "_manual1", "--label-map", "255:1,255:0"],
         "error: --label-map '255:1,255:0': stored value 255 is mapped twice"),
        (root / "vessels", ["--label-suffix", "_manual1", "--label-map", "255:7"],
         r"error: --label-map 255:7: label_map\[255\] = 7 is not a class id in 0\.\.1"),
        (root / "vessels", ["--label-map"], "error: --label-map: expected a value, e.g. --label-map 255:1"),
        (root / "vessels", ["--label-map", "255:1", "--label-map=128:1"], "error: --label-map: given twice"),
    ]
    for data, extra, pattern in cases:
        out = tmp_path / "new" / "report"  # neither the folder nor its parent exist before
        assert run(model_files, data, out, *extra) == 2, (data, extra)
        one_error_line(capsys, pattern)
        assert not (tmp_path / "new").exists(), (data, extra)


def test_default_out_folder_is_not_left_behind(model_files, tmp_path, capsys, monkeypatch):
    vessel_folder(tmp_path / "vessels", n=2)
    monkeypatch.chdir(tmp_path)
    cfg, ck = model_files
    assert main(["robustness", str(cfg), str(ck), "--data", "vessels", "--label-suffix", "_manual1"]) == 2
    one_error_line(capsys, "hold only the values 0 and 255")
    assert not (tmp_path / "robustness_report").exists()


def test_an_existing_out_folder_is_kept(model_files, tmp_path, capsys):
    vessel_folder(tmp_path / "vessels", n=2)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert run(model_files, tmp_path / "vessels", out, "--label-suffix", "_manual1") == 2
    one_error_line(capsys, "hold only the values 0 and 255")
    assert (out / "notes.txt").read_text() == "keep me"


def test_folder_options_need_a_folder(model_files, tmp_path, capsys):
    cfg, ck = model_files
    assert main(["robustness", str(cfg), str(ck), "--data", "isbi2012_em:test", "--label-map", "255:1"]) == 2
    one_error_line(capsys, "error: --label-map apply to a folder given with --data or --real-world, not to the "
                           "shipped split isbi2012_em:test")


def test_help_lists_the_folder_options(capsys):
    assert main(["robustness", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--label-map LABEL_MAP" in text and "--label-suffix LABEL_SUFFIX" in text and "--data DATA" in text


def test_a_file_that_is_not_a_checkpoint_is_one_line_exit_2(model_files, tmp_path, capsys):
    cfg, _ = model_files
    bad = tmp_path / "notes.pth"
    bad.write_text("not a checkpoint")
    vessel_folder(tmp_path / "vessels", n=2)
    out = tmp_path / "report"
    code = main(["robustness", str(cfg), str(bad), "--data", str(tmp_path / "vessels"), "--out", str(out),
                 "--suites", "clean", "--label-suffix", "_manual1", "--label-map", "255:1"])
    assert code == 2
    one_error_line(capsys, re.escape(str(bad)))
    assert not out.exists()


def test_data_identity_depends_on_the_label_map(tmp_path):
    from repro import data
    from repro.robustness import data_identity

    vessel_folder(tmp_path / "v", n=2)
    kw = dict(label_suffix="_manual1")
    plain = data.FolderDataset(tmp_path / "v" / "images", tmp_path / "v" / "labels", ("background", "vessel"),
                               label_map={255: 1}, **kw)
    other = data.FolderDataset(tmp_path / "v" / "images", tmp_path / "v" / "labels", ("background", "vessel"),
                               label_map={255: 0}, **kw)
    a, b = data_identity(plain), data_identity(other)
    assert a["sha256"] == b["sha256"] and a["label_map"] == {"255": 1} and b["label_map"] == {"255": 0} and a != b


def test_the_analysis_uses_as_many_images_as_the_hook_by_default():
    import inspect

    from repro.robustness import robustness_report
    from repro.robustness.report import SA_IMAGES
    from repro.train.hooks import SensitivityHook

    hook_subset = inspect.signature(SensitivityHook.__init__).parameters["subset"].default
    assert SA_IMAGES == 8 == hook_subset
    assert inspect.signature(robustness_report).parameters["sa_subset"].default == SA_IMAGES


def test_sa_images_reaches_the_report_and_is_checked(model_files, tmp_path, capsys, monkeypatch):
    import repro.robustness.command as command

    vessel_folder(tmp_path / "vessels", n=2)
    seen = {}

    def fake_report(model, dataset, **kw):
        seen.update(kw)
        return {"suites": {}}

    monkeypatch.setattr(command, "robustness_report", fake_report)
    assert run(model_files, tmp_path / "vessels", tmp_path / "r1", "--label-suffix", "_manual1", "--label-map", "255:1", "--sa-images", "16") == 0
    assert seen["sa_subset"] == 16
    assert run(model_files, tmp_path / "vessels", tmp_path / "r2", "--label-suffix", "_manual1", "--label-map", "255:1") == 0
    assert seen["sa_subset"] == 8
    capsys.readouterr()
    assert run(model_files, tmp_path / "vessels", tmp_path / "r3", "--sa-images", "1") == 2
    one_error_line(capsys, r"--sa-images must be >= 2 .*got 1")
    assert not (tmp_path / "r3").exists()
