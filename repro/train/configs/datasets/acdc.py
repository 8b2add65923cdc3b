# ACDC (adverse conditions: fog, night, rain, snow) in Cityscapes' 19 classes, `paper` profile.
# Used zero-shot (Tables 2, 3, 5) with models trained on Cityscapes; one split per condition.
dataset_name = 'acdc'
dataset_type = 'ACDCDataset'
data_root = None  # None: $REPRO_ACDC_ROOT, else $REPRO_DATA_ROOT/acdc
num_classes = 19
reduce_zero_label = False
img_scale = (1920, 1080)
ratio_range = (0.5, 2.0)
crop_size = (512, 1024)
splits = dict(
    train=dict(data_prefix=dict(img_path='rgb_anon/fog/train', seg_map_path='gt/fog/train')),
    val=dict(data_prefix=dict(img_path='rgb_anon/fog/val', seg_map_path='gt/fog/val')),
    fog=dict(data_prefix=dict(img_path='rgb_anon/fog/val', seg_map_path='gt/fog/val')),
    night=dict(data_prefix=dict(img_path='rgb_anon/night/val', seg_map_path='gt/night/val')),
    rain=dict(data_prefix=dict(img_path='rgb_anon/rain/val', seg_map_path='gt/rain/val')),
    snow=dict(data_prefix=dict(img_path='rgb_anon/snow/val', seg_map_path='gt/snow/val')))
train_split = 'train'
val_split = 'val'
eval_splits = ['fog', 'night', 'rain', 'snow']
data_layout = dict(description=(
    '  rgb_anon/{fog,night,rain,snow}/{train,val}/<sequence>/*_rgb_anon.png\n'
    '  gt/{fog,night,rain,snow}/{train,val}/<sequence>/*_gt_labelTrainIds.png\n'
    '(rgb_anon_trainvaltest.zip and gt_trainval.zip from acdc.vision.ee.ethz.ch)'))
