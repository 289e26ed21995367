# ECO-M2F Step A (parent) for mmseg's Mask2Former, as one fragment next to an mmseg Mask2Former
# base: the EncoderDecoder becomes an EcoM2FSegmentor (same steps as mmdet's EcoM2F: each
# iteration samples an exit k in 2..6, runs encoder layers 1..k and scales the loss by
# alpha_k = k); the pixel decoder becomes mmeffseg's, with a gate in its encoder (unused here,
# present so that Step C loads every key). Validation runs all 6 layers. The configs merge it
# with `model = {{_base_.ecom2f_parent_segmentor}}` (mmengine forbids `model` in two bases) and
# set custom_imports themselves (some mmseg bases have their own).
exits = (2, 3, 4, 5, 6)
ecom2f_parent_segmentor = dict(
    type='EcoM2FSegmentor',
    exits=exits,
    exit_probs=None,  # uniform; or one weight per exit
    exit_loss_weights='linear',  # alpha_k = k; 'none' or one weight per exit
    train_mode='parent',
    decode_head=dict(
        pixel_decoder=dict(
            type='mmdet.EfficientMSDeformAttnPixelDecoder',
            gate=dict(type='TokenMeanExitGate', exits=exits))),
    test_cfg=dict(exit_layers=6))
# Layers deeper than the sampled exit (and the gate) get no gradient in an iteration.
find_unused_parameters = True
# The configs add the exit statistics to their base's evaluators (mean exit, histogram):
#   val_evaluator = [_base_.val_evaluator, _base_.ecom2f_exit_metric] (the same for test)
ecom2f_exit_metric = dict(type='ExitStatisticsMetric')
