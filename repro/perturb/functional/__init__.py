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

from typing import Optional, Tuple

import torch

from repro.data import IGNORE_INDEX
from repro.perturb.functional._blur_noise import _blur, _noise  # noqa: F401
from repro.perturb.functional._color import _HSV_KERNELS, _rgb_kernel  # noqa: F401
from repro.perturb.functional._common import (  # noqa: F401
    BORDERS, CHANNEL_TARGETS, CHUNK_ELEMENTS, GEOMETRIC, HSV_NAMES, Magnitude, MAX_BLUR_KERNEL, MAX_NOISE_SIGMA,
    MAX_ROTATE_DEG, MAX_SHEAR, MAX_TRANSLATE, NAMES, OTHER, PHOTOMETRIC, POINTWISE_CHUNK_ELEMENTS, RGB_NAMES, V_MIN,
    _check_inputs, _chunked, blur_kernel_size, blur_magnitude, blur_sigma, channel_target, check_magnitude,
    check_name, gaussian_kernel1d, noise_magnitude, noise_sigma,
)
from repro.perturb.functional._geometry import _affine, affine_parameters, warp_matrix  # noqa: F401

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


