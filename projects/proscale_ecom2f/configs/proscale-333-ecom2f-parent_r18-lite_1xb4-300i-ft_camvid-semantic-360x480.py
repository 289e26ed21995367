# ECO-M2F Step A (parent) on PRO-SCALE's progressive encoder, mmseg's Mask2Former R18-lite on
# CamVid (trained-weights study, configs/study/camvid.py, step 8): ECO-M2F's CamVid parent
# fine-tune (300 iterations, random exit per iteration, loss x k) with the pixel decoder and
# exits of ./_base_/proscale-ecom2f_model.py, from the study's PRO-SCALE fine-tune (step 6:
# the same encoder without the gate; `load_from` set by the study). Validation runs all 9 layers.
_base_ = [
    '../../../configs/ecom2f/ecom2f-parent_r18-lite_1xb4-300i-ft_camvid-semantic-360x480.py',
    './_base_/proscale-ecom2f_model.py'
]
model = dict(_base_.proscale_ecom2f_segmentor, test_cfg=dict(exit_layers=9))
load_from_missing_ok = ['decode_head.pixel_decoder.encoder.gate.']
load_from_made_by = ('python tools/study/run_study.py configs/study/camvid.py --only proscale_ft '
                     '(its checkpoint is set as load_from by the study)')
