"""Converting a baseline Mask2Former pixel decoder's weights into a PRO-SCALE one: the layer map,
a strict load (only TRC new), full-level layers == their baseline layers, cut layers == the
baseline layer with the other levels' attention logits at -inf, and clear errors."""
import copy

import pytest
import torch
import torch.nn as nn
from mmdet.models.layers import MSDeformAttnPixelDecoder
from mmdet.registry import MODELS
from mmengine.config import ConfigDict

from mmeffseg.models.pixel_decoders import (baseline_layer_map, convert_baseline_to_proscale,
                                            new_module_prefixes)
from mmeffseg.testing.tiny_pixel_decoder import (coarsest_inputs, encoder_inputs, randomize_,
                                                 tiny_feats, tiny_pixel_decoder)
from mmeffseg.utils import check_checkpoint_fits

HEADS, LEVELS, POINTS = 4, 3, 2  # tiny_encoder's attention
PREFIX = 'decode_head.pixel_decoder.'


class _Host(nn.Module):
    """The pixel decoder where mmseg's Mask2Former holds it (decode_head.pixel_decoder)."""

    def __init__(self, pixel_decoder: nn.Module):
        super().__init__()
        self.decode_head = nn.Module()
        self.decode_head.pixel_decoder = pixel_decoder


def _baseline(num_layers: int = 6, num_levels: int = LEVELS, seed: int = 0) -> _Host:
    torch.manual_seed(seed)
    dec = MSDeformAttnPixelDecoder(**ConfigDict(tiny_pixel_decoder(num_layers, num_levels)))
    randomize_(dec, seed=seed)
    return _Host(dec).eval()


def _proscale(stage_layers=(3, 3, 3), trc=True, output_op='maxpool') -> _Host:
    cfg = tiny_pixel_decoder(
        stage_layers=stage_layers, output_op=output_op,
        trc_cfg=dict(temperature=0.1) if trc else None)
    cfg['type'] = 'EfficientMSDeformAttnPixelDecoder'
    return _Host(MODELS.build(ConfigDict(cfg))).eval()


def _layer_out(layer, inputs):
    with torch.no_grad():
        return layer(**inputs)


def test_layer_map():
    # (3, 3, 3) from 6 layers: stages 1 and 2 replay baseline layers 1-3, stage 3 takes 4-6.
    assert baseline_layer_map([1, 1, 1, 2, 2, 2, 3, 3, 3], 3, 6) == [0, 1, 2, 0, 1, 2, 3, 4, 5]
    assert baseline_layer_map([3] * 6, 3, 6) == list(range(6))  # the baseline: itself
    # Stages longer than the baseline clamp at its last / first layer.
    assert baseline_layer_map([1] * 8 + [3], 3, 6) == [0, 1, 2, 3, 4, 5, 5, 5, 5]
    assert baseline_layer_map([3] * 8, 3, 6) == [0, 0, 0, 1, 2, 3, 4, 5]


def test_converted_state_loads_strictly_except_trc(tmp_path):
    baseline, target = _baseline(), _proscale()
    state, info = convert_baseline_to_proscale(baseline.state_dict(), target)
    result = target.load_state_dict(state, strict=False)
    trc = PREFIX + 'encoder.trc.'
    assert result.unexpected_keys == []
    assert result.missing_keys and all(k.startswith(trc) for k in result.missing_keys)
    assert new_module_prefixes(target) == [trc]
    assert info[PREFIX + 'encoder.']['dropped'] == [PREFIX + 'output_convs.0.conv.weight']
    # The start-checkpoint gate: no mismatch or unexpected allowance, only TRC missing.
    path = str(tmp_path / 'converted.pth')
    torch.save(dict(state_dict=state), path)
    check_checkpoint_fits(target, path, allow_missing=[trc])
    with pytest.raises(ValueError, match='trc'):
        check_checkpoint_fits(target, path)


