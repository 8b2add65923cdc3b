"""The 24 basis perturbations per sample on uint8 numpy images, with OpenCV (dataloader workers).

:func:`apply` ``(image, labels, name, magnitude) -> (image', labels')`` is the CPU counterpart of
the batched torch kernels :func:`repro.perturb.functional.apply` for one H×W×3 (or H×W
greyscale) uint8 image and its label map(s).  Both read the SAME parameter definitions from
:mod:`repro.perturb.functional` (:data:`~repro.perturb.functional.CHANNEL_TARGETS`,
:func:`~repro.perturb.functional.warp_matrix`, :func:`~repro.perturb.functional.blur_kernel_size`,
:func:`~repro.perturb.functional.blur_sigma`, :func:`~repro.perturb.functional.noise_sigma`); only
the arithmetic differs: OpenCV's uint8 SIMD kernels, one image at a time, one thread.  Use it in
dataloader workers; use the batched torch path on a GPU and for evaluation suites.

How each group is computed (``m`` the magnitude in [0, 1], values in uint8 levels 0..255):

* ``R± G± B±``: ``c' = round((1-m)·c + m·255·t)`` (t = 1 or 0) as a 256-entry ``cv2.LUT`` on that
  channel.
* ``V±``: ``c' = round(c·V'/V)`` with ``V = max(R, G, B)``, ``V' = (1-m)·V + m·255·t`` (t = 1, or
  10/255 for ``V-``); black pixels (V = 0) become grey ``V'``.  ``V'/V`` is a 256-entry float LUT
  on V, applied per channel by ``cv2.multiply``.
* ``S-``: ``c' = round((1-m)·c + m·V)`` by ``cv2.addWeighted`` (closed form of S' = (1-m)·S).
* ``S+``: ``c' = round((1-m)·c + m·round(T_c))`` with the fully saturated colour of the same hue
  and value ``T_c = V·(c - mn)/d`` (``mn = min(R, G, B)``, ``d = V - mn``; closed form of
  S' = (1-m)·S + m); grey pixels (d = 0) have hue 0 as in OpenCV: ``T = (V, 0, 0)`` (red).
* ``H±``: OpenCV's 8-bit HSV round trip (H 0..180 ≙ 0..360°), ``H' = (1-m)·H + 180·m·t`` by
  ``cv2.LUT``.  OpenCV rounds hues in (359°, 360°) (red with B > G) to 0; those are set to 180
  (≙ 360°, where the torch path has them) before the LUT.  The 8-bit H (2° steps) and OpenCV's
  8-bit back conversion make these the least exact ones (see the tolerances below).
* geometric: ``cv2.warpAffine`` with the output→source matrix of
  :func:`~repro.perturb.functional.warp_matrix` (warp and zoom composed, as the torch path)
  and ``WARP_INVERSE_MAP``; images bilinear, label maps nearest; ``border="zoom"`` replicates the
  edge (the map stays inside the image up to half a pixel), ``"pad"`` fills images with 0 and
  labels with 255.
* ``gaussian_blur``: ``cv2.sepFilter2D`` with the torch path's 1-D kernel
  (:func:`~repro.perturb.functional.gaussian_kernel1d`: the same odd ``k`` and σ in pixels),
  ``BORDER_REFLECT_101`` (repeated for kernels larger than the image); k = 1 is the identity.
* ``gaussian_noise``: ``c' = clip(c + round(σ·z), 0, 255)`` (= ``round(clip(c + σ·z))`` for
  integer c), ``σ = 50·m`` levels, z independent per pixel and channel from a
  ``numpy.random.Generator``: ``z = Q[u]`` with ``u`` uniform on 0..65535 and ``Q`` the standard
  normal's quantiles at ``(u + 1/2)/65536``, rescaled to unit variance (an inverse-CDF draw on a
  2⁻¹⁶ grid: mean 0, σ exactly 1, tails cut at 4.3σ, P = 2·10⁻⁵).  Same distribution as the
  torch path, not the same draws.

Agreement with the torch path (uint8 output of the torch path = ``round(255·apply(img/255))``),
measured on smooth and on uniformly random uint8 images at m ∈ {0.1, 0.35, 0.7, 1} (odd sizes
too) and tested in ``tests/unit/test_perturb_cpu.py`` against :data:`TOLERANCE`: magnitude 0
returns the input bit-for-bit; RGB, ``S±``, ``V±`` and blur within 1 level; ``H±`` within 8
levels (mean 0.6); geometric images within 1 level on smooth images (4 along a padded border) and 7 at the sharp
edges of random ones (OpenCV's bilinear weights are on a 1/32-pixel grid), label maps identical
except at exact rounding ties of the source coordinate (x.5).

Greyscale (H×W) images are treated as R = G = B (as the training path does): the perturbation is
applied to the 3-channel image and the output is the channel mean, rounded.
"""

