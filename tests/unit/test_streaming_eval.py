"""Streaming evaluation (repro.data.streaming, repro.evaluation.suites): the streamed, chunk-sharded suites give the
numbers of the stacked split bit for bit; the per-image ImageNet-C cache; argument errors."""
import hashlib

import pytest
import torch

from repro.evaluation import corruptions as corrupt
from repro import perturb
from repro.evaluation import suites as ev
from repro.data import streaming
from repro.data import load_dataset
from repro.base.distributed import assign, run_sharded
from repro.scoring.inference import predict
from repro.scoring.metrics import ConfusionMatrix
from repro.paper.small_models import tiny_unet

IDX = [0, 34, 68, 102, 136, 170]  # 6 CamVid test images, evenly spaced (even_indices(171, 6))
BS = 4  # two chunks: 4 + 2 images
ITEMS = [("clean", "clean", ""), ("basis_aug", "gaussian_noise", 0.6), ("basis_aug", "rotate+", 1.0),
         ("advsteer", "advsteer_3", ""), ("imagenet_c", "fog", 1), ("imagenet_c", "elastic_transform", 2)]


@pytest.fixture(scope="module")
def camvid():
    return load_dataset("camvid", "test")


@pytest.fixture(scope="module")
def model():
    return tiny_unet(11, width=4, downsample=4, seed=1)


def _seed(*parts):
    """The package's seed rule written out (repro.base.seeds)."""
    return int(hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:15], 16)


def _stacked_matrix(model, ds, suite, item, level, indices, seed, bs):
    """Today's data flow before streaming, written out: stack the split, perturb chunk by chunk per the
    seed rule, predict, one confusion matrix."""
    images, labels = ds.batch(indices)
    names = [ds.names[i] for i in (indices if indices is not None else range(len(ds)))]
    cm = ConfusionMatrix(ds.num_classes, ds.ignore_index)
    g = None
    if suite == "basis_aug":
        g = torch.Generator().manual_seed(_seed(seed, item))
    if suite == "advsteer":
        g = torch.Generator().manual_seed(_seed(seed, "advsteer", int(item.split("_")[1])))
    for s in range(0, len(images), bs):
        x, y = images[s:s + bs], labels[s:s + bs]
        if suite == "basis_aug":
            x, y = perturb.apply(x, y, item, float(level), generator=g, border="zoom")
        elif suite == "advsteer":
            x, y = corrupt.advsteer(x, y, int(item.split("_")[1]), variant="paper", generator=g)
        elif suite == "imagenet_c":
            x, y = corrupt.imagenet_c(x, y, item, level, seed=[_seed(seed, item, level, n) for n in names[s:s + bs]])
            x = (x.clamp(0, 1) * 255).round().to(torch.uint8).float() / 255.0
        cm.update(predict(model, x, batch_size=bs, num_classes=ds.num_classes), y)
    return cm.matrix


def test_streamed_and_sharded_items_equal_the_stacked_split(camvid, model):
    """Every suite: the streamed score_item, and its chunks scored in two shares and added, give the
    stacked split's confusion matrix exactly (and so the same aAcc/mAcc/mIoU)."""
    for suite, item, level in ITEMS:
        want = _stacked_matrix(model, camvid, suite, item, level, IDX, 7, BS)
        kw = dict(seed=7, indices=IDX, batch_size=BS)
        got = ev.score_item(model, camvid, suite, item, level, return_matrix=True, **kw).matrix
        assert torch.equal(got, want), (suite, item, level)
        units, costs, run = ev.item_task(model, camvid, suite, item, level, **kw)
        if suite in ev.SEQUENTIAL_SUITES:
            assert units == [None] and costs == [2]  # whole item: one rank
            parts = [run([None])]
        else:
            assert units == [0, 1] and costs == [1, 1]
            parts = [run([1]), run([0])]  # two ranks' shares, gathered in any order
        cm, _ = ev.combine_partials(parts, 11)
        assert torch.equal(cm.matrix, want)
    # real_world (another split, as is)
    dusk = load_dataset("camvid", "test_dusk")
    want = _stacked_matrix(model, dusk, "real_world", "dusk", "", None, 0, BS)
    assert torch.equal(ev.score_item(model, dusk, "real_world", "dusk", "", batch_size=BS, return_matrix=True).matrix,
                       want)


