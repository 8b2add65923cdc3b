"""A small on-disk cache for long steps, keyed by the full configuration.

``cached("features", {"dataset": "camvid", ...}, compute)`` returns ``compute()``'s result and
stores it as ``<CACHE_DIR>/features/<hash>.pt`` (``torch.save``) with the configuration beside it
as ``<hash>.json``; a later call with an equal configuration loads the stored result instead.
``force=True`` recomputes and overwrites. Writes are atomic (temporary file + rename), so an
interrupted run never leaves a half-written entry.

The configuration must be JSON-serialisable after :func:`canonical` (dicts, lists, tuples, str,
numbers, bools, None, paths, numpy scalars); the key is the first 16 hex digits of its SHA-1.
Cache files are written by this package only; they are loaded with ``weights_only=False``
because they hold DataFrames and dicts, so never point ``REPRO_CACHE_DIR`` at files you did not
create.

Where the cache lives (:func:`repro.base.paths.default_cache_dir`, re-exported here; the value of
``repro.base.paths.CACHE_DIR``):

1. ``$REPRO_CACHE_DIR`` when set (always wins);
2. ``<repo>/.cache`` when the package runs from its own checkout: the folder above ``repro/``
   holds this project's ``pyproject.toml`` (``name = "sia-repro"``), that checkout (or its
   ``.cache``) is writable, and the current working directory lies inside it (``make reproduce``,
   the notebooks, the tests);
3. otherwise (an installed package, or a checkout used from another folder) the per-user cache
   ``$XDG_CACHE_HOME/sia-repro``, or ``~/.cache/sia-repro`` when ``XDG_CACHE_HOME`` is unset or
   not an absolute path.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from repro.base import paths
from repro.base.paths import CACHE_ENV, PROJECT_NAME, USER_CACHE_NAME, default_cache_dir, user_cache_dir  # noqa: F401

T = TypeVar("T")


def cache_dir() -> Path:
    """The cache folder in use: ``repro.base.paths.CACHE_DIR`` (set once at import from
    :func:`default_cache_dir`; tests may point it elsewhere)."""
    return paths.CACHE_DIR


def canonical(obj: Any) -> Any:
    """Turn ``obj`` into plain JSON types with sorted keys (tuples → lists, paths → str)."""
    if isinstance(obj, Mapping):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return obj.item()
    raise TypeError(f"cache configuration values must be JSON-like (dict, list, str, number, bool, None); got {type(obj).__name__}")


def config_hash(config: Mapping) -> str:
    """First 16 hex digits of the SHA-1 of the canonical JSON of ``config``."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {type(config).__name__}")
    text = json.dumps(canonical(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def entry_path(namespace: str, config: Mapping) -> Path:
    """Path of the cache entry for ``config`` in ``namespace`` (it may not exist yet)."""
    if not isinstance(namespace, str) or not namespace or "/" in namespace or namespace.startswith("."):
        raise ValueError(f"namespace must be a plain folder name such as 'features', got {namespace!r}")
    return cache_dir() / namespace / f"{config_hash(config)}.pt"


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cached(namespace: str, config: Mapping, compute: Callable[[], T], *, force: bool = False) -> T:
    """Return ``compute()``, stored on disk under ``namespace`` and keyed by ``config``."""
    if not callable(compute):
        raise TypeError("compute must be a callable taking no arguments")
    import torch

    path = entry_path(namespace, config)
    if path.exists() and not force:
        return torch.load(path, map_location="cpu", weights_only=False)
    result = compute()
    _atomic_write(path, lambda tmp: torch.save(result, tmp))
    meta = json.dumps(canonical(config), indent=1, sort_keys=True)
    _atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(meta))
    return result


def clear(namespace: str) -> int:
    """Delete every entry of ``namespace``; returns how many files were removed."""
    folder = cache_dir() / namespace
    n = 0
    if folder.is_dir():
        for f in folder.iterdir():
            if f.suffix in (".pt", ".json"):
                f.unlink()
                n += 1
    return n
