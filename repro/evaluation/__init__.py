"""Layer 5 — the robustness suites of SPEC.md §6 (:mod:`~repro.evaluation.suites`: clean, basis_aug,
advsteer, imagenet_c, real_world) and the ImageNet-C corruptions (:mod:`~repro.evaluation.corruptions`)."""
