"""Reading an evaluation split chunk by chunk from disk, so that memory is O(batch), not O(split).

The suites (:mod:`repro.evaluation.suites`) cut the evaluated images (``indices`` of a
:class:`repro.data.SegDataset`, all by default) into *chunks* of ``batch_size`` consecutive images:
chunk ``k`` holds positions ``k·b … k·b + b − 1`` (``b`` = ``batch_size``; the last chunk may be
shorter). These are exactly the batches the suites perturbed and predicted when the whole split was
stacked in memory, so streaming changes no number: every random draw and every forward pass sees the
same images in the same batch.

:func:`stream_chunks` reads the wanted chunks through a ``torch.utils.data.DataLoader``
(``num_workers`` worker processes read and decode the files ahead; order is kept) with the
dataset's own ``__getitem__``, so datasets that resize or remap on reading stream the same samples
as ``SegDataset.batch``.

Heap growth: with glibc's default *dynamic* mmap threshold, freeing a large buffer raises the threshold
(up to 32 MiB), after which the chunks' tens-of-MB buffers come from the heap, which fragments and
grows from chunk to chunk (measured on 10 chunks of 4 ImageNet-C jpeg_compression images of
2048×1024: peak RSS 1389 MB after the first chunk, 1769 MB after the tenth, still rising). :func:`stream_chunks` therefore fixes the threshold once per process at 1 MiB
(``mallopt(M_MMAP_THRESHOLD, 1 MiB)``, the documented way to switch the dynamic adjustment off), so
large buffers are mapped and returned to the system when freed: the peak stays flat (same
measurement: 1141 MB after the first chunk, 1251 MB from the third on). Without glibc nothing is changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

__all__ = ["Chunk", "chunk_positions", "n_chunks", "stream_chunks", "fix_mmap_threshold"]

_MMAP_THRESHOLD_FIXED = False


@dataclass
class Chunk:
    """Chunk ``number`` of an evaluation set: ``images`` N×3×H×W float32 RGB in [0, 1], ``labels``
    N×H×W int64, the images' dataset ``indices`` and ``names``."""

    number: int
    indices: list[int]
    names: list[str]
    images: torch.Tensor
    labels: torch.Tensor


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    return batch_size


def _indices(dataset, indices: Sequence[int] | None) -> list[int]:
    from repro.data import SegDataset

    if not isinstance(dataset, SegDataset):
        raise TypeError(f"dataset must be a repro.data.SegDataset, got {type(dataset).__name__}")
    idx = list(range(len(dataset))) if indices is None else [int(i) for i in indices]
    if not idx:
        raise ValueError("indices must select at least one sample")
    return idx


def n_chunks(n_images: int, batch_size: int) -> int:
    """Number of chunks of ``batch_size`` images in ``n_images`` images: ``ceil(n_images / batch_size)``."""
    return -(-int(n_images) // _check_batch_size(batch_size))


def chunk_positions(n_images: int, batch_size: int, number: int) -> range:
    """Positions (0-based, in the evaluated order) of the images of chunk ``number``."""
    start = int(number) * _check_batch_size(batch_size)
    if not 0 <= start < n_images:
        raise ValueError(f"chunk {number} is out of range: {n_images} images make {n_chunks(n_images, batch_size)} "
                         f"chunks of batch_size={batch_size}")
    return range(start, min(start + batch_size, n_images))


class _ChunkSet(torch.utils.data.Dataset):
    """Map-style dataset whose item ``j`` is the ``j``-th wanted chunk, read sample by sample."""

    def __init__(self, dataset, idx: list[int], batch_size: int, numbers: list[int]):
        self.dataset, self.idx, self.batch_size, self.numbers = dataset, idx, batch_size, numbers

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, j: int) -> Chunk:
        k = self.numbers[j]
        pos = chunk_positions(len(self.idx), self.batch_size, k)
        samples = [self.dataset[self.idx[p]] for p in pos]
        shapes = {tuple(s["image"].shape) for s in samples}
        if len(shapes) > 1:
            raise ValueError(f"samples of chunk {k} have different sizes {sorted(shapes)}; batch them at one size")
        return Chunk(k, [self.idx[p] for p in pos], [str(s["name"]) for s in samples],
                     torch.stack([s["image"] for s in samples]), torch.stack([s["label"] for s in samples]))


def fix_mmap_threshold(nbytes: int = 1 << 20) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD`` to ``nbytes`` (bytes; once per process), which also turns off its
    dynamic adjustment (module docstring). Returns whether the threshold is fixed (``False`` without
    glibc, e.g. macOS or musl)."""
    global _MMAP_THRESHOLD_FIXED
    if _MMAP_THRESHOLD_FIXED:
        return True
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _MMAP_THRESHOLD_FIXED = bool(libc.mallopt(-3, int(nbytes)))  # -3: M_MMAP_THRESHOLD (malloc.h)
    except (OSError, AttributeError):
        return False
    return _MMAP_THRESHOLD_FIXED


def stream_chunks(dataset, indices: Sequence[int] | None = None, *, batch_size: int = 8,
                  chunks: Sequence[int] | None = None, num_workers: int = 0) -> Iterator[Chunk]:
    """Yield the chunks ``chunks`` (all by default, in increasing order) of ``dataset`` restricted
    to ``indices`` (module docstring), read from disk as they are needed.

    ``num_workers``: worker processes of the ``DataLoader`` that reads ahead (0: read in this
    process); at most ``2 × num_workers`` chunks are held in memory besides the one in use. The first
    call fixes glibc's mmap threshold (:func:`fix_mmap_threshold`)."""
    idx = _indices(dataset, indices)
    _check_batch_size(batch_size)
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
    total = n_chunks(len(idx), batch_size)
    numbers = list(range(total)) if chunks is None else [int(k) for k in chunks]
    bad = [k for k in numbers if not 0 <= k < total]
    if bad:
        raise ValueError(f"chunks {bad} are out of range: {len(idx)} images make {total} chunks of batch_size={batch_size}")
    if not numbers:
        return
    fix_mmap_threshold()
    loader = torch.utils.data.DataLoader(_ChunkSet(dataset, idx, batch_size, numbers), batch_size=None,
                                         shuffle=False, num_workers=num_workers, collate_fn=_identity,
                                         persistent_workers=False)
    yield from loader


def _identity(x):
    return x
