"""Evaluation corruptions: the 6 AdvSteer combined perturbations and ImageNet-C (SPEC.md §6).

Images are batched tensors N×3×H×W, float in [0, 1], RGB, on any device; labels are N×H×W
integer tensors (class ids, ``ignore_index`` 255) or ``None``.

AdvSteer (Shen et al., NeurIPS 2021)
------------------------------------
Six fixed combinations (:data:`ADVSTEER`) of channel factors for B, G, R, H, S, V, a Gaussian
blur kernel size, a Gaussian noise σ and a radial lens distortion, applied in this order
(the order of the original code, ``generate_combined`` in Shen et al.'s repository
*Multi_Perturbation_Robustness*, ``library/regenerate_dataset.py``):

1. **RGB channels** (independent of each other). With factor α of a channel c in [0, 255]:
   α ≥ 0 lightens, ``c' = (1-α)·c + α·255``; α < 0 darkens, ``c' = (1+α)·c``.
2. **HSV channels**, one at a time in the order H, S, V; as in the original each one is a full
   round trip RGB → HSV → change one channel → RGB, so the next channel sees the re-derived
   HSV of the changed image (this matters for grey pixels, whose hue is reset to 0 by the
   round trip). OpenCV 8-bit conventions: H in [0, 180) with ``c_max = 180``, S and V in
   [0, 255] with ``c_max = 255``; hue scaling is linear in the stored value.
3. **Gaussian blur** with kernel size k (odd; k = 1 is the identity) and σ as
   ``cv2.GaussianBlur(img, (k, k), 0)`` chooses it: OpenCV 4's fixed tables for k ≤ 7
   (k = 3: [1/4, 1/2, 1/4]), otherwise ``σ = 0.3·((k-1)/2 - 1) + 0.8``; borders reflect-101.
   (OpenCV 5 also tabulates k = 9; the table's kernels are 1, 3, 15, 21, 27, so no matter.)
4. **Gaussian noise**: add N(0, σ²) with σ on the 0..255 scale (σ/255 on [0, 1]), drawn from an
   explicit ``torch.Generator`` (or one seeded from ``seed``).
5. **Radial lens distortion**, equal to ``cv2.undistort(img, K, dist)`` with
   ``K = [[1000, 0, W/2], [0, 1000, H/2], [0, 0, 1]]`` (focal 1000 px, principal point at
   (W/2, H/2) as in the original) and ``dist = (k1, k2, 0, 0)``. Exact mapping: output pixel
   (u, v) samples the input at ``u_s = cx + f·x·(1 + k1·r² + k2·r⁴)``,
   ``v_s = cy + f·y·(1 + k1·r² + k2·r⁴)`` with ``x = (u-cx)/f``, ``y = (v-cy)/f``,
   ``r² = x² + y²``; images bilinear with 0 outside the image, labels nearest neighbour with
   ``ignore_index`` outside. **Scale decision:** the original code passes the table's
   distortion value d *unscaled* as both k1 and k2 (``np.array([d, d, 0, 0])``); we do the
   same by default (``k1 = k2 = d``; ``distortion_k2=False`` gives ``k2 = 0``, i.e. k1 only as
   SPEC.md words it; the k2 term is ≤ 2 % of the k1 term at 240×180). The effect therefore
   depends on the image size in pixels: at CamVid's 240×180 the corner radius is r = 0.15 and
   d = 49 samples the corners from 2.1× their distance to the centre (so they fall outside the
   image and become 0 / ``ignore_index``).
6. Clip to [0, 1] (the original wrote float results with ``cv2.imwrite``, which saturates).

What is shared with the basis perturbations (:mod:`repro.perturb.functional`) and what is not:
the blur's Gaussian for k > 7 is the basis blur's kernel (:func:`~repro.perturb.functional.gaussian_kernel1d`,
the same σ rule; an equivalence test checks it), and ``IGNORE_INDEX`` and the image checks are the
package's (:mod:`repro.data`, :mod:`repro.base.validation`). Different on purpose: OpenCV's fixed kernels for
k ≤ 7; the channel factors (AdvSteer scales towards 255 or 0 with a signed factor, not the basis
types' magnitude in [0, 1]); the three *sequential* HSV round trips (the basis H/S/V types change
one channel in closed form); the lens distortion, which has no basis counterpart.

Differences from the original, all deliberate: computation in float without the uint8
truncation after each channel step; images in RGB order (the original read BGR with
``cv2.imread`` and applied the B, G, R columns to the B, G, R channels, which is what we do).
``variant="authors"`` reproduces the later (SIA) authors' code: channel factors ×1.25 and the B
and R columns swapped (the B column's factor applied to R and vice versa); record which variant
a table used.

ImageNet-C (Hendrycks & Dietterich 2019)
---------------------------------------
Through ``imagecorruptions`` 1.1.2 (patched for numpy 2 / scikit-image ≥ 0.19 by
:mod:`repro.base.compat.imagecorruptions`). All 19 names (:data:`IMAGENET_C`: 15 common + 4
held-out) are accepted at severities 1..5; :data:`AUTHORS_IMAGENET_C` lists the 7 the authors
used. Images are quantised to uint8 (``round(255·x)``) for the package and returned as
``uint8 / 255``. Label handling per corruption (:data:`MOVES_CONTENT`):

* ``elastic_transform`` moves pixels along a smooth random displacement field: the label is
  moved by the *same* field (same random draws), nearest neighbour, reflect borders like the
  image.
* ``glass_blur`` blurs, then locally copies pixels from up to 4 px away (the package's "swap"
  is, through numpy view aliasing, a copy), then blurs again: the label gets the same copies.
  (``randint(-d, d)`` excludes +d, so the copies also shift content down-right by about half
  a pixel per iteration on average; the moved label follows that.) For speed we run the
  package's own algorithm through an index map (identical output, checked against the package
  in the tests) instead of its per-pixel numpy loop (≈30 ms instead of ≈2 s at 240×180).
* ``zoom_blur`` is deterministic (no random draws); for speed we compute the package's algorithm
  (the mean of the image and its centre crops zoomed back by ``scipy.ndimage.zoom(order=1)``)
  as torch's bilinear interpolation with ``align_corners=True`` (scipy's order-1 zoom
  convention) in float64 instead of scipy's spline code (:func:`_zoom_blur`; ≈5× faster, equal to the package up to
  float rounding, i.e. at most 1 in a few uint8 values that sit on a truncation boundary, checked
  in the tests).
* All other corruptions leave labels as they are: noise, blur, weather overlays, digital ones;
  ``zoom_blur`` averages the image with centre-zoomed copies of itself and ``motion_blur``
  with shifted copies (blurs whose unshifted component is the original), and ``pixelate``
  keeps every pixel's position, so the original label stays the correct one.

Seeding: the package draws from numpy's *global* legacy RNG. :func:`imagenet_c` saves that
state, seeds it for each image from ``numpy.random.SeedSequence((seed, i))`` (or
``SeedSequence(seed[i])`` for a per-image seed list), runs the corruption and restores the
saved state, so the caller's global numpy RNG state is unchanged. (Not thread-safe: do not
run other code that uses ``numpy.random``'s global functions concurrently in other threads.)
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from repro.base.compat.imagecorruptions import COMMON as IMAGENET_C_COMMON
from repro.base.compat.imagecorruptions import HELD_OUT as IMAGENET_C_HELD_OUT
from repro.data import IGNORE_INDEX
from repro.perturb.functional import gaussian_kernel1d
from repro.base.validation import check_images

__all__ = [
    "ADVSTEER",
    "ADVSTEER_VARIANTS",
    "ADVSTEER_PARTS",
    "AdvSteerParams",
    "advsteer_params",
    "advsteer",
    "channel_factors",
    "gaussian_blur_cv",
    "cv_gaussian_kernel",
    "radial_distortion",
    "rgb_to_hsv_cv",
    "hsv_to_rgb_cv",
    "IMAGENET_C",
    "IMAGENET_C_COMMON",
    "IMAGENET_C_HELD_OUT",
    "AUTHORS_IMAGENET_C",
    "MOVES_CONTENT",
    "SEVERITIES",
    "imagenet_c",
]


# --------------------------------------------------------------------------- AdvSteer table
@dataclass(frozen=True)
class AdvSteerParams:
    """One AdvSteer combination. Channel factors α are unitless in [-1, 1]; ``blur_kernel`` is
    the odd Gaussian kernel size in pixels (1 = no blur); ``noise_sigma`` is the noise standard
    deviation on the 0..255 scale; ``distortion`` is the radial distortion value d (see module
    docstring: k1 = k2 = d with focal length 1000 px)."""

    index: int
    B: float
    G: float
    R: float
    H: float
    S: float
    V: float
    blur_kernel: int
    noise_sigma: float
    distortion: float

    @property
    def factors(self) -> dict[str, float]:
        """Channel factors by channel name, in application order R, G, B, H, S, V."""
        return {c: getattr(self, c) for c in ("R", "G", "B", "H", "S", "V")}


# SPEC.md §6, as printed (columns B, G, R, H, S, V, blur kernel, noise σ, distortion).
_ADVSTEER_ROWS = (
    (0.11560, 0.34747, -0.09439, 0.24316, -0.20787, 0.14526, 3, 6, 9),
    (0.29557, -0.40678, 0.03357, -0.04554, -0.15821, -0.36210, 21, 4, 38),
    (0.10395, -0.09204, 0.14188, -0.00175, -0.16954, -0.05974, 1, 4, 49),
    (-0.21618, -0.01326, -0.20795, -0.34182, 0.01905, -0.18568, 3, 5, 4),
    (0.26740, 0.02665, -0.16380, -0.35199, 0.20101, 0.00107, 27, 4, 0),
    (0.30739, -0.01527, -0.52901, 0.28548, 0.44175, 0.07981, 15, 2, 21),
)

#: The 6 combinations of SPEC.md §6 exactly as printed (``variant="paper"``), keyed 1..6.
ADVSTEER: Mapping[int, AdvSteerParams] = {
    i + 1: AdvSteerParams(i + 1, *row[:6], int(row[6]), float(row[7]), float(row[8]))
    for i, row in enumerate(_ADVSTEER_ROWS)
}
ADVSTEER_VARIANTS = ("paper", "authors")
_VARIANT_ALIASES = {"code": "authors"}  # "code" = the authors' code, same as "authors"
ADVSTEER_PARTS = ("channels", "blur", "noise", "distortion")
_AUTHORS_SCALE = 1.25


def _check_index(index) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"AdvSteer index must be an int in 1..6, got {type(index).__name__}")
    if not 1 <= int(index) <= 6:
        raise ValueError(f"AdvSteer index must be in 1..6, got {index}")
    return int(index)


def advsteer_params(index: int, variant: str = "paper") -> AdvSteerParams:
    """The parameters of combination ``index`` (1..6) for ``variant``.

    ``"paper"``: the table as printed. ``"authors"`` (alias ``"code"``): the later authors'
    code, channel factors multiplied by 1.25 and the B and R factors swapped.
    """
    index = _check_index(index)
    variant = _VARIANT_ALIASES.get(variant, variant) if isinstance(variant, str) else variant
    if variant not in ADVSTEER_VARIANTS:
        raise ValueError(f"unknown AdvSteer variant {variant!r}; expected one of {ADVSTEER_VARIANTS}")
    p = ADVSTEER[index]
    if variant == "paper":
        return p
    s = _AUTHORS_SCALE
    return AdvSteerParams(index, s * p.R, s * p.G, s * p.B, s * p.H, s * p.S, s * p.V,
                          p.blur_kernel, p.noise_sigma, p.distortion)


# --------------------------------------------------------------------------- input checks


def _check_labels(labels, images: torch.Tensor):
    if labels is None:
        return None
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor N×H×W or None, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    n, _, h, w = images.shape
    if labels.shape != (n, h, w):
        raise ValueError(f"labels must have shape {(n, h, w)} to match images, got {tuple(labels.shape)}")
    return labels


# --------------------------------------------------------------------------- colour spaces


def rgb_to_hsv_cv(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] (…×3×H×W) → HSV with every channel normalised to [0, 1].

    Multiply H by 180 and S, V by 255 for OpenCV's 8-bit values (``cv2.COLOR_RGB2HSV``):
    ``V = max``, ``S = (V - min)/V`` (0 where V = 0), hue from the max channel with OpenCV's
    tie order R, G, B, hue 0 where max = min.
    """
    r, g, b = rgb.unbind(-3)
    v, _ = rgb.max(dim=-3)
    mn, _ = rgb.min(dim=-3)
    d = v - mn
    s = torch.where(v > 0, d / v.clamp_min(1e-12), torch.zeros_like(v))
    safe = d.clamp_min(1e-12)
    h_r = (g - b) / safe
    h_g = 2.0 + (b - r) / safe
    h_b = 4.0 + (r - g) / safe
    h = torch.where(v == r, h_r, torch.where(v == g, h_g, h_b))
    h = torch.where(d > 0, h, torch.zeros_like(h)) / 6.0
    h = torch.remainder(h, 1.0)
    return torch.stack((h, s, v), dim=-3)


