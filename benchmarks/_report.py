"""The end of every benchmark: print its Markdown report and write it under benchmarks/results/."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def write_report(lines: Sequence[str], out: str | Path | None) -> int:
    """Print ``lines`` and, when ``out`` is given, write them there (folders created); returns 0 (exit status)."""
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0
