# Cityscapes (fine annotations, 19 train-id classes) for the `paper` profile.
dataset_name = 'cityscapes'
dataset_type = 'CityscapesDataset'
data_root = None  # None: $REPRO_CITYSCAPES_ROOT, else $REPRO_DATA_ROOT/cityscapes
num_classes = 19
reduce_zero_label = False
img_scale = (2048, 1024)
ratio_range = (0.5, 2.0)
crop_size = (512, 1024)
splits = dict(
    train=dict(data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train')),
    val=dict(data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val')))
train_split = 'train'
val_split = 'val'
eval_splits = ['val']
data_layout = dict(description=(
    '  leftImg8bit/{train,val}/<city>/*_leftImg8bit.png\n'
    '  gtFine/{train,val}/<city>/*_gtFine_labelTrainIds.png\n'
    '(download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from cityscapes-dataset.com;\n'
    ' create *_labelTrainIds.png with cityscapesscripts\' createTrainIdLabelImgs or mmseg\'s\n'
    ' tools/dataset_converters/cityscapes.py)'))
