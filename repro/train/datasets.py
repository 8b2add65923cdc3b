"""MMSegmentation dataset classes for the shipped data, user folders and the paper's datasets.

Registered in ``mmseg.registry.DATASETS`` (importing :mod:`repro.train` registers them):

* ``CamVidDataset`` / ``ISBIEMDataset`` -- the compact copies shipped in ``data/`` (layout of
  :mod:`repro.data`)::

      <data_root>/MANIFEST.json
      <data_root>/<split>/images/<name>.jpg|png
      <data_root>/<split>/labels/<name>.png     # 8-bit class ids, 255 = ignore

  ``split`` picks the folder (``camvid``: train, val, test, test_dusk; ``isbi2012_em``: train,
  test); the manifest's order of names is kept, so ``sample_idx`` i is row i of
  ``repro.data.load_dataset(name, split)``.
* ``FolderSegDataset`` -- a user's folder of image/label pairs matched by file stem
  (``img_dir``/``ann_dir`` relative to ``data_root``, ``classes`` given in the config).
* ``ACDCDataset`` / ``IDDDataset`` -- Cityscapes' 19 classes on ACDC (``rgb_anon`` /
  ``gt``, ``*_gt_labelTrainIds.png``) and IDD (labels converted to Cityscapes train ids with the
  IDD toolkit, ``*_gtFine_labelcsTrainIds.png``); MMSegmentation has no classes for them.
* ``A2I2HazeDataset`` -- A2I2-Haze (UAV/UGV images in real haze, UG2+ 2022) in an assumed
  MMSegmentation-style layout ``img_dir/{train,val}/*.png``, ``ann_dir/{train,val}/*.png`` with
  2 classes (see the class docstring: the dataset is published with boxes, not masks).

Where each dataset lives (:func:`default_data_root`, the one resolver every reader uses): the
shipped ones in ``data/<name>``; each of the paper's datasets in ``$REPRO_<NAME>_ROOT``
(``REPRO_CITYSCAPES_ROOT``, ``REPRO_ACDC_ROOT``, ... see :data:`DATASET_ROOT_ENV`), else in
``$REPRO_DATA_ROOT/<name>``, else in ``data/<name>`` (where a run then stops with the error below).
A ``data_root=...`` argument of ``build_config``/``run`` wins over all of them.

Before a run, :func:`check_data_layout` verifies that every folder a config's dataloaders need
exists and holds files; a missing dataset stops at once with :class:`DataLayoutError` naming the
expected path, the variables to set and the folder layout (the ``data_layout`` entry of the
dataset's config file), in one line.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from pathlib import Path
from typing import Any, Mapping, Sequence

from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from repro import data as rdata
from repro.base import paths
from repro.data.roots import DATA_ROOT_ENV, DATASET_ROOT_ENV, PAPER_DATASETS, configured_data_root, dataset_root_env, default_data_root  # noqa: F401
from repro.data.roots import where_to_put as _where_to_put

__all__ = ["CamVidDataset", "ISBIEMDataset", "FolderSegDataset", "ACDCDataset", "IDDDataset", "A2I2HazeDataset",
           "MMSegSegDataset",
           "DataLayoutError", "check_data_layout", "default_data_root", "configured_data_root", "dataset_root_env",
           "DATA_ROOT_ENV", "DATASET_ROOT_ENV"]

#: MMSegmentation dataset class -> dataset name, for error messages about a dataset config
_TYPE_NAMES = {"CityscapesDataset": "cityscapes", "ACDCDataset": "acdc", "IDDDataset": "idd",
               "ADE20KDataset": "ade20k", "PascalVOCDataset": "voc2012", "PotsdamDataset": "potsdam",
               "LoveDADataset": "loveda", "SynapseDataset": "synapse", "A2I2HazeDataset": "a2i2haze"}


class DataLayoutError(FileNotFoundError):
    """A dataset folder required by a config is missing; the message names path and layout."""


class _ShippedDataset(BaseSegDataset):
    """A split of a dataset shipped in ``data/`` read in manifest order."""

    SHIPPED_NAME = ""

    def __init__(self, split: str = "train", data_root: str | None = None, **kwargs):
        if data_root is None:
            data_root = str(paths.DATA_DIR / self.SHIPPED_NAME)
        self.split = split
        mf_path = Path(data_root) / "MANIFEST.json"
        if not mf_path.is_file():
            raise DataLayoutError(
                f"{paths.relpath(mf_path)}: manifest of the shipped {self.SHIPPED_NAME} copy is missing; expected "
                f"<data_root>/MANIFEST.json and <data_root>/<split>/images|labels (see repro.data)")
        self._manifest = json.loads(mf_path.read_text())
        if split not in self._manifest["splits"]:
            raise ValueError(f"unknown split {split!r} of {self.SHIPPED_NAME}; splits are "
                             f"{', '.join(self._manifest['splits'])}")
        kwargs.setdefault("img_suffix", self._manifest["image_suffix"])
        kwargs.setdefault("seg_map_suffix", ".png")
        kwargs.setdefault("data_prefix", dict(img_path=f"{split}/images", seg_map_path=f"{split}/labels"))
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> list[dict]:
        img_dir = self.data_prefix["img_path"]
        ann_dir = self.data_prefix["seg_map_path"]
        out = []
        for stem in self._manifest["splits"][self.split]["names"]:
            img = osp.join(img_dir, stem + self.img_suffix)
            seg = osp.join(ann_dir, stem + self.seg_map_suffix)
            if not osp.isfile(img) or not osp.isfile(seg):
                raise DataLayoutError(f"{paths.relpath(img if not osp.isfile(img) else seg)}: file listed in "
                                      f"{self.SHIPPED_NAME}/MANIFEST.json is missing")
            out.append(dict(img_path=img, seg_map_path=seg, label_map=self.label_map,
                            reduce_zero_label=self.reduce_zero_label, seg_fields=[]))
        return out

    @property
    def converted(self) -> str | None:
        """How the images are converted when loaded (ISBI-2012 EM: ``"grayscale → RGB"``; ``None``: all RGB)."""
        return _conversion_note_of(self)


@DATASETS.register_module()
class CamVidDataset(_ShippedDataset):
    """CamVid as shipped (240×180, 11 classes, void = 255); ``split`` in train/val/test/test_dusk."""

    SHIPPED_NAME = "camvid"
    METAINFO = dict(classes=rdata.CAMVID_CLASSES, palette=[list(c) for c in rdata.CAMVID_PALETTE])


@DATASETS.register_module()
class ISBIEMDataset(_ShippedDataset):
    """ISBI-2012 EM as shipped (256×256 greyscale, membrane/cell); ``split`` in train/test.

    Images are greyscale PNGs; ``LoadImageFromFile`` (colour mode) returns them as three equal
    channels, matching :func:`repro.data.load_dataset`.
    """

    SHIPPED_NAME = "isbi2012_em"
    METAINFO = dict(classes=rdata.ISBI_CLASSES, palette=[list(c) for c in rdata.ISBI_PALETTE])


@DATASETS.register_module()
class FolderSegDataset(BaseSegDataset):
    """A folder of image/label pairs matched by stem, with the pairing and binary-mask rules of
    :class:`repro.data.FolderDataset` (:func:`repro.data.pair_files`, :func:`repro.data.refuse_binary_masks`).

    ``<data_root>/<img_dir>/<stem>.<ext>`` pairs with ``<data_root>/<ann_dir>/<stem><label_suffix>.<ext2>``
    (``ext``, ``ext2`` any of :data:`repro.data.FILE_SUFFIXES`: .png, .jpg/.jpeg, .tif/.tiff, .bmp,
    .gif; sub-folders are paired by their relative path). ``classes`` (and optionally
    ``palette``) name the class ids 0..C-1; 255 is ignored.

    Args:
        classes: the class names, e.g. ``("background", "vessel")``.
        img_dir, ann_dir: the two folders below ``data_root``.
        img_suffix: ``None`` (any ending) or the images' fixed ending, e.g. ``".jpg"``.
        label_suffix: what follows the image's stem in a label's name (``"_manual1"`` pairs ``01.tif``
            with ``01_manual1.gif``); one with an ending (``".png"``) fixes it. ``seg_map_suffix`` is
            MMSegmentation's name for the same thing (give one of the two).
        label_map: stored label value → class id applied when a label is loaded (``{255: 1}`` for
            0/255 binary masks). Without one, up to 64 label files are scanned and a folder whose
            labels hold only 0 and 255 is refused (:class:`repro.data.DataError` naming a file and the
            fix); ``label_map={}`` keeps 255 as the ignore index on purpose.

    :attr:`converted` notes images converted to RGB when loaded (e.g. ``"grayscale → RGB"``).
    """

    def __init__(self, classes: Sequence[str], img_dir: str = "images", ann_dir: str = "labels",
                 palette: Sequence[Sequence[int]] | None = None, img_suffix: str | None = None,
                 seg_map_suffix: str | None = None, label_suffix: str = "",
                 label_map: Mapping[int, int] | None = None, **kwargs):
        if isinstance(classes, (str, bytes)):
            raise TypeError(f"FolderSegDataset: classes must be a sequence of class names such as "
                            f"('background', {classes!r}), got the single string {classes!r}")
        if not classes:
            raise ValueError("FolderSegDataset needs classes naming at least one class")
        if seg_map_suffix is not None and label_suffix:
            raise ValueError(f"FolderSegDataset: give label_suffix ({label_suffix!r}) or seg_map_suffix "
                             f"({seg_map_suffix!r}, MMSegmentation's name for it), not both")
        self._label_suffix = seg_map_suffix if seg_map_suffix is not None else label_suffix
        self._image_suffix = img_suffix
        self._user_label_map = rdata.check_label_map(label_map, num_classes=len(classes),
                                                     ignore_index=kwargs.get("ignore_index", rdata.IGNORE_INDEX))
        metainfo = dict(kwargs.pop("metainfo", None) or {})
        metainfo.setdefault("classes", tuple(classes))
        if palette is not None:
            metainfo.setdefault("palette", [list(p) for p in palette])
        kwargs.setdefault("data_prefix", dict(img_path=img_dir, seg_map_path=ann_dir))
        super().__init__(metainfo=metainfo, img_suffix=img_suffix or "", seg_map_suffix=self._label_suffix, **kwargs)
        if self._user_label_map is not None:
            self.label_map = self._user_label_map

    def load_data_list(self) -> list[dict]:
        img_dir = self.data_prefix.get("img_path")
        ann_dir = self.data_prefix.get("seg_map_path")
        names = None
        if self.ann_file:  # MMSegmentation's split file: one image stem a line
            if not osp.isfile(self.ann_file):
                raise rdata.DataError(f"{paths.relpath(self.ann_file)}: ann_file (the split's list of image stems) "
                                      "is missing")
            names = [ln.strip() for ln in Path(self.ann_file).read_text().splitlines() if ln.strip()]
        pairs = rdata.pair_files(img_dir, ann_dir, label_suffix=self._label_suffix, image_suffix=self._image_suffix,
                                 recursive=True, names=names)
        if self._user_label_map is None and not self.reduce_zero_label:
            rdata.refuse_binary_masks([lab for _, lab in pairs], where=f"FolderSegDataset {paths.relpath(ann_dir)}",
                                      classes=tuple(self._metainfo["classes"]), ignore_index=self.ignore_index)
        label_map = self._user_label_map if self._user_label_map is not None else self.label_map
        return [dict(img_path=str(img), seg_map_path=str(lab), label_map=label_map,
                     reduce_zero_label=self.reduce_zero_label, seg_fields=[]) for img, lab in pairs]

    @property
    def converted(self) -> str | None:
        """How the images are converted when loaded, e.g. ``"grayscale → RGB"`` (``None``: all RGB);
        see :func:`repro.data.conversion_note`."""
        return _conversion_note_of(self)


def _conversion_note_of(ds) -> str | None:
    """:func:`repro.data.conversion_note` of an MMSeg dataset's images, computed once per dataset."""
    if "_converted" not in ds.__dict__:
        ds.__dict__["_converted"] = rdata.conversion_note([ds.get_data_info(i)["img_path"] for i in range(len(ds))])
    return ds.__dict__["_converted"]


