# The paper's selectors (arXiv 2306.07050) as one fragment that the recipe configs merge into
# `model.backbone.reducers` with {{_base_.token_pruning_selectors_vit_s}} (or `_vit_t`), because
# mmengine forbids `model` in two `_base_` files and `{{_base_.x}}` cannot be used inside a list
# comprehension. Selectors sit before blocks 4..12 of 12 (0-based 3..11) with keep targets
# 0.7 x3, 0.49 x3, 0.343 x3 and keep-ratio loss weight 4; embed_dims is the ViT's width.
_tp_prune_layers = [3, 4, 5, 6, 7, 8, 9, 10, 11]
_tp_selector = dict(
    type='TokenSelector',
    prune_layers=_tp_prune_layers,
    keep_targets=[0.7] * 3 + [0.49] * 3 + [0.343] * 3,
    loss_weight=4.0,
    per_image_loss=False,
    nested=False,  # True: a pruned token stays pruned (no reactivation)
    test_decision='threshold')  # 'gumbel' samples at test time like the released code
token_pruning_selectors_vit_s = [
    dict(_tp_selector, layer=i, embed_dims=384) for i in _tp_prune_layers
]
token_pruning_selectors_vit_t = [
    dict(_tp_selector, layer=i, embed_dims=192) for i in _tp_prune_layers
]
