# PSPNet with a ResNetV1c-50 D8 backbone (the paper's model); BN instead of SyncBN, random init here:
# build_config(pretrained=...) sets backbone.init_cfg to a local resnet50_v1c-2cccc1ad.pth (paper: "auto").
_base_ = ['./pspnet_r18.py']
model = dict(
    backbone=dict(depth=50),
    decode_head=dict(in_channels=2048, channels=512),
    auxiliary_head=dict(in_channels=1024, channels=256))
