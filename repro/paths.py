"""Where things live: repository root, shipped data, cache, published numbers, outputs.

Every path the package prints goes through :func:`relpath`: paths inside the repository are
printed relative to its root (so executed notebooks and tables never carry machine paths), paths
outside it in full, so that a message about a user's file says exactly which file.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
DATA_DIR: Path = REPO_ROOT / "data"
PAPER_DIR: Path = REPO_ROOT / "paper"
CONFIG_DIR: Path = REPO_ROOT / "configs"
NOTEBOOK_DIR: Path = REPO_ROOT / "notebooks"
TABLES_DIR: Path = Path(os.environ["REPRO_TABLES_DIR"]).resolve() if os.environ.get("REPRO_TABLES_DIR") else REPO_ROOT / "paper_tables"

#: profiles whose outputs are committed at the top of ``paper_tables/``
COMMITTED_PROFILE = "cpu"


def _cache_dir() -> Path:
    # $REPRO_CACHE_DIR, else <repo>/.cache when run from inside this checkout, else ~/.cache/sia-repro
    from .cache import default_cache_dir

    return default_cache_dir()


CACHE_DIR: Path = _cache_dir()


def output_dir(profile: str) -> Path:
    """Folder for tables and figures of ``profile``.

    The ``cpu`` profile (the committed main job) writes to ``paper_tables/``; any other profile
    writes to ``paper_tables/<profile>/`` so that smoke runs (CI, nbval) never overwrite the
    committed results.
    Set ``REPRO_TABLES_DIR`` to write somewhere else than ``paper_tables/``.
    """
    if not isinstance(profile, str) or not profile:
        raise TypeError(f"profile must be a non-empty string such as 'smoke', 'cpu' or 'paper', got {profile!r}")
    out = TABLES_DIR if profile == COMMITTED_PROFILE else TABLES_DIR / profile
    out.mkdir(parents=True, exist_ok=True)
    return out


def relpath(path: os.PathLike | str) -> str:
    """``path`` for messages: relative to the repository root when it lies inside it,
    ``$REPRO_CACHE_DIR/...`` inside the cache folder, else the full absolute path (POSIX form)."""
    p = Path(path).expanduser().resolve()
    try:
        return p.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        try:
            return "$REPRO_CACHE_DIR/" + p.relative_to(CACHE_DIR).as_posix()
        except ValueError:
            return p.as_posix()
