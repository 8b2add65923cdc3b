"""Progress bars: on by default in interactive use, off in the batch.

Every long step of the package shows a ``tqdm`` bar unless its ``progress`` argument is False.
``$TQDM_DISABLE`` (tqdm's own variable, set by ``python -m repro reproduce`` for the notebook
kernels) turns them all off, so that stored notebook outputs carry no progress bars on stderr.
"""
from __future__ import annotations

import os

__all__ = ["disabled"]


def disabled(progress: bool) -> bool:
    """tqdm's ``disable`` flag for a step called with ``progress``: True when ``progress`` is False
    or ``$TQDM_DISABLE`` is set to anything but ``""``, ``0`` or ``false``."""
    return (not progress) or os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false")
