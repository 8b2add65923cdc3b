"""Batched inference of segmentation models on image tensors, and scoring.

Models accepted by :func:`predict`:

- a plain ``nn.Module`` or any callable mapping images ``N×3×H×W`` (float32, RGB, [0, 1]) to
  logits ``N×C×h×w`` (a dict with key ``"out"``, as torchvision's segmentation models return,
  or a tuple/list whose first element is the logits, are accepted too). Logits of another size
  are resized bilinearly (``align_corners=False``) to H×W before the arg-max.
- an MMSegmentation segmentor (duck-typed: it has ``data_preprocessor`` and ``test_step``).
  Images are handed over as mmseg's loading pipeline would: a list of C×H×W float tensors on
  the 0..255 scale, in BGR order when the preprocessor converts BGR→RGB (``bgr_to_rgb=True``,
  i.e. ``channel_conversion``), else RGB; mean/std normalisation is left to the preprocessor.
  Each image carries a ``SegDataSample`` with ``img_shape = ori_shape = pad_shape = (H, W)``;
  predictions are read from ``pred_sem_seg``. The logits come from the segmentor's own
  ``inference``, so sliding-window inference is used exactly when the model's ``test_cfg`` says
  ``mode='slide'`` (crop size and stride from it), whole-image inference otherwise.

mmseg is imported only inside the mmseg branch, so this module imports without it.
Models are switched to eval mode for the call and restored to their previous mode afterwards.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from repro.scoring.metrics import ConfusionMatrix
from repro.base.validation import check_images, check_int

__all__ = ["predict", "evaluate_images", "is_mmseg_model", "model_device"]


def is_mmseg_model(model: Any) -> bool:
    """True for objects that look like an MMSegmentation segmentor."""
    return hasattr(model, "data_preprocessor") and (hasattr(model, "test_step") or hasattr(model, "predict"))


def model_device(model: Any, default: torch.device | str = "cpu") -> torch.device:
    """Device of the first parameter (or buffer) of ``model``; ``default`` for parameterless callables."""
    if isinstance(model, torch.nn.Module):
        for t in model.parameters():
            return t.device
        for t in model.buffers():
            return t.device
    return torch.device(default)


def _logits_of(out: Any) -> torch.Tensor:
    if isinstance(out, dict):
        if "out" not in out:
            raise TypeError(f"model returned a dict without an 'out' entry (keys {sorted(out)})")
        out = out["out"]
    elif isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        raise TypeError("model must return logits N×C×h×w (tensor, dict with 'out', or tuple); got "
                        f"{type(out).__name__}{'' if not isinstance(out, torch.Tensor) else tuple(out.shape)}")
    return out


def _check_channels(logits: torch.Tensor, num_classes: int | None) -> None:
    """One clear error when the model's class channels do not match the data's class count."""
    if num_classes is not None and logits.shape[1] != num_classes:
        raise ValueError(f"the model outputs {logits.shape[1]} channels (logits N×C×h×w with C={logits.shape[1]}) "
                         f"but the data has {num_classes} classes; build or train the model with "
                         f"{num_classes} output classes (e.g. num_classes={num_classes})")


def _predict_plain(model: Callable, x: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    logits = _logits_of(model(x))
    _check_channels(logits, num_classes)
    if logits.shape[0] != x.shape[0]:
        raise ValueError(f"model returned {logits.shape[0]} outputs for {x.shape[0]} images")
    if logits.shape[-2:] != x.shape[-2:]:
        logits = F.interpolate(logits.float(), size=x.shape[-2:], mode="bilinear", align_corners=False)
    return logits.argmax(1)


def _predict_mmseg(model: Any, x: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    from mmseg.structures import SegDataSample  # imported here only: repro.scoring.inference must not need mmseg

    pre = model.data_preprocessor
    bgr = bool(getattr(pre, "channel_conversion", False))
    h, w = int(x.shape[-2]), int(x.shape[-1])
    inputs, samples = [], []
    for img in x:
        t = img * 255.0
        if bgr:  # the preprocessor flips BGR→RGB, so hand it BGR like cv2.imread would
            t = t.flip(0)
        inputs.append(t)
        s = SegDataSample()
        s.set_metainfo({"img_shape": (h, w), "ori_shape": (h, w), "pad_shape": (h, w)})
        samples.append(s)
    data = pre({"inputs": inputs, "data_samples": samples}, False)
    if not hasattr(model, "inference"):  # not an EncoderDecoder-like segmentor: its own predict()
        results = model.predict(data["inputs"], data["data_samples"])
        for r in results:
            seg_logits = getattr(r, "seg_logits", None)
            if seg_logits is not None and getattr(seg_logits, "data", None) is not None:
                _check_channels(seg_logits.data[None], num_classes)
        return torch.stack([r.pred_sem_seg.data.reshape(h, w) for r in results]).long()
    # EncoderDecoder.predict without its per-image post-processing: the logits at the (padded) input
    # size, cropped to the image, then the class of the maximum over the class axis -- equal to mmseg's
    # argmax, but torch's argmax over dim 1 of an N×C×H×W tensor is ~10× slower than max() here
    metas = [s.metainfo for s in data["data_samples"]]
    logits = model.inference(data["inputs"], metas)
    _check_channels(logits, num_classes)
    pad = metas[0].get("padding_size") or [0, 0, 0, 0]  # left, right, top, bottom (mmseg's stack_batch)
    logits = logits[..., pad[2]:logits.shape[-2] - pad[3], pad[0]:logits.shape[-1] - pad[1]]
    if logits.shape[-2:] != (h, w):
        logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=model.align_corners)
    return logits.max(1).indices.long()


def predict(model: Any, images: torch.Tensor, *, batch_size: int = 8,
            device: torch.device | str | None = None, progress: bool = False,
            num_classes: int | None = None) -> torch.Tensor:
    """Per-pixel class predictions ``N×H×W`` (int64, on the device of ``images``).

    Parameters
    ----------
    model : nn.Module / callable returning logits, or an MMSegmentation segmentor (see module doc)
    images : N×3×H×W float tensor, RGB in [0, 1]
    batch_size : images per forward pass
    device : where to run; default the model's device (a parameterless callable: the images')
    progress : show a tqdm bar over batches
    num_classes : the data's class count; when given, a model whose logits have another number
        of channels is refused with one ``ValueError`` (default: not checked)
    """
    check_images(images)
    check_int(num_classes, "num_classes", 1, optional=True)
    check_int(batch_size, "batch_size", 1)
    if not callable(model) and not is_mmseg_model(model):
        raise TypeError(f"model must be a callable (images -> logits) or an mmseg segmentor, got {type(model).__name__}")
    mm = is_mmseg_model(model)
    dev = torch.device(device) if device is not None else model_device(model, images.device)
    was_training = isinstance(model, torch.nn.Module) and model.training
    if isinstance(model, torch.nn.Module):
        model.eval()
    out = []
    try:
        from tqdm import tqdm
        from repro.base.progress import disabled

        with torch.no_grad():
            for s in tqdm(range(0, images.shape[0], batch_size), desc="predict", unit="batch",
                          disable=disabled(progress), leave=False):
                x = images[s:s + batch_size].to(dev, torch.float32)
                pred = _predict_mmseg(model, x, num_classes) if mm else _predict_plain(model, x, num_classes)
                out.append(pred.to(images.device))
    finally:
        if was_training:
            model.train()
    if not out:
        return torch.empty((0,) + tuple(images.shape[-2:]), dtype=torch.long, device=images.device)
    return torch.cat(out)


def evaluate_images(model: Any, images: torch.Tensor, labels: torch.Tensor, num_classes: int, *,
                    ignore_index: int = 255, batch_size: int = 8, device: torch.device | str | None = None,
                    progress: bool = False, return_matrix: bool = False):
    """aAcc, mAcc, mIoU (percent) of ``model`` on ``images`` (N×3×H×W, [0, 1]) against ``labels``
    (N×H×W int64, ``ignore_index`` skipped), accumulated batch by batch in one confusion matrix.

    Returns the scores dict, or ``(scores, ConfusionMatrix)`` with ``return_matrix=True``.
    """
    check_images(images)
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor N×H×W, got {type(labels).__name__}")
    if labels.shape != (images.shape[0],) + tuple(images.shape[-2:]):
        raise ValueError(f"labels must have shape N×H×W = {(images.shape[0],) + tuple(images.shape[-2:])}, "
                         f"got {tuple(labels.shape)}")
    check_int(batch_size, "batch_size", 1)
    cm = ConfusionMatrix(num_classes, ignore_index)
    from tqdm import tqdm
    from repro.base.progress import disabled

    for s in tqdm(range(0, images.shape[0], batch_size), desc="evaluate", unit="batch",
                  disable=disabled(progress), leave=False):
        pred = predict(model, images[s:s + batch_size], batch_size=batch_size, device=device, num_classes=num_classes)
        cm.update(pred, labels[s:s + batch_size].to(pred.device))
    scores = cm.scores()
    return (scores, cm) if return_matrix else scores
