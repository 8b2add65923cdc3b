"""Sharding of SensitivityHook events between ranks: the merged result equals the unsharded one.

The 2-process gloo run of ``test_train_resume_ddp.py`` (slow) exercises the same code through
``torch.distributed``; here the ranks are simulated in one process with a tiny model, so that the
equality of every number can be checked in seconds.
"""
from __future__ import annotations

import copy
import logging

import pytest
import torch

pytest.importorskip("mmseg")

from repro.train import hooks as H  # noqa: E402

TYPES = ["R+", "V-", "rotate+", "gaussian_noise", "shear_x-"]


class TinySeg(torch.nn.Module):
    """A 1×1 convolution over colour and a blurred copy: a model with curves that move with every type."""

    def __init__(self, num_classes: int = 11):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.conv = torch.nn.Conv2d(6, num_classes, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g))
            self.conv.bias.zero_()
        self.decode_head = type("Head", (), {"num_classes": num_classes})()

    def forward(self, x):
        blurred = torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2)
        return self.conv(torch.cat([x, blurred], 1))


class Runner:
    def __init__(self, model):
        self.model = model
        self.iter = 0
        self.logger = logging.getLogger("test_hook_sharding")
        self.cfg = {}


def _hook(**kw):
    args = dict(types=TYPES, dataset=dict(name="camvid", split="val"), subset=4, dataset_size=(64, 48),
                extractor="conv-random", analysis=dict(budget=3, batch_size=4, guard=None))
    args.update(kw)
    return H.SensitivityHook(**args)


def _same(a: dict, b: dict, keys=("levels", "clean_miou", "table", "distribution", "analysis", "analysis_points",
                                  "n_evaluations", "flags", "extractor")):
    for k in keys:
        assert a[k] == b[k], k


@pytest.fixture(scope="module")
def runner():
    return Runner(TinySeg().eval())


def test_shard_types_round_robin_and_errors():
    assert H.shard_types(TYPES, 0, 2) == ["R+", "rotate+", "shear_x-"]
    assert H.shard_types(TYPES, 1, 2) == ["V-", "gaussian_noise"]
    assert sum((H.shard_types(TYPES, r, 3) for r in range(3)), []) != TYPES  # interleaved, not blocks
    assert sorted(sum((H.shard_types(TYPES, r, 3) for r in range(3)), [])) == sorted(TYPES)
    assert H.shard_types(TYPES, 6, 8) == []
    with pytest.raises(ValueError, match="world_size must be an int >= 1"):
        H.shard_types(TYPES, 0, 0)
    with pytest.raises(ValueError, match=r"rank must be an int in \[0, 2\)"):
        H.shard_types(TYPES, 2, 2)
    with pytest.raises(TypeError, match="shard must be True or False"):
        H.SensitivityHook(shard="auto")


@pytest.mark.parametrize("measure_levels", [True, False])
def test_sharded_analysis_and_refresh_equal_the_unsharded_event(runner, measure_levels):
    hook = _hook(measure_levels=measure_levels)
    hook._ensure_extractor(runner, torch.device("cpu"))
    full = hook._compute_payload(runner, "analysis", 0)
    assert full["n_evaluations"] > len(TYPES) and len(full["analysis"]) == 5 * len(TYPES)
    for world in (2, 3, 8):  # 8 > 5 types: ranks without a type
        parts = [hook._compute_payload(runner, "analysis", 0, H.shard_types(TYPES, r, world)) for r in range(world)]
        assert all(p["distribution"] is None for p in parts)
        merged = H.merge_payloads(parts, TYPES, weighting=hook.weighting, jitter=hook.jitter)
        _same(merged, full)
        assert merged["ranks"] == world
    hook.levels = full["levels"]
    ref = hook._compute_payload(runner, "refresh", 3)
    parts = [hook._compute_payload(runner, "refresh", 3, H.shard_types(TYPES, r, 2)) for r in range(2)]
    _same(H.merge_payloads(parts, TYPES), ref, keys=("levels", "clean_miou", "table", "distribution"))


