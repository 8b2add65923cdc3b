"""The 24 basis perturbations of SPEC.md §1 as batched tensor kernels.

Every perturbation maps ``(images, labels, magnitude) -> (images, labels)`` with

* ``images``: N×3×H×W floating tensor, RGB in [0, 1], any device;
* ``labels``: N×H×W int64 tensor (ignore index 255) or ``None``;
* ``magnitude``: ``m ∈ [0, 1]`` (dimensionless; 0 = identity, 1 = most severe), one float for the
  whole batch or one value per sample.

Groups and formulas (8-bit OpenCV conventions, computed in float on the [0, 1] scale):

* RGB channel ``R± G± B±``: ``c' = (1-m)·c + m·c_max`` (lighter, c_max = 1 ≙ 255) or
  ``c' = (1-m)·c + m·c_min`` (darker, c_min = 0) on that channel only.
* HSV channel ``H± S± V±``: the same linear scaling on one channel of the HSV image
  (H stored as 0..180 ≙ 0..360°, S and V as 0..255), then back to RGB.  Hue scaling is linear
  in the stored value (``H' = (1-m)·H + m·180`` for ``H+``), not a rotation of the colour wheel.
  ``V-`` uses ``c_min = 10`` (≙ 10/255) so that the darkest image is not black.
  All six are computed in closed form without building the HSV image (the same mathematics
  as OpenCV's float round trip, which the tests compare against; see the HSV section below).
  As in OpenCV, S+ and the hue ones are ill-conditioned on almost-grey pixels (max - min
  ≈ 1e-7: the hue is then float noise); 8-bit-valued images never have those.
* affine ``rotate± shear_x± shear_y± translate_x± translate_y±``: rotation by ``±45·m`` degrees
  about the image centre (``+`` = counter-clockwise on screen, as ``cv2.getRotationMatrix2D``),
  shear factor ``±0.3·m`` about the centre (``x' = x + k·y`` for shear_x), translation by
  ``±m·W/4`` (x, ``+`` = right) or ``±m·H/4`` (y, ``+`` = down) pixels.  Images are resampled
  bilinearly, labels by nearest neighbour.  ``border="zoom"`` (the paper) zooms in to the
  largest rectangle of the original aspect ratio holding no padded pixel and resizes it back to
  H×W; the warp and the zoom are composed into ONE resampling (no double interpolation).  For
  rotation and shear that rectangle is centred; for a translation it sits beside the padded
  strip (scale ``1 - m/4``, a zoom of at most 4/3 at m = 1), so a translation stays a shift
  whose distance from the clean image grows with m.  ``border="pad"`` (the authors' code) fills images with 0 and labels with 255.
* ``gaussian_blur``: odd kernel size ``k = 2·floor(49·m/2) + 1`` (k = 1 is the identity) and
  OpenCV's sigma rule ``σ = 0.3·((k-1)/2 - 1) + 0.8`` (pixels), reflect-101 borders (OpenCV's
  default), separable convolution run as block-Toeplitz matrix products (equal to
  ``cv2.GaussianBlur`` to float round-off).
* ``gaussian_noise``: ``x' = clip(x + N(0, σ²))`` with ``σ = 50·m`` on the 0..255 scale
  (``50·m/255`` on the [0, 1] scale), independent per pixel and channel.

Magnitude 0 returns the input values bit-for-bit (rows of a batch with m = 0 are copied, not
recomputed).

Speed (CPU): kernels work chunk by chunk (one image, or strips of rows for the per-pixel ones)
into a preallocated output, so temporaries stay cache-sized.  For large batches the one big
float32 output dominates the cost of the cheap perturbations through page faults; setting the
environment variable ``THP_MEM_ALLOC_ENABLE=1`` before starting Python (PyTorch then puts large
tensors on transparent huge pages) removes most of it.  See ``benchmarks/bench_perturb.py``.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from ..data import IGNORE_INDEX
from ..validation import check_images, is_int

__all__ = [
    "NAMES",
    "PHOTOMETRIC",
    "GEOMETRIC",
    "OTHER",
    "RGB_NAMES",
    "HSV_NAMES",
    "BORDERS",
    "IGNORE_INDEX",
    "apply",
    "blur_kernel_size",
    "blur_sigma",
    "blur_magnitude",
    "noise_sigma",
    "noise_magnitude",
    "affine_parameters",
    "channel_target",
    "warp_matrix",
    "gaussian_kernel1d",
    "check_name",
    "check_magnitude",
]

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


# --------------------------------------------------------------------------- public entry point
def apply(
    images: torch.Tensor,
    labels: Optional[torch.Tensor],
    name: str,
    magnitude: Magnitude,
    *,
    generator: Optional[torch.Generator] = None,
    border: str = "zoom",
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Apply basis perturbation ``name`` at ``magnitude`` to a batch.

    Parameters
    ----------
    images : N×3×H×W floating tensor, RGB in [0, 1] (values outside are not checked).
    labels : N×H×W int64 tensor (class ids, 255 = ignore) or ``None``.
    name : one of :data:`NAMES`.
    magnitude : ``m ∈ [0, 1]`` (dimensionless), a float or a length-N tensor/sequence (one per
        sample, any device).
    generator : ``torch.Generator`` for ``gaussian_noise`` (ignored by the deterministic ones).
        ``None`` uses a fresh generator seeded with 0 on the images' device, so a call without a
        generator is reproducible; pass your own for independent draws.  Noise is drawn for
        all N samples whatever their magnitudes (so the same generator state gives the same
        noise field, scaled by each sample's σ).
    border : ``"zoom"`` (default, the paper) or ``"pad"`` (image 0, label 255); geometric only.

    Returns
    -------
    ``(images', labels')``: a new image tensor of the same shape/dtype/device; labels are the
    input object itself for photometric/other perturbations (never modified) and a new tensor
    for geometric ones (``None`` stays ``None``).
    """
    _check_inputs(images, labels, generator, border)
    check_name(name)
    n = images.shape[0]
    m = check_magnitude(magnitude, n)
    if m.dim() == 0:
        m = m.expand(n)
    active = m != 0
    geometric = name in GEOMETRIC
    if n == 0 or not bool(active.any()):
        return images.clone(), (labels.clone() if (geometric and labels is not None) else labels)

    if name == "gaussian_noise":
        # noise is drawn for every sample whatever its magnitude, so that the noise field depends
        # only on the generator state and the batch shape (common random numbers across
        # magnitudes); rows with m = 0 are then restored exactly
        out = _noise(images, m, generator)
        if not bool(active.all()):
            keep = (~active).nonzero().flatten().to(images.device)
            out.index_copy_(0, keep, images.index_select(0, keep))
        return out, labels
    if bool(active.all()):
        idx = None
        x, y, ma = images, labels, m
    else:
        idx = active.nonzero().flatten().to(images.device)
        x = images.index_select(0, idx)
        y = labels.index_select(0, idx) if labels is not None else None
        ma = m[active]

    if name in GEOMETRIC:
        out, y = _affine(x, y, name, ma, border)
    elif name == "gaussian_blur":
        out = _blur(x, ma)
    else:
        kernel = _rgb_kernel(name) if name in RGB_NAMES else _HSV_KERNELS[name]
        out = _chunked(x, ma, kernel)

    if idx is None:
        return out, (y if geometric else labels)
    full = images.clone()
    full.index_copy_(0, idx, out)
    if geometric and labels is not None:
        full_labels = labels.clone()
        full_labels.index_copy_(0, idx, y)
        return full, full_labels
    return full, labels


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


