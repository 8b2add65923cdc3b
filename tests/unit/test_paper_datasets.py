"""The paper's datasets in the paper's tables: the seven Table 4 datasets' `paper` configs (A2I2-Haze
included), the one-line skip messages of ``experiments.available_datasets``, and the real-world
items of Tables 2-3 (IDD val, ACDC per condition) on tiny synthetic folders."""
import re

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import repro.train as T
from repro.evaluation import suites as ev
from repro.paper import experiments as X
from repro.base import paths
from repro.data import DataError
from repro.train import datasets as D
from repro.base.profiles import PROFILES_FILE

W, H = 32, 16  # synthetic image size (pixels)

# (image path, label path) of one sample under a dataset root, per dataset, in the layouts of its config
_LAYOUT = {
    "ade20k": [("images/training/a.jpg", "annotations/training/a.png"),
               ("images/validation/b.jpg", "annotations/validation/b.png")],
    "voc2012": [("JPEGImages/a.jpg", "SegmentationClass/a.png")],
    "potsdam": [("img_dir/train/a.png", "ann_dir/train/a.png"), ("img_dir/val/b.png", "ann_dir/val/b.png")],
    "loveda": [("img_dir/train/a.png", "ann_dir/train/a.png"), ("img_dir/val/b.png", "ann_dir/val/b.png")],
    "a2i2haze": [("img_dir/train/a.png", "ann_dir/train/a.png"), ("img_dir/val/b.png", "ann_dir/val/b.png")],
    "cityscapes": [("leftImg8bit/train/x/a_leftImg8bit.png", "gtFine/train/x/a_gtFine_labelTrainIds.png"),
                   ("leftImg8bit/val/y/b_leftImg8bit.png", "gtFine/val/y/b_gtFine_labelTrainIds.png")],
    "synapse": [("img_dir/train/a.jpg", "ann_dir/train/a.png"), ("img_dir/val/b.jpg", "ann_dir/val/b.png")],
}


@pytest.fixture(autouse=True)
def _no_root_variables(monkeypatch):
    monkeypatch.delenv(D.DATA_ROOT_ENV, raising=False)
    for var in D.DATASET_ROOT_ENV.values():
        monkeypatch.delenv(var, raising=False)


def _pair(img, lab, n_classes=2, seed=0):
    rng = np.random.default_rng(seed)
    img.parent.mkdir(parents=True, exist_ok=True)
    lab.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(img)
    Image.fromarray(rng.integers(0, n_classes, (H, W), dtype=np.uint8)).save(lab)


def _make(root, name):
    for img, lab in _LAYOUT[name]:
        _pair(root / img, root / lab)
    if name == "voc2012":
        (root / "ImageSets" / "Segmentation").mkdir(parents=True)
        for sp in ("train", "val", "trainval"):
            (root / "ImageSets" / "Segmentation" / f"{sp}.txt").write_text("a\n")
    return root


def test_table4_datasets_are_the_papers_seven():
    profiles = yaml.safe_load(PROFILES_FILE.read_text())
    assert tuple(profiles["paper"]["t4_datasets"]) == X.TABLE4_DATASETS
    assert set(X.TABLE4_DATASETS) <= set(T.DATASETS)
    published = {line.split(",")[0] for line in (paths.REPO_ROOT / "paper" / "table4_datasets_suites.csv")
                 .read_text().splitlines()[1:] if line}
    assert published == set(X.TABLE4_DATASETS)
    for p in ("cpu", "smoke"):  # the committed tables' profiles keep the shipped data
        assert profiles[p]["t4_datasets"] == ["camvid", "isbi2012_em"]


def test_a2i2haze_is_registered():
    from mmseg.registry import DATASETS

    assert "a2i2haze" in T.config.PAPER_DATASETS and D.DATASET_ROOT_ENV["a2i2haze"] == "REPRO_A2I2HAZE_ROOT"
    assert D._TYPE_NAMES["A2I2HazeDataset"] == "a2i2haze" and DATASETS.get("A2I2HazeDataset") is D.A2I2HazeDataset
    assert D.A2I2HazeDataset.METAINFO["classes"] == ("background", "vehicle")


