"""The 24 basis perturbations (SPEC.md §1): batched kernels (:mod:`repro.perturb.functional`, by kind),
transform wrappers (:mod:`repro.perturb.transforms`), the per-sample OpenCV path :mod:`repro.perturb.cpu`
(``from repro.perturb import cpu``; imported on first use) and the policy baselines
(:mod:`repro.perturb.policies`). The paper's augmentation, which draws from the sensitivity
analysis' distribution, is one layer up: :mod:`repro.analysis.augment`."""

from repro.perturb.functional import (  # noqa: F401
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
from repro.perturb.transforms import BACKENDS, Perturb, RandomPerturb, apply_numpy, apply_params  # noqa: F401


def __getattr__(name):
    if name == "cpu":  # the OpenCV per-sample path (imports cv2)
        import importlib

        return importlib.import_module(f"{__name__}.cpu")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
