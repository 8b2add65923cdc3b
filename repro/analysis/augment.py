"""The paper's augmentation for plain PyTorch training: :class:`SensitivityTransform`, a
torchvision-v2 transform that draws one (type, magnitude) per sample from a
:class:`repro.analysis.sampling.Distribution`, refreshed between epochs from
:func:`repro.analysis.sensitivity.analyse` by :func:`refresh_distribution`. It is built on first
access (it imports torchvision, ≈ 0.3–2 s), so ``import repro.analysis.augment`` stays cheap.
The perturbations themselves are :mod:`repro.perturb`'s (:func:`repro.perturb.transforms.apply_params`).
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional

import numpy as np
import torch

from repro.perturb.functional import BORDERS, GEOMETRIC
from repro.perturb.transforms import _check_backend, _check_border, _SEED_HIGH, apply_params

__all__ = ["SensitivityTransform", "refresh_distribution"]

_SYNC_VERSION = 1


def _check_nonneg_int(value, what: str, expected: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be {expected}, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be {expected}, got {value}")
    return int(value)


def _check_distribution(distribution):
    from repro.analysis.sampling import Distribution

    if not isinstance(distribution, Distribution):
        raise TypeError("distribution must be a repro.analysis.sampling.Distribution (e.g. Distribution.uniform('all') or "
                        f"Distribution.from_analysis(table)), got {type(distribution).__name__}")
    return distribution


def _worker_id() -> int:
    info = torch.utils.data.get_worker_info()
    return -1 if info is None else int(info.id)


class _SensitivityTransformImpl:
    """Implementation of :class:`SensitivityTransform` (mixed into ``torchvision.transforms.v2.Transform``)."""

    def __init__(self, distribution, *, seed: int = 0, border: str = "zoom", sync_file=None, backend: str = "torch"):
        super().__init__()
        self.backend = _check_backend(backend)
        self._distribution = _check_distribution(distribution)
        self.seed = _check_nonneg_int(seed, "seed", "a non-negative int")
        if not isinstance(border, str):
            raise TypeError(f"border must be one of {BORDERS}, got {type(border).__name__}")
        self.border = _check_border(border)
        if sync_file is not None and not isinstance(sync_file, (str, os.PathLike)):
            raise TypeError(f"sync_file must be a path (str or os.PathLike) or None, got {type(sync_file).__name__}")
        self.sync_file = None if sync_file is None else os.fspath(sync_file)
        self.epoch = 0
        self._counter = 0  # calls without an index since the epoch started, in this process
        self._sync_key = None
        if self.sync_file is not None:
            self._write_sync()

    # ---------------------------------------------------------------- state
    @property
    def distribution(self):
        """The current :class:`repro.analysis.sampling.Distribution` (as seen by this process)."""
        self._read_sync()
        return self._distribution

    def set_distribution(self, distribution) -> None:
        """Install a new distribution (e.g. ``Distribution.from_analysis(table)``) for the next draws.

        DataLoader workers hold copies of the transform: with ``persistent_workers=False`` (the
        default) the workers of the next epoch are started from the main process's copy, so call
        this between epochs, before iterating the loader again.  With ``persistent_workers=True``
        pass ``sync_file`` to the constructor: the new state is written there and the workers
        reload it on their next draw (again: call it between epochs, not while iterating).
        """
        self._distribution = _check_distribution(distribution)
        if self.sync_file is not None:
            self._write_sync()

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (a non-negative int) that enters the seed of every draw; resets the
        per-process call counter.  Reaches DataLoader workers like :meth:`set_distribution`."""
        self.epoch = _check_nonneg_int(epoch, "epoch", "a non-negative int")
        self._counter = 0
        if self.sync_file is not None:
            self._write_sync()

    def _write_sync(self) -> None:
        state = {"version": _SYNC_VERSION, "epoch": self.epoch, "distribution": self._distribution.to_dict()}
        tmp = f"{self.sync_file}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.sync_file)  # atomic: readers see the old or the new state, never half
        st = os.stat(self.sync_file)
        self._sync_key = (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read_sync(self) -> None:
        if self.sync_file is None:
            return
        try:
            st = os.stat(self.sync_file)
        except FileNotFoundError:
            return  # keep the state this copy has
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key == self._sync_key:
            return
        from repro.analysis.sampling import Distribution

        with open(self.sync_file) as f:
            state = json.load(f)
        if not isinstance(state, dict) or state.get("version") != _SYNC_VERSION:
            raise ValueError(f"sync_file {self.sync_file!r} does not hold a SensitivityTransform state "
                             f"(expected a JSON object with version {_SYNC_VERSION})")
        if int(state["epoch"]) != self.epoch:
            self._counter = 0
        self.epoch = int(state["epoch"])
        self._distribution = Distribution.from_dict(state["distribution"])
        self._sync_key = key

    # ---------------------------------------------------------------- randomness
    def rng(self, index: Optional[int] = None) -> np.random.Generator:
        """The per-sample numpy generator of the next draw (see the seed rule in the class doc)."""
        if index is not None:
            index = _check_nonneg_int(index, "index", "a non-negative int (the sample's index in the dataset)")
            words = [self.seed, self.epoch, 0, index]
        else:
            words = [self.seed, self.epoch, 1, _worker_id() + 1, self._counter]
            self._counter += 1
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))

    def sample_params(self, index: Optional[int] = None) -> dict:
        """One draw: ``{"name": str | None, "magnitude": α in [0, 1], "seed": noise seed}``.

        ``name=None`` (with α = 0.0) is the clean draw.  Deterministic given (seed, epoch, index),
        or given (seed, epoch, worker id, call counter) when ``index`` is None.
        """
        self._read_sync()
        g = self.rng(index)
        name, magnitude = self._distribution.sample(1, g)[0]
        return {"name": name, "magnitude": float(magnitude), "seed": int(g.integers(0, _SEED_HIGH))}

    # ---------------------------------------------------------------- the transform
    def forward(self, *inputs: Any, index: Optional[int] = None) -> Any:
        """``t(image, mask, index=i)`` (or any pytree holding one Image and at most one Mask)."""
        from torch.utils._pytree import tree_flatten, tree_unflatten
        from torchvision import tv_tensors

        if not inputs:
            raise TypeError("SensitivityTransform needs inputs: an image (tv_tensors.Image) and optionally a "
                            "mask (tv_tensors.Mask)")
        sample = inputs if len(inputs) > 1 else inputs[0]
        flat, spec = tree_flatten(sample)
        img_pos = [i for i, v in enumerate(flat) if isinstance(v, tv_tensors.Image)]
        mask_pos = [i for i, v in enumerate(flat) if isinstance(v, tv_tensors.Mask)]
        for v in flat:
            if isinstance(v, (tv_tensors.BoundingBoxes, tv_tensors.Video)) or (
                    hasattr(tv_tensors, "KeyPoints") and isinstance(v, tv_tensors.KeyPoints)):
                raise TypeError(f"inputs: {type(v).__name__} is not supported; expected one tv_tensors.Image "
                                "(3×H×W) and at most one tv_tensors.Mask (H×W)")
            if type(v).__module__.startswith("PIL"):
                raise TypeError("image must be a tv_tensors.Image, got a PIL image; convert it with "
                                "torchvision.transforms.v2.ToImage() first")
        if len(img_pos) != 1:
            if not img_pos:
                raise TypeError("image must be a torchvision.tv_tensors.Image (3×H×W, uint8 or float RGB in [0, 1]); "
                                "none found among the inputs")
            raise ValueError(f"image: expected one tv_tensors.Image per call, got {len(img_pos)}")
        if len(mask_pos) > 1:
            raise ValueError(f"mask: expected at most one tv_tensors.Mask per call, got {len(mask_pos)}")
        image = flat[img_pos[0]]
        if image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(f"image must be one 3×H×W RGB image (call the transform per sample), got shape "
                             f"{tuple(image.shape)}")
        if not (image.dtype == torch.uint8 or image.is_floating_point()):
            raise TypeError(f"image must be uint8 (0..255) or float (RGB in [0, 1]), got {image.dtype}")
        mask = flat[mask_pos[0]] if mask_pos else None
        if mask is not None:
            if mask.is_floating_point() or mask.is_complex() or mask.dtype == torch.bool:
                raise TypeError(f"mask must hold integer class ids (255 = ignore), got {mask.dtype}")
            hw = tuple(mask.shape[-2:]) if mask.dim() in (2, 3) else None
            if hw != tuple(image.shape[-2:]) or (mask.dim() == 3 and mask.shape[0] != 1):
                raise ValueError(f"mask must be H×W (or 1×H×W) with the image's H×W = {tuple(image.shape[-2:])}, "
                                 f"got shape {tuple(mask.shape)}")

        params = self.sample_params(index)
        if params["name"] is None:
            return sample  # the clean draw: the inputs themselves, unchanged
        x = image.as_subclass(torch.Tensor)
        low = x.dtype in (torch.float16, torch.bfloat16)
        y = None if mask is None else mask.as_subclass(torch.Tensor).reshape(mask.shape[-2:])
        if self.backend == "opencv" and x.dtype == torch.uint8 and x.device.type == "cpu":
            out, out_y = _apply_opencv(x, y, params, self.border)
        else:
            out, out_y = apply_params(x.float() if low else x, y, params, border=self.border)
        flat = list(flat)
        flat[img_pos[0]] = tv_tensors.Image(out.to(x.dtype) if low else out)
        if mask is not None and params["name"] in GEOMETRIC:
            flat[mask_pos[0]] = tv_tensors.Mask(out_y.reshape(mask.shape))
        return tree_unflatten(flat, spec)

    def refresh(self, model, images, labels, *, num_classes: int, **kwargs):
        """Shortcut for :func:`refresh_distribution` ``(self, model, images, labels, ...)``."""
        return refresh_distribution(self, model, images, labels, num_classes=num_classes, **kwargs)

    def extra_repr(self) -> str:
        return (f"distribution={self._distribution!r}, seed={self.seed}, border={self.border!r}, epoch={self.epoch}"
                + (f", sync_file={self.sync_file!r}" if self.sync_file else "")
                + (f", backend={self.backend!r}" if self.backend != "torch" else ""))


