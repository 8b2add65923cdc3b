"""Content hashes that key the caches: of tensors (by dtype, shape and bytes) and of models (by state dict).

A cache entry keyed by these hashes is found again only for the same data and the same weights,
whatever the file or object they came from.
"""
from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["tensor_hash", "state_hash", "state_dict_hash"]


def tensor_hash(*tensors) -> str:
    """First 16 hex digits of the SHA-1 over the dtypes, shapes and bytes of ``tensors``."""
    import torch

    h = hashlib.sha1()
    for t in tensors:
        t = torch.as_tensor(t).detach().to("cpu").contiguous()
        h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def state_hash(model: Any) -> str | None:
    """Content hash of a model's state dict (``None`` for callables without one)."""
    import torch

    if isinstance(model, torch.nn.Module):
        return f"{type(model).__name__}:{state_dict_hash(model)}"
    return None


def state_dict_hash(module_or_state) -> str:
    """First 12 hex digits of the SHA-256 over a state dict's keys, dtypes, shapes and bytes
    (``module_or_state``: an ``nn.Module`` or a mapping name → tensor; non-tensor entries are skipped)."""
    import torch

    sd = module_or_state.state_dict() if isinstance(module_or_state, torch.nn.Module) else module_or_state
    h = hashlib.sha256()
    for key in sorted(sd):
        t = sd[key]
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().to("cpu").contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:12]
