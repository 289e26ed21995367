# ECO-M2F Step C (gate) recipe for every host (mmdet EcoM2F, mmseg EcoM2FSegmentor): everything
# but the gate is frozen; labels argmax_k(q_k - beta * k) from the parent's Step-B table; the
# gate picks each image's exit at test time. The release used AdamW lr 1e-4, batch 8, and betas
# 0.0005 and 0.02. A gate config inherits its parent config and this fragment (whose names do
# not collide with the parent's keys), then sets:
#   model = dict(_base_.ecom2f_gate_model, quality_table=...)
#   optim_wrapper = _base_.ecom2f_gate_optim_wrapper
#   custom_hooks = _base_.ecom2f_gate_hooks
#   train_dataloader = dict(batch_size=8); find_unused_parameters = False
#   load_from, max_iters (train_cfg, param_scheduler, checkpoint interval)
ecom2f_gate_model = dict(train_mode='gate', beta=0.0005, test_cfg=dict(exit_layers=None))
ecom2f_gate_optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
ecom2f_gate_hooks = [dict(type='ExitGateLabelHook')]
