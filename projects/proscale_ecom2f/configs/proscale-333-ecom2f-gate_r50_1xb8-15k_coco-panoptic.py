# ECO-M2F Step C (gate) on this project's R50 parent, COCO panoptic: ECO-M2F's R50 gate recipe
# with the model of ./_base_/proscale-ecom2f_model.py. Override with --cfg-options: load_from
# (the parent checkpoint) and model.quality_table.
_base_ = [
    '../../../configs/ecom2f/ecom2f-gate_r50_1xb8-15k_coco-panoptic.py',
    './_base_/proscale-ecom2f_model.py'
]
parent_work_dir = 'work_dirs/proscale-333-ecom2f-parent_r50_8xb2-lsj-50e_coco-panoptic'
load_from = parent_work_dir + '/iter_368750.pth'
# ECO-M2F Step A, the parent:
load_from_made_by = ('bash tools/dist_train.sh '
                     'projects/proscale_ecom2f/configs/'
                     'proscale-333-ecom2f-parent_r50_8xb2-lsj-50e_coco-panoptic.py 8')
model = dict(_base_.proscale_ecom2f_model,
             quality_table=parent_work_dir + '/quality_table_train.json')
