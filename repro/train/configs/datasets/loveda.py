# LoveDA (land cover, 7 classes) for the `paper` profile.
dataset_name = 'loveda'
dataset_type = 'LoveDADataset'
data_root = None  # None: $REPRO_LOVEDA_ROOT, else $REPRO_DATA_ROOT/loveda
num_classes = 7
reduce_zero_label = True
img_scale = (2048, 512)
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
    '(Train.zip and Val.zip from Zenodo, converted with mmseg\'s tools/dataset_converters/loveda.py)'))