@pytest.mark.parametrize("name", X.TABLE4_DATASETS)
def test_table4_paper_configs_build_and_pass_the_layout_check(name, tmp_path):
    root = _make(tmp_path / name, name)
    for method in ("sota", "ours"):
        cfg = T.build_config("pspnet_r50", method, name, profile="paper", seed=0, data_root=root)
        assert cfg.dataset_name == name and cfg.train_dataloader.dataset.data_root == str(root)
        D.check_data_layout(cfg)
    assert X.clean_split(name) == "val"


def test_a2i2haze_reads_the_assumed_layout(tmp_path, monkeypatch):
    root = _make(tmp_path / "haze", "a2i2haze")
    monkeypatch.setenv("REPRO_A2I2HAZE_ROOT", str(root))
    cfg = T.build_config("pspnet_r50", "baseline", "a2i2haze", profile="paper", seed=0)
    assert cfg.model.decode_head.num_classes == 2 and cfg.train_dataloader.dataset.data_root == str(root)
    ds = D.MMSegSegDataset(cfg.eval_dataloaders["val"].dataset, name="a2i2haze")
    assert len(ds) == 1 and ds.classes == ("background", "vehicle")
    s = ds[0]
    assert tuple(s["image"].shape) == (3, H, W) and int(s["label"].max()) <= 1


def test_a2i2haze_missing_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_A2I2HAZE_ROOT", str(tmp_path / "none"))
    cfg = T.build_config("pspnet_r50", "sota", "a2i2haze", profile="paper", seed=0)
    with pytest.raises(D.DataLayoutError) as exc:
        D.check_data_layout(cfg)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"a2i2haze: {tmp_path / 'none'} is missing")
    assert "$REPRO_A2I2HAZE_ROOT" in msg and "img_dir/{train,val}/*.png; ann_dir/{train,val}/*.png" in msg


def test_available_datasets_skips_with_one_line_each(tmp_path, monkeypatch, capsys):
    got, skipped = X.available_datasets(list(X.TABLE4_DATASETS), profile="paper")
    assert got == [] and list(skipped) == list(X.TABLE4_DATASETS)
    lines = capsys.readouterr().out.splitlines()
    assert lines == list(skipped.values()) and len(lines) == 7
    for name, line in skipped.items():
        var = D.DATASET_ROOT_ENV[name]
        assert re.fullmatch(rf"skipping {name} \(profile paper\): neither \${var} nor \$REPRO_DATA_ROOT is set; "
                            rf"set \${var} to the dataset folder \(or \$REPRO_DATA_ROOT to its parent\) to include it",
                            line), line
    # configured: its own variable, or a folder under $REPRO_DATA_ROOT; a variable at a missing folder is skipped
    (tmp_path / "cs").mkdir()
    (tmp_path / "parent" / "loveda").mkdir(parents=True)
    monkeypatch.setenv("REPRO_CITYSCAPES_ROOT", str(tmp_path / "cs"))
    monkeypatch.setenv("REPRO_DATA_ROOT", str(tmp_path / "parent"))
    monkeypatch.setenv("REPRO_SYNAPSE_ROOT", str(tmp_path / "nowhere"))
    got, skipped = X.available_datasets(["camvid", "loveda", "cityscapes", "synapse", "ade20k"], profile="paper",
                                        verbose=False)
    assert got == ["camvid", "loveda", "cityscapes"] and list(skipped) == ["synapse", "ade20k"]
    assert capsys.readouterr().out == ""
    assert f"$REPRO_SYNAPSE_ROOT = {tmp_path / 'nowhere'} is not a folder" in skipped["synapse"]
    assert f"$REPRO_DATA_ROOT/ade20k = {tmp_path / 'parent' / 'ade20k'} is not a folder" in skipped["ade20k"]


