# ALGM fine-tuned on CamVid (trained-weights study, configs/study/camvid.py): Segmenter ViT-T
# from the study's step-1 checkpoint (`load_from`, set by the study) with merging on during the
# 300 fine-tuning iterations of the control (segmenter_vit-t_mask_1xb8-300i-ft_camvid-360x480.py).
# tau = 0.90 is the paper's ViT-Ti value (ADE20K; the paper has no CamVid setting); the global
# stage sits before block 5. Change tau at test time with
#   --cfg-options model.backbone.reducers.0.tau=0.85
_base_ = ['../segmenter/segmenter_vit-t_mask_1xb8-300i-ft_camvid-360x480.py']

model = dict(
    backbone=dict(
        type='ReducerViT',
        output_merged=True,
        reducers=[
            dict(type='LocalWindowMerge', layer=0, tau=0.90),
            dict(type='GlobalBipartiteMerge', layer=4),
        ]),
    decode_head=dict(type='MergedSegmenterMaskTransformerHead'))
