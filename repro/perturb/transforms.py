"""Transform wrappers over :func:`repro.perturb.apply` (torchvision-v2 style and numpy).

Pattern: ``params = t.sample_params(generator)`` draws everything random once (perturbation
name, magnitude and an integer ``seed`` for the noise), then ``t.apply_params(image, label,
params)`` is deterministic; ``t(image, label, generator=g)`` does both.  ``params`` is a plain
dict ``{"name": str | None, "magnitude": float, "seed": int}`` (``name=None`` = clean), easy to
log, to broadcast between ranks, or to hand to :func:`apply_numpy` from a data-pipeline
transform (e.g. an MMSegmentation ``TRANSFORMS`` class written elsewhere).

Images may be a 3×H×W or N×3×H×W tensor, float in [0, 1] or uint8 in 0..255 (uint8 is
converted to float and back with rounding); labels H×W / N×H×W integer tensors or ``None``.

The paper's augmentation built on these, :class:`repro.analysis.augment.SensitivityTransform`,
lives in the analysis layer (it draws from the analysis' sampling distribution).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import torch

from repro.perturb.functional import BORDERS, GEOMETRIC, NAMES, apply, check_magnitude, check_name

__all__ = ["BACKENDS", "Perturb", "RandomPerturb", "apply_numpy", "apply_params"]

_SEED_HIGH = 2**31 - 1


def _check_border(border: str) -> str:
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
    return border


#: ``backend`` of the numpy/uint8 entry points: per-sample OpenCV kernels or the batched torch kernels
BACKENDS = ("opencv", "torch")


def _check_backend(backend) -> str:
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} ('opencv': per-sample OpenCV kernels, "
                         f"repro.perturb.cpu; 'torch': the batched torch kernels), got {backend!r}")
    return backend


def _draw_seed(generator: Optional[torch.Generator]) -> int:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    return int(torch.randint(0, _SEED_HIGH, (1,), generator=g, device=g.device).item())


def apply_params(image, label, params: dict, *, border: str = "zoom"):
    """Apply a ``params`` dict (see module doc) to one image or a batch, deterministically.

    Returns ``(image', label')`` in the input's layout and dtype (uint8 stays uint8); geometric
    perturbations return a new label of the input's integer dtype, the others return the label
    object itself, untouched.
    """
    if not isinstance(params, dict) or not {"name", "magnitude", "seed"} <= set(params):
        raise ValueError(f"params must be a dict with keys name, magnitude, seed; got {params!r}")
    _check_border(border)
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor (3×H×W or N×3×H×W), got {type(image).__name__}")
    if image.dim() not in (3, 4):
        raise ValueError(f"image must be 3×H×W or N×3×H×W, got shape {tuple(image.shape)}")
    if params["name"] is None:
        return image.clone(), label
    single = image.dim() == 3
    x = image[None] if single else image
    is_u8 = x.dtype == torch.uint8
    if not (is_u8 or x.is_floating_point()):
        raise TypeError(f"image must be float in [0, 1] or uint8, got {image.dtype}")
    xf = x.float().div_(255.0) if is_u8 else x
    y = None
    if label is not None:
        if not isinstance(label, torch.Tensor):
            raise TypeError(f"label must be a torch.Tensor or None, got {type(label).__name__}")
        if label.is_floating_point() or label.dtype == torch.bool:
            raise TypeError(f"label must be an integer tensor, got {label.dtype}")
        y = (label[None] if single else label).long()
    g = torch.Generator(device=xf.device).manual_seed(int(params["seed"]))
    out, out_y = apply(xf, y, params["name"], params["magnitude"], generator=g, border=border)
    if is_u8:
        out = out.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)
    if single:
        out = out[0]
    if label is None or params["name"] not in GEOMETRIC:
        return out, label  # photometric/other: the label object itself, untouched
    out_y = out_y[0] if single else out_y
    return out, out_y.to(label.dtype)


class Perturb:
    """One basis perturbation at a fixed magnitude (deterministic except the noise seed).

    ``Perturb("rotate+", 0.4)(image, label)``.  ``seed`` fixes the noise draw of
    ``gaussian_noise``; ``None`` draws it from the generator passed to the call (or seed 0 when
    none is passed, so the call is reproducible).
    """

    def __init__(self, name: str, magnitude: float, *, border: str = "zoom", seed: Optional[int] = None):
        self.name = check_name(name)
        m = check_magnitude(magnitude)
        if m.dim() != 0:
            raise ValueError("Perturb takes one magnitude; use apply() for per-sample magnitudes")
        self.magnitude = float(m)
        self.border = _check_border(border)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        self.seed = seed

    def sample_params(self, generator: Optional[torch.Generator] = None) -> dict:
        seed = self.seed if self.seed is not None else _draw_seed(generator)
        return {"name": self.name, "magnitude": self.magnitude, "seed": seed}

    def apply_params(self, image, label, params: dict):
        return apply_params(image, label, params, border=self.border)

    def __call__(self, image, label=None, *, generator: Optional[torch.Generator] = None):
        return self.apply_params(image, label, self.sample_params(generator))

    def __repr__(self) -> str:
        return f"Perturb(name={self.name!r}, magnitude={self.magnitude}, border={self.border!r})"


class RandomPerturb:
    """A random basis perturbation at a uniform random magnitude.

    ``names``: the candidates (default all 24, drawn uniformly); ``magnitude_range = (lo, hi)``
    with ``0 ≤ lo ≤ hi ≤ 1``; ``p_clean``: probability of leaving the sample clean.  Each call
    draws ``name``, ``m ~ U(lo, hi)`` and a noise seed from the generator.
    """

    def __init__(
        self,
        names: Sequence[str] = NAMES,
        magnitude_range: Tuple[float, float] = (0.0, 1.0),
        *,
        p_clean: float = 0.0,
        border: str = "zoom",
    ):
        if isinstance(names, str):
            raise TypeError("names must be a sequence of perturbation names, not a single str")
        self.names = tuple(check_name(n) for n in names)
        if not self.names:
            raise ValueError("names must not be empty")
        if not isinstance(magnitude_range, (tuple, list)) or len(magnitude_range) != 2:
            raise ValueError(f"magnitude_range must be a pair (lo, hi), got {magnitude_range!r}")
        lo, hi = (float(check_magnitude(v)) for v in magnitude_range)
        if lo > hi:
            raise ValueError(f"magnitude_range must have lo <= hi, got {magnitude_range!r}")
        self.magnitude_range = (lo, hi)
        if isinstance(p_clean, bool) or not isinstance(p_clean, (int, float)) or not 0.0 <= p_clean <= 1.0:
            raise ValueError(f"p_clean must be a probability in [0, 1], got {p_clean!r}")
        self.p_clean = float(p_clean)
        self.border = _check_border(border)

    def sample_params(self, generator: Optional[torch.Generator] = None) -> dict:
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        u = torch.rand(3, generator=g, dtype=torch.float64, device=g.device).tolist()
        seed = _draw_seed(g)
        if u[0] < self.p_clean:
            return {"name": None, "magnitude": 0.0, "seed": seed}
        name = self.names[min(int(u[1] * len(self.names)), len(self.names) - 1)]
        lo, hi = self.magnitude_range
        return {"name": name, "magnitude": lo + (hi - lo) * u[2], "seed": seed}

    def apply_params(self, image, label, params: dict):
        return apply_params(image, label, params, border=self.border)

    def __call__(self, image, label=None, *, generator: Optional[torch.Generator] = None):
        return self.apply_params(image, label, self.sample_params(generator))

    def __repr__(self) -> str:
        return (f"RandomPerturb(names={len(self.names)} types, magnitude_range={self.magnitude_range}, "
                f"p_clean={self.p_clean}, border={self.border!r})")


def apply_numpy(
    img_hwc_uint8: np.ndarray,
    label_hw: Optional[np.ndarray],
    name: str,
    magnitude: float,
    *,
    seed: Optional[int] = None,
    border: str = "zoom",
    backend: str = "opencv",
) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Apply one perturbation to a numpy H×W×3 uint8 RGB image and an H×W integer label map.

    The data-pipeline entry point (MMSegmentation-style dict transforms).  ``backend="opencv"``
    (default): :func:`repro.perturb.cpu.apply`, per-sample OpenCV uint8 kernels (noise from
    ``numpy.random.Generator(PCG64(seed))``), equal to the torch path within
    :data:`repro.perturb.cpu.TOLERANCE`.  ``backend="torch"``: converts to a 1-image float batch,
    calls :func:`apply` (noise seeded with ``seed``; ``None`` → 0) and converts back with rounding.
    Returns new arrays; the label keeps its dtype (255 = ignore must fit it).
    Note: MMSegmentation loads images as BGR; reverse the channel axis before and after (or use
    :func:`repro.perturb.cpu.apply` with ``channel_order="bgr"``).
    """
    if not isinstance(img_hwc_uint8, np.ndarray):
        raise TypeError(f"image must be a numpy array (H×W×3 uint8), got {type(img_hwc_uint8).__name__}")
    if img_hwc_uint8.dtype != np.uint8:
        raise TypeError(f"image must have dtype uint8, got {img_hwc_uint8.dtype}")
    if img_hwc_uint8.ndim != 3 or img_hwc_uint8.shape[2] != 3:
        raise ValueError(f"image must have shape H×W×3, got {img_hwc_uint8.shape}")
    if label_hw is not None:
        if not isinstance(label_hw, np.ndarray):
            raise TypeError(f"label must be a numpy array (H×W int) or None, got {type(label_hw).__name__}")
        if not np.issubdtype(label_hw.dtype, np.integer):
            raise TypeError(f"label must have an integer dtype, got {label_hw.dtype}")
        if label_hw.shape != img_hwc_uint8.shape[:2]:
            raise ValueError(f"label shape {label_hw.shape} does not match image {img_hwc_uint8.shape[:2]}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    _check_backend(backend)
    if backend == "opencv":
        from repro.perturb import cpu

        rng = np.random.Generator(np.random.PCG64(0 if seed is None else int(seed)))
        img, lab = cpu.apply(img_hwc_uint8, label_hw, check_name(name), magnitude, rng=rng, border=border)
        return img, (None if label_hw is None else (lab.copy() if lab is label_hw else lab))
    x = torch.from_numpy(np.ascontiguousarray(img_hwc_uint8)).permute(2, 0, 1)
    y = torch.from_numpy(label_hw.astype(np.int64)) if label_hw is not None else None
    params = {"name": check_name(name), "magnitude": magnitude, "seed": 0 if seed is None else int(seed)}
    out, out_y = apply_params(x, y, params, border=border)
    img = out.permute(1, 2, 0).contiguous().numpy()
    lab = out_y.numpy().astype(label_hw.dtype, copy=False) if label_hw is not None else None
    return img, lab


# --------------------------------------------------------------------------- SensitivityTransform
