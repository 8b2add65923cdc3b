"""The level search of the sensitivity analysis, model-free (SPEC.md §3, Algorithm 1): the
cumulative sensitivity S(α) = ΔmIoU/ΔmIoU_max + KID/KID_max, its monotone fit and the solution
of S(α_k) = k·S(α_max)/L, the adaptive search (ASA) and the uniform-grid baseline, the
degenerate-curve guard, and the blur kernel rounding. :func:`repro.analysis.sensitivity.analyse`
runs them on a model; everything here takes a callable ``evaluate(α) -> (mIoU, KID)``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from repro.perturb.functional import MAX_BLUR_KERNEL, blur_kernel_size
from repro.base.validation import is_number

EPS = 1e-6
#: default z of the degenerate-curve guard: an end point must exceed z times its noise
GUARD_Z = 2.0


# ----------------------------------------------------------------------------- S(α)
def cumulative_sensitivity(alpha, miou, kid, *, clean_miou: float, miou_max: float, kid_max: float,
                           alpha_max: float = 1.0, eps: float = EPS):
    """Cumulative sensitivity ``S(α)`` (vectorised over ``alpha``, ``miou``, ``kid``).

    ``S = (clean_miou - miou)/(clean_miou - miou_max + eps) + 2·alpha/alpha_max - kid/(kid_max + eps)``

    Parameters
    ----------
    alpha : float or array
        Magnitudes in [0, alpha_max] (unitless).
    miou, kid : float or array (broadcastable with ``alpha``)
        mIoU (percent) and KID (unitless) on the perturbed subset at ``alpha``.
    clean_miou : float
        mIoU (percent) on the clean subset, i.e. at α = 0.
    miou_max, kid_max : float
        mIoU (percent) and KID at α = alpha_max.
    alpha_max : float
        Largest magnitude (default 1).
    eps : float
        Small constant keeping the ratios finite when a perturbation changes nothing.

    Returns a float for scalar inputs, else a numpy array.
    """
    if not alpha_max > 0:
        raise ValueError(f"alpha_max must be > 0, got {alpha_max!r}")
    a = np.asarray(alpha, dtype=np.float64)
    m = np.asarray(miou, dtype=np.float64)
    k = np.asarray(kid, dtype=np.float64)
    s = (clean_miou - m) / (clean_miou - miou_max + eps) + 2.0 * a / alpha_max - k / (kid_max + eps)
    return float(s) if s.ndim == 0 else s


def targets(num_levels: int) -> np.ndarray:
    """Targets ``y_k = 2k/L`` for k = 1..L-1 (L = ``num_levels`` ≥ 2)."""
    if isinstance(num_levels, bool) or not isinstance(num_levels, (int, np.integer)) or num_levels < 2:
        raise ValueError(f"num_levels must be an integer >= 2, got {num_levels!r}")
    return 2.0 * np.arange(1, num_levels) / num_levels


# ----------------------------------------------------------------------------- fitting
def monotone_points(alpha, s, *, s_min: float = 0.0, s_max: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Clean evaluated points for a monotone fit.

    Sort by α, merge duplicate α (mean S), clip S to [s_min, s_max] and enforce monotonicity
    with a running maximum. Returns strictly increasing α and non-decreasing S.
    """
    a = np.asarray(alpha, dtype=np.float64).ravel()
    y = np.asarray(s, dtype=np.float64).ravel()
    if a.shape != y.shape or a.size == 0:
        raise ValueError("alpha and s must be non-empty and of equal length")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(y))):
        raise ValueError("alpha and s must be finite")
    order = np.argsort(a, kind="stable")
    a, y = a[order], y[order]
    ua, inv = np.unique(a, return_inverse=True)
    uy = np.bincount(inv, weights=y) / np.bincount(inv)
    uy = np.maximum.accumulate(np.clip(uy, s_min, s_max))
    return ua, uy


