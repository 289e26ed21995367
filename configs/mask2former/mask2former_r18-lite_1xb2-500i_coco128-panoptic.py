# The CPU-sized Mask2Former (see the r18-lite embedded config) on coco128 panoptic: the R50
# coco128 panoptic config with the r18-lite model of ./_base_/mask2former_r18-lite_model.py.
_base_ = [
    './mask2former_r50_1xb2-500i_coco128-panoptic.py',
    './_base_/mask2former_r18-lite_model.py'
]

model = {{_base_.mask2former_r18_lite}}
