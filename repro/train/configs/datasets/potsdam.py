# ISPRS Potsdam (6 classes, 512x512 tiles as cut by mmseg's converter) for the `paper` profile.
dataset_name = 'potsdam'
dataset_type = 'PotsdamDataset'
data_root = None  # None: $REPRO_POTSDAM_ROOT, else $REPRO_DATA_ROOT/potsdam
num_classes = 6
reduce_zero_label = True
img_scale = (512, 512)
ratio_range = (0.5, 2.0)
crop_size = (512, 512)
splits = dict(
    train=dict(data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')),
    val=dict(data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val')))
train_split = 'train'
val_split = 'val'
eval_splits = ['val']
data_layout = dict(description=(
    '  img_dir/{train,val}/*.png\n'
    '  ann_dir/{train,val}/*.png\n'
    '(2_Ortho_RGB.zip and 5_Labels_all_noBoundary.zip converted with mmseg\'s\n'
    ' tools/dataset_converters/potsdam.py)'))
