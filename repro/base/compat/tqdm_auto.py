"""Import ``tqdm.auto`` without its ``IProgress not found`` warning.

timm (the encoder of the ``cpu`` model, imported by MMSegmentation's ``TIMMBackbone`` and by
:mod:`repro.base.imagenet_weights`) imports huggingface_hub, which imports ``tqdm.auto``; inside a
Jupyter kernel without ipywidgets that import warns once on stderr (``TqdmWarning: IProgress not
found``), which would land in every stored notebook output. This package draws its own progress
bars with plain ``tqdm`` and never uses the widget bars, so the warning says nothing to a user.
:func:`import_quietly` imports the module once with that one warning filtered (the filter is
scoped to the import, ``warnings.catch_warnings``); later imports find it in ``sys.modules``.
"""
from __future__ import annotations

import warnings


def import_quietly() -> None:
    """Import ``tqdm.auto`` with its ``IProgress not found`` warning silenced (only that warning, only
    during the import); a no-op when it is already imported."""
    import sys

    if "tqdm.auto" in sys.modules:
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import tqdm.auto  # noqa: F401