# --------------------------------------------------------------------------- RGB channels
def _rgb_kernel(name: str):
    """``c' = (1-m)·c + m·t`` on channel ``name[0]``, t = 1 (``+``) or 0 (``-``) (:data:`CHANNEL_TARGETS`)."""
    _, c, target = CHANNEL_TARGETS[name]
    if target not in (0.0, 1.0):
        raise ValueError(f"RGB targets are 0 or 1, got {target} for {name!r}")
    lighter = target == 1.0

    def kernel(x, m, out):
        out.copy_(x)
        ch = out[:, c]
        mm = m[:, 0]
        ch.mul_(1.0 - mm)
        if lighter:
            ch.add_(mm)

    return kernel


# --------------------------------------------------------------------------- HSV channels
# The S and V cases are computed in closed form.  With V = max(r,g,b), mn = min(r,g,b),
# d = V - mn, S = d/V, every RGB channel is c = V - V·S·w(H) with w depending on the hue only.
# Keeping H fixed:
#   V' = (1-m)·V + m·t (t = 1 for V+, 10/255 for V-)  gives  c' = c·V'/V   (c' = V' where V = 0:
#        black is grey with S = 0, so all channels equal V');
#   S' = (1-m)·S (S-)                                  gives  c' = (1-m)·c + m·V;
#   S' = (1-m)·S + m (S+)                              gives  c' = (1-m)·c + m·V·(c - mn)/d
#        (where d = 0 the hue is 0 as in OpenCV: (c - mn)/d := 1 for R, 0 for G and B).
# The special cases are folded in branch-free with EPS = 1e-20: c·V'/V is computed as
# (c + EPS)·V'/(V + EPS) and (c - mn)/d as (c - mn + EPS·[1,0,0])/(d + EPS); for 8-bit-like
# inputs (any c, d > 1e-13) adding EPS changes nothing in float32, at V = 0 or d = 0 it yields
# the limits above.  (torch.where and comparisons are 5-20× slower than arithmetic on CPU.)
# The tests check all six against OpenCV's float HSV round trip.
_EPS = 1e-20


