"""The four policy baselines of Tables 1–3 (SPEC.md §5) with label-aware geometry.

AugMix (Hendrycks et al. 2020), AutoAugment with the ImageNet policy (Cubuk et al. 2019),
RandAugment (Cubuk et al. 2020) and TrivialAugment Wide (Müller & Hutter 2021). torchvision
and albumentations refuse label maps for these policies; here every policy is split into

1. **sampling** (:func:`sample_policy`): the ops and magnitudes are drawn from an explicit
   ``torch.Generator`` into a plain-data plan, and
2. **application** (:func:`apply_plan` / :func:`apply_op`): photometric ops change the image
   only; geometric ops (ShearX/Y, TranslateX/Y, Rotate) warp the image (bilinear, border
   ``fill``) and the label (nearest neighbour, border ``ignore_index``) with the *same* affine
   map, so they stay aligned.

Op definitions and magnitude ranges follow the published policies as torchvision implements
them (``torchvision.transforms.autoaugment``, read for reference). A magnitude bin b of n maps
linearly onto the op's range, ``lo + (hi - lo)·b/(n - 1)``; signed ops are negated with
probability 1/2. With image width W and height H (pixels):

=============  =====================  ===================  ===================  ==================
op             AutoAugment/RandAug.   TrivialAugment Wide  AugMix               unit
=============  =====================  ===================  ===================  ==================
ShearX/Y       0 … 0.3 (signed)       0 … 0.99             0 … 0.3              shear factor
TranslateX/Y   0 … 150/331·W (or H)   0 … 32               0 … W/3 (or H/3)     pixels (int)
Rotate         0 … 30 (signed)        0 … 135              0 … 30               degrees
Brightness,    0 … 0.9 (signed)       0 … 0.99             0 … 0.9              enhance factor
Color, Contr.,                                                                  1 + magnitude
Sharpness
Posterize      8 … 4 bits             8 … 2 bits           4 … 0 bits           bits kept
Solarize       255 … 0                255 … 0              255 … 0              threshold (uint8)
AutoContrast,  –                      –                    –
Equalize,
Invert
=============  =====================  ===================  ===================  ==================

Shears act about the top-left corner (as the original PIL implementation), translations by
whole pixels, rotations about the image centre. Enhance ops use torchvision's symmetric
convention ``factor = 1 ± m`` (the TensorFlow original maps level 0 to factor 0.1 instead).

Policies (defaults are the published / torchvision defaults):

* ``"autoaugment"``: one of the 25 ImageNet sub-policies uniformly, each of its two ops applied
  with its probability, magnitude bin of 10.
* ``"randaugment"``: ``num_ops = 2`` ops uniformly from 14 (incl. Identity), magnitude bin
  ``magnitude = 9`` of ``num_magnitude_bins = 31``.
* ``"trivialaugment"``: one op uniformly from 14, magnitude bin uniform of 31.
* ``"augmix"``: ``width = 3`` chains of depth ``depth`` (-1: uniform 1..3) ops, magnitude bin
  uniform below ``severity = 3`` of 10; chain weights w ~ Dirichlet(α,…,α) and mixing weight
  m ~ Beta(α, α), α = 1; output ``m·x + (1-m)·Σ_i w_i·chain_i(x)`` (computed in float, rounded
  to uint8). **Decision:** AugMix's chains are averaged pixel-wise, so a geometric op in one
  chain would produce a ghost image that no single label map describes; the chains therefore
  use **photometric ops only** (as the authors' segmentation code did): AutoContrast,
  Equalize, Posterize, Solarize plus, with ``augmix_all_ops=True`` (default, torchvision's
  default), Brightness, Color, Contrast, Sharpness. ``augmix_all_ops=False`` leaves the 4 ops
  of the AugMix paper's ImageNet-C-disjoint list that are photometric. The label is unchanged.
  The Jensen-Shannon consistency loss of AugMix is not part of this baseline.

Images: a single sample as MMSegmentation pipelines carry it (numpy H×W×3 uint8, with
``channel_order="bgr"`` for mmseg's cv2-loaded images) or a torch 3×H×W uint8 tensor; labels
H×W integer arrays/tensors (any int dtype, kept) or ``None``. :func:`apply_policy_batch` loops
over a float N×3×H×W batch (quantised to uint8 for the ops).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from repro.data import IGNORE_INDEX
from repro.base.validation import check_int

__all__ = [
    "POLICIES",
    "GEOMETRIC_OPS",
    "PHOTOMETRIC_OPS",
    "OPS",
    "AUTOAUGMENT_IMAGENET",
    "AugMixPlan",
    "op_ranges",
    "magnitude_of_bin",
    "sample_policy",
    "apply_op",
    "apply_plan",
    "apply_policy",
    "apply_policy_batch",
]

POLICIES = ("augmix", "autoaugment", "randaugment", "trivialaugment")
GEOMETRIC_OPS = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")
PHOTOMETRIC_OPS = ("Identity", "Brightness", "Color", "Contrast", "Sharpness", "Posterize", "Solarize",
                   "AutoContrast", "Equalize", "Invert")
OPS = GEOMETRIC_OPS + PHOTOMETRIC_OPS

#: AutoAugment's ImageNet policy (Cubuk et al. 2019, appendix): 25 sub-policies of two
#: (op, probability, magnitude bin of 10 or None) each.
AUTOAUGMENT_IMAGENET = (
    (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
    (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, None)),
    (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
    (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
    (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
    (("Equalize", 0.0, None), ("Equalize", 0.8, None)),
    (("Invert", 0.6, None), ("Equalize", 1.0, None)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
    (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, None)),
    (("Color", 0.4, 0), ("Equalize", 0.6, None)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Invert", 0.6, None), ("Equalize", 1.0, None)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
)

_ENHANCE = ("Brightness", "Color", "Contrast", "Sharpness")
_NO_MAGNITUDE = ("Identity", "AutoContrast", "Equalize", "Invert")
# ops each policy draws from (AutoAugment draws from its sub-policies instead)
_RAND_OPS = ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
             "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize")
_AUGMIX_OPS = ("AutoContrast", "Equalize", "Posterize", "Solarize")
_AUGMIX_ALL_OPS = _AUGMIX_OPS + _ENHANCE


def op_ranges(policy: str, image_size: tuple[int, int]) -> dict[str, tuple[float, float, bool] | None]:
    """Magnitude range of every op of ``policy`` for an image of ``image_size = (H, W)``:
    ``{op: (value at bin 0, value at the last bin, signed)}``, ``None`` for ops without a
    magnitude. Units as in the module docstring table."""
    _check_policy(policy)
    h, w = image_size
    if policy == "trivialaugment":
        r = {"ShearX": (0.0, 0.99, True), "ShearY": (0.0, 0.99, True), "TranslateX": (0.0, 32.0, True),
             "TranslateY": (0.0, 32.0, True), "Rotate": (0.0, 135.0, True), "Posterize": (8.0, 2.0, False)}
        r.update({op: (0.0, 0.99, True) for op in _ENHANCE})
    else:
        tx, ty = (w / 3.0, h / 3.0) if policy == "augmix" else (150.0 / 331.0 * w, 150.0 / 331.0 * h)
        r = {"ShearX": (0.0, 0.3, True), "ShearY": (0.0, 0.3, True), "TranslateX": (0.0, tx, True),
             "TranslateY": (0.0, ty, True), "Rotate": (0.0, 30.0, True),
             "Posterize": ((4.0, 0.0, False) if policy == "augmix" else (8.0, 4.0, False))}
        r.update({op: (0.0, 0.9, True) for op in _ENHANCE})
    r["Solarize"] = (255.0, 0.0, False)
    r.update({op: None for op in _NO_MAGNITUDE})
    return r


def magnitude_of_bin(policy: str, op: str, bin_index: int, num_bins: int, image_size: tuple[int, int]) -> float:
    """Unsigned magnitude of ``op`` at bin ``bin_index`` of ``num_bins`` (0 for ops without one).
    Posterize bins are rounded to whole bits."""
    rng = op_ranges(policy, image_size).get(op, "missing")
    if rng == "missing":
        raise ValueError(f"op {op!r} is not part of policy {policy!r}")
    if rng is None:
        return 0.0
    lo, hi, _ = rng
    value = lo + (hi - lo) * bin_index / (num_bins - 1)
    if op == "Posterize":
        value = float(round(value))  # bits: 8 - round(b / ((n-1)/4)) etc.
    return value


@dataclass
class AugMixPlan:
    """A sampled AugMix: ``mix = m·x + (1-m)·Σ_i weights[i]·chain_i(x)``; each chain is a list
    of (op, signed magnitude)."""

    m: float
    weights: list[float]
    chains: list[list[tuple[str, float]]] = field(default_factory=list)


# --------------------------------------------------------------------------- checks


def _check_policy(policy) -> str:
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {POLICIES}")
    return policy


def _check_generator(generator) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    return generator


def _randint(high: int, g: torch.Generator) -> int:
    return int(torch.randint(high, (1,), generator=g, device=g.device).item())


def _rand(g: torch.Generator) -> float:
    return float(torch.rand((1,), generator=g, device=g.device).item())


# --------------------------------------------------------------------------- sampling


def sample_policy(policy: str, image_size: tuple[int, int], *, generator: torch.Generator,
                  num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31,
                  augmix_severity: int = 3, augmix_width: int = 3, augmix_depth: int = -1,
                  augmix_alpha: float = 1.0, augmix_all_ops: bool = True):
    """Draw one application of ``policy`` for an image of size ``(H, W)`` from ``generator``.

    Returns a list of ``(op, signed magnitude)`` steps, or an :class:`AugMixPlan` for AugMix.
    ``num_ops``, ``magnitude``, ``num_magnitude_bins`` are RandAugment's N, M and bin count
    (``num_magnitude_bins`` is also TrivialAugment's); ``augmix_*`` are AugMix's severity
    (magnitude bins 0..severity-1 of 10), width, depth (-1 = uniform 1..3), Dirichlet/Beta α and
    op set (see module docstring).
    """
    _check_policy(policy)
    g = _check_generator(generator)
    h, w = _check_size(image_size)
    size = (h, w)

    def signed(op: str, value: float) -> float:
        rng = op_ranges(policy, size)[op]
        if rng is not None and rng[2] and _randint(2, g):
            return -value
        return value

    if policy == "autoaugment":
        sub = AUTOAUGMENT_IMAGENET[_randint(len(AUTOAUGMENT_IMAGENET), g)]
        steps = []
        for op, p, b in sub:
            apply_it = _rand(g) <= p
            value = magnitude_of_bin(policy, op, b, 10, size) if b is not None else 0.0
            value = signed(op, value)
            if apply_it:
                steps.append((op, value))
        return steps
    if policy == "randaugment":
        check_int(num_ops, "num_ops", 0)
        if not isinstance(num_magnitude_bins, int) or num_magnitude_bins < 2:
            raise ValueError(f"num_magnitude_bins must be an int >= 2, got {num_magnitude_bins!r}")
        if not isinstance(magnitude, int) or not 0 <= magnitude < num_magnitude_bins:
            raise ValueError(f"magnitude must be an int bin in 0..{num_magnitude_bins - 1}, got {magnitude!r}")
        steps = []
        for _ in range(num_ops):
            op = _RAND_OPS[_randint(len(_RAND_OPS), g)]
            steps.append((op, signed(op, magnitude_of_bin(policy, op, magnitude, num_magnitude_bins, size))))
        return steps
    if policy == "trivialaugment":
        if not isinstance(num_magnitude_bins, int) or num_magnitude_bins < 2:
            raise ValueError(f"num_magnitude_bins must be an int >= 2, got {num_magnitude_bins!r}")
        op = _RAND_OPS[_randint(len(_RAND_OPS), g)]
        b = _randint(num_magnitude_bins, g)
        return [(op, signed(op, magnitude_of_bin(policy, op, b, num_magnitude_bins, size)))]
    # augmix
    if not isinstance(augmix_severity, int) or not 1 <= augmix_severity <= 10:
        raise ValueError(f"augmix_severity must be an int in 1..10, got {augmix_severity!r}")
    if not isinstance(augmix_width, int) or augmix_width < 1:
        raise ValueError(f"augmix_width must be a positive int, got {augmix_width!r}")
    if not isinstance(augmix_depth, int) or augmix_depth == 0 or augmix_depth < -1:
        raise ValueError(f"augmix_depth must be -1 (random 1..3) or a positive int, got {augmix_depth!r}")
    if not (isinstance(augmix_alpha, (int, float)) and augmix_alpha > 0 and math.isfinite(augmix_alpha)):
        raise ValueError(f"augmix_alpha must be a positive number, got {augmix_alpha!r}")
    ops = _AUGMIX_ALL_OPS if augmix_all_ops else _AUGMIX_OPS
    np_rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=g, device=g.device).item()))
    m = float(np_rng.beta(augmix_alpha, augmix_alpha))
    weights = [float(v) for v in np_rng.dirichlet([augmix_alpha] * augmix_width)]
    chains = []
    for _ in range(augmix_width):
        depth = augmix_depth if augmix_depth > 0 else 1 + _randint(3, g)
        chain = []
        for _ in range(depth):
            op = ops[_randint(len(ops), g)]
            b = _randint(augmix_severity, g)
            chain.append((op, signed(op, magnitude_of_bin(policy, op, b, 10, size))))
        chains.append(chain)
    return AugMixPlan(m=m, weights=weights, chains=chains)


# --------------------------------------------------------------------------- application


def _check_size(image_size) -> tuple[int, int]:
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(isinstance(s, (int, np.integer)) and s > 0 for s in image_size)):
        raise ValueError(f"image_size must be (H, W) positive ints, got {image_size!r}")
    return int(image_size[0]), int(image_size[1])


def apply_op(image: torch.Tensor, label: torch.Tensor | None, op: str, magnitude: float, *,
             fill: float = 0, ignore_index: int = IGNORE_INDEX):
    """Apply one op with a signed ``magnitude`` (units: module docstring table).

    Args:
        image: 3×H×W (or C×H×W) uint8 RGB tensor.
        label: H×W integer tensor or ``None``; geometric ops warp it with the image's affine
            map (nearest, ``ignore_index`` where the map leaves the image); photometric ops
            return it unchanged (the same tensor).
        op: one of :data:`OPS`.
        fill: image value (0..255) outside the warped input.

    Returns:
        ``(image, label)``.
    """
    import torchvision.transforms.v2.functional as TF
    from torchvision.transforms import InterpolationMode

    if op not in OPS:
        raise ValueError(f"unknown op {op!r}; expected one of {OPS}")
    if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8 or image.ndim != 3:
        raise TypeError("image must be a C×H×W uint8 torch.Tensor")
    magnitude = float(magnitude)
    if op == "Rotate":  # counter-clockwise by `magnitude` degrees about the image centre
        out = TF.rotate(image, magnitude, interpolation=InterpolationMode.BILINEAR, fill=[float(fill)] * image.shape[0])
        if label is not None:
            label = TF.rotate(label.unsqueeze(0), magnitude, interpolation=InterpolationMode.NEAREST,
                              fill=float(ignore_index)).squeeze(0)
        return out, label
    if op in GEOMETRIC_OPS:
        if op == "ShearX":
            kwargs = dict(angle=0.0, translate=[0, 0], scale=1.0, shear=[math.degrees(math.atan(magnitude)), 0.0],
                          center=[0, 0])
        elif op == "ShearY":
            kwargs = dict(angle=0.0, translate=[0, 0], scale=1.0, shear=[0.0, math.degrees(math.atan(magnitude))],
                          center=[0, 0])
        elif op == "TranslateX":
            kwargs = dict(angle=0.0, translate=[int(magnitude), 0], scale=1.0, shear=[0.0, 0.0], center=None)
        else:
            kwargs = dict(angle=0.0, translate=[0, int(magnitude)], scale=1.0, shear=[0.0, 0.0], center=None)
        out = TF.affine(image, interpolation=InterpolationMode.BILINEAR, fill=[float(fill)] * image.shape[0], **kwargs)
        if label is not None:
            label = TF.affine(label.unsqueeze(0), interpolation=InterpolationMode.NEAREST,
                              fill=float(ignore_index), **kwargs).squeeze(0)
        return out, label
    if op == "Identity":
        return image, label
    if op == "Brightness":
        return TF.adjust_brightness(image, 1.0 + magnitude), label
    if op == "Color":
        return TF.adjust_saturation(image, 1.0 + magnitude), label
    if op == "Contrast":
        return TF.adjust_contrast(image, 1.0 + magnitude), label
    if op == "Sharpness":
        return TF.adjust_sharpness(image, 1.0 + magnitude), label
    if op == "Posterize":
        return TF.posterize(image, int(magnitude)), label
    if op == "Solarize":
        return TF.solarize(image, magnitude), label
    if op == "AutoContrast":
        return TF.autocontrast(image), label
    if op == "Equalize":
        return TF.equalize(image), label
    return TF.invert(image), label  # Invert


def apply_plan(image: torch.Tensor, label: torch.Tensor | None, plan, *, fill: float = 0,
               ignore_index: int = IGNORE_INDEX):
    """Apply a plan from :func:`sample_policy` to a 3×H×W uint8 image and its H×W label."""
    if isinstance(plan, AugMixPlan):
        x = image.float()
        mix = torch.zeros_like(x)
        for wgt, chain in zip(plan.weights, plan.chains):
            aug = image
            for op, mag in chain:
                if op in GEOMETRIC_OPS:
                    raise ValueError(f"AugMix chains hold photometric ops only, got {op!r}")
                aug, _ = apply_op(aug, None, op, mag, fill=fill)
            mix += wgt * aug.float()
        out = plan.m * x + (1.0 - plan.m) * mix
        return out.round().clamp(0, 255).to(torch.uint8), label
    for op, mag in plan:
        image, label = apply_op(image, label, op, mag, fill=fill, ignore_index=ignore_index)
    return image, label


def apply_policy(image, label, policy: str, *, generator: torch.Generator, fill: float = 0,
                 ignore_index: int = IGNORE_INDEX, channel_order: str = "rgb", **options):
    """Sample ``policy`` from ``generator`` and apply it to one sample.

    Args:
        image: numpy H×W×3 uint8 (as MMSegmentation pipelines carry it) or torch 3×H×W uint8.
        label: H×W integer numpy array / tensor (same kind as ``image``) or ``None``.
        policy: one of :data:`POLICIES`.
        generator: the ``torch.Generator`` every random draw comes from.
        fill: image border value 0..255 for geometric ops; labels get ``ignore_index``.
        channel_order: ``"rgb"`` or ``"bgr"`` (mmseg's cv2-loaded images); matters for the
            colour ops, which assume RGB luma weights.
        **options: policy options of :func:`sample_policy` (``num_ops``, ``magnitude``, …).

    Returns:
        ``(image, label)`` of the same kinds, dtypes and shapes as the inputs.
    """
    _check_policy(policy)
    _check_generator(generator)
    if channel_order not in ("rgb", "bgr"):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    is_numpy = isinstance(image, np.ndarray)
    if is_numpy:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise TypeError(f"numpy images must be H×W×3 uint8, got {image.dtype} {image.shape}")
        img = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    elif isinstance(image, torch.Tensor):
        if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
            raise TypeError(f"tensor images must be 3×H×W uint8, got {image.dtype} {tuple(image.shape)}")
        img = image
    else:
        raise TypeError(f"image must be a numpy array or torch.Tensor, got {type(image).__name__}")
    h, w = img.shape[1:]
    lab = None
    if label is not None:
        if is_numpy != isinstance(label, np.ndarray) or not isinstance(label, (np.ndarray, torch.Tensor)):
            raise TypeError("label must be of the same kind as image (numpy with numpy, tensor with tensor)")
        lab = torch.from_numpy(np.ascontiguousarray(label)) if is_numpy else label
        if lab.dtype.is_floating_point or lab.dtype == torch.bool:
            raise TypeError(f"label must hold integer class ids, got dtype {lab.dtype}")
        if tuple(lab.shape) != (h, w):
            raise ValueError(f"label must have shape {(h, w)} to match the image, got {tuple(lab.shape)}")
    if channel_order == "bgr":
        img = img.flip(0)
    plan = sample_policy(policy, (h, w), generator=generator, **options)
    out, lab = apply_plan(img, lab, plan, fill=fill, ignore_index=ignore_index)
    if channel_order == "bgr":
        out = out.flip(0)
    if is_numpy:
        out = np.ascontiguousarray(out.permute(1, 2, 0).numpy())
        lab = lab.numpy().astype(label.dtype, copy=False) if lab is not None else None
    return out, lab


def apply_policy_batch(images: torch.Tensor, labels: torch.Tensor | None, policy: str, *,
                       generator: torch.Generator, fill: float = 0, ignore_index: int = IGNORE_INDEX,
                       **options):
    """:func:`apply_policy` on a batch N×3×H×W float RGB in [0, 1] (labels N×H×W or None),
    sample by sample in order from one generator. Images are quantised to uint8
    (``round(255·x)``) for the ops and returned as float ``/255`` in the input dtype/device."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.ndim != 4 or images.shape[1] != 3:
        raise TypeError("images must be a float N×3×H×W tensor in [0, 1]")
    n, _, h, w = images.shape
    if labels is not None and (not isinstance(labels, torch.Tensor) or tuple(labels.shape) != (n, h, w)):
        raise ValueError(f"labels must be a tensor of shape {(n, h, w)} or None")
    u8 = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
    outs, labs = [], []
    for i in range(n):
        li = labels[i].cpu() if labels is not None else None
        o, li = apply_policy(u8[i], li, policy, generator=generator, fill=fill, ignore_index=ignore_index, **options)
        outs.append(o)
        labs.append(li)
    out = torch.stack(outs).to(device=images.device, dtype=images.dtype) / 255.0
    lab = torch.stack(labs).to(labels.device) if labels is not None else None
    return out, lab
