# A CPU-sized Segmenter: ViT-T (mask transformer head) on the embedded 16-image COCO set with the
# 133 panoptic classes as semantic labels, 256x256 crops, trained from scratch for minutes.
_base_ = [
    'mmseg::_base_/models/segmenter_vit-b16_mask.py',
    '../_base_/datasets/embedded_coco_semantic.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py'
]
crop_size = (256, 256)
max_iters = 200
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(img_size=crop_size, embed_dims=192, num_heads=3, drop_path_rate=0.0),
    decode_head=dict(
        in_channels=192, channels=192, num_heads=3, embed_dims=192, num_classes=133),
    test_cfg=dict(mode='whole'))

# The 256x256 pipelines the main job's Mask2Former shares (one definition of the data).
train_pipeline = _base_.embedded_coco_semantic_256x256['train_pipeline']
test_pipeline = _base_.embedded_coco_semantic_256x256['test_pipeline']
train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.0, _delete_=True))
param_scheduler = [dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=0, end=max_iters,
                        by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