from __future__ import annotations

import functools
import threading
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from repro.perturb import functional as F

__all__ = ["apply", "TOLERANCE", "CHANNEL_ORDERS"]

CHANNEL_ORDERS = ("rgb", "bgr")

#: Agreement with the torch path (uint8 levels), per type, as tested: ``max`` = largest absolute
#: difference of any pixel, ``mean`` = mean absolute difference, ``label`` = largest fraction of
#: label pixels that differ (geometric only; they differ only at exact rounding ties of the source
#: coordinate, x.5, which torch rounds half to even and OpenCV half up: a few % of the pixels at
#: magnitudes whose map hits such a lattice, e.g. rotate± at m = 1; none elsewhere).  Noise is compared
#: in distribution (mean/std).
TOLERANCE = {
    **{n: dict(max=1, mean=0.1) for n in F.RGB_NAMES},
    "S+": dict(max=1, mean=0.1), "S-": dict(max=1, mean=0.1), "V+": dict(max=1, mean=0.1), "V-": dict(max=1, mean=0.1),
    "H+": dict(max=10, mean=1.0), "H-": dict(max=10, mean=1.0),
    **{n: dict(max=8, mean=1.2, label=0.05) for n in F.GEOMETRIC},
    "gaussian_blur": dict(max=1, mean=0.05),
}

Labels = Union[None, np.ndarray, Sequence[np.ndarray]]

# 8-bit HSV conversions (H 0..180 ≙ 0..360°, S and V 0..255)
_TO_HSV = {"rgb": cv2.COLOR_RGB2HSV, "bgr": cv2.COLOR_BGR2HSV}
_FROM_HSV = {"rgb": cv2.COLOR_HSV2RGB, "bgr": cv2.COLOR_HSV2BGR}
_LEVELS = np.arange(256, dtype=np.float64)
_NORMAL_Q16: Optional[np.ndarray] = None
_NAME_SET = frozenset(F.NAMES)


# --------------------------------------------------------------------------- checks
def _check(image, labels, name, magnitude, rng, border, channel_order):
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (H×W×3 or H×W uint8), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must have dtype uint8 (0..255), got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"image must have shape H×W×3 or H×W (greyscale), got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must not be empty, got shape {image.shape}")
    if not isinstance(name, str) or name not in _NAME_SET:
        F.check_name(name)  # raises with the list of names
    if isinstance(magnitude, float) and 0.0 <= magnitude <= 1.0:  # the common case, without torch
        m = magnitude
    else:
        m = F.check_magnitude(magnitude)
        if m.dim() != 0:
            raise ValueError("magnitude must be one float in [0, 1] per image here (the per-sample path)")
    if border not in F.BORDERS:
        raise ValueError(f"border must be one of {F.BORDERS}, got {border!r}")
    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}")
    if rng is not None and not isinstance(rng, np.random.Generator) and (
            isinstance(rng, bool) or not isinstance(rng, (int, np.integer))):
        raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")
    maps = [] if labels is None else ([labels] if isinstance(labels, np.ndarray) else labels)
    if not isinstance(maps, (list, tuple)):
        raise TypeError(f"labels must be None, an H×W integer numpy array or a list of them, got {type(labels).__name__}")
    for i, lab in enumerate(maps):
        where = "labels" if isinstance(labels, np.ndarray) else f"labels[{i}]"
        if not isinstance(lab, np.ndarray):
            raise TypeError(f"{where} must be an H×W integer numpy array, got {type(lab).__name__}")
        if not (np.issubdtype(lab.dtype, np.integer)):
            raise TypeError(f"{where} must have an integer dtype (class ids, 255 = ignore), got {lab.dtype}")
        if lab.shape != image.shape[:2]:
            raise ValueError(f"{where} has shape {lab.shape}, expected the image's H×W = {image.shape[:2]}")
    return float(m), maps


