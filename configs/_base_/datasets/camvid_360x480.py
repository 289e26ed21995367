# CamVid at its native 360x480 resolution (the SegNet version): train on crops of images randomly
# rescaled 0.5x-2.0x around the native size, validate / test on the whole native image. This is
# the setting of the trained-weights study (configs/study/camvid.py). Root: CAMVID_ROOT.
_base_ = './camvid.py'

crop_size = (256, 256)
# (w, h) as mmseg's Resize expects: the native size.
img_scale = (480, 360)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
# No resize: the images are already 360x480, the size the metric compares at.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
