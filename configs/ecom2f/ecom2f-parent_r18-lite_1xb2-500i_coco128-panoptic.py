# ECO-M2F Step A (parent, "weighted stochastic depth") on the CPU-sized Mask2Former, coco128
# panoptic. The parent change (exits 2..6, loss weight alpha_k = k, unused gate, full 6-layer
# validation) is the fragment ./_base_/ecom2f-parent.py.
_base_ = [
    '../mask2former/mask2former_r18-lite_1xb2-500i_coco128-panoptic.py',
    './_base_/ecom2f-parent.py'
]

model = {{_base_.ecom2f_parent_model}}
val_evaluator = [_base_.val_evaluator, _base_.ecom2f_exit_metric]
test_evaluator = [_base_.test_evaluator, _base_.ecom2f_exit_metric]
