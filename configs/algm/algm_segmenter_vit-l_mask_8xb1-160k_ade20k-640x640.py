# ALGM (arXiv 2406.09936) on mmseg's Segmenter ViT-L: local 2x2 merging in the first block
# (tau = 0.95, the paper's ADE20K value for ViT-L) and global bipartite merging with the automatic
# threshold mean + std / 7 in block 7 (0-based layer 6). Test-time knob:
#   --cfg-options model.backbone.reducers.0.tau=0.9      (tau > 1 switches local merging off)
#   --cfg-options model.backbone.reducers.1.threshold=2  (> 1 switches global merging off)
# mmseg names its ViT-L base "512x512" but trains it on 640x640 crops; this name says 640.
# batch_policy='min' is the released code's batch rule (one threshold and the batch-minimum
# count for the whole batch), so the published checkpoints give the published merges; use
#   --cfg-options model.backbone.reducers.0.batch_policy=per_image \
#                 model.backbone.reducers.1.batch_policy=per_image
# for per-image savings that survive batching (docs/algm.md).
_base_ = ['../segmenter/segmenter_vit-l_mask_8xb1-160k_ade20k-512x512.py']

model = dict(
    backbone=dict(
        type='ReducerViT',
        # The head decodes the merged tokens and unmerges its class masks itself.
        output_merged=True,
        reducers=[
            dict(type='LocalWindowMerge', layer=0, tau=0.95, batch_policy='min'),
            dict(type='GlobalBipartiteMerge', layer=6, batch_policy='min'),
        ]),
    decode_head=dict(type='MergedSegmenterMaskTransformerHead'))
