# Token pruning (arXiv 2306.07050) under Segmenter: the same selectors (blocks 4..12, targets
# 0.7 x3, 0.49 x3, 0.343 x3, loss weight 4) in mmseg's Segmenter ViT-S. Sparse fine-tuning of the
# dense Segmenter checkpoint (mmseg's baseline, same parameter names), AdamW 1e-5 as in the
# paper's recipe, 16k iterations (a tenth of the dense schedule).
_base_ = [
    '../segmenter/segmenter_vit-s_mask_8xb1-160k_ade20k-512x512.py',
    './_base_/token-pruning_selectors.py'
]

model = dict(
    pretrained=None,
    backbone=dict(type='ReducerViT', reducers={{_base_.token_pruning_selectors_vit_s}}))
custom_hooks = [dict(type='AuxiliaryLossHook')]
load_from = 'work_dirs/segmenter_vit-s_mask_8xb1-160k_ade20k-512x512/iter_160000.pth'
# Stage 2 starts from the dense model: only the new selectors may be missing from it.
load_from_missing_ok = ['backbone.reducers.']
load_from_made_by = ('python tools/train.py '
                     'configs/segmenter/segmenter_vit-s_mask_8xb1-160k_ade20k-512x512.py')

max_iters = 16000
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-5, betas=(0.9, 0.999), weight_decay=1e-6))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 4)
param_scheduler = [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500)]