def test_event_in_a_simulated_two_rank_job_uses_the_shards_and_the_cache(runner, monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path / "cache"))
    single = _hook()
    single._ensure_extractor(runner, torch.device("cpu"))
    want = single._compute_payload(runner, "analysis", 0)

    hook = _hook(cache_events=True)
    other = copy.deepcopy(hook)  # "rank 1": its own hook object, the same model
    calls = []

    def all_gather_object(part):
        calls.append("gather")
        other._ensure_extractor(runner, torch.device("cpu"))
        return [part, other._compute_payload(runner, "analysis", 0, H.shard_types(TYPES, 1, 2))]

    monkeypatch.setattr(H, "get_world_size", lambda: 2)
    monkeypatch.setattr(H, "get_rank", lambda: 0)
    monkeypatch.setattr(H, "all_gather_object", all_gather_object)
    monkeypatch.setattr(H, "broadcast_object_list", lambda box, src=0: None)
    monkeypatch.setattr(hook, "_publish", lambda *a, **k: None)
    monkeypatch.setattr(hook, "_log", lambda *a, **k: None)
    hook._event(runner, "analysis", 0)
    got = hook.history[-1]
    _same(got, want)
    assert calls == ["gather"] and got["cached"] is False and got["ranks"] == 2
    assert hook.distribution.to_dict() == want["distribution"]

    again = _hook(cache_events=True)  # the same event again: read from the cache, nothing gathered
    monkeypatch.setattr(again, "_publish", lambda *a, **k: None)
    monkeypatch.setattr(again, "_log", lambda *a, **k: None)
    again._event(runner, "analysis", 0)
    assert calls == ["gather"] and again.history[-1]["cached"] is True
    _same(again.history[-1], want)


def test_merge_payloads_refuses_mismatched_parts(runner):
    hook = _hook(types=["R+", "V-"], analysis=dict(budget=2, batch_size=4, guard=None))
    hook._ensure_extractor(runner, torch.device("cpu"))
    hook.levels = {"R+": [0.2, 0.4, 0.6, 0.8, 1.0], "V-": [0.2, 0.4, 0.6, 0.8, 1.0]}
    p0 = hook._compute_payload(runner, "refresh", 2, ["R+"])
    p1 = hook._compute_payload(runner, "refresh", 4, ["V-"])
    with pytest.raises(ValueError, match="different events"):
        H.merge_payloads([p0, p1], ["R+", "V-"])
    with pytest.raises(ValueError, match="cover the types"):
        H.merge_payloads([p0], ["R+", "V-"])
    with pytest.raises(ValueError, match="no partial result"):
        H.merge_payloads([], ["R+"])


def test_measures_levels_follows_the_hook_settings_and_defaults():
    # the hook's defaults (analysis adaptive, measure_levels, refreshes, final refresh) measure levels
    assert H.measures_levels({})
    only_analysis = dict(analysis="adaptive", measure_levels=False, num_refreshes=0, final_refresh=False)
    assert not H.measures_levels(only_analysis)
    for change in (dict(analysis="none"), dict(measure_levels=True), dict(num_refreshes=2), dict(final_refresh=True)):
        assert H.measures_levels({**only_analysis, **change}), change


def test_one_set_of_analysis_settings_from_profile_to_hook():
    import repro.train as T
    from repro.base.profiles import profile_parameters
    from repro.analysis.sensitivity import AnalysisSettings
    from repro.train.run_identity import run_hash

    for profile in ("smoke", "cpu"):
        cfg = T.build_config("fastscnn", "ours", "camvid", profile=profile)
        spec = next(h for h in cfg.custom_hooks if h["type"] == "SensitivityHook")
        hook = H.SensitivityHook(**H.hook_args(spec))
        # notebook 03's analysis parameter and the hook's settings are the profile's one block
        want = AnalysisSettings.of(profile_parameters(profile)["analysis"], method="adaptive", seed=0, border="zoom")
        assert hook.settings == want
        # a config written before AnalysisSettings (flat hook arguments) keeps the run's identity and settings
        legacy = dict(spec)
        a = dict(legacy.pop("analysis"))
        legacy.update(analysis=a.pop("method"), max_evals=a.pop("budget"), eval_batch_size=a.pop("batch_size"), **a)
        old = cfg.copy()
        old.custom_hooks = [h if h["type"] != "SensitivityHook" else legacy for h in cfg.custom_hooks]
        assert run_hash(old) == run_hash(cfg)
        assert H.SensitivityHook(**H.hook_args(legacy)).settings == want
    assert H.legacy_analysis_args(dict(analysis="none", max_evals=3, subset=4)) == ["analysis", "max_evals"]
    assert H.legacy_analysis_args(dict(analysis=dict(budget=3), subset=4)) == []
    st = AnalysisSettings(budget=4, batch_size=2)  # an AnalysisSettings in build_config's sia is taken as it is
    spec = next(h for h in T.build_config("fastscnn", "ours", "camvid", profile="cpu", sia=dict(analysis=st)).custom_hooks
                if h["type"] == "SensitivityHook")
    assert H.SensitivityHook(**H.hook_args(spec)).settings == st
    no_sa = T.build_config("fastscnn", "ours_no_sa", "camvid", profile="cpu")
    spec = next(h for h in no_sa.custom_hooks if h["type"] == "SensitivityHook")
    assert H.SensitivityHook(**H.hook_args(spec)).settings.method == "none"
