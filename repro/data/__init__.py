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

from repro.data.datasets import FolderDataset, SegDataset  # noqa: F401
from repro.data.files import (  # noqa: F401
    ANY_ENDING, BINARY_MASK_FIX, DataError, FILE_SUFFIXES, IGNORE_INDEX, LabelMapError, apply_label_map,
    check_label_map, conversion_note, ignore_only, pair_files, parse_label_map, read_image, read_label,
    refuse_binary_masks, refuse_ignore_only_labels, spread,
)
from repro.data.shipped import (  # noqa: F401
    CAMVID_CLASSES, CAMVID_DUSK_PREFIX, CAMVID_PALETTE, CAMVID_SIZE, ISBI_CLASSES, ISBI_PALETTE, ISBI_SIZE,
    ISBI_SPLITS, SHIPPED, import_camvid, import_isbi2012_em, load_dataset, manifest, verify_dataset,
)

