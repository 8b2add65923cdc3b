"""Comparing two robustness reports: every number side by side (:func:`compare_reports`) and the
short summary printed first (:func:`compare_summary`).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Mapping

import pandas as pd

from repro.evaluation import suites as ev
from repro.robustness.report import REPORT_SUITES

# ------------------------------------------------------------------------------------------ comparing reports


def load_report(path: str | os.PathLike) -> dict:
    """A report from its folder or its ``report.json``."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no report.json (not a robustness report folder)")
    return json.loads(p.read_text())


def flat_numbers(report: Mapping) -> dict[str, float]:
    """Every number of a report under a readable path, e.g. ``imagenet_c/fog/3/mIoU``,
    ``imagenet_c/CE/fog``, ``imagenet_c/rR/fog``, ``imagenet_c/mean_common_rR``, ``floor/mIoU``,
    ``sensitivity/R+/level2/alpha``, ``sampling/R+/level2/p``."""
    out: dict[str, float] = {}
    for s, d in report.get("suites", {}).items():
        for r in d["rows"]:
            lvl = f"/{r['level']}" if r["level"] != "" else ""
            item = r["item"] if s != "clean" else "clean"
            for m in (*ev.METRICS, "kid"):
                if r.get(m) is not None:
                    out[f"{s}/{item}{lvl}/{m}"] = float(r[m])
        for m, v in d.get("summary", {}).items():
            out[f"{s}/mean/{m}"] = float(v)
        ce = d.get("corruption_error")
        if ce:
            for c, v in ce["per_corruption"].items():
                for f in ("mean_error", "CE", "rCE"):
                    if v[f] is not None:
                        out[f"{s}/{f}/{c}"] = float(v[f])
            for f in ("mCE", "relative_mCE", "mCE_held_out", "relative_mCE_held_out", "mCE_all"):
                if ce.get(f) is not None:
                    out[f"{s}/{f}"] = float(ce[f])
        rr = d.get("resilience")
        if rr:
            for i, v in rr["per_item"].items():
                if v is not None:
                    out[f"{s}/rR/{i}"] = float(v)
            for f in ("mean", "mean_common", "mean_held_out"):
                if rr.get(f) is not None:
                    out[f"{s}/{f}_rR"] = float(rr[f])
    fl = report.get("floor")
    if fl:
        for m in (*ev.METRICS,):
            if fl.get(m) is not None:
                out[f"floor/{m}"] = float(fl[m])
    sa = report.get("sensitivity")
    if sa:
        out["sensitivity/clean_miou"] = float(sa["clean_miou"])
        for r in sa["levels"]:
            for f in ("alpha", "miou", "kid", "S"):
                out[f"sensitivity/{r['type']}/level{r['level']}/{f}"] = float(r[f])
    for r in (report.get("sampling") or {}).get("probabilities", []):
        out[f"sampling/{r['type']}/level{r['level']}/p"] = float(r["p"])
    return out


def compare_reports(a, b, *, atol: float = 0.0) -> pd.DataFrame:
    """Table of differences between two reports (folders, ``report.json`` paths or dicts).

    One row per number present in either report whose values differ by more than ``atol``
    (or that is missing from one): ``number, a, b, b_minus_a``; plus rows ``meta:<field>`` for
    differing data identity, seed, model weights, extractors and versions (``a``/``b`` as text).
    """
    ra = a if isinstance(a, Mapping) else load_report(a)
    rb = b if isinstance(b, Mapping) else load_report(b)
    fa, fb = flat_numbers(ra), flat_numbers(rb)
    rows = []
    for k in list(fa) + [k for k in fb if k not in fa]:
        va, vb = fa.get(k), fb.get(k)
        if va is None or vb is None or not (abs(vb - va) <= atol or (math.isnan(va) and math.isnan(vb))):
            rows.append({"number": k, "a": va, "b": vb,
                         "b_minus_a": (vb - va) if va is not None and vb is not None else None})
    meta = {"data": lambda r: r["data"]["sha256"], "seed": lambda r: r["seed"],
            "model": lambda r: r["model"]["weights"], "extractors": lambda r: ",".join(r.get("extractors", [])),
            **{f"version.{k}": (lambda r, k=k: r["versions"].get(k)) for k in ra.get("versions", {})}}
    for k, f in meta.items():
        va, vb = f(ra), f(rb)
        if va != vb:
            rows.append({"number": f"meta:{k}", "a": va, "b": vb, "b_minus_a": None})
    return pd.DataFrame(rows, columns=["number", "a", "b", "b_minus_a"])


