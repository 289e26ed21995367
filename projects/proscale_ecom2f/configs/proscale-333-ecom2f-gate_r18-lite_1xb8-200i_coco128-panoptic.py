# ECO-M2F Step C (gate) on this project's CPU-sized parent, coco128 panoptic: ECO-M2F's gate
# recipe (everything but the gate frozen, labels argmax_k(q_k - beta * k) from the parent's
# Step-B table) with the model of ./_base_/proscale-ecom2f_model.py. Override with
# --cfg-options: load_from (the parent checkpoint) and model.quality_table.
_base_ = [
    '../../../configs/ecom2f/ecom2f-gate_r18-lite_1xb8-200i_coco128-panoptic.py',
    './_base_/proscale-ecom2f_model.py'
]
parent_work_dir = 'work_dirs/proscale-333-ecom2f-parent_r18-lite_1xb2-500i_coco128-panoptic'
load_from = parent_work_dir + '/iter_500.pth'
# ECO-M2F Step A, the parent:
load_from_made_by = ('python tools/train.py '
                     'projects/proscale_ecom2f/configs/'
                     'proscale-333-ecom2f-parent_r18-lite_1xb2-500i_coco128-panoptic.py')
model = dict(_base_.proscale_ecom2f_model,
             quality_table=parent_work_dir + '/quality_table_train.json')
