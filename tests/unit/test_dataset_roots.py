"""Docs = code for the paper datasets' folders: every ``REPRO_*_ROOT`` the README names is read by
the one resolver (``repro.train.datasets.default_data_root``), and every dataset the code knows
has its variable in the README."""
import re

import pytest
import yaml

import repro.train as T
from repro.evaluation import suites as ev
from repro.base import paths
from repro.data import SHIPPED, DataError
from repro.train import datasets as D
from repro.base.profiles import PROFILES_FILE

README = (paths.REPO_ROOT / "README.md").read_text()
ROOT_VARS = sorted(set(re.findall(r"REPRO_[A-Z0-9_]+_ROOT", README)))


@pytest.fixture(autouse=True)
def _no_root_variables(monkeypatch):
    monkeypatch.delenv(D.DATA_ROOT_ENV, raising=False)
    for var in D.DATASET_ROOT_ENV.values():
        monkeypatch.delenv(var, raising=False)


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n#", start + len(title))
    return README[start:end if end != -1 else None]


def test_readme_names_root_variables():
    assert "REPRO_DATA_ROOT" in ROOT_VARS and "REPRO_CITYSCAPES_ROOT" in ROOT_VARS


@pytest.mark.parametrize("var", ROOT_VARS)
def test_every_documented_root_variable_is_resolved(var, tmp_path, monkeypatch):
    if var == D.DATA_ROOT_ENV:
        monkeypatch.setenv(var, str(tmp_path))
        for name in D.DATASET_ROOT_ENV:
            assert D.default_data_root(name) == tmp_path / name
        return
    names = [n for n, v in D.DATASET_ROOT_ENV.items() if v == var]
    assert names, f"README documents {var} but the code reads no such variable"
    monkeypatch.setenv(D.DATA_ROOT_ENV, str(tmp_path / "parent"))
    monkeypatch.setenv(var, str(tmp_path / "own"))
    assert D.default_data_root(names[0]) == tmp_path / "own"  # the dataset's own variable wins


def test_every_known_dataset_has_its_variable_documented():
    shipped = set(SHIPPED)
    configs = {p.stem for p in (T.config.CONFIG_DIR / "datasets").glob("*.py")}
    assert set(D.DATASET_ROOT_ENV) == configs - shipped == set(T.DATASETS) - shipped
    table = _section("### Pointing the `paper` profile at your data")
    for name, var in D.DATASET_ROOT_ENV.items():
        assert var == f"REPRO_{name.upper()}_ROOT" and f"`{var}`" in table
    for name, var in ev.REAL_WORLD_ENV.items():
        assert D.DATASET_ROOT_ENV[name] == var


def test_no_data_root_profile_key():
    """The README once documented a ``data_root`` key in the profile file that nothing read."""
    profiles = yaml.safe_load(PROFILES_FILE.read_text())
    assert all("data_root" not in p for p in profiles.values())
    assert "profiles.yaml" not in _section("### Pointing the `paper` profile at your data")


def test_resolver_fallbacks(tmp_path, monkeypatch):
    assert D.configured_data_root("cityscapes") is None
    assert D.default_data_root("cityscapes") == paths.DATA_DIR / "cityscapes"
    monkeypatch.setenv(D.DATA_ROOT_ENV, str(tmp_path))
    assert D.configured_data_root("idd") == tmp_path / "idd"
    assert D.default_data_root("camvid") == paths.DATA_DIR / "camvid"  # shipped data stays in data/
    monkeypatch.setenv("REPRO_IDD_ROOT", "")  # empty counts as unset
    assert D.default_data_root("idd") == tmp_path / "idd"
    assert D.default_data_root("acdc", {"REPRO_ACDC_ROOT": "~/acdc"}).parts[-1] == "acdc"


