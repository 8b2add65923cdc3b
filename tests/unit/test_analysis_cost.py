"""The analysis' cost cuts (issue 24, item 6) change no number: the new path equals the old one on a tiny case.

* ``evaluate_levels(known=..., clean=...)``: levels already evaluated (the analysis' points) are read, not
  evaluated again, for the types whose perturbation draws nothing; the table equals a full evaluation.
* ``SensitivityHook``'s analysis event (``measure_levels``) with that reuse equals the event without it.
"""
from __future__ import annotations

import pytest
import torch

from repro.scoring import perturbed
from repro.scoring.metrics import miou_of_matrices
from repro.scoring.perturbed import DRAWING_TYPES, evaluate_levels, perturbed_matrices
from test_sensitivity import RedThreshold, toy_data


def _miou(model, images, labels, name, alpha, seed):
    mats, _ = perturbed_matrices(model, images, labels, name, alpha, seed=seed, num_classes=2, batch_size=3)
    return float(miou_of_matrices(mats.sum(0)))


def test_evaluate_levels_reads_known_levels_of_drawless_types_only(monkeypatch):
    images, labels = toy_data()
    model = RedThreshold()
    levels = {"R+": [0.25, 0.6, 1.0], "rotate+": [0.4, 1.0], "gaussian_noise": [0.5, 1.0]}
    full, clean = evaluate_levels(model, images, labels, levels, num_classes=2, batch_size=3, seed=7)
    # the analysis measured some of these magnitudes with another seed: the same numbers for drawless types
    known = {t: {a: _miou(model, images, labels, t, a, seed=0) for a in al[1:]} for t, al in levels.items()}
    assert "gaussian_noise" in DRAWING_TYPES and "R+" not in DRAWING_TYPES
    assert known["gaussian_noise"][1.0] != full["miou"].tolist()[-1]  # noise: another seed, another number
    calls = []
    real = perturbed.perturbed_matrices
    monkeypatch.setattr(perturbed, "perturbed_matrices", lambda *a, **k: calls.append(a[3:5]) or real(*a, **k))
    got, got_clean = evaluate_levels(model, images, labels, levels, num_classes=2, batch_size=3, seed=7, known=known,
                                     clean=clean)
    assert got.equals(full) and got_clean == clean  # bit for bit
    # evaluated: the unknown levels of drawless types and every level of the drawing type
    assert calls == [("R+", 0.25), ("rotate+", 0.4), ("gaussian_noise", 0.5), ("gaussian_noise", 1.0)]
    # a known value is used as given (it is not checked again): the caller vouches for it
    bogus, _ = evaluate_levels(model, images, labels, {"R+": [0.6]}, num_classes=2, batch_size=3,
                               known={"R+": {0.6: -1.0}}, clean=1.5)
    assert bogus["miou"].tolist() == [-1.0]


@pytest.mark.parametrize("refresh_subset", [None, 3])
def test_hook_analysis_event_with_reuse_equals_the_full_measurement(monkeypatch, refresh_subset):
    pytest.importorskip("mmseg")
    from test_hook_sharding import Runner, TinySeg, _hook, _same

    from repro.train import hooks as H

    runner = Runner(TinySeg().eval())
    real = H.evaluate_levels
    seen = []

    def recording(*a, **k):
        seen.append(k.get("known"))
        return real(*a, **k)

    def old_path(*a, known=None, clean=None, **k):  # the measurement before the reuse: every level evaluated
        return real(*a, **k)

    def event(measure):
        monkeypatch.setattr(H, "evaluate_levels", measure)
        hook = _hook(refresh_subset=refresh_subset)
        hook._ensure_extractor(runner, torch.device("cpu"))
        return hook._compute_payload(runner, "analysis", 5)

    new, old = event(recording), event(old_path)
    _same(new, old)
    if refresh_subset is None:  # every type offers its evaluated points (α_max at least); evaluate_levels
        assert set(seen[0]) == set(new["levels"])  # takes those of the drawless types only
        assert all(1.0 in v for v in seen[0].values())
    else:  # another image set: nothing reused
        assert seen[0] == {}
