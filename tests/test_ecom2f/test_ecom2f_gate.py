import pytest
import torch

from mmeffseg.models.gates import TokenMeanExitGate
from mmeffseg.registry import build_gate


def test_gate_logits_exits_and_zero_bias():
    gate = build_gate(dict(type='TokenMeanExitGate', in_channels=16))
    assert gate.exits == (2, 3, 4, 5, 6)
    assert torch.equal(gate.fc.bias, torch.zeros(5))
    tokens = torch.randn(3, 12, 16)
    logits = gate(tokens)
    assert logits.shape == (3, 5)
    # The gate only sees the token mean: permuting tokens changes nothing.
    torch.testing.assert_close(gate(tokens[:, torch.randperm(12)]), logits)
    exits = gate.logits_to_exits(torch.tensor([[0., 9, 0, 0, 0], [0, 0, 0, 0, 1]]))
    assert exits.tolist() == [3, 6]
    gate.init_weights()
    assert torch.equal(gate.fc.bias, torch.zeros(5))


def test_gate_loss_trains_towards_labels():
    torch.manual_seed(0)
    gate = TokenMeanExitGate(8, exits=(1, 2))
    tokens = torch.randn(16, 4, 8)
    labels = (tokens.mean(1)[:, 0] > 0).long()
    opt = torch.optim.SGD(gate.parameters(), lr=1.0)
    first = None
    for _ in range(50):
        loss = gate.loss(gate(tokens), labels)
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first


@pytest.mark.parametrize('kwargs', [
    dict(in_channels=0), dict(in_channels=8, exits=()), dict(in_channels=8, exits=(3, 2)),
    dict(in_channels=8, exits=(0, 1)), dict(in_channels=8, exits=(2, 2.5))])
def test_gate_bad_config(kwargs):
    with pytest.raises(ValueError):
        TokenMeanExitGate(**kwargs)


def test_gate_bad_tokens():
    gate = TokenMeanExitGate(8)
    with pytest.raises(ValueError, match='expects tokens'):
        gate(torch.randn(2, 8))
    with pytest.raises(ValueError, match='expects tokens'):
        gate(torch.randn(2, 3, 4))


def _pad_tokens(tokens, hw, padded_hw, value=5.0):
    """(1, h*w, C) tokens of one image -> (1, H*W, C) inside a bottom/right-padded grid."""
    (h, w), (H, W) = hw, padded_hw
    grid = torch.full((1, H, W, tokens.shape[-1]), value)
    grid[:, :h, :w] = tokens.reshape(1, h, w, -1)
    return grid.reshape(1, H * W, -1)


def test_gate_logits_are_padding_invariant():
    """An image's logits are the same alone and in a padded batch next to a larger image."""
    torch.manual_seed(0)
    gate = TokenMeanExitGate(16)
    alone = torch.randn(1, 2 * 3, 16) + 1.0
    other = torch.randn(1, 4 * 5, 16)
    batch = torch.cat([_pad_tokens(alone, (2, 3), (4, 5)), other])
    mask = torch.zeros(2, 4, 5, dtype=torch.bool)
    mask[0, :2, :3] = True
    mask[1] = True
    logits_alone = gate(alone)
    logits_batch = gate(batch, mask.flatten(1))
    assert (logits_batch[0] - logits_alone[0]).abs().max() <= 1e-5
    assert (logits_batch[1] - gate(other)[0]).abs().max() <= 1e-5
    # Pooling over the padding as well (no mask) would change the decision input.
    assert (gate(batch)[0] - logits_alone[0]).abs().max() > 1e-2


def test_encoder_gate_pools_only_valid_tokens_from_valid_ratios():
    """The encoder turns the host's valid ratios into the gate's token mask."""
    from mmeffseg.models.encoders import ScheduledDeformableEncoder
    EMBED = 16
    torch.manual_seed(0)
    layer = dict(self_attn_cfg=dict(embed_dims=EMBED, num_heads=2, num_levels=3, num_points=1,
                                    batch_first=True),
                 ffn_cfg=dict(embed_dims=EMBED, feedforward_channels=32))
    enc = ScheduledDeformableEncoder(num_layers=2, layer_cfg=layer, gate=dict(exits=(1, 2)))
    enc.eval()
    # Coarsest level 4 x 6 tokens; image 0 covers 3 x 4 of them (e.g. 96 x 128 pixels of a
    # 128 x 192 batch at stride 32), image 1 all.
    spatial_shapes = torch.tensor([[4, 6], [8, 12], [16, 24]])
    num_tokens = int(spatial_shapes.prod(1).sum())
    inputs = dict(
        query=torch.randn(2, num_tokens, EMBED), query_pos=torch.randn(2, num_tokens, EMBED),
        key_padding_mask=None, spatial_shapes=spatial_shapes,
        level_start_index=torch.tensor([0, 24, 120]), valid_ratios=torch.ones(2, 3, 2),
        reference_points=torch.rand(2, num_tokens, 3, 2))
    alone = inputs['query'][:1, :24].reshape(1, 4, 6, EMBED)[:, :3, :4].reshape(1, 12, EMBED)
    ratios = torch.tensor([[4 / 6, 3 / 4], [1.0, 1.0]])
    with torch.no_grad(), enc.exit_setting(valid_ratios=ratios):
        enc(**inputs)
        padded_logits = enc.last_gate_logits
    assert (padded_logits[0] - enc.gate(alone)[0]).abs().max() <= 1e-5
    assert (padded_logits[1] - enc.gate(inputs['query'][1:, :24])[0]).abs().max() <= 1e-5
    mask = enc.coarsest_valid_mask(inputs['spatial_shapes'], valid_ratios=ratios)
    assert mask.sum(1).tolist() == [12, 24]


def test_host_valid_ratios_from_img_shape():
    from mmdet.structures import DetDataSample
    from mmeffseg.models.eco_m2f_steps import valid_ratios_from_samples
    samples = [DetDataSample(metainfo=dict(img_shape=(64, 64))),
               DetDataSample(metainfo=dict(img_shape=(64, 96)))]
    ratios = valid_ratios_from_samples(torch.zeros(2, 3, 64, 96), samples)
    torch.testing.assert_close(ratios, torch.tensor([[64 / 96, 1.0], [1.0, 1.0]]))


def test_gate_check_config_owns_the_range_check():
    gate = TokenMeanExitGate(8, exits=(2, 4, 7))
    gate.check_config(7)
    with pytest.raises(ValueError, match=r'\[7\].*go beyond 1\.\.6'):
        gate.check_config(6)
