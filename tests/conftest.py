import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Unit tests never read or write the user's cache: point REPRO_CACHE_DIR at a temp folder."""
    from repro import paths

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
