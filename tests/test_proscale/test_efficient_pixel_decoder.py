"""EfficientMSDeformAttnPixelDecoder: baseline identity, PRO-SCALE knobs, exits, bad input."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.models.layers import MSDeformAttnPixelDecoder
from mmdet.registry import MODELS
from mmengine.config import ConfigDict

from mmeffseg.models.encoders import ScheduledDeformableEncoder
from mmeffseg.models.pixel_decoders import LightPixelEmbedding
from mmeffseg.testing.tiny_pixel_decoder import EMBED, randomize_, tiny_feats, tiny_pixel_decoder


def _build(**kwargs):
    cfg = tiny_pixel_decoder(**kwargs)
    cfg['type'] = 'EfficientMSDeformAttnPixelDecoder'
    return MODELS.build(ConfigDict(cfg))


def _max_diff(a, b):
    mask_a, feats_a = a
    mask_b, feats_b = b
    diffs = [(mask_a - mask_b).abs().max()]
    diffs += [(x - y).abs().max() for x, y in zip(feats_a, feats_b)]
    return max(d.item() for d in diffs)


@pytest.mark.parametrize('stage_layers', [None, (0, 0, 6)])
def test_baseline_identity(stage_layers):
    """(0, 0, 6), TRC off, conv output op == mmdet's pixel decoder with the same weights."""
    torch.manual_seed(0)
    ref = MSDeformAttnPixelDecoder(**ConfigDict(tiny_pixel_decoder(num_layers=6)))
    ref.init_weights()
    randomize_(ref)
    ref.eval()
    ours = _build(num_layers=6, stage_layers=stage_layers).eval()
    assert isinstance(ours.encoder, ScheduledDeformableEncoder)
    ours.load_state_dict(ref.state_dict(), strict=True)
    ref.load_state_dict(ours.state_dict(), strict=True)  # same names both ways
    feats = tiny_feats()
    with torch.no_grad():
        assert _max_diff(ours(feats), ref(feats)) <= 1e-5
    assert ours.encoder.last_exits.tolist() == [6, 6]


def test_proscale_parameter_layout():
    dec = _build(num_layers=6, stage_layers=(3, 3, 3), trc_cfg=dict(temperature=0.1),
                 output_op='maxpool')
    keys = set(dec.state_dict())
    assert dec.encoder.level_schedule == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert len(dec.encoder.layers) == 9
    assert {f'encoder.layers.{i}.self_attn.value_proj.weight' for i in range(9)} <= keys
    assert {'encoder.trc.proj.weight', 'encoder.trc.proj.bias'} <= keys
    assert 'output_convs.0.conv.weight' not in keys
    assert 'output_convs.0.gn.weight' in keys  # the norm keeps the baseline's name
    assert isinstance(dec.output_convs[0], LightPixelEmbedding)
    dec.init_weights()  # must not touch a conv LPE does not have
    # Loading a baseline checkpoint only misses the TRC gate and reports the dropped conv.
    ref = MSDeformAttnPixelDecoder(**ConfigDict(tiny_pixel_decoder(num_layers=6)))
    off = _build(num_layers=6, output_op='maxpool')
    result = off.load_state_dict(ref.state_dict(), strict=False)
    assert result.missing_keys == []
    assert result.unexpected_keys == ['output_convs.0.conv.weight']


def test_lpe_output_op():
    torch.manual_seed(0)
    dec = _build(output_op='maxpool').eval()
    randomize_(dec)
    lpe = dec.output_convs[0]
    x = torch.randn(2, 32, 16, 24)
    with torch.no_grad():
        # At inference LPE filters its input in place: hand it a copy.
        y = lpe(x.clone())
    expected = F.relu(lpe.gn(F.max_pool2d(x, 3, stride=1, padding=1)))
    assert torch.allclose(y, expected, atol=1e-6)


def test_proscale_forward_shapes_and_grad():
    dec = _build(num_layers=3, stage_layers=(1, 1, 1), trc_cfg=dict(), output_op='maxpool')
    dec.init_weights()
    feats = tiny_feats()
    mask_feature, multi_scale = dec(feats)
    assert mask_feature.shape == (2, EMBED, 16, 24)
    assert [tuple(x.shape[-2:]) for x in multi_scale] == [(2, 3), (4, 6), (8, 12)]
    (mask_feature.mean() + sum(x.mean() for x in multi_scale)).backward()
    assert dec.encoder.trc.proj.weight.grad is not None
    assert dec.encoder.layers[0].self_attn.sampling_offsets.weight.grad is not None


