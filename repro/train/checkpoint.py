"""Loading our own mmengine checkpoints under torch >= 2.6 (``weights_only=True`` by default).

torch 2.6 changed ``torch.load``'s default to ``weights_only=True``: only tensors, plain
containers and allow-listed classes may be unpickled.  mmengine 0.10.7 calls ``torch.load``
without ``weights_only`` and writes checkpoints whose message hub holds ``HistoryBuffer``
objects (numpy arrays plus bound methods, pickled through ``builtins.getattr``), so resuming
fails -- and allow-listing ``getattr`` would let a checkpoint call any method of any
allow-listed class, i.e. it would switch the protection off.

The narrow fix has two parts; ``weights_only`` stays on everywhere:

* :class:`PlainCheckpointHook` (added to every config by :func:`repro.train.build_config`)
  rewrites the checkpoint just before mmengine saves it: each ``HistoryBuffer`` becomes a plain
  dict ``{"__repro_history_buffer__": 1, "log": [...], "count": [...], "max_length": n}`` and
  numpy arrays/scalars in the message hub and metadata become lists/Python numbers, so the file
  holds tensors and plain containers only.  ``after_load_checkpoint`` (called by mmengine before
  it uses the loaded message hub) turns the dicts back into ``HistoryBuffer`` objects.
* :func:`trusted_checkpoints`, a context manager around our own ``Runner.train()`` (resume) and
  :func:`repro.train.load_model`, allow-lists only numpy's array reconstruction classes
  (``torch.serialization.safe_globals``) for metadata written by other tools; nothing changes
  outside the block (no environment variable, no global switch).
"""
from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ["trusted_checkpoints", "checkpoint_safe_globals", "PlainCheckpointHook", "to_plain", "from_plain"]

_HB = "__repro_history_buffer__"


def to_plain(obj: Any) -> Any:
    """Replace HistoryBuffers and numpy values in ``obj`` by plain Python containers (recursive)."""
    from mmengine.logging.history_buffer import HistoryBuffer

    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {_HB: 1, "log": np.asarray(log).tolist(), "count": np.asarray(count).tolist(),
                "max_length": int(obj.max_length)}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return type(obj)((k, to_plain(v)) for k, v in obj.items()) if type(obj) is not dict else \
            {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(to_plain(v) for v in obj)
    return obj


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain` for HistoryBuffers (other values stay plain)."""
    from mmengine.logging.history_buffer import HistoryBuffer

    if isinstance(obj, dict):
        if obj.get(_HB) == 1:
            return HistoryBuffer(obj["log"], obj["count"], obj["max_length"])
        return {k: from_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_plain(v) for v in obj]
    return obj


@HOOKS.register_module()
class PlainCheckpointHook(Hook):
    """Keep mmengine checkpoints loadable with ``torch.load(weights_only=True)`` (see module doc)."""

    priority = "LOWEST"  # after every other hook has added its entries

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in ("message_hub", "meta"):
            if key in checkpoint:
                checkpoint[key] = to_plain(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if "message_hub" in checkpoint:
            checkpoint["message_hub"] = from_plain(checkpoint["message_hub"])


def checkpoint_safe_globals() -> list:
    """numpy's array/scalar reconstruction classes (for numpy values in checkpoint metadata)."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore
    out = [_reconstruct, scalar, np.ndarray, np.dtype]
    out += [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool", "uint8")]
    return out


@contextlib.contextmanager
def trusted_checkpoints():
    """Allow-list numpy's reconstruction classes for ``torch.load`` inside the block (weights_only stays on)."""
    ser = torch.serialization
    if hasattr(ser, "safe_globals"):
        with ser.safe_globals(checkpoint_safe_globals()):
            yield
    else:  # torch < 2.5 has no weights_only default
        yield
