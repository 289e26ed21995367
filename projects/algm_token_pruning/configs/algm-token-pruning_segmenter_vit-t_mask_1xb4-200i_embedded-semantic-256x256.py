# ALGM + token pruning on Segmenter ViT-T, embedded data (256x256): ALGM merges locally before
# block 1 and globally before block 5 (configs/algm, tau 0.90), then per-layer selectors prune
# the merged tokens before blocks 7..12 (./_base_/algm-token-pruning_selectors.py); pruned
# tokens keep their features and can come back. Trained from scratch with the keep-ratio loss
# collected by AuxiliaryLossHook.
_base_ = [
    '../../../configs/algm/algm_segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py',
    './_base_/algm-token-pruning_selectors.py'
]
model = dict(
    backbone=dict(
        reducers=_base_.model.backbone.reducers + _base_.algm_token_pruning_selectors_vit_t))
custom_hooks = [dict(type='AuxiliaryLossHook')]
