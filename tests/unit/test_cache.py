import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from repro.base import cache, paths


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


# ------------------------------------------------------------------------------ where the cache lives

def _fake_checkout(root, name="sia-repro"):
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "0"\n')
    return root


def test_cache_env_always_wins(tmp_path):
    repo = _fake_checkout(tmp_path / "repo")
    env = {"REPRO_CACHE_DIR": str(tmp_path / "mine"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert cache.default_cache_dir(environ=env, cwd=repo, repo_root=repo) == (tmp_path / "mine").resolve()
    assert cache.default_cache_dir(environ=env, cwd=tmp_path, repo_root=repo) == (tmp_path / "mine").resolve()


def test_cache_in_checkout_when_run_from_inside_it(tmp_path):
    repo = _fake_checkout(tmp_path / "repo")
    (repo / "notebooks").mkdir()
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert cache.default_cache_dir(environ=env, cwd=repo, repo_root=repo) == repo.resolve() / ".cache"
    assert cache.default_cache_dir(environ=env, cwd=repo / "notebooks", repo_root=repo) == repo.resolve() / ".cache"
    assert cache.default_cache_dir(environ={**env, "REPRO_CACHE_DIR": ""}, cwd=repo, repo_root=repo) == \
        repo.resolve() / ".cache"  # an empty variable counts as unset


def test_user_cache_when_used_from_elsewhere(tmp_path, monkeypatch):
    repo = _fake_checkout(tmp_path / "repo")
    outside = tmp_path / "work"
    outside.mkdir()
    xdg = tmp_path / "xdg"
    assert cache.default_cache_dir(environ={"XDG_CACHE_HOME": str(xdg)}, cwd=outside, repo_root=repo) == xdg / "sia-repro"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    home_cache = tmp_path / "home" / ".cache" / "sia-repro"
    assert cache.default_cache_dir(environ={}, cwd=outside, repo_root=repo) == home_cache
    assert cache.default_cache_dir(environ={"XDG_CACHE_HOME": "relative/dir"}, cwd=outside, repo_root=repo) == home_cache


def test_user_cache_for_an_installed_package_or_another_project(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    site = tmp_path / "site-packages"  # an installed package: no pyproject.toml above repro/
    site.mkdir()
    assert cache.default_cache_dir(environ=env, cwd=site, repo_root=site) == tmp_path / "xdg" / "sia-repro"
    other = _fake_checkout(tmp_path / "other", name="someone-elses-project")
    assert cache.default_cache_dir(environ=env, cwd=other, repo_root=other) == tmp_path / "xdg" / "sia-repro"


def test_user_cache_for_a_read_only_checkout(tmp_path, monkeypatch):
    repo = _fake_checkout(tmp_path / "repo")
    monkeypatch.setattr(cache.os, "access", lambda path, mode: False)  # chmod does not stop root
    got = cache.default_cache_dir(environ={"XDG_CACHE_HOME": str(tmp_path / "xdg")}, cwd=repo, repo_root=repo)
    assert got == tmp_path / "xdg" / "sia-repro"


def test_this_repository_counts_as_a_checkout(monkeypatch):
    monkeypatch.delenv("REPRO_CACHE_DIR", raising=False)
    monkeypatch.chdir(paths.REPO_ROOT)
    assert cache.default_cache_dir() == paths.REPO_ROOT / ".cache"


def test_cache_dir_follows_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path)
    assert cache.cache_dir() == tmp_path
    assert cache.entry_path("unit", {"a": 1}).parent == tmp_path / "unit"


def test_cache_dir_bad_environ():
    with pytest.raises(TypeError, match="environ must be a mapping"):
        cache.default_cache_dir(environ=["REPRO_CACHE_DIR=/x"])


@pytest.mark.skipif("default_cache_dir" not in Path(paths.__file__).read_text(),
                    reason="repro.base.paths does not yet take CACHE_DIR from repro.base.cache.default_cache_dir")
def test_paths_cache_dir_uses_the_rule(tmp_path):
    """A fresh interpreter started outside the checkout puts the cache in the per-user folder."""
    env = {k: v for k, v in os.environ.items() if k != "REPRO_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(paths.REPO_ROOT))
    code = "import repro.base.paths as p; print(p.CACHE_DIR)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(tmp_path / "xdg" / "sia-repro")
    out = subprocess.run([sys.executable, "-c", code], cwd=paths.REPO_ROOT, env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == str(paths.REPO_ROOT / ".cache")
