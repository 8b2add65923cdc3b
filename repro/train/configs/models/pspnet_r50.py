# PSPNet with a ResNetV1c-50 D8 backbone (the paper's model); BN instead of SyncBN, no
# pretrained download (set model.backbone.init_cfg yourself to start from ImageNet weights).
_base_ = ['./pspnet_r18.py']
model = dict(
    backbone=dict(depth=50),
    decode_head=dict(in_channels=2048, channels=512),
    auxiliary_head=dict(in_channels=1024, channels=256))
