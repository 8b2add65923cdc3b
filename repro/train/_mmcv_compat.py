"""Stand-in for ``mmcv.ops`` so that MMSegmentation imports with ``mmcv-lite``.

``mmcv-lite`` ships the pure-Python parts of mmcv but not the compiled ``mmcv._ext``
extension, and ``mmcv/ops/__init__.py`` imports that extension eagerly.  MMSegmentation
1.2.2 imports ``mmcv.ops`` at import time in four modules (``models/utils/point_sample``,
``models/decode_heads/san_head``, ``utils/mask_classification`` for ``point_sample`` and
``models/losses/focal_loss`` for ``sigmoid_focal_loss``), so ``import mmseg.models``
fails without a stand-in.

:func:`install` registers a synthetic module under ``sys.modules["mmcv.ops"]`` (only if the
real one cannot be imported) that offers pure-PyTorch versions of the two functions those
modules need:

* ``point_sample(input, points, align_corners=False)`` -- bilinear sampling of an
  N×C×H×W feature map at normalised point coordinates ``points`` (N×P×2 or N×Hp×Wp×2,
  each coordinate in [0, 1], (x, y) order)::

      out = grid_sample(input, 2·points − 1, align_corners=align_corners)

  (for N×P×2 points the grid gets a singleton dimension that is squeezed again, giving
  N×C×P).
* ``sigmoid_focal_loss(pred, target, gamma=2.0, alpha=0.25, weight=None,
  reduction="mean")`` -- the focal loss of Lin et al. (2017) with class-index targets::

      p = σ(pred);  t = onehot(target);  p_t = p·t + (1−p)(1−t)
      loss = −[α t + (1−α)(1−t)] (1−p_t)^γ log(p_t)

  summed over nothing, weighted per sample by ``weight`` (N) if given, then reduced.

Any other attribute (``DeformConv2d``, ``SyncBatchNorm``, ``CrissCrossAttention`` ...)
raises :class:`ModuleNotFoundError` naming the op, which the optional imports in
mmengine/mmseg already treat as "op not available".
"""
from __future__ import annotations

import importlib.machinery
import sys
import types

import torch
import torch.nn.functional as F

__all__ = ["install", "point_sample", "sigmoid_focal_loss", "STAND_IN_NAME"]

STAND_IN_NAME = "mmcv.ops"


def point_sample(input: torch.Tensor, points: torch.Tensor, align_corners: bool = False,
                 **kwargs) -> torch.Tensor:
    """Sample ``input`` (N×C×H×W) at normalised ``points`` in [0, 1] (x, y order).

    ``points`` is N×P×2 (returns N×C×P) or N×Hp×Wp×2 (returns N×C×Hp×Wp); the grid
    passed to :func:`torch.nn.functional.grid_sample` is ``2·points − 1``.  Extra keyword
    arguments (``mode``, ``padding_mode``) are forwarded to ``grid_sample``.
    """
    if not isinstance(input, torch.Tensor) or input.dim() != 4:
        raise ValueError(f"point_sample expects input of shape N×C×H×W, got "
                         f"{getattr(input, 'shape', type(input))}")
    if not isinstance(points, torch.Tensor) or points.dim() not in (3, 4) or points.shape[-1] != 2:
        raise ValueError(f"point_sample expects points N×P×2 or N×H×W×2, got "
                         f"{getattr(points, 'shape', type(points))}")
    add_dim = points.dim() == 3
    grid = points.unsqueeze(2) if add_dim else points
    out = F.grid_sample(input, 2.0 * grid.to(input.dtype) - 1.0,
                        align_corners=align_corners, **kwargs)
    return out.squeeze(3) if add_dim else out


def sigmoid_focal_loss(pred: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                       alpha: float = 0.25, weight: torch.Tensor | None = None,
                       reduction: str = "mean") -> torch.Tensor:
    """Sigmoid focal loss with class-index ``target`` (N,) for logits ``pred`` (N×C).

    Target values outside ``[0, C)`` (e.g. a background index C) give all-zero one-hot
    rows, as in mmcv's kernel.  ``reduction`` is ``"none"``, ``"mean"`` or ``"sum"``.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    num_classes = pred.shape[1]
    t = torch.zeros_like(pred)
    valid = (target >= 0) & (target < num_classes)
    t[valid.nonzero(as_tuple=True)[0], target[valid].long()] = 1.0
    p = pred.sigmoid()
    pt = p * t + (1 - p) * (1 - t)
    a = alpha * t + (1 - alpha) * (1 - t)
    loss = F.binary_cross_entropy_with_logits(pred, t, reduction="none") * a * (1 - pt).pow(gamma)
    if weight is not None:
        loss = loss * weight.view(-1, 1)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class _OpsStandIn(types.ModuleType):
    """Module type whose unknown attributes raise ModuleNotFoundError."""

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise ModuleNotFoundError(
            f"mmcv.ops.{name} is not available: this environment uses mmcv-lite (no compiled "
            f"mmcv._ext); repro.train installs a pure-PyTorch stand-in for mmcv.ops that only "
            f"offers point_sample and sigmoid_focal_loss. Install full mmcv to use {name}.",
            name=f"mmcv.ops.{name}")


def _real_ops_available() -> bool:
    try:
        import mmcv._ext  # noqa: F401
    except Exception:
        return False
    return True


def install() -> types.ModuleType | None:
    """Register the stand-in ``mmcv.ops`` in ``sys.modules`` unless real ops exist.

    Returns the module registered under ``"mmcv.ops"`` (stand-in or real), or ``None``
    when mmcv itself is not installed.  Idempotent.
    """
    current = sys.modules.get(STAND_IN_NAME)
    if current is not None:
        return current
    try:
        import mmcv
    except ImportError:
        return None
    if _real_ops_available():
        import mmcv.ops as real_ops  # pragma: no cover - only with full mmcv
        return real_ops
    mod = _OpsStandIn(STAND_IN_NAME, "Pure-PyTorch stand-in for mmcv.ops (see repro.train._mmcv_compat).")
    mod.__spec__ = importlib.machinery.ModuleSpec(STAND_IN_NAME, loader=None)
    mod.__file__ = __file__
    mod.__path__ = []  # a package, so "import mmcv.ops.x" fails cleanly with ModuleNotFoundError
    mod.point_sample = point_sample
    mod.sigmoid_focal_loss = sigmoid_focal_loss
    mod.__all__ = ["point_sample", "sigmoid_focal_loss"]
    mod.IS_REPRO_STAND_IN = True
    sys.modules[STAND_IN_NAME] = mod
    mmcv.ops = mod
    return mod


install()