def test_available_datasets_shipped_and_bad_arguments(capsys):
    assert X.available_datasets(["camvid", "isbi2012_em"], profile="cpu") == (["camvid", "isbi2012_em"], {})
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match=r"unknown dataset 'kitti'; expected one of camvid, .*a2i2haze"):
        X.available_datasets(["kitti"], profile="paper")
    with pytest.raises(ValueError, match=r"unknown profile 'gpu'"):
        X.available_datasets(["camvid"], profile="gpu")
    with pytest.raises(TypeError, match=r"names must be a list"):
        X.available_datasets("camvid", profile="paper")


def _acdc(root, conditions=ev.ACDC_CONDITIONS, n=2):
    for c in conditions:
        for i in range(n):
            _pair(root / "rgb_anon" / c / "val" / "GOPR01" / f"GOPR01_{i:06d}_rgb_anon.png",
                  root / "gt" / c / "val" / "GOPR01" / f"GOPR01_{i:06d}_gt_labelTrainIds.png", 19, seed=i)
    return root


def _idd(root, n=2):
    for i in range(n):
        _pair(root / "leftImg8bit" / "val" / "7" / f"{i:06d}_leftImg8bit.png",
              root / "gtFine" / "val" / "7" / f"{i:06d}_gtFine_labelcsTrainIds.png", 19, seed=i)
    return root


def test_real_world_sets_unchanged_without_acdc_and_idd(tmp_path, monkeypatch):
    assert list(ev.real_world_sets()) == ["camvid_dusk"]
    assert ev.real_world_sets(include_shipped=False) == {}
    monkeypatch.setenv("REPRO_DATA_ROOT", str(tmp_path))  # neither acdc/ nor idd/ there: both optional
    assert list(ev.real_world_sets()) == ["camvid_dusk"]
    assert X.acdc_conditions() == {}


def test_real_world_sets_with_idd_and_acdc(tmp_path, monkeypatch):
    _acdc(tmp_path / "acdc")
    _idd(tmp_path / "idd")
    monkeypatch.setenv("REPRO_DATA_ROOT", str(tmp_path))
    sets = ev.real_world_sets()
    assert list(sets) == ["camvid_dusk", "acdc_fog", "acdc_rain", "acdc_night", "acdc_snow", "idd_val"]
    for name in list(sets)[1:]:
        ds = sets[name]
        assert len(ds) == 2 and ds.num_classes == 19 and ds.split == "val"
        x, y = ds.batch()
        assert tuple(x.shape) == (2, 3, H, W) and tuple(y.shape) == (2, H, W) and int(y.max()) < 19
    assert sets["idd_val"].names == ["000000_leftImg8bit", "000001_leftImg8bit"]
    # Table 3's conditions: labels start with the condition (tables.table3 joins the paper's ACDC numbers)
    cond = X.acdc_conditions()
    assert cond == {"fog (ACDC, real)": ("real_world", "acdc_fog"), "night (ACDC, real)": ("real_world", "acdc_night"),
                    "rain (ACDC, real)": ("real_world", "acdc_rain"), "snow (ACDC, real)": ("real_world", "acdc_snow")}
    # own variables win; explicit roots too
    monkeypatch.delenv("REPRO_DATA_ROOT")
    monkeypatch.setenv("REPRO_IDD_ROOT", str(tmp_path / "idd"))
    assert list(ev.real_world_sets(include_shipped=False)) == ["idd_val"]
    assert list(ev.real_world_sets(include_shipped=False, acdc_root=tmp_path / "acdc", idd_root="")) == \
        [f"acdc_{c}" for c in ev.ACDC_CONDITIONS]


def test_real_world_sets_idd_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_IDD_ROOT", str(tmp_path / "mine"))  # an explicit root must exist
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'mine' / 'leftImg8bit' / 'val'))}: IDD val "
                                        r"folder missing; .*gtFine_labelcsTrainIds.png.*\$REPRO_IDD_ROOT"):
        ev.real_world_sets(include_shipped=False)
    root = _idd(tmp_path / "idd")
    (root / "gtFine" / "val" / "7" / "000001_gtFine_labelcsTrainIds.png").unlink()
    with pytest.raises(DataError, match=r"000001_gtFine_labelcsTrainIds.png: IDD label missing \(1 of 2\)"):
        ev.real_world_sets(include_shipped=False, idd_root=root)