def _apply_opencv(x: torch.Tensor, y: Optional[torch.Tensor], params: dict, border: str):
    """One 3×H×W uint8 CPU image (and H×W mask) through :func:`repro.perturb.cpu.apply`."""
    from repro.perturb import cpu

    img = x.permute(1, 2, 0).contiguous().numpy()
    lab = None if y is None else y.contiguous().numpy()
    rng = np.random.Generator(np.random.PCG64(int(params["seed"])))
    out, out_y = cpu.apply(img, lab, params["name"], params["magnitude"], rng=rng, border=border)
    out_t = torch.from_numpy(out).permute(2, 0, 1).contiguous()
    return out_t, (None if out_y is None else torch.from_numpy(np.ascontiguousarray(out_y)))


_ST_DOC = """The paper's augmentation as a torchvision-v2 transform: one basis perturbation per sample,
drawn from a :class:`repro.analysis.sampling.Distribution`.

``SensitivityTransform(distribution, *, seed=0, border="zoom", sync_file=None, backend="torch")``

``backend="opencv"`` sends uint8 CPU images through the per-sample OpenCV kernels of
:mod:`repro.perturb.cpu` (cheaper in DataLoader workers; equal to the torch kernels within
:data:`repro.perturb.cpu.TOLERANCE`, noise from a ``numpy.random.Generator`` seeded with the draw's
seed); float images and GPU tensors always use the torch kernels.  The default ``"torch"`` keeps
the outputs of earlier versions.

Call ``t(image, mask, index=i)`` with ``image`` a ``tv_tensors.Image`` (3×H×W RGB, uint8 in
0..255 or float in [0, 1]) and ``mask`` an optional ``tv_tensors.Mask`` (H×W or 1×H×W integer class
ids, 255 = ignore); any pytree holding one Image and at most one Mask works too (other leaves pass
through).  Each call draws one ``(type, α)`` with ``distribution.sample`` -- α is the dimensionless
magnitude in [0, 1] of SPEC.md §1 (0 = identity, 1 = most severe), levels jittered by the
distribution's σ -- and applies it with :func:`repro.perturb.apply`: geometric types warp the image
bilinearly and the mask by nearest neighbour (``border``: ``"zoom"``, the paper, or ``"pad"``,
image 0 / mask 255); photometric types, blur and noise leave the mask object untouched.  The
outputs are a new ``Image`` of the input's dtype (uint8 is rounded back) and the ``Mask`` of the
input's dtype and shape.  The clean draw (probability 1/(N+1)) returns the inputs themselves.

Seed rule (no global RNG is used): every draw has its own ``numpy.random.Generator`` (PCG64)
seeded by ``SeedSequence([seed, epoch, 0, index])`` when the caller passes the sample's dataset
``index`` -- the draw, the magnitude and the noise seed of a sample then depend only on (seed,
epoch, index), so the output is the same with any number of DataLoader workers and any batch
order --, else by ``SeedSequence([seed, epoch, 1, worker_id + 1, counter])`` (``worker_id`` =
-1 in the main process, ``counter`` = calls in this process since the epoch started), which is
reproducible for a fixed worker count but changes with it (inside ``v2.Compose``, which cannot pass
``index``, this second rule applies).  Call :meth:`set_epoch` every epoch so that a sample is
perturbed differently each epoch.

DataLoader: the transform is picklable and works with ``num_workers >= 1``.  Workers hold copies:
:meth:`set_epoch` and :meth:`set_distribution` (or :func:`refresh_distribution`) called in the
main process between epochs reach the workers of the next epoch when ``persistent_workers=False``
(the default: workers are started anew per epoch).  With ``persistent_workers=True`` pass
``sync_file`` (a path): the main process then writes its state (epoch, distribution) there
atomically and each worker reloads it at its next draw when the file changed; call the setters
between epochs (before ``iter(loader)``), not while a loader is iterating, since workers prefetch.
"""


