# ISBI-2012 EM as shipped in data/isbi2012_em (256x256 greyscale, membrane/cell).
# There is no validation split (24 train / 6 test slices): in-training evaluation uses the test
# slices (no model selection is made on them) and the sensitivity analysis a fixed subset of train.
dataset_name = 'isbi2012_em'
dataset_type = 'ISBIEMDataset'
data_root = None  # None: data/isbi2012_em
num_classes = 2
reduce_zero_label = False
img_scale = (256, 256)
ratio_range = (0.5, 2.0)
crop_size = (176, 176)
splits = dict(train=dict(split='train'), test=dict(split='test'))
train_split = 'train'
val_split = 'test'
analysis_split = 'train'
eval_splits = ['test']
data_layout = dict(description=(
    '  MANIFEST.json\n'
    '  <split>/images/<name>.png   (split: train, test; greyscale)\n'
    '  <split>/labels/<name>.png   (0 = membrane, 1 = cell)\n'
    'Create it with `python -m repro data import-isbi <folder with image/ and label/>`.'))
