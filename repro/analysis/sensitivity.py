"""Sensitivity analysis: the cumulative sensitivity S(α), uniform and adaptive level selection
(SPEC.md §3, the paper's Algorithm 1), and :func:`analyse` for a real model and data subset.

For one perturbation type and magnitude α ∈ [0, α_max] (unitless, α_max = 1 by default)::

    S(α) = ΔmIoU(α) / (ΔmIoU(α_max) + ε) + 2·α/α_max - KID(α) / (KID(α_max) + ε)
    ΔmIoU(α) = mIoU(0) - mIoU(α)        (mIoU in percent; KID unitless)

S(0) = 0 and S(α_max) ≈ 2. With L levels the targets are ``y_k = 2k/L`` (k = 1..L-1) and the
levels are ``α_k = S⁻¹(y_k)`` plus α_max.

- :func:`uniform_levels`: S on a fixed grid of ``grid`` magnitudes ``α_max·i/grid``
  (i = 1..grid), then the L-1 grid points that maximise the smallest gap in S between
  neighbours (S = 0 and S = 2 as end points).
- :func:`adaptive_levels` (ASA): start from (0, 0) and (α_max, 2); repeat: fit a monotone PCHIP
  through the evaluated points, solve it for every target, uncertainty of a target = distance
  from its solution to the nearest evaluated α, evaluate at the most uncertain solution; stop
  when every uncertainty < ``tol·α_max`` (every level lies within the tolerance of an evaluated
  magnitude), or the evaluation budget is spent. There is no "the solutions stopped moving"
  rule: on a curved S whose first interior points happen to lie on a straight line (e.g.
  ``S = 2α + 0.2·sin(2.5πα)(1-α)`` at α = 0.4 and 0.8) such a rule stops with every
  unevaluated level off by more than the tolerance.

Degenerate curves (SPEC.md §3): S is undefined when the mIoU drop or the KID at α_max is not
clearly positive. Both level finders evaluate α_max first; when ``ΔmIoU(α_max) ≤ z·σ_ΔmIoU`` or
``KID(α_max) ≤ z·σ_KID`` (``z = guard``, default 2; σ: the noise an evaluator reports, 0 when
it reports none) they stop, return the uniform levels ``k·α_max/L`` for that type and say why in
``LevelResult.flag``; :func:`analyse` warns and records the flag in its table.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from repro.analysis.features import extractor as extractor_of
from repro.analysis.levels import (  # noqa: F401
    EPS, GUARD_Z, LevelResult, adaptive_levels, blur_kernel, cumulative_sensitivity, degenerate_reason,
    monotone_points, pchip_curve, snap_blur, solve_targets, targets, uniform_levels,
)
from repro.base.hashing import state_hash, tensor_hash
from repro.base.validation import check_int, is_number
from repro.perturb.functional import BORDERS
from repro.scoring import perturbed

__all__ = [
    "cumulative_sensitivity", "targets", "monotone_points", "solve_targets", "LevelResult",
    "adaptive_levels", "uniform_levels", "snap_blur", "analyse", "points_frame",
    "perturbation_evaluator", "pchip_curve", "AnalysisSettings", "METHODS", "blur_kernel", "degenerate_reason", "GUARD_Z",
]
def points_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The evaluated points stored by :func:`analyse` (``table.attrs["points"]``) as a DataFrame."""
    recs = table.attrs.get("points")
    if recs is None:
        raise ValueError("the table carries no evaluated points (was it made by repro.analysis.sensitivity.analyse?)")
    return pd.DataFrame.from_records(recs)


