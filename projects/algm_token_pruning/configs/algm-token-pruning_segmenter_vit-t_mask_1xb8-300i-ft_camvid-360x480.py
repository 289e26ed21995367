# ALGM + token pruning fine-tuned on CamVid (trained-weights study, configs/study/camvid.py,
# step 8): ALGM's CamVid fine-tune (tau 0.90, from the step-1 Segmenter ViT-T checkpoint,
# `load_from` set by the study, the control's 300 iterations) with this project's selectors on
# the merged tokens (./_base_/algm-token-pruning_selectors.py) trained by the keep-ratio loss.
_base_ = [
    '../../../configs/algm/algm_segmenter_vit-t_mask_1xb8-300i-ft_camvid-360x480.py',
    './_base_/algm-token-pruning_selectors.py'
]
model = dict(
    backbone=dict(
        reducers=_base_.model.backbone.reducers + _base_.algm_token_pruning_selectors_vit_t))
custom_hooks = [dict(type='AuxiliaryLossHook')]
# The dense step-1 checkpoint has no selectors: those keys may be missing, nothing else.
load_from_missing_ok = ['backbone.reducers.']
load_from_made_by = ('python tools/study/run_study.py configs/study/camvid.py --only segmenter '
                     '(its checkpoint is set as load_from by the study)')
