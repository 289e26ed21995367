# ECO-M2F Step C (gate) for the CamVid R18-lite parent: the recipe of ./_base_/ecom2f-gate.py,
# labels from the parent's Step-B table (per-image mIoU on the 367 training images):
#   python tools/ecom2f/build_quality_table.py \
#       configs/ecom2f/ecom2f-parent_r18-lite_1xb4-2k_camvid-semantic-360x480.py PARENT.pth \
#       --metric miou --out $PARENT_WORK_DIR/quality_table_train.json
# 300 iterations of batch 8 are about 6.5 epochs.
_base_ = ['./ecom2f-parent_r18-lite_1xb4-2k_camvid-semantic-360x480.py', './_base_/ecom2f-gate.py']

parent_work_dir = 'work_dirs/ecom2f-parent_r18-lite_1xb4-2k_camvid-semantic-360x480'
load_from = parent_work_dir + '/iter_2000.pth'
# ECO-M2F Step A, the parent:
load_from_made_by = ('python tools/train.py '
                     'configs/ecom2f/ecom2f-parent_r18-lite_1xb4-2k_camvid-semantic-360x480.py')
max_iters = 300
model = dict(_base_.ecom2f_gate_model, quality_table=parent_work_dir + '/quality_table_train.json')
optim_wrapper = _base_.ecom2f_gate_optim_wrapper
custom_hooks = _base_.ecom2f_gate_hooks
train_dataloader = dict(batch_size=8)
find_unused_parameters = False  # the gate runs every iteration
param_scheduler = dict(_delete_=True, type='ConstantLR', factor=1.0, by_epoch=False, begin=0,
                       end=max_iters)
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