def _v_kernel(target: float):
    def kernel(x, m, out):
        v = x.amax(dim=1, keepdim=True)
        vp = torch.mul(v, 1.0 - m).add_(m * target)  # V'
        ratio = vp.div_(v.add_(_EPS))  # V'/V
        torch.add(x, _EPS, out=out).mul_(ratio)

    return kernel


def _s_minus_kernel(x, m, out):
    v = x.amax(dim=1, keepdim=True)
    torch.mul(x, 1.0 - m, out=out)
    out.add_(v.mul_(m))


def _s_plus_kernel(x, m, out):
    v = x.amax(dim=1, keepdim=True)
    mn = x.amin(dim=1, keepdim=True)
    d = (v - mn).add_(_EPS)
    frac = x - mn
    frac[:, 0].add_(_EPS)
    frac.div_(d)  # (c - mn)/d
    torch.mul(x, 1.0 - m, out=out)
    out.addcmul_(frac, v.mul_(m))


def _hue_kernel(lighter: bool):
    """Hue scaling ``H' = (1-m)·H + m·c`` (c = 180 stored ≙ 360° for H+, 0 for H-).

    Hue as OpenCV computes it, in sextants (degrees/60): ``V == R: (G-B)/d``, else
    ``V == G: 2 + (B-R)/d``, else ``4 + (R-G)/d``, +6 if negative (0 where d = 0).  Back to RGB:
    ``c_n = V - d·w_n`` with ``w_n = clamp(min(k, 4-k), 0, 1)``, ``k = (n + H') mod 6``,
    n = 5, 3, 1 for R, G, B.  For ``H' ∈ [0, 6]`` the three triangle waves unroll without a
    modulo: ``w_R = clamp(2 - |H'-3|, 0, 1)``, ``w_G = clamp(2 - min(H'+1, |H'-5|), 0, 1)``,
    ``w_B = clamp(2 - min(|H'-1|, 7-H'), 0, 1)`` — all branch-free arithmetic.
    """

    def kernel(x, m, out):
        r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
        v = x.amax(dim=1, keepdim=True)
        d = v - x.amin(dim=1, keepdim=True)
        is_r = torch.empty_like(v)
        is_g = torch.empty_like(v)
        torch.ge(r, v, out=is_r)  # 1.0 where R is the maximum
        torch.ge(g, v, out=is_g)
        is_g.addcmul_(is_g, is_r, value=-1.0)  # G is the maximum and R is not
        # h·d = C + is_r·(A - C) + is_g·(B - C) with the numerators (and sextant offsets)
        # A = G-B (max R), B = B-R+2d (max G), C = R-G+4d (max B)
        c_num = (r - g).add_(d, alpha=4.0)
        h = (g - b).sub_(c_num).mul_(is_r)
        h.addcmul_((b - r).add_(d, alpha=2.0).sub_(c_num), is_g).add_(c_num)
        h.div_(d + _EPS)
        h.add_(torch.lt(h, 0.0, out=is_r), alpha=6.0)  # into [0, 6)
        h.mul_(1.0 - m)
        if lighter:
            h.add_(6.0 * m)
        w = torch.empty_like(v)
        # R: clamp(2 - |H'-3|, 0, 1)
        torch.sub(h, 3.0, out=w).abs_().neg_().add_(2.0).clamp_(0.0, 1.0)
        torch.addcmul(v, d, w, value=-1.0, out=out[:, 0:1])
        # G: clamp(2 - min(H'+1, |H'-5|), 0, 1)
        torch.minimum(h + 1.0, torch.sub(h, 5.0, out=w).abs_(), out=w).neg_().add_(2.0).clamp_(0.0, 1.0)
        torch.addcmul(v, d, w, value=-1.0, out=out[:, 1:2])
        # B: clamp(2 - min(|H'-1|, 7-H'), 0, 1)
        torch.minimum((h - 1.0).abs_(), torch.sub(7.0, h, out=w), out=w).neg_().add_(2.0).clamp_(0.0, 1.0)
        torch.addcmul(v, d, w, value=-1.0, out=out[:, 2:3])

    return kernel


