"""Publishing one regenerated table: CSV and Markdown beside the published numbers, its claims file
and its figure (:func:`publish`).
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from repro.paper.claims import save_claims
from repro.paper.tables import plot_bars

def publish(table: pd.DataFrame, name: str, *, profile: str, caption: str, notes: Sequence[str] = (),
            plot: dict | None = None, floatfmt: str = ".2f"):
    """A paper table's outputs in one call: the bar figure (:func:`plot_bars` with the ``plot``
    arguments, saved as ``<name>.png``), the table with its caption and claim sentences
    (``<name>.csv`` / ``.md``, :func:`repro.paper.outputs.save_table`, numbers formatted by ``floatfmt``) and
    the structured claims among the
    notes (``<name>_claims.csv``, :func:`save_claims`). Returns the figure (or ``None``)."""
    from repro.paper.outputs import save_figure, save_table

    fig = None
    if plot is not None:
        fig = plot_bars(table, **plot)
        save_figure(fig, name, profile=profile)
    save_table(table, name, profile=profile, caption=caption, notes=list(notes), floatfmt=floatfmt)
    save_claims(list(notes), name, profile=profile)
    return fig