def compare_summary(a, b) -> list[str]:
    """A short summary of two reports (folders, ``report.json`` paths or dicts), one line each:
    which report had a reference model (and whether the two references are the same weights),
    whether data and seed agree, the trivial floors, then per suite the mean mIoU (points) of A
    and B, ``B − A`` and the better side, the mean resilience rate rR (percent of clean), and for
    ImageNet-C the mCE of each where defined (lower is better; comparable only against the same
    reference)."""
    ra = a if isinstance(a, Mapping) else load_report(a)
    rb = b if isinstance(b, Mapping) else load_report(b)

    def ref(r):
        x = r.get("reference")
        return f"{x['name']} ({str(x['weights'])[:12]})" if x else "none"

    def num(v, unit=""):
        return "–" if v is None else f"{v:.2f}{unit}"

    def better(va, vb, higher=True, tol=1e-9):
        if va is None or vb is None:
            return "not comparable"
        if abs(vb - va) <= tol:
            return "equal"
        return "B better" if (vb > va) == higher else "A better"

    ha, hb = ra.get("reference") is not None, rb.get("reference") is not None
    lines = [f"A: {ra['model']['name']}  |  B: {rb['model']['name']}"]
    same_ref = ha and hb and ra["reference"]["weights"] == rb["reference"]["weights"]
    if ha != hb:
        note = f" -- only {'A' if ha else 'B'} has a reference model: mCE is defined for that report only"
    elif ha and not same_ref:
        note = " -- different reference models: their CE/mCE are not comparable"
    elif not ha:
        note = " -- neither report has a reference model: no mCE"
    else:
        note = " (the same in both)"
    lines.append(f"reference model: A {ref(ra)}; B {ref(rb)}{note}")
    same = lambda f: f(ra) == f(rb)  # noqa: E731
    lines.append("data: " + ("same" if same(lambda r: r["data"]["sha256"]) else
                             f"DIFFERENT (A {ra['data']['name']}/{ra['data']['split']}, "
                             f"B {rb['data']['name']}/{rb['data']['split']})")
                 + "; seed: " + ("same" if same(lambda r: r["seed"]) else f"A {ra['seed']}, B {rb['seed']}"))
    fa, fb = ra.get("floor") or {}, rb.get("floor") or {}
    if fa or fb:
        lines.append(f"trivial floor (majority class everywhere), mIoU points: A {num(fa.get('mIoU'))}, "
                     f"B {num(fb.get('mIoU'))}")
    lines.append("per suite (mIoU in points 0-100, higher is better; rR = mean resilience rate, % of clean; "
                 "mCE lower is better):")
    sa, sb = ra.get("suites", {}), rb.get("suites", {})
    for s in [x for x in REPORT_SUITES if x in sa or x in sb]:
        ma = (sa.get(s) or {}).get("summary", {}).get("mIoU")
        mb = (sb.get(s) or {}).get("summary", {}).get("mIoU")
        d = f"{mb - ma:+.2f}" if ma is not None and mb is not None else "–"
        line = f"  {s}: mean mIoU A {num(ma)}, B {num(mb)}, B-A {d} ({better(ma, mb)})"
        if s != "clean":
            rra = ((sa.get(s) or {}).get("resilience") or {}).get("mean")
            rrb = ((sb.get(s) or {}).get("resilience") or {}).get("mean")
            if rra is not None or rrb is not None:
                line += f"; rR A {num(rra, '%')}, B {num(rrb, '%')} ({better(rra, rrb)})"
        if s == "imagenet_c":
            ca = ((sa.get(s) or {}).get("corruption_error") or {}).get("mCE")
            cb = ((sb.get(s) or {}).get("corruption_error") or {}).get("mCE")
            if ca is None and cb is None:
                line += "; mCE undefined (no reference model)"
            else:
                line += f"; mCE A {num(ca)}, B {num(cb)}"
                line += f" ({better(ca, cb, higher=False)})" if same_ref else " (not comparable: " + (
                    "only one report has a reference)" if ha != hb else "different references)")
        lines.append(line)
    return lines