@DATASETS.register_module()
class ACDCDataset(CityscapesDataset):
    """ACDC (Sakaridis et al. 2021) with Cityscapes' 19 train-id classes.

    Layout: ``rgb_anon/<condition>/<split>/<sequence>/*_rgb_anon.png`` and
    ``gt/<condition>/<split>/<sequence>/*_gt_labelTrainIds.png``; ``data_prefix`` selects a
    condition (fog, night, rain, snow) or all of them (``rgb_anon/*`` is not supported: use one
    dataset per condition and ``ConcatDataset``).
    """

    def __init__(self, img_suffix="_rgb_anon.png", seg_map_suffix="_gt_labelTrainIds.png", **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register_module()
class IDDDataset(CityscapesDataset):
    """IDD (Varma et al. 2019) evaluated in Cityscapes' 19 classes.

    Layout: ``leftImg8bit/<split>/<sequence>/*_leftImg8bit.png`` and
    ``gtFine/<split>/<sequence>/*_gtFine_labelcsTrainIds.png`` (created by the IDD toolkit:
    ``python preperation/createLabels.py --datadir <root> --id-type csTrainId``).
    """

    def __init__(self, img_suffix="_leftImg8bit.png", seg_map_suffix="_gtFine_labelcsTrainIds.png", **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register_module()
class A2I2HazeDataset(BaseSegDataset):
    """A2I2-Haze (Narayanan et al. 2023; UAV and UGV images in real, measured haze, the UG2+ 2022
    "Object Detection in Haze" track) as a segmentation dataset.

    Assumption (stated, not published): A2I2-Haze is distributed with bounding boxes, and the paper
    does not describe the segmentation labels it trained on. This package reads an
    MMSegmentation-style layout::

        <data_root>/img_dir/{train,val}/<stem>.png    # RGB images, any size (pixels)
        <data_root>/ann_dir/{train,val}/<stem>.png    # 8-bit class ids: 0 background, 1 vehicle, 255 ignore

    i.e. 2 classes (``background``, ``vehicle``: A2I2-Haze's annotated objects are vehicles); convert
    your labels (e.g. boxes filled as masks) to it. A different class list needs a different
    ``METAINFO`` and ``num_classes`` in ``configs/datasets/a2i2haze.py``.
    """

    METAINFO = dict(classes=("background", "vehicle"), palette=[[0, 0, 0], [0, 0, 142]])

    def __init__(self, img_suffix=".png", seg_map_suffix=".png", reduce_zero_label=False, **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label,
                         **kwargs)


# --------------------------------------------------------------------------------------------
# layout checks


def _dataset_cfgs(cfg: Any) -> list[Mapping]:
    """The dataset configs of a config's train/val/test dataloaders (wrappers unpacked)."""
    out = []

    def walk(d):
        if d is None:
            return
        if "datasets" in d:
            for x in d["datasets"]:
                walk(x)
        elif "dataset" in d:
            walk(d["dataset"])
        else:
            out.append(d)

    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        dl = cfg.get(key) if hasattr(cfg, "get") else None
        if dl:
            walk(dl.get("dataset"))
    return out


def _one_line_layout(text: str) -> str:
    """A ``data_layout`` description on one line: entries (lines indented by two spaces) joined by
    '; ', other lines (notes and their continuations) by a space."""
    out = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        sep = "; " if line.startswith("  ") else " "
        out = f"{out}{sep if out else ''}{' '.join(line.split())}"
    return out


def check_data_layout(cfg: Any) -> None:
    """Raise :class:`DataLayoutError` if a folder the config's datasets read is missing or empty.

    The message is one line: the dataset, the missing absolute path, the variables to set
    (``$REPRO_<NAME>_ROOT`` or ``$REPRO_DATA_ROOT``, or ``data_root=...``) and the layout described
    by the config's ``data_layout`` entry.
    """
    layout = cfg.get("data_layout", {}) if hasattr(cfg, "get") else {}
    cfg_name = cfg.get("dataset_name", "dataset") if hasattr(cfg, "get") else "dataset"
    text = layout.get("description", "") if isinstance(layout, Mapping) else ""
    text = _one_line_layout(str(text))
    for d in _dataset_cfgs(cfg):
        root = d.get("data_root")
        if root is None and d.get("type") in ("CamVidDataset", "ISBIEMDataset"):
            continue  # checked (manifest) by the class itself
        name = _TYPE_NAMES.get(d.get("type"), cfg_name)
        root = Path(root or ".").expanduser().absolute()
        prefix = d.get("data_prefix") or {}
        required = [root] + [root / v for k, v in prefix.items() if k in ("img_path", "seg_map_path") and v]
        if d.get("ann_file"):
            required.append(root / d["ann_file"])
        for p in required:
            is_file = p.suffix == ".txt"
            ok = p.is_file() if is_file else (p.is_dir() and any(p.iterdir()))
            if not ok:
                problem = "is missing; expected this file" if is_file else \
                    "is missing or empty; expected a non-empty folder"
                layout_text = f"; expected layout under {root}: {text}" if name == cfg_name and text else ""
                raise DataLayoutError(f"{name}: {p} {problem}; download the dataset yourself (licence) and "
                                      f"{_where_to_put(name)}{layout_text}")


class MMSegSegDataset:
    """An MMSeg dataset config read as a :class:`repro.data.SegDataset`-like object.

    ``cfg`` is a dataset config (``dict(type="CityscapesDataset", data_root=..., data_prefix=...)``);
    images and labels are loaded with MMSegmentation's own loading transforms (so
    ``reduce_zero_label`` and label maps apply) and, with ``size=(W, H)``, resized (images
    bilinear, labels nearest) so that :meth:`batch` can stack them.  Offers ``len``,
    ``ds[i] -> {"image", "label", "name"}``, ``batch(indices)``, ``classes``, ``num_classes``,
    ``ignore_index``, ``names``, ``name``, ``split``.
    """

    def __init__(self, cfg: Mapping, *, size: Sequence[int] | None = None, name: str | None = None):
        from mmcv.transforms import LoadImageFromFile
        from mmseg.datasets.transforms import LoadAnnotations

        cfg = dict(cfg)
        cfg["pipeline"] = []
        cfg.pop("indices", None)
        self._ds = DATASETS.build(cfg)
        self._load_img = LoadImageFromFile()
        self._load_ann = LoadAnnotations(reduce_zero_label=cfg.get("reduce_zero_label"))
        self.size = tuple(size) if size is not None else None
        self.classes = tuple(self._ds.metainfo["classes"])
        self.palette = tuple(tuple(p) for p in self._ds.metainfo.get("palette", []))
        self.ignore_index = 255
        self.name = name or cfg.get("type", "dataset")
        self.split = str((cfg.get("data_prefix") or {}).get("img_path", cfg.get("split", "")))
        self.names = [Path(self._ds.get_data_info(i)["img_path"]).stem for i in range(len(self._ds))]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def converted(self) -> str | None:
        """How the images are converted to RGB when loaded, e.g. ``"grayscale → RGB"`` (``None``: all RGB)."""
        return _conversion_note_of(self._ds)

    def __len__(self) -> int:
        return len(self._ds)

    def __getitem__(self, index: int) -> dict:
        import numpy as np
        import torch

        info = dict(self._ds.get_data_info(int(index)))
        r = self._load_ann(self._load_img(info))
        img = np.ascontiguousarray(r["img"][..., ::-1])  # BGR -> RGB
        image = torch.from_numpy(img).permute(2, 0, 1).float().div_(255.0)
        label = torch.from_numpy(r["gt_seg_map"].astype(np.int64))
        if self.size is not None:
            hw = (int(self.size[1]), int(self.size[0]))
            image = torch.nn.functional.interpolate(image[None], size=hw, mode="bilinear", align_corners=False,
                                                    antialias=True)[0].clamp_(0, 1)
            label = torch.nn.functional.interpolate(label[None, None].float(), size=hw, mode="nearest")[0, 0].long()
        return {"image": image, "label": label, "name": self.names[int(index)]}

    def batch(self, indices: Sequence[int] | None = None):
        import torch

        idx = range(len(self)) if indices is None else [int(i) for i in indices]
        items = [self[i] for i in idx]
        if not items:
            raise ValueError("indices must select at least one sample")
        return torch.stack([it["image"] for it in items]), torch.stack([it["label"] for it in items])
