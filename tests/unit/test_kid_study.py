"""Appendix E study (repro.paper.kid_study): KID/FID error against the sample size."""
from __future__ import annotations

import numpy as np
import pytest
from torch import nn

from repro.analysis import features as F
from repro.paper import kid_study as S


def test_sample_size_study_small():
    ext = F.extractor(nn.Sequential(nn.AdaptiveAvgPool2d(3), nn.Flatten()))
    kw = dict(splits=["val"], max_images=12, sizes=[4, 8, 50], resamples=2,
              perturbations=[("gaussian_noise", 0.3), "V-@0.4"], extractor=ext, progress=False)
    df = S.sample_size_study(**kw)
    assert df.attrs["extractor"] == ext.tag and df.attrs["pool"] == 12
    assert set(df["n"]) == {4, 8, 12} and set(df["metric"]) == {"KID", "FID"}
    assert len(df) == 2 * 3 * 2 * 2
    full = df[df["n"] == 12]
    np.testing.assert_allclose(full["rel_error"], 0.0, atol=1e-8)
    assert (df.loc[df["metric"] == "FID", "reference"] > 0).all()
    again = S.sample_size_study(**kw)
    np.testing.assert_array_equal(df["value"].to_numpy(), again["value"].to_numpy())
    summary = S.summarise_sample_size_study(df)
    assert len(summary) == 2 * 2 * 3 and summary.attrs["extractor"] == ext.tag
    import matplotlib

    matplotlib.use("Agg")
    fig = S.plot_sample_size_study(summary)
    assert len([a for a in fig.axes if a.get_visible()]) == 2


def test_sample_size_study_bad_args():
    with pytest.raises(ValueError, match="magnitude must be in"):
        S.sample_size_study(perturbations=[("gaussian_noise", 2.0)])
    with pytest.raises(ValueError, match="name, magnitude"):
        S.sample_size_study(perturbations=["gaussian_noise"])
    with pytest.raises(ValueError, match="resamples must be an int >= 1"):
        S.sample_size_study(resamples=0)
    with pytest.raises(ValueError, match="splits must be a non-empty list"):
        S.sample_size_study(splits="val")
