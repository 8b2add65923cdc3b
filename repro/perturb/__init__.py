"""The 24 basis perturbations (SPEC.md §1): batched kernels and transform wrappers."""

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
    check_name,
    gaussian_kernel1d,
    noise_magnitude,
    noise_sigma,
)
from .transforms import Perturb, RandomPerturb, apply_numpy, apply_params, refresh_distribution  # noqa: F401


def __getattr__(name):
    # SensitivityTransform (a torchvision-v2 Transform) imports torchvision: only on first use
    if name == "SensitivityTransform":
        from . import transforms

        return transforms.SensitivityTransform
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
