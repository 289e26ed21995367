# ECO-M2F Step A (parent) on the CPU-sized mmseg Mask2Former of CamVid (360x480, R18-lite, 2k
# iterations of batch 4): the baseline's recipe and data with the parent change of
# ./_base_/ecom2f-parent_segmentor.py (exits 2..6, alpha_k = k, full 6-layer validation).
_base_ = [
    '../mask2former/mask2former_r18-lite_1xb4-2k_camvid-semantic-360x480.py',
    './_base_/ecom2f-parent_segmentor.py'
]
model = {{_base_.ecom2f_parent_segmentor}}
val_evaluator = [_base_.val_evaluator, _base_.ecom2f_exit_metric]
test_evaluator = [_base_.test_evaluator, _base_.ecom2f_exit_metric]