def test_clean_split_of_shipped_and_acdc():
    assert X.clean_split("camvid") == "test" and X.clean_split("isbi2012_em") == "test"
    assert X.clean_split("acdc") == "fog" and X.clean_split("kitti") is None


@pytest.mark.parametrize("name", ["ade20k", "cityscapes"])
def test_paper_eval_dataset_feeds_the_suites(name, tmp_path):
    """Table 4's corrupted suites on a paper dataset: its eval split as a fixed-size SegDataset."""
    import torch

    root = _make(tmp_path / name, name)
    cfg = T.build_config("pspnet_r50", "sota", name, profile="paper", seed=0, data_root=root)
    split = X.clean_split(name)
    ds = X.paper_eval_dataset(cfg.eval_dataloaders[split].dataset.to_dict(), name=name, split=split, size=(24, 12))
    assert isinstance(ds, ev.SegDataset) and len(ds) == 1 and ds.name == name and ds.split == "val"
    x, y = ds.batch()
    assert tuple(x.shape) == (1, 3, 12, 24) and tuple(y.shape) == (1, 12, 24) and ds.num_classes == len(ds.classes)
    if name == "ade20k":  # reduce_zero_label: stored 0 -> ignored, 1 -> class 0
        assert set(torch.unique(y).tolist()) <= {0, 255}

    def zeros(images):
        return torch.zeros(images.shape[0], ds.num_classes, *images.shape[2:])

    res = ev.evaluate(zeros, ds, "basis_aug", types=["V-"], magnitudes=[0.5], progress=False)
    assert list(res.table["item"]) == ["V-"]
    with pytest.raises(ValueError, match=r"size must be \(W, H\) in pixels"):
        X.paper_eval_dataset(cfg.eval_dataloaders[split].dataset.to_dict(), name=name, split=split, size=(0, 3))


def _zeros_model(num_classes):
    import torch

    def model(images):
        return torch.zeros(images.shape[0], num_classes, *images.shape[2:])

    return model


def test_score_runs_paper_datasets_and_real_world(tmp_path, monkeypatch):
    """score_runs on a paper-profile run: Table 4's suites on its dataset, Tables 2-3's ACDC/IDD items."""
    import pandas as pd

    root = _make(tmp_path / "cityscapes", "cityscapes")
    cfg = T.build_config("pspnet_r50", "ours", "cityscapes", profile="paper", seed=0, data_root=root)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cfg.dump(str(run_dir / "config.py"))
    runs = pd.DataFrame([{"dataset": "cityscapes", "model": "pspnet_r50", "method": "ours", "seed": 0,
                          "config_hash": "0123456789abcdef", "result": {"run_dir": str(run_dir)}}])
    monkeypatch.setattr(T, "load_model", lambda result: _zeros_model(19))
    got = X.score_runs(runs, ["basis_aug", "real_world"], suite_options={"basis_aug": {"types": ["V-"],
                                                                                       "magnitudes": [0.5]}},
                       progress=False)
    assert list(got["suite"]) == ["basis_aug"]  # no ACDC/IDD configured: no real-world rows
    monkeypatch.setenv("REPRO_ACDC_ROOT", str(_acdc(tmp_path / "acdc")))
    monkeypatch.setenv("REPRO_IDD_ROOT", str(_idd(tmp_path / "idd")))
    got = X.score_runs(runs, ["real_world"], progress=False)
    assert list(got["item"]) == [f"acdc_{c}" for c in ev.ACDC_CONDITIONS] + ["idd_val"]
    assert set(got["dataset"]) == {"cityscapes"} and got["mIoU"].notna().all()
    from repro.paper import tables

    t3 = tables.table3(got, X.acdc_conditions())
    assert list(dict.fromkeys(t3["condition"])) == sorted(X.acdc_conditions())
    assert set(t3["paper_condition"]) <= {f"acdc_{c}" for c in ev.ACDC_CONDITIONS}


