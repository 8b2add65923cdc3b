# PASCAL VOC 2012 segmentation (21 classes) for the `paper` profile.
dataset_name = 'voc2012'
dataset_type = 'PascalVOCDataset'
data_root = None  # None: $REPRO_VOC2012_ROOT, else $REPRO_DATA_ROOT/voc2012
num_classes = 21
reduce_zero_label = False
img_scale = (2048, 512)
ratio_range = (0.5, 2.0)
crop_size = (512, 512)
splits = dict(
    train=dict(data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
               ann_file='ImageSets/Segmentation/train.txt'),
    val=dict(data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
             ann_file='ImageSets/Segmentation/val.txt'))
train_split = 'train'
val_split = 'val'
eval_splits = ['val']
data_layout = dict(description=(
    '  JPEGImages/*.jpg\n'
    '  SegmentationClass/*.png   (palette PNGs of class ids, 255 = boundary)\n'
    '  ImageSets/Segmentation/{train,val}.txt\n'
    '(the VOC2012 folder of VOCtrainval_11-May-2012.tar)'))
