# ECO-M2F Step C (gate) on the embedded-data parent (ecom2f-parent_r18-lite_1xb2-300i_embedded-
# panoptic.py): everything but the gate is frozen; labels are argmax_k(q_k - beta * k) from the
# Step-B table of the parent on the 16 images. Override with --cfg-options: load_from,
# model.quality_table, model.beta.
_base_ = ['./ecom2f-parent_r18-lite_1xb2-300i_embedded-panoptic.py']

parent_work_dir = 'work_dirs/ecom2f-parent_r18-lite_1xb2-300i_embedded-panoptic'
load_from = parent_work_dir + '/iter_300.pth'
# ECO-M2F Step A, the parent:
load_from_made_by = ('python tools/train.py '
                     'configs/ecom2f/ecom2f-parent_r18-lite_1xb2-300i_embedded-panoptic.py')
max_iters = 30

model = dict(
    train_mode='gate',
    quality_table=parent_work_dir + '/quality_table_train.json',
    beta=0.0005,
    test_cfg=dict(exit_layers=None))  # the gate picks each image's exit
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
param_scheduler = dict(_delete_=True, type='ConstantLR', factor=1.0, by_epoch=False, begin=0,
                       end=max_iters)
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
custom_hooks = [dict(type='ExitGateLabelHook')]
find_unused_parameters = False  # the gate runs every iteration
