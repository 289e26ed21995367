# mmseg's semantic Mask2Former, CPU-sized ("r18-lite": the model of the CamVid config it
# inherits) on the embedded 16-image COCO set with its 133 panoptic classes as semantic labels,
# at 256x256, trained from scratch for minutes: the Mask2Former host of the README's main job,
# the same data and pipelines as the main job's Segmenter ViT-T
# (../_base_/datasets/embedded_coco_semantic_dataset.py). Train = val = test: for demos and smoke
# runs, not accuracy claims.
_base_ = [
    './mask2former_r18-lite_1xb4-2k_camvid-semantic-360x480.py',
    '../_base_/datasets/embedded_coco_semantic_dataset.py'
]
crop_size = (256, 256)
max_iters = 300
num_classes = 133
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=num_classes,
                     loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])))

# The CamVid dataset is replaced whole (_delete_), not merged key by key; the top-level names
# follow so that nothing in the dumped config points at CamVid.
dataset_type = _base_.embedded_coco_semantic_dataset['type']
data_root = _base_.embedded_coco_semantic_dataset['data_root']
train_pipeline = _base_.embedded_coco_semantic_256x256['train_pipeline']
test_pipeline = _base_.embedded_coco_semantic_256x256['test_pipeline']
train_dataloader = dict(
    batch_size=2, num_workers=1, persistent_workers=False,
    dataset=dict(_base_.embedded_coco_semantic_dataset, _delete_=True, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(_base_.embedded_coco_semantic_dataset, _delete_=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
# Short warm-up for a short schedule (the CamVid recipe warms up over 200 iterations).
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=20),
    dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=20, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
