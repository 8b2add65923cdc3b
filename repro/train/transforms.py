"""MMSegmentation data transforms: sensitivity-informed augmentation, policy baselines, single ops.

All three are registered in ``mmseg.registry.TRANSFORMS`` and work on MMSegmentation's result
dicts: ``results["img"]`` is an H×W×3 **BGR** uint8 array, ``results["gt_seg_map"]`` an H×W
array of class ids (255 = ignore); any other entry of ``results["seg_fields"]`` is moved like
the label map.  Put them after ``RandomResize``/``RandomCrop`` and before ``PackSegInputs``.

* ``SensitivityAugment`` -- per sample, one draw from the current sampling distribution
  (:class:`repro.analysis.sampling.Distribution`): clean, or one basis perturbation (:mod:`repro.perturb`)
  at a jittered level.  The distribution comes from the schedule file written by
  :class:`~repro.train.hooks.SensitivityHook` (see :mod:`repro.train.channel`), which the
  transform finds by itself under mmengine's ``Runner`` (``schedule_file="auto"``, the default);
  without a hook in the runner, or with ``schedule_file=None``, it stays at the warm-up
  distribution ``Distribution.uniform(types)``: every type and clean with probability 1/(N+1),
  magnitude uniform on [0, 1].
* ``PolicyAugment`` -- AugMix / AutoAugment / RandAugment / TrivialAugment applied to image and
  label alike through :func:`repro.perturb.policies.apply_policy`.
* ``BasisPerturbation`` -- one named perturbation at a fixed magnitude or a magnitude drawn
  uniformly from a range, with probability ``prob``.

Randomness: no global RNG state is used.  Each sample gets its own generator seeded by
``SeedSequence([seed, rank, batch_index, position_in_batch])``, where the batch index follows from
the worker's sample counter (see :mod:`repro.train.channel`), so the draws do not depend on the
number of dataloader workers or on their timing, and a resumed run draws what an uninterrupted
one would.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from repro import perturb
from repro.perturb.transforms import BACKENDS, _check_backend
from repro.analysis.sampling import Distribution, resolve_types
from repro.train.channel import ScheduleReader, announced, current_experiment, current_rank, read_pointer, schedule_path

__all__ = ["SensitivityAugment", "PolicyAugment", "BasisPerturbation", "apply_perturbation_numpy", "BACKENDS"]




def apply_perturbation_numpy(img: np.ndarray, seg_maps: Sequence[np.ndarray], name: str, magnitude: float, *,
                             seed: int = 0, border: str = "zoom", bgr: bool = True,
                             backend: str = "opencv") -> tuple[np.ndarray, list]:
    """Apply basis perturbation ``name`` at ``magnitude`` ∈ [0, 1] to one uint8 image and its label maps.

    ``img``: H×W×3 uint8 (BGR if ``bgr``, as MMSegmentation loads it) or H×W greyscale (treated as
    R = G = B; the output is the rounded channel mean); ``seg_maps``: H×W integer maps moved with
    the image (nearest neighbour; padding 255), returned with their dtype.

    ``backend="opencv"`` (default): :func:`repro.perturb.cpu.apply`, per-sample OpenCV uint8 kernels
    (noise from ``numpy.random.Generator(PCG64(seed))``); equal to the torch path within the
    tolerances of :data:`repro.perturb.cpu.TOLERANCE`.  ``backend="torch"``: the image is converted
    to RGB float in [0, 1], perturbed by the batched kernels :func:`repro.perturb.apply` (noise
    seeded with ``seed``) and rounded back to uint8 -- the path the committed ``cpu``/``smoke``
    results were trained with.
    """
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise TypeError(f"img must be an H×W×3 or H×W uint8 numpy array, got "
                        f"{getattr(img, 'dtype', type(img))} {getattr(img, 'shape', '')}")
    _check_backend(backend)
    if backend == "opencv":
        from repro.perturb import cpu

        maps = [np.asarray(s) for s in seg_maps]
        # an int seed: the Generator (PCG64 via SeedSequence(seed)) is only built for gaussian_noise
        out, new_maps = cpu.apply(img, maps, name, float(magnitude), rng=int(seed), border=border,
                                  channel_order="bgr" if bgr else "rgb")
        if name not in perturb.GEOMETRIC:
            new_maps = list(seg_maps)
        return out, list(new_maps)
    grey = img.ndim == 2
    rgb = np.repeat(img[..., None], 3, axis=2) if grey else (img[..., ::-1] if bgr else img)
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
    geometric = name in perturb.GEOMETRIC
    labels = None
    if geometric and seg_maps:
        labels = torch.from_numpy(np.stack([np.asarray(s, dtype=np.int64) for s in seg_maps]))
        x = x.expand(len(seg_maps), -1, -1, -1).contiguous()
    gen = torch.Generator().manual_seed(int(seed))
    x2, y2 = perturb.apply(x, labels, name, float(magnitude), generator=gen, border=border)
    out = x2[0].clamp_(0, 1).mul_(255.0).round_().to(torch.uint8).permute(1, 2, 0).numpy()
    if grey:
        out = out.mean(axis=2).round().astype(np.uint8)
    elif bgr:
        out = out[..., ::-1]
    out = np.ascontiguousarray(out)
    if geometric and seg_maps:
        new_maps = [y2[i].numpy().astype(np.asarray(s).dtype) for i, s in enumerate(seg_maps)]
    else:
        new_maps = list(seg_maps)
    return out, new_maps


class _CountedTransform(BaseTransform):
    """Base: per-sample generators seeded by (seed, rank, batch index, position in batch)."""

    def __init__(self, seed: int = 0, batch_size: int | None = None):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.seed = int(seed)
        self.batch_size = batch_size
        self._counter = 0
        self._pid = os.getpid()

    def _next_position(self, batch_size: int) -> tuple[int, int]:
        """(batch index, position in batch) of the sample being processed now; advances the counter."""
        if os.getpid() != self._pid:  # a fresh worker process: start counting from zero
            self._pid, self._counter = os.getpid(), 0
        c = self._counter
        self._counter += 1
        info = torch.utils.data.get_worker_info()
        n_workers, wid = (info.num_workers, info.id) if info is not None else (1, 0)
        return (c // batch_size) * n_workers + wid, c % batch_size

    def _rng(self, batch: int, pos: int) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, current_rank(), batch, pos])))

    @staticmethod
    def _apply(results: dict, name: str, magnitude: float, seed: int, border: str, backend: str = "torch") -> dict:
        fields = [k for k in results.get("seg_fields", []) if k in results]
        if "gt_seg_map" in results and "gt_seg_map" not in fields:
            fields.append("gt_seg_map")
        img, maps = apply_perturbation_numpy(results["img"], [results[k] for k in fields], name, magnitude,
                                             seed=seed, border=border, backend=backend)
        results["img"] = img
        for k, m in zip(fields, maps):
            results[k] = m
        return results


@TRANSFORMS.register_module()
class SensitivityAugment(_CountedTransform):
    """Sensitivity-informed augmentation: one (type, magnitude) draw per sample (SPEC.md §4–5).

    Parameters
    ----------
    types : ``"all"`` (24), ``"no_geo"``, ``"no_photo"`` or a list of :data:`repro.perturb.NAMES`.
    schedule_file : ``"auto"`` (default): the schedule of the ``SensitivityHook`` of the same
        mmengine runner, found through the runner's experiment name (:mod:`repro.train.channel`);
        if that runner has no ``SensitivityHook``, the warm-up distribution for the whole run, with
        one warning.  A path: base path of the schedule file written by ``SensitivityHook``
        (per-rank suffix added).  ``None``: warm-up distribution for the whole run.
    run_id : accept only schedule files of this run (``None``: any).
    seed : seed of the per-sample draws (non-negative int).
    border : ``"zoom"`` (paper) or ``"pad"`` for the geometric perturbations.
    batch_size : samples per batch, needed to map samples to iterations; ``None`` reads it from
        the schedule file (without a schedule file: 1).
    timeout : seconds to wait for the hook to publish the distribution of an iteration.
    backend : ``"opencv"`` (default; per-sample OpenCV kernels, :mod:`repro.perturb.cpu`) or ``"torch"``
        (the batched torch kernels through a numpy bridge; the committed ``cpu``/``smoke`` results).
        The draws (type, magnitude, seed) do not depend on it.

    The drawn perturbation is recorded in ``results["sia_perturbation"] = (type or None, magnitude)``
    and the training iteration it belongs to in ``results["sia_batch"]``.
    """

    def __init__(self, types: str | Sequence[str] = "all", schedule_file: str | None = "auto",
                 run_id: str | None = None, seed: int = 0, border: str = "zoom",
                 batch_size: int | None = None, timeout: float = 600.0, backend: str = "opencv"):
        super().__init__(seed=seed, batch_size=batch_size)
        self.backend = _check_backend(backend)
        self.types = resolve_types(types)
        if border not in perturb.BORDERS:
            raise ValueError(f"border must be one of {perturb.BORDERS}, got {border!r}")
        self.border = border
        if schedule_file is not None and not isinstance(schedule_file, (str, os.PathLike)):
            raise TypeError(f"schedule_file must be 'auto', a path or None, got {type(schedule_file).__name__}")
        self.schedule_file = schedule_file
        self.run_id = run_id
        self.timeout = float(timeout)
        # "auto": the runner being built now (its experiment name) and whether it has a SensitivityHook
        self._experiment: str | None = None
        if schedule_file == "auto":
            exp = current_experiment()
            if announced(exp):
                self._experiment = exp
            elif exp is not None:
                warnings.warn(f"SensitivityAugment: runner {exp!r} has no SensitivityHook in custom_hooks, so the "
                              "warm-up distribution (uniform over types and magnitudes) is used for the whole run; "
                              "add dict(type='SensitivityHook') to custom_hooks, or pass schedule_file=None to "
                              "train with the warm-up distribution on purpose", stacklevel=2)
        self._warmup = Distribution.uniform(self.types)
        self._reader: ScheduleReader | None = None
        self._cached: tuple[Any, Distribution] | None = None

    def _warmup_only(self) -> bool:
        return self.schedule_file is None or (self.schedule_file == "auto" and self._experiment is None)

    def _distribution(self, batch: int) -> Distribution:
        if self._warmup_only():
            return self._warmup
        if self._reader is None or os.getpid() != getattr(self, "_reader_pid", None):
            if self.schedule_file == "auto":
                base, run_id = read_pointer(self._experiment, timeout=self.timeout)
            else:
                base, run_id = self.schedule_file, self.run_id
            self._reader = ScheduleReader(schedule_path(base), run_id=run_id, timeout=self.timeout)
            self._reader_pid = os.getpid()
        d = self._reader.distribution_for(batch)
        if self._cached is None or self._cached[0] is not d:
            self._cached = (d, Distribution.from_dict(d))
        return self._cached[1]

    def _batch_size(self) -> int:
        if self.batch_size is not None:
            return int(self.batch_size)
        if self._warmup_only():
            return 1
        if self._reader is None:
            self._distribution(0)
        return self._reader.batch_size()

    def transform(self, results: dict) -> dict:
        batch, pos = self._next_position(self._batch_size())
        dist = self._distribution(batch)
        rng = self._rng(batch, pos)
        name, magnitude = dist.sample(1, rng)[0]
        results["sia_perturbation"] = (name, float(magnitude))
        results["sia_batch"] = batch
        if name is None or magnitude == 0:
            return results
        return self._apply(results, name, magnitude, int(rng.integers(2 ** 62)), self.border, self.backend)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(types={len(self.types)}, schedule_file={self.schedule_file!r}, "
                f"seed={self.seed}, border={self.border!r}, backend={self.backend!r})")


@TRANSFORMS.register_module()
class PolicyAugment(_CountedTransform):
    """An augmentation policy (``augmix``, ``autoaugment``, ``randaugment``, ``trivialaugment``)
    applied so that every geometric op moves the label map exactly like the image.

    Delegates to :func:`repro.perturb.policies.apply_policy` (photometric ops on the image only,
    geometric ops on image and labels; label padding 255).  ``policy_kwargs`` are passed on.
    """

    def __init__(self, policy: str, seed: int = 0, batch_size: int | None = 1, **policy_kwargs):
        super().__init__(seed=seed, batch_size=batch_size)
        if not isinstance(policy, str):
            raise TypeError(f"policy must be a string, got {type(policy).__name__}")
        self.policy = policy
        self.policy_kwargs = policy_kwargs

    def transform(self, results: dict) -> dict:
        from repro.perturb import policies

        batch, pos = self._next_position(int(self.batch_size or 1))
        rng = self._rng(batch, pos)
        gen = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
        lab = results.get("gt_seg_map")
        img, lab2 = policies.apply_policy(results["img"], lab, self.policy, generator=gen, channel_order="bgr",
                                          **self.policy_kwargs)
        results["img"] = img
        if lab is not None:
            results["gt_seg_map"] = lab2
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(policy={self.policy!r}, seed={self.seed})"


@TRANSFORMS.register_module()
class BasisPerturbation(_CountedTransform):
    """One basis perturbation ``name`` with probability ``prob`` at ``magnitude``.

    ``magnitude`` is a float in [0, 1] or a ``(low, high)`` range drawn uniformly per sample.
    ``backend``: ``"opencv"`` (default) or ``"torch"``, as for :class:`SensitivityAugment`.
    """

    def __init__(self, name: str, magnitude: float | Sequence[float] = 1.0, prob: float = 1.0,
                 border: str = "zoom", seed: int = 0, batch_size: int | None = 1, backend: str = "opencv"):
        super().__init__(seed=seed, batch_size=batch_size)
        self.backend = _check_backend(backend)
        perturb.check_name(name)
        if isinstance(magnitude, (list, tuple)):
            if len(magnitude) != 2 or not 0 <= magnitude[0] <= magnitude[1] <= 1:
                raise ValueError(f"magnitude range must be (low, high) with 0 <= low <= high <= 1, got {magnitude!r}")
            self.magnitude = (float(magnitude[0]), float(magnitude[1]))
        else:
            if not 0 <= float(magnitude) <= 1:
                raise ValueError(f"magnitude must lie in [0, 1], got {magnitude!r}")
            self.magnitude = float(magnitude)
        if not 0 <= prob <= 1:
            raise ValueError(f"prob must lie in [0, 1], got {prob!r}")
        if border not in perturb.BORDERS:
            raise ValueError(f"border must be one of {perturb.BORDERS}, got {border!r}")
        self.name, self.prob, self.border = name, float(prob), border

    def transform(self, results: dict) -> dict:
        batch, pos = self._next_position(int(self.batch_size or 1))
        rng = self._rng(batch, pos)
        if rng.random() >= self.prob:
            return results
        m = self.magnitude if isinstance(self.magnitude, float) else float(rng.uniform(*self.magnitude))
        return self._apply(results, self.name, m, int(rng.integers(2 ** 62)), self.border, self.backend)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, magnitude={self.magnitude}, prob={self.prob}, "
                f"backend={self.backend!r})")
