"""Tests of repro.scoring.perturbed (perturb then score, one seed rule) and repro.base.seeds."""
import hashlib

import numpy as np
import pytest
import torch

from repro import perturb
from repro.scoring.metrics import miou_of_matrices
from repro.scoring.perturbed import clean_matrices, evaluate_levels, perturb_each, perturbed_chunks, perturbed_matrices
from repro.base.seeds import derive_seed, torch_generator
from test_sensitivity import RedThreshold, tiny_extractor, toy_data


def test_derive_seed_is_sha1_of_the_joined_parts():
    want = int(hashlib.sha1(b"3|gaussian_noise|0.6").hexdigest()[:15], 16)
    assert derive_seed(3, "gaussian_noise", 0.6) == want
    assert derive_seed(np.int64(3), "gaussian_noise", "0.6") == want  # numpy ints, parts as text
    assert 0 <= want < 2 ** 60
    assert derive_seed(3, "R+") != derive_seed(4, "R+") != derive_seed(3, "R-")
    g = torch_generator(3, "gaussian_noise", 0.6)
    assert g.initial_seed() == want
    with pytest.raises(TypeError, match="seed must be an int, got bool"):
        derive_seed(True, "R+")
    with pytest.raises(TypeError, match="seed must be an int, got float"):
        derive_seed(1.5, "R+")


def test_perturbed_matrices_is_seeded_by_type_only():
    images, labels = toy_data()
    kw = dict(seed=5, num_classes=2, batch_size=3)
    a, none = perturbed_matrices(RedThreshold(), images, labels, "gaussian_noise", 0.6, **kw)
    b, _ = perturbed_matrices(RedThreshold(), images, labels, "gaussian_noise", 0.6, **kw)
    assert none is None and a.shape == (images.shape[0], 2, 2) and torch.equal(a, b)
    assert int(a.sum()) == int((labels != 255).sum())  # every labelled pixel counted once
    c, _ = perturbed_matrices(RedThreshold(), images, labels, "gaussian_noise", 0.6, **{**kw, "seed": 6})
    assert not torch.equal(a, c)
    _, feats = perturbed_matrices(RedThreshold(), images, labels, "R+", 0.5, extractor=tiny_extractor(), **kw)
    assert feats.shape[0] == images.shape[0]


def test_chunks_draw_from_one_generator_per_type():
    images, labels = toy_data(n=5)
    got = list(perturbed_chunks(images, labels, "gaussian_noise", 0.4, seed=2, batch_size=2))
    assert [x.shape[0] for x, _ in got] == [2, 2, 1]
    g = torch.Generator().manual_seed(derive_seed(2, "gaussian_noise"))
    for s, (x, y) in zip(range(0, 5, 2), got):
        x0, y0 = perturb.apply(images[s:s + 2], labels[s:s + 2], "gaussian_noise", 0.4, generator=g)
        assert torch.equal(x, x0) and torch.equal(y, y0)
    assert [y for _, y in perturbed_chunks(images, None, "R+", 0.4, batch_size=4)] == [None, None]
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        list(perturbed_chunks(images, labels, "R+", 0.4, batch_size=0))


def test_evaluate_levels_is_perturbed_matrices_per_level_with_common_draws():
    images, labels = toy_data()
    model = RedThreshold()
    levels = {"gaussian_noise": [0.5, 0.5, 0.9], "R+": [0.3, 1.0]}
    table, clean = evaluate_levels(model, images, labels, levels, num_classes=2, batch_size=3, seed=7)
    assert list(table.columns) == ["type", "level", "alpha", "miou"]
    assert table["level"].tolist() == [1, 2, 3, 1, 2]
    noise = table[table["type"] == "gaussian_noise"]["miou"].tolist()
    assert noise[0] == noise[1]  # the same draws at every level of a type
    mats, _ = perturbed_matrices(model, images, labels, "gaussian_noise", 0.9, seed=7, num_classes=2, batch_size=3)
    assert noise[2] == pytest.approx(float(miou_of_matrices(mats.sum(0))))
    assert clean == pytest.approx(float(miou_of_matrices(clean_matrices(model, images, labels, num_classes=2).sum(0))))
    # a type's numbers do not depend on the other types or their order
    alone, _ = evaluate_levels(model, images, labels, {"gaussian_noise": [0.9]}, num_classes=2, batch_size=3, seed=7)
    assert alone["miou"].tolist() == [noise[2]]


def test_perturb_each_does_not_depend_on_the_batch():
    images, _ = toy_data(n=4)
    keys = ["a.png", "b.png", "c.png", "d.png"]
    whole = perturb_each(images, "gaussian_noise", 0.5, seed=1, keys=keys)
    parts = torch.cat([perturb_each(images[:1], "gaussian_noise", 0.5, seed=1, keys=keys[:1]),
                       perturb_each(images[1:], "gaussian_noise", 0.5, seed=1, keys=keys[1:])])
    assert torch.equal(whole, parts) and not torch.equal(whole, images)
    g = torch.Generator().manual_seed(derive_seed(1, "gaussian_noise", "c.png"))
    assert torch.equal(whole[2:3], perturb.apply(images[2:3], None, "gaussian_noise", 0.5, generator=g)[0])
    assert torch.equal(perturb_each(images, "V-", 0.5, keys=keys), perturb.apply(images, None, "V-", 0.5)[0])
    with pytest.raises(ValueError, match="keys must name each of the 4 images, got 3"):
        perturb_each(images, "gaussian_noise", 0.5, keys=keys[:3])
