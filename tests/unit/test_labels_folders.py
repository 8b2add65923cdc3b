"""User folders of image/label pairs in the core (no MMSegmentation): pairing by stem with any common
ending and ``label_suffix``, the one binary-mask rule, ``parse_label_map``, ``validate`` and the
``converted`` note. A vessel-like folder: greyscale ``.tif`` images, 0/255 ``.gif`` masks named
``<stem>_manual1.gif`` (as in DRIVE)."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from repro import data
from repro.data import DataError, FolderDataset, LabelMapError

pytestmark = pytest.mark.filterwarnings("ignore:.*image mode L converted to RGB")


def vessel_folder(root, n=3, size=(40, 30), label_name="{stem}_manual1.gif", values=(0, 255), image_ext=".tif"):
    """``root/images/0i<image_ext>`` greyscale noise and ``root/labels/<label_name>`` masks holding
    ``values[0]`` on the left half and ``values[1]`` on the right half (GIFs written without palette
    optimisation, so the stored values are the grey levels, as in DRIVE's masks)."""
    img_dir, lab_dir = root / "images", root / "labels"
    img_dir.mkdir(parents=True)
    lab_dir.mkdir()
    rng = np.random.default_rng(0)
    w, h = size
    for i in range(n):
        stem = f"{i:02d}"
        Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8), mode="L").save(img_dir / f"{stem}{image_ext}")
        mask = np.full((h, w), values[0], np.uint8)
        mask[:, w // 2:] = values[1]
        Image.fromarray(mask, mode="L").save(lab_dir / label_name.format(stem=stem), optimize=False)
    return img_dir, lab_dir


def full(p) -> str:
    return re.escape(p.resolve().as_posix())


def test_tif_images_pair_with_gif_labels_through_label_suffix(tmp_path):
    img_dir, lab_dir = vessel_folder(tmp_path)
    assert set(np.unique(np.asarray(Image.open(lab_dir / "00_manual1.gif"))).tolist()) == {0, 255}
    ds = FolderDataset(img_dir, lab_dir, ("background", "vessel"), label_suffix="_manual1", label_map={255: 1})
    assert ds.names == ["00", "01", "02"]
    assert [p.name for p in ds.label_paths] == ["00_manual1.gif", "01_manual1.gif", "02_manual1.gif"]
    x, y = ds.batch()
    assert x.shape == (3, 3, 30, 40) and torch.equal(x[:, 0], x[:, 1])  # greyscale → three equal channels
    assert torch.all(y[:, :, :20] == 0) and torch.all(y[:, :, 20:] == 1)
    assert ds.converted == "grayscale → RGB"
    # a label_suffix with an ending fixes it
    assert len(FolderDataset(img_dir, lab_dir, ("b", "v"), label_suffix="_manual1.gif", label_map={255: 1})) == 3
    # DRIVE's names: 21_training.tif with 21_manual1.gif
    for p in sorted(img_dir.iterdir()):
        p.rename(p.with_name(p.stem + "_training.tif"))
    ds = FolderDataset(img_dir, lab_dir, ("b", "v"), image_suffix="_training.tif", label_suffix="_manual1",
                       label_map={255: 1})
    assert ds.names == ["00", "01", "02"] and ds.image_paths[1].name == "01_training.tif"


@pytest.mark.parametrize("image_ext, label_ext", [(".png", ".gif"), (".tiff", ".png"), (".jpg", ".bmp"),
                                                  (".bmp", ".tif"), (".jpeg", ".tiff")])
def test_any_common_ending_on_both_sides(tmp_path, image_ext, label_ext):
    img_dir, lab_dir = vessel_folder(tmp_path, n=2, label_name="{stem}" + label_ext, values=(0, 1), image_ext=image_ext)
    ds = FolderDataset(img_dir, lab_dir, ("background", "vessel"))
    assert [p.suffix for p in ds.image_paths] == [image_ext] * 2
    assert [p.suffix for p in ds.label_paths] == [label_ext] * 2
    assert set(ds[1]["label"].unique().tolist()) == {0, 1}


def test_missing_label_names_the_image_and_suggests_the_suffix(tmp_path):
    img_dir, lab_dir = vessel_folder(tmp_path)
    with pytest.raises(DataError, match="^" + full(img_dir / "00.tif") + ": label file is missing for image 00.tif: "
                       r"expected .*labels/00\.<png\|.*gif>; the label files are named like 00_manual1\.gif: "
                       r"pass label_suffix='_manual1' \(--label-suffix _manual1 on the command line\)"):
        FolderDataset(img_dir, lab_dir, ("background", "vessel"), label_map={255: 1})


def test_unpaired_and_ambiguous_files_are_refused(tmp_path):
    img_dir, lab_dir = vessel_folder(tmp_path / "a", label_name="{stem}.gif", values=(0, 1))
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(lab_dir / "07.png")  # a label without its image
    with pytest.raises(DataError, match="^" + full(lab_dir / "07.png") + r": label file has no image \(expected "
                       + full(img_dir / "07") + r"\.<png\|"):
        FolderDataset(img_dir, lab_dir, ("b", "v"))
    (lab_dir / "07.png").unlink()
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(lab_dir / "01.png")  # 01.gif and 01.png
    with pytest.raises(DataError, match="^" + full(img_dir / "01.tif") + r": two label files match this image "
                       r"\(01\.gif, 01\.png\)"):
        FolderDataset(img_dir, lab_dir, ("b", "v"))
    (lab_dir / "01.png").unlink()
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(img_dir / "01.png")  # 01.tif and 01.png
    with pytest.raises(DataError, match=r"images/01\.tif: two images with the stem '01' \(01\.png and 01\.tif\)"):
        FolderDataset(img_dir, lab_dir, ("b", "v"))


def test_binary_0_255_masks_refused_naming_a_file_and_the_fix(tmp_path):
    img_dir, lab_dir = vessel_folder(tmp_path)
    with pytest.raises(DataError, match="^" + full(lab_dir / "00_manual1.gif") + ": the label files of .*labels "
                       r"\(and the other 2 read\) hold only the values 0 and 255.*Fix: pass label_map=\{255: 1\}.*"
                       r"--label-map 255:1.*\('vessel'\)"):
        FolderDataset(img_dir, lab_dir, ("background", "vessel"), label_suffix="_manual1")


def test_the_rule_and_its_scan():
    assert data.ignore_only({0, 255}) and data.ignore_only({255}) and data.ignore_only([0, 255, 0])
    assert not data.ignore_only({0}) and not data.ignore_only({0, 1, 255}) and not data.ignore_only({1, 255})
    assert data.ignore_only({0, 254}, ignore_index=254) and not data.ignore_only({0, 255}, ignore_index=254)
    assert data.spread(range(10), 3) == [0, 4, 9] and data.spread([1, 2], 5) == [1, 2]


def test_refuse_binary_masks_stops_at_the_first_class_id(tmp_path):
    """A real multi-class folder is cleared after the first file: later unreadable files are not read."""
    img_dir, lab_dir = vessel_folder(tmp_path, label_name="{stem}.png", values=(0, 2))
    (lab_dir / "02.png").write_bytes(b"not a png")
    data.refuse_binary_masks(sorted(lab_dir.iterdir()), where="x")  # no error: 2 is a class id


def test_parse_label_map():
    assert data.parse_label_map("255:1") == {255: 1}
    assert data.parse_label_map(" 255 : 1 , 128:2") == {255: 1, 128: 2}
    for text, msg in [("255-1", r"label map '255-1': '255-1' is not a STORED:CLASS pair of integers; "
                                r"write e\.g\. 255:1"),
                      ("255:1,", r"'' is not a STORED:CLASS pair"), ("a:1", r"'a:1' is not a STORED:CLASS pair"),
                      ("255:1,255:0", r"label map '255:1,255:0': stored value 255 is mapped twice"),
                      ("-1:1", r"'-1:1' is not a STORED:CLASS pair")]:
        with pytest.raises(LabelMapError, match=msg):
            data.parse_label_map(text)
    with pytest.raises(TypeError, match="label map text must be a string such as '255:1', got dict"):
        data.parse_label_map({255: 1})
    with pytest.raises(LabelMapError, match=r"label_map\[255\] = 7 is not a class id in 0\.\.1"):
        data.check_label_map(data.parse_label_map("255:7"), num_classes=2)


def test_validate_reads_every_pair_at_once(tmp_path):
    img_dir, lab_dir = vessel_folder(tmp_path, label_name="{stem}.png", values=(0, 1))
    ds = FolderDataset(img_dir, lab_dir, ("b", "v"))
    assert ds.validate() is ds
    Image.fromarray(np.zeros((15, 20), np.uint8)).save(lab_dir / "02.png")
    with pytest.raises(DataError, match="^" + full(lab_dir / "02.png") + r": label size 20×15 \(W×H\) differs from "
                       r"its image 40×30; resize the label"):
        ds.validate()
    Image.fromarray(np.full((30, 40), 7, np.uint8)).save(lab_dir / "02.png")
    with pytest.raises(DataError, match=r"02\.png: label values \[7\] outside the class range 0\.\.1 .*--classes.*"
                       r"--label-map VALUE:CLASS"):
        ds.validate()


def test_batch_of_two_sizes_names_the_odd_image(tmp_path):
    img_dir, lab_dir = vessel_folder(tmp_path, label_name="{stem}.png", values=(0, 1))
    Image.fromarray(np.zeros((15, 20), np.uint8)).save(img_dir / "02.tif")
    Image.fromarray(np.ones((15, 20), np.uint8)).save(lab_dir / "02.png")
    ds = FolderDataset(img_dir, lab_dir, ("b", "v"))
    assert ds.validate() is ds and ds.batch([0, 1])[0].shape == (2, 3, 30, 40)  # each pair is consistent
    with pytest.raises(DataError, match="^" + full(img_dir / "02.tif") + r": image size 20×15 \(W×H\) differs from "
                       "40×30 of " + full(img_dir / "01.tif") + "; samples are stacked at one size"):
        ds.batch([1, 2])


def test_converted_note(tmp_path):
    img_dir, lab_dir = vessel_folder(tmp_path, label_name="{stem}.png", values=(0, 1), image_ext=".png")
    assert FolderDataset(img_dir, lab_dir, ("b", "v")).converted == "grayscale → RGB"
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(img_dir / "00.png")
    assert FolderDataset(img_dir, lab_dir, ("b", "v")).converted == "grayscale → RGB (2 of 3 images)"
    for i in (1, 2):
        Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(img_dir / f"0{i}.png")
    assert FolderDataset(img_dir, lab_dir, ("b", "v")).converted is None
    assert data.load_dataset("isbi2012_em", "test").converted == "grayscale → RGB"


def test_check_one_size_names_the_odd_image_from_headers(tmp_path):
    from repro import data

    img, lab = vessel_folder(tmp_path / "m", n=3, label_name="{stem}.png", values=(0, 1))
    ds = data.FolderDataset(img, lab, ("background", "vessel"))
    assert ds.check_one_size() is ds
    Image.fromarray(np.zeros((15, 20), np.uint8)).save(img / "02.tif")
    with pytest.raises(data.DataError, match=r"02\.tif: image size 20×15 \(W×H\) differs from 40×30 of .*00\.tif"):
        data.FolderDataset(img, lab, ("background", "vessel")).check_one_size()