def _hsv_kernel(name: str):
    """The closed-form kernel of an HSV perturbation, with its target from :data:`CHANNEL_TARGETS`."""
    _, channel, target = CHANNEL_TARGETS[name]
    if channel == 2:
        return _v_kernel(target)
    if target not in (0.0, 1.0):
        raise ValueError(f"H and S targets are 0 or 1, got {target} for {name!r}")
    if channel == 1:
        return _s_plus_kernel if target == 1.0 else _s_minus_kernel
    return _hue_kernel(target == 1.0)


_HSV_KERNELS = {name: _hsv_kernel(name) for name in HSV_NAMES}


# --------------------------------------------------------------------------- blur
def _blur(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur; samples grouped by kernel size (one pass per group)."""
    ks = [blur_kernel_size(float(v)) for v in m.tolist()]
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    groups = {}
    for i, k in enumerate(ks):
        groups.setdefault(k, []).append(i)
    for k, rows in groups.items():
        if len(rows) == len(ks):
            _blur_into(x, k, out)
        else:
            idx = torch.tensor(rows, device=x.device)
            sub = x.index_select(0, idx)
            res = torch.empty_like(sub)
            _blur_into(sub, k, res)
            out.index_copy_(0, idx, res)
    return out


def _toeplitz(w: torch.Tensor, block: int) -> torch.Tensor:
    """block × (block+k-1) matrix T with T[r, r:r+k] = w (one block of a 1-D convolution)."""
    k = w.numel()
    t = torch.zeros(block, block + k - 1, dtype=w.dtype, device=w.device)
    for r in range(block):
        t[r, r : r + k] = w
    return t


def _reflect101_index(n: int, p: int, total: int, device) -> torch.Tensor:
    """Indices of a reflect-101 padding by ``p`` of a length-``n`` axis, extended to ``total``.

    Position ``j`` of the padded axis reads ``i = j - p`` folded into ``[0, n-1]`` with period
    ``2(n-1)`` (OpenCV's BORDER_REFLECT_101, also for pads larger than the axis); positions
    beyond ``n + 2p`` are filler (they are zeroed by the caller).
    """
    i = torch.arange(total, device=device) - p
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = torch.remainder(i, period)
    return torch.where(i >= n, period - i, i)


def _reflect_pad_into(src: torch.Tensor, p: int, dst: torch.Tensor) -> None:
    """Write ``src`` (P×H×W) reflect-101-padded by ``p`` into ``dst[:, :H+2p, :W+2p]`` (p < H, W)."""
    _, h, w = src.shape
    dst[:, p : p + h, p : p + w] = src
    if p == 0:
        return
    mid = dst[:, p : p + h]
    mid[:, :, :p] = src[:, :, 1 : p + 1].flip(-1)
    mid[:, :, p + w : w + 2 * p] = src[:, :, w - p - 1 : w - 1].flip(-1)
    dst[:, :p, : w + 2 * p] = dst[:, p + 1 : 2 * p + 1, : w + 2 * p].flip(1)
    dst[:, p + h : h + 2 * p, : w + 2 * p] = dst[:, h - 1 : h + p - 1, : w + 2 * p].flip(1)


def _blur_into(x: torch.Tensor, k: int, out: torch.Tensor) -> None:
    """Gaussian blur of odd size k with reflect-101 borders into ``out``.

    Each 1-D pass is a batched matrix product: the output is cut into blocks of ``b`` rows
    (columns), and every block is ``T @ window`` with the Toeplitz block T (b × (b+k-1)) and
    the overlapping (b+k-1)-row window of the padded input, a strided view that BLAS reads in
    place (one plane at a time on CPU, so that no window is ever copied).  This runs at BLAS
    speed, unlike a 1-channel ``conv2d``; the result equals ``cv2.GaussianBlur`` to float
    round-off.
    """
    if k == 1:
        out.copy_(x)
        return
    n, c, h, w = x.shape
    p = k // 2
    wk = gaussian_kernel1d(k, dtype=x.dtype, device=x.device)
    b = 16 if k <= 31 else 32  # block size: fastest on an AVX2 CPU for these kernel sizes
    t = _toeplitz(wk, b)
    tt = t.t()
    nbh, nbw = -(-h // b), -(-w // b)
    kb = b + k - 1
    hp, wp = nbh * b + k - 1, nbw * b + k - 1  # padded and rounded up to whole blocks
    hv = nbh * b
    small = p >= h or p >= w
    if small:
        # OpenCV's reflect-101 (gfedcb|abcdefgh|gfedcba), repeated for kernels larger than the image
        rows = _reflect101_index(h, p, hp, x.device)
        cols = _reflect101_index(w, p, wp, x.device)
    per_plane = x.device.type == "cpu"
    vert = hor = None
    for sl in _chunk_slices(x):
        xc = x[sl].reshape(-1, h, w)
        nc = xc.shape[0]
        if small:
            xp = xc.index_select(2, cols).index_select(1, rows)
        else:
            xp = torch.empty(nc, hp, wp, dtype=x.dtype, device=x.device)
            _reflect_pad_into(xc, p, xp)
        xp[:, h + 2 * p :].zero_()  # beyond the padding: zeros (only feed discarded outputs)
        xp[:, :, w + 2 * p :].zero_()
        dst = out[sl].view(-1, h, w)
        if per_plane:
            if vert is None:  # buffers reused for every plane (no allocation per plane)
                vert = torch.empty(nbh, b, wp, dtype=x.dtype, device=x.device)
                hor = torch.empty(nbw, hv, b, dtype=x.dtype, device=x.device)
            full = w // b
            for j in range(nc):
                win = xp[j].as_strided((nbh, kb, wp), (b * wp, wp, 1))
                torch.matmul(t, win, out=vert)  # nbh × b × wp
                winh = vert.view(hv, wp).as_strided((nbw, hv, kb), (b, wp, 1))
                torch.matmul(winh, tt, out=hor)  # nbw × hv × b
                d = dst[j]
                d[:, : full * b].view(h, full, b).copy_(hor[:full, :h].permute(1, 0, 2))
                if full < nbw:
                    d[:, full * b :].copy_(hor[full, :h, : w - full * b])
        else:
            win = xp.as_strided((nc, nbh, kb, wp), (hp * wp, b * wp, wp, 1))
            vert = torch.matmul(t, win).reshape(nc, hv, wp)
            winh = vert.as_strided((nc, nbw, hv, kb), (hv * wp, b, wp, 1))
            hor = torch.matmul(winh, tt)
            dst.copy_(hor.permute(0, 2, 1, 3).reshape(nc, hv, nbw * b)[:, :h, :w])


# --------------------------------------------------------------------------- noise
def _noise(x: torch.Tensor, m: torch.Tensor, generator) -> torch.Tensor:
    """``x' = clamp(x + σ·z, 0, 1)``, ``σ = 50·m/255``, z ~ N(0, 1), chunk by chunk."""
    if generator is None:
        generator = torch.Generator(device=x.device).manual_seed(0)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    sigma = m.to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1) * (MAX_NOISE_SIGMA / 255.0)
    same_device = generator.device.type == x.device.type
    for sl in _chunk_slices(x):
        o = out[sl]
        if same_device:
            torch.randn(o.shape, generator=generator, dtype=x.dtype, device=x.device, out=o)
        else:
            o.copy_(torch.randn(o.shape, generator=generator, dtype=x.dtype, device=generator.device))
        o.mul_(sigma[sl]).add_(x[sl]).clamp_(0.0, 1.0)
    return out


# --------------------------------------------------------------------------- affine
def affine_parameters(name: str, magnitude: float, height: int, width: int) -> dict:
    """Rotation (degrees, + = counter-clockwise), shear factors and translation (pixels).

    ``rotate±: ±45·m``; ``shear_x±/shear_y±: ±0.3·m``; ``translate_x±: ±m·W/4``;
    ``translate_y±: ±m·H/4``.
    """
    check_name(name)
    if name not in GEOMETRIC:
        raise ValueError(f"{name!r} is not a geometric perturbation; geometric ones are {GEOMETRIC}")
    m = _scalar_magnitude(magnitude)
    sign = 1.0 if name.endswith("+") else -1.0
    p = {"angle": 0.0, "shear_x": 0.0, "shear_y": 0.0, "tx": 0.0, "ty": 0.0}
    if name.startswith("rotate"):
        p["angle"] = sign * MAX_ROTATE_DEG * m
    elif name.startswith("shear_x"):
        p["shear_x"] = sign * MAX_SHEAR * m
    elif name.startswith("shear_y"):
        p["shear_y"] = sign * MAX_SHEAR * m
    elif name.startswith("translate_x"):
        p["tx"] = sign * MAX_TRANSLATE * m * width
    else:
        p["ty"] = sign * MAX_TRANSLATE * m * height
    return p


def _forward_matrices(name: str, m: torch.Tensor, h: int, w: int):
    """Per-sample forward maps ``dst - c = A·(src - c) + t`` (float64, pixel units)."""
    n = m.numel()
    sign = 1.0 if name.endswith("+") else -1.0
    a = torch.eye(2, dtype=torch.float64).repeat(n, 1, 1)
    t = torch.zeros(n, 2, dtype=torch.float64)
    if name.startswith("rotate"):
        th = torch.deg2rad(sign * MAX_ROTATE_DEG * m)
        cos, sin = torch.cos(th), torch.sin(th)
        # counter-clockwise on screen (y axis down), as cv2.getRotationMatrix2D
        a[:, 0, 0], a[:, 0, 1], a[:, 1, 0], a[:, 1, 1] = cos, sin, -sin, cos
    elif name.startswith("shear_x"):
        a[:, 0, 1] = sign * MAX_SHEAR * m
    elif name.startswith("shear_y"):
        a[:, 1, 0] = sign * MAX_SHEAR * m
    elif name.startswith("translate_x"):
        t[:, 0] = sign * MAX_TRANSLATE * m * w
    else:
        t[:, 1] = sign * MAX_TRANSLATE * m * h
    return a, t


def _inverse_maps(name: str, m: torch.Tensor, h: int, w: int, border: str):
    """Output pixel → source pixel maps ``src - c = M·(out - c) + d`` (float64).

    For ``zoom`` and rotation/shear the output is the centred rectangle scaled by ``s``
    (``dst - c = s·(out - c)``) with the largest ``s ≤ 1`` whose four corners (pixel edges, half
    extents W/2, H/2) map inside the source: ``s = min (half - |d|)/|B·corner|`` over corners and
    axes, ``B = A⁻¹``, ``d = -A⁻¹·t``.  For a translation by ``t`` the largest such rectangle
    fills the unpadded part along the shift: ``s = 1 - |t|/size`` and its centre is ``t/2``, so
    ``src - c = s·(out - c) - t/2``.
    """
    a, t = _forward_matrices(name, m, h, w)
    b = torch.linalg.inv(a)
    d = -(b @ t.unsqueeze(-1)).squeeze(-1)
    if border == "zoom" and name.startswith("translate"):
        # the valid region is the image minus the padded strip of width |t|: the largest rectangle
        # of the original aspect ratio in it spans the strip's whole complement along the shift
        # (scale s = 1 - |t|/size, ≥ 3/4) and sits beside the strip, centred across it, i.e. its
        # centre is at t/2:  src - c = s·(out - c) + t/2 - t
        size = torch.tensor([w, h], dtype=torch.float64)
        s = 1.0 - (t.abs() / size).amax(dim=1)
        return b * s.view(-1, 1, 1), d / 2.0
    if border == "zoom":
        half = torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64)
        corners = torch.tensor([[w / 2.0, h / 2.0], [w / 2.0, -h / 2.0]], dtype=torch.float64)
        bc = torch.einsum("nij,kj->nki", b, corners).abs()  # N×2 corners×2 axes
        room = (half - d.abs()).unsqueeze(1)  # N×1×2
        s = (room / bc.clamp_min(1e-12)).amin(dim=(1, 2)).clamp(max=1.0)
        b = b * s.view(-1, 1, 1)
    return b, d


