# ECO-M2F Step C (gate) on this project's embedded-data parent: ECO-M2F's embedded gate recipe
# with the model of ./_base_/proscale-ecom2f_model.py. Override with --cfg-options: load_from
# (the parent checkpoint) and model.quality_table.
_base_ = [
    '../../../configs/ecom2f/ecom2f-gate_r18-lite_1xb8-30i_embedded-panoptic.py',
    './_base_/proscale-ecom2f_model.py'
]
parent_work_dir = 'work_dirs/proscale-333-ecom2f-parent_r18-lite_1xb2-300i_embedded-panoptic'
load_from = parent_work_dir + '/iter_300.pth'
# ECO-M2F Step A, the parent:
load_from_made_by = ('python tools/train.py '
                     'projects/proscale_ecom2f/configs/'
                     'proscale-333-ecom2f-parent_r18-lite_1xb2-300i_embedded-panoptic.py')
model = dict(_base_.proscale_ecom2f_model,
             quality_table=parent_work_dir + '/quality_table_train.json')
