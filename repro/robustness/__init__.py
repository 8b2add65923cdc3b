"""A robustness report for any segmentation model: ``robustness_report`` and ``python -m repro robustness``.

:func:`robustness_report` scores one model on the evaluation suites of SPEC §6 through the same
code as notebooks 05–09 (:func:`repro.evaluation.suites.suite_items`, :func:`repro.evaluation.suites.score_item`),
runs the adaptive sensitivity analysis (:func:`repro.analysis.sensitivity.analyse`), derives the sampling
distribution the method would train this model with (:meth:`repro.analysis.sampling.Distribution.from_analysis`)
and writes one folder:

* ``report.json``: every number, the versions (python, torch, numpy, repro and its git commit,
  mmseg/mmcv/mmengine/imagecorruptions when installed), the seed, the settings, the data's identity
  (SHA-256 over the file names and the bytes of every image and label file used) and the name of
  every KID extractor; no times (those go to ``timing.json``), so a re-run or a resumed run with the
  same seed writes the same file;
* ``report.md`` with the plots as PNG files beside it, and ``report.html``, self-contained (plots
  embedded as base64 PNG); rendering in :mod:`repro.robustness.render`;
* ``items/<suite>/<hash>.json``: one file per finished suite item (keyed by the model's weights,
  the data identity, the seed and every setting), so an interrupted run continues where it stopped.

Models: anything :func:`repro.scoring.inference.predict` accepts: an ``nn.Module`` (or callable) mapping a
float32 batch N×3×H×W of **RGB images in [0, 1]** (no mean/std normalisation) to logits N×C×h×w
(logits of another size are resized bilinearly), or an MMSegmentation segmentor (its own data
preprocessor normalises). A model that expects other inputs (e.g. ImageNet mean/std normalised)
gets ``preprocess=``: a callable (or ``nn.Module``) applied to the [0, 1] RGB batch before the
model, e.g. ``torchvision.transforms.Normalize(mean, std)``.

Corruption error (ImageNet-C suite; 15 common + 4 held-out corruptions × severities 1–5)
-----------------------------------------------------------------------------------------
Hendrycks & Dietterich (ICLR 2019, "Benchmarking neural network robustness to common corruptions
and perturbations", §3) define, with ``E^f_{s,c}`` the error of classifier f on corruption c at
severity s, the corruption error ``CE^f_c = Σ_{s=1..5} E^f_{s,c} / Σ_{s=1..5} E^{AlexNet}_{s,c}``,
its mean over the 15 common corruptions ``mCE``, and the relative corruption error
``rCE^f_c = Σ_s (E^f_{s,c} − E^f_clean) / Σ_s (E^{AlexNet}_{s,c} − E^{AlexNet}_clean)`` (mean:
relative mCE). Kamann & Rother (CVPR 2020, "Benchmarking the robustness of semantic segmentation
models"; IJCV 129:462–483, 2021) carry this to segmentation with the error ``E = 1 − mIoU`` and a
segmentation reference model (DeepLabv3+ in their study), and call the two measures *corruption
degradation* ``CD_c`` and *relative corruption degradation* ``rCD_c``. We compute exactly these
with ``E = 1 − mIoU/100`` (mIoU of one confusion matrix over the evaluation set, percent) and the
model given as ``reference`` (CLI: ``--reference CONFIG CHECKPOINT``) in place of AlexNet/DeepLabv3+,
in percent (×100): ``CE_c`` (= CD_c), ``rCE_c`` (= rCD_c), their means over the common corruptions
present (``mCE``, ``relative_mCE``), over the held-out ones present (``mCE_held_out``,
``relative_mCE_held_out``) and over all present (``mCE_all``). A model against itself has CE = 100
for every corruption. ``rCE_c`` is undefined (``null``) when the reference's errors under c equal
its clean error. Without a reference only the unnormalised mean errors are reported. (Neither
paper's full text could be opened from the machine this was written on; the formulas above are
H&D's as published and K&R's CD/rCD as we know them, the same ratios with E = 1 − mIoU.)

Resilience rate and the trivial floor (every suite but clean)
-----------------------------------------------------------
The resilience rate of an item (a corruption, a perturbation type, an AdvSteer combination, a
real-world split) is ``rR_i = 100 · mean_s mIoU_{i,s} / mIoU_clean`` (percent of the clean mIoU,
mean over the item's severities/magnitudes ``s``); a suite's *mean resilience rate* is the mean
of ``rR_i`` over its items (ImageNet-C: over the 15 common corruptions present, beside mCE, and
over all present, beside ``mCE_all``). Unlike CE it needs no reference model; it is inflated the
same way when the clean mIoU is close to the *trivial floor*: the mIoU of predicting the majority
class of the evaluated split everywhere (:func:`repro.scoring.metrics.majority_floor`: ``100 · (n_k/N) /
|classes present|`` from the labels' pixel counts ``n_c``, e.g. 46 for a binary split with 92 %
background). The report shows the floor beside the clean and corrupted scores: a score near it
means "no better than all background", and a severe corruption can score above a mild one there.

Units: every mIoU/aAcc/mAcc in ``report.json`` and in the report is in points (0–100); the errors
``E`` of the CE formulas are fractions (``1 − mIoU/100``) in ``report.json`` and shown in points
(``100 − mIoU``) in the report; CE, rCE and rR are percent.

KID numbers: the analysis' KID at every evaluated magnitude (paired estimator, features of the
``extractor``), and, per ImageNet-C corruption at the severities ``kid_severities`` and per
real-world split, the KID between the clean evaluation images and the corrupted (paired) or
real-world (unpaired) images. Every KID carries the extractor's ``name@weights_hash`` tag.

Randomness: every draw is seeded from ``seed`` (the suites' per-item seeds of
:func:`repro.evaluation.suites.item_batches`, the analysis' subset and perturbation draws, the KID
subsets); same seed, same numbers. Corrupted ImageNet-C images are generated once per (image,
corruption, severity, seed) and cached on disk per image (namespace ``imagenet_c`` of :mod:`repro.base.cache`,
shared with the notebooks); each image's draw depends only on (seed, corruption, severity, image name).
"""
from __future__ import annotations

from repro.robustness.command import PROG, build_parser, main  # noqa: F401
from repro.robustness.compare import compare_reports, compare_summary, flat_numbers, load_report  # noqa: F401
from repro.robustness.report import FORMAT, REPORT_SUITES, data_identity, robustness_report, versions  # noqa: F401
from repro.robustness.summaries import converted_note, corruption_errors, resilience_rates, trivial_floor  # noqa: F401

__all__ = ["REPORT_SUITES", "robustness_report", "compare_reports", "compare_summary", "corruption_errors",
           "resilience_rates", "trivial_floor", "converted_note", "data_identity", "flat_numbers", "load_report",
           "main"]
