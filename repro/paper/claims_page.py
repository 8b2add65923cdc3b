"""``CLAIMS.md``: every claim verdict of the regenerated paper tables on one page.

:func:`repro.paper.publish.publish` writes the structured claims of a table ``<name>`` beside it as
``<name>_claims.csv`` (:func:`repro.paper.claims.save_claims`, one row per claim, label and suite).
:func:`write_claims_page` reads every such file of a profile's tables folder
(:func:`repro.base.paths.output_dir`) and writes ``CLAIMS.md`` there: a count of the verdicts, how to
read them, and one Markdown table row per claim row with our paired difference, the paper's
difference of the same two methods, and a link to the table. The batch driver
(:func:`repro.paper.reproduce.reproduce`) calls it after the notebooks.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from repro.base import paths
from repro.base.profiles import load_profiles
from repro.paper.claims import CLAIM_COLUMNS, CLAIMS_SUFFIX

PAGE_NAME = "CLAIMS.md"
#: metrics in points of a segmentation score, named in the explanation rather than in each row
MIOU_METRICS = ("mIoU", "aAcc", "mAcc")
#: the verdicts of a difference row (:func:`repro.paper.claims.verdict`), in the order the summary counts them
VERDICTS = ("holds", "does not hold", "inconclusive")
_TABLE_RE = re.compile(r"^(table|appendix)([0-9]+|[A-Z]+)(?:_|$)")

EXPLANATION = (
    "Each row is one claim of the paper, for one label (model, dataset or condition) and one evaluation "
    "suite, read as *a > b* for two methods. **Ours** is the mean over seeds of the paired difference "
    "*a − b* (for every seed trained with both methods: the suite's mean of the metric, in points, e.g. "
    "mIoU %) ± the half-width of its 95% Student-t interval, t₀.₉₇₅,ₙ₋₁ · s / √n, over n seeds. "
    "**holds**: the interval lies above 0; **does not hold**: it lies below 0; **inconclusive**: it contains "
    "0, or there is one seed and no interval. The paper reports single numbers (no seeds, no intervals): "
    "its column is the published difference of the same two methods in the closest published setting "
    "(the note says which), a trend to compare with, not a value to match. Ordering rows compare the "
    "ranking of the methods instead. Appendix rows (D, E) compare two ways of measuring, not two "
    "methods: their n counts perturbation types (D) or resampled subsets (E) instead of seeds, and the "
    "claim's metric says what the difference is.")


def _check_profile(profile: str) -> str:
    if not isinstance(profile, str):
        raise TypeError(f"profile must be a string such as 'cpu', got {type(profile).__name__}")
    known = list(load_profiles())
    if profile not in known:
        raise ValueError(f"profile must be one of {', '.join(known)}, got {profile!r}")
    return profile


def paper_table_label(name: str) -> str:
    """The paper's table or appendix a table file stands for: ``table1_methods`` → ``Table 1``,
    ``appendixD_compare`` → ``Appendix D``; other names unchanged."""
    m = _TABLE_RE.match(name)
    return f"{m.group(1).capitalize()} {m.group(2)}" if m else name


def _sort_key(name: str) -> list:
    """Natural order of table names (``table2`` before ``table10``)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def read_claims(folder: Path) -> pd.DataFrame:
    """Every ``*_claims.csv`` of ``folder`` in one frame (columns :data:`repro.paper.claims.CLAIM_COLUMNS`),
    files in natural order of their table name, rows in their order in each file; empty when the
    folder or the files are missing."""
    files = sorted(Path(folder).glob(f"*{CLAIMS_SUFFIX}"), key=lambda p: _sort_key(p.name)) if Path(folder).is_dir() else []
    frames = [pd.read_csv(f, keep_default_na=False, na_values=[""]) for f in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(CLAIM_COLUMNS))
    return pd.concat(frames, ignore_index=True).reindex(columns=list(CLAIM_COLUMNS))


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _text(x) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)


