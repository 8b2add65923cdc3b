"""``repro.base.compat.tqdm_auto``: importing ``tqdm.auto`` inside a (simulated) Jupyter kernel without
ipywidgets warns ``IProgress not found`` on stderr — the line timm → huggingface_hub would leave in
every stored notebook output — unless it goes through :func:`import_quietly`."""
import subprocess
import sys

import pytest

KERNEL = """
import sys, types, warnings
warnings.simplefilter("always")                    # every warning reaches stderr
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
import IPython
class ZMQInteractiveShell: pass
IPython.get_ipython = lambda: ZMQInteractiveShell()   # what tqdm.autonotebook asks
sys.modules["ipywidgets"] = None                   # as in the pinned stack: no widgets
"""


def _run(body: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", KERNEL + body], capture_output=True, text=True, timeout=120)


def test_plain_import_warns_in_a_kernel_without_widgets():
    r = _run("import tqdm.auto")
    assert r.returncode == 0 and "IProgress not found" in r.stderr


def test_import_quietly_silences_only_that_warning():
    r = _run("from repro.base.compat.tqdm_auto import import_quietly\nimport_quietly()\nimport tqdm.auto\n"
             "warnings.warn('still on')")
    assert "IProgress not found" not in r.stderr
    assert r.returncode == 0 and "still on" in r.stderr   # other warnings are untouched afterwards


@pytest.mark.parametrize("module", ["repro.train"])
def test_the_packages_that_import_timm_import_tqdm_auto_quietly(module):
    r = _run(f"import {module}\nimport tqdm.auto")
    assert "IProgress not found" not in r.stderr, r.stderr[-2000:]
