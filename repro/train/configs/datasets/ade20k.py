# ADE20K (SceneParsing, 150 classes) for the `paper` profile.
dataset_name = 'ade20k'
dataset_type = 'ADE20KDataset'
data_root = None  # None: $REPRO_ADE20K_ROOT, else $REPRO_DATA_ROOT/ade20k
num_classes = 150
reduce_zero_label = True
img_scale = (2048, 512)
ratio_range = (0.5, 2.0)
crop_size = (512, 512)
splits = dict(
    train=dict(data_prefix=dict(img_path='images/training', seg_map_path='annotations/training')),
    val=dict(data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation')))
train_split = 'train'
val_split = 'val'
eval_splits = ['val']
data_layout = dict(description=(
    '  images/{training,validation}/*.jpg\n'
    '  annotations/{training,validation}/*.png   (0 = other, 1..150 classes)\n'
    '(ADEChallengeData2016.zip from the MIT Scene Parsing benchmark)'))