def test_evaluate_streams_with_workers_and_matches(camvid, model):
    res = ev.evaluate(model, camvid, "imagenet_c", seed=7, indices=IDX, batch_size=BS, corruptions=["fog"],
                      severities=(1,), progress=False, num_workers=2)
    want = ConfusionMatrix(11)
    want.matrix = _stacked_matrix(model, camvid, "imagenet_c", "fog", 1, IDX, 7, BS)
    assert res.table.loc[0, "mIoU"] == want.scores()["mIoU"] and res.n_images == 6


def test_chunks_stream_in_order_with_names(camvid):
    got = list(streaming.stream_chunks(camvid, IDX, batch_size=BS, chunks=[1], num_workers=1))
    assert [c.number for c in got] == [1] and got[0].indices == [136, 170]
    assert got[0].names == [camvid.names[136], camvid.names[170]]
    x, y = camvid.batch([136, 170])
    assert torch.equal(got[0].images, x) and torch.equal(got[0].labels, y)
    assert streaming.n_chunks(6, 4) == 2 and list(streaming.chunk_positions(6, 4, 1)) == [4, 5]
    import sys

    assert streaming.fix_mmap_threshold() == sys.platform.startswith("linux")  # glibc here; set once


def test_imagenet_c_cache_is_per_image(camvid, model):
    from repro.base import cache

    ev.score_item(model, camvid, "imagenet_c", "elastic_transform", 2, seed=7, indices=IDX[:2], batch_size=2)
    entries = sorted((cache.cache_dir() / "imagenet_c").glob("*.pt"))
    ours = [torch.load(p, weights_only=False) for p in entries]
    shape = camvid[0]["image"].shape
    ours = [e for e in ours if isinstance(e, dict) and "image" in e and e["image"].shape == shape]
    moved = [e for e in ours if e["label"] is not None]  # elastic_transform moves labels; fog (earlier tests) not
    assert len(moved) >= 2 and all(e["image"].dtype == torch.uint8 and e["label"].dtype == torch.uint8 for e in moved)
    # a second run reads the entries back: the same numbers, chunked differently (batch-size independent draws)
    a = ev.score_item(model, camvid, "imagenet_c", "elastic_transform", 2, seed=7, indices=IDX[:2], batch_size=1,
                      return_matrix=True)
    b = ev.score_item(model, camvid, "imagenet_c", "elastic_transform", 2, seed=7, indices=IDX[:2], batch_size=1,
                      return_matrix=True, force=True)
    assert torch.equal(a.matrix, b.matrix)


def test_assign_and_run_sharded_alone():
    assert assign([1, 1, 1, 1, 1], 2) == [0, 1, 0, 1, 0]
    assert assign([4, 1, 1, 1, 1, 1], 2) == [0, 1, 1, 1, 1, 0]  # least loaded first
    assert run_sharded([([0, 1], [1, 1], lambda mine: mine), ([None], [1], lambda mine: "x")]) == [[[0, 1]], ["x"]]


def test_errors_name_the_argument(camvid, model):
    with pytest.raises(ValueError, match="chunks: the items of suite 'basis_aug'"):
        list(ev.item_batches(camvid, "basis_aug", "R+", 0.5, indices=IDX, batch_size=BS, chunks=[0]))
    with pytest.raises(ValueError, match=r"chunks \[2\] are out of range: 6 images make 2 chunks"):
        list(streaming.stream_chunks(camvid, IDX, batch_size=BS, chunks=[2]))
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        list(streaming.stream_chunks(camvid, IDX, batch_size=0))
    with pytest.raises(ValueError, match="num_workers must be an int >= 0"):
        list(streaming.stream_chunks(camvid, IDX, num_workers=-1))
    with pytest.raises(TypeError, match="dataset must be a repro.data.SegDataset"):
        list(streaming.stream_chunks([1, 2], None))
    with pytest.raises(ValueError, match="give both images and labels"):
        list(ev.item_batches(camvid, "clean", "clean", "", images=torch.zeros(1, 3, 8, 8)))
    with pytest.raises(ValueError, match="num_workers must be an int >= 0, got -2"):
        ev.evaluate(model, camvid, "clean", indices=IDX, num_workers=-2, progress=False)
    from repro.robustness import robustness_report

    with pytest.raises(ValueError, match="num_workers must be an int >= 0, got 1.5"):
        robustness_report(model, camvid, out="/nonexistent/never", num_workers=1.5, progress=False)
    with pytest.raises(ValueError, match="costs must be numbers >= 0"):
        assign([1, -1], 2)
    with pytest.raises(ValueError, match="world must be an int >= 1"):
        assign([1], 0)
