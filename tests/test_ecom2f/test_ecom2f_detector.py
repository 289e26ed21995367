import pytest
import torch

from mmeffseg.testing.tiny_eco_m2f import (EXITS, build_tiny, clone_samples, randomize_gate_,
                                           tiny_batch, tiny_mask2former_cfg)


def _pan(results):
    return [r.pred_panoptic_seg.sem_seg for r in results]


def _head_outputs(model, inputs, samples):
    feats = model.extract_feat(inputs)
    return model.panoptic_head.predict(feats, samples)


def test_forced_exit_6_reproduces_mask2former():
    base = build_tiny(seed=3, ecom2f=False)
    eco = build_tiny(seed=5, test_cfg=dict(tiny_mask2former_cfg()['test_cfg'], exit_layers=6))
    missing, unexpected = eco.load_state_dict(base.state_dict(), strict=False)
    assert all('.gate.' in k for k in missing) and missing and not unexpected
    inputs, samples = tiny_batch(2, with_gt=False)
    with torch.no_grad():
        cls_b, mask_b = _head_outputs(base, inputs, clone_samples(samples))
        out_b = base.predict(inputs, clone_samples(samples))
        with eco.exit_encoder.exit_setting(forced_exit=6):
            cls_e, mask_e = _head_outputs(eco, inputs, clone_samples(samples))
        out_e = eco.predict(inputs, clone_samples(samples))
    assert (cls_b - cls_e).abs().max() <= 1e-5
    assert (mask_b - mask_e).abs().max() <= 1e-5
    for a, b in zip(_pan(out_b), _pan(out_e)):
        assert torch.equal(a, b)
    assert [r.metainfo['exit_layers'] for r in out_e] == [6, 6]
    # A shallower exit changes the outputs (the check above can fail).
    with torch.no_grad(), eco.exit_encoder.exit_setting(forced_exit=2):
        _, mask_2 = _head_outputs(eco, inputs, clone_samples(samples))
    assert (mask_2 - mask_b).abs().max() > 1e-3


def test_gate_picks_per_image_exits_and_batch_matches_single():
    model = build_tiny(seed=0)
    inputs, samples = tiny_batch(6, with_gt=False, seed=4)
    randomize_gate_(model, inputs, seed=2)
    with torch.no_grad():
        batch = model.predict(inputs, clone_samples(samples))
        exits = [r.metainfo['exit_layers'] for r in batch]
        assert all(e in EXITS for e in exits)
        assert len(set(exits)) > 1, exits  # the gate gives different images different exits
        for i in range(6):
            single = model.predict(inputs[i:i + 1], clone_samples(samples[i:i + 1]))
            assert single[0].metainfo['exit_layers'] == exits[i]
            assert torch.equal(_pan(single)[0], _pan(batch)[i])


def test_test_cfg_and_forced_exits():
    cfg_test = dict(tiny_mask2former_cfg()['test_cfg'], exit_layers=3)
    model = build_tiny(seed=0, test_cfg=cfg_test)
    randomize_gate_(model)
    inputs, samples = tiny_batch(2, with_gt=False)
    with torch.no_grad():
        out = model.predict(inputs, clone_samples(samples))
        assert [r.metainfo['exit_layers'] for r in out] == [3, 3]
        with model.forced_exits([2, 5]):
            out = model.predict(inputs, clone_samples(samples))
        assert [r.metainfo['exit_layers'] for r in out] == [2, 5]
        assert model.exit_encoder.forced_exit is None  # restored


def test_predict_at_exits_matches_fixed_exit_predictions():
    model = build_tiny(seed=1)
    inputs, samples = tiny_batch(1, with_gt=False)
    with torch.no_grad():
        multi = model.predict_at_exits(inputs, samples[0])
        assert [r.metainfo['exit_layers'] for r in multi] == list(EXITS)
        for k, pred in zip(EXITS, multi):
            with model.forced_exits(k):
                single = model.predict(inputs, clone_samples(samples))
            diff = (single[0].pred_panoptic_seg.sem_seg != pred.pred_panoptic_seg.sem_seg)
            assert diff.float().mean() < 1e-3


def test_parent_loss_scaling_and_depth():
    inputs, samples = tiny_batch(2)
    losses = {}
    for weights in ('none', 'linear', [1, 1, 1, 0.5, 1]):
        model = build_tiny(seed=0, exit_probs=[0, 0, 0, 1, 0], exit_loss_weights=weights)
        model.train()
        torch.manual_seed(7)  # Mask2Former samples points at random
        losses[str(weights)] = model.loss(inputs, clone_samples(samples))
    plain, lin, half = losses['none'], losses['linear'], losses[str([1, 1, 1, 0.5, 1])]
    assert float(lin['exit_layers']) == 5.0
    for name in plain:
        if 'loss' in name:
            torch.testing.assert_close(lin[name], plain[name] * 5)
            torch.testing.assert_close(half[name], plain[name] * 0.5)
    # Only layers 1..k get gradients; the gate is unused in parent training.
    model = build_tiny(seed=0, exit_probs=[0, 1, 0, 0, 0])
    model.train()
    out = model.loss(inputs, clone_samples(samples))
    sum(v for k, v in out.items() if 'loss' in k).backward()
    layers = model.pixel_decoder.encoder.layers
    has_grad = [any(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())
                for layer in layers]
    assert has_grad == [True, True, True, False, False, False]
    assert all(p.grad is None for p in model.gate.parameters())


