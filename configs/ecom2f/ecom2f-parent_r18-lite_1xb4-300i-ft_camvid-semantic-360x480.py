# ECO-M2F Step A (parent, random exit 2..6, loss x k) fine-tuned on CamVid (trained-weights study,
# configs/study/camvid.py, step 7): the Mask2Former control's schedule (300 iterations from the
# step-5 checkpoint, ../mask2former/mask2former_r18-lite_1xb4-300i-ft_camvid-semantic-360x480.py)
# with the parent change of ./_base_/ecom2f-parent_segmentor.py. The paper trains the parent
# from scratch with the exits; the study fine-tunes the trained step-5 model with them, the same
# extra iterations as the control. The gate is new (unused in Step A, present so Step C loads
# every key). Step B and the gates: configs/ecom2f/ecom2f-gate_r18-lite_1xb8-300i_camvid-*.py.
_base_ = [
    '../mask2former/mask2former_r18-lite_1xb4-300i-ft_camvid-semantic-360x480.py',
    './_base_/ecom2f-parent_segmentor.py'
]
model = {{_base_.ecom2f_parent_segmentor}}
val_evaluator = [_base_.val_evaluator, _base_.ecom2f_exit_metric]
test_evaluator = [_base_.test_evaluator, _base_.ecom2f_exit_metric]
load_from_missing_ok = ['decode_head.pixel_decoder.encoder.gate.']
