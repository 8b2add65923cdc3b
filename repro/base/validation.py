"""Argument checks shared by the package: one rule each, one wording each.

Each check returns the value (so it can be used inline) or raises ``TypeError`` for a wrong type
and ``ValueError`` for a wrong value, with a message naming the argument and what was expected.
"""
from __future__ import annotations

from typing import Any

import torch

__all__ = ["check_int", "check_images", "is_int", "is_number", "is_int_pair"]


def is_int(value: Any, minimum: int | None = None) -> bool:
    """Whether ``value`` is an integer (Python or numpy; ``bool`` is not: ``True`` is not a count),
    ``>= minimum`` when given."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return False
    return minimum is None or value >= minimum


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (int or float, Python or numpy; not ``bool``)."""
    import numpy as np

    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def is_int_pair(value: Any, minimum: int | None = None) -> bool:
    """Whether ``value`` is a list or tuple of two integers (:func:`is_int`) ``>= minimum``."""
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(is_int(v, minimum) for v in value)


def check_int(value: Any, name: str, minimum: int | None = None, *, optional: bool = False) -> Any:
    """``value`` as an int (``bool`` is refused: ``True`` is not a count) that is ``>= minimum``;
    ``optional``: ``None`` is accepted (and returned) too."""
    expected = ("an int" if minimum is None else f"an int >= {minimum}") + (" or None" if optional else "")
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value}")
    return value


def check_images(images: Any, name: str = "images", *, allow_empty: bool = True) -> torch.Tensor:
    """``images``: a floating ``N×3×H×W`` tensor (RGB in [0, 1]; the range is not scanned)."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor N×3×H×W float in [0, 1], got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape N×3×H×W (RGB), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor (floating point, values in [0, 1]), got dtype {images.dtype}")
    if not allow_empty and images.shape[0] == 0:
        raise ValueError(f"{name} must contain at least one image")
    return images