def _define_sensitivity_transform():
    from torchvision.transforms import v2

    cls = type("SensitivityTransform", (_SensitivityTransformImpl, v2.Transform),
               {"__module__": __name__, "__qualname__": "SensitivityTransform", "__doc__": _ST_DOC})
    return cls


def __getattr__(name: str):
    # SensitivityTransform subclasses torchvision's v2.Transform: build it on first access so that
    # importing repro.perturb does not import torchvision (pickle finds it here by name too)
    if name == "SensitivityTransform":
        cls = _define_sensitivity_transform()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def refresh_distribution(transform, model, images, labels, *, num_classes: int, types=None,
                         weighting: str = "accuracy", jitter: float = 0.1, **analyse_kwargs):
    """Run the sensitivity analysis of ``model`` and install its distribution in ``transform``.

    ``table = repro.analysis.sensitivity.analyse(model, (images, labels), types, num_classes=...,
    **analyse_kwargs)``, then ``transform.set_distribution(Distribution.from_analysis(table,
    weighting=weighting, jitter=jitter))``; returns the table (one row per type and level: α in
    [0, 1], mIoU in percent, KID, ...).  Call it between epochs (see :class:`SensitivityTransform`
    on DataLoader workers).

    ``images``: N×3×H×W float RGB in [0, 1] (or uint8 0..255), N ≥ 2, a few held-out images;
    ``labels``: N×H×W integer class ids (255 = ignore); ``types``: default the types of the
    transform's current distribution; ``jitter``: σ of the level jitter (magnitude units).
    ``analyse_kwargs`` go to :func:`repro.analysis.sensitivity.analyse`, e.g. ``extractor="conv-random"``
    (offline, cheap; the paper uses ``"inception"``), ``budget``, ``subset``, ``device``,
    ``cache=False`` (the model changes every epoch), ``progress=False``.  The model is put in
    eval mode for the analysis and back in its previous mode after.
    """
    if not isinstance(transform, _SensitivityTransformImpl):
        raise TypeError(f"transform must be a repro.analysis.augment.SensitivityTransform, got {type(transform).__name__}")
    if not callable(model):
        raise TypeError(f"model must be callable (images N×3×H×W -> logits N×C×H×W), got {type(model).__name__}")
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        got = f"shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be an N×3×H×W tensor (float RGB in [0, 1] or uint8), got {got}")
    if not isinstance(labels, torch.Tensor) or labels.dim() != 3 or tuple(labels.shape) != (
            images.shape[0], *images.shape[-2:]):
        got = f"shape {tuple(labels.shape)}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be an N×H×W integer tensor matching images {tuple(images.shape)}, got {got}")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f"labels must hold integer class ids, got {labels.dtype}")
    from repro.analysis import sensitivity
    from repro.analysis.sampling import Distribution

    x = images.as_subclass(torch.Tensor)
    x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float()
    y = labels.as_subclass(torch.Tensor).long()
    if types is None:
        types = list(transform.distribution.types)
    table = sensitivity.analyse(model, (x, y), types, num_classes=num_classes, **analyse_kwargs)
    transform.set_distribution(Distribution.from_analysis(table, weighting=weighting, jitter=jitter))
    return table
