# A CPU-sized Mask2Former for minutes-long runs: the R50 embedded config with the r18-lite model of
# ./_base_/mask2former_r18-lite_model.py (R18 backbone, 50 queries, 3 transformer-decoder layers,
# fewer sampled mask points; the pixel decoder keeps mmdet's structure).
_base_ = [
    './mask2former_r50_1xb2-300i_embedded-panoptic.py',
    './_base_/mask2former_r18-lite_model.py'
]

model = {{_base_.mask2former_r18_lite}}
