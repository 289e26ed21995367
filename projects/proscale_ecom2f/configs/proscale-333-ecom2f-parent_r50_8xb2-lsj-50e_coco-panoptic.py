# ECO-M2F Step A (parent) on PRO-SCALE's progressive encoder, R50, COCO panoptic (Mask2Former's
# recipe): ECO-M2F's R50 parent with the pixel decoder and exits of
# ./_base_/proscale-ecom2f_model.py; validation runs all 9 layers.
_base_ = [
    '../../../configs/ecom2f/ecom2f-parent_r50_8xb2-lsj-50e_coco-panoptic.py',
    './_base_/proscale-ecom2f_model.py'
]
model = dict(_base_.proscale_ecom2f_model, test_cfg=dict(exit_layers=9))
