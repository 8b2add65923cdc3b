"""The seed rule of the package: every derived random stream is seeded by :func:`derive_seed`.

A stream is named by the experiment seed and what it is for (a perturbation type, a corruption
and severity, an image name...)::

    derive_seed(seed, *parts) = int(SHA-1("|".join(str(p) for p in (seed, *parts)))[:15], 16)

(a 60-bit integer; the same on every machine and Python, unlike ``hash()``). Streams with different
names are independent, whatever order they are used in. Consumers build their own generator
from it (``torch.Generator().manual_seed(...)``, ``numpy.random.SeedSequence(...)``); nothing
touches global RNG state.

Where it is used: the perturbation draws of "perturb then score" (:mod:`repro.scoring.perturbed`:
the sensitivity analysis, the training hook's level measurements, the ``basis_aug`` and
``advsteer`` suites, the extractor check, the KID sample-size study) and the per-image
ImageNet-C seeds of the evaluation suites. The training-time augmentation has its own rule
(``SeedSequence([seed, rank, batch, position])`` in :mod:`repro.train.transforms`), because a
sample's draw must follow from its place in the data stream.
"""
from __future__ import annotations

import hashlib

__all__ = ["derive_seed", "torch_generator"]


def derive_seed(seed: int, *parts) -> int:
    """``int(SHA-1("seed|part1|part2|…")[:15], 16)``: a 60-bit seed for the stream ``parts`` of ``seed``.

    ``seed``: the experiment seed (int); ``parts``: what the stream is for, each turned into text
    with ``str`` (so ``0.6`` and ``"0.6"`` name the same stream)."""
    import numpy as np

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    text = "|".join(str(p) for p in (int(seed), *parts))
    return int(hashlib.sha1(text.encode()).hexdigest()[:15], 16)


def torch_generator(seed: int, *parts, device=None):
    """A ``torch.Generator`` (on ``device``, default CPU) seeded with ``derive_seed(seed, *parts)``."""
    import torch

    return torch.Generator(device=device if device is not None else "cpu").manual_seed(derive_seed(seed, *parts))
