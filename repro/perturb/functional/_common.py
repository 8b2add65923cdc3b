"""Names, magnitude conversions and input checks shared by the kernels (SPEC.md §1), and the
chunking that keeps their temporaries small.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch

from repro.base.validation import check_images

RGB_NAMES: Tuple[str, ...] = ("R+", "R-", "G+", "G-", "B+", "B-")
HSV_NAMES: Tuple[str, ...] = ("H+", "H-", "S+", "S-", "V+", "V-")
PHOTOMETRIC: Tuple[str, ...] = RGB_NAMES + HSV_NAMES
GEOMETRIC: Tuple[str, ...] = (
    "rotate+", "rotate-",
    "shear_x+", "shear_x-",
    "shear_y+", "shear_y-",
    "translate_x+", "translate_x-",
    "translate_y+", "translate_y-",
)
OTHER: Tuple[str, ...] = ("gaussian_blur", "gaussian_noise")
#: The 24 basis perturbations in their fixed, documented order.
NAMES: Tuple[str, ...] = PHOTOMETRIC + GEOMETRIC + OTHER
BORDERS: Tuple[str, ...] = ("zoom", "pad")

# maximum rotation (degrees), shear factor and translation fraction at m = 1
MAX_ROTATE_DEG = 45.0
MAX_SHEAR = 0.3
MAX_TRANSLATE = 0.25
# blur kernel at m = 1 is 49 pixels; noise sigma at m = 1 is 50 on the 0..255 scale
MAX_BLUR_KERNEL = 49
MAX_NOISE_SIGMA = 50.0
# V- darkens towards 10 (of 255) rather than 0
V_MIN = 10.0 / 255.0

#: The one definition of the 12 channel perturbations, read by the batched kernels below and by
#: the per-sample OpenCV path (:mod:`repro.perturb.cpu`): name -> (colour space, channel, target),
#: ``c' = (1-m)·c + m·target`` on that channel, with the channel's full range scaled to [0, 1]
#: (RGB 0..255, H 0..180 ≙ 0..360°, S and V 0..255).
CHANNEL_TARGETS = {
    "R+": ("rgb", 0, 1.0), "R-": ("rgb", 0, 0.0),
    "G+": ("rgb", 1, 1.0), "G-": ("rgb", 1, 0.0),
    "B+": ("rgb", 2, 1.0), "B-": ("rgb", 2, 0.0),
    "H+": ("hsv", 0, 1.0), "H-": ("hsv", 0, 0.0),
    "S+": ("hsv", 1, 1.0), "S-": ("hsv", 1, 0.0),
    "V+": ("hsv", 2, 1.0), "V-": ("hsv", 2, V_MIN),
}

Magnitude = Union[float, int, torch.Tensor, Sequence[float]]


# --------------------------------------------------------------------------- helpers (public)
def blur_kernel_size(magnitude: float) -> int:
    """Odd Gaussian kernel size (pixels) for magnitude ``m``: ``k = 2·floor(49·m/2) + 1``.

    ``m`` is dimensionless in [0, 1]; ``k`` runs from 1 (identity) to 49.
    """
    m = _scalar_magnitude(magnitude)
    # the 1e-9 guards against float round-off: blur_magnitude(k) = (k-1)/49 must give k back
    return int(2 * math.floor(MAX_BLUR_KERNEL * m / 2.0 + 1e-9) + 1)


def blur_sigma(kernel_size: int) -> float:
    """OpenCV's sigma (pixels) for an odd kernel size: ``σ = 0.3·((k-1)/2 - 1) + 0.8``."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int):
        raise TypeError(f"kernel_size must be an int, got {type(kernel_size).__name__}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
    return 0.3 * ((kernel_size - 1) / 2.0 - 1.0) + 0.8


def blur_magnitude(kernel_size: int) -> float:
    """Smallest magnitude whose blur kernel is ``kernel_size`` (odd, 1..49): ``m = (k-1)/49``."""
    blur_sigma(kernel_size)  # validates
    if kernel_size > MAX_BLUR_KERNEL:
        raise ValueError(f"kernel_size must be <= {MAX_BLUR_KERNEL}, got {kernel_size}")
    return (kernel_size - 1) / float(MAX_BLUR_KERNEL)


def noise_sigma(magnitude: float) -> float:
    """Noise standard deviation on the 0..255 scale for magnitude ``m``: ``σ = 50·m``.

    Divide by 255 for the [0, 1] image scale.
    """
    return MAX_NOISE_SIGMA * _scalar_magnitude(magnitude)


def noise_magnitude(sigma: float) -> float:
    """Inverse of :func:`noise_sigma`: ``m = σ/50`` for σ on the 0..255 scale (0..50)."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
        raise TypeError(f"sigma must be a number on the 0..255 scale, got {type(sigma).__name__}")
    if not (0.0 <= float(sigma) <= MAX_NOISE_SIGMA):
        raise ValueError(f"sigma must be in [0, {MAX_NOISE_SIGMA}] (0..255 scale), got {sigma}")
    return float(sigma) / MAX_NOISE_SIGMA


def gaussian_kernel1d(kernel_size: int, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """Normalised 1-D Gaussian of odd size ``k`` with OpenCV's sigma (see :func:`blur_sigma`).

    ``w_i ∝ exp(-(i - (k-1)/2)² / (2σ²))``, ``Σ w_i = 1``; computed in float64, then cast.
    """
    sigma = blur_sigma(kernel_size)
    x = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2.0
    w = torch.exp(-(x * x) / (2.0 * sigma * sigma))
    return (w / w.sum()).to(dtype=dtype, device=device)


def check_name(name: str) -> str:
    """Return ``name`` if it is one of :data:`NAMES`, else raise (the message lists them)."""
    if not isinstance(name, str):
        raise TypeError(f"perturbation name must be a str, got {type(name).__name__}")
    if name not in NAMES:
        raise ValueError(f"unknown perturbation {name!r}; valid names are: {', '.join(NAMES)}")
    return name


def channel_target(name: str) -> Tuple[str, int, float]:
    """``(space, channel, target)`` of a channel perturbation: ``c' = (1-m)·c + m·target``.

    ``space`` is ``"rgb"`` or ``"hsv"``; ``channel`` indexes R, G, B or H, S, V; ``target`` is on
    the channel's full range scaled to [0, 1] (1 ≙ 255 for R, G, B, S, V; 1 ≙ 180 stored ≙ 360°
    for H; ``V-`` has 10/255).
    """
    check_name(name)
    if name not in CHANNEL_TARGETS:
        raise ValueError(f"{name!r} is not a channel perturbation; channel ones are {PHOTOMETRIC}")
    return CHANNEL_TARGETS[name]


def check_magnitude(magnitude: Magnitude, n: Optional[int] = None) -> torch.Tensor:
    """Validate a magnitude (float, or one per sample) and return it as a float64 CPU tensor.

    Returns shape ``()`` for a scalar, ``(n,)`` for per-sample values.  Raises ``TypeError`` for
    non-numbers, ``ValueError`` for NaN, values outside [0, 1] or a wrong length.
    """
    if isinstance(magnitude, bool):
        raise TypeError("magnitude must be a float in [0, 1] or a tensor of them, got bool")
    if isinstance(magnitude, torch.Tensor):
        if magnitude.dtype == torch.bool or magnitude.is_complex():
            raise TypeError(f"magnitude tensor must be real-valued, got {magnitude.dtype}")
        m = magnitude.detach().to("cpu", torch.float64)
    elif isinstance(magnitude, (int, float)):
        m = torch.tensor(float(magnitude), dtype=torch.float64)
    elif isinstance(magnitude, (list, tuple)) or hasattr(magnitude, "__array__"):
        try:
            m = torch.as_tensor(magnitude, dtype=torch.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"magnitude must be numbers in [0, 1], got {magnitude!r}") from exc
    else:
        raise TypeError(
            f"magnitude must be a float in [0, 1] or a length-N tensor, got {type(magnitude).__name__}"
        )
    if m.dim() > 1:
        raise ValueError(f"magnitude must be a scalar or 1-D (one per sample), got shape {tuple(m.shape)}")
    if torch.isnan(m).any():
        raise ValueError("magnitude must not be NaN; expected values in [0, 1]")
    if ((m < 0) | (m > 1)).any():
        bad = m[(m < 0) | (m > 1)].flatten()[0].item()
        raise ValueError(f"magnitude must be in [0, 1], got {bad}")
    if m.dim() == 1 and n is not None and m.numel() != n:
        raise ValueError(f"magnitude has {m.numel()} values but the batch has {n} images")
    return m


def _scalar_magnitude(magnitude) -> float:
    m = check_magnitude(magnitude)
    if m.dim() != 0:
        raise ValueError("expected a single magnitude here, got several")
    return float(m)


# --------------------------------------------------------------------------- input checks
def _check_inputs(images, labels, generator, border):
    check_images(images)
    if labels is not None:
        if not isinstance(labels, torch.Tensor):
            raise TypeError(f"labels must be a torch.Tensor (N×H×W int64) or None, got {type(labels).__name__}")
        if labels.dtype != torch.int64:
            raise TypeError(f"labels must have dtype torch.int64, got {labels.dtype}")
        n, _, h, w = images.shape
        if tuple(labels.shape) != (n, h, w):
            raise ValueError(
                f"labels must have shape N×H×W = {(n, h, w)} matching the images, got {tuple(labels.shape)}"
            )
        if labels.device != images.device:
            raise ValueError(f"labels are on {labels.device} but images on {images.device}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")


# --------------------------------------------------------------------------- chunking
#: CPU kernels run on chunks of about this many elements (one 360×480 RGB image in float32,
#: 2 MB), writing into the preallocated output: temporaries stay cache-sized and are reused by
#: the allocator instead of page-faulting fresh 60 MB buffers for every intermediate.
CHUNK_ELEMENTS = 1 << 19


def _chunk_slices(x: torch.Tensor):
    n = x.shape[0]
    if x.device.type != "cpu":
        yield slice(0, n)
        return
    step = max(1, CHUNK_ELEMENTS // max(1, x[0].numel()))
    for s in range(0, n, step):
        yield slice(s, min(n, s + step))


#: pointwise (per-pixel) kernels also split large images into strips of rows of about this
#: many elements, so that their ~20-50 elementwise passes run on L2-resident data
POINTWISE_CHUNK_ELEMENTS = 1 << 18


def _chunked(x: torch.Tensor, m: torch.Tensor, kernel) -> torch.Tensor:
    """``out[c] = kernel(x[c], m[c] as c×1×1×1, out[c])`` over chunks of the batch.

    ``kernel`` must be pointwise (each output pixel depends on the same input pixel only): on
    CPU, images larger than :data:`POINTWISE_CHUNK_ELEMENTS` are processed in strips of rows.
    """
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    m4 = m.to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1)
    n, c, h, w = x.shape
    if x.device.type != "cpu" or c * h * w <= POINTWISE_CHUNK_ELEMENTS:
        for sl in _chunk_slices(x):
            kernel(x[sl], m4[sl], out[sl])
        return out
    rows = max(1, POINTWISE_CHUNK_ELEMENTS // (c * w))
    for i in range(n):
        for r0 in range(0, h, rows):
            kernel(x[i : i + 1, :, r0 : r0 + rows], m4[i : i + 1], out[i : i + 1, :, r0 : r0 + rows])
    return out