def test_trc_changes_output():
    torch.manual_seed(0)
    on = _build(stage_layers=(1, 1, 0), trc_cfg=dict()).eval()
    off = _build(stage_layers=(1, 1, 0)).eval()
    randomize_(on)
    off.load_state_dict(on.state_dict(), strict=False)
    feats = tiny_feats()
    with torch.no_grad():
        assert _max_diff(on(feats), off(feats)) > 1e-4


def test_encoder_runs_the_exits():
    """The pixel decoder holds no exit state; the encoder's exit setting decides and records."""
    dec = _build(num_layers=3).eval()
    assert not hasattr(dec, 'forced_exit') and not hasattr(dec, 'last_exits')
    feats = tiny_feats()
    with torch.no_grad():
        full = dec(feats)
        assert dec.encoder.last_exits.tolist() == [3, 3]
        with dec.encoder.exit_setting(forced_exit=1):
            one = dec(feats)
        assert dec.encoder.last_exits.tolist() == [1, 1]
        with dec.encoder.exit_setting(forced_exit=[3, 0]):
            mixed = dec(feats)
        assert dec.encoder.last_exits.tolist() == [3, 0]
        assert dec.encoder.forced_exit is None  # restored
    assert torch.allclose(mixed[0][0], full[0][0], atol=1e-5)
    assert not torch.allclose(one[0][0], full[0][0], atol=1e-4)
    with pytest.raises(ValueError, match=r'0\.\.3'), dec.encoder.exit_setting(forced_exit=4):
        dec(feats)


def test_gate_reads_the_encoders_coarsest_input_tokens():
    dec = _build(num_layers=3, gate=dict(exits=(1, 2, 3))).eval()
    assert dec.encoder.gate.in_channels == EMBED
    assert 'encoder.gate.fc.weight' in dec.state_dict()
    feats = tiny_feats()
    with torch.no_grad():
        dec(feats)
        coarsest = dec.input_convs[0](feats[-1]).flatten(2).transpose(1, 2)
        expected = dec.encoder.gate(coarsest)
    torch.testing.assert_close(dec.encoder.last_gate_logits, expected)
    assert dec.encoder.last_exits.tolist() == dec.encoder.gate.logits_to_exits(expected).tolist()
    # A checkpoint from when the pixel decoder held the gate still loads.
    old = {(k[len('encoder.'):] if k.startswith('encoder.gate.') else k): v
           for k, v in dec.state_dict().items()}
    assert 'gate.fc.weight' in old
    dec.load_state_dict(old, strict=True)


def test_four_encoder_levels():
    """Generalises to any number of encoder levels (here all four, no FPN step)."""
    dec = _build(num_layers=4, num_levels=4, stage_layers=(1, 1, 1, 1), trc_cfg=dict(),
                 output_op='maxpool', num_outs=3)
    assert dec.encoder.level_schedule == [1, 2, 3, 4]
    mask_feature, multi_scale = dec(tiny_feats())
    assert mask_feature.shape == (2, EMBED, 16, 24)
    assert len(multi_scale) == 3


def test_two_encoder_levels_two_fpn_levels():
    """Two encoder levels leave two FPN levels, each with its own lateral conv."""
    dec = _build(num_layers=2, num_levels=2, stage_layers=(1, 1), num_outs=2)
    mask_feature, multi_scale = dec(tiny_feats())
    assert mask_feature.shape == (2, EMBED, 16, 24)
    assert [tuple(x.shape[-2:]) for x in multi_scale] == [(2, 3), (4, 6)]


@pytest.mark.parametrize('kwargs,match', [
    (dict(stage_layers=(3, 3)), 'has 2 stages but the encoder has 3 levels'),
    (dict(stage_layers=(3, -1, 3)), 'non-negative'),
    (dict(stage_layers=(0, 0, 0)), 'no layer at all'),
    (dict(output_op='avgpool'), 'output_op'),
    (dict(trc_cfg=dict(layout='nchw')), 'layout'),
    (dict(encoder=None), 'needs an encoder config'),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _build(**kwargs)


def test_schedule_shorthand_reaches_the_encoder():
    """stage_layers / trc_cfg of the pixel decoder are the encoder's (one place, overriding)."""
    cfg = tiny_pixel_decoder()
    cfg['encoder']['stage_layers'] = (2, 2, 2)
    dec = _build(encoder=cfg['encoder'], stage_layers=(1, 1, 0), trc_cfg=dict())
    assert dec.encoder.level_schedule == [1, 2] and dec.encoder.stage_layers == (1, 1, 0)
    assert dec.encoder.trc is not None


def test_wrong_number_of_feature_maps():
    dec = _build()
    with pytest.raises(ValueError, match='4 input levels'):
        dec(tiny_feats()[1:])