def solve_targets(alpha, s, ys) -> np.ndarray:
    """Solve the monotone PCHIP interpolant through ``(alpha, s)`` for each target in ``ys``.

    The points are made monotone first (:func:`monotone_points`); each target's solution is its
    first crossing. Targets below/above the fitted range map to the first/last α.
    """
    from scipy.interpolate import PchipInterpolator

    xa, xs = monotone_points(alpha, s)
    ys = np.atleast_1d(np.asarray(ys, dtype=np.float64))
    if xa.size == 1:
        return np.full(ys.shape, xa[0])
    f = PchipInterpolator(xa, xs, extrapolate=False)
    out = np.empty_like(ys)
    for i, y in enumerate(ys):
        if y <= xs[0]:
            out[i] = xa[0]
            continue
        if y > xs[-1]:
            out[i] = xa[-1]
            continue
        j = int(np.searchsorted(xs, y, side="left"))  # first j with xs[j] >= y; j >= 1
        lo, hi = xa[j - 1], xa[j]
        if xs[j] == y:  # exact hit at a node (first crossing)
            out[i] = hi
            continue
        # PCHIP is monotone between nodes, so bisection on [lo, hi] finds the crossing
        flo = float(f(lo)) - y
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            fm = float(f(mid)) - y
            if (fm < 0) == (flo < 0):
                lo, flo = mid, fm
            else:
                hi = mid
            if hi - lo < 1e-12:
                break
        out[i] = 0.5 * (lo + hi)
    return out


def pchip_curve(alpha, s, grid) -> np.ndarray:
    """Values of the monotone PCHIP fit through ``(alpha, s)`` at ``grid`` (for plots)."""
    from scipy.interpolate import PchipInterpolator

    xa, xs = monotone_points(alpha, s)
    g = np.asarray(grid, dtype=np.float64)
    if xa.size == 1:
        return np.full(g.shape, xs[0])
    return PchipInterpolator(xa, xs, extrapolate=False)(np.clip(g, xa[0], xa[-1]))


# ----------------------------------------------------------------------------- result
@dataclass
class LevelResult:
    """Levels chosen for one perturbation type.

    Attributes
    ----------
    method : "adaptive" or "uniform"
    levels : array of L magnitudes: the L-1 solved levels (sorted) followed by α_max
    targets : array of the L-1 targets ``2k/L``
    uncertainty : array of L-1 per-level uncertainties (α units; see the level functions)
    points : DataFrame with columns order, alpha, miou, kid, S, counted — every point in the
        order it was obtained; order 0 is the clean point (α = 0), ``counted`` says whether it
        cost a call of ``evaluate``
    n_evaluations : number of calls of ``evaluate``
    stop_reason : "tolerance", "budget", "grid" or "degenerate"
    history : list of the solved levels after each fit (ASA only; for plots)
    flag : "" or why the curve is degenerate (then the levels are the uniform ``k·α_max/L``)
    """
    method: str
    levels: np.ndarray
    targets: np.ndarray
    uncertainty: np.ndarray
    points: pd.DataFrame
    n_evaluations: int
    stop_reason: str
    alpha_max: float = 1.0
    history: list = field(default_factory=list)
    flag: str = ""

    def level_values(self, column: str) -> np.ndarray:
        """``miou``/``kid``/``S`` at each level, interpolated linearly between evaluated points."""
        pts = self.points.sort_values("alpha")
        a = pts["alpha"].to_numpy(float)
        v = pts[column].to_numpy(float)
        ua, inv = np.unique(a, return_inverse=True)
        uv = np.bincount(inv, weights=v) / np.bincount(inv)
        return np.interp(self.levels, ua, uv)

    def to_dict(self) -> dict:
        """Plain-python (JSON-able) representation."""
        return {"method": self.method, "levels": [float(x) for x in self.levels],
                "targets": [float(x) for x in self.targets],
                "uncertainty": [float(x) for x in self.uncertainty],
                "points": self.points.to_dict(orient="list"), "n_evaluations": int(self.n_evaluations),
                "stop_reason": self.stop_reason, "alpha_max": float(self.alpha_max),
                "history": [[float(x) for x in h] for h in self.history], "flag": self.flag}


def _check_common(num_levels, alpha_max, round_fn):
    targets(num_levels)
    if not isinstance(alpha_max, (int, float, np.floating)) or isinstance(alpha_max, bool) or not alpha_max > 0:
        raise ValueError(f"alpha_max must be a positive number, got {alpha_max!r}")
    if round_fn is not None and not callable(round_fn):
        raise TypeError("round_fn must be callable (alpha -> alpha) or None")


