# The Mask2Former control of the trained-weights study (configs/study/camvid.py, steps 6-7):
# mmseg's Mask2Former R18-lite fine-tuned on CamVid from the step-5 checkpoint (`load_from`, set
# by the study) for exactly the schedule the PRO-SCALE and ECO-M2F fine-tunes get: 300 iterations
# of batch 4 (3.3 epochs), AdamW at mmseg's Mask2Former rate 1e-4 (step 5 trained at 2e-4 from
# scratch), short warm-up then poly decay, as the Segmenter host's control. A method is compared
# with this control, not with step 5, so the extra training is not credited to the method.
_base_ = ['./mask2former_r18-lite_1xb4-2k_camvid-semantic-360x480.py']
max_iters = 300
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=30, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=100))
load_from_made_by = ('python tools/study/run_study.py configs/study/camvid.py --only mask2former '
                     '(its checkpoint is set as load_from by the study)')
