# mmseg's semantic Mask2Former (EncoderDecoder + Mask2FormerHead) on CamVid at its native 360x480,
# CPU-sized ("r18-lite": R18 backbone trained from scratch, 50 queries, 3 transformer-decoder
# layers, fewer sampled mask points; the pixel decoder keeps mmdet's 6 deformable layers at 256
# channels, the part PRO-SCALE and ECO-M2F change). Step 5 of the trained-weights study
# (configs/study/camvid.py); the mmseg PRO-SCALE / ECO-M2F CamVid configs start from it.
_base_ = ['mmseg::mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py']
crop_size = (256, 256)
max_iters = 2000
num_classes = 11
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        depth=18, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, init_cfg=None),
    decode_head=dict(
        in_channels=[64, 128, 256, 512],
        num_classes=num_classes,
        num_queries=50,
        transformer_decoder=dict(
            num_layers=3, layer_cfg=dict(ffn_cfg=dict(feedforward_channels=1024))),
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1]),
        train_cfg=dict(num_points=3136)))

# CamVid (../_base_/datasets/camvid_360x480.py holds the same settings for configs without a
# dataset of their own; mmengine does not let two bases both define the dataloaders).
dataset_type = 'CamVidDataset'
data_root = '{{$CAMVID_ROOT:../shared/data/camvid}}'
custom_imports = dict(imports=['mmeffseg'], allow_failed_imports=False)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(480, 360), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images/train', seg_map_path='labels/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False,
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images/val', seg_map_path='labels/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

# From scratch: the backbone learns at the full rate (mmseg's 0.1 is for pretrained backbones).
optim_wrapper = dict(
    optimizer=dict(lr=2e-4),
    paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=1.0, decay_mult=1.0))))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=200),
    dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=200, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=100, max_keep_ckpts=2, save_last=True,
                    save_best=None))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
