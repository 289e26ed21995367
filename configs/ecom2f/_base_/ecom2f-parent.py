# ECO-M2F Step A (parent, "weighted stochastic depth") as one fragment next to a Mask2Former base:
# each iteration samples an exit k in 2..6 (uniform), runs encoder layers 1..k and scales the loss
# by alpha_k = k. The gate exists (so Step C loads every key) but is not used. Validation runs all
# 6 encoder layers (test_cfg.exit_layers=6). mmengine forbids `model` in two `_base_` files, so
# the parent configs merge the model change with `model = {{_base_.ecom2f_parent_model}}`.
exits = (2, 3, 4, 5, 6)
ecom2f_parent_model = dict(
    type='EcoM2F',
    exits=exits,
    exit_probs=None,  # uniform; or one weight per exit
    exit_loss_weights='linear',  # alpha_k = k; 'none' or one weight per exit
    train_mode='parent',
    panoptic_head=dict(
        pixel_decoder=dict(
            type='EfficientMSDeformAttnPixelDecoder',
            gate=dict(type='TokenMeanExitGate', exits=exits))),
    test_cfg=dict(exit_layers=6))
# Layers deeper than the sampled exit (and the gate) get no gradient in an iteration.
find_unused_parameters = True  # read by mmengine's (and tools/train.py's CPU) DDP wrapper
# The configs add the exit statistics to their base's evaluators (mean exit, histogram):
#   val_evaluator = [_base_.val_evaluator, _base_.ecom2f_exit_metric] (the same for test)
ecom2f_exit_metric = dict(type='ExitStatisticsMetric')