# ----------------------------------------------------------------------------- analyse
def kid_subset_size_for(n: int, kid_subset_size: int | None) -> int:
    """KID subset size of the analysis: ``kid_subset_size`` clipped to ``[2, n]``; ``None``: half
    the subset (``max(2, n // 2)``), so that the spread over subsets measures the noise of KID."""
    return max(2, min(int(kid_subset_size), n)) if kid_subset_size is not None else max(2, n // 2)


def perturbation_evaluator(model: Any, images, labels, name: str, *, extractor: Any, clean_features,
                           num_classes: int, ignore_index: int = 255, seed: int = 0, batch_size: int = 8,
                           device: Any = None, border: str = "zoom", kid_subsets: int = 100,
                           kid_subset_size: int | None = None, clean_matrices: Any = None,
                           bootstrap: int = 200) -> Callable[[float], tuple[float, float, float, float]]:
    """``evaluate(α) -> (mIoU, KID, σ_ΔmIoU, σ_KID)`` for perturbation ``name`` on ``images``/``labels``.

    Perturb then score (:func:`repro.scoring.perturbed.perturbed_matrices`, whose seed rule gives the same
    draws at every α: common random numbers): the model's per-image confusion matrices and the
    extractor's features; then

    * mIoU (percent) of the summed matrices;
    * ``σ_ΔmIoU``: standard error of ``mIoU(clean) - mIoU(α)`` by a paired bootstrap over the
      images (``bootstrap`` resamples; with ``clean_matrices``, the N×C×C clean per-image
      matrices, else of ``mIoU(α)`` alone);
    * KID: the paired estimator (row i of the perturbed features is image i perturbed,
      :func:`repro.analysis.kid.kid_result` with ``paired=True``), mean over ``kid_subsets`` subsets of
      :func:`kid_subset_size_for` images against ``clean_features``, and ``σ_KID`` the std over
      those subsets.
    """
    from repro.analysis import kid as kidmod
    from repro.scoring.metrics import bootstrap_miou_se, miou_of_matrices

    ext = extractor_of(extractor, device=device or "cpu")
    n = images.shape[0]
    ksize = kid_subset_size_for(n, kid_subset_size)

    def evaluate(alpha: float) -> tuple[float, float, float, float]:
        mats, feats = perturbed.perturbed_matrices(model, images, labels, name, alpha, seed=seed, num_classes=num_classes,
                                         ignore_index=ignore_index, batch_size=batch_size, device=device,
                                         border=border, extractor=ext)
        miou = float(miou_of_matrices(mats.sum(0)))
        se = bootstrap_miou_se(clean_matrices, mats, resamples=bootstrap, seed=seed) if clean_matrices is not None \
            else bootstrap_miou_se(mats, resamples=bootstrap, seed=seed)
        k = kidmod.kid_result(clean_features, feats, subsets=kid_subsets, subset_size=ksize, seed=seed,
                              paired=True)
        return miou, float(k.mean), float(se), float(k.std)

    return evaluate


def _resolve_data(dataset, subset, seed):
    """(images, labels, num_classes, ignore_index, identity dict) of the analysis subset."""
    import torch

    if isinstance(dataset, (tuple, list)) and len(dataset) == 2 and all(isinstance(t, torch.Tensor) for t in dataset):
        images, labels = dataset
        n = images.shape[0]
        ident = None  # filled after subsetting
        num_classes = ignore_index = None
    elif hasattr(dataset, "batch") and hasattr(dataset, "__len__"):
        n = len(dataset)
        images = labels = None
        ident = {"dataset": getattr(dataset, "name", type(dataset).__name__), "split": getattr(dataset, "split", None),
                 "names_sha": hashlib.sha1("\n".join(map(str, getattr(dataset, "names", []))).encode()).hexdigest()[:16]}
        num_classes = getattr(dataset, "num_classes", None)
        ignore_index = getattr(dataset, "ignore_index", 255)
    else:
        raise TypeError("dataset must be a SegDataset-like object (len, batch) or a pair (images N×3×H×W, labels N×H×W)")
    if subset is None:
        idx = list(range(n))
    elif isinstance(subset, (int, np.integer)) and not isinstance(subset, bool):
        if not 2 <= subset <= n:
            raise ValueError(f"subset must be between 2 and the dataset size {n}, got {subset}")
        idx = sorted(np.random.default_rng(seed).choice(n, size=int(subset), replace=False).tolist())
    else:
        idx = [int(i) for i in subset]
        if len(idx) < 2 or min(idx) < 0 or max(idx) >= n:
            raise ValueError(f"subset indices must select >= 2 samples in [0, {n}), got {len(idx)} in "
                             f"[{min(idx) if idx else None}, {max(idx) if idx else None}]")
    if images is None:
        images, labels = dataset.batch(idx)
        ident["indices"] = idx
    else:
        it = torch.as_tensor(idx, dtype=torch.long, device=images.device)
        images, labels = images.index_select(0, it), labels.index_select(0, it.to(labels.device))
        ident = {"tensor_sha": tensor_hash(images, labels)}
    return images, labels, num_classes, ignore_index, ident


#: the analysis methods of :class:`AnalysisSettings` (``"none"``: no analysis; the training hook then uses
#: the uniform levels ``k·α_max/L``, Ours~SA)
METHODS = ("adaptive", "uniform", "none")


@dataclass(frozen=True)
class AnalysisSettings:
    """How a sensitivity analysis measures and chooses its levels: one object under one set of names from
    the profile (``analysis:`` in ``repro/base/profiles.yaml``) to :func:`analyse`, notebook 03 and the training
    hook (``SensitivityHook(analysis=dict(...))``).

    method : ``"adaptive"`` (ASA, :func:`adaptive_levels`), ``"uniform"`` (:func:`uniform_levels`) or
        ``"none"`` (no analysis: levels ``k·α_max/L``; only the training hook accepts it, for Ours~SA)
    num_levels : L, levels per type (L-1 solved for the targets ``2k/L``, plus α_max); an int ≥ 2
    tol : ASA stops when every level lies within ``tol·α_max`` of an evaluated magnitude (fraction of α_max)
    budget : ASA evaluations per type, α_max's included (``None``: until ``tol`` is met)
    grid : uniform SA evaluates ``α_max·i/grid``, i = 1..grid
    alpha_max : the largest magnitude (unitless, in (0, 1])
    batch_size : images per forward pass (model and extractor), also the chunk of the noise stream
        (:mod:`repro.scoring.perturbed`)
    seed : seed of the subset draw, the perturbation draws (:func:`repro.base.seeds.derive_seed`), the KID
        subsets and the bootstrap
    border : border mode of the geometric perturbations (:data:`repro.perturb.BORDERS`)
    kid_subsets, kid_subset_size : KID as the mean over ``kid_subsets`` subsets of ``kid_subset_size``
        images (``None``: half the analysed images, :func:`kid_subset_size_for`)
    guard : z of the degenerate-curve guard (:func:`degenerate_reason`; ``None``: off)

    ``AnalysisSettings.of(x, **changes)`` accepts an ``AnalysisSettings``, a mapping of these names
    (a config dict) or ``None`` (the defaults), then applies ``changes``; an unknown name is a
    ``TypeError`` that lists the known ones.
    """

    method: str = "adaptive"
    num_levels: int = 5
    tol: float = 0.05
    budget: int | None = None
    grid: int = 10
    alpha_max: float = 1.0
    batch_size: int = 8
    seed: int = 0
    border: str = "zoom"
    kid_subsets: int = 100
    kid_subset_size: int | None = None
    guard: float | None = GUARD_Z

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"analysis method must be one of {', '.join(METHODS)}, got {self.method!r}")
        targets(check_int(self.num_levels, "num_levels", 2))
        if not is_number(self.tol) or not 0 < self.tol < 1:
            raise ValueError(f"tol must be a fraction of alpha_max in (0, 1), got {self.tol!r}")
        check_int(self.budget, "budget", 1, optional=True)
        check_int(self.grid, "grid", 1)
        if not is_number(self.alpha_max) or not 0 < self.alpha_max <= 1:
            raise ValueError(f"alpha_max must be a number in (0, 1], got {self.alpha_max!r}")
        check_int(self.batch_size, "batch_size", 1)
        check_int(self.seed, "seed", 0)
        if self.border not in BORDERS:
            raise ValueError(f"border must be one of {BORDERS}, got {self.border!r}")
        check_int(self.kid_subsets, "kid_subsets", 1)
        check_int(self.kid_subset_size, "kid_subset_size", 2, optional=True)
        if self.guard is not None and (not is_number(self.guard) or self.guard < 0):
            raise ValueError(f"guard must be a number >= 0 or None, got {self.guard!r}")

    @classmethod
    def of(cls, settings: "AnalysisSettings | Mapping[str, Any] | None" = None, **changes) -> "AnalysisSettings":
        """``settings`` (an ``AnalysisSettings``, a mapping of field names, or ``None``: the defaults) with ``changes``."""
        import dataclasses

        if settings is None:
            base = {}
        elif isinstance(settings, AnalysisSettings):
            base = dataclasses.asdict(settings)
        elif isinstance(settings, Mapping):
            base = dict(settings)
        else:
            raise TypeError(f"analysis settings must be an AnalysisSettings, a mapping of its fields or None, got "
                            f"{type(settings).__name__}")
        base.update(changes)
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(base) - set(known))
        if unknown:
            raise TypeError(f"unknown analysis setting(s) {', '.join(unknown)}; the settings are {', '.join(known)}")
        return cls(**base)

    def to_dict(self) -> dict:
        """The fields as a plain dict (for configs and cache keys)."""
        import dataclasses

        return dataclasses.asdict(self)


