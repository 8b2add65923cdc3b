"""Layer 8 — the paper's experiments and outputs: the experiment grid (:mod:`~repro.paper.experiments`),
the tables beside the published numbers (:mod:`~repro.paper.tables`), the claim verdicts
(:mod:`~repro.paper.claims`, :mod:`~repro.paper.claims_page`), publishing and saving
(:mod:`~repro.paper.publish`, :mod:`~repro.paper.outputs`), the figures (overview, viz, qualitative),
the Appendix E study (:mod:`~repro.paper.kid_study`), the small stand-in models, and the notebook batch
(:mod:`~repro.paper.reproduce`)."""