# --------------------------------------------------------------------------- entry point
def apply(image: np.ndarray, labels: Labels, name: str, magnitude: float, *,
          rng: Union[np.random.Generator, int, None] = None, border: str = "zoom",
          channel_order: str = "rgb") -> Tuple[np.ndarray, Labels]:
    """Apply basis perturbation ``name`` at ``magnitude`` ∈ [0, 1] to one uint8 image (and labels).

    Parameters
    ----------
    image : H×W×3 uint8 (``channel_order`` RGB or BGR, e.g. as MMSegmentation loads it) or H×W
        greyscale uint8.
    labels : ``None``, one H×W integer label map (255 = ignore) or a list of them; geometric
        perturbations move them by nearest neighbour (padding 255), the others return them as is.
    name : one of :data:`repro.perturb.NAMES`; ``magnitude``: dimensionless, 0 = identity.
    rng : ``numpy.random.Generator`` (or an int seed) for ``gaussian_noise``; ``None`` → seed 0,
        so that a call without one is reproducible.
    border : ``"zoom"`` (the paper) or ``"pad"``.

    Returns ``(image', labels')``: a new uint8 image of the input's shape, and the labels in the
    structure they were given (new arrays of the same dtype for geometric types, the input
    objects otherwise).
    """
    m, maps = _check(image, labels, name, magnitude, rng, border, channel_order)
    geometric = name in F.GEOMETRIC
    if m == 0.0:  # the identity, bit for bit
        if geometric and maps:
            new = [lab.copy() for lab in maps]
            return image.copy(), (new[0] if isinstance(labels, np.ndarray) else type(labels)(new))
        return image.copy(), labels
    grey = image.ndim == 2
    if geometric:
        mat = np.array(F.warp_matrix(name, m, image.shape[0], image.shape[1], border=border), dtype=np.float64)
        out = _warp(image, mat, border)  # greyscale: the mean of three equal channels = the channel
        new = [_warp_labels(lab, mat, border) for lab in maps]
        return out, (labels if not maps else (new[0] if isinstance(labels, np.ndarray) else type(labels)(new)))
    if name == "gaussian_blur":
        k = F.blur_kernel_size(m)
        if k == 1:
            return image.copy(), labels
        kern = _blur_kernel(k)
        return cv2.sepFilter2D(image, -1, kern, kern, borderType=cv2.BORDER_REFLECT_101), labels
    x = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if grey else np.ascontiguousarray(image)
    if name == "gaussian_noise":
        g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else int(rng))
        out = _noise(x, F.noise_sigma(m), g)
    elif name in F.RGB_NAMES:
        out = _rgb(x, name, m, channel_order)
    else:
        out = _hsv(x, name, m, channel_order)
    if grey:  # R = G = B in, their mean out: round(sum/3) (a sum/3 never ends in .5)
        out = cv2.transform(out, np.full((1, 3), 1.0 / 3.0)).reshape(image.shape)  # rounded by OpenCV
    return out, labels


# --------------------------------------------------------------------------- scratch buffers
_SCRATCH = threading.local()


def _buf(key: str, shape, dtype=np.uint8) -> np.ndarray:
    """A per-thread scratch array, reused between calls of the same image size (fresh large
    temporaries cost page faults that dominate these sub-millisecond kernels)."""
    store = _SCRATCH.__dict__
    a = store.get(key)
    if a is None or a.shape != tuple(shape) or a.dtype != dtype:
        a = np.empty(shape, dtype)
        store[key] = a
    return a


# --------------------------------------------------------------------------- channel ops
def _planes(x, channels=(0, 1, 2), key="p"):
    """The given channels of an H×W×3 image as contiguous H×W scratch planes (one
    ``cv2.mixChannels``; ``cv2.split`` costs several times more)."""
    out = [_buf(f"{key}{i}", x.shape[:2]) for i in range(len(channels))]
    cv2.mixChannels([x], out, [v for i, c in enumerate(channels) for v in (c, i)])
    return out


