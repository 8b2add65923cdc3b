"""The sampling distribution over perturbations and levels (SPEC.md §4, Eq. 10–11).

N perturbation types plus clean data. Clean gets probability ``1/(N+1)``; each type gets
``1/(N+1)``, shared among its L levels by one of two weightings:

- ``"accuracy"`` (the paper): ``p(t, l) = 1/(N+1) · mIoU(t, l) / Σ_l' mIoU(t, l')`` — a level
  with higher mIoU is drawn more often (mIoU in percent; all-zero mIoUs → equal shares).
- ``"rank"`` (the authors' code): levels ranked by mIoU (highest first, ties: smaller α first)
  get the Beta-Binomial pmf ``p_r = C(n, r)·B(r + a, n - r + b)/B(a, b)`` at ``r = 0..L-1``
  with ``n = L - 1`` (so the L weights are the whole pmf and sum to 1), ``a = 0.75``, ``b = 1``.
  For the default L = 5 levels (4 solved + α_max) this is 0.2800, 0.2100, 0.1838, 0.1684,
  0.1579 of the type mass: the "0.28, 0.21, 0.184, 0.168 for 4 levels" of the spec are the
  weights of the 4 best-ranked levels (``n`` = number of solved levels = 4). Checked
  numerically: the alternatives — ``n = L`` truncated to ``r < L`` and renormalised, or
  ``n = 4`` with only 4 levels renormalised — give 0.3325, 0.2494, 0.2182, 0.2000 instead.

A drawn level α is jittered: ``α' = clip(α + N(0, σ_j²), 0, 1)`` with ``σ_j = 0.1`` (magnitude
units). :meth:`Distribution.uniform` is the warm-up / ``Ours~SA`` distribution: each type
``1/(N+1)`` and a magnitude drawn uniformly from [0, 1] (or from L evenly spaced levels).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from repro.base.validation import is_int

__all__ = ["TYPE_SETS", "Distribution", "rank_weights", "resolve_types"]


def _type_sets() -> dict[str, tuple[str, ...]]:
    from repro.perturb import functional as perturb  # the definitions only (not the transforms, which use sampling)

    return {"all": tuple(perturb.NAMES),
            "no_geo": tuple(perturb.PHOTOMETRIC) + tuple(perturb.OTHER),
            "no_photo": tuple(perturb.GEOMETRIC) + tuple(perturb.OTHER)}


#: named perturbation sets: all 24, without the 10 affine ones (``Ours~g``, 14), without the 12
#: channel ones (``Ours~p``, 12)
TYPE_SETS: dict[str, tuple[str, ...]] = _type_sets()

CLEAN = "clean"


def resolve_types(types: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``None`` → ``None``; a :data:`TYPE_SETS` key → its names; a sequence → validated names."""
    if types is None:
        return None
    if isinstance(types, str):
        if types not in TYPE_SETS:
            raise ValueError(f"unknown type set {types!r}; expected one of {sorted(TYPE_SETS)} or a list of names")
        return TYPE_SETS[types]
    types = tuple(types)
    if not types:
        raise ValueError("types must name at least one perturbation")
    bad = [t for t in types if t not in TYPE_SETS["all"]]
    if bad:
        raise ValueError(f"unknown perturbation names {bad}; expected names from repro.perturb.NAMES")
    if len(set(types)) != len(types):
        raise ValueError("types must not repeat a name")
    return types


def rank_weights(num_levels: int, *, a: float = 0.75, b: float = 1.0) -> np.ndarray:
    """Beta-Binomial(n = num_levels - 1, a, b) pmf at r = 0..num_levels-1 (sums to 1)."""
    from scipy.stats import betabinom

    if isinstance(num_levels, bool) or not isinstance(num_levels, (int, np.integer)) or num_levels < 1:
        raise ValueError(f"num_levels must be a positive integer, got {num_levels!r}")
    if num_levels == 1:
        return np.ones(1)
    return betabinom.pmf(np.arange(num_levels), num_levels - 1, a, b)


