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
* :func:`trusted_checkpoints`, a context manager around our own ``Runner.train()`` (resume),
  allow-lists (``torch.serialization.safe_globals``, nothing changes outside the block: no
  environment variable, no global switch) exactly what a checkpoint of mmengine's own
  ``CheckpointHook`` holds besides tensors and plain containers: numpy's array/scalar
  reconstruction functions and dtype classes, ``HistoryBuffer``, ``ConfigDict``, and -- in place
  of ``builtins.getattr`` -- :func:`history_buffer_statistic`, which returns only the four
  statistics methods of ``HistoryBuffer`` (``min``, ``max``, ``current``, ``mean``) that a pickled
  buffer names as ``getattr(HistoryBuffer, "min")`` and refuses every other ``getattr``.

:func:`load_checkpoint_file` is the one ``torch.load`` of :mod:`repro.train` (and of the modules
that already import it): ``weights_only=True`` inside :func:`trusted_checkpoints`, and one
:class:`CheckpointError` naming the file when it is missing, not a torch file, not a dict, or
holds a class outside that allow-list.  :func:`load_weights` puts a checkpoint's ``state_dict``
into a model (the report of ``python -m repro robustness``, :func:`repro.train.load_model`), so
a checkpoint written by a plain ``Runner.from_cfg(cfg).train()`` (no ``PlainCheckpointHook``)
loads as well.  Core modules outside :mod:`repro.train` do not import it (they stay free of
mmengine) and load plain state dicts with ``weights_only=True`` themselves.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ["trusted_checkpoints", "checkpoint_safe_globals", "PlainCheckpointHook", "to_plain", "from_plain",
           "CheckpointError", "load_checkpoint_file", "load_weights", "history_buffer_statistic"]

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


class CheckpointError(ValueError):
    """A file that cannot be loaded as a checkpoint (missing, not a torch file, a class outside the
    allow-list, no state dict, or weights that do not fit the model); the message names the file.
    ``path`` is the file's absolute path and ``reason`` the message without the file's name."""

    def __init__(self, what: str, path: Path, reason: str):
        super().__init__(f"{what} {path}: {reason}")
        self.path, self.reason = path, reason


#: the statistics methods of mmengine's ``HistoryBuffer`` (``HistoryBuffer._set_default_statistics``)
HISTORY_BUFFER_STATISTICS = ("min", "max", "current", "mean")


def history_buffer_statistic(obj: Any, name: Any):
    """The stand-in for ``builtins.getattr`` while unpickling a checkpoint: ``getattr(HistoryBuffer, name)``
    for ``name`` in :data:`HISTORY_BUFFER_STATISTICS` only (a pickled ``HistoryBuffer`` stores its
    statistics methods by reference, as ``getattr(HistoryBuffer, "min")``); any other object or
    name raises ``pickle.UnpicklingError``, so the allow-list grants no general attribute access."""
    from mmengine.logging.history_buffer import HistoryBuffer

    if obj is HistoryBuffer and isinstance(name, str) and name in HISTORY_BUFFER_STATISTICS:
        fn = HistoryBuffer.__dict__.get(name)
        if inspect.isfunction(fn):
            return fn
    raise pickle.UnpicklingError(f"getattr({getattr(obj, '__qualname__', type(obj).__name__)}, {name!r}) is not "
                                 f"allowed: only the HistoryBuffer statistics {', '.join(HISTORY_BUFFER_STATISTICS)}")


