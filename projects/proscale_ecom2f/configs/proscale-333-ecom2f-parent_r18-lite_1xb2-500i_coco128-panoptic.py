# ECO-M2F Step A (parent) on PRO-SCALE's progressive encoder: the CPU-sized ECO-M2F parent on
# coco128 panoptic (exit sampling, alpha_k = k, unused gate) with the pixel decoder and exits
# of ./_base_/proscale-ecom2f_model.py; validation runs all 9 layers.
_base_ = [
    '../../../configs/ecom2f/ecom2f-parent_r18-lite_1xb2-500i_coco128-panoptic.py',
    './_base_/proscale-ecom2f_model.py'
]
model = dict(_base_.proscale_ecom2f_model, test_cfg=dict(exit_layers=9))