def _rgb(x, name, m, order):
    _, c, t = F.CHANNEL_TARGETS[name]
    if order == "bgr":
        c = 2 - c
    lut = np.rint((1.0 - m) * _LEVELS + m * 255.0 * t).astype(np.uint8)
    (plane,) = _planes(x, (c,))
    out = x.copy()
    cv2.mixChannels([cv2.LUT(plane, lut, dst=_buf("lut", plane.shape))], [out], [0, c])
    return out


def _max_min(x, need_min: bool):
    a, b, c = _planes(x)
    hw = a.shape
    v = cv2.max(cv2.max(a, b, dst=_buf("v", hw)), c, dst=_buf("v", hw))
    if not need_min:
        return v, None
    return v, cv2.min(cv2.min(a, b, dst=_buf("mn", hw)), c, dst=_buf("mn", hw))


def _gray3(plane, key):
    """``plane`` (H×W) repeated into a 3-channel scratch image."""
    return cv2.merge((plane, plane, plane), dst=_buf(key, plane.shape + (3,), plane.dtype))


def _hsv(x, name, m, order):
    _, ch, t = F.CHANNEL_TARGETS[name]
    hw = x.shape[:2]
    if ch == 2:  # V±: c' = c·V'/V, V' = (1-m)·V + m·255·t; black (V = 0) -> grey V'
        planes = _planes(x)
        v = cv2.max(cv2.max(planes[0], planes[1], dst=_buf("v", hw)), planes[2], dst=_buf("v", hw))
        vp = (1.0 - m) * _LEVELS + m * 255.0 * t
        ratio = np.zeros(256, np.float32)
        ratio[1:] = vp[1:] / _LEVELS[1:]
        r = cv2.LUT(v, ratio, dst=_buf("f1", hw, np.float32))
        out = cv2.merge([cv2.multiply(p, r, dtype=cv2.CV_8U, dst=_buf(f"o{i}", hw)) for i, p in enumerate(planes)])
        if cv2.countNonZero(v) < v.size:
            out.reshape(-1, 3)[np.flatnonzero(v.reshape(-1) == 0)] = np.uint8(min(255, round(vp[0])))
        return out
    if ch == 1 and t == 0.0:  # S-: c' = (1-m)·c + m·V
        v, _ = _max_min(x, False)
        return cv2.addWeighted(x, 1.0 - m, _gray3(v, "u3"), m, 0.0)
    if ch == 1:  # S+: c' = (1-m)·c + m·T_c with the fully saturated colour T_c = V·(c - mn)/d (S' = 1, same H, V)
        planes = _planes(x)
        v = cv2.max(cv2.max(planes[0], planes[1], dst=_buf("v", hw)), planes[2], dst=_buf("v", hw))
        mn = cv2.min(cv2.min(planes[0], planes[1], dst=_buf("mn", hw)), planes[2], dst=_buf("mn", hw))
        d = cv2.subtract(v, mn, dst=_buf("d", hw))
        ratio = cv2.divide(v, cv2.max(d, 1, dst=_buf("d1", hw)), dtype=cv2.CV_32F,
                           dst=_buf("f1", hw, np.float32))  # V/d (d = 0: grey, c - mn = 0 anyway)
        # grey pixels (d = 0) have hue 0 (red) as in OpenCV: T_R = V, T_G = T_B = 0
        grey_v = cv2.bitwise_and(v, cv2.compare(d, 0, cv2.CMP_EQ), dst=_buf("gv", hw))
        red = 0 if order == "rgb" else 2
        outs = []
        for i, p in enumerate(planes):
            q = cv2.subtract(p, mn, dst=_buf("q", hw))
            tc = cv2.multiply(q, ratio, dtype=cv2.CV_8U, dst=_buf("tc", hw))  # T_c, rounded
            if i == red:
                tc = cv2.max(tc, grey_v, dst=tc)
            outs.append(cv2.addWeighted(p, 1.0 - m, tc, m, 0.0, dst=_buf(f"o{i}", hw)))
        return cv2.merge(outs)
    # H±: OpenCV's 8-bit HSV round trip (H 0..180 ≙ 0..360°), one LUT on H.  OpenCV stores hues in
    # (359°, 360°) (red with B > G) as 0; they are set to 180 (≙ 360°), where the torch path has them
    hsv = cv2.cvtColor(x, _TO_HSV[order], dst=_buf("u3", x.shape))
    (h,) = _planes(hsv, (0,), key="h")
    zeros = h.size - cv2.countNonZero(h)
    if zeros:  # seam pixels: H = 0 and B > G (grey pixels, B = G, keep 0)
        gi, bi = (1, 2) if order == "rgb" else (1, 0)
        if zeros <= h.size // 16:  # few candidates: look at them only
            idx = np.flatnonzero(h.reshape(-1) == 0)
            px = x.reshape(-1, 3)[idx]
            h.reshape(-1)[idx[px[:, bi] > px[:, gi]]] = 180
        else:
            gg, bb = _planes(x, (gi, bi))
            seam = cv2.bitwise_and(cv2.compare(h, 0, cv2.CMP_EQ), cv2.compare(bb, gg, cv2.CMP_GT))
            cv2.bitwise_or(h, 180, mask=seam, dst=h)  # 0 | 180 = 180 where seam
    lut = np.rint((1.0 - m) * np.minimum(_LEVELS, 180.0) + 180.0 * m * t).astype(np.uint8)
    cv2.mixChannels([cv2.LUT(h, lut, dst=_buf("lut", hw))], [hsv], [0, 0])
    return cv2.cvtColor(hsv, _FROM_HSV[order])