class Distribution:
    """A discrete distribution over (clean) and (type, level), with jittered sampling.

    Build with :meth:`from_analysis` or :meth:`uniform`; read :attr:`probabilities`; draw with
    :meth:`sample`; store with :meth:`to_dict` / :meth:`from_dict`.
    """

    def __init__(self, rows: pd.DataFrame, *, weighting: str, jitter: float = 0.1, continuous: bool = False):
        self._rows = rows.reset_index(drop=True)
        self.weighting = weighting
        self.jitter = float(jitter)
        self.continuous = bool(continuous)
        p = self._rows["p"].to_numpy(float)
        if np.any(p < 0) or not math.isclose(p.sum(), 1.0, abs_tol=1e-9):
            raise ValueError("probabilities must be non-negative and sum to 1")

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_analysis(cls, table: pd.DataFrame, *, weighting: str = "accuracy",
                      types: str | Sequence[str] | None = None, jitter: float = 0.1,
                      rank_a: float = 0.75, rank_b: float = 1.0) -> "Distribution":
        """Distribution from a sensitivity table (columns ``type``, ``level``, ``alpha``, ``miou``).

        ``types``: restrict to these names or to a :data:`TYPE_SETS` key (ablations); default
        all types in the table. ``jitter``: σ of the Gaussian jitter (magnitude units).
        """
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
        missing = {"type", "level", "alpha", "miou"} - set(table.columns)
        if missing:
            raise ValueError(f"table lacks columns {sorted(missing)}; expected type, level, alpha, miou")
        if weighting not in ("accuracy", "rank"):
            raise ValueError(f"weighting must be 'accuracy' or 'rank', got {weighting!r}")
        _check_jitter(jitter)
        sel = resolve_types(types)
        tab = table[table["type"] != CLEAN]
        if sel is None:
            sel = tuple(dict.fromkeys(tab["type"]))
        else:
            absent = [t for t in sel if t not in set(tab["type"])]
            if absent:
                raise ValueError(f"types {absent} are not in the table")
        if not sel:
            raise ValueError("the table holds no perturbation rows")
        n = len(sel)
        mass = 1.0 / (n + 1)
        rows = [{"type": CLEAN, "level": 0, "alpha": 0.0, "miou": np.nan, "p": mass}]
        for t in sel:
            g = tab[tab["type"] == t].sort_values("level")
            miou = g["miou"].to_numpy(float)
            alpha = g["alpha"].to_numpy(float)
            if not np.all(np.isfinite(miou)) or np.any(miou < 0):
                raise ValueError(f"type {t!r}: mIoU values must be finite and >= 0, got {miou}")
            if np.any((alpha < 0) | (alpha > 1)) or not np.all(np.isfinite(alpha)):
                raise ValueError(f"type {t!r}: alpha values must lie in [0, 1], got {alpha}")
            if weighting == "accuracy":
                w = miou / miou.sum() if miou.sum() > 0 else np.full(len(miou), 1.0 / len(miou))
            else:
                order = np.lexsort((alpha, -miou))  # best mIoU first, ties: smaller α first
                w = np.empty(len(miou))
                w[order] = rank_weights(len(miou), a=rank_a, b=rank_b)
            for lvl, a_, m_, w_ in zip(g["level"], alpha, miou, w):
                rows.append({"type": t, "level": int(lvl), "alpha": float(a_), "miou": float(m_), "p": mass * float(w_)})
        df = pd.DataFrame(rows, columns=["type", "level", "alpha", "miou", "p"])
        df["p"] = df["p"] / df["p"].sum()  # remove rounding residue (≈1e-16)
        return cls(df, weighting=weighting, jitter=jitter)

    @classmethod
    def uniform(cls, types: str | Sequence[str] = "all", *, num_levels: int | None = None,
                jitter: float = 0.1) -> "Distribution":
        """Warm-up / ``Ours~SA`` distribution: clean and every type ``1/(N+1)``.

        ``num_levels=None``: magnitude drawn uniformly from [0, 1] (no levels, no jitter).
        ``num_levels=L``: the L evenly spaced levels ``k/L`` (k = 1..L) with equal shares,
        jittered like an analysed distribution.
        """
        sel = resolve_types(types)
        _check_jitter(jitter)
        n = len(sel)
        mass = 1.0 / (n + 1)
        rows = [{"type": CLEAN, "level": 0, "alpha": 0.0, "miou": np.nan, "p": mass}]
        if num_levels is None:
            rows += [{"type": t, "level": 0, "alpha": np.nan, "miou": np.nan, "p": mass} for t in sel]
        else:
            if isinstance(num_levels, bool) or not isinstance(num_levels, (int, np.integer)) or num_levels < 1:
                raise ValueError(f"num_levels must be a positive integer or None, got {num_levels!r}")
            rows += [{"type": t, "level": k, "alpha": k / num_levels, "miou": np.nan, "p": mass / num_levels}
                     for t in sel for k in range(1, num_levels + 1)]
        df = pd.DataFrame(rows, columns=["type", "level", "alpha", "miou", "p"])
        df["p"] = df["p"] / df["p"].sum()
        return cls(df, weighting="uniform", jitter=jitter, continuous=num_levels is None)

    # ---------------------------------------------------------------- access
    @property
    def probabilities(self) -> pd.DataFrame:
        """Tidy table: type (``"clean"`` for clean data), level (0 for clean), alpha, miou, p."""
        return self._rows.copy()

    @property
    def types(self) -> tuple[str, ...]:
        """Perturbation names, in table order (clean excluded)."""
        return tuple(dict.fromkeys(t for t in self._rows["type"] if t != CLEAN))

    def type_mass(self) -> pd.Series:
        """Total probability of clean and of each type."""
        return self._rows.groupby("type", sort=False)["p"].sum()

    def sample(self, n: int, generator: np.random.Generator | torch.Generator) -> list[tuple[str | None, float]]:
        """Draw ``n`` samples: ``(None, 0.0)`` for clean, else ``(type, magnitude)``.

        A row is drawn with probability ``p``; its level α is jittered to
        ``clip(α + N(0, jitter²), 0, 1)`` (continuous uniform distributions draw the magnitude
        from U[0, 1] instead). ``generator`` is a ``numpy.random.Generator`` or a
        ``torch.Generator`` (CPU); same generator state → same draws.
        """
        if not is_int(n, 0):
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        p = self._rows["p"].to_numpy(float)
        if isinstance(generator, np.random.Generator):
            idx = generator.choice(len(p), size=n, p=p)
            z = generator.standard_normal(n)
            u = generator.random(n)
        elif isinstance(generator, torch.Generator):
            if n == 0:
                return []
            idx = torch.multinomial(torch.tensor(p, dtype=torch.float64), n, replacement=True,
                                    generator=generator).numpy()
            z = torch.randn(n, generator=generator, dtype=torch.float64).numpy()
            u = torch.rand(n, generator=generator, dtype=torch.float64).numpy()
        else:
            raise TypeError("generator must be a numpy.random.Generator or a torch.Generator, "
                            f"got {type(generator).__name__}")
        types = self._rows["type"].to_numpy(object)
        alpha = self._rows["alpha"].to_numpy(float)
        out: list[tuple[str | None, float]] = []
        for i, zi, ui in zip(idx, z, u):
            t = types[i]
            if t == CLEAN:
                out.append((None, 0.0))
            elif np.isnan(alpha[i]):
                out.append((str(t), float(ui)))
            else:
                out.append((str(t), float(np.clip(alpha[i] + self.jitter * zi, 0.0, 1.0))))
        return out

    # ---------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain python types only (JSON-able), for checkpoints; inverse of :meth:`from_dict`."""
        rows = []
        for r in self._rows.itertuples(index=False):
            rows.append({"type": str(r.type), "level": int(r.level),
                         "alpha": None if np.isnan(r.alpha) else float(r.alpha),
                         "miou": None if np.isnan(r.miou) else float(r.miou), "p": float(r.p)})
        return {"version": 1, "weighting": self.weighting, "jitter": self.jitter,
                "continuous": self.continuous, "rows": rows}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Distribution":
        """Rebuild a distribution stored with :meth:`to_dict`."""
        if not isinstance(d, Mapping) or "rows" not in d or d.get("version") != 1:
            raise ValueError("expected a dict made by Distribution.to_dict() (version 1, with 'rows')")
        df = pd.DataFrame([{**r, "alpha": np.nan if r["alpha"] is None else r["alpha"],
                            "miou": np.nan if r["miou"] is None else r["miou"]} for r in d["rows"]],
                          columns=["type", "level", "alpha", "miou", "p"])
        return cls(df, weighting=d["weighting"], jitter=d["jitter"], continuous=d.get("continuous", False))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Distribution) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (f"Distribution({len(self.types)} types, weighting={self.weighting!r}, jitter={self.jitter}, "
                f"rows={len(self._rows)})")

    # ---------------------------------------------------------------- display
    def heatmap_table(self) -> pd.DataFrame:
        """Type × level matrix of probabilities (clean as its own row, level 0)."""
        return self._rows.pivot_table(index="type", columns="level", values="p", sort=False)


def _check_jitter(jitter):
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not (jitter >= 0) or math.isinf(jitter):
        raise ValueError(f"jitter must be a finite standard deviation >= 0 (magnitude units), got {jitter!r}")
