"""Saving tables and figures into ``paper_tables/``, beside the paper's published numbers.

``save_table(df, "table1_methods", profile="cpu")`` writes ``paper_tables/table1_methods.csv`` and
``.md``; other profiles write under ``paper_tables/<profile>/`` (see :func:`repro.base.paths.output_dir`).
:func:`published` reads the paper's numbers from ``paper/*.csv`` (copied unchanged from the
transcription in shared/paper, with its column caveats in ``paper/README.md``).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from repro.base import paths

PUBLISHED = ("table1_cityscapes_methods", "table2_real_world_zero_shot", "table3_acdc_by_condition",
             "table4_datasets_suites", "table5_ablation", "appendixD_levels")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise ValueError(f"name must be a plain file stem such as 'table1_methods', got {name!r}")
    return name


def published(name: str) -> pd.DataFrame:
    """The paper's published numbers ``paper/<name>.csv`` as a DataFrame."""
    if name.endswith(".csv"):
        name = name[:-4]
    if name not in PUBLISHED:
        raise ValueError(f"unknown published table {name!r}; available: {', '.join(PUBLISHED)}")
    return pd.read_csv(paths.PAPER_DIR / f"{name}.csv")


def to_markdown(df: pd.DataFrame, *, floatfmt: str = ".2f") -> str:
    """A GitHub Markdown table of ``df`` (index dropped unless it is named)."""
    keep_index = any(n is not None for n in df.index.names)
    return df.to_markdown(index=keep_index, floatfmt=floatfmt)


def save_table(df: pd.DataFrame, name: str, *, profile: str, caption: str | None = None,
               notes: list[str] | None = None, floatfmt: str = ".2f") -> dict[str, Path]:
    """Write ``df`` as ``<name>.csv`` and ``<name>.md`` (with ``caption`` above the table).

    ``notes`` (e.g. the claim sentences that ``repro.paper.claims.claim_sentence`` generates from the
    same numbers) are listed below the table in the Markdown file, so that a reader of
    ``paper_tables/`` sees whether the paper's claims hold without opening the notebook.

    Returns the written paths. Also records the table in ``<out>/.index.json`` (name, caption,
    time) for the batch driver's index page.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    _check_name(name)
    if notes is not None and (not isinstance(notes, (list, tuple)) or not all(isinstance(n, str) for n in notes)):
        raise TypeError(f"notes must be a list of strings, got {notes!r:.80}")
    out = paths.output_dir(profile)
    csv, md = out / f"{name}.csv", out / f"{name}.md"
    df.to_csv(csv, index=any(n is not None for n in df.index.names), float_format="%.4f")
    text = (f"{caption}\n\n" if caption else "") + to_markdown(df, floatfmt=floatfmt) + "\n"
    if notes:
        text += "\nGenerated from the numbers above:\n\n" + "".join(f"- {n}\n" for n in notes)
    md.write_text(text)
    _record(out, name, "table", caption)
    print(f"saved {paths.relpath(csv)} and {paths.relpath(md)} ({len(df)} rows)")
    return {"csv": csv, "md": md}


def save_figure(fig, name: str, *, profile: str, dpi: int = 110) -> Path:
    """Write a matplotlib figure as ``<name>.png``."""
    _check_name(name)
    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    out = paths.output_dir(profile)
    png = out / f"{name}.png"
    fig.savefig(png, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    _record(out, name, "figure", None)
    print(f"saved {paths.relpath(png)}")
    return png


def _record(out: Path, name: str, kind: str, caption: str | None) -> None:
    idx_path = out / ".index.json"
    try:
        idx = json.loads(idx_path.read_text()) if idx_path.exists() else {}
    except json.JSONDecodeError:
        idx = {}
    idx[name] = {"kind": kind, "caption": caption, "saved": time.strftime("%Y-%m-%d %H:%M:%S")}
    idx_path.write_text(json.dumps(idx, indent=1, sort_keys=True) + "\n")
