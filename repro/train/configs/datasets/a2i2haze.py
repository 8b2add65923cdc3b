# A2I2-Haze (UAV/UGV images in real haze, UG2+ 2022 challenge) as a segmentation dataset, `paper` profile.
# ASSUMPTION: A2I2-Haze is published with bounding boxes (https://a2i2-archangel.vision), not masks, and the
# paper does not describe its segmentation labels; this layout and the 2 classes (0 background, 1 vehicle,
# 255 ignored) are this package's convention: convert your labels to it (8-bit PNG class ids).
dataset_name = 'a2i2haze'
dataset_type = 'A2I2HazeDataset'
data_root = None  # None: $REPRO_A2I2HAZE_ROOT, else $REPRO_DATA_ROOT/a2i2haze
num_classes = 2
reduce_zero_label = False
img_scale = (1280, 720)
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
    '(labels: 8-bit PNGs with the image\'s stem, 0 background, 1 vehicle, 255 ignored; an assumed layout:\n'
    ' A2I2-Haze is published with boxes, convert them yourself, see the README)'))
