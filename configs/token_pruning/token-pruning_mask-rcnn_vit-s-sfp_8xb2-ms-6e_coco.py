# Token pruning with reactivation (arXiv 2306.07050), stage 2: sparse fine-tuning of the dense
# Mask R-CNN ViT-S (stage 1: mask-rcnn_vit-s-sfp_8xb2-ms-3x_coco.py), selectors new, AdamW 1e-5
# (weight decay 1e-6), 6 epochs (2 x the 3x-repeated dataset). Selectors before blocks 4..12 of 12
# (0-based 3..11) with keep targets 0.7 x3, 0.49 x3, 0.343 x3; keep-ratio loss weight 4.
_base_ = ['./mask-rcnn_vit-s-sfp_8xb2-ms-3x_coco.py', './_base_/token-pruning_selectors.py']

model = dict(backbone=dict(reducers={{_base_.token_pruning_selectors_vit_s}}))

# Adds the backbone's keep-ratio loss to Mask R-CNN's loss dict.
custom_hooks = [dict(type='AuxiliaryLossHook')]

# The dense checkpoint of stage 1 (the selectors are new: missing keys are expected).
load_from = 'work_dirs/mask-rcnn_vit-s-sfp_8xb2-ms-3x_coco/epoch_12.pth'
# Stage 2 starts from the dense model: only the new selectors may be missing from it.
load_from_missing_ok = ['backbone.reducers.']
load_from_made_by = ('python tools/train.py '
                     'configs/token_pruning/mask-rcnn_vit-s-sfp_8xb2-ms-3x_coco.py')

optim_wrapper = dict(optimizer=dict(lr=1e-5, weight_decay=1e-6))
train_cfg = dict(max_epochs=2, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
]
