"""Tolerance bands on the tables that the smoke notebooks wrote to ``paper_tables/smoke/``.

``make test`` runs nbval on ``notebooks/`` first (re-executing every notebook at its smoke
defaults), then these checks. Run alone without the smoke outputs they skip locally and fail in
CI (where a missing table means a notebook did not save it).
"""
import os

import pandas as pd
import pytest

from repro import paths, tables

SMOKE = paths.TABLES_DIR / "smoke"


def _read(name):
    p = SMOKE / f"{name}.csv"
    if not p.exists():
        msg = f"{paths.relpath(p)} missing: run nbval on notebooks/ (make test) first"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return pd.read_csv(p)


def test_data_brightness_table():
    df = _read("data_brightness").set_index("split")
    assert list(df.index) == ["train", "val", "test", "test_dusk"]
    assert df.loc["test_dusk", "images"] == 62
    assert 40 < df.loc["test_dusk", "mean_brightness"] < 80
    assert df.loc["test_dusk", "mean_brightness"] < 0.7 * df.loc["test", "mean_brightness"]


def test_data_class_shares_sum_to_100():
    df = _read("data_class_shares").set_index("class")
    assert len(df) == 11
    assert ((df.sum(axis=0) - 100).abs() < 0.01).all()
    assert df.loc["Road"].min() > 15  # road is the largest class in every split


def test_published_copies_equal_shared():
    """The repo's paper/*.csv equal the transcription in ../shared/paper when it is present."""
    shared = paths.REPO_ROOT.parent / "shared" / "paper"
    for name in tables.PUBLISHED:
        ours = tables.published(name)
        assert len(ours) > 0
        if (shared / f"{name}.csv").exists():
            pd.testing.assert_frame_equal(ours, pd.read_csv(shared / f"{name}.csv"))
