"""ECO-M2F on mmseg's Mask2Former: identity at the deepest exit, the three steps, metainfo."""
import pytest
import torch

from mmeffseg.testing.tiny_eco_m2f_segmentor import EXITS, build_tiny_seg, clone, tiny_seg_batch


def _logits(results):
    return torch.stack([r.seg_logits.data for r in results])


def test_forced_deepest_exit_equals_mmseg_mask2former():
    base = build_tiny_seg(seed=3, ecom2f=False)
    assert type(base).__name__ == 'EncoderDecoder'
    eco = build_tiny_seg(seed=5, test_cfg=dict(mode='whole', exit_layers=6))
    missing, unexpected = eco.load_state_dict(base.state_dict(), strict=False)
    assert missing and all('.gate.' in k for k in missing) and not unexpected
    inputs, samples = tiny_seg_batch(2)
    with torch.no_grad():
        ref = base.predict(inputs, clone(samples))
        out = eco.predict(inputs, clone(samples))
        with eco.forced_exits(2):
            shallow = eco.predict(inputs, clone(samples))
    assert (_logits(out) - _logits(ref)).abs().max() <= 1e-5
    assert [r.metainfo['exit_layers'] for r in out] == [6, 6]
    assert (_logits(shallow) - _logits(ref)).abs().max() > 1e-4  # the check can fail


def test_gated_inference_records_each_images_exit():
    model = build_tiny_seg(seed=0, test_cfg=dict(mode='whole', exit_layers=None))
    inputs, samples = tiny_seg_batch(6, seed=4)
    gate = model.gate
    with torch.no_grad():
        enc_inputs = model.pixel_decoder.encoder_inputs(model.extract_feat(inputs))
        h, w = enc_inputs['spatial_shapes'][0].tolist()
        means = enc_inputs['query'][:, :h * w].mean(1)
        gen = torch.Generator().manual_seed(2)
        gate.fc.weight.copy_(torch.randn(gate.fc.weight.shape, generator=gen) * 100)
        gate.fc.bias.copy_(-gate.fc.weight @ means.mean(0))
        out = model.predict(inputs, clone(samples))
        exits = [r.metainfo['exit_layers'] for r in out]
        assert all(e in EXITS for e in exits) and len(set(exits)) > 1, exits
        expected = gate.logits_to_exits(gate(enc_inputs['query'][:, :h * w])).tolist()
        assert exits == expected
        single = model.predict(inputs[2:3], clone(samples[2:3]))
        assert single[0].metainfo['exit_layers'] == exits[2]


def test_parent_step_weights_losses_and_trains_layers_up_to_the_exit():
    inputs, samples = tiny_seg_batch(2)
    losses = {}
    for weights in ('none', 'linear'):
        model = build_tiny_seg(seed=0, exit_probs=[0, 1, 0, 0, 0], exit_loss_weights=weights)
        model.train()
        torch.manual_seed(7)  # Mask2Former samples points at random
        losses[weights] = model.loss(inputs, clone(samples))
    assert float(losses['linear']['exit_layers']) == 3.0
    for name, value in losses['none'].items():
        if 'loss' in name:
            torch.testing.assert_close(losses['linear'][name], value * 3)
    sum(v for k, v in losses['linear'].items() if 'loss' in k).backward()
    layers = model.pixel_decoder.encoder.layers
    trained = [any(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())
               for layer in layers]
    assert trained == [True] * 3 + [False] * 3


def test_gate_step_trains_only_the_gate_on_file_name_keys(tmp_path):
    from mmeffseg.models.gates import write_quality_table
    path = str(tmp_path / 'table.json')
    write_quality_table(path, {'a': [0.1, 0.2, 0.3, 0.4, 0.5], 'b': [0.5, 0.5, 0.5, 0.5, 0.5]},
                        EXITS)
    model = build_tiny_seg(seed=0, train_mode='gate', quality_table=path)
    model.train()
    assert not model.backbone.training and model.gate.training
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all('.gate.' in n for n in trainable)
    inputs, samples = tiny_seg_batch(2, names=['a', 'b'])
    out = model.loss(inputs, samples)
    assert set(out) == {'loss_gate', 'gate_acc'}
    out['loss_gate'].backward()
    assert model.gate.fc.weight.grad is not None
    inputs, samples = tiny_seg_batch(1, names=['c'])
    with pytest.raises(ValueError, match='misses image c'):
        model.loss(inputs, samples)


def test_predict_at_exits_matches_forced_exits():
    model = build_tiny_seg(seed=1)
    inputs, samples = tiny_seg_batch(1)
    with torch.no_grad():
        multi = model.predict_at_exits(inputs, samples[0])
        assert [r.metainfo['exit_layers'] for r in multi] == list(EXITS)
        for k, pred in zip(EXITS, multi):
            with model.forced_exits(k):
                single = model.predict(inputs, clone(samples))
            torch.testing.assert_close(single[0].seg_logits.data, pred.seg_logits.data,
                                       atol=1e-5, rtol=0)


def test_needs_the_efficient_pixel_decoder():
    from mmseg.registry import MODELS

    from mmeffseg.testing.tiny_eco_m2f_segmentor import tiny_seg_model_cfg
    build_tiny_seg()  # sets mmseg's default scope
    cfg = tiny_seg_model_cfg(gate=False)
    cfg.decode_head.pixel_decoder.type = 'mmdet.MSDeformAttnPixelDecoder'
    with pytest.raises(ValueError, match='ScheduledDeformableEncoder'):
        MODELS.build(cfg)


def test_tensor_forward_runs_the_test_cfg_exit():
    """The network forward (FLOP tools) honours test_cfg.exit_layers, with or without samples."""
    model = build_tiny_seg(seed=0, test_cfg=dict(mode='whole', exit_layers=3))
    inputs, samples = tiny_seg_batch(2)
    with torch.no_grad():
        cls_scores, mask_preds = model._forward(inputs, clone(samples))
        assert model.exit_encoder.last_exits.tolist() == [3, 3]
        no_samples = model._forward(inputs)
    assert len(cls_scores) == len(no_samples[0])  # one output per transformer-decoder layer
    torch.testing.assert_close(mask_preds[-1], no_samples[1][-1])