def warp_matrix(name: str, magnitude: float, height: int, width: int, *, border: str = "zoom"):
    """The 2×3 output→source map of a geometric perturbation, in pixels (float64 nested lists).

    ``[sx, sy] = M·[ox, oy, 1]`` with pixel centres at integer coordinates (OpenCV's convention:
    ``cv2.warpAffine(img, M, (W, H), flags=... | cv2.WARP_INVERSE_MAP)``).  It is the map the
    batched kernels resample through (:func:`_inverse_maps`: the parameters of
    :func:`affine_parameters`, warp and zoom composed), for one magnitude, written about the
    origin: ``M[:, :2] = B``, ``M[:, 2] = c + d - B·c`` with the centre ``c = ((W-1)/2, (H-1)/2)``.
    Computed in scalar float64 arithmetic (the per-sample path calls it per image; the batched
    tensor version costs ~0.2 ms); the tests check both agree to 1e-12.
    """
    check_name(name)
    if name not in GEOMETRIC:
        raise ValueError(f"{name!r} is not a geometric perturbation; geometric ones are {GEOMETRIC}")
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
    for what, v in (("height", height), ("width", width)):
        if not is_int(v, 1):
            raise ValueError(f"{what} must be a positive int (pixels), got {v!r}")
    p = affine_parameters(name, magnitude, height, width)
    # forward map dst - c = A·(src - c) + t (as _forward_matrices), inverted in closed form
    if p["angle"] != 0.0:
        th = math.radians(p["angle"])
        cos, sin = math.cos(th), math.sin(th)
        b = [[cos, -sin], [sin, cos]]  # inverse of [[cos, sin], [-sin, cos]]
    elif p["shear_x"] != 0.0:
        b = [[1.0, -p["shear_x"]], [0.0, 1.0]]
    elif p["shear_y"] != 0.0:
        b = [[1.0, 0.0], [-p["shear_y"], 1.0]]
    else:
        b = [[1.0, 0.0], [0.0, 1.0]]
    t = (p["tx"], p["ty"])
    d = [-(b[0][0] * t[0] + b[0][1] * t[1]), -(b[1][0] * t[0] + b[1][1] * t[1])]
    if border == "zoom" and name.startswith("translate"):
        s = 1.0 - max(abs(t[0]) / width, abs(t[1]) / height)
        b = [[v * s for v in row] for row in b]
        d = [d[0] / 2.0, d[1] / 2.0]
    elif border == "zoom":
        half = (width / 2.0, height / 2.0)
        s = 1.0
        for corner in ((width / 2.0, height / 2.0), (width / 2.0, -height / 2.0)):
            for i in range(2):
                bc = abs(b[i][0] * corner[0] + b[i][1] * corner[1])
                s = min(s, (half[i] - abs(d[i])) / max(bc, 1e-12))
        b = [[v * s for v in row] for row in b]
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return [[b[0][0], b[0][1], cx + d[0] - b[0][0] * cx - b[0][1] * cy],
            [b[1][0], b[1][1], cy + d[1] - b[1][0] * cx - b[1][1] * cy]]


