import json

import nbformat as nbf
import pytest

from repro.base import paths
from repro.paper import outputs, reproduce


def _nb(path, params_src, body):
    nb = nbf.v4.new_notebook()
    p = nbf.v4.new_code_cell(params_src, metadata={"tags": ["parameters"]})
    nb.cells = [p, nbf.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    nbf.write(nb, path)


def test_profile_parameters_and_errors(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("smoke:\n  a: 1\ncpu:\n  a: 2\n")
    assert reproduce.profile_parameters("cpu", f) == {"a": 2, "profile": "cpu"}
    with pytest.raises(ValueError, match="unknown profile 'gpu'; profiles are smoke, cpu"):
        reproduce.profile_parameters("gpu", f)


def test_shipped_profiles_exist():
    profiles = reproduce.load_profiles()
    assert {"smoke", "cpu", "paper"} <= set(profiles)


def test_scrub_removes_machine_paths():
    text = f"saved {paths.REPO_ROOT}/paper_tables/x.csv and /tmp/abc/y and /root/.cache/z"
    out = reproduce.scrub_text(text)
    assert str(paths.REPO_ROOT) not in out and "/tmp/" not in out and "/root/" not in out
    assert "paper_tables/x.csv" in out


def test_batch_continues_after_failure(tmp_path, monkeypatch):
    nbdir, tabdir = tmp_path / "notebooks", tmp_path / "paper_tables"
    nbdir.mkdir()
    monkeypatch.setattr(paths, "NOTEBOOK_DIR", nbdir)
    monkeypatch.setattr(paths, "TABLES_DIR", tabdir)
    monkeypatch.setenv("REPRO_TABLES_DIR", str(tabdir))  # the kernel's own repro.base.paths
    monkeypatch.setattr(reproduce, "profile_parameters", lambda profile: {"profile": profile, "n": 3, "unused": 1})
    _nb(nbdir / "01_fail.ipynb", 'profile = "smoke"  # type: str', "raise RuntimeError('boom')")
    _nb(nbdir / "02_ok.ipynb", 'profile = "smoke"  # type: str\nn = 1  # type: int',
        "import pandas as pd\nfrom repro.paper import outputs\n"
        "outputs.save_table(pd.DataFrame({'n': [n]}), 'unit_table', profile=profile)")
    assert reproduce.declared_parameters(nbdir / "02_ok.ipynb") == {"profile": "smoke", "n": 1}
    code = reproduce.reproduce("smoke", None)
    assert code == 1  # one notebook failed ...
    out = tabdir / "smoke"
    runs = json.loads((out / ".runs.json").read_text())
    assert runs["01_fail.ipynb"]["status"] == "failed" and "boom" in runs["01_fail.ipynb"]["error"]
    assert runs["02_ok.ipynb"]["status"] == "ok"  # ... and the next one still ran
    assert runs["02_ok.ipynb"]["parameters"] == {"profile": "smoke", "n": 3}  # only declared keys
    assert (out / "unit_table.csv").read_text().strip().splitlines() == ["n", "3"]
    index = (out / "README.md").read_text()
    assert "FAILED (cell" in index and "RuntimeError: boom" in index and "unit_table.csv" in index
    assert (out / "executed" / "02_ok.ipynb").exists()


def test_only_selects_by_number(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "NOTEBOOK_DIR", tmp_path)
    for n in ("00_a", "01_b", "02_c"):
        (tmp_path / f"{n}.ipynb").write_text("{}")
    assert [p.name for p in reproduce.notebooks(["2", "00"])] == ["00_a.ipynb", "02_c.ipynb"]
    with pytest.raises(ValueError, match="no notebook numbered 07"):
        reproduce.notebooks(["07"])


def test_tables_errors(tmp_path):
    import pandas as pd

    with pytest.raises(ValueError, match="plain file stem"):
        outputs.save_table(pd.DataFrame({"a": [1]}), "../x", profile="smoke")
    with pytest.raises(TypeError, match="pandas DataFrame"):
        outputs.save_table({"a": 1}, "x", profile="smoke")
    with pytest.raises(ValueError, match="unknown published table"):
        outputs.published("table9")
    assert list(outputs.published("table1_cityscapes_methods").columns) == ["dataset", "model", "method", "aAcc", "mAcc", "mIoU"]


def test_save_table_notes_below_table(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setattr(paths, "TABLES_DIR", tmp_path)
    out = outputs.save_table(pd.DataFrame({"a": [1.0]}), "t_notes", profile="unitprofile", caption="Cap.",
                            notes=["Claim 'x' holds in our numbers.", "Claim 'y' does not hold."])
    md = out["md"].read_text()
    assert md.startswith("Cap.\n\n|")
    assert md.index("|") < md.index("- Claim 'x' holds in our numbers.") < md.index("- Claim 'y' does not hold.")
    assert "Claim" not in out["csv"].read_text()
    with pytest.raises(TypeError, match="notes must be a list of strings"):
        outputs.save_table(pd.DataFrame({"a": [1]}), "t_notes", profile="unitprofile", notes="one string")
    with pytest.raises(TypeError, match="notes must be a list of strings"):
        outputs.save_table(pd.DataFrame({"a": [1]}), "t_notes", profile="unitprofile", notes=[1])


def test_index_keeps_longest_run_with_same_parameters(tmp_path, monkeypatch):
    """A cached re-run is fast; the index keeps the cold time of the same parameters beside it."""
    nbdir, tabdir = tmp_path / "notebooks", tmp_path / "paper_tables"
    nbdir.mkdir()
    monkeypatch.setattr(paths, "NOTEBOOK_DIR", nbdir)
    monkeypatch.setattr(paths, "TABLES_DIR", tabdir)
    monkeypatch.setenv("REPRO_TABLES_DIR", str(tabdir))
    params = {"profile": "smoke", "n": 1}
    monkeypatch.setattr(reproduce, "profile_parameters", lambda profile: dict(params))
    marker = tmp_path / "cache-filled"  # stands in for the on-disk cache: only the first run sleeps
    _nb(nbdir / "01_t.ipynb", 'profile = "smoke"  # type: str\nn = 0  # type: int',
        f"import pathlib, time\nm = pathlib.Path({str(marker)!r})\n"
        "if not m.exists():\n    time.sleep(3)\n    m.write_text('x')")
    log = tabdir / "smoke" / ".runs.json"
    assert reproduce.reproduce("smoke", None) == 0
    first = json.loads(log.read_text())["01_t.ipynb"]
    assert first["longest_seconds"] == first["seconds"] >= 3
    assert reproduce.reproduce("smoke", None) == 0  # same parameters, "cached"
    second = json.loads(log.read_text())["01_t.ipynb"]
    assert second["longest_seconds"] == max(first["seconds"], second["seconds"]) >= 3
    assert "| longest, same parameters (s) |" in (tabdir / "smoke" / "README.md").read_text()
    params["n"] = 2  # other parameters: the longest time starts again from this run
    assert reproduce.reproduce("smoke", None) == 0
    third = json.loads(log.read_text())["01_t.ipynb"]
    assert third["longest_seconds"] == third["seconds"]


# ---------------------------------------------------------------- command-line argument errors


def _cli(tmp_path, *args):
    import os
    import subprocess
    import sys

    env = {**os.environ, "REPRO_TABLES_DIR": str(tmp_path / "tables"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "repro", *args], cwd=paths.REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, match", [
    (("--profile", "nosuch"), "unknown profile 'nosuch'; profiles are smoke, cpu, paper"),
    (("--only", "99"), "no notebook numbered 99; have 00, 01"),
    (("--profile", "smoke", "--only", "99"), "no notebook numbered 99"),
    (("--only", ","), "--only must name at least one notebook number"),
    (("--profile", "cpu", "--inplace"), "--inplace stores outputs in notebooks/ and is only for the smoke profile"),
    (("--timeout", "0"), "--timeout must be a whole number of seconds >= 1, got 0"),
])
def test_cli_argument_errors_exit_2_with_one_line_and_create_nothing(tmp_path, args, match):
    proc = _cli(tmp_path, "reproduce", *args)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"python -m repro reproduce: error: {match}")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "tables").exists()


def test_check_arguments_raises_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "TABLES_DIR", tmp_path / "tables")
    with pytest.raises(ValueError, match="unknown profile 'nosuch'"):
        reproduce.reproduce("nosuch")
    with pytest.raises(ValueError, match="no notebook numbered 99"):
        reproduce.reproduce("cpu", ["99"])
    assert not (tmp_path / "tables").exists()
    params, nbs = reproduce.check_arguments("smoke", ["1"])
    assert params["profile"] == "smoke" and [p.name[:2] for p in nbs] == ["01"]


def test_cli_data_error_is_one_line(tmp_path):
    proc = _cli(tmp_path, "data", "import-isbi", str(tmp_path / "nowhere"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [f"python -m repro data: error: {(tmp_path / 'nowhere').resolve().as_posix()}: "
                                        "expected folders image/ and label/ holding N.png (ISBI-2012 EM training data)"]
