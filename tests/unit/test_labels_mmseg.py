"""The binary-mask rule, ``label_map`` and stem pairing on the MMSegmentation side: the registered
``FolderSegDataset``, the hook's analysis dataset (``MMSegSegDataset``) and the ``SensitivityHook``'s
check of the training labels at its first analysis."""
from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import torch

pytest.importorskip("mmseg")

from mmseg.registry import DATASETS  # noqa: E402

import repro.train  # noqa: E402,F401  (registers the dataset classes)
from repro.data import DataError, LabelMapError  # noqa: E402
from repro.train import hooks as H  # noqa: E402
from repro.train.datasets import MMSegSegDataset  # noqa: E402

from test_labels_folders import full, vessel_folder  # noqa: E402

CLASSES = ("background", "vessel")


def folder_cfg(root, **kw):
    return dict(type="FolderSegDataset", data_root=str(root), classes=CLASSES, label_suffix="_manual1", pipeline=[],
                **kw)


def test_folder_seg_dataset_pairs_tif_with_gif_and_applies_label_map(tmp_path):
    vessel_folder(tmp_path)
    ds = DATASETS.build(folder_cfg(tmp_path, label_map={255: 1}))
    assert len(ds) == 3 and ds.label_map == {255: 1}
    info = ds.get_data_info(2)
    assert info["img_path"].endswith("images/02.tif") and info["seg_map_path"].endswith("labels/02_manual1.gif")
    assert info["label_map"] == {255: 1}
    assert ds.converted == "grayscale → RGB"
    # what training and evaluation load (MMSegmentation's own LoadAnnotations) holds class 1, not 255
    from mmseg.datasets.transforms import LoadAnnotations

    seg = LoadAnnotations()(dict(info))["gt_seg_map"]
    assert set(np.unique(seg).tolist()) == {0, 1} and (seg[:, 20:] == 1).all()
    # MMSegmentation's seg_map_suffix is the same thing as label_suffix
    cfg = folder_cfg(tmp_path, label_map={255: 1}, seg_map_suffix="_manual1.gif")
    del cfg["label_suffix"]
    assert len(DATASETS.build(cfg)) == 3
    with pytest.raises(ValueError, match="give label_suffix .* or seg_map_suffix .*, not both"):
        DATASETS.build(dict(cfg, label_suffix="_manual1"))
    with pytest.raises(LabelMapError, match=r"label_map\[255\] = 2 is not a class id in 0\.\.1"):
        DATASETS.build(folder_cfg(tmp_path, label_map={255: 2}))


def test_folder_seg_dataset_refuses_0_255_masks_naming_a_file(tmp_path):
    _, lab_dir = vessel_folder(tmp_path)
    with pytest.raises(DataError, match="^" + full(lab_dir / "00_manual1.gif") + ": the label files of "
                       r"FolderSegDataset .*labels \(and the other 2 read\) hold only the values 0 and 255.*"
                       r"label_map=\{255: 1\}"):
        DATASETS.build(folder_cfg(tmp_path))
    # unpaired names: the same message as the core's, with the suffix that pairs them
    with pytest.raises(DataError, match=r"images/00\.tif: label file is missing .*pass label_suffix='_manual1'"):
        DATASETS.build(dict(folder_cfg(tmp_path), label_suffix=""))


def test_hook_analysis_dataset_refuses_0_255_masks_and_reads_the_map(tmp_path):
    """The hook's analysis data (an MMSeg dataset config, read with MMSegSegDataset)."""
    _, lab_dir = vessel_folder(tmp_path)
    with pytest.raises(DataError, match="^" + re.escape(lab_dir.resolve().as_posix()) + r"/00_manual1\.gif: .*only the "
                       "values 0 and 255"):
        MMSegSegDataset(folder_cfg(tmp_path))
    ds = MMSegSegDataset(folder_cfg(tmp_path, label_map={255: 1}), size=(20, 15))
    images, labels = ds.batch([0, 2])
    assert images.shape == (2, 3, 15, 20) and set(labels.unique().tolist()) == {0, 1}
    assert ds.converted == "grayscale → RGB"


class _Loader:
    def __init__(self, dataset):
        self.dataset = dataset


class _Runner:
    """What the hook reads of mmengine's runner up to the label check of its first analysis."""

    def __init__(self, dataset):
        self.iter = 0
        self.train_dataloader = _Loader(dataset)
        self.logger = logging.getLogger("test_labels_mmseg")
        self.cfg = {}


def test_hook_refuses_background_and_ignore_only_training_labels(tmp_path):
    vessel_folder(tmp_path)
    # label_map={} keeps 255 as the ignore index on purpose: the dataset accepts it, training would learn nothing
    train = DATASETS.build(folder_cfg(tmp_path, label_map={}))
    hook = H.SensitivityHook(types=["R+"], extractor="conv-random")
    hook._events = ([1], [])  # the first analysis after one training iteration
    with pytest.raises(DataError, match="^SensitivityHook: " + re.escape((tmp_path / "labels").resolve().as_posix())
                       + r"/0\d_manual1\.gif: the sampled labels of the training dataset FolderSegDataset at "
                       + re.escape(tmp_path.resolve().as_posix()) + r" \(and the other 2 read\) hold only the values "
                       r"0 and 255.*model would learn background only.*Fix: pass label_map=\{255: 1\}"):
        hook.after_train_iter(_Runner(train), 0)


def test_hook_label_check_passes_mapped_labels(tmp_path):
    vessel_folder(tmp_path)
    train = DATASETS.build(folder_cfg(tmp_path, label_map={255: 1}))
    hook = H.SensitivityHook(types=["R+"], extractor="conv-random")
    assert not hook._labels_checked
    hook._check_training_labels(_Runner(train))  # no error: class 1 is there
    assert hook._labels_checked