def test_uniform_sampling_covers_exits():
    model = build_tiny(seed=0)
    torch.manual_seed(0)
    draws = [model.sample_exit() for _ in range(300)]
    counts = [draws.count(k) for k in EXITS]
    assert all(c > 30 for c in counts), counts


def _table(tmp_path, ids, quality=None):
    from mmeffseg.models.gates import write_quality_table
    path = str(tmp_path / 'table.json')
    quality = quality or {i: [0.1 * (j + 1) * ((i % 2) or 0.1) for j in range(5)] for i in ids}
    write_quality_table(path, quality, EXITS)
    return path


def test_gate_training_freezes_all_but_gate(tmp_path):
    path = _table(tmp_path, [0, 1])
    model = build_tiny(seed=0, train_mode='gate', quality_table=path, beta=0.0)
    model.train()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all('.gate.' in n for n in trainable)
    assert not model.backbone.training and model.gate.training
    inputs, samples = tiny_batch(2, img_ids=[0, 1])
    out = model.loss(inputs, samples)
    assert set(out) == {'loss_gate', 'gate_acc'}
    out['loss_gate'].backward()
    assert model.gate.fc.weight.grad is not None
    # labels: image 1 increases with depth -> exit 6; image 0 too (beta 0)
    assert model.quality_table.labels([0, 1], 0.0).tolist() == [4, 4]
    assert model.quality_table.labels([0, 1], 0.05).tolist() == [0, 4]


def test_gate_training_missing_image(tmp_path):
    path = _table(tmp_path, [0])
    model = build_tiny(seed=0, train_mode='gate', quality_table=path)
    model.train()
    inputs, samples = tiny_batch(2, img_ids=[0, 42])
    with pytest.raises(ValueError, match=r'table\.json.*misses image 42'):
        model.loss(inputs, samples)


def test_gate_training_exit_set_mismatch(tmp_path):
    from mmeffseg.models.gates import write_quality_table
    path = str(tmp_path / 'other.json')
    write_quality_table(path, {0: [0.1, 0.2, 0.3]}, (2, 4, 6))
    model = build_tiny(seed=0, train_mode='gate', quality_table=path)
    with pytest.raises(ValueError, match=r'other\.json.*exits \[2, 4, 6\]'):
        model.quality_table


@pytest.mark.parametrize('kwargs, match', [
    (dict(exits=(2, 7)), 'beyond'),
    (dict(exit_probs=[1, 1]), 'exit_probs'),
    (dict(exit_probs=[1, -1, 1, 1, 1]), 'exit_probs'),
    (dict(exit_loss_weights='square'), 'exit_loss_weights'),
    (dict(train_mode='student'), 'train_mode'),
    (dict(beta=-0.1), 'beta'),
    (dict(train_mode='gate'), 'quality_table'),
    (dict(exits=(2, 3)), 'gate has exits'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_tiny(**kwargs)


def test_bad_test_exit_and_decoder():
    with pytest.raises(ValueError, match='exit_layers'):
        build_tiny(test_cfg=dict(tiny_mask2former_cfg()['test_cfg'], exit_layers=7))
    with pytest.raises(ValueError, match='gate'):
        build_tiny(gate=False, train_mode='gate', quality_table='x.json')
    cfg = tiny_mask2former_cfg()
    cfg['panoptic_head']['pixel_decoder']['type'] = 'MSDeformAttnPixelDecoder'
    cfg['panoptic_head']['pixel_decoder'].pop('gate')
    from mmdet.registry import MODELS
    from mmengine.config import ConfigDict
    with pytest.raises(ValueError, match='ScheduledDeformableEncoder'):
        MODELS.build(ConfigDict(cfg))


def test_no_gate_runs_all_layers():
    model = build_tiny(seed=0, gate=False)
    inputs, samples = tiny_batch(2, with_gt=False)
    with torch.no_grad():
        out = model.predict(inputs, clone_samples(samples))
    assert [r.metainfo['exit_layers'] for r in out] == [6, 6]


def test_tensor_forward_uses_test_cfg_exit():
    # FLOP/benchmark tools call _forward; it must honour test_cfg.exit_layers as predict does.
    model = build_tiny(seed=0, test_cfg=dict(tiny_mask2former_cfg()['test_cfg'], exit_layers=3))
    randomize_gate_(model)
    inputs, samples = tiny_batch(2, with_gt=False)
    with torch.no_grad():
        model._forward(inputs, samples)
        assert model.exit_encoder.last_exits.tolist() == [3, 3]
        with model.forced_exits(5):
            model._forward(inputs, samples)
        assert model.exit_encoder.last_exits.tolist() == [5, 5]