class _Evaluator:
    """Calls ``evaluate``, validates its output and records points in order.

    ``evaluate(α)`` returns ``(miou, kid)`` or ``(miou, kid, miou_se, kid_se)``: the noise of the
    mIoU drop and of KID at α (standard errors; NaN or absent = unknown)."""

    def __init__(self, evaluate, clean):
        if not callable(evaluate):
            raise TypeError("evaluate must be a callable alpha -> (miou, kid)")
        self.evaluate = evaluate
        self.rows: list[dict] = []
        self.n = 0
        if clean is None:
            m, k = self.call(0.0)
            self.rows[-1]["alpha"] = 0.0
        else:
            m, k, _, _ = self._check(clean, "clean")
            self.rows.append({"alpha": 0.0, "miou": m, "kid": k, "counted": False, "miou_se": 0.0, "kid_se": 0.0})
        self.clean_miou = m

    @staticmethod
    def _check(out, what):
        try:
            vals = [float(v) for v in out]
            if len(vals) not in (2, 4):
                raise ValueError
        except (TypeError, ValueError):
            raise TypeError(f"{what} must be a pair (miou, kid) of numbers (or (miou, kid, miou_se, kid_se)), "
                            f"got {out!r}") from None
        m, k = vals[:2]
        ms, ks = vals[2:] if len(vals) == 4 else (math.nan, math.nan)
        if not (math.isfinite(m) and math.isfinite(k)):
            raise ValueError(f"{what} returned non-finite values (miou={m}, kid={k})")
        return m, k, ms, ks

    def call(self, alpha):
        m, k, ms, ks = self._check(self.evaluate(float(alpha)), f"evaluate({alpha:.4g})")
        self.n += 1
        self.rows.append({"alpha": float(alpha), "miou": m, "kid": k, "counted": True, "miou_se": ms, "kid_se": ks})
        return m, k

    def degenerate(self, guard: float | None) -> str:
        """:func:`degenerate_reason` of the last point (α_max), or "" (``guard=None``: never)."""
        if guard is None:
            return ""
        r = self.rows[-1]
        return degenerate_reason(self.clean_miou - r["miou"], r["kid"], miou_se=r["miou_se"], kid_se=r["kid_se"],
                                 z=guard)

    def frame(self, alpha_max, eps):
        df = pd.DataFrame(self.rows, columns=["alpha", "miou", "kid", "counted", "miou_se", "kid_se"])
        df.insert(0, "order", np.arange(len(df)))
        at_max = df.index[np.isclose(df["alpha"], alpha_max)]
        if len(at_max):
            m_max, k_max = df.loc[at_max[0], "miou"], df.loc[at_max[0], "kid"]
            s = cumulative_sensitivity(df["alpha"].to_numpy(), df["miou"].to_numpy(), df["kid"].to_numpy(),
                                       clean_miou=self.clean_miou, miou_max=m_max, kid_max=k_max,
                                       alpha_max=alpha_max, eps=eps)
            s = np.atleast_1d(s).astype(float)
            s[df["alpha"].to_numpy() == 0.0] = 0.0       # the two end points are fixed by definition
            s[np.isclose(df["alpha"].to_numpy(), alpha_max)] = 2.0
        else:
            s = np.full(len(df), np.nan)
        df["S"] = s
        return df[["order", "alpha", "miou", "kid", "S", "counted", "miou_se", "kid_se"]]


def degenerate_reason(miou_drop: float, kid: float, *, miou_se: float = math.nan, kid_se: float = math.nan,
                      z: float = GUARD_Z) -> str:
    """Why S is undefined for a type: "" when both end points are clearly positive.

    ``miou_drop = mIoU(0) - mIoU(α_max)`` (points, 0–100, as every mIoU of the package) and
    ``kid = KID(α_max)`` (raw MMD², :mod:`repro.analysis.kid`) must exceed ``z`` times their noise
    (``miou_se``, ``kid_se``; NaN counts as 0, i.e. they must then be > 0). The message names the
    units: ``"mIoU drop at alpha_max 0.58 points <= 2 x noise 0.291 points"``.
    """
    if not (is_number(z) and z >= 0):
        raise ValueError(f"guard z must be a number >= 0, got {z!r}")
    ms = 0.0 if not math.isfinite(miou_se) else float(miou_se)
    ks = 0.0 if not math.isfinite(kid_se) else float(kid_se)
    why = []
    if not miou_drop > z * ms:
        why.append(f"mIoU drop at alpha_max {miou_drop:.3g} points <= {z:g} x noise {ms:.3g} points")
    if not kid > z * ks:
        why.append(f"KID at alpha_max {kid:.3g} (raw MMD²) <= {z:g} x noise {ks:.3g}")
    return "; ".join(why)


def _uniform_fallback(ev, num_levels, alpha_max, rnd, ys, eps, flag, method, history=None) -> LevelResult:
    """Levels ``k·α_max/L`` for a degenerate curve (no further evaluations)."""
    lv = np.array([float(np.clip(rnd(alpha_max * k / num_levels), 0.0, alpha_max)) for k in range(1, num_levels)])
    return LevelResult(method, np.append(lv, alpha_max), ys, np.full(num_levels - 1, np.nan), ev.frame(alpha_max, eps),
                       ev.n, "degenerate", float(alpha_max), history or [], flag)