# --------------------------------------------------------------------------- blur
@functools.lru_cache(maxsize=None)
def _blur_kernel(k: int) -> np.ndarray:
    """The 1-D Gaussian of the torch path (:func:`repro.perturb.functional.gaussian_kernel1d`), float64."""
    import torch

    kern = F.gaussian_kernel1d(k, dtype=torch.float64).numpy().reshape(-1, 1)
    kern.setflags(write=False)
    return kern


# --------------------------------------------------------------------------- noise
def _normal_q16() -> np.ndarray:
    """Standard-normal quantiles at (u + 1/2)/65536, u = 0..65535, scaled to unit variance (float64)."""
    global _NORMAL_Q16
    if _NORMAL_Q16 is None:
        import torch

        p = (torch.arange(65536, dtype=torch.float64) + 0.5) / 65536.0
        q = torch.special.ndtri(p).numpy()
        q = q - q.mean()
        _NORMAL_Q16 = q / np.sqrt(np.mean(q * q))
    return _NORMAL_Q16


def _noise(x, sigma, g):
    """``clip(c + round(σ·z), 0, 255)`` with z from the 16-bit inverse-CDF table."""
    lut = np.rint(_normal_q16() * sigma).astype(np.int16)
    u = g.integers(0, 65536, size=x.shape, dtype=np.uint16)
    return cv2.add(x, lut.take(u), dtype=cv2.CV_8U)


# --------------------------------------------------------------------------- geometric
def _warp(img, mat, border):
    h, w = img.shape[:2]
    mode = cv2.BORDER_REPLICATE if border == "zoom" else cv2.BORDER_CONSTANT
    return cv2.warpAffine(img, mat, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=mode,
                          borderValue=(0, 0, 0, 0))


def _warp_labels(lab, mat, border):
    h, w = lab.shape
    if lab.dtype == np.uint8:
        work = lab
    else:
        lo, hi = (int(lab.min()), int(lab.max())) if lab.size else (0, 0)
        if 0 <= lo and hi <= 255:
            work = lab.astype(np.uint8)
        elif -(2 ** 24) <= lo and hi <= 2 ** 24:
            work = lab.astype(np.float32)  # exact for these integers; nearest neighbour copies values
        else:
            raise ValueError(f"labels hold values outside ±2**24 ({lo}..{hi}); expected class ids")
    mode = cv2.BORDER_REPLICATE if border == "zoom" else cv2.BORDER_CONSTANT
    out = cv2.warpAffine(np.ascontiguousarray(work), mat, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                         borderMode=mode, borderValue=(F.IGNORE_INDEX,) * 4)
    return out if out.dtype == lab.dtype else out.astype(lab.dtype)
