"""configs/sia/: the per-method MMSegmentation config files equal what build_config composes."""
import pytest

pytest.importorskip("mmseg")

import repro.train as T  # noqa: E402
from mmengine.config import Config  # noqa: E402
from repro.train import config_files as CF  # noqa: E402
from repro.train.cli import cli_main  # noqa: E402
from repro.train.runner import run_hash  # noqa: E402

FILES = sorted(p for p in CF.CONFIG_DIR.glob("*.py"))


@pytest.fixture(autouse=True)
def _no_dataset_roots(monkeypatch, tmp_path_factory):
    for var in list(__import__("os").environ):
        if var.startswith("REPRO_") and var.endswith("_ROOT"):
            monkeypatch.delenv(var)
    # the paper settings load ImageNet backbones (pretrained="auto"): placeholder files, as when generated
    monkeypatch.setenv("REPRO_PRETRAINED_DIR", str(CF.placeholder_weights(tmp_path_factory.mktemp("weights"))))


def test_every_setting_and_method_has_a_file():
    names = {p.name for p in FILES}
    for model, dataset, profile in CF.SETTINGS:
        setting = CF.setting_name(T.build_config(model, "baseline", dataset, profile=profile))
        assert (CF.CONFIG_DIR / "_base_" / f"{setting}.py").is_file()
        for method in T.METHODS:
            assert f"{setting}_{method}.py" in names
    assert len(FILES) == len(CF.SETTINGS) * len(T.METHODS)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_config_file_equals_build_config(path):
    cfg = Config.fromfile(str(path))
    assert cfg.method in path.stem
    built = T.build_config(cfg.model_name, cfg.method, cfg.dataset_name, profile=cfg.profile,
                           seed=cfg.randomness["seed"])
    assert run_hash(CF.normalise_data_roots(cfg.to_dict())) == run_hash(built)


def test_dataset_root_variable_is_substituted(monkeypatch, tmp_path):
    path = next(p for p in FILES if "cityscapes" in p.name and p.name.endswith("_ours.py"))
    monkeypatch.setenv("REPRO_CITYSCAPES_ROOT", str(tmp_path))
    cfg = Config.fromfile(str(path))
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path)
    hook = next(h for h in cfg.custom_hooks if h["type"] == "SensitivityHook")
    assert hook["dataset"]["data_root"] == str(tmp_path)


def test_train_cli_accepts_a_config_file(tmp_path, capsys):
    path = next(p for p in FILES if p.name.endswith("camvid-144x144_ours.py"))
    out = tmp_path / "dumped.py"
    assert cli_main([str(path), "--dump-config", str(out)]) == 0
    assert run_hash(Config.fromfile(str(out))) == run_hash(T.build_config("lite0_segformer", "ours", "camvid", profile="cpu"))
    with pytest.raises(SystemExit) as e:
        cli_main([str(tmp_path / "missing.py")])
    assert e.value.code == 2
    assert "config must be an existing MMSegmentation .py config file" in capsys.readouterr().err
