"""Memory stays flat: the peak RSS of a streamed robustness report hardly grows with the number of
images (each run in a fresh process; ru_maxrss)."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image

from repro.base import paths

H, W = 512, 1024
PROBE = textwrap.dedent('''
    import json, resource, sys
    import torch
    from repro import robustness as rb
    from repro.data import FolderDataset
    root, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    ds = FolderDataset(f"{root}/images", f"{root}/labels", ("a", "b", "c"), name="flat")
    ds = ds.subset(range(n))
    model = torch.nn.Conv2d(3, 3, 1)
    rb.robustness_report(model, ds, suites=["clean", "imagenet_c"], out=out, corruptions=["jpeg_compression"],
                         severities=(3,), kid_severities=(), batch_size=2, render=False, progress=False)
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
''')


def _peak_mb(tmp_path, root, n) -> float:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": str(paths.REPO_ROOT), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1",
           "REPRO_CACHE_DIR": str(tmp_path / f"cache{n}")}
    r = subprocess.run([sys.executable, str(script), str(root), str(n), str(tmp_path / f"out{n}")], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])["maxrss_mb"]


def test_peak_memory_is_flat_in_the_number_of_images(tmp_path):
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    yy, xx = np.mgrid[0:H, 0:W]
    for i in range(12):
        lab = ((xx // 64 + yy // 96 + i) % 3).astype(np.uint8)
        Image.fromarray(np.stack([lab * 80 + 20] * 3, -1).astype(np.uint8)).save(root / "images" / f"im{i:02d}.jpg")
        Image.fromarray(lab).save(root / "labels" / f"im{i:02d}.png")
    small, large = _peak_mb(tmp_path, root, 4), _peak_mb(tmp_path, root, 12)
    # the whole split stacked (float32 images + int64 labels) would add 8 × 10.5 MB = 84 MB, and as much again
    # for the corrupted copy; streamed in chunks of 2 images, the peak grows by less than half of that
    stacked = 8 * H * W * (3 * 4 + 8) / 2**20
    assert large - small < 0.5 * stacked, (small, large)