def format_ours(diff, half, n) -> str:
    """Our paired difference as ``+1.23 ± 0.45 (n=3)``; ``+1.23 (n=1, no interval)`` without an
    interval; ``—`` without a difference."""
    diff, half, n = _num(diff), _num(half), _num(n)
    if math.isnan(diff):
        return "—"
    seeds = f"n={int(n)}" if not math.isnan(n) else "n=?"
    return f"{diff:+.2f} ± {half:.2f} ({seeds})" if not math.isnan(half) else f"{diff:+.2f} ({seeds}, no interval)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row_cells(r: pd.Series) -> list[str]:
    is_order = bool(_text(r["paper_order"])) or bool(_text(r["ours_order"]))
    pdiff = _num(r["paper_diff"])
    if is_order:
        paper, ours = _text(r["paper_order"]), _text(r["ours_order"])
    else:
        paper = (f"{pdiff:+.2f}" if not math.isnan(pdiff) else "—") + (f" ({_text(r['paper_note'])})" if _text(r["paper_note"]) else "")
        ours = format_ours(r["ours_diff"], r["ours_half"], r["n"])
    table = _text(r["table"])
    suite, metric = _text(r["suite"]), _text(r["metric"])
    if metric and metric not in MIOU_METRICS and not is_order:   # say what a non-mIoU difference measures
        suite = f"{suite} [{metric}]" if suite else f"[{metric}]"
    return [paper_table_label(table), _text(r["claim"]), _text(r["label"]), suite, paper, ours,
            _text(r["verdict"]), f"[{table}.md]({table}.md)"]


def summary_line(claims: pd.DataFrame) -> str:
    """How many claim rows hold, do not hold, are inconclusive (plus ordering rows and claims not testable)."""
    verdicts = claims["verdict"].astype(str)
    counts = {v: int((verdicts == v).sum()) for v in VERDICTS}
    n_diff = sum(counts.values())
    line = f"**{n_diff} claim row{'' if n_diff == 1 else 's'} — " + ", ".join(f"{v}: {counts[v]}" for v in VERDICTS) + ".**"
    orders = verdicts.isin(["same order", "different order"])
    if orders.any():
        line += f" Orderings: {int((verdicts == 'same order').sum())} of {int(orders.sum())} in the paper's order."
    untestable = int((verdicts == "not testable here").sum())
    if untestable:
        line += f" Not testable here: {untestable}."
    return line


def render(claims: pd.DataFrame, profile: str) -> str:
    """The Markdown text of the page for the claim rows ``claims`` (:func:`read_claims`)."""
    lines = [f"# The paper's claims in our numbers (profile `{profile}`)", ""]
    if claims.empty:
        return "\n".join(lines + [f"No claims were computed yet for profile `{profile}`: notebooks 05–09 write them "
                                  f"(`python -m repro reproduce --profile {profile}`).", ""])
    header = ["paper", "claim", "label", "suite", "paper's difference", "ours (95% interval)", "verdict", "table"]
    lines += [summary_line(claims), "",
              f"Written by `python -m repro reproduce` from the `*{CLAIMS_SUFFIX}` files beside the tables; "
              "do not edit by hand.", "", EXPLANATION, "",
              "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in _row_cells(r)) + " |" for _, r in claims.iterrows()]
    return "\n".join(lines) + "\n"


def write_claims_page(profile: str) -> Path:
    """Write ``CLAIMS.md`` into the tables folder of ``profile`` (one of :func:`repro.base.profiles.load_profiles`)
    from its ``*_claims.csv`` files (:func:`read_claims`, :func:`render`); a page saying that no claims
    were computed yet when there are none. Deterministic: no time stamps. Returns the path."""
    _check_profile(profile)
    out = paths.output_dir(profile)
    path = out / PAGE_NAME
    path.write_text(render(read_claims(out), profile))
    print(f"saved {paths.relpath(path)}")
    return path
