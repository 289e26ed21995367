# ECO-M2F Step A (parent) on mmseg's Mask2Former R50 (Cityscapes 512x1024), mmseg's own recipe.
# The parent change is the fragment ./_base_/ecom2f-parent_segmentor.py.
_base_ = [
    'mmseg::mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py',
    './_base_/ecom2f-parent_segmentor.py'
]
custom_imports = dict(imports=['mmeffseg'], allow_failed_imports=False)
model = {{_base_.ecom2f_parent_segmentor}}
val_evaluator = [_base_.val_evaluator, _base_.ecom2f_exit_metric]
test_evaluator = [_base_.test_evaluator, _base_.ecom2f_exit_metric]
