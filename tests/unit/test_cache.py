import pandas as pd
import pytest
import torch

from repro import cache


def test_cached_computes_once_and_reloads():
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.arange(3), "df": pd.DataFrame({"a": [1, 2]})}

    cfg = {"dataset": "camvid", "n": 3, "tuple": (1, 2)}
    a = cache.cached("unit", cfg, compute)
    b = cache.cached("unit", dict(reversed(list(cfg.items()))), compute)  # key order irrelevant
    assert len(calls) == 1
    assert torch.equal(a["x"], b["x"]) and b["df"]["a"].tolist() == [1, 2]
    cache.cached("unit", cfg, compute, force=True)
    assert len(calls) == 2
    assert cache.entry_path("unit", cfg).with_suffix(".json").exists()


def test_config_hash_distinguishes_values():
    assert cache.config_hash({"a": 1}) != cache.config_hash({"a": 2})
    assert cache.config_hash({"a": [1, 2]}) == cache.config_hash({"a": (1, 2)})


def test_bad_arguments():
    with pytest.raises(TypeError, match="JSON-like"):
        cache.config_hash({"a": object()})
    with pytest.raises(TypeError, match="config must be a mapping"):
        cache.config_hash([1])
    with pytest.raises(ValueError, match="plain folder name"):
        cache.entry_path("../x", {})
    with pytest.raises(TypeError, match="callable"):
        cache.cached("unit", {}, 3)
