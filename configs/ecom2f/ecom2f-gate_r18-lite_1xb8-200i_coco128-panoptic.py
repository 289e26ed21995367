# ECO-M2F Step C (gate) on the CPU-sized parent, coco128 panoptic. Everything but the gate is
# frozen; labels are argmax_k(q_k - beta * k) from the Step-B table. A new beta needs only a new
# run of this config: --cfg-options model.beta=0.02
# Inputs (override with --cfg-options):
#   load_from           the Step-A parent checkpoint
#   model.quality_table the Step-B table of that parent on the training split
_base_ = ['./ecom2f-parent_r18-lite_1xb2-500i_coco128-panoptic.py']

parent_work_dir = 'work_dirs/ecom2f-parent_r18-lite_1xb2-500i_coco128-panoptic'
load_from = parent_work_dir + '/iter_500.pth'
# ECO-M2F Step A, the parent:
load_from_made_by = ('python tools/train.py '
                     'configs/ecom2f/ecom2f-parent_r18-lite_1xb2-500i_coco128-panoptic.py')
max_iters = 200

model = dict(
    train_mode='gate',
    quality_table=parent_work_dir + '/quality_table_train.json',
    beta=0.0005,
    test_cfg=dict(exit_layers=None))  # the gate picks each image's exit
train_dataloader = dict(batch_size=8)
# Release: AdamW, lr 1e-4, batch 8. Only the gate has gradients.
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
param_scheduler = dict(_delete_=True, type='ConstantLR', factor=1.0, by_epoch=False, begin=0,
                       end=max_iters)
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
# Check the table and print the label histogram; log the mean exit of each evaluation.
custom_hooks = [dict(type='ExitGateLabelHook')]
find_unused_parameters = False  # the gate runs every iteration
