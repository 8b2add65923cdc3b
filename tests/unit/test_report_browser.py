"""The robustness report's HTML in a real browser: headless Chromium renders a small real ``report.html``.

Checks: every embedded ``<img>`` decodes (PIL on the base64 payloads, and in the browser: a script added to a
copy of the page counts the images with ``naturalWidth > 0`` and writes the count into the DOM that
``--dump-dom`` prints), and the screenshot of the page is not blank (many distinct, non-uniform pixels,
including the dark text and the figures' colours). Skipped where no Chromium is installed (Debian's package
``chromium``; ``.ci/run`` installs it).
"""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from repro import robustness as rb
from repro.data import FolderDataset

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium); the "
                                                         "report's HTML is checked in a real browser only where it is")
_CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0 && i.naturalHeight > 0; });
  document.body.setAttribute("data-images-decoded", ok.length + "/" + imgs.length);
});
</script>"""


def _chromium(*args, tmp_path, timeout=120):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A small real report: 3 images with a large background class, 2 figures' worth of suites."""
    root = tmp_path_factory.mktemp("browser")
    (root / "d" / "images").mkdir(parents=True)
    (root / "d" / "labels").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        lab = np.zeros((40, 48), np.uint8)
        lab[8:20, 4 + 6 * i:24 + 6 * i] = 1
        img = rng.integers(0, 80, (40, 48, 3), dtype=np.uint8)
        img[lab == 1, 0] = 230
        Image.fromarray(img).save(root / "d" / "images" / f"im{i}.png")
        Image.fromarray(lab).save(root / "d" / "labels" / f"im{i}.png")
    ds = FolderDataset(root / "d" / "images", root / "d" / "labels", ("background", "object"), name="tiny")
    model = torch.nn.Conv2d(3, 2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[[[-4.0]], [[0.0]], [[0.0]]], [[[4.0]], [[0.0]], [[0.0]]]]))
        model.bias.copy_(torch.tensor([1.5, -1.5]))
    out = root / "report"
    rep = rb.robustness_report(model, ds, suites=["clean", "sensitivity", "basis_aug", "imagenet_c"], out=out,
                               types=["R+"], magnitudes=(0.5, 1.0), corruptions=["fog"],
                               severities=(1, 3), extractor="conv-random", sa_subset=3, analysis=dict(budget=2),
                               kid_subsets=5, batch_size=3, model_name="tiny-conv", progress=False)
    return out, rep


def test_report_html_renders_in_chromium(report, tmp_path):
    out, rep = report
    html = (out / "report.html").read_text()
    payloads = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)">', html)
    assert [a for a, _ in payloads] == ["basis_perturbations", "sampling_distribution", "imagenet_c"]
    for alt, b64 in payloads:  # every embedded figure decodes, and is a picture (not one flat colour)
        with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
            im.load()
            px = np.asarray(im.convert("RGB"))
        assert px.shape[0] > 100 and px.shape[1] > 100 and px.std() > 10, alt

    page = tmp_path / "check.html"
    page.write_text(html.replace("</body>", _CHECK + "</body>"))
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri(), tmp_path=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-images-decoded="3/3"' in dom.stdout, dom.stdout[-500:]
    assert "Robustness report: tiny-conv" in dom.stdout and "trivial floor" in dom.stdout

    shot = tmp_path / "report.png"  # (to look at it: copy it out of tmp_path)
    r = _chromium(f"--screenshot={shot}", "--window-size=1200,2400", (out / "report.html").as_uri(),
                  tmp_path=tmp_path)
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    with Image.open(shot) as im:
        px = np.asarray(im.convert("RGB"))
    assert px.shape[:2] == (2400, 1200)
    colours = np.unique(px.reshape(-1, 3)[::7], axis=0)
    assert px.std() > 15 and len(colours) > 200  # text, tables and figures, not a blank page
    dark = (px.max(axis=2) < 80).mean()  # black text, dark figure colours
    assert 0.002 < dark < 0.5
    assert (px[:200].max(axis=2) < 80).any()  # the title at the top is drawn
