# Token pruning, stage 2 at development scale: fine-tunes the dense coco128 ViT-T Mask R-CNN
# (mask-rcnn_vit-t-sfp_1xb2-40i_coco128.py) with selectors before blocks 4..12 (targets 0.7 x3,
# 0.49 x3, 0.343 x3, loss weight 4). The paper's AdamW 1e-5 for the network; the new selectors
# get lr x100 so that a 60-iteration CPU run reaches the keep targets.
_base_ = ['./mask-rcnn_vit-t-sfp_1xb2-40i_coco128.py', './_base_/token-pruning_selectors.py']

max_iters = 60
model = dict(backbone=dict(reducers={{_base_.token_pruning_selectors_vit_t}}))
custom_hooks = [dict(type='AuxiliaryLossHook')]
load_from = 'work_dirs/mask-rcnn_vit-t-sfp_1xb2-40i_coco128/iter_40.pth'
# Stage 2 starts from the dense model: only the new selectors may be missing from it.
load_from_missing_ok = ['backbone.reducers.']
load_from_made_by = ('python tools/train.py '
                     'configs/token_pruning/mask-rcnn_vit-t-sfp_1xb2-40i_coco128.py')

optim_wrapper = dict(
    optimizer=dict(lr=1e-5, weight_decay=1e-6),
    paramwise_cfg=dict(custom_keys=dict(reducers=dict(lr_mult=100.0, decay_mult=0.0))))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10)]
default_hooks = dict(checkpoint=dict(interval=max_iters))
