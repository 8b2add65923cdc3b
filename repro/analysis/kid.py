"""Kernel Inception Distance (KID) and Fréchet distance (FID) between two feature sets.

SPEC.md §2.  Given clean features ``X = {x_i}`` and perturbed features ``Y = {y_j}`` (rows of
``N × d`` tensors, e.g. 2048-d Inception-V3 pool features), the polynomial kernel is

    k(a, b) = (aᵀb / d + 1)³

and the unbiased squared maximum mean discrepancy of two samples of size ``m`` is

    MMD²_u = Σ_{i≠j} k(x_i, x_j) / (m(m-1)) + Σ_{i≠j} k(y_i, y_j) / (m(m-1))
             - 2 Σ_{i,j} k(x_i, y_j) / m².

For *paired* sets (``paired=True``: row ``i`` of ``Y`` is image ``i`` of ``X`` perturbed, as in
the sensitivity analysis) the cross term above is biased: its ``i = j`` terms compare an image
with its own perturbed copy, which makes ``MMD²_u`` negative for small perturbations. The paired
estimator is the U-statistic over pairs of *different* images (Gretton et al. 2012, Lemma 6),

    MMD²_p = Σ_{i≠j} [k(x_i, x_j) + k(y_i, y_j) - k(x_i, y_j) - k(y_i, x_j)] / (m(m-1)),

unbiased for the MMD² of the two distributions, and each subset takes the same images on both
sides.

KID is the mean and the (population, ``ddof=0``) standard deviation of ``MMD²_u`` over
``subsets`` random subsets of ``subset_size`` rows drawn without replacement from each side
(the torch-fidelity / torchmetrics convention; defaults 100 subsets of 1000).  All
accumulation is in float64.

Fast path: the three Gram matrices ``K_xx, K_yy, K_xy`` are computed once, and each subset's
kernel sums are read from them through 0/1 indicator vectors ``m_S`` (``Σ_{i,j∈S} K_ij =
m_Sᵀ K m_S``), vectorised over subsets: no per-subset matrix products of features.  When the
pool is so large that the Gram matrices do not fit the memory budget (or would cost more than
computing the subsets directly), each subset's kernels are computed directly in row blocks.

Feature extractors and the feature cache live in :mod:`repro.analysis.features`; the Appendix-E study of
the estimators' error against the sample size in :mod:`repro.paper.kid_study`.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from repro.base.validation import check_int


__all__ = [
    "KIDResult",
    "kid",
    "kid_result",
    "kid_subset_indices",
    "mmd2_unbiased",
    "polynomial_kernel",
    "fid",
]

#: Default memory budget (bytes) for the Gram-matrix fast path and for blocked computation.
DEFAULT_MEMORY_BYTES = 1 << 30


# --------------------------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------------------------
def _check_features(x: Any, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape N×d, got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor N×d (one feature vector per row), "
                         f"got shape {tuple(x.shape)}")
    if not (x.is_floating_point()):
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples (rows) for an unbiased MMD/FID, "
                         f"got {x.shape[0]}")
    if x.shape[1] < 1:
        raise ValueError(f"{name} has feature dimension 0; expected d >= 1")
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).any(dim=1).sum())
        raise ValueError(f"{name} contains NaN or inf values in {bad} row(s); features must be finite")
    return x


def _check_pair(x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    x = _check_features(x, "x_features")
    y = _check_features(y, "y_features")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: x_features has d={x.shape[1]}, "
                         f"y_features has d={y.shape[1]}; both must come from the same extractor")
    if y.device != x.device:
        y = y.to(x.device)
    return x, y


# --------------------------------------------------------------------------------------------
# kernel and MMD
# --------------------------------------------------------------------------------------------
def polynomial_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Kernel matrix ``K_ij = (a_iᵀ b_j / d + 1)³`` in float64.

    Args:
        a: ``n × d`` features (any float dtype; converted to float64).
        b: ``m × d`` features.

    Returns:
        ``n × m`` float64 tensor.
    """
    a = a.to(torch.float64)
    b = b.to(torch.float64)
    d = a.shape[1]
    return (a @ b.T / d + 1.0) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased ``MMD²_u`` of two equally sized samples, computed directly (reference path).

    ``MMD²_u = Σ_{i≠j} k(x_i,x_j)/(m(m-1)) + Σ_{i≠j} k(y_i,y_j)/(m(m-1)) - 2 Σ_{i,j} k(x_i,y_j)/m²``
    with ``k(a, b) = (aᵀb/d + 1)³``; float64.

    Args:
        x, y: ``m × d`` feature tensors with the same ``m >= 2`` and ``d``.
    """
    x, y = _check_pair(x, y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"mmd2_unbiased needs samples of equal size, got {x.shape[0]} and {y.shape[0]}")
    m = x.shape[0]
    kxx = polynomial_kernel(x, x)
    kyy = polynomial_kernel(y, y)
    kxy = polynomial_kernel(x, y)
    sxx = kxx.sum() - kxx.diagonal().sum()
    syy = kyy.sum() - kyy.diagonal().sum()
    return float((sxx + syy) / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m))


def kid_subset_indices(n_x: int, n_y: int, subsets: int, subset_size: int,
                       seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The subset indices :func:`kid` uses, drawn without replacement per subset.

    For subset ``s`` the ``x`` indices are the first ``subset_size`` entries of a uniform random
    permutation of ``range(n_x)``, then the ``y`` indices likewise of ``range(n_y)``, all from one
    ``torch.Generator`` seeded with ``seed`` (CPU), so the draw is reproducible.

    Args:
        n_x, n_y: number of rows of each feature set (>= 2).
        subsets: number of subsets (>= 1).
        subset_size: rows per subset; must be in ``[2, min(n_x, n_y)]`` (clip before calling).
        seed: integer seed.

    Returns:
        ``(idx_x, idx_y)``, int64 tensors of shape ``subsets × subset_size``.

    This is the same sequence of ``torch.randperm`` calls that torchmetrics'
    ``KernelInceptionDistance.compute`` makes on the global generator, so after
    ``torch.manual_seed(seed)`` torchmetrics draws the same subsets and returns the same KID.
    """
    check_int(n_x, "n_x", 2)
    check_int(n_y, "n_y", 2)
    check_int(subsets, "subsets", 1)
    check_int(subset_size, "subset_size", 2)
    check_int(seed, "seed", -(1 << 63))
    if subset_size > min(n_x, n_y):
        raise ValueError(f"subset_size={subset_size} exceeds the smaller sample size "
                         f"min(n_x, n_y)={min(n_x, n_y)}")
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    idx_x = torch.empty(subsets, subset_size, dtype=torch.int64)
    idx_y = torch.empty(subsets, subset_size, dtype=torch.int64)
    for s in range(subsets):
        idx_x[s] = torch.randperm(n_x, generator=g)[:subset_size]
        idx_y[s] = torch.randperm(n_y, generator=g)[:subset_size]
    return idx_x, idx_y


