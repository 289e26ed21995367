# Token pruning (arXiv 2306.07050) under Mask2Former: sparse fine-tuning of the dense Mask2Former
# ViT-S (mask2former_vit-s-sfp_8xb2-lsj-50e_coco.py) with the paper's selectors (blocks 4..12,
# targets 0.7 x3, 0.49 x3, 0.343 x3, loss weight 4), AdamW 1e-5, 6 epochs. The method is a
# backbone property: this is the Mask R-CNN recipe's backbone part, unchanged.
_base_ = ['./mask2former_vit-s-sfp_8xb2-lsj-50e_coco.py', './_base_/token-pruning_selectors.py']

model = dict(backbone=dict(reducers={{_base_.token_pruning_selectors_vit_s}}))
custom_hooks = [dict(type='AuxiliaryLossHook')]
load_from = 'work_dirs/mask2former_vit-s-sfp_8xb2-lsj-50e_coco/iter_368750.pth'
# Stage 2 starts from the dense model: only the new selectors may be missing from it.
load_from_missing_ok = ['backbone.reducers.']
load_from_made_by = ('python tools/train.py '
                     'configs/token_pruning/mask2former_vit-s-sfp_8xb2-lsj-50e_coco.py')

# Mask2Former's recipe is iteration based (368750 iterations = 50 epochs at batch 16).
max_iters = 44250  # 6 epochs
optim_wrapper = dict(optimizer=dict(lr=1e-5, weight_decay=1e-6))
train_cfg = dict(max_iters=max_iters, val_interval=5000)
param_scheduler = [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500)]