def checkpoint_safe_globals() -> list:
    """What ``torch.load(weights_only=True)`` may build from an mmengine checkpoint besides tensors and
    plain containers: numpy's array/scalar reconstruction functions and dtype classes (numpy values
    in the metadata and the message hub), ``HistoryBuffer`` (the message hub's scalars), ``ConfigDict``
    (configs kept in the metadata) and :func:`history_buffer_statistic` under the names
    ``builtins.getattr`` / ``__builtin__.getattr`` (the name that pickle protocol 2 writes)."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore
    from mmengine.config import ConfigDict
    from mmengine.logging.history_buffer import HistoryBuffer

    out: list = [_reconstruct, scalar, np.ndarray, np.dtype]
    out += [type(np.dtype(t)) for t in ("float64", "float32", "float16", "int64", "int32", "int16", "int8",
                                        "uint8", "bool")]
    out += [HistoryBuffer, ConfigDict]
    out += [(history_buffer_statistic, "builtins.getattr"), (history_buffer_statistic, "__builtin__.getattr")]
    return out


@contextlib.contextmanager
def trusted_checkpoints():
    """Allow-list :func:`checkpoint_safe_globals` for ``torch.load`` inside the block (weights_only stays on)."""
    ser = torch.serialization
    if hasattr(ser, "safe_globals"):
        with ser.safe_globals(checkpoint_safe_globals()):
            yield
    else:  # torch < 2.5 has no weights_only default
        yield


_UNSUPPORTED = re.compile(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) (\S+)")


def _reason(err: BaseException, path: Path) -> str:
    """One line saying why ``torch.load(weights_only=True)`` refused ``path``."""
    text = str(err)
    m = _UNSUPPORTED.search(text)
    if m:
        return (f"it holds {m.group(1)}, which is not on the allow-list of mmengine checkpoint contents "
                "(repro.train.checkpoint.checkpoint_safe_globals); it is not loaded, since unpickling an arbitrary "
                "class can run code")
    for preamble in ("WeightsUnpickler error:", "only if you got the file from a trusted source."):
        if preamble in text:  # torch's long message: keep the unpickler's own reason
            text = text.split(preamble, 1)[1].split("Check the documentation", 1)[0]
            break
    detail = " ".join(text.split())[:300]
    detail = f"{type(err).__name__}: {detail}" if detail else type(err).__name__
    if not zipfile.is_zipfile(path):
        return f"it is not a file written by torch.save (not a zip archive; {detail})"
    return detail


def load_checkpoint_file(path: str | os.PathLike, *, map_location: Any = "cpu", what: str = "checkpoint",
                         expect_dict: bool = True) -> Any:
    """The object stored in ``path`` by ``torch.save`` (an mmengine checkpoint or a plain state dict), read
    with ``torch.load(weights_only=True)`` inside :func:`trusted_checkpoints`; every ``torch.load`` of
    :mod:`repro.train` goes through here.

    Raises :class:`CheckpointError` (one line, naming the absolute path) when the file is missing,
    is not a torch file (corrupt, truncated, another format), holds a class outside
    :func:`checkpoint_safe_globals`, or (``expect_dict``) does not hold a dict. ``what`` names the
    file in that message.
    """
    p = Path(path).expanduser().absolute()
    if not p.is_file():
        raise CheckpointError(what, p, "no such file")
    try:
        with trusted_checkpoints():
            obj = torch.load(str(p), map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ... on bad files
        raise CheckpointError(what, p, f"cannot be loaded with torch.load(weights_only=True): "
                                       f"{_reason(err, p)}") from None
    if expect_dict and not isinstance(obj, dict):
        raise CheckpointError(what, p, f"holds a {type(obj).__name__}, expected a checkpoint dict (mmengine's, "
                                       "with 'state_dict') or a state dict")
    return obj


def load_weights(model, path: str | os.PathLike, *, map_location: Any = "cpu") -> dict:
    """Load the weights of checkpoint ``path`` into ``model``; returns the checkpoint dict.

    The weights are the checkpoint's ``state_dict`` entry (mmengine's format), else the dict itself;
    a leading ``module.`` (a model saved inside its DDP wrapper) is dropped from the names.  Every
    parameter and buffer of ``model`` must be in it with the same shape (a report must not score
    a partly random model): else :class:`CheckpointError` naming the file and the first names.
    Entries of the checkpoint that the model lacks are ignored (as mmengine's ``load_checkpoint``).
    """
    ck = load_checkpoint_file(path, map_location=map_location)
    sd = ck.get("state_dict", ck)
    p = Path(path).expanduser().absolute()
    if not isinstance(sd, dict) or not any(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError("checkpoint", p, "holds no state dict (no tensors under 'state_dict' or at the top)")
    sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    wrong = [f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in own
             if k in sd and isinstance(sd[k], torch.Tensor) and sd[k].shape != own[k].shape]
    if missing or wrong:
        parts = ([f"{len(missing)} of the model's {len(own)} weights are missing (e.g. {', '.join(missing[:3])})"]
                 if missing else []) + ([f"{len(wrong)} have another shape (e.g. {'; '.join(wrong[:2])})"]
                                        if wrong else [])
        raise CheckpointError("checkpoint", p, f"does not fit the model of the config: {'; '.join(parts)}")
    model.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=True)
    return ck
