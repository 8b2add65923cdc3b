"""Run ``imagecorruptions`` 1.1.2 (Michaelis et al.'s packaging of the ImageNet-C code of
Hendrycks & Dietterich 2019) on numpy 2 and scikit-image >= 0.19.

What breaks in the unpatched package and what this module does about it (patches live only in
the ``imagecorruptions.corruptions`` module namespace; numpy, scikit-image, scipy and
``sys.modules`` are left as they were):

* ``np.float_`` (removed in numpy 2.0; used by ``fog`` via ``plasma_fractal``): the module's
  global ``np`` is replaced by a proxy that forwards every attribute to numpy and adds
  ``float_ = numpy.float64``.
* ``skimage.filters.gaussian(..., multichannel=True)`` (keyword removed in scikit-image 0.19;
  used by ``gaussian_blur`` and ``glass_blur``): the module's global ``gaussian`` is replaced by
  a wrapper that translates ``multichannel=True`` to ``channel_axis=-1``.
* ``skimage.util.random_noise`` (used by ``impulse_noise``) takes its randomness from a fresh,
  OS-seeded ``numpy.random.default_rng()`` in scikit-image >= 0.19, so ``impulse_noise`` would
  ignore the global numpy seed that every other corruption of the package uses. The module's
  global ``sk`` is replaced by a proxy whose ``util.random_noise`` passes
  ``rng = numpy.random.randint(2**31)``, i.e. a seed drawn from numpy's global legacy state, so
  all 19 corruptions are reproducible from ``numpy.random`` state alone.
* Import-time noise: ``pkg_resources`` is deprecated (and gone in setuptools >= 81) and
  ``scipy.ndimage.interpolation`` is deprecated; their warnings are silenced during the import,
  and when either module is missing a minimal stand-in is placed in ``sys.modules`` only for
  the duration of the import (removed again afterwards).

All randomness inside the package comes from numpy's *global* legacy RNG; callers that need
seeding without side effects should use :func:`repro.evaluation.corruptions.imagenet_c`, which saves and
restores that state around each call.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
import warnings
from typing import Any

import numpy as np

__all__ = ["CORRUPTIONS", "COMMON", "HELD_OUT", "corrupt", "module", "frost_files"]

#: The 15 common corruptions followed by the 4 held-out ("validation") ones, in the package's
#: (and ImageNet-C's) order; the one definition (:mod:`repro.evaluation.corruptions` imports them as
#: ``IMAGENET_C_COMMON`` and ``IMAGENET_C_HELD_OUT``).
COMMON = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
    "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
    "elastic_transform", "pixelate", "jpeg_compression",
)
HELD_OUT = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
CORRUPTIONS = COMMON + HELD_OUT

_PATCH_FLAG = "_repro_compat_patched"
_module: types.ModuleType | None = None
_package: types.ModuleType | None = None


class _Proxy(types.ModuleType):
    """A module stand-in: attributes set on it win, everything else comes from ``target``."""

    def __init__(self, target: types.ModuleType, **overrides: Any) -> None:
        super().__init__(target.__name__, getattr(target, "__doc__", None))
        self.__dict__["_target"] = target
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_target"], name)


def _gaussian_compat(image, sigma=1.0, *args, multichannel=None, **kwargs):
    """``skimage.filters.gaussian`` accepting the pre-0.19 ``multichannel`` keyword."""
    from skimage.filters import gaussian

    if multichannel is not None and "channel_axis" not in kwargs:
        kwargs["channel_axis"] = -1 if multichannel else None
    return gaussian(image, sigma, *args, **kwargs)


def _random_noise_seeded(image, mode="gaussian", *args, **kwargs):
    """``skimage.util.random_noise`` seeded from numpy's global legacy RNG state."""
    from skimage.util import random_noise

    if "rng" not in kwargs and "seed" not in kwargs:
        kwargs["rng"] = int(np.random.randint(2**31))
    return random_noise(image, mode, *args, **kwargs)


def _resource_filename(package: str, resource: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:  # pragma: no cover - only without pkg_resources
        raise ImportError(f"cannot locate package {package!r}")
    return os.path.normpath(os.path.join(os.path.dirname(spec.origin), resource))


def _import_package() -> types.ModuleType:
    """Import imagecorruptions with temporary stand-ins for missing/deprecated modules."""
    added: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pkg_resources  # noqa: F401
        except ImportError:  # setuptools >= 81
            shim = types.ModuleType("pkg_resources")
            shim.resource_filename = _resource_filename  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
            added.append("pkg_resources")
        try:
            import scipy.ndimage.interpolation  # noqa: F401
        except ImportError:  # scipy >= 2.0
            import scipy.ndimage

            shim = types.ModuleType("scipy.ndimage.interpolation")
            shim.map_coordinates = scipy.ndimage.map_coordinates  # type: ignore[attr-defined]
            sys.modules["scipy.ndimage.interpolation"] = shim
            added.append("scipy.ndimage.interpolation")
        try:
            package = importlib.import_module("imagecorruptions")
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the ImageNet-C corruptions need the 'imagecorruptions' package (==1.1.2); "
                "install the project's pinned dependencies (pip install -e .)"
            ) from exc
        finally:
            for name in added:
                sys.modules.pop(name, None)
    return package


def module() -> types.ModuleType:
    """Return ``imagecorruptions.corruptions`` with the compat patches applied (idempotent)."""
    global _module, _package
    if _module is not None:
        return _module
    package = _import_package()
    mod = importlib.import_module("imagecorruptions.corruptions")
    if not getattr(mod, _PATCH_FLAG, False):
        import skimage
        import skimage.util

        mod.np = _Proxy(np, float_=np.float64)
        mod.gaussian = _gaussian_compat
        mod.sk = _Proxy(skimage, util=_Proxy(skimage.util, random_noise=_random_noise_seeded))
        setattr(mod, _PATCH_FLAG, True)
    missing = [n for n in CORRUPTIONS if n not in package.corruption_dict]
    if missing:  # pragma: no cover - guards against another package version
        raise ImportError(f"imagecorruptions lacks corruptions {missing}; version 1.1.2 expected")
    _package, _module = package, mod
    return mod


def frost_files() -> list[str]:
    """Paths of the frost overlay images bundled with the package (``frost`` reads 1-5)."""
    mod = module()
    folder = os.path.join(os.path.dirname(mod.__file__), "frost")
    names = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg"]
    return [os.path.join(folder, n) for n in names]


def corrupt(image: np.ndarray, severity: int, name: str) -> np.ndarray:
    """One corruption of one image through the patched package.

    Args:
        image: H×W×3 uint8 RGB array (H, W >= 32 pixels).
        severity: integer 1..5.
        name: one of :data:`CORRUPTIONS`.

    Returns:
        H×W×3 uint8 array (the package truncates its float result with ``np.uint8``).
        Randomness comes from numpy's global legacy RNG (see the module docstring).
    """
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown ImageNet-C corruption {name!r}; expected one of {CORRUPTIONS}")
    module()
    return _package.corrupt(image, severity=int(severity), corruption_name=name)  # type: ignore[union-attr]
