# ECO-M2F Step C (gate) for the mmseg R50 Cityscapes parent: the recipe of ./_base_/ecom2f-gate.py;
# labels from the parent's Step-B table (per-image mIoU on train):
#   python tools/ecom2f/build_quality_table.py \
#       configs/ecom2f/ecom2f-parent_r50_8xb2-90k_cityscapes-512x1024.py PARENT.pth \
#       --metric miou --out $PARENT_WORK_DIR/quality_table_train.json
# 1k iterations of batch 8 are about 2.7 epochs of the 2975 training images.
_base_ = ['./ecom2f-parent_r50_8xb2-90k_cityscapes-512x1024.py', './_base_/ecom2f-gate.py']

parent_work_dir = 'work_dirs/ecom2f-parent_r50_8xb2-90k_cityscapes-512x1024'
load_from = parent_work_dir + '/iter_90000.pth'
# ECO-M2F Step A, the parent:
load_from_made_by = ('bash tools/dist_train.sh '
                     'configs/ecom2f/ecom2f-parent_r50_8xb2-90k_cityscapes-512x1024.py 8')
max_iters = 1000
model = dict(_base_.ecom2f_gate_model, quality_table=parent_work_dir + '/quality_table_train.json')
optim_wrapper = _base_.ecom2f_gate_optim_wrapper
custom_hooks = _base_.ecom2f_gate_hooks
train_dataloader = dict(batch_size=8)
find_unused_parameters = False  # the gate runs every iteration
auto_scale_lr = dict(enable=False, base_batch_size=8)
param_scheduler = dict(_delete_=True, type='ConstantLR', factor=1.0, by_epoch=False, begin=0,
                       end=max_iters)
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters, save_best=None))