def _indicator(idx: torch.Tensor, n: int, device: torch.device) -> torch.Tensor:
    """``subsets × n`` float64 0/1 matrix with ones at ``idx`` (rows without repeats)."""
    ind = torch.zeros(idx.shape[0], n, dtype=torch.float64, device=device)
    ind.scatter_(1, idx.to(device), 1.0)
    return ind


def _quad_sums(k: torch.Tensor, left: torch.Tensor, right: torch.Tensor, chunk: int) -> torch.Tensor:
    """``[l_sᵀ K r_s for s]`` for indicator rows ``l_s, r_s`` (float64), chunked over subsets."""
    out = []
    for start in range(0, left.shape[0], chunk):
        lk = left[start:start + chunk] @ k
        out.append((lk * right[start:start + chunk]).sum(dim=1))
    return torch.cat(out)


def _mmd_gram(x: torch.Tensor, y: torch.Tensor, idx_x: torch.Tensor, idx_y: torch.Tensor,
              memory_bytes: int, paired: bool = False) -> torch.Tensor:
    """Per-subset MMD²_u (``paired``: MMD²_p) from the three full Gram matrices (computed once)."""
    n_x, n_y = x.shape[0], y.shape[0]
    m = idx_x.shape[1]
    dev = x.device
    chunk = max(1, int(memory_bytes // (8 * 2 * max(n_x, n_y))))
    ix = _indicator(idx_x, n_x, dev)
    iy = _indicator(idx_y, n_y, dev)
    kxx = polynomial_kernel(x, x)
    sxx = _quad_sums(kxx, ix, ix, chunk) - ix @ kxx.diagonal()
    del kxx
    kyy = polynomial_kernel(y, y)
    syy = _quad_sums(kyy, iy, iy, chunk) - iy @ kyy.diagonal()
    del kyy
    kxy = polynomial_kernel(x, y)
    sxy = _quad_sums(kxy, ix, iy, chunk)
    if paired:  # same rows on both sides: drop the k(x_i, y_i) terms
        sxy = sxy - ix @ kxy.diagonal()
        del kxy
        return (sxx + syy - 2.0 * sxy) / (m * (m - 1))
    del kxy
    return (sxx + syy) / (m * (m - 1)) - 2.0 * sxy / (m * m)


def _block_sum(a: torch.Tensor, b: torch.Tensor, block: int, offdiag: bool) -> torch.Tensor:
    """``Σ_{i,j} k(a_i, b_j)`` (minus the diagonal if ``offdiag``) in row blocks, float64."""
    total = torch.zeros((), dtype=torch.float64, device=a.device)
    for start in range(0, a.shape[0], block):
        kb = polynomial_kernel(a[start:start + block], b)
        total = total + kb.sum()
        if offdiag:
            total = total - kb.diagonal(offset=start).sum()
    return total


def _mmd_direct(x: torch.Tensor, y: torch.Tensor, idx_x: torch.Tensor, idx_y: torch.Tensor,
                memory_bytes: int, paired: bool = False) -> torch.Tensor:
    """Per-subset MMD²_u (``paired``: MMD²_p) computed from the subset's features, in row blocks."""
    m = idx_x.shape[1]
    block = max(1, int(memory_bytes // (8 * 2 * m)))
    vals = torch.empty(idx_x.shape[0], dtype=torch.float64)
    for s in range(idx_x.shape[0]):
        xs = x[idx_x[s].to(x.device)]
        ys = y[idx_y[s].to(y.device)]
        sxx = _block_sum(xs, xs, block, offdiag=True)
        syy = _block_sum(ys, ys, block, offdiag=True)
        sxy = _block_sum(xs, ys, block, offdiag=paired)
        vals[s] = (float((sxx + syy - 2.0 * sxy) / (m * (m - 1))) if paired
                   else float((sxx + syy) / (m * (m - 1)) - 2.0 * sxy / (m * m)))
    return vals


@dataclass(frozen=True)
class KIDResult:
    """KID of two feature sets with the provenance of the number.

    ``mean``/``std`` are the mean and population std of ``MMD²_u`` over ``subsets`` subsets of
    ``subset_size`` rows; ``values`` the per-subset values.  ``extractor`` is the
    ``"name@weights_hash"`` tag of the feature extractor (``None`` if unknown).  Unpacks as
    ``mean, std = result``.
    """

    mean: float
    std: float
    subsets: int
    subset_size: int
    n_x: int
    n_y: int
    seed: int
    extractor: str | None = None
    values: tuple[float, ...] = field(default=(), repr=False)
    paired: bool = False

    def __iter__(self):
        return iter((self.mean, self.std))

    def as_dict(self) -> dict[str, Any]:
        return {"kid_mean": self.mean, "kid_std": self.std, "subsets": self.subsets,
                "subset_size": self.subset_size, "n_x": self.n_x, "n_y": self.n_y,
                "seed": self.seed, "extractor": self.extractor, "paired": self.paired}


def _extractor_tag(extractor_: Any) -> str | None:
    if extractor_ is None:
        return None
    if isinstance(extractor_, str):
        return extractor_
    tag = getattr(extractor_, "tag", None)
    if isinstance(tag, str):
        return tag
    raise TypeError("extractor must be None, a 'name@hash' string or a repro.analysis.features.Extractor, "
                    f"got {type(extractor_).__name__}")


def kid_result(x_features: torch.Tensor, y_features: torch.Tensor, *, subsets: int = 100,
               subset_size: int = 1000, seed: int = 0, extractor: Any = None,
               method: str = "auto", memory_bytes: int = DEFAULT_MEMORY_BYTES,
               paired: bool = False) -> KIDResult:
    """KID with provenance; see :func:`kid` for the formula and arguments.

    Args:
        paired: row ``i`` of ``y_features`` is the perturbed image ``i`` of ``x_features``
            (equal row counts): the paired estimator ``MMD²_p`` (module docstring), each subset
            taking the same rows on both sides.
        extractor: the :class:`~repro.analysis.features.Extractor` (or its ``"name@hash"`` tag) that
            produced the features, recorded in the result.
        method: ``"gram"`` (three full Gram matrices, then indicator sums), ``"direct"``
            (per-subset kernels in row blocks) or ``"auto"`` (``"gram"`` if the Gram matrices fit
            ``memory_bytes`` and cost no more than the direct path).
        memory_bytes: memory budget in bytes for Gram matrices / blocks (default 1 GiB).
    """
    x, y = _check_pair(x_features, y_features)
    check_int(subsets, "subsets", 1)
    check_int(subset_size, "subset_size", 2)
    check_int(seed, "seed", -(1 << 63))
    if method not in ("auto", "gram", "direct"):
        raise ValueError(f"method must be 'auto', 'gram' or 'direct', got {method!r}")
    check_int(memory_bytes, "memory_bytes", 1)
    tag = _extractor_tag(extractor)
    n_x, n_y = x.shape[0], y.shape[0]
    if not isinstance(paired, bool):
        raise TypeError(f"paired must be a bool, got {type(paired).__name__}")
    if paired and n_x != n_y:
        raise ValueError(f"paired=True needs one perturbed row per clean row, got n_x={n_x} and n_y={n_y}")
    if subset_size > min(n_x, n_y):
        warnings.warn(f"KID subset_size={subset_size} is larger than the smaller sample "
                      f"(n_x={n_x}, n_y={n_y}); using subset_size={min(n_x, n_y)}", UserWarning,
                      stacklevel=3)
        subset_size = min(n_x, n_y)
    idx_x, idx_y = kid_subset_indices(n_x, n_y, subsets, subset_size, seed)
    if paired:
        idx_y = idx_x
    if method == "auto":
        gram_bytes = 8 * max(n_x * n_x, n_y * n_y, n_x * n_y)
        gram_cost = n_x * n_x + n_y * n_y + n_x * n_y
        direct_cost = 3 * subsets * subset_size * subset_size
        method = "gram" if gram_bytes <= memory_bytes and gram_cost <= direct_cost else "direct"
    with torch.no_grad():
        if method == "gram":
            vals = _mmd_gram(x, y, idx_x, idx_y, memory_bytes, paired)
        else:
            vals = _mmd_direct(x, y, idx_x, idx_y, memory_bytes, paired)
    vals = vals.cpu()
    mean = float(vals.mean())
    std = float(vals.std(correction=0)) if subsets > 1 else 0.0
    return KIDResult(mean=mean, std=std, subsets=subsets, subset_size=subset_size, n_x=n_x,
                     n_y=n_y, seed=seed, extractor=tag, values=tuple(vals.tolist()), paired=paired)


def kid(x_features: torch.Tensor, y_features: torch.Tensor, *, subsets: int = 100,
        subset_size: int = 1000, seed: int = 0, **kwargs: Any) -> tuple[float, float]:
    """Kernel Inception Distance: mean and std of ``MMD²_u`` over random subsets.

    ``MMD²_u = Σ_{i≠j} k(x_i,x_j)/(m(m-1)) + Σ_{i≠j} k(y_i,y_j)/(m(m-1)) - 2 Σ_{i,j} k(x_i,y_j)/m²``,
    ``k(a, b) = (aᵀb/d + 1)³``, ``m = subset_size``; subset ``s`` uses the rows
    :func:`kid_subset_indices` draws for ``(n_x, n_y, subsets, subset_size, seed)``.

    Args:
        x_features: ``n_x × d`` features of the first (clean) set, any float dtype and device.
        y_features: ``n_y × d`` features of the second (perturbed) set, same ``d``.
        subsets: number of random subsets (>= 1).
        subset_size: rows per subset (>= 2); clipped to ``min(n_x, n_y)`` with a warning.
        seed: seed of the subset draw.
        **kwargs: ``method``, ``memory_bytes``, ``extractor``, ``paired`` as in :func:`kid_result`
            (``paired=True``: the paired estimator ``MMD²_p`` of the module docstring).

    Returns:
        ``(mean, std)`` as Python floats (dimensionless; std is the population std, ``ddof=0``,
        as in torch-fidelity and torchmetrics).
    """
    res = kid_result(x_features, y_features, subsets=subsets, subset_size=subset_size, seed=seed,
                     **kwargs)
    return res.mean, res.std


# --------------------------------------------------------------------------------------------
# FID
# --------------------------------------------------------------------------------------------
def _sqrt_factor(x: torch.Tensor) -> torch.Tensor:
    """A factor ``F`` with ``FᵀF = Σ`` (sample covariance, ``ddof=1``): the centred rows scaled
    by ``1/sqrt(n-1)`` if ``n <= d``, else the symmetric square root of ``Σ`` (``d × d``)."""
    n, d = x.shape
    xc = x - x.mean(dim=0, keepdim=True)
    if n <= d:
        return xc / math.sqrt(n - 1)
    cov = xc.T @ xc / (n - 1)
    evals, evecs = torch.linalg.eigh(cov)
    return (evecs * evals.clamp(min=0).sqrt()) @ evecs.T


def fid(x_features: torch.Tensor, y_features: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID for Inception features).

    ``FID = ‖μ_x - μ_y‖² + tr Σ_x + tr Σ_y - 2 tr (Σ_x Σ_y)^{1/2}``, with sample means and
    covariances (``ddof=1``) in float64.  The trace term is computed stably without a
    non-symmetric matrix square root: for any factors ``F_xᵀF_x = Σ_x``, ``F_yᵀF_y = Σ_y`` the
    eigenvalues of ``Σ_x Σ_y`` are the squared singular values of ``F_x F_yᵀ``, so
    ``tr (Σ_x Σ_y)^{1/2} = ‖F_x F_yᵀ‖_*`` (nuclear norm).  ``F`` is the scaled centred data when
    ``n <= d`` (cheap, exact for rank-deficient covariances) and ``Σ^{1/2}`` otherwise.

    Args:
        x_features: ``n_x × d`` features (n_x >= 2), any float dtype/device.
        y_features: ``n_y × d`` features, same ``d``.

    Returns:
        The Fréchet distance (squared feature units) as a Python float.
    """
    x, y = _check_pair(x_features, y_features)
    with torch.no_grad():
        x = x.to(torch.float64)
        y = y.to(torch.float64)
        mu = x.mean(dim=0) - y.mean(dim=0)
        xc = x - x.mean(dim=0, keepdim=True)
        yc = y - y.mean(dim=0, keepdim=True)
        tr_x = (xc * xc).sum() / (x.shape[0] - 1)
        tr_y = (yc * yc).sum() / (y.shape[0] - 1)
        fx = _sqrt_factor(x)
        fy = _sqrt_factor(y)
        cross = torch.linalg.svdvals(fx @ fy.T).sum()
        return float(mu @ mu + tr_x + tr_y - 2.0 * cross)
