"""Where things live: repository root, shipped data, cache, published numbers, outputs.

Every path the package prints goes through :func:`relpath`: paths inside the repository are
printed relative to its root (so executed notebooks and tables never carry machine paths), paths
outside it in full, so that a message about a user's file says exactly which file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

REPO_ROOT: Path = Path(__file__).resolve().parents[2]
DATA_DIR: Path = REPO_ROOT / "data"
PAPER_DIR: Path = REPO_ROOT / "paper"
CONFIG_DIR: Path = REPO_ROOT / "configs"
NOTEBOOK_DIR: Path = REPO_ROOT / "notebooks"
TABLES_DIR: Path = Path(os.environ["REPRO_TABLES_DIR"]).resolve() if os.environ.get("REPRO_TABLES_DIR") else REPO_ROOT / "paper_tables"

#: profiles whose outputs are committed at the top of ``paper_tables/``
COMMITTED_PROFILE = "cpu"


# ----------------------------------------------------------------- where the cache lives (see repro.base.cache)

#: environment variable that sets the cache folder (always wins over the default)
CACHE_ENV = "REPRO_CACHE_DIR"
#: name of the per-user cache folder under ``$XDG_CACHE_HOME`` (or ``~/.cache``)
USER_CACHE_NAME = "sia-repro"
#: ``[project] name`` in ``pyproject.toml`` that marks a checkout of this repository
PROJECT_NAME = "sia-repro"


def _is_own_checkout(root: Path) -> bool:
    """``root`` holds this project's ``pyproject.toml`` and it (or its ``.cache``) is writable."""
    toml = root / "pyproject.toml"
    try:
        text = toml.read_text(encoding="utf-8")
    except OSError:
        return False
    try:
        import tomllib

        name = tomllib.loads(text).get("project", {}).get("name")
    except Exception:  # tomllib missing (Python 3.10) or an unreadable file: a plain text check
        name = PROJECT_NAME if f'name = "{PROJECT_NAME}"' in text else None
    if name != PROJECT_NAME:
        return False
    target = root / ".cache"
    return os.access(target if target.exists() else root, os.W_OK)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/sia-repro``, or ``~/.cache/sia-repro`` when that variable is unset or relative."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / USER_CACHE_NAME


def default_cache_dir(*, environ: Mapping[str, str] | None = None, cwd: os.PathLike | str | None = None,
                      repo_root: os.PathLike | str | None = None) -> Path:
    """The cache folder: ``$REPRO_CACHE_DIR``; else ``<repo>/.cache`` when run from inside a writable
    checkout of this project; else :func:`user_cache_dir` (see the module docstring).

    ``environ`` (default ``os.environ``), ``cwd`` (default the current directory) and ``repo_root``
    (default :data:`REPO_ROOT`, the folder above the package) exist for tests.
    """
    env = os.environ if environ is None else environ
    if not isinstance(env, Mapping):
        raise TypeError(f"environ must be a mapping of environment variables, got {type(env).__name__}")
    value = env.get(CACHE_ENV, "")
    if value:
        return Path(value).expanduser().resolve()
    if repo_root is None:
        repo_root = REPO_ROOT
    root = Path(repo_root).resolve()
    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:  # the current directory was deleted: not inside the checkout
            cwd = None
    if cwd is not None and _inside(Path(cwd).resolve(), root) and _is_own_checkout(root):
        return root / ".cache"
    return user_cache_dir(env)


#: the cache folder in use (tests point it elsewhere): $REPRO_CACHE_DIR, else <repo>/.cache when run from
#: inside this checkout, else ~/.cache/sia-repro
CACHE_DIR: Path = default_cache_dir()


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
