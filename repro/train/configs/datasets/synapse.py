# Synapse multi-organ CT (9 classes incl. background, 224x224 slices) for the `paper` profile.
dataset_name = 'synapse'
dataset_type = 'SynapseDataset'
data_root = None  # None: $REPRO_SYNAPSE_ROOT, else $REPRO_DATA_ROOT/synapse
num_classes = 9
reduce_zero_label = False
img_scale = (224, 224)
ratio_range = (0.5, 2.0)
crop_size = (224, 224)
splits = dict(
    train=dict(data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')),
    val=dict(data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val')))
train_split = 'train'
val_split = 'val'
eval_splits = ['val']
data_layout = dict(description=(
    '  img_dir/{train,val}/*.jpg\n'
    '  ann_dir/{train,val}/*.png\n'
    '(RawData.zip from the Synapse MICCAI 2015 BTCV challenge, converted with mmseg\'s\n'
    ' tools/dataset_converters/synapse.py)'))
