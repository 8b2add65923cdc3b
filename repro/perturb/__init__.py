"""The 24 basis perturbations (SPEC.md §1): batched kernels, transform wrappers, and the per-sample
OpenCV path :mod:`repro.perturb.cpu` (``from repro.perturb import cpu``; imported on first use)."""

from .functional import (  # noqa: F401
    BORDERS,
    GEOMETRIC,
    HSV_NAMES,
    IGNORE_INDEX,
    NAMES,
    OTHER,
    PHOTOMETRIC,
    RGB_NAMES,
    affine_parameters,
    apply,
    blur_kernel_size,
    blur_magnitude,
    blur_sigma,
    check_magnitude,
    channel_target,
    check_name,
    gaussian_kernel1d,
    noise_magnitude,
    noise_sigma,
    warp_matrix,
)
from .transforms import BACKENDS, Perturb, RandomPerturb, apply_numpy, apply_params, refresh_distribution  # noqa: F401


def __getattr__(name):
    # SensitivityTransform (a torchvision-v2 Transform) imports torchvision: only on first use
    if name == "SensitivityTransform":
        from . import transforms

        return transforms.SensitivityTransform
    if name == "cpu":  # the OpenCV per-sample path (imports cv2)
        import importlib

        return importlib.import_module(f"{__name__}.cpu")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
