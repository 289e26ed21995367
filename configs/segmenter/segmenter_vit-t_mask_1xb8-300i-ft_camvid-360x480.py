# The control of the trained-weights study (configs/study/camvid.py): Segmenter ViT-T fine-tuned
# on CamVid for exactly the schedule the ALGM and token-pruning fine-tunes get (300 iterations,
# AdamW 1e-4, warm-up then poly decay), from the step-1 checkpoint (`load_from`, set by the
# study). A method is compared with this control, not with its starting point, so the extra
# training is not credited to the method.
_base_ = ['./segmenter_vit-t_mask_1xb8-3k_camvid-360x480.py']
max_iters = 300
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=30, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=100))
