"""Appendix E: how the error of KID and FID between a clean split and a perturbed copy of it shrinks
with the number of images (the paper's argument for KID over FID at small sample sizes).

:func:`sample_size_study` draws ``resamples`` subsets of each size from each split, computes KID
(:func:`repro.analysis.kid.kid`) and FID (:func:`repro.analysis.kid.fid`) between the clean subset's features and
the perturbed full split's, and compares them with the full-split value;
:func:`summarise_sample_size_study`, :func:`sample_size_table` and :func:`plot_sample_size_study`
turn the draws into the appendix's table and figure.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import torch

from repro.analysis.features import Extractor, features
from repro.analysis.features import extractor as _make_extractor
from repro.analysis.kid import fid, kid_result
from repro.base.validation import check_int

__all__ = ["DEFAULT_STUDY_PERTURBATIONS", "sample_size_study", "summarise_sample_size_study", "sample_size_table",
           "plot_sample_size_study"]


#: (perturbation, magnitude) pairs of the cpu profile
DEFAULT_STUDY_PERTURBATIONS = (("gaussian_noise", 0.2), ("gaussian_blur", 0.2), ("V-", 0.3),
                               ("rotate+", 0.2))


def _perturb_transform(name: str, magnitude: float, seed: int, split: str, names: Sequence[str]):
    """``(images, indices) -> perturbed images``, image i drawing from its own stream
    ``derive_seed(seed, name, "split/file name")`` (:func:`repro.scoring.perturbed.perturb_each`), so the
    result does not depend on the batch size."""
    from repro.scoring.perturbed import perturb_each

    def transform(images: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        return perturb_each(images, name, magnitude, seed=seed, keys=[f"{split}/{names[i]}" for i in indices.tolist()])

    return transform


def _parse_perturbations(perturbations: Iterable) -> list[tuple[str, float]]:
    out = []
    for p in perturbations:
        if isinstance(p, str) and "@" in p:
            name, mag = p.rsplit("@", 1)
            p = (name, float(mag))
        if not (isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str)
                and isinstance(p[1], (int, float)) and not isinstance(p[1], bool)):
            raise ValueError(f"each perturbation must be a (name, magnitude) pair or 'name@magnitude', got {p!r}")
        if not 0.0 < float(p[1]) <= 1.0:
            raise ValueError(f"perturbation magnitude must be in (0, 1], got {p[1]!r} for {p[0]!r}")
        out.append((p[0], float(p[1])))
    if not out:
        raise ValueError("perturbations must name at least one (name, magnitude) pair")
    return out


def sample_size_study(*, dataset: str = "camvid", splits: Sequence[str] = ("train", "val", "test"),
                      perturbations: Iterable = DEFAULT_STUDY_PERTURBATIONS,
                      sizes: Sequence[int | None] = (10, 20, 50, 100, 200, None),
                      resamples: int = 20, extractor: Any = "resnet18-random",
                      kid_subsets: int = 100, kid_subset_size: int = 1000,
                      max_images: int | None = None, paired: bool = False, seed: int = 0,
                      batch_size: int = 16,
                      device: str = "cpu", force: bool = False, progress: bool = True):
    """Relative error of KID and FID against their large-sample value as the sample grows.

    The pool is every image of ``splits`` of ``dataset`` (or the first ``max_images`` of a seeded
    shuffle).  Clean features ``X`` and, per perturbation ``(name, magnitude)`` of
    :func:`repro.perturb.apply`, perturbed features ``Y`` of the same images are computed once
    (cached with :func:`repro.analysis.features.features`).  The large-sample reference is the value on
    the whole pool of ``N`` images (KID: ``MMD²_u`` of all ``N`` pairs; FID: :func:`fid`).  For
    each size ``n`` (``None`` = ``N``) and resample ``r``, ``n`` clean and ``n`` perturbed rows are
    drawn without replacement, independently for the two sides (seeded), and KID
    (``kid_subsets`` subsets of ``min(n, kid_subset_size)``; one subset when that is all ``n``)
    and FID are recomputed.  Signed relative error ``(est - ref)/|ref|``.

    Independent draws make ``MMD²_u`` unbiased for the pool value: the expected cross term of
    two independent ``n``-subsets is the pool's mean over all ``N²`` pairs.  With ``paired=True``
    (the same ``n`` images on both sides) the cross term's diagonal ``k(x_i, y_i)`` — an image
    and its own perturbed version, more similar than a random pair — gets weight ``1/n``
    instead of ``1/N``, so KID is biased low at small ``n``.

    Args:
        dataset, splits: shipped dataset name and the splits forming the pool.
        perturbations: ``(name, magnitude)`` pairs or ``"name@magnitude"`` strings.
        sizes: sample sizes ``n`` (images per side); sizes ``>= N`` other than ``None`` are dropped.
        resamples: random draws per size.
        extractor: extractor name / :class:`Extractor` / ``nn.Module`` (see :func:`extractor`).
        kid_subsets, kid_subset_size: KID's subset settings.
        max_images: cap on the pool size (``None``: all images of ``splits``).
        paired: draw the same images for both sides (see above) instead of independent ones.
        seed: seed of the pool shuffle, the resamples, the KID subsets and the noise.
        batch_size, device: feature extraction settings.
        force: recompute cached features.
        progress: tqdm bars.

    Returns:
        A tidy DataFrame with columns ``perturbation, magnitude, metric ("KID"/"FID"), n,
        resample, value, reference, rel_error``; ``df.attrs`` holds ``extractor`` (tag),
        ``pool`` (N), ``dataset`` and ``splits``.
    """
    import pandas as pd

    from repro.data import load_dataset

    perts = _parse_perturbations(perturbations)
    check_int(resamples, "resamples", 1)
    check_int(kid_subsets, "kid_subsets", 1)
    check_int(kid_subset_size, "kid_subset_size", 2)
    check_int(seed, "seed", 0)
    if isinstance(splits, str) or not splits:
        raise ValueError(f"splits must be a non-empty list of split names, got {splits!r}")
    for s in sizes:
        if s is not None:
            check_int(s, "each size", 2)
    if max_images is not None:
        check_int(max_images, "max_images", 2)
    if not isinstance(paired, bool):
        raise TypeError(f"paired must be a bool, got {paired!r}")
    ext = extractor if isinstance(extractor, Extractor) else _make_extractor(extractor, device=device)

    datasets = [load_dataset(dataset, s) for s in splits]
    rows_all = [(k, i) for k, ds in enumerate(datasets) for i in range(len(ds))]
    g = torch.Generator().manual_seed(seed)
    if max_images is not None and max_images < len(rows_all):
        pick = torch.randperm(len(rows_all), generator=g)[:max_images].sort().values.tolist()
        rows_all = [rows_all[i] for i in pick]
    per_split = {k: [i for kk, i in rows_all if kk == k] for k in range(len(datasets))}

    def pool_features(transform_for=None, key=None) -> torch.Tensor:
        parts = []
        for k, ds in enumerate(datasets):
            if not per_split[k]:
                continue
            tf = transform_for(ds) if transform_for is not None else None
            parts.append(features(ds, ext, indices=per_split[k], transform=tf, key=key,
                                  batch_size=batch_size, force=force, progress=progress))
        return torch.cat(parts)

    x = pool_features()
    n_pool = x.shape[0]
    size_list = sorted({s for s in sizes if s is not None and s < n_pool}) + [n_pool]
    records = []
    for name, mag in perts:
        # draws: 2 = repro.scoring.perturbed's per-image seed rule (1: CRC32 of seed/split/name)
        key = {"perturbation": name, "magnitude": mag, "seed": seed, "border": "zoom", "draws": 2}
        y = pool_features(lambda ds: _perturb_transform(name, mag, seed, ds.split, ds.names), key)
        ref = {"KID": kid_result(x, y, subsets=1, subset_size=n_pool, seed=seed).mean, "FID": fid(x, y)}
        gr = torch.Generator().manual_seed(seed + 1)
        for n in size_list:
            for r in range(resamples):
                idx = torch.randperm(n_pool, generator=gr)[:n]
                idy = idx if paired else torch.randperm(n_pool, generator=gr)[:n]
                xs, ys = x[idx], y[idy]
                size = min(n, kid_subset_size)
                subs = 1 if size == n else kid_subsets
                est = {"KID": kid_result(xs, ys, subsets=subs, subset_size=size, seed=seed + r).mean,
                       "FID": fid(xs, ys)}
                for metric in ("KID", "FID"):
                    records.append({"perturbation": name, "magnitude": mag, "metric": metric, "n": n,
                                    "resample": r, "value": est[metric], "reference": ref[metric],
                                    "rel_error": (est[metric] - ref[metric]) / abs(ref[metric])})
    df = pd.DataFrame.from_records(records)
    df.attrs.update({"extractor": ext.tag, "pool": n_pool, "dataset": dataset, "splits": list(splits),
                     "paired": paired})
    return df


def summarise_sample_size_study(df):
    """Per (perturbation, magnitude, metric, n): mean and std of the signed relative error, mean
    absolute relative error, and the reference value.  Keeps ``df.attrs``."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame) or not {"metric", "n", "rel_error"} <= set(df.columns):
        raise TypeError("df must be the DataFrame returned by sample_size_study")
    g = df.assign(abs_rel_error=df["rel_error"].abs()).groupby(
        ["perturbation", "magnitude", "metric", "n"], sort=False)
    out = g.agg(reference=("reference", "first"), rel_error_mean=("rel_error", "mean"),
                rel_error_std=("rel_error", lambda s: float(s.std(ddof=0))),
                abs_rel_error_mean=("abs_rel_error", "mean"), resamples=("rel_error", "size")).reset_index()
    out.attrs.update(df.attrs)
    return out


