# ECO-M2F Step C (gate) for the r50 parent on COCO panoptic: everything but the gate is
# frozen; labels argmax_k(q_k - beta * k) from the Step-B table of the parent on train2017.
# The release used AdamW lr 1e-4, batch 8; 15k iterations are about one epoch of train2017.
# Paper betas: 0.0005 (default here) and 0.02; change with --cfg-options model.beta=0.02.
_base_ = ['./ecom2f-parent_r50_8xb2-lsj-50e_coco-panoptic.py']

parent_work_dir = 'work_dirs/ecom2f-parent_r50_8xb2-lsj-50e_coco-panoptic'
load_from = parent_work_dir + '/iter_368750.pth'
# ECO-M2F Step A, the parent:
load_from_made_by = ('bash tools/dist_train.sh '
                     'configs/ecom2f/ecom2f-parent_r50_8xb2-lsj-50e_coco-panoptic.py 8')
max_iters = 15000

model = dict(
    train_mode='gate',
    quality_table=parent_work_dir + '/quality_table_train.json',
    beta=0.0005,
    test_cfg=dict(exit_layers=None))
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
param_scheduler = dict(_delete_=True, type='ConstantLR', factor=1.0, by_epoch=False, begin=0,
                       end=max_iters)
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
custom_hooks = [dict(type='ExitGateLabelHook')]
find_unused_parameters = False  # the gate runs every iteration
auto_scale_lr = dict(enable=False, base_batch_size=8)