def analyse(model: Any, dataset: Any, types: str | Sequence[str] = "all", *,
            settings: AnalysisSettings | Mapping[str, Any] | None = None, subset: int | Sequence[int] | None = None,
            extractor: Any = "auto", device: Any = None, cache: bool = True, force: bool = False,
            clean_features: Any = None, clean_miou: float | None = None, num_classes: int | None = None,
            ignore_index: int | None = None, cache_key: str | None = None, progress: bool = True,
            warn: bool = True, **changes) -> pd.DataFrame:
    """Sensitivity analysis of ``model`` for many perturbation types on a data subset.

    For each type the levels are chosen by :func:`adaptive_levels` (``method="adaptive"``) or
    :func:`uniform_levels` (``method="uniform"``), where ``evaluate(α)`` perturbs the subset with
    ``repro.perturb.apply(images, labels, type, α, generator=…)`` (seeded per type, the same
    draws at every α), scores the model (mIoU, percent) and computes the paired KID between the
    clean and the perturbed features (:func:`perturbation_evaluator`). The clean mIoU, clean
    per-image confusion matrices and clean features are computed once. Blur levels snap to odd
    kernels. A type whose mIoU drop or KID at α_max is not clearly above its noise (``guard``)
    gets the uniform levels ``k·α_max/L``, a warning and a ``flag`` in the table.

    Parameters
    ----------
    model : nn.Module / callable images→logits, or an MMSegmentation segmentor
    dataset : a SegDataset (``batch``, ``num_classes``) or a pair ``(images, labels)`` of tensors
    types : perturbation names or a :data:`repro.analysis.sampling.TYPE_SETS` key
    settings, **changes : the :class:`AnalysisSettings` (method, num_levels, tol, budget, grid, alpha_max,
        batch_size, seed, border, kid_subsets, kid_subset_size, guard): ``AnalysisSettings.of(settings,
        **changes)``, e.g. ``analyse(model, data, settings=profile_settings, budget=6)``
    subset : number of samples drawn with the settings' ``seed`` (sorted), explicit indices, or None (all)
    extractor : a name for :func:`repro.analysis.features.extractor` (e.g. ``"auto"``, ``"conv-random"``), an
        ``Extractor`` or ``nn.Module``
    device : where to run (default: the model's device)
    cache, force, cache_key : cache each type's result with :func:`repro.base.cache.cached` (namespace
        ``sensitivity``) keyed by the type, the model's state hash, the images' content, the
        extractor and every setting, so that an analysis of some of the types reuses them; a plain
        function has no state hash, so it is cached only under an explicit ``cache_key``
    clean_features : precomputed clean features ``n × d`` of the subset (e.g. in a training hook)
    clean_miou : precomputed clean mIoU (percent) of the subset
    num_classes, ignore_index : needed when ``dataset`` is a tensor pair (ignore default 255)
    warn : warn (``UserWarning``) for each degenerate type; callers that report ``attrs["flags"]``
        themselves (notebooks, the training hook's log) pass ``False``

    Returns a DataFrame with one row per (type, level): ``type, level (1..L), alpha, miou, kid,
    S, target, uncertainty, evaluated, n_evals, method, flag`` (``flag``: "" or why the type's
    curve is degenerate and its levels uniform). mIoU/KID at a level that was not itself
    evaluated are interpolated linearly between the nearest evaluated points (``evaluated``
    says which). ``df.attrs`` holds ``points`` (records of every evaluated point: type, order,
    alpha, miou, kid, S, counted, miou_se, kid_se; see :func:`points_frame`), ``clean_miou``,
    ``extractor`` (the tag of the features), ``n_evaluations`` (total), ``flags`` (type → reason,
    degenerate types only), ``wall_s`` (seconds of the computation of the types, when they were
    computed) and ``config``.
    """
    import time

    import torch

    from repro.scoring.inference import model_device
    from repro.analysis.sampling import resolve_types

    st = AnalysisSettings.of(settings, **changes)
    if st.method == "none":
        raise ValueError("method must be 'adaptive' or 'uniform' for analyse ('none' means no analysis)")
    method, num_levels, tol, budget, grid, alpha_max = st.method, st.num_levels, st.tol, st.budget, st.grid, st.alpha_max
    batch_size, seed, border, kid_subsets, kid_subset_size, guard = (st.batch_size, st.seed, st.border, st.kid_subsets,
                                                                     st.kid_subset_size, st.guard)
    names = resolve_types(types)
    if not callable(model):
        raise TypeError(f"model must be callable (nn.Module, images -> logits function, or mmseg segmentor), got {type(model).__name__}")
    targets(num_levels)
    images, labels, ds_classes, ds_ignore, _ = _resolve_data(dataset, subset, seed)
    num_classes = num_classes if num_classes is not None else ds_classes
    if num_classes is None:
        raise ValueError("num_classes is required when dataset is a tensor pair")
    ignore_index = ignore_index if ignore_index is not None else (ds_ignore if ds_ignore is not None else 255)
    dev = torch.device(device) if device is not None else model_device(model, images.device)
    ext = extractor_of(extractor, device=dev)
    n = images.shape[0]
    if clean_features is not None:
        clean_features = torch.as_tensor(clean_features)
        if clean_features.dim() != 2 or clean_features.shape[0] != n:
            raise ValueError(f"clean_features must be n×d with n = {n} subset samples, got {tuple(clean_features.shape)}")

    mhash = state_hash(model)
    if cache and mhash is None and cache_key is None:
        cache = False  # a plain function has no identity to key the cache on
    # the cache unit is one type: analyses of a subset of the types (an ablation, another L of the
    # same settings...) reuse the types already analysed. The key holds everything a type's result
    # depends on; the images enter by content, so a dataset subset and the same tensors share entries.
    # clean_features / clean_miou, when given, must be the extractor's / model's values on these images.
    config = {"version": 3, "model": mhash, "cache_key": cache_key, "data": {"tensor_sha": tensor_hash(images, labels)},
              "n": n, "extractor": ext.tag, "method": method, "num_levels": num_levels, "tol": tol, "budget": budget,
              "grid": grid, "seed": seed, "batch_size": batch_size, "alpha_max": alpha_max, "border": border,
              "num_classes": num_classes, "ignore_index": ignore_index, "kid_subsets": kid_subsets,
              "kid_subset_size": kid_subset_size, "guard": guard}

    def features_of(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([ext(x[s:s + batch_size]).cpu() for s in range(0, x.shape[0], batch_size)])

    clean = {}

    def clean_state():
        if not clean:
            from repro.scoring.metrics import miou_of_matrices

            clean["features"] = clean_features if clean_features is not None else features_of(images)
            clean["matrices"] = perturbed.clean_matrices(model, images, labels, num_classes=num_classes,
                                                  ignore_index=ignore_index, batch_size=batch_size, device=dev)
            clean["miou"] = clean_miou if clean_miou is not None else float(miou_of_matrices(clean["matrices"].sum(0)))
        return clean

    def analyse_type(name: str) -> dict:
        t0 = time.perf_counter()
        c = clean_state()
        evaluate = perturbation_evaluator(model, images, labels, name, extractor=ext, clean_features=c["features"],
                                          num_classes=num_classes, ignore_index=ignore_index, seed=seed,
                                          batch_size=batch_size, device=dev, border=border, kid_subsets=kid_subsets,
                                          kid_subset_size=kid_subset_size, clean_matrices=c["matrices"])
        rnd = snap_blur if name == "gaussian_blur" else None
        if method == "adaptive":
            res = adaptive_levels(evaluate, num_levels=num_levels, tol=tol, budget=budget, alpha_max=alpha_max,
                                  round_fn=rnd, clean=(c["miou"], 0.0), guard=guard)
        else:
            res = uniform_levels(evaluate, num_levels=num_levels, grid=grid, alpha_max=alpha_max, round_fn=rnd,
                                 clean=(c["miou"], 0.0), guard=guard)
        return {"result": res.to_dict(), "clean_miou": c["miou"], "wall_s": time.perf_counter() - t0}

    from tqdm import tqdm

    from repro.base.progress import disabled

    from repro.base.cache import cached

    rows, points, total, flags, wall, m0 = [], [], 0, {}, 0.0, None
    bar = tqdm(names, desc=f"sensitivity ({method})", unit="type", disable=disabled(progress))
    for name in bar:
        out = (cached("sensitivity", {**config, "type": name}, lambda: analyse_type(name), force=force) if cache
               else analyse_type(name))
        res, m0, wall = _level_result(out["result"]), out["clean_miou"], wall + out["wall_s"]
        if res.flag:
            flags[name] = res.flag
        if res.flag and warn:
            warnings.warn(f"sensitivity analysis: {name}: degenerate curve ({res.flag}); using the uniform "
                          f"levels k/{num_levels} for this type", UserWarning, stacklevel=2)
        total += res.n_evaluations
        bar.set_postfix(type=name, evals=res.n_evaluations)
        mi, ki = res.level_values("miou"), res.level_values("kid")
        pts = res.points
        s_fit = pchip_curve(pts["alpha"].to_numpy(), pts["S"].to_numpy(), res.levels)
        ev_alpha = pts["alpha"].to_numpy()
        tg = np.append(res.targets, 2.0)
        un = np.append(res.uncertainty, 0.0)
        for k in range(num_levels):
            rows.append({"type": name, "level": k + 1, "alpha": float(res.levels[k]), "miou": float(mi[k]),
                         "kid": float(ki[k]), "S": float(s_fit[k]), "target": float(tg[k]),
                         "uncertainty": float(un[k]),
                         "evaluated": bool(np.any(np.isclose(ev_alpha, res.levels[k], atol=1e-12))),
                         "n_evals": int(res.n_evaluations), "method": method,
                         "flag": "degenerate" if res.flag else ""})
        for r in pts.to_dict(orient="records"):
            points.append({"type": name, **{k: (bool(v) if k == "counted" else (int(v) if k == "order" else float(v)))
                                            for k, v in r.items()}})
    df = pd.DataFrame(rows)
    df.attrs.update({"points": points, "clean_miou": float(m0), "extractor": ext.tag, "n_evaluations": int(total),
                     "flags": flags, "wall_s": float(wall), "config": {**config, "types": list(names)}})
    return df


def _level_result(d: Mapping) -> LevelResult:
    """:class:`LevelResult` from :meth:`LevelResult.to_dict` (the per-type cache entries)."""
    return LevelResult(d["method"], np.asarray(d["levels"], dtype=np.float64), np.asarray(d["targets"], dtype=np.float64),
                       np.asarray(d["uncertainty"], dtype=np.float64), pd.DataFrame(d["points"]),
                       int(d["n_evaluations"]), d["stop_reason"], float(d["alpha_max"]),
                       [np.asarray(h) for h in d["history"]], d.get("flag", ""))