def adaptive_levels(evaluate: Callable[[float], tuple[float, float]], *, num_levels: int = 5, tol: float = 0.05,
                    budget: int | None = None, alpha_max: float = 1.0,
                    round_fn: Callable[[float], float] | None = None,
                    clean: tuple[float, float] | None = None, eps: float = EPS,
                    guard: float | None = GUARD_Z) -> LevelResult:
    """Adaptive sensitivity analysis (ASA, Algorithm 1) for one perturbation type.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(alpha) -> (miou, kid)``: mIoU (percent) and KID of the model on the subset
        perturbed at magnitude ``alpha``; or ``(miou, kid, miou_se, kid_se)`` with the noise
        (standard errors) of the mIoU drop and of KID, used by the guard.
    num_levels : int
        L (≥ 2); L-1 levels are solved, α_max is the L-th.
    tol : float
        Tolerance as a fraction of α_max (default 0.05): stop when every target's solution lies
        within ``tol·α_max`` of an evaluated magnitude.
    budget : int, optional
        Maximum number of calls of ``evaluate`` (including the one at α_max, and the clean one
        when ``clean`` is not given).
    alpha_max : float
        Largest magnitude (default 1).
    round_fn : callable, optional
        Maps a magnitude to the nearest one that can actually be applied (e.g. :func:`snap_blur`
        for odd blur kernels); applied to every solution before it is evaluated or returned.
    clean : (miou, kid), optional
        The clean point (α = 0), usually computed once for all types; KID there is normally 0.
        When omitted, ``evaluate(0.0)`` is called (and counted).
    eps : float
        ε of :func:`cumulative_sensitivity`.
    guard : float or None
        z of the degenerate-curve guard (module docstring; ``None`` disables it): when the mIoU
        drop or KID at α_max is not above ``guard`` times its noise, stop after that evaluation
        and return the uniform levels ``k·α_max/L`` with ``flag`` saying why.

    Returns a :class:`LevelResult`. Uncertainty of a level = distance from its solution to the
    nearest evaluated α. Non-monotone (noisy) S never raises: points are sorted, duplicates
    merged, S clipped to [0, 2] and made monotone by a running maximum before the fit, and the
    first crossing is taken; the returned levels are sorted and inside [0, α_max].
    """
    _check_common(num_levels, alpha_max, round_fn)
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"tol must be a fraction of alpha_max in (0, 1), got {tol!r}")
    min_budget = 1 if clean is not None else 2
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < min_budget):
        raise ValueError(f"budget must be an integer >= {min_budget} (evaluations incl. alpha_max"
                         f"{'' if clean is not None else ' and the clean one'}), got {budget!r}")
    ys = targets(num_levels)
    rnd = (lambda a: a) if round_fn is None else round_fn
    ev = _Evaluator(evaluate, clean)
    ev.call(alpha_max)
    flag = ev.degenerate(guard)
    if flag:
        return _uniform_fallback(ev, num_levels, alpha_max, rnd, ys, eps, flag, "adaptive")
    abs_tol = tol * alpha_max
    history: list[np.ndarray] = []
    stop = None
    while True:
        pts = ev.frame(alpha_max, eps)
        sol = solve_targets(pts["alpha"].to_numpy(), pts["S"].to_numpy(), ys)
        sol = np.clip(np.array([float(rnd(float(a))) for a in sol]), 0.0, alpha_max)
        history.append(sol.copy())
        evaluated = pts["alpha"].to_numpy()
        unc = np.min(np.abs(sol[:, None] - evaluated[None, :]), axis=1)
        if np.all(unc < abs_tol):
            stop = "tolerance"
        elif budget is not None and ev.n >= budget:
            stop = "budget"
        if stop:
            break
        k = int(np.argmax(unc))
        ev.call(sol[k])
    pts = ev.frame(alpha_max, eps)
    order = np.argsort(sol, kind="stable")
    return LevelResult("adaptive", np.append(np.sort(sol), alpha_max), ys, unc[order], pts, ev.n, stop,
                       float(alpha_max), history)