def test_full_schedule_is_the_baseline():
    """(0, 0, 6), conv output op, no TRC: the converted model is the baseline, output for
    output."""
    baseline = _baseline()
    target = _proscale((0, 0, 6), trc=False, output_op='conv')
    state, _ = convert_baseline_to_proscale(baseline.state_dict(), target)
    target.load_state_dict(state, strict=True)
    feats = tiny_feats()
    with torch.no_grad():
        mask_a, outs_a = baseline.decode_head.pixel_decoder(feats)
        mask_b, outs_b = target.decode_head.pixel_decoder(feats)
    assert torch.equal(mask_a, mask_b)
    assert all(torch.equal(a, b) for a, b in zip(outs_a, outs_b))


def test_layers_that_see_all_levels_equal_their_baseline_layers():
    baseline, target = _baseline(), _proscale()
    state, info = convert_baseline_to_proscale(baseline.state_dict(), target)
    target.load_state_dict(state, strict=False)
    inputs = encoder_inputs()
    base_layers = baseline.decode_head.pixel_decoder.encoder.layers
    layers = target.decode_head.pixel_decoder.encoder.layers
    layer_map = info[PREFIX + 'encoder.']['layer_map']
    for i in (6, 7, 8):
        ours, theirs = _layer_out(layers[i], inputs), _layer_out(base_layers[layer_map[i]], inputs)
        assert torch.equal(ours, theirs)
        # ... and not the output of another baseline layer.
        assert not torch.allclose(ours, _layer_out(base_layers[0], inputs), atol=1e-3)


def _with_levels_masked(layer: nn.Module, keep: int) -> nn.Module:
    """A copy of a baseline layer whose attention logits of the levels after the ``keep``
    coarsest are -inf (zero weight, -inf bias): they get no attention after the softmax."""
    masked = copy.deepcopy(layer)
    proj = masked.self_attn.attention_weights
    with torch.no_grad():
        proj.weight.view(HEADS, LEVELS, POINTS, -1)[:, keep:] = 0
        proj.bias.view(HEADS, LEVELS, POINTS)[:, keep:] = float('-inf')
    return masked


@pytest.mark.parametrize('layer_index,keep', [(1, 1), (4, 2)])
def test_cut_layer_is_the_baseline_layer_attending_only_to_its_levels(layer_index, keep):
    baseline, target = _baseline(), _proscale()
    state, info = convert_baseline_to_proscale(baseline.state_dict(), target)
    target.load_state_dict(state, strict=False)
    source = baseline.decode_head.pixel_decoder.encoder.layers[
        info[PREFIX + 'encoder.']['layer_map'][layer_index]]
    layer = target.decode_head.pixel_decoder.encoder.layers[layer_index]
    assert layer.self_attn.num_levels == keep
    inputs = encoder_inputs()
    sub = coarsest_inputs(inputs, keep)
    length = sub['query'].shape[1]
    ours = _layer_out(layer, sub)
    expected = _layer_out(_with_levels_masked(source, keep), inputs)[:, :length]
    assert torch.allclose(ours, expected, atol=1e-5)
    # The masking matters: the unmasked baseline layer attends to the finer levels too.
    assert not torch.allclose(ours, _layer_out(source, inputs)[:, :length], atol=1e-3)


def test_not_a_proscale_model():
    with pytest.raises(ValueError, match='no ScheduledDeformableEncoder'):
        convert_baseline_to_proscale(_baseline().state_dict(), _baseline(seed=1))


def test_checkpoint_with_other_levels():
    # A 2-level baseline encoder cannot feed a 3-level PRO-SCALE encoder.
    with pytest.raises(ValueError, match='3 levels'):
        convert_baseline_to_proscale(_baseline(num_levels=2).state_dict(), _proscale())


def test_checkpoint_of_another_model():
    state = _baseline().state_dict()
    state['decode_head.extra.weight'] = torch.zeros(2)
    with pytest.raises(ValueError, match='decode_head.extra.weight'):
        convert_baseline_to_proscale(state, _proscale())
    state = _baseline().state_dict()
    del state[PREFIX + 'encoder.layers.0.ffn.layers.1.weight']
    state[PREFIX + 'input_convs.0.conv.weight'] = torch.zeros(3, 3)
    with pytest.raises(ValueError, match='input_convs.0.conv.weight has shape'):
        convert_baseline_to_proscale(state, _proscale())
