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
from .transforms import Perturb, RandomPerturb, apply_numpy, apply_params  # noqa: F401