def sample_size_table(df):
    """Wide table for Appendix E: one row per (perturbation, magnitude, n) with the reference
    values and the mean ± std of the signed relative error (in percent) of KID and FID."""
    summary = df if "rel_error_mean" in df.columns else summarise_sample_size_study(df)
    rows = []
    for (name, mag, n), sub in summary.groupby(["perturbation", "magnitude", "n"], sort=False):
        row = {"perturbation": name, "magnitude": mag, "n": int(n)}
        for metric in ("KID", "FID"):
            r = sub[sub["metric"] == metric].iloc[0]
            row[f"{metric} ref"] = r["reference"]
            row[f"{metric} rel. err. mean (%)"] = 100 * r["rel_error_mean"]
            row[f"{metric} rel. err. std (%)"] = 100 * r["rel_error_std"]
        rows.append(row)
    import pandas as pd

    out = pd.DataFrame(rows)
    out.attrs.update(summary.attrs)
    return out


def plot_sample_size_study(df):
    """Mean ± std of the signed relative error of KID and FID vs sample size ``n`` (log axis),
    one panel per perturbation; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    summary = df if "rel_error_mean" in df.columns else summarise_sample_size_study(df)
    panels = list(dict.fromkeys(zip(summary["perturbation"], summary["magnitude"])))
    ncol = min(len(panels), 4)
    nrow = (len(panels) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.0 * nrow), squeeze=False)
    colours = {"KID": "tab:blue", "FID": "tab:red"}
    for ax, (name, mag) in zip(axes.flat, panels):
        sub = summary[(summary["perturbation"] == name) & (summary["magnitude"] == mag)]
        for metric, colour in colours.items():
            s = sub[sub["metric"] == metric].sort_values("n")
            ax.plot(s["n"], s["rel_error_mean"], marker="o", ms=3, color=colour, label=metric)
            ax.fill_between(s["n"], s["rel_error_mean"] - s["rel_error_std"],
                            s["rel_error_mean"] + s["rel_error_std"], color=colour, alpha=0.2)
        ax.axhline(0.0, color="k", lw=0.7)
        ax.set_xscale("log")
        ns = sorted(set(sub["n"]))
        ax.set_xticks(ns, [str(v) for v in ns], fontsize=7)
        ax.minorticks_off()
        ax.set_title(f"{name} (m={mag:g})", fontsize=9)
        ax.set_xlabel("sample size n (images)")
    for ax in axes[:, 0]:
        ax.set_ylabel("relative error (est - ref)/ref")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"KID vs FID: error against the value on all {summary.attrs.get('pool', '?')} images "
                 f"(mean ± std over resamples; extractor {summary.attrs.get('extractor', '?')})", fontsize=9)
    fig.tight_layout()
    return fig
