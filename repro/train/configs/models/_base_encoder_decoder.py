# What every model config here shares (loaded through `_base_`, not a model of its own): MMSegmentation's
# ImageNet-mean input normalisation and the EncoderDecoder shell, random init (build_config(pretrained=...)
# sets the backbone's init_cfg). A model file adds its own backbone, heads and train_cfg/test_cfg (kept there so
# that the model dict's keys stay in mmseg's order: bases' keys come first) and, through
# _base_own_optimizer.py, its own optimiser.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    init_cfg=None)
