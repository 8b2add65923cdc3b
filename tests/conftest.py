import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Unit tests never read or write the user's cache: point REPRO_CACHE_DIR at a temp folder."""
    from repro.base import paths

    old_env, old_dir = os.environ.get("REPRO_CACHE_DIR"), paths.CACHE_DIR
    tmp = tmp_path_factory.mktemp("repro-cache")
    os.environ["REPRO_CACHE_DIR"] = str(tmp)
    paths.CACHE_DIR = tmp
    yield tmp
    paths.CACHE_DIR = old_dir
    if old_env is None:
        os.environ.pop("REPRO_CACHE_DIR", None)
    else:
        os.environ["REPRO_CACHE_DIR"] = old_env


@pytest.fixture(autouse=True, scope="session")
def _placeholder_pretrained_weights(tmp_path_factory):
    """The `paper` profile loads ImageNet backbones (pretrained="auto"): tiny placeholder files under the
    published names in REPRO_PRETRAINED_DIR, so paper configs compose without the real weights."""
    from repro.train.pretrained import PRETRAINED_DIR_ENV, PUBLISHED
    import torch

    old = os.environ.get(PRETRAINED_DIR_ENV)
    d = tmp_path_factory.mktemp("pretrained").resolve()
    for name, _ in PUBLISHED.values():
        torch.save({"placeholder": torch.zeros(1)}, d / name)
    os.environ[PRETRAINED_DIR_ENV] = str(d)
    yield d
    if old is None:
        os.environ.pop(PRETRAINED_DIR_ENV, None)
    else:
        os.environ[PRETRAINED_DIR_ENV] = old


@pytest.fixture(autouse=True)
def _no_stale_runner():
    """mmengine keeps the last runner's MessageHub as its current instance after the runner is gone;
    a test that applies SensitivityAugment outside a runner must not see another test's finished run
    (it would wait for that run's schedule). Make mmengine's default hub current before each test."""
    import sys

    if "mmengine" in sys.modules:
        from mmengine.logging import MessageHub

        MessageHub.get_instance("mmengine")
        MessageHub._instance_dict.move_to_end("mmengine")
    yield
