"""Layer 3 — scoring a model: confusion-matrix metrics (:mod:`~repro.scoring.metrics`), batched
inference with any model convention (:mod:`~repro.scoring.inference`), and perturb-then-score at given
levels (:mod:`~repro.scoring.perturbed`). Both the sensitivity analysis and the evaluation suites stand
on it."""
