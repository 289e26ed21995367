# ECO-M2F Step A (parent) on COCO panoptic, R50, mmdet's Mask2Former recipe. The parent change
# (exits 2..6, loss weight alpha_k = k, unused gate, full 6-layer validation) is the fragment
# ./_base_/ecom2f-parent.py.
_base_ = [
    '../mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py',
    './_base_/ecom2f-parent.py'
]

model = {{_base_.ecom2f_parent_model}}
# The base evaluates with a list (panoptic + instance metrics): extend it, do not nest it.
val_evaluator = _base_.val_evaluator + [_base_.ecom2f_exit_metric]
test_evaluator = _base_.test_evaluator + [_base_.ecom2f_exit_metric]
