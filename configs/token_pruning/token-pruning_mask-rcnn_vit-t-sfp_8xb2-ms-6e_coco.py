# Token pruning (arXiv 2306.07050), stage 2 for the DeiT-T-sized Mask R-CNN: the ViT-S recipe
# (token-pruning_mask-rcnn_vit-s-sfp_8xb2-ms-6e_coco.py) on the dense ViT-T checkpoint.
_base_ = ['./token-pruning_mask-rcnn_vit-s-sfp_8xb2-ms-6e_coco.py']

embed_dims = 192
model = dict(
    backbone=dict(
        embed_dims=embed_dims,
        num_heads=3,
        reducers={{_base_.token_pruning_selectors_vit_t}}),
    neck=dict(in_channels=embed_dims))
load_from = 'work_dirs/mask-rcnn_vit-t-sfp_8xb2-ms-3x_coco/epoch_12.pth'
# Stage 2 starts from the dense model: only the new selectors may be missing from it.
load_from_missing_ok = ['backbone.reducers.']
load_from_made_by = ('python tools/train.py '
                     'configs/token_pruning/mask-rcnn_vit-t-sfp_8xb2-ms-3x_coco.py')
