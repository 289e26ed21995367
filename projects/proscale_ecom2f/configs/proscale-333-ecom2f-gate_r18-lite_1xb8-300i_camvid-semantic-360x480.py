# ECO-M2F Step C (gate) on this project's CamVid parent (mmseg Mask2Former R18-lite): ECO-M2F's
# CamVid gate recipe (everything but the gate frozen, labels argmax_k(q_k - beta * k) from the
# parent's Step-B table) with the model of ./_base_/proscale-ecom2f_model.py. The study
# (configs/study/camvid.py) sets load_from (the parent checkpoint) and model.quality_table.
_base_ = [
    '../../../configs/ecom2f/ecom2f-gate_r18-lite_1xb8-300i_camvid-semantic-360x480.py',
    './_base_/proscale-ecom2f_model.py'
]
parent_work_dir = ('work_dirs/'
                   'proscale-333-ecom2f-parent_r18-lite_1xb4-300i-ft_camvid-semantic-360x480')
load_from = parent_work_dir + '/iter_300.pth'
# ECO-M2F Step A, the parent:
load_from_made_by = ('python tools/train.py projects/proscale_ecom2f/configs/'
                     'proscale-333-ecom2f-parent_r18-lite_1xb4-300i-ft_camvid-semantic-360x480.py')
model = dict(_base_.proscale_ecom2f_segmentor,
             quality_table=parent_work_dir + '/quality_table_train.json')
