# CGNet (Wu et al. 2020), MMSegmentation's architecture trained from scratch; BN (not SyncBN),
# unweighted cross-entropy. Adam as in MMSegmentation's CGNet configs.
_base_ = ['./_base_encoder_decoder.py', './_base_own_optimizer.py']
norm_cfg = dict(type='BN', eps=1e-03, requires_grad=True)
model = dict(
    backbone=dict(
        type='CGNet', norm_cfg=norm_cfg, in_channels=3, num_channels=(32, 64, 128), num_blocks=(3, 21),
        dilations=(2, 4), reductions=(8, 16)),
    decode_head=dict(
        type='FCNHead', in_channels=256, in_index=2, channels=256, num_convs=0, concat_input=False,
        dropout_ratio=0, num_classes=19, norm_cfg=norm_cfg,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(sampler=None),
    test_cfg=dict(mode='whole'))
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=0.001, eps=1e-08, weight_decay=0.0005))
