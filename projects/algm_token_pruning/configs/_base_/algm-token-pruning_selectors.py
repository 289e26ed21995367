# Token-pruning selectors (arXiv 2306.07050's TokenSelector, the settings of
# configs/token_pruning/_base_/token-pruning_selectors.py) for a ViT that ALGM has already
# merged: they sit before blocks 7..12 (0-based 6..11), after ALGM's global merge at block 5
# (0-based 4), one block apart so no block runs two reducers. Keep targets continue the pruning
# paper's geometric schedule over the blocks left (0.7 x2, 0.49 x2, 0.343 x2), keep-ratio loss
# weight 4. Configs add them to ALGM's reducers with
# `reducers=_base_.model.backbone.reducers + _base_.algm_token_pruning_selectors_vit_t`.
_base_ = ['../../../../configs/token_pruning/_base_/token-pruning_selectors.py']

_atp_prune_layers = [6, 7, 8, 9, 10, 11]
_atp_selector = dict(
    _base_._tp_selector,
    prune_layers=_atp_prune_layers,
    keep_targets=[0.7] * 2 + [0.49] * 2 + [0.343] * 2)
algm_token_pruning_selectors_vit_t = [
    dict(_atp_selector, layer=i, embed_dims=192) for i in _atp_prune_layers
]
