"""The dataset classes: :class:`SegDataset` (a folder pair of images and labels) and
:class:`FolderDataset` (a user's folder, any common file ending, ``label_map``/``label_suffix``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from repro.base import paths
from repro.data.files import (
    DataError, FILE_SUFFIXES, IGNORE_INDEX, _image_size, _split_suffix, check_label_map, conversion_note, pair_files,
    read_image, read_label, refuse_binary_masks,
)

# --------------------------------------------------------------------------------------------
# datasets


@dataclass
class SegDataset(torch.utils.data.Dataset):
    """Image/label pairs as tensors; see the module docstring for the sample format."""

    image_paths: list[Path]
    label_paths: list[Path]
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    name: str = "dataset"
    split: str = "all"
    ignore_index: int = IGNORE_INDEX
    image_mode: str | None = None  # mode of source images converted silently (e.g. "L")
    names: list[str] = field(default_factory=list)
    label_map: dict[int, int] | None = None  # stored label value -> class id, applied on reading

    def __post_init__(self):
        if len(self.image_paths) == 0:
            raise DataError(f"{self.name}/{self.split}: the split is empty (no image/label pairs found)")
        if len(self.image_paths) != len(self.label_paths):
            raise DataError(f"{self.name}/{self.split}: {len(self.image_paths)} images but {len(self.label_paths)} labels")
        if not self.names:
            self.names = [Path(p).stem for p in self.image_paths]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.image_paths)

    @property
    def converted(self) -> str | None:
        """How the images are converted when read, for a report's note: ``"grayscale → RGB"``
        (also ``"palette → RGB"``, ``"RGBA → RGB"``, with counts when only some are), ``None`` when
        every image is stored as RGB (:func:`conversion_note`; file headers only, read once)."""
        if "_converted" not in self.__dict__:
            self.__dict__["_converted"] = conversion_note(self.image_paths)
        return self.__dict__["_converted"]

    def validate(self) -> "SegDataset":
        """Check every pair now (image header, whole label: size and values) instead of when a
        sample is read; the first problem raises :class:`DataError` naming its file. Returns ``self``."""
        for img, lab in zip(self.image_paths, self.label_paths):
            read_label(lab, num_classes=self.num_classes, image_shape=_image_size(img), ignore_index=self.ignore_index,
                       label_map=self.label_map)
        return self

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``index`` as (H×W×3 uint8 RGB, H×W int64) numpy arrays."""
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        img = read_image(self.image_paths[index], expect_mode=self.image_mode)
        lab = read_label(self.label_paths[index], num_classes=self.num_classes, image_shape=img.shape[:2],
                         ignore_index=self.ignore_index, label_map=self.label_map)
        return img, lab

    def __getitem__(self, index: int) -> dict:
        img, lab = self.read(int(index) if isinstance(index, np.integer) else index)
        image = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(255.0)
        return {"image": image, "label": torch.from_numpy(lab), "name": self.names[index]}

    def batch(self, indices: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Stack samples into (images N×3×H×W float32, labels N×H×W int64); all by default."""
        idx = list(range(len(self))) if indices is None else [int(i) for i in indices]
        items = [self[i] for i in idx]
        if not items:
            raise ValueError("indices must select at least one sample")
        first = tuple(items[0]["image"].shape)
        for i, it in zip(idx, items):
            if tuple(it["image"].shape) != first:
                (h0, w0), (h, w) = first[1:], tuple(it["image"].shape[1:])
                raise DataError(f"{paths.relpath(self.image_paths[i])}: image size {w}×{h} (W×H) differs from "
                                f"{w0}×{h0} of {paths.relpath(self.image_paths[idx[0]])}; samples are stacked at one "
                                "size: resize the images and their labels (nearest neighbour) to one size")
        return torch.stack([it["image"] for it in items]), torch.stack([it["label"] for it in items])

    def check_one_size(self) -> "SegDataset":
        """Check, from the image headers only, that every image has the size of the first (what
        :meth:`batch` and the streamed evaluation chunks need); the first that differs raises the
        :class:`DataError` of :meth:`batch`, naming both files. Returns ``self``."""
        if not self.image_paths:
            return self
        h0, w0 = _image_size(self.image_paths[0])
        for p in self.image_paths[1:]:
            h, w = _image_size(p)
            if (h, w) != (h0, w0):
                raise DataError(f"{paths.relpath(p)}: image size {w}×{h} (W×H) differs from {w0}×{h0} of "
                                f"{paths.relpath(self.image_paths[0])}; samples are stacked at one size: resize the "
                                "images and their labels (nearest neighbour) to one size")
        return self

    def subset(self, indices: Sequence[int]) -> "SegDataset":
        """A dataset holding only ``indices`` (in that order)."""
        idx = [int(i) for i in indices]
        return SegDataset([self.image_paths[i] for i in idx], [self.label_paths[i] for i in idx], self.classes,
                          self.palette, self.name, self.split, self.ignore_index, self.image_mode,
                          [self.names[i] for i in idx], self.label_map)


class FolderDataset(SegDataset):
    """A user's folder of image/label pairs matched by file stem (:func:`pair_files`).

    ``FolderDataset("imgs/", "labels/", classes=("road", "car"))`` pairs ``imgs/a.jpg`` with
    ``labels/a.png``; either side may use any of :data:`FILE_SUFFIXES` (``.png``, ``.jpg``,
    ``.tif``, ``.gif``, ...). Labels are single-channel images of class ids ``0..len(classes)-1``,
    with ``ignore_index`` (default 255) marking unlabelled pixels. Images not stored as RGB
    (greyscale, palette, RGBA) are converted to RGB when read; :attr:`converted` says so.

    Args:
        image_dir, label_dir: the two folders.
        classes: the class names, a sequence of strings such as ``("background", "vessel")``
            (a bare string is refused with a ``TypeError``).
        palette: one RGB triple (0..255) per class for figures (default: seeded random colours).
        name: dataset name recorded with results (default: the image folder's name).
        label_suffix: what follows the image's stem in a label's name: ``""`` (default; any
            ending), ``"_manual1"`` (image ``01.tif``, label ``01_manual1.gif``), or with an ending
            (``".png"``, ``"_manual1.gif"``) to fix it.
        image_suffix: ``None`` (default; any ending) or the images' fixed ending, which is not part of
            the stem: ``"_training.tif"`` pairs ``21_training.tif`` with ``21_manual1.gif`` (DRIVE).
        ignore_index: label value of unlabelled pixels.
        label_map: stored label value → class id, applied to every label file when it is read,
            e.g. ``{255: 1}`` for binary masks stored as 0/255; values not in the map are kept as
            they are (and must then be class ids or ``ignore_index``).

    Binary-mask check (:func:`refuse_binary_masks`, the rule :func:`ignore_only`): with
    ``label_map=None`` (the default) up to 64 label files are scanned, and if the values found
    hold only 0 and ``ignore_index`` (255), the folder is refused with a :class:`DataError` naming
    a file and suggesting ``label_map={255: 1}``: such files are almost always 0/255 binary masks,
    whose foreground would otherwise be read as the ignore index and silently dropped from training
    and scoring. To really mean "class 0 and ignore", pass ``label_map={}`` (an explicit map, even
    empty, turns the check off).
    """

    IMAGE_SUFFIXES = FILE_SUFFIXES

    def __init__(self, image_dir, label_dir, classes: Sequence[str], *, palette=None, name: str | None = None,
                 label_suffix: str = "", ignore_index: int = IGNORE_INDEX,
                 label_map: Mapping[int, int] | None = None, image_suffix: str | None = None):
        image_dir, label_dir = Path(image_dir), Path(label_dir)
        if isinstance(classes, (str, bytes)):
            raise TypeError(f"classes must be a sequence of class names such as ('background', {classes!r}), "
                            f"got the single string {classes!r}")
        if not isinstance(classes, Sequence) or not all(isinstance(c, str) for c in classes):
            raise TypeError(f"classes must be a sequence of class names (strings) such as ('road', 'car'), got {classes!r}")
        if not classes:
            raise ValueError("classes must name at least one class, e.g. classes=('background', 'vessel')")
        label_map = check_label_map(label_map, num_classes=len(classes), ignore_index=ignore_index)
        pairs = pair_files(image_dir, label_dir, label_suffix=label_suffix, image_suffix=image_suffix)
        images, labels = [p[0] for p in pairs], [p[1] for p in pairs]
        if label_map is None:
            refuse_binary_masks(labels, where=paths.relpath(label_dir), classes=tuple(classes),
                                ignore_index=ignore_index)
        if palette is None:
            rng = np.random.default_rng(0)
            palette = tuple(tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in classes)
        names = [p.name[:-len(image_suffix)] if image_suffix else _split_suffix(p.name)[0] for p in images]
        super().__init__(images, labels, tuple(classes), tuple(palette), name or image_dir.name, "all", ignore_index,
                         names=names, label_map=label_map)
