# ECO-M2F Step A (parent) on PRO-SCALE's progressive encoder, CPU-sized Mask2Former, the 16
# embedded images (300 iterations, the overfitting scale of the ECO-M2F embedded demo): ECO-M2F's
# embedded parent with the pixel decoder and exits of ./_base_/proscale-ecom2f_model.py.
_base_ = [
    '../../../configs/ecom2f/ecom2f-parent_r18-lite_1xb2-300i_embedded-panoptic.py',
    './_base_/proscale-ecom2f_model.py'
]
model = dict(_base_.proscale_ecom2f_model, test_cfg=dict(exit_layers=9))
