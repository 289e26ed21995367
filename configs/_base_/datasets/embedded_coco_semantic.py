# The embedded 16-image COCO set (data/embedded_coco) as 133-class semantic segmentation, for
# configs without a dataset of their own: the dataset of ./embedded_coco_semantic_dataset.py
# (semantic PNGs derived from the panoptic labels; train = val = test) in mmseg's COCO-Stuff
# dataloaders. mmseg's COCO-Stuff pipelines (512x512 crops) and IoUMetric are kept.
_base_ = ['mmseg::_base_/datasets/coco-stuff164k.py', './embedded_coco_semantic_dataset.py']
custom_imports = dict(imports=['mmeffseg'], allow_failed_imports=False)

dataset_type = _base_.embedded_coco_semantic_dataset['type']
data_root = _base_.embedded_coco_semantic_dataset['data_root']
data_prefix = _base_.embedded_coco_semantic_dataset['data_prefix']

train_dataloader = dict(dataset=dict(_base_.embedded_coco_semantic_dataset))
val_dataloader = dict(dataset=dict(_base_.embedded_coco_semantic_dataset))
test_dataloader = val_dataloader
