"""Segmentation metrics from an accumulated confusion matrix (SPEC.md §7).

With ``C`` classes and the confusion matrix ``M`` (``M[t, p]`` = number of labelled pixels of
true class ``t`` predicted as ``p``; pixels whose label equals ``ignore_index`` are skipped):

- ``aAcc = Σ_c M[c, c] / Σ_{t,p} M[t, p]``              (pixel accuracy over labelled pixels)
- ``Acc_c = M[c, c] / Σ_p M[c, p]``                      (per-class accuracy, recall)
- ``IoU_c = M[c, c] / (Σ_p M[c, p] + Σ_t M[t, c] - M[c, c])``
- ``mAcc = nanmean_c Acc_c``, ``mIoU = nanmean_c IoU_c``

All three are reported in percent. MMSegmentation's convention for absent classes is kept: a
class absent from both prediction and ground truth has IoU = 0/0 = NaN and is left out of the
mean; a class absent from the ground truth has Acc = NaN (also left out) even when predicted,
while its IoU is 0 when it is predicted. ``IoUMetric`` of MMSegmentation rounds its summaries to
two decimals; these functions do not round.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from repro.base.validation import check_int

__all__ = ["ConfusionMatrix", "segmentation_scores", "per_image_matrices", "miou_of_matrices", "bootstrap_miou_se",
           "majority_floor"]


def _as_long_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array of class ids, got {type(x).__name__}")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class ids, got dtype {x.dtype}")
    return x.long()


class ConfusionMatrix:
    """Accumulating ``num_classes × num_classes`` confusion matrix (rows: truth, columns: prediction).

    Parameters
    ----------
    num_classes : int
        Number of classes ``C`` (class ids 0..C-1).
    ignore_index : int
        Label value of unlabelled pixels (default 255); these pixels are skipped.
    device : torch.device or str, optional
        Where the counts live; defaults to the device of the first ``update``.

    ``update(pred, target)`` accepts integer tensors/arrays of equal shape (any shape, e.g.
    N×H×W); predictions must lie in 0..C-1, labels in 0..C-1 or equal ``ignore_index``.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255, device: torch.device | str | None = None):
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise TypeError(f"ignore_index must be an integer, got {ignore_index!r}")
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.matrix: torch.Tensor | None = None
        if device is not None:
            self.matrix = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64, device=device)

    # ------------------------------------------------------------------ accumulation
    def reset(self) -> None:
        """Set all counts to zero."""
        if self.matrix is not None:
            self.matrix.zero_()

    def update(self, pred: Any, target: Any) -> "ConfusionMatrix":
        """Add the pixels of ``pred`` (predicted ids) against ``target`` (true ids) to the counts."""
        pred = _as_long_tensor(pred, "pred")
        target = _as_long_tensor(target, "target")
        if pred.shape != target.shape:
            raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
        C = self.num_classes
        if self.matrix is None:
            self.matrix = torch.zeros(C, C, dtype=torch.int64, device=target.device)
        dev = self.matrix.device
        pred = pred.to(dev).reshape(-1)
        target = target.to(dev).reshape(-1)
        keep = target != self.ignore_index
        pred, target = pred[keep], target[keep]
        if target.numel():
            tmin, tmax = int(target.min()), int(target.max())
            if tmin < 0 or tmax >= C:
                raise ValueError(f"target holds class ids outside 0..{C - 1} (and not ignore_index={self.ignore_index}): "
                                 f"range {tmin}..{tmax}")
            pmin, pmax = int(pred.min()), int(pred.max())
            if pmin < 0 or pmax >= C:
                raise ValueError(f"pred holds class ids outside 0..{C - 1}: range {pmin}..{pmax}; expected predictions "
                                 f"of a model with {C} output classes (does the model output more channels than "
                                 f"the data's {C} classes?)")
            self.matrix += torch.bincount(target * C + pred, minlength=C * C).reshape(C, C)
        return self

    def __iadd__(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        if not isinstance(other, ConfusionMatrix) or other.num_classes != self.num_classes:
            raise ValueError("can only add a ConfusionMatrix with the same num_classes")
        if other.matrix is not None:
            if self.matrix is None:
                self.matrix = other.matrix.clone()
            else:
                self.matrix += other.matrix.to(self.matrix.device)
        return self

    # ------------------------------------------------------------------ metrics
    def _counts(self) -> np.ndarray:
        if self.matrix is None:
            return np.zeros((self.num_classes, self.num_classes), dtype=np.float64)
        return self.matrix.detach().cpu().numpy().astype(np.float64)

    def per_class_iou(self) -> np.ndarray:
        """IoU of each class as a fraction in [0, 1]; NaN for classes absent from prediction and truth."""
        m = self._counts()
        inter = np.diag(m)
        union = m.sum(0) + m.sum(1) - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            return inter / union

    def per_class_acc(self) -> np.ndarray:
        """Accuracy (recall) of each class as a fraction in [0, 1]; NaN for classes absent from the truth."""
        m = self._counts()
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.diag(m) / m.sum(1)

    def scores(self) -> dict[str, float]:
        """``{"aAcc", "mAcc", "mIoU"}`` in percent (NaN when no labelled pixel was seen)."""
        m = self._counts()
        total = m.sum()
        aacc = float(np.trace(m) / total) if total > 0 else float("nan")
        iou, acc = self.per_class_iou(), self.per_class_acc()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of all-NaN → NaN
            return {"aAcc": 100.0 * aacc, "mAcc": 100.0 * float(np.nanmean(acc)),
                    "mIoU": 100.0 * float(np.nanmean(iou))}

    def __repr__(self) -> str:
        return f"ConfusionMatrix(num_classes={self.num_classes}, ignore_index={self.ignore_index}, pixels={int(self._counts().sum())})"


def segmentation_scores(pred: Any, target: Any, num_classes: int, ignore_index: int = 255) -> dict[str, float]:
    """aAcc, mAcc and mIoU (percent) of predictions ``pred`` against labels ``target``.

    ``pred`` and ``target`` are integer tensors or arrays of equal shape (e.g. N×H×W); see the
    module docstring for the formulas and the convention for absent classes.
    """
    return ConfusionMatrix(num_classes, ignore_index).update(pred, target).scores()


def per_image_matrices(pred: Any, target: Any, num_classes: int, ignore_index: int = 255) -> torch.Tensor:
    """One confusion matrix per image: ``N × C × C`` int64 (``pred``/``target``: N×H×W class ids).

    Summing over the first axis gives the matrix :class:`ConfusionMatrix` accumulates; keeping
    the images apart allows resampling them (:func:`bootstrap_miou_se`).
    """
    pred = _as_long_tensor(pred, "pred")
    target = _as_long_tensor(target, "target")
    if pred.shape != target.shape or pred.dim() < 2:
        raise ValueError(f"pred and target must both be N×H×W of the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    C = int(num_classes)
    n = pred.shape[0]
    t = target.reshape(n, -1)
    p = pred.to(t.device).reshape(n, -1)
    keep = t != ignore_index
    if bool(keep.any()):
        tk = t[keep]
        if int(tk.min()) < 0 or int(tk.max()) >= C:
            raise ValueError(f"target holds class ids outside 0..{C - 1} (and not ignore_index={ignore_index})")
        pk = p[keep]
        if int(pk.min()) < 0 or int(pk.max()) >= C:
            raise ValueError(f"pred holds class ids outside 0..{C - 1}")
    img = torch.arange(n, device=t.device).view(-1, 1).expand_as(t)[keep]
    flat = img * (C * C) + t[keep] * C + p[keep]
    return torch.bincount(flat, minlength=n * C * C).reshape(n, C, C)


def miou_of_matrices(matrices: Any) -> np.ndarray:
    """mIoU (percent) of each ``C × C`` matrix in a ``... × C × C`` stack (nan-mean over classes, as
    :meth:`ConfusionMatrix.scores`)."""
    m = np.asarray(matrices.cpu() if isinstance(matrices, torch.Tensor) else matrices, dtype=np.float64)
    inter = np.diagonal(m, axis1=-2, axis2=-1)
    union = m.sum(-1) + m.sum(-2) - inter
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return 100.0 * np.nanmean(inter / union, axis=-1)


def bootstrap_miou_se(matrices_a: Any, matrices_b: Any | None = None, *, resamples: int = 200,
                      seed: int = 0) -> float:
    """Standard error (percent) of ``mIoU(A) - mIoU(B)`` by a paired bootstrap over images.

    ``matrices_a``/``matrices_b``: ``N × C × C`` per-image confusion matrices of the same N images
    (e.g. clean and perturbed, :func:`per_image_matrices`); ``B = None`` gives the standard error
    of ``mIoU(A)`` alone. Each resample draws N images with replacement (``numpy`` generator
    seeded with ``seed``), sums their matrices and takes the difference of the two mIoUs; the
    result is the sample standard deviation of ``resamples`` such differences.
    """
    a = np.asarray(matrices_a.cpu() if isinstance(matrices_a, torch.Tensor) else matrices_a, dtype=np.float64)
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise ValueError(f"matrices_a must be N×C×C per-image confusion matrices, got shape {a.shape}")
    b = None
    if matrices_b is not None:
        b = np.asarray(matrices_b.cpu() if isinstance(matrices_b, torch.Tensor) else matrices_b, dtype=np.float64)
        if b.shape != a.shape:
            raise ValueError(f"matrices_b must have the shape of matrices_a {a.shape}, got {b.shape}")
    check_int(resamples, "resamples", 2)
    n = a.shape[0]
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)  # resamples × N
    flat_a = counts @ a.reshape(n, -1)
    diff = miou_of_matrices(flat_a.reshape(resamples, *a.shape[1:]))
    if b is not None:
        diff = diff - miou_of_matrices((counts @ b.reshape(n, -1)).reshape(resamples, *b.shape[1:]))
    return float(np.nanstd(diff, ddof=1))


def majority_floor(matrix: Any) -> dict[str, Any]:
    """The trivial floor: the scores (percent) of predicting the majority class everywhere.

    ``matrix`` is a ``C × C`` confusion matrix of the evaluated split (rows: truth, as
    :class:`ConfusionMatrix`; any predictions: only its row sums, the labelled pixels per true
    class ``n_c = Σ_p M[c, p]``, are used), or a :class:`ConfusionMatrix`. With ``N = Σ_c n_c``
    and the majority class ``k = argmax_c n_c`` (the lowest id on ties), the constant
    prediction ``k`` has the confusion matrix ``F[t, k] = n_t`` (zero elsewhere), so

    - ``IoU_k = n_k / N``; ``IoU_c = 0`` for every other class present in the labels
      (``n_c > 0``); classes absent from the labels are 0/0 and left out of the mean;
    - ``floor mIoU = 100 · (n_k / N) / |{c : n_c > 0}|``;
    - ``aAcc = 100 · n_k / N`` and ``mAcc = 100 / |{c : n_c > 0}|``.

    E.g. a binary split with 92 % background pixels: floor mIoU = 100 · 0.92 / 2 = 46. A model
    (or a corruption) scoring near the floor predicts no better than "all majority class".

    Returns ``{"class": k, "fraction": n_k / N, "aAcc", "mAcc", "mIoU"}`` (NaN scores and
    ``class`` ``None`` when the matrix counts no labelled pixel).
    """
    if isinstance(matrix, ConfusionMatrix):
        m = matrix._counts()
    else:
        m = np.asarray(matrix.detach().cpu() if isinstance(matrix, torch.Tensor) else matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 1:
        raise ValueError(f"matrix must be a C×C confusion matrix (rows: truth), got shape {m.shape}")
    if not np.all(np.isfinite(m)) or (m < 0).any():
        raise ValueError("matrix must hold finite counts >= 0")
    n = m.sum(1)
    total = float(n.sum())
    if total <= 0:
        nan = float("nan")
        return {"class": None, "fraction": nan, "aAcc": nan, "mAcc": nan, "mIoU": nan}
    k = int(np.argmax(n))
    floor = np.zeros_like(m)
    floor[:, k] = n
    s = ConfusionMatrix(m.shape[0])
    s.matrix = torch.from_numpy(floor).round().to(torch.int64)
    return {"class": k, "fraction": float(n[k] / total), **s.scores()}
