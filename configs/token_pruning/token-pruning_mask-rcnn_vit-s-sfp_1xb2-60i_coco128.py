# The coco128 sparse fine-tuning (token-pruning_mask-rcnn_vit-t-sfp_1xb2-60i_coco128.py) for the
# DeiT-S-sized ViT, from the dense coco128 ViT-S checkpoint.
_base_ = ['./token-pruning_mask-rcnn_vit-t-sfp_1xb2-60i_coco128.py']

embed_dims = 384
model = dict(
    backbone=dict(
        embed_dims=embed_dims,
        num_heads=6,
        reducers={{_base_.token_pruning_selectors_vit_s}}),
    neck=dict(in_channels=embed_dims))
load_from = 'work_dirs/mask-rcnn_vit-s-sfp_1xb2-40i_coco128/iter_40.pth'
# Stage 2 starts from the dense model: only the new selectors may be missing from it.
load_from_missing_ok = ['backbone.reducers.']
load_from_made_by = ('python tools/train.py '
                     'configs/token_pruning/mask-rcnn_vit-s-sfp_1xb2-40i_coco128.py')
