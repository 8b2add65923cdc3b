"""Layer 4 — the method: KID feature extractors (:mod:`~repro.analysis.features`), KID and FID
(:mod:`~repro.analysis.kid`), the level search S(α)/ASA (:mod:`~repro.analysis.levels`), the
sensitivity analysis of a model (:mod:`~repro.analysis.sensitivity`), the sampling distribution
(:mod:`~repro.analysis.sampling`), the augmentation that draws from it
(:mod:`~repro.analysis.augment`), the extractor check and the analysis' plots."""
