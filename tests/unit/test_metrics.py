"""Tests of repro.scoring.metrics: brute-force reference, MMSegmentation's IoUMetric, bad inputs."""
import math

import numpy as np
import pytest
import torch

from repro.scoring.metrics import ConfusionMatrix, segmentation_scores


def brute_force(pred, target, num_classes, ignore_index=255):
    """Per-pixel loops in plain python/numpy: the definition of SPEC.md §7."""
    pred = np.asarray(pred).ravel()
    target = np.asarray(target).ravel()
    ious, accs = [], []
    correct = labelled = 0
    for t, p in zip(target, pred):
        if t == ignore_index:
            continue
        labelled += 1
        correct += int(t == p)
    for c in range(num_classes):
        in_gt = (target == c)
        in_pred = (pred == c) & (target != ignore_index)
        inter = np.sum(in_gt & in_pred)
        union = np.sum(in_gt | in_pred)
        ious.append(inter / union if union else math.nan)
        accs.append(inter / in_gt.sum() if in_gt.sum() else math.nan)
    return {"aAcc": 100 * correct / labelled, "mAcc": 100 * np.nanmean(accs), "mIoU": 100 * np.nanmean(ious),
            "iou": np.array(ious), "acc": np.array(accs)}


def random_case(seed, n=3, h=9, w=7, c=5, absent=(3,), ignore_frac=0.2):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, c, size=(n, h, w))
    pred = np.where(rng.random((n, h, w)) < 0.6, target, rng.integers(0, c, size=(n, h, w)))
    for a in absent:  # a class absent from both prediction and truth
        target[target == a] = 0
        pred[pred == a] = 1
    target[rng.random((n, h, w)) < ignore_frac] = 255
    return pred, target


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force(seed):
    pred, target = random_case(seed)
    ref = brute_force(pred, target, 5)
    got = segmentation_scores(torch.from_numpy(pred), torch.from_numpy(target), 5)
    for k in ("aAcc", "mAcc", "mIoU"):
        assert got[k] == pytest.approx(ref[k], abs=1e-10)
    cm = ConfusionMatrix(5).update(pred, target)
    np.testing.assert_allclose(cm.per_class_iou(), ref["iou"], equal_nan=True)
    np.testing.assert_allclose(cm.per_class_acc(), ref["acc"], equal_nan=True)
    assert math.isnan(cm.per_class_iou()[3])  # absent from both → NaN, left out of the mean


def test_accumulation_equals_one_shot_and_counts_pixels():
    pred, target = random_case(5, n=4)
    cm = ConfusionMatrix(5)
    for i in range(4):
        cm.update(pred[i], target[i])
    one = segmentation_scores(pred, target, 5)
    assert cm.scores() == pytest.approx(one)
    assert int(cm.matrix.sum()) == int((target != 255).sum())
    cm2 = ConfusionMatrix(5).update(pred[:2], target[:2])
    cm2 += ConfusionMatrix(5).update(pred[2:], target[2:])
    assert torch.equal(cm2.matrix, cm.matrix)


def test_predicted_but_absent_class_convention():
    # class 2 is predicted but absent from the truth: IoU 0 (counted), Acc NaN (left out)
    target = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 2, 1, 1]])
    cm = ConfusionMatrix(3).update(pred, target)
    assert cm.per_class_iou()[2] == 0.0
    assert math.isnan(cm.per_class_acc()[2])
    s = cm.scores()
    assert s["mIoU"] == pytest.approx(100 * (0.5 + 1.0 + 0.0) / 3)
    assert s["mAcc"] == pytest.approx(100 * (0.5 + 1.0) / 2)
    assert s["aAcc"] == pytest.approx(75.0)


def test_perfect_and_empty():
    t = torch.tensor([[0, 1], [2, 255]])
    assert segmentation_scores(t.clone().clamp(max=2), t, 3) == {"aAcc": 100.0, "mAcc": 100.0, "mIoU": 100.0}
    s = ConfusionMatrix(3).scores()
    assert all(math.isnan(v) for v in s.values())


def test_matches_mmseg_iou_metric():
    try:
        from mmseg.evaluation.metrics.iou_metric import IoUMetric
    except Exception as exc:  # mmcv-lite without mmcv.ops
        try:
            import repro.train  # noqa: F401  (installs the mmcv stand-in)
            from mmseg.evaluation.metrics.iou_metric import IoUMetric
        except Exception:
            pytest.skip(f"mmseg IoUMetric not importable: {exc}")
    for seed in range(3):
        pred, target = random_case(seed, n=4, h=16, w=12, c=6, absent=(3, 5))
        metric = IoUMetric(iou_metrics=["mIoU"], ignore_index=255)
        metric.dataset_meta = {"classes": [f"c{i}" for i in range(6)]}
        samples = [{"pred_sem_seg": {"data": torch.from_numpy(p)[None]},
                    "gt_sem_seg": {"data": torch.from_numpy(t)[None]}} for p, t in zip(pred, target)]
        metric.process({}, samples)
        ref = metric.compute_metrics(metric.results)
        got = segmentation_scores(pred, target, 6)
        for k in ("aAcc", "mAcc", "mIoU"):
            assert round(got[k], 2) == pytest.approx(ref[k], abs=1e-9)
        # unrounded per-class values through mmseg's own formula
        inter, union, area_pred, area_label = (sum(x) for x in zip(*metric.results))
        per = IoUMetric.total_area_to_metrics(inter, union, area_pred, area_label, ["mIoU"])
        cm = ConfusionMatrix(6).update(pred, target)
        np.testing.assert_allclose(cm.per_class_iou(), np.asarray(per["IoU"]), equal_nan=True, rtol=1e-6)
        np.testing.assert_allclose(cm.per_class_acc(), np.asarray(per["Acc"]), equal_nan=True, rtol=1e-6)


def test_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        segmentation_scores(np.zeros((2, 3), int), np.zeros((3, 2), int), 3)
    with pytest.raises(ValueError, match="outside 0..2"):
        segmentation_scores(np.zeros((2, 2), int), np.full((2, 2), 7), 3)
    with pytest.raises(ValueError, match=r"pred holds class ids outside 0\.\.2: range 3\.\.3; .*more channels than the data's 3 classes"):
        segmentation_scores(np.full((2, 2), 3), np.zeros((2, 2), int), 3)
    with pytest.raises(TypeError, match="integer class ids"):
        segmentation_scores(torch.zeros(2, 2), torch.zeros(2, 2, dtype=torch.long), 3)
    with pytest.raises(TypeError, match="torch.Tensor or numpy array"):
        segmentation_scores([[0]], [[0]], 3)
    with pytest.raises(ValueError, match="positive integer"):
        ConfusionMatrix(0)
    with pytest.raises(ValueError, match="same num_classes"):
        cm = ConfusionMatrix(3)
        cm += ConfusionMatrix(4)
