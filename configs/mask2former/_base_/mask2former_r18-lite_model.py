# The CPU-sized Mask2Former ("r18-lite") as one model fragment that configs merge into the R50
# model with `model = {{_base_.mask2former_r18_lite}}` (mmengine forbids `model` in two `_base_`
# files): R18 backbone, 50 queries, 3 transformer-decoder layers and fewer sampled mask points.
# The pixel decoder (the part the efficiency methods change) keeps mmdet's structure: 6 deformable
# layers, 256 channels.
mask2former_r18_lite = dict(
    backbone=dict(depth=18, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False),
    panoptic_head=dict(
        in_channels=[64, 128, 256, 512],
        num_queries=50,
        transformer_decoder=dict(
            num_layers=3, layer_cfg=dict(ffn_cfg=dict(feedforward_channels=1024)))),
    train_cfg=dict(num_points=3136),
    test_cfg=dict(max_per_image=50))
