# ECO-M2F Step A (parent) on mmseg's Mask2Former R50 (ADE20K 512x512), mmseg's own recipe.
# The parent change is the fragment ./_base_/ecom2f-parent_segmentor.py.
_base_ = [
    'mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py',
    './_base_/ecom2f-parent_segmentor.py'
]
custom_imports = dict(imports=['mmdet.models', 'mmeffseg'], allow_failed_imports=False)
model = {{_base_.ecom2f_parent_segmentor}}
val_evaluator = [_base_.val_evaluator, _base_.ecom2f_exit_metric]
test_evaluator = [_base_.test_evaluator, _base_.ecom2f_exit_metric]
