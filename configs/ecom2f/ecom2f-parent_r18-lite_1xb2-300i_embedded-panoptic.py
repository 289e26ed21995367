# ECO-M2F Step A (parent) on the CPU-sized Mask2Former and the 16 embedded images: the
# overfitting-scale run of the three-step recipe (tools/ecom2f/run_coco128_demo.sh with
# DATA=embedded). The parent change is the fragment ./_base_/ecom2f-parent.py.
_base_ = [
    '../mask2former/mask2former_r18-lite_1xb2-300i_embedded-panoptic.py',
    './_base_/ecom2f-parent.py'
]

model = {{_base_.ecom2f_parent_model}}
# The base evaluates with a list (panoptic + instance metrics): extend it, do not nest it.
val_evaluator = _base_.val_evaluator + [_base_.ecom2f_exit_metric]
test_evaluator = _base_.test_evaluator + [_base_.ecom2f_exit_metric]
