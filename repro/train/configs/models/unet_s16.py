# MMSegmentation's UNet backbone (Ronneberger et al. 2015) with base_channels=16 and 4 stages,
# an FCN head, trained from scratch; inputs padded to a multiple of 8.
_base_ = ['./_base_encoder_decoder.py', './_base_own_optimizer.py']
norm_cfg = dict(type='BN', requires_grad=True)
# merged into the base's data_preprocessor (the top-level one and the model's)
data_preprocessor = dict(size_divisor=8, test_cfg=dict(size_divisor=8))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='UNet', in_channels=3, base_channels=16, num_stages=4, strides=(1, 1, 1, 1),
        enc_num_convs=(2, 2, 2, 2), dec_num_convs=(2, 2, 2), downsamples=(True, True, True),
        enc_dilations=(1, 1, 1, 1), dec_dilations=(1, 1, 1), with_cp=False, conv_cfg=None,
        norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'), upsample_cfg=dict(type='InterpConv'),
        norm_eval=False),
    decode_head=dict(
        type='FCNHead', in_channels=16, in_index=3, channels=16, num_convs=1, concat_input=False,
        dropout_ratio=0.1, num_classes=19, norm_cfg=norm_cfg, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=0.001, weight_decay=0.0005))