def test_resized_keeps_names_and_labels(tmp_path):
    ds = ev.real_world_sets(include_shipped=False, idd_root=_idd(tmp_path / "idd"))["idd_val"]
    r = X.resized(ds, (8, 4))
    x, y = r.batch()
    assert tuple(x.shape) == (2, 3, 4, 8) and y.dtype == ds[0]["label"].dtype and r.names == ds.names
    with pytest.raises(ValueError, match=r"size must be \(W, H\) in pixels"):
        X.resized(ds, (8,))


def test_real_conditions_per_training_dataset(tmp_path, monkeypatch):
    assert X.real_conditions("camvid") == {"dusk (real)": ("real_world", "camvid_dusk")}
    assert X.real_conditions("isbi2012_em") == {}
    monkeypatch.setenv("REPRO_DATA_ROOT", str(tmp_path))  # no ACDC configured: no real Cityscapes conditions
    assert X.real_conditions("cityscapes") == {}
    _acdc(tmp_path / "acdc")
    conds = X.real_conditions("cityscapes")
    assert conds and all(s == "real_world" and i.startswith("acdc_") for s, i in conds.values())


def test_real_world_scores_of_camvid_runs_are_their_clean_scores():
    import pandas as pd

    metrics = {"test": {"aAcc": 80.0, "mAcc": 50.0, "mIoU": 40.0}, "test_dusk": {"aAcc": 20.0, "mAcc": 10.0, "mIoU": 5.0}}
    runs = pd.DataFrame([{"dataset": "camvid", "model": "fastscnn", "method": "ours", "seed": 0,
                          "result": {"metrics": metrics}, "config_hash": "0" * 16}])
    got = X.real_world_scores(runs)
    pd.testing.assert_frame_equal(got, X.clean_scores(runs))
    assert set(got["suite"]) == {"clean", "real_world"} and list(got.loc[got.suite == "real_world", "item"]) == ["camvid_dusk"]


def test_qualitative_frames_camvid_and_cityscapes(tmp_path, monkeypatch, capsys):
    from repro.data import load_dataset
    from repro.gpu_check import write_synthetic_cityscapes

    frames, palette = X.qualitative_frames("camvid", day_index=101, adverse_index=20)
    test, dusk = load_dataset("camvid", "test"), load_dataset("camvid", "test_dusk")
    assert [t for t, _, _ in frames] == [f"day {test[101]['name']}", f"dusk {dusk[20]['name']}"]
    assert torch.equal(frames[1][1], dusk[20]["image"]) and palette == test.palette
    # Cityscapes: val frame and ACDC night, both at the real-world size; without ACDC one line and the day row
    write_synthetic_cityscapes(tmp_path / "cs", size=(64, 32), num_train=1, num_val=2)
    monkeypatch.setenv("REPRO_CITYSCAPES_ROOT", str(tmp_path / "cs"))
    frames, palette = X.qualitative_frames("cityscapes", day_index=1, adverse_index=0)
    assert [t.split()[0] for t, _, _ in frames] == ["day"] and len(palette) == 19
    assert "no night (ACDC) row: ACDC is not configured (set $REPRO_ACDC_ROOT)" in capsys.readouterr().out
    _acdc(tmp_path / "acdc")
    monkeypatch.setenv("REPRO_ACDC_ROOT", str(tmp_path / "acdc"))
    frames, _ = X.qualitative_frames("cityscapes", day_index=1, adverse_index=1)
    assert [t.split()[0] for t, _, _ in frames] == ["day", "night"] and frames[1][0].endswith("GOPR01_000001_rgb_anon")
    w, h = X.REAL_WORLD_SIZE["cityscapes"]
    for _, image, label in frames:
        assert tuple(image.shape) == (3, h, w) and tuple(label.shape) == (h, w) and int(label[label != 255].max()) < 19
    with pytest.raises(ValueError, match="qualitative frames are defined for camvid, cityscapes, not 'ade20k'"):
        X.qualitative_frames("ade20k", day_index=0, adverse_index=0)
    with pytest.raises(ValueError, match=r"index 5 is out of range for acdc_night/val \(2 images\)"):
        X.qualitative_frames("cityscapes", day_index=0, adverse_index=5)