def _affine(x, y, name, m, border):
    """Resample images (bilinear) and labels (nearest) through the output→source maps.

    Source coordinates (pixels): ``sx = cx + M00·(ox-cx) + M01·(oy-cy) + dx`` and
    ``sy = cy + M10·(ox-cx) + M11·(oy-cy) + dy``.  Translations (M01 = M10 = 0) and shears
    (one of them 0) are separable and run as two 1-D passes (row gather + lerp, then column
    gather + lerp), which is exactly bilinear interpolation; rotations use ``grid_sample``.
    ``zoom`` clamps indices to the image (the maps stay inside it up to half a pixel), ``pad``
    reads from a one-pixel ring of 0 (images) / 255 (labels) around the source.  Labels take
    the source pixel ``floor(s + 1/2)``.
    """
    n, c, h, w = x.shape
    mat, d = _inverse_maps(name, m, h, w, border)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    out_y = torch.empty_like(y) if y is not None else None
    pad = border == "pad"
    if pad:  # ring of fill values; indices are shifted by one and clamped to the ring
        xs = F.pad(x, (1, 1, 1, 1), value=0.0)
        ys = F.pad(y, (1, 1, 1, 1), value=IGNORE_INDEX) if y is not None else None
    else:
        xs, ys = x, y
    hs, ws = xs.shape[2], xs.shape[3]
    off = 1.0 if pad else 0.0
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    ct = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32  # coordinates
    ox = torch.arange(w, device=x.device, dtype=ct) - cx
    oy = torch.arange(h, device=x.device, dtype=ct) - cy
    mat_l, d_l = mat.tolist(), d.tolist()
    for i in range(n):
        (m00, m01), (m10, m11) = mat_l[i]
        # source coordinates in the (possibly ring-padded) source
        bx = cx + d_l[i][0] + off
        by = cy + d_l[i][1] + off
        src, dst = xs[i], out[i]
        if m01 == 0.0 and m10 == 0.0:  # translation (and zoom): rows, then columns
            sy = oy * m11 + by
            sx = ox * m00 + bx
            _lerp_into(_lerp_rows(src, sy, hs), sx, ws, dst)
            if y is not None:
                rows = ys[i].index_select(0, _nearest(sy, hs))
                torch.gather(rows, 1, _nearest(sx, ws).expand(h, w), out=out_y[i])
        elif m10 == 0.0:  # shear_x: rows, then a per-row shifted column gather
            sy = oy * m11 + by
            sx = torch.add((ox * m00 + bx)[None, :], (oy * m01)[:, None])  # h × w
            _lerp_into(_lerp_rows(src, sy, hs), sx, ws, dst)
            if y is not None:
                rows = ys[i].index_select(0, _nearest(sy, hs))
                torch.gather(rows, 1, _nearest(sx, ws), out=out_y[i])
        elif m01 == 0.0:  # shear_y: the shear_x path on the transposed image
            s_rows = ox * m00 + bx  # source column of each output column
            s_cols = torch.add((oy * m11 + by)[None, :], (ox * m10)[:, None])  # w × h source rows
            src_t = src.transpose(1, 2).contiguous()  # c × ws × hs
            tmp = torch.empty(c, w, h, dtype=x.dtype, device=x.device)
            _lerp_into(_lerp_rows(src_t, s_rows, ws), s_cols, hs, tmp)
            dst.copy_(tmp.transpose(1, 2))
            if y is not None:
                rows = ys[i].t().index_select(0, _nearest(s_rows, ws))  # w × hs
                out_y[i].copy_(torch.gather(rows, 1, _nearest(s_cols, hs)).t())
        else:  # rotation: general bilinear warp
            # grid_sample's normalised coordinates (align_corners=False): u = (2·s + 1)/size - 1
            grid = torch.empty(1, h, w, 2, dtype=x.dtype, device=x.device)
            ux, uy = 2.0 / ws, 2.0 / hs
            torch.add((ox * (m00 * ux) + ((2.0 * bx + 1.0) / ws - 1.0))[None, :], (oy * (m01 * ux))[:, None],
                      out=grid[0, :, :, 0])
            torch.add((ox * (m10 * uy))[None, :], (oy * (m11 * uy) + ((2.0 * by + 1.0) / hs - 1.0))[:, None],
                      out=grid[0, :, :, 1])
            dst.copy_(F.grid_sample(src[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0])
            if y is not None:  # nearest source pixel (class ids are exact in float32)
                lab = F.grid_sample(ys[i][None, None].to(grid.dtype), grid, mode="nearest",
                                    padding_mode="border", align_corners=False)
                out_y[i].copy_(lab[0, 0])
    return out, out_y


def _nearest(s: torch.Tensor, size: int) -> torch.Tensor:
    """Nearest integer index ``floor(s + 1/2)`` clamped to ``[0, size-1]``."""
    return torch.floor(s + 0.5).clamp_(0, size - 1).long()


def _taps(s: torch.Tensor, size: int):
    """Left/right tap indices (clamped to ``[0, size-1]``) and the right tap's weight."""
    f = torch.floor(s)
    frac = s - f
    i0 = f.clamp(0, size - 1).long()
    i1 = f.add_(1.0).clamp_(0, size - 1).long()
    return i0, i1, frac


def _lerp_rows(src: torch.Tensor, sy: torch.Tensor, size: int) -> torch.Tensor:
    """Rows of ``src`` (C×H×W) interpolated linearly at the 1-D row coordinates ``sy``."""
    i0, i1, frac = _taps(sy, size)
    a = src.index_select(1, i0)
    return a.lerp_(src.index_select(1, i1), frac.to(src.dtype).view(1, -1, 1))


def _lerp_into(src: torch.Tensor, sx: torch.Tensor, size: int, out: torch.Tensor) -> None:
    """Columns of ``src`` (C×H×W) interpolated at ``sx`` (1-D per column, or H×W) into ``out``.

    Indices are clamped to ``[0, size-1]``; with clamped taps this equals ``grid_sample``'s
    ``border`` padding, and with a ring of fill values around ``src`` its ``zeros`` padding.
    """
    i0, i1, frac = _taps(sx, size)
    shape = (src.shape[0], out.shape[1], out.shape[2])
    torch.gather(src, 2, i0.expand(shape), out=out)
    b = torch.gather(src, 2, i1.expand(shape))
    out.lerp_(b, frac.to(src.dtype).expand(shape))