def hsv_to_rgb_cv(hsv: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv_cv` (normalised H, S, V in [0, 1]; H = 1 is H = 0)."""
    h, s, v = hsv.unbind(-3)
    h6 = torch.remainder(h, 1.0) * 6.0
    i = torch.floor(h6).clamp(0, 5)
    f = h6 - i
    p = v * (1 - s)
    q = v * (1 - s * f)
    t = v * (1 - s * (1 - f))
    i = i.to(torch.int64)
    # sector → (R, G, B) choices among v, t, p, q
    choices = torch.stack((v, q, p, p, t, v, t, v, v, q, p, p, p, p, t, v, v, q), dim=0)
    choices = choices.view(3, 6, *v.shape)
    idx = i.unsqueeze(0).unsqueeze(0).expand(3, 1, *v.shape)
    rgb = torch.gather(choices, 1, idx).squeeze(1)
    return rgb.movedim(0, -3)


def _scale_channel(c: torch.Tensor, alpha: float) -> torch.Tensor:
    """α ≥ 0: (1-α)·c + α·c_max; α < 0: (1+α)·c, with c normalised so that c_max = 1."""
    if alpha >= 0:
        return (1.0 - alpha) * c + alpha
    return (1.0 + alpha) * c


def channel_factors(images: torch.Tensor, factors: Mapping[str, float]) -> torch.Tensor:
    """Apply AdvSteer channel factors: R, G, B (independent), then H, S, V (one HSV round trip
    each, in that order). ``factors`` maps channel names "R", "G", "B", "H", "S", "V" to α
    (missing names and α = 0 are skipped). Images N×3×H×W (or 3×H×W) float in [0, 1]."""
    unknown = set(factors) - {"R", "G", "B", "H", "S", "V"}
    if unknown:
        raise ValueError(f"unknown channel names {sorted(unknown)}; expected R, G, B, H, S, V")
    out = images
    rgb = [out.select(-3, k) for k in range(3)]
    changed = False
    for k, name in enumerate(("R", "G", "B")):
        a = float(factors.get(name, 0.0))
        if a != 0.0:
            rgb[k] = _scale_channel(rgb[k], a)
            changed = True
    if changed:
        out = torch.stack(rgb, dim=-3)
    for k, name in enumerate(("H", "S", "V")):
        a = float(factors.get(name, 0.0))
        if a == 0.0:
            continue
        hsv = rgb_to_hsv_cv(out)
        chans = list(hsv.unbind(-3))
        chans[k] = _scale_channel(chans[k], a)
        out = hsv_to_rgb_cv(torch.stack(chans, dim=-3))
    return out


# --------------------------------------------------------------------------- blur / distortion

_CV_SMALL_KERNELS = {
    1: (1.0,),
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
}


def cv_gaussian_kernel(ksize: int, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """The 1-D kernel ``cv2.getGaussianKernel(ksize, 0)`` (what ``cv2.GaussianBlur`` with
    σ = 0 uses): OpenCV's fixed tables for ksize ≤ 7, else the normalised Gaussian with
    ``σ = 0.3·((ksize-1)/2 - 1) + 0.8`` (pixels) of the basis blur,
    :func:`repro.perturb.functional.gaussian_kernel1d`."""
    if isinstance(ksize, bool) or not isinstance(ksize, (int, np.integer)) or ksize < 1 or ksize % 2 == 0:
        raise ValueError(f"Gaussian kernel size must be a positive odd int, got {ksize!r}")
    ksize = int(ksize)
    if ksize in _CV_SMALL_KERNELS:  # on purpose unlike the basis blur: OpenCV's tables, as AdvSteer's cv2 code
        return torch.tensor(_CV_SMALL_KERNELS[ksize], dtype=dtype, device=device)
    return gaussian_kernel1d(ksize, dtype=dtype, device=device)  # the basis blur's kernel (same σ rule)


def gaussian_blur_cv(images: torch.Tensor, ksize: int) -> torch.Tensor:
    """``cv2.GaussianBlur(img, (ksize, ksize), 0)`` on N×C×H×W float images: separable
    convolution with :func:`cv_gaussian_kernel`, reflect-101 borders. ksize 1 → identity."""
    k = cv_gaussian_kernel(ksize, dtype=images.dtype, device=images.device)
    if ksize == 1:
        return images
    n, c, h, w = images.shape
    pad = ksize // 2
    if pad >= h or pad >= w:
        raise ValueError(f"blur kernel {ksize} needs images larger than {pad} px, got {h}×{w}")
    x = images.reshape(n * c, 1, h, w)
    x = F.conv2d(F.pad(x, (pad, pad, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, pad, pad), mode="reflect"), k.view(1, 1, -1, 1))
    return x.reshape(n, c, h, w)


def _distortion_source(h: int, w: int, k1: float, k2: float, focal: float, device) -> tuple[torch.Tensor, torch.Tensor]:
    u = torch.arange(w, dtype=torch.float64, device=device)
    v = torch.arange(h, dtype=torch.float64, device=device)
    cx, cy = w / 2.0, h / 2.0
    x = ((u - cx) / focal).view(1, w)
    y = ((v - cy) / focal).view(h, 1)
    r2 = x * x + y * y
    factor = 1.0 + k1 * r2 + k2 * r2 * r2
    return cx + focal * x * factor, cy + focal * y * factor  # source u_s, v_s (H×W each)


def radial_distortion(images: torch.Tensor, labels: torch.Tensor | None, k1: float, k2: float = 0.0,
                      *, focal: float = 1000.0, ignore_index: int = IGNORE_INDEX):
    """``cv2.undistort(img, K, (k1, k2, 0, 0))`` with ``K = [[focal, 0, W/2], [0, focal, H/2],
    [0, 0, 1]]`` (focal in pixels, k1, k2 unitless), applied to images (bilinear, 0 outside the
    input) and labels (nearest, ``ignore_index`` outside). See the module docstring for the
    mapping. Returns ``(images, labels)``; k1 = k2 = 0 returns the inputs unchanged."""
    if k1 == 0 and k2 == 0:
        return images, labels
    n, _, h, w = images.shape
    us, vs = _distortion_source(h, w, float(k1), float(k2), float(focal), images.device)
    gx = 2.0 * us / max(w - 1, 1) - 1.0
    gy = 2.0 * vs / max(h - 1, 1) - 1.0
    grid = torch.stack((gx, gy), dim=-1).to(images.dtype).unsqueeze(0).expand(n, h, w, 2)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    if labels is not None:
        ui = torch.floor(us + 0.5)
        vi = torch.floor(vs + 0.5)
        valid = (ui >= 0) & (ui <= w - 1) & (vi >= 0) & (vi <= h - 1)
        flat = (vi.clamp(0, h - 1) * w + ui.clamp(0, w - 1)).to(torch.int64).view(1, -1).expand(n, -1)
        moved = torch.gather(labels.reshape(n, -1), 1, flat).view(n, h, w)
        labels = torch.where(valid.unsqueeze(0), moved, torch.full_like(moved, ignore_index))
    return out, labels


# --------------------------------------------------------------------------- AdvSteer


def advsteer(images: torch.Tensor, labels: torch.Tensor | None, index: int, *, variant: str = "paper",
             generator: torch.Generator | None = None, seed: int | None = None,
             parts: Sequence[str] = ADVSTEER_PARTS, distortion_k2: bool = True,
             ignore_index: int = IGNORE_INDEX):
    """Apply AdvSteer combination ``index`` (1..6) to a batch.

    Args:
        images: N×3×H×W float RGB in [0, 1], any device.
        labels: N×H×W integer class ids (moved by the distortion) or ``None``.
        index: which combination of :data:`ADVSTEER` (1..6).
        variant: ``"paper"`` (table as printed) or ``"authors"`` (alias ``"code"``: factors
            ×1.25, B↔R).
        generator: ``torch.Generator`` for the noise (on any device; the noise is moved to the
            images' device). If ``None``, a CPU generator seeded with ``seed`` (default 0).
        seed: int seed used when ``generator`` is ``None``; giving both is an error.
        parts: the stages to run, a subset of ("channels", "blur", "noise", "distortion")
            (order is always the canonical one); for tests and ablations.
        distortion_k2: ``True`` (default, as the original code) uses k1 = k2 = d; ``False``
            uses k1 = d, k2 = 0.

    Returns:
        ``(images, labels)``: float images clipped to [0, 1] with the input's dtype and
        device; labels moved by the distortion (``ignore_index`` outside) or ``None``.
    """
    images = check_images(images)
    labels = _check_labels(labels, images)
    p = advsteer_params(index, variant)
    bad = [x for x in parts if x not in ADVSTEER_PARTS]
    if isinstance(parts, str) or bad:
        raise ValueError(f"parts must be a sequence of names from {ADVSTEER_PARTS}, got {parts!r}")
    if generator is not None and seed is not None:
        raise ValueError("give either generator or seed, not both")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")

    x = images
    if "channels" in parts:
        x = channel_factors(x, p.factors)
    if "blur" in parts:
        x = gaussian_blur_cv(x, p.blur_kernel)
    if "noise" in parts and p.noise_sigma > 0:
        if generator is None:
            generator = torch.Generator().manual_seed(int(seed) if seed is not None else 0)
        noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=torch.float32)
        x = x + noise.to(device=x.device, dtype=x.dtype) * (p.noise_sigma / 255.0)
    if "distortion" in parts and p.distortion != 0:
        k2 = p.distortion if distortion_k2 else 0.0
        x, labels = radial_distortion(x, labels, p.distortion, k2, ignore_index=ignore_index)
    return x.clamp(0.0, 1.0), labels


# --------------------------------------------------------------------------- ImageNet-C

# IMAGENET_C_COMMON (the 15 common corruptions) and IMAGENET_C_HELD_OUT (the 4 held-out ones), in
# ImageNet-C's order, are repro.base.compat.imagecorruptions' COMMON and HELD_OUT (imported above).
#: All 19 ImageNet-C corruptions: the 15 common ones, then the 4 held-out ones.
IMAGENET_C = IMAGENET_C_COMMON + IMAGENET_C_HELD_OUT
#: The 7 corruptions the authors evaluated (SPEC.md §6).
AUTHORS_IMAGENET_C = ("motion_blur", "zoom_blur", "pixelate", "jpeg_compression", "snow", "frost", "fog")
#: Corruptions that move image content; their labels are moved identically.
MOVES_CONTENT = ("glass_blur", "elastic_transform")
SEVERITIES = (1, 2, 3, 4, 5)

# glass_blur parameters of imagecorruptions 1.1.2: (sigma, max_delta, iterations) per severity
_GLASS = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))
# elastic_transform alpha per severity (imagecorruptions 1.1.2)
_ELASTIC_ALPHA = (250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12)


@contextlib.contextmanager
def _global_numpy_seeded(entropy) -> Iterator[None]:
    """Seed numpy's global legacy RNG from ``SeedSequence(entropy)``; restore it afterwards."""
    saved = np.random.get_state()
    try:
        np.random.set_state(_legacy_rng(entropy).get_state())
        yield
    finally:
        np.random.set_state(saved)


def _legacy_rng(entropy) -> np.random.RandomState:
    return np.random.RandomState(np.random.MT19937(np.random.SeedSequence(entropy)))


def _glass_source_index(h: int, w: int, max_delta: int, iterations: int, rng: np.random.RandomState) -> np.ndarray:
    """Flat source index of every pixel after glass_blur's local pixel shuffling, consuming the
    same random draws in the same order as the package (one ``randint(-d, d, size=2)`` =
    (dx, dy) per visited pixel). The package's tuple "swap" of numpy views copies the
    neighbour's value into (h, w) and leaves the neighbour unchanged; so do we."""
    hs = range(h - max_delta, max_delta, -1)
    ws = range(w - max_delta, max_delta, -1)
    n = iterations * len(hs) * len(ws)
    draws = rng.randint(-max_delta, max_delta, size=(n, 2)) if n else np.zeros((0, 2), np.int64)
    dx = draws[:, 0].tolist()
    dy = draws[:, 1].tolist()
    idx = list(range(h * w))
    k = 0
    for _ in range(iterations):
        for hh in hs:
            row = hh * w
            for ww in ws:
                idx[row + ww] = idx[(hh + dy[k]) * w + ww + dx[k]]
                k += 1
    return np.asarray(idx, dtype=np.int64)


def _glass_blur(image: np.ndarray, label: np.ndarray | None, severity: int, entropy):
    from repro.base.compat import imagecorruptions as compat

    gaussian = compat.module().gaussian  # the package's (patched) gaussian
    sigma, max_delta, iterations = _GLASS[severity - 1]
    h, w, _ = image.shape
    idx = _glass_source_index(h, w, max_delta, iterations, _legacy_rng(entropy))
    x = np.uint8(gaussian(np.asarray(image) / 255.0, sigma=sigma, multichannel=True) * 255)
    x = x.reshape(h * w, -1)[idx].reshape(x.shape)
    out = np.uint8(np.clip(gaussian(x / 255.0, sigma=sigma, multichannel=True), 0, 1) * 255)
    if label is not None:
        label = label.reshape(-1)[idx].reshape(label.shape)
    return out, label


# zoom_blur zoom factors of imagecorruptions 1.1.2 per severity
_ZOOM_FACTORS = ((1, 1.11, 0.01), (1, 1.16, 0.01), (1, 1.21, 0.02), (1, 1.26, 0.02), (1, 1.31, 0.03))


def _zoom_blur(image: np.ndarray, severity: int) -> np.ndarray:
    """imagecorruptions' ``zoom_blur`` (H×W×3 uint8 → uint8): the mean of the image and of each of
    its centre crops ``ceil(H/z)×ceil(W/z)`` zoomed by z (output ``round(ceil(H/z)·z)`` pixels per
    axis, cut to H×W at the top-left), clipped to [0, 1], ×255, truncated to uint8.

    ``scipy.ndimage.zoom(order=1)`` (``grid_mode=False``) reads output sample o at input coordinate
    ``o·(n_in-1)/(n_out-1)``, linearly between its neighbours; that is bilinear interpolation with
    ``align_corners=True``, computed here by ``torch.nn.functional.interpolate`` in float64."""
    lo, hi, step = _ZOOM_FACTORS[severity - 1]
    x = (np.asarray(image) / 255.0).astype(np.float32)
    h, w, c = x.shape
    xt = torch.from_numpy(x).permute(2, 0, 1).unsqueeze(0).to(torch.float64)
    out = torch.zeros((1, c, h, w), dtype=torch.float32)
    factors = np.arange(lo, hi, step)
    for z in factors:
        ch0, ch1 = int(np.ceil(h / float(z))), int(np.ceil(w / float(z)))
        t0, t1 = (h - ch0) // 2, (w - ch1) // 2
        o0, o1 = int(round(ch0 * z)), int(round(ch1 * z))
        crop = xt[..., t0:t0 + ch0, t1:t1 + ch1]
        layer = F.interpolate(crop, size=(o0, o1), mode="bilinear", align_corners=True)[..., :h, :w]
        out[..., :layer.shape[-2], :layer.shape[-1]] += layer.to(torch.float32)  # float32, as the package
    res = (x + out[0].permute(1, 2, 0).numpy()) / (len(factors) + 1)
    return np.uint8(np.clip(res, 0, 1) * 255)


def _elastic_label(label: np.ndarray, severity: int, entropy) -> np.ndarray:
    """Move ``label`` with the displacement field elastic_transform draws for ``entropy``."""
    from scipy.ndimage import map_coordinates

    from repro.base.compat import imagecorruptions as compat

    gaussian = compat.module().gaussian
    rng = _legacy_rng(entropy)
    h, w = label.shape
    sigma = np.array((h, w)) * 0.01
    alpha = _ELASTIC_ALPHA[severity - 1]
    max_d = h * 0.005  # the package uses shape[0] for both directions
    dx = (gaussian(rng.uniform(-max_d, max_d, size=(h, w)), sigma, mode="reflect", truncate=3) * alpha).astype(np.float32)
    dy = (gaussian(rng.uniform(-max_d, max_d, size=(h, w)), sigma, mode="reflect", truncate=3) * alpha).astype(np.float32)
    x, y = np.meshgrid(np.arange(w), np.arange(h))
    coords = np.stack((y + dy, x + dx)).reshape(2, -1)
    return map_coordinates(label, coords, order=0, mode="reflect").reshape(h, w)


def _check_seed(seed, n: int) -> list:
    if isinstance(seed, bool):
        raise TypeError("seed must be an int or a sequence of N ints, got bool")
    if isinstance(seed, (int, np.integer)):
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        return [(int(seed), i) for i in range(n)]
    if isinstance(seed, torch.Tensor):
        seed = seed.tolist()
    if isinstance(seed, Sequence) and not isinstance(seed, str):
        if len(seed) != n or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in seed):
            raise ValueError(f"seed sequence must hold {n} non-negative ints (one per image), got {seed!r}")
        return [(int(s),) for s in seed]
    raise TypeError(f"seed must be an int or a sequence of N ints, got {type(seed).__name__}")


def imagenet_c(images: torch.Tensor, labels: torch.Tensor | None, name: str, severity: int, *, seed):
    """Apply ImageNet-C corruption ``name`` at ``severity`` (1..5) to a batch.

    Args:
        images: N×3×H×W float RGB in [0, 1] (H, W ≥ 32), any device.
        labels: N×H×W integer labels or ``None``; moved identically for
            :data:`MOVES_CONTENT`, otherwise returned unchanged (the same tensor).
        name: one of :data:`IMAGENET_C`.
        severity: int 1..5.
        seed: int (image i uses ``SeedSequence((seed, i))``) or a sequence of N ints (image i
            uses ``SeedSequence(seed[i])``, handy for batch-size-independent results). Numpy's
            global RNG state is saved and restored around every image.

    Returns:
        ``(images, labels)``; images are ``uint8_result / 255`` in the input dtype and device.
    """
    images = check_images(images)
    labels = _check_labels(labels, images)
    if not isinstance(name, str) or name not in IMAGENET_C:
        raise ValueError(f"unknown ImageNet-C corruption {name!r}; expected one of {IMAGENET_C}")
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)):
        raise TypeError(f"severity must be an int in 1..5, got {type(severity).__name__}")
    if not 1 <= int(severity) <= 5:
        raise ValueError(f"severity must be in 1..5, got {severity}")
    severity = int(severity)
    n, _, h, w = images.shape
    if h < 32 or w < 32:
        raise ValueError(f"ImageNet-C corruptions need images of at least 32×32 pixels, got {h}×{w}")
    entropies = _check_seed(seed, n)

    from repro.base.compat import imagecorruptions as compat

    compat.module()
    arr = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    lab = labels.detach().cpu().numpy() if (labels is not None and name in MOVES_CONTENT) else None
    outs, new_labels = [], []
    for i in range(n):
        li = lab[i] if lab is not None else None
        if name == "glass_blur":
            out, li = _glass_blur(arr[i], li, severity, entropies[i])
        elif name == "zoom_blur":
            out = _zoom_blur(arr[i], severity)
        else:
            with _global_numpy_seeded(entropies[i]):
                out = compat.corrupt(arr[i], severity, name)
            if name == "elastic_transform" and li is not None:
                li = _elastic_label(li, severity, entropies[i])
        outs.append(np.asarray(out, dtype=np.uint8))
        new_labels.append(li)
    result = torch.from_numpy(np.stack(outs)).permute(0, 3, 1, 2).to(device=images.device, dtype=images.dtype) / 255.0
    if lab is not None:
        labels = torch.from_numpy(np.stack(new_labels)).to(device=labels.device, dtype=labels.dtype)
    return result.contiguous(), labels
