"""Reading and checking single files of a segmentation dataset: images, label maps, ``label_map``
remapping, image/label pairing by file stem, and the refusals (0/255 masks, ignore-only labels)
with one line naming the file.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from repro.base import paths
from repro.base.validation import is_int

#: class id of void / unlabelled pixels in every label map of the package (shipped data, perturbations,
#: corruptions, metrics)
IGNORE_INDEX = 255

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


