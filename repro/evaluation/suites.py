"""Evaluation suites of SPEC §6: clean, basis_aug, advsteer, imagenet_c, real_world.

``evaluate(model, dataset, suite, seed=0)`` returns a :class:`SuiteResult`: one row per item of
the suite (a perturbation type at a magnitude, an AdvSteer combination, a corruption at a
severity, a real-world split) with aAcc, mAcc and mIoU in percent, and the suite's summary, the
unweighted mean over its items (the paper's "mean over all").

Each item is scored with one confusion matrix accumulated over the whole evaluation set
(MMSegmentation's convention, :mod:`repro.scoring.metrics`). Perturbed labels are used where an item
moves content (geometric basis perturbations, AdvSteer's lens distortion), so accuracy is always
measured against the correspondingly transformed ground truth. Randomness (noise, AdvSteer, IN-C) is
drawn from generators seeded by the package's seed rule (:func:`repro.base.seeds.derive_seed` of the seed and
the item, :func:`item_batches`): the same seed gives the same numbers. ImageNet-C
images are cached on disk per (dataset, split, image name, size, corruption, severity, seed) as uint8
(labels only for the corruptions that move them, as uint8 when the ids fit).

Data flow (:mod:`repro.data.streaming`, :mod:`repro.base.distributed`): the evaluated images are read from
disk in chunks of ``batch_size`` (the batches of a stacked split, so no number changes), perturbed
and scored chunk by chunk: peak memory is O(``batch_size``), not O(split). Under ``torchrun`` the
chunks (the whole items of :data:`SEQUENTIAL_SUITES`) are shared out over the ranks and the integer
confusion matrices added: the numbers are a one-process run's, bit for bit.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from repro.base import cache
from repro.data import DataError, SegDataset
from repro.scoring.metrics import ConfusionMatrix
from repro.base.seeds import derive_seed, torch_generator

SUITES = ("clean", "basis_aug", "advsteer", "imagenet_c", "real_world")
BASIS_MAGNITUDES = (0.2, 0.4, 0.6, 0.8, 1.0)
SEVERITIES = (1, 2, 3, 4, 5)
METRICS = ("aAcc", "mAcc", "mIoU")
#: version of each suite's numbers, part of the keys of cached scores (2: the draws follow the seed rule of
#: :mod:`repro.base.seeds`; version 1 drew by CRC32 of the item and chunk)
SUITE_VERSIONS = {"clean": 1, "basis_aug": 2, "advsteer": 2, "imagenet_c": 2, "real_world": 1}


@dataclass
class SuiteResult:
    """Scores of one suite: ``table`` has columns suite, item, level, aAcc, mAcc, mIoU."""

    suite: str
    table: pd.DataFrame
    summary: dict = field(default_factory=dict)
    n_images: int = 0

    def per_item(self) -> pd.DataFrame:
        """Mean over levels for each item (e.g. each perturbation type over its magnitudes)."""
        return self.table.groupby("item", sort=False)[list(METRICS)].mean()


def _check_suite(suite: str) -> str:
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; suites are {', '.join(SUITES)}")
    return suite


#: suites whose random draws run one generator through the chunks of an item (:func:`item_batches`): an
#: item of these is scored whole by one rank; the items of the other suites are split by chunks
SEQUENTIAL_SUITES = ("basis_aug", "advsteer")
#: version of the per-image ImageNet-C cache entries (3: one entry per image; 2 held a whole split)
IMAGENET_C_CACHE_VERSION = 3


def _memory_chunks(dataset, indices, images, labels, batch_size, chunks):
    """The chunks of already stacked ``images``/``labels`` (the evaluated images in order)."""
    from repro.data.streaming import Chunk, n_chunks

    idx = list(range(len(dataset))) if indices is None else [int(i) for i in indices]
    if len(images) != len(idx):
        raise ValueError(f"images must hold the {len(idx)} evaluated images (dataset.batch(indices)), got {len(images)}")
    for k in (range(n_chunks(len(idx), batch_size)) if chunks is None else chunks):
        s = slice(k * batch_size, (k + 1) * batch_size)
        yield Chunk(int(k), idx[s], [dataset.names[i] for i in idx[s]], images[s], labels[s])


def _imagenet_c_chunk(dataset, chunk, name, severity, seed, force):
    """``chunk`` corrupted by ImageNet-C ``name`` at ``severity``: image ``n`` drawn with
    ``derive_seed(seed, name, severity, n)``, rounded to uint8 and cached on disk per image
    (namespace ``imagenet_c``; the label only for :data:`repro.evaluation.corruptions.MOVES_CONTENT`, as uint8 when
    the ids fit), keyed by the image's name, size and the SHA-1 of its pixels and labels as read
    (so a resized or otherwise transformed view of a split gets its own entries).
    Returns (N×3×H×W float = uint8/255, N×H×W labels of the chunk's dtype)."""
    import hashlib

    from repro.evaluation import corruptions as corrupt

    h, w = (int(v) for v in chunk.images.shape[-2:])
    xs, ys = [], []
    for i, n in enumerate(chunk.names):
        digest = hashlib.sha1(chunk.images[i].contiguous().numpy().tobytes())
        digest.update(chunk.labels[i].contiguous().numpy().tobytes())
        key = {"dataset": dataset.name, "split": dataset.split, "name": n, "size": [h, w],
               "content": digest.hexdigest(), "corruption": name, "severity": int(severity), "seed": int(seed),
               "version": IMAGENET_C_CACHE_VERSION}

        def compute(i=i, n=n):
            x2, y2 = corrupt.imagenet_c(chunk.images[i:i + 1], chunk.labels[i:i + 1], name, severity,
                                        seed=[derive_seed(seed, name, severity, n)])
            moved = None
            if name in corrupt.MOVES_CONTENT:  # otherwise the labels are the input's: not stored again
                moved = y2[0]
                if int(moved.min()) >= 0 and int(moved.max()) <= 255:
                    moved = moved.to(torch.uint8)  # class ids and 255 fit a byte (8x smaller entries)
            return {"image": (x2[0].clamp(0, 1) * 255).round().to(torch.uint8), "label": moved}

        got = cache.cached("imagenet_c", key, compute, force=force)
        xs.append(got["image"])
        ys.append(chunk.labels[i] if got["label"] is None else got["label"].to(chunk.labels.dtype))
    return torch.stack(xs).float() / 255.0, torch.stack(ys)


def item_chunks(dataset: SegDataset, suite: str, item: str, level, *, seed: int = 0,
                indices: Sequence[int] | None = None, batch_size: int = 8, images=None, labels=None,
                advsteer_variant: str = "paper", border: str = "zoom", force: bool = False,
                chunks: Sequence[int] | None = None, num_workers: int = 0):
    """Like :func:`item_batches`, but yields :class:`repro.data.streaming.Chunk` objects (chunk number,
    dataset indices and names with the perturbed images and labels), and can stop at some chunks:
    ``chunks`` (chunk numbers, increasing) for suites whose images are independent (not
    :data:`SEQUENTIAL_SUITES`, whose draws depend on every earlier chunk)."""
    from repro.data.streaming import _check_batch_size, stream_chunks

    _check_suite(suite)
    _check_batch_size(batch_size)
    if chunks is not None:
        chunks = [int(k) for k in chunks]
        if suite in SEQUENTIAL_SUITES:
            raise ValueError(f"chunks: the items of suite {suite!r} draw from one generator through all chunks, so "
                             f"they are scored whole (chunks=None)")
    if (images is None) != (labels is None):
        raise ValueError("give both images and labels (the stacked evaluation set) or neither")
    if images is None:
        source = stream_chunks(dataset, indices, batch_size=batch_size, chunks=chunks, num_workers=num_workers)
    else:
        source = _memory_chunks(dataset, indices, images, labels, batch_size, chunks)
    if suite in ("clean", "real_world"):
        yield from source
    elif suite == "basis_aug":
        from repro.perturb import functional as perturb

        g = None
        for ch in source:  # as repro.scoring.perturbed.perturbed_chunks: one generator derive_seed(seed, type)
            if g is None:
                g = torch_generator(seed, item, device=ch.images.device)
            ch.images, ch.labels = perturb.apply(ch.images, ch.labels, item, float(level), generator=g, border=border)
            yield ch
    elif suite == "advsteer":
        from repro.evaluation import corruptions as corrupt

        c = int(str(item).rsplit("_", 1)[1])
        g = torch_generator(seed, "advsteer", c)
        for ch in source:
            ch.images, ch.labels = corrupt.advsteer(ch.images, ch.labels, c, variant=advsteer_variant, generator=g)
            yield ch
    else:  # imagenet_c
        for ch in source:
            ch.images, ch.labels = _imagenet_c_chunk(dataset, ch, item, int(level), seed, force)
            yield ch


def even_indices(n_images: int, n: int | None) -> list[int] | None:
    """``n`` indices evenly spaced over ``0..n_images-1`` (``np.linspace`` rounded), or ``None``
    (all images) when ``n`` is ``None``, ≤ 0 or not below ``n_images``. The evaluation subsets of
    :func:`repro.paper.experiments.score_runs` and :func:`repro.robustness.robustness_report`."""
    n = int(n or 0)
    if n <= 0 or n >= n_images:
        return None
    return np.linspace(0, n_images - 1, n).round().astype(int).tolist()


def suite_items(suite: str, *, types: Sequence[str] | None = None, magnitudes: Sequence[float] = BASIS_MAGNITUDES,
                combinations: Sequence[int] = (1, 2, 3, 4, 5, 6), corruptions: Sequence[str] | None = None,
                severities: Sequence[int] = SEVERITIES, real_world: Sequence[str] | None = None) -> list[tuple]:
    """The items of ``suite`` in scoring order: ``(item, level)`` pairs.

    ``clean``: ``[("clean", "")]``; ``basis_aug``: every type × magnitude (α as float, types in
    :data:`repro.perturb.NAMES` order unless given); ``advsteer``: ``("advsteer_<c>", "")``;
    ``imagenet_c``: corruption × severity (default corruptions :data:`repro.evaluation.corruptions.AUTHORS_IMAGENET_C`);
    ``real_world``: ``(name, "")`` for each name of ``real_world``. This is the one definition of
    the suites used by :func:`evaluate` (notebooks 05–09) and :mod:`repro.robustness`.
    """
    _check_suite(suite)
    if suite == "clean":
        return [("clean", "")]
    if suite == "basis_aug":
        from repro import perturb

        names = list(types) if types is not None else list(perturb.NAMES)
        for name in names:
            perturb.check_name(name)
        return [(t, float(m)) for t in names for m in magnitudes]
    if suite == "advsteer":
        return [(f"advsteer_{c}", "") for c in combinations]
    if suite == "imagenet_c":
        from repro.evaluation import corruptions as corrupt

        names = list(corruptions) if corruptions is not None else list(corrupt.AUTHORS_IMAGENET_C)
        return [(c, int(s)) for c in names for s in severities]
    return [(name, "") for name in (real_world or ())]


def item_batches(dataset: SegDataset, suite: str, item: str, level, *, seed: int = 0,
                 indices: Sequence[int] | None = None, batch_size: int = 8, images=None, labels=None,
                 advsteer_variant: str = "paper", border: str = "zoom", force: bool = False,
                 chunks: Sequence[int] | None = None, num_workers: int = 0):
    """The evaluation data of one suite item, chunk by chunk: yields ``(images, labels)`` of at most
    ``batch_size`` images (N×3×H×W float in [0, 1], N×H×W int64), perturbed as the item says.

    The one place where the suites perturb data (:func:`evaluate`, :mod:`repro.robustness`).
    Images are read from disk chunk by chunk (:func:`repro.data.streaming.stream_chunks`, ``num_workers``
    reading ahead; memory O(``batch_size``)), or taken from ``images``/``labels`` when given (the
    already stacked ``dataset.batch(indices)``); both give the same chunks. ``chunks``: only these
    chunk numbers (:func:`item_chunks`).
    Random draws (:func:`repro.base.seeds.derive_seed`): ``basis_aug`` as :func:`repro.scoring.perturbed.perturbed_chunks`
    (one generator ``derive_seed(seed, type)`` through the chunks: the same draws at every magnitude),
    ``advsteer`` one generator ``derive_seed(seed, "advsteer", c)`` through the chunks, ``imagenet_c``
    one seed per image name, ``derive_seed(seed, corruption, severity, name)``, with the corrupted
    images cached on disk per image (namespace ``imagenet_c``).
    """
    for ch in item_chunks(dataset, suite, item, level, seed=seed, indices=indices, batch_size=batch_size,
                          images=images, labels=labels, advsteer_variant=advsteer_variant, border=border,
                          force=force, chunks=chunks, num_workers=num_workers):
        yield ch.images, ch.labels


def score_item(model, dataset: SegDataset, suite: str, item: str, level, *, seed: int = 0,
               indices: Sequence[int] | None = None, batch_size: int = 8, device=None, images=None, labels=None,
               advsteer_variant: str = "paper", border: str = "zoom", force: bool = False,
               chunks: Sequence[int] | None = None, num_workers: int = 0, return_matrix: bool = False,
               on_chunk=None):
    """aAcc, mAcc, mIoU (percent) of ``model`` on one suite item (:func:`item_batches`), from one
    confusion matrix accumulated over all images (MMSegmentation's convention).

    ``chunks``: score only these chunks (a rank's share, :func:`item_chunks`); ``return_matrix``:
    return the :class:`repro.scoring.metrics.ConfusionMatrix` (counts, to be added over ranks) instead of the
    scores; ``on_chunk(chunk)``: called with every perturbed :class:`repro.data.streaming.Chunk` after
    its prediction (e.g. to compute features)."""
    from repro.scoring.inference import predict

    nc, ig = dataset.num_classes, dataset.ignore_index
    cm = ConfusionMatrix(nc, ig)
    for ch in item_chunks(dataset, suite, item, level, seed=seed, indices=indices, batch_size=batch_size,
                          images=images, labels=labels, advsteer_variant=advsteer_variant, border=border,
                          force=force, chunks=chunks, num_workers=num_workers):
        cm.update(predict(model, ch.images, batch_size=batch_size, device=device, num_classes=nc).cpu(), ch.labels)
        if on_chunk is not None:
            on_chunk(ch)
    return cm if return_matrix else cm.scores()


def item_task(model, dataset: SegDataset, suite: str, item: str, level, *, indices: Sequence[int] | None = None,
              batch_size: int = 8, features=None, **opts):
    """One suite item as a task of :func:`repro.base.distributed.run_sharded`: units are its chunks (cost 1
    each), or the whole item (``None``, cost: its number of chunks) for :data:`SEQUENTIAL_SUITES`.
    A rank's partial is ``{"matrix": C×C int64 counts, "features": {chunk: features}}`` (features
    only with ``features``, a callable images → N×d); :func:`combine_partials` adds them up.
    ``opts``: the other arguments of :func:`score_item`."""
    from repro.data.streaming import n_chunks

    n = n_chunks(len(dataset) if indices is None else len(indices), batch_size)
    units, costs = ([None], [n]) if suite in SEQUENTIAL_SUITES else (list(range(n)), [1] * n)

    def run(mine):
        feats = {}
        on_chunk = None if features is None else (lambda ch: feats.__setitem__(ch.number, features(ch.images)))
        cm = score_item(model, dataset, suite, item, level, indices=indices, batch_size=batch_size,
                        chunks=None if mine == [None] else mine, return_matrix=True, on_chunk=on_chunk, **opts)
        return {"matrix": cm.matrix.cpu() if cm.matrix is not None else None, "features": feats}

    return units, costs, run


def combine_partials(partials: Sequence[Mapping], num_classes: int, ignore_index: int = 255):
    """The ranks' partials of one :func:`item_task` as ``(ConfusionMatrix of the sum of the counts,
    features of all chunks in chunk order or None)``; int64 sums are exact, so the result equals a
    one-process run's."""
    cm = ConfusionMatrix(num_classes, ignore_index)
    feats = {}
    for p in partials:
        if p["matrix"] is not None:
            cm.matrix = p["matrix"].clone() if cm.matrix is None else cm.matrix + p["matrix"]
        feats.update(p["features"])
    return cm, (torch.cat([feats[k] for k in sorted(feats)]) if feats else None)


def evaluate(model, dataset: SegDataset | Mapping[str, SegDataset], suite: str, *, seed: int = 0,
             indices: Sequence[int] | None = None, batch_size: int = 8, device=None,
             types: Sequence[str] | None = None, magnitudes: Sequence[float] = BASIS_MAGNITUDES,
             combinations: Sequence[int] = (1, 2, 3, 4, 5, 6), advsteer_variant: str = "paper",
             corruptions: Sequence[str] | None = None, severities: Sequence[int] = SEVERITIES,
             border: str = "zoom", force: bool = False, progress: bool = True, num_workers: int = 0) -> SuiteResult:
    """Score ``model`` on one suite of SPEC §6.

    Args:
        model: anything :func:`repro.scoring.inference.predict` accepts (an ``nn.Module`` returning
            N×C×h×w logits, a callable, or an MMSegmentation segmentor).
        dataset: the evaluation split; for ``real_world`` a mapping of item name → dataset
            (e.g. ``{"camvid_dusk": load_dataset("camvid", "test_dusk")}``, see
            :func:`real_world_sets`) or one dataset.
        suite: one of :data:`SUITES`.
        seed: seeds every random draw (noise, IN-C); same seed, same numbers.
        indices: evaluate on this subset of ``dataset`` only (all by default).
        types, magnitudes: ``basis_aug`` items (default: all 24 types × 0.2, 0.4, …, 1.0).
        combinations, advsteer_variant: ``advsteer`` items (1–6; "paper" or "code" variant).
        corruptions, severities: ``imagenet_c`` items (default: the authors' 7 × severities 1–5).
        border: border handling of geometric perturbations ("zoom" or "pad").

        num_workers: processes reading the images ahead (:func:`repro.data.streaming.stream_chunks`).

    Items come from :func:`suite_items` and are perturbed and scored by :func:`score_item`
    (:func:`item_batches`), the code the robustness report uses too. Images are streamed from disk
    chunk by chunk (memory O(``batch_size``)). Under ``torch.distributed`` (``torchrun``) the items'
    chunks (whole items of :data:`SEQUENTIAL_SUITES`) are split over the ranks
    (:func:`repro.base.distributed.run_sharded`) and the confusion matrices added; every rank returns the
    same result, equal to a one-process run's.
    """
    from repro.base import distributed

    _check_suite(suite)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
    opts = dict(seed=seed, device=device, advsteer_variant=advsteer_variant, border=border, force=force,
                num_workers=num_workers)

    if suite == "real_world":
        sets = dict(dataset) if isinstance(dataset, Mapping) else {f"{dataset.name}_{dataset.split}": dataset}
        if not sets:
            raise ValueError("real_world needs at least one dataset")
        for ds in sets.values():
            _check_dataset(ds)
        entries = [(name, "", ds) for name, ds in sets.items()]
        n = sum(len(ds) if indices is None else len(indices) for ds in sets.values())
    else:
        _check_dataset(dataset)
        items = suite_items(suite, types=types, magnitudes=magnitudes, combinations=combinations,
                            corruptions=corruptions, severities=severities)
        entries = [(item, level, dataset) for item, level in items]
        n = len(dataset) if indices is None else len(indices)
    tasks = [item_task(model, ds, suite, item, level, indices=indices, batch_size=batch_size, **opts)
             for item, level, ds in entries]
    bar = _Bar(tasks, suite, progress and suite != "clean")
    parts = distributed.run_sharded(bar.tasks)
    bar.close()
    rows = []
    for (item, level, ds), p in zip(entries, parts):
        cm, _ = combine_partials(p, ds.num_classes, ds.ignore_index)
        rows.append({"item": item, "level": level, **cm.scores()})
    return _result(suite, rows, n)


def _check_dataset(dataset):
    if not isinstance(dataset, SegDataset):
        raise TypeError(f"dataset must be a repro.data.SegDataset, got {type(dataset).__name__}")
    return dataset


class _Bar:
    """A tqdm bar over the tasks of one step that this rank runs."""

    def __init__(self, tasks, desc, progress):
        from tqdm import tqdm

        from repro.base.progress import disabled

        self.bar = tqdm(total=len(tasks), desc=desc, disable=disabled(progress), leave=False)

        def counted(run):
            def f(mine):
                out = run(mine)
                self.bar.update(1)
                return out
            return f

        self.tasks = [(u, c, counted(r)) for u, c, r in tasks]

    def close(self):
        self.bar.close()


def _result(suite, rows, n) -> SuiteResult:
    table = pd.DataFrame(rows, columns=["item", "level", *METRICS])
    table.insert(0, "suite", suite)
    summary = {m: float(table[m].mean()) for m in METRICS}
    return SuiteResult(suite, table, summary, n)


def evaluate_suites(model, dataset: SegDataset, suites: Sequence[str] = ("clean", "basis_aug", "advsteer", "imagenet_c"),
                    *, real_world: Mapping[str, SegDataset] | None = None, suite_indices: Mapping[str, Sequence[int]] | None = None,
                    **kwargs) -> dict[str, SuiteResult]:
    """Several suites at once; ``suite_indices`` gives a per-suite evaluation subset (e.g. a
    smaller one for the 120-item ``basis_aug``). ``real_world`` is the mapping for that suite."""
    out = {}
    for s in suites:
        idx = (suite_indices or {}).get(s, kwargs.get("indices"))
        kw = {k: v for k, v in kwargs.items() if k != "indices"}
        if s == "real_world":
            if not real_world:
                raise ValueError("suite 'real_world' needs real_world={name: dataset}")
            out[s] = evaluate(model, real_world, s, indices=idx, **kw)
        else:
            out[s] = evaluate(model, dataset, s, indices=idx, **kw)
    return out


# ------------------------------------------------------------------------------------------ real world

#: environment variables pointing at users' real adverse-weather data (paper profile); the folders
#: are resolved by :func:`repro.data.roots.configured_data_root` (``$REPRO_<NAME>_ROOT``, else
#: ``$REPRO_DATA_ROOT/<name>``)
REAL_WORLD_ENV = {"acdc": "REPRO_ACDC_ROOT", "idd": "REPRO_IDD_ROOT"}
ACDC_CONDITIONS = ("fog", "rain", "night", "snow")


def _optional_root(name: str, given) -> Path | None:
    """The folder of real-world dataset ``name``: ``given``, else ``$REPRO_<NAME>_ROOT`` (must exist),
    else ``$REPRO_DATA_ROOT/<name>`` when that folder exists (optional: the user may hold other
    datasets only); ``None`` when none applies."""
    if given is not None:
        return Path(given).expanduser() if str(given) else None
    from repro.data.roots import configured_data_root

    root = configured_data_root(name)
    if root is not None and not os.environ.get(REAL_WORLD_ENV[name]) and not root.exists():
        return None
    return root


def real_world_sets(*, acdc_root: str | os.PathLike | None = None, idd_root: str | os.PathLike | None = None,
                    include_shipped: bool = True, classes=None, palette=None) -> dict[str, SegDataset]:
    """The real-world items available here, in this order:

    * ``camvid_dusk``: the shipped CamVid dusk split (when ``include_shipped``);
    * ``acdc_fog``, ``acdc_rain``, ``acdc_night``, ``acdc_snow`` (one item per condition, the val
      split; Table 3 reads them, see :func:`repro.paper.experiments.acdc_conditions`) when ``acdc_root``
      (else ``$REPRO_ACDC_ROOT``, else ``$REPRO_DATA_ROOT/acdc`` if that folder exists) holds
      ``rgb_anon/<cond>/val/<sequence>/*_rgb_anon.png`` and ``gt/<cond>/val/<sequence>/*_gt_labelTrainIds.png``
      (ACDC's own layout);
    * ``idd_val`` when ``idd_root`` (else ``$REPRO_IDD_ROOT``, else ``$REPRO_DATA_ROOT/idd`` if that
      folder exists) holds ``leftImg8bit/val/<sequence>/*_leftImg8bit.png`` and
      ``gtFine/val/<sequence>/*_gtFine_labelcsTrainIds.png`` (IDD's layout, labels converted to
      Cityscapes train ids with the IDD toolkit).

    ACDC and IDD are read in Cityscapes' 19 classes (``classes``/``palette`` override). A root that
    is configured but lacks the layout raises :class:`repro.data.DataError` (one line: the missing
    path, the expected layout, the variable); nothing is added for a dataset not configured.
    Images keep their size (pixels); score items of different sizes separately.
    """
    from repro.data import load_dataset

    sets: dict[str, SegDataset] = {}
    if include_shipped:
        sets["camvid_dusk"] = load_dataset("camvid", "test_dusk")
    classes = tuple(classes) if classes else CITYSCAPES_CLASSES
    palette = tuple(palette or [(0, 0, 0)] * len(classes))
    root = _optional_root("acdc", acdc_root)
    if root:
        for cond in ACDC_CONDITIONS:
            img_dir, lab_dir = root / "rgb_anon" / cond / "val", root / "gt" / cond / "val"
            if not img_dir.is_dir() or not lab_dir.is_dir():
                raise DataError(f"{img_dir}: ACDC condition folder missing; expected <acdc_root>/rgb_anon/<condition>/val/"
                                "<sequence>/*_rgb_anon.png and <acdc_root>/gt/<condition>/val/<sequence>/"
                                "*_gt_labelTrainIds.png (ACDC's published layout; set $REPRO_ACDC_ROOT or pass acdc_root=...)")
            images = sorted(img_dir.rglob("*_rgb_anon.png"))
            labels = [lab_dir / p.parent.name / p.name.replace("_rgb_anon.png", "_gt_labelTrainIds.png") for p in images]
            sets[f"acdc_{cond}"] = SegDataset(images, labels, classes, palette, f"acdc_{cond}", "val")
    root = _optional_root("idd", idd_root)
    if root:
        img_dir, lab_dir = root / "leftImg8bit" / "val", root / "gtFine" / "val"
        for d in (img_dir, lab_dir):
            if not d.is_dir():
                raise DataError(f"{d}: IDD val folder missing; expected <idd_root>/leftImg8bit/val/<sequence>/"
                                "*_leftImg8bit.png and <idd_root>/gtFine/val/<sequence>/*_gtFine_labelcsTrainIds.png "
                                "(IDD's layout, labels from the IDD toolkit's createLabels.py --id-type csTrainId; "
                                "set $REPRO_IDD_ROOT or pass idd_root=...)")
        images = sorted(img_dir.rglob("*_leftImg8bit.png"))
        labels = [lab_dir / p.parent.name / p.name.replace("_leftImg8bit.png", "_gtFine_labelcsTrainIds.png")
                  for p in images]
        missing = [p for p in labels if not p.is_file()]
        if missing:
            raise DataError(f"{missing[0]}: IDD label missing ({len(missing)} of {len(labels)}); expected one "
                            "*_gtFine_labelcsTrainIds.png per image (run the IDD toolkit's createLabels.py "
                            "--id-type csTrainId)")
        sets["idd_val"] = SegDataset(images, labels, classes, palette, "idd", "val")
    return sets


CITYSCAPES_CLASSES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
                      "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
                      "motorcycle", "bicycle")
