# Token pruning fine-tuned on CamVid (trained-weights study, configs/study/camvid.py): the
# paper's selectors (blocks 4..12, keep targets 0.7 x3, 0.49 x3, 0.343 x3, keep-ratio loss weight
# 4) added to Segmenter ViT-T from the study's step-1 checkpoint (`load_from`, set by the study),
# trained with the control's 300-iteration schedule (segmenter_vit-t_mask_1xb8-300i-ft_camvid-
# 360x480.py). The paper fine-tunes 4-6 COCO epochs at AdamW 1e-5; 300 iterations are far
# fewer steps, so the study uses the control's 1e-4 for every method alike.
_base_ = [
    '../segmenter/segmenter_vit-t_mask_1xb8-300i-ft_camvid-360x480.py',
    './_base_/token-pruning_selectors.py'
]

model = dict(backbone=dict(type='ReducerViT', reducers={{_base_.token_pruning_selectors_vit_t}}))
custom_hooks = [dict(type='AuxiliaryLossHook')]
# The dense step-1 checkpoint has no selectors: those keys may be missing, nothing else.
load_from_missing_ok = ['backbone.reducers.']
load_from_made_by = ('python tools/study/run_study.py configs/study/camvid.py --only segmenter '
                     '(its checkpoint is set as load_from by the study)')
