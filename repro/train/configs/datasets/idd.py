# IDD (India Driving Dataset) evaluated in Cityscapes' 19 classes, `paper` profile (zero-shot).
dataset_name = 'idd'
dataset_type = 'IDDDataset'
data_root = None  # None: $REPRO_IDD_ROOT, else $REPRO_DATA_ROOT/idd
num_classes = 19
reduce_zero_label = False
img_scale = (1920, 1080)
ratio_range = (0.5, 2.0)
crop_size = (512, 1024)
splits = dict(
    train=dict(data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train')),
    val=dict(data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val')))
train_split = 'train'
val_split = 'val'
eval_splits = ['val']
data_layout = dict(description=(
    '  leftImg8bit/{train,val}/<sequence>/*_leftImg8bit.png\n'
    '  gtFine/{train,val}/<sequence>/*_gtFine_labelcsTrainIds.png\n'
    '(IDD Segmentation from idd.insaan.iiit.ac.in; create the Cityscapes train ids with the IDD\n'
    ' toolkit: python preperation/createLabels.py --datadir <root> --id-type csTrainId)'))