def _maximin_choice(s_grid: np.ndarray, k: int, ys: np.ndarray) -> tuple[int, ...]:
    """Indices of ``k`` of the candidate points maximising the smallest S gap (ends 0 and 2)."""
    n = len(s_grid)
    best, best_key = None, None
    for comb in itertools.combinations(range(n), k):
        seq = np.concatenate([[0.0], s_grid[list(comb)], [2.0]])
        gap = float(np.min(np.diff(seq)))
        dev = float(np.sum(np.abs(s_grid[list(comb)] - ys)))
        key = (round(gap, 12), -dev)
        if best_key is None or key > best_key:
            best, best_key = comb, key
    return best


def uniform_levels(evaluate: Callable[[float], tuple[float, float]], *, num_levels: int = 5, grid: int = 10,
                   alpha_max: float = 1.0, round_fn: Callable[[float], float] | None = None,
                   clean: tuple[float, float] | None = None, eps: float = EPS,
                   guard: float | None = GUARD_Z) -> LevelResult:
    """Uniform sensitivity analysis (the baseline of Appendix D) for one perturbation type.

    Evaluates S at ``α_max·i/grid`` for i = 1..grid (``grid`` evaluations, plus the clean one
    when ``clean`` is not given), then picks the L-1 interior grid points (i < grid) whose S
    values, with S = 0 and S = 2 as end points and neighbours in α order, maximise the smallest
    gap; ties go to the choice closest to the targets ``2k/L``. The levels are those grid points
    plus α_max. A level's uncertainty is its distance from the target's solution on the PCHIP fit
    through the grid (how far the grid pick is from the interpolated inverse). ``guard``: as in
    :func:`adaptive_levels` (α_max is evaluated first; a degenerate curve stops there).
    """
    _check_common(num_levels, alpha_max, round_fn)
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < num_levels:
        raise ValueError(f"grid must be an integer >= num_levels ({num_levels}), got {grid!r}")
    ys = targets(num_levels)
    rnd = (lambda a: a) if round_fn is None else round_fn
    ev = _Evaluator(evaluate, clean)
    mags = []
    for i in range(1, grid + 1):
        a = alpha_max if i == grid else float(np.clip(rnd(alpha_max * i / grid), 0.0, alpha_max))
        if a in mags or a == 0.0:
            continue  # rounding made two grid points equal
        mags.append(a)
    # α_max first so that S of the others is defined; evaluation order is then ascending
    ev.call(alpha_max)
    flag = ev.degenerate(guard)
    if flag:
        return _uniform_fallback(ev, num_levels, alpha_max, rnd, ys, eps, flag, "uniform")
    for a in mags[:-1]:
        ev.call(a)
    pts = ev.frame(alpha_max, eps)
    inner = pts[(pts["alpha"] > 0) & (pts["alpha"] < alpha_max)].sort_values("alpha")
    cand_a, cand_s = inner["alpha"].to_numpy(), inner["S"].to_numpy()
    k = num_levels - 1
    if len(cand_a) < k:
        raise ValueError(f"the grid has only {len(cand_a)} distinct interior magnitudes after rounding; "
                         f"need num_levels-1 = {k}")
    comb = _maximin_choice(cand_s, k, ys)
    lv = cand_a[list(comb)]
    sol = solve_targets(pts["alpha"].to_numpy(), pts["S"].to_numpy(), ys)
    unc = np.abs(lv - sol)
    return LevelResult("uniform", np.append(lv, alpha_max), ys, unc, pts, ev.n, "grid", float(alpha_max), [])


# ----------------------------------------------------------------------------- blur rounding
def snap_blur(alpha: float, *, k_max: int = MAX_BLUR_KERNEL) -> float:
    """Round a blur magnitude to the nearest one giving an odd kernel ``k = 2·floor(k_max·α/2)+1``
    (:func:`repro.perturb.blur_kernel_size`, ``k_max`` = 49 pixels at α = 1).

    Returns the smallest magnitude giving that kernel, ``(k-1)/k_max``, nudged up by 1e-9 so that
    floating point cannot drop it to the kernel below (units: magnitude in [0, 1]).
    """
    a = float(alpha)
    k = 2 * int(round(k_max * a / 2.0)) + 1
    k = max(1, min(k, 2 * int(k_max // 2) + 1))
    if k == 1:
        return 0.0
    return min(1.0, (k - 1) / k_max + 1e-9)


def blur_kernel(alpha) -> np.ndarray:
    """Kernel sizes (pixels) for magnitudes ``alpha`` (an array of any shape): :func:`repro.perturb.blur_kernel_size`
    element by element (SPEC.md §1)."""
    a = np.asarray(alpha, dtype=np.float64)
    return np.array([blur_kernel_size(float(x)) for x in a.ravel()], dtype=int).reshape(a.shape)


