# Segmenter ViT-T (mask transformer head) on CamVid at its native 360x480 (11 classes; void
# ignored), trained from scratch on 256x256 crops (no pretrained weights offline). Step 1 of the
# trained-weights study (configs/study/camvid.py); the ALGM / token-pruning study configs
# fine-tune from it. Model deltas as in mmseg's segmenter_vit-t config. Sized for the 2-core CPU:
# see docs/study.md for the iteration time and the schedule arithmetic.
_base_ = [
    'mmseg::_base_/models/segmenter_vit-b16_mask.py', '../_base_/datasets/camvid_360x480.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_160k.py'
]
crop_size = (256, 256)
max_iters = 3000
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(img_size=crop_size, embed_dims=192, num_heads=3, drop_path_rate=0.0),
    decode_head=dict(
        in_channels=192, channels=192, num_heads=3, embed_dims=192, num_classes=11),
    test_cfg=dict(mode='whole'))

train_dataloader = dict(batch_size=8, num_workers=1, persistent_workers=True)
val_dataloader = dict(batch_size=1, num_workers=1, persistent_workers=False)
test_dataloader = val_dataloader
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.01, betas=(0.9, 0.999)),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=200),
    dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=200, end=max_iters, by_epoch=False)
]
# Validation every 500 iterations shows the plateau; checkpoints every 200 iterations (a few
# minutes) so an interrupted run loses little (tools/train.py --resume).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=200, max_keep_ckpts=2, save_last=True))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
