"""Layer 0 — utilities that know nothing of segmentation: where things live (:mod:`~repro.base.paths`),
the on-disk cache (:mod:`~repro.base.cache`), the seed rule (:mod:`~repro.base.seeds`), content hashes
(:mod:`~repro.base.hashing`), argument checks (:mod:`~repro.base.validation`), progress bars, the
profiles (:mod:`~repro.base.profiles`, ``profiles.yaml``), ``torch.distributed`` helpers, the offline
ImageNet Lite0 weights, and the compatibility layers of third-party packages (:mod:`repro.base.compat`).
Imports nothing from the rest of the package."""