def test_resolver_bad_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'kitti'; expected one of camvid, .*cityscapes"):
        D.default_data_root("kitti")
    with pytest.raises(ValueError, match=r"unknown dataset None"):
        D.configured_data_root(None)
    with pytest.raises(ValueError, match=r"dataset 'camvid' is shipped in data/camvid and has no root variable"):
        D.dataset_root_env("camvid")


def test_config_reads_the_variable_and_the_error_names_it(tmp_path, monkeypatch):
    missing = tmp_path / "cs"
    monkeypatch.setenv("REPRO_CITYSCAPES_ROOT", str(missing))
    cfg = T.build_config("pspnet_r50", "ours", "cityscapes", profile="paper", seed=0)
    assert cfg.train_dataloader.dataset.data_root == str(missing)
    with pytest.raises(D.DataLayoutError) as exc:
        D.check_data_layout(cfg)
    msg = str(exc.value)
    assert "\n" not in msg
    assert re.match(rf"cityscapes: {re.escape(str(missing))} is missing or empty; expected a non-empty folder; .*"
                    rf"set \$REPRO_CITYSCAPES_ROOT to the dataset folder \(or \$REPRO_DATA_ROOT to its parent, "
                    rf"read as \$REPRO_DATA_ROOT/cityscapes\) or pass data_root=.*; expected layout under "
                    rf"{re.escape(str(missing))}: leftImg8bit/\{{train,val\}}/<city>/\*_leftImg8bit.png; "
                    rf"gtFine/.*_gtFine_labelTrainIds.png", msg), msg


def test_parent_variable_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA_ROOT", str(tmp_path))
    (tmp_path / "voc2012" / "JPEGImages").mkdir(parents=True)
    (tmp_path / "voc2012" / "JPEGImages" / "a.jpg").write_bytes(b"")
    (tmp_path / "voc2012" / "SegmentationClass").mkdir()
    (tmp_path / "voc2012" / "SegmentationClass" / "a.png").write_bytes(b"")
    cfg = T.build_config("pspnet_r50", "sota", "voc2012", profile="paper", seed=0)
    split_file = re.escape(str(tmp_path / "voc2012" / "ImageSets" / "Segmentation"))
    with pytest.raises(D.DataLayoutError, match=rf"^voc2012: {split_file}/\w+\.txt is missing; expected this file; "
                                                r".*\$REPRO_VOC2012_ROOT.*ImageSets/Segmentation/\{train,val\}\.txt"):
        D.check_data_layout(cfg)


def test_real_world_sets_use_the_resolver(tmp_path, monkeypatch):
    assert ev.real_world_sets(include_shipped=False) == {}
    monkeypatch.setenv("REPRO_DATA_ROOT", str(tmp_path))  # no acdc/ there: ACDC is optional
    assert ev.real_world_sets(include_shipped=False) == {}
    (tmp_path / "acdc").mkdir()
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'acdc' / 'rgb_anon' / 'fog' / 'val'))}: "
                                        r"ACDC condition folder missing.*\$REPRO_ACDC_ROOT"):
        ev.real_world_sets(include_shipped=False)
    monkeypatch.setenv("REPRO_ACDC_ROOT", str(tmp_path / "mine"))  # an explicit root must exist
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'mine' / 'rgb_anon' / 'fog' / 'val'))}: "
                                        r"ACDC condition folder missing"):
        ev.real_world_sets(include_shipped=False)


def test_real_world_sets_idd_uses_the_resolver(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA_ROOT", str(tmp_path))  # no idd/ there: IDD is optional
    assert ev.real_world_sets(include_shipped=False) == {}
    (tmp_path / "idd").mkdir()
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'idd' / 'leftImg8bit' / 'val'))}: "
                                        r"IDD val folder missing.*\$REPRO_IDD_ROOT"):
        ev.real_world_sets(include_shipped=False)
    monkeypatch.setenv("REPRO_IDD_ROOT", str(tmp_path / "mine"))  # an explicit root must exist
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'mine' / 'leftImg8bit' / 'val'))}: "
                                        r"IDD val folder missing"):
        ev.real_world_sets(include_shipped=False)
