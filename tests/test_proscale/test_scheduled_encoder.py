"""ScheduledDeformableEncoder: level schedule, TRC hook, per-image exits, baseline identity."""
import pytest
import torch
from mmdet.models.layers.transformer import Mask2FormerTransformerEncoder

from mmeffseg.models.encoders import ScheduledDeformableEncoder, level_schedule_from_stages
from mmeffseg.testing.tiny_pixel_decoder import (EMBED, coarsest_inputs, encoder_inputs,
                                                 randomize_, tiny_encoder)


@pytest.mark.parametrize('stages,expected', [
    ((3, 3, 3), [1, 1, 1, 2, 2, 2, 3, 3, 3]),
    ((0, 0, 6), [3] * 6),
    ((1, 0, 2), [1, 3, 3]),
    ((2, 1), [1, 1, 2]),
    ((1, 1, 1, 1), [1, 2, 3, 4]),
])
def test_level_schedule_from_stages(stages, expected):
    assert level_schedule_from_stages(stages, len(stages)) == expected


@pytest.mark.parametrize('stages,match', [
    ((3, 3), 'has 2 stages but the encoder has 3 levels'),
    ((3, -1, 3), 'non-negative'),
    ((0, 0, 0), 'no layer at all'),
    ((1.5, 1, 1), 'non-negative integer'),
    ('333', 'list/tuple'),
])
def test_level_schedule_bad_input(stages, match):
    with pytest.raises(ValueError, match=match):
        level_schedule_from_stages(stages, 3)


def test_layers_are_sized_for_their_levels():
    enc = ScheduledDeformableEncoder(level_schedule=[1, 2, 3], **tiny_encoder(3))
    heads, points = 4, 2
    for layer, levels in zip(enc.layers, [1, 2, 3]):
        attn = layer.self_attn
        assert attn.num_levels == levels
        assert attn.sampling_offsets.out_features == heads * levels * points * 2
        assert attn.attention_weights.out_features == heads * levels * points
    assert enc.trc is None
    assert not any(k.startswith('trc') for k in enc.state_dict())


@pytest.mark.parametrize('schedule,match', [
    ([1, 2], 'has 2 entries but num_layers=3'),
    ([0, 1, 2], r'1\.\.3'),
    ([1, 2, 4], r'1\.\.3'),
])
def test_bad_schedule(schedule, match):
    with pytest.raises(ValueError, match=match):
        ScheduledDeformableEncoder(level_schedule=schedule, **tiny_encoder(3))


def test_wrong_number_of_levels_at_forward():
    enc = ScheduledDeformableEncoder(**tiny_encoder(1, num_levels=2))
    with pytest.raises(ValueError, match='built for 2 levels'):
        enc(**encoder_inputs())


def test_baseline_identity_with_mmdet_encoder():
    """No schedule: same parameter names and outputs as mmdet's Mask2Former encoder."""
    torch.manual_seed(0)
    ref = Mask2FormerTransformerEncoder(**tiny_encoder(3)).eval()
    randomize_(ref)
    enc = ScheduledDeformableEncoder(**tiny_encoder(3)).eval()
    enc.load_state_dict(ref.state_dict(), strict=True)
    ref.load_state_dict(enc.state_dict(), strict=True)
    inputs = encoder_inputs()
    with torch.no_grad():
        expected = ref(**inputs)
        got = enc(**inputs)
    assert (got - expected).abs().max().item() <= 1e-5
    # Same holds with Deformable DETR's own reference points (computed when none are given).
    inputs.pop('reference_points')
    with torch.no_grad():
        got2 = enc(**inputs)
    assert (got2 - expected).abs().max().item() <= 1e-5


@pytest.mark.parametrize('schedule', [[1, 2, 3], [1, 1, 2, 2, 3], [3, 1, 2], [2, 3, 1, 1]])
def test_stages_match_single_level_encoders(schedule):
    """Layer with schedule s == an mmdet encoder built for s levels fed only those levels
    (also for schedules that shrink, which the encoder allows)."""
    enc = ScheduledDeformableEncoder(level_schedule=schedule, **tiny_encoder(len(schedule)))
    enc.eval()
    randomize_(enc)
    inputs = encoder_inputs()
    query = inputs['query']
    lengths = [6, 6 + 24, 6 + 24 + 96]
    for i, s in enumerate(schedule):
        oracle = Mask2FormerTransformerEncoder(**tiny_encoder(1, num_levels=s)).eval()
        oracle.layers[0].load_state_dict(enc.layers[i].state_dict(), strict=True)
        sub = coarsest_inputs(dict(inputs, query=query), s)
        with torch.no_grad():
            head = oracle(**sub)
        query = torch.cat([head, query[:, lengths[s - 1]:]], dim=1)
    with torch.no_grad():
        got = enc(**inputs)
    assert (got - query).abs().max().item() <= 1e-5


def test_unvisited_levels_keep_their_input():
    enc = ScheduledDeformableEncoder(level_schedule=[1, 1], **tiny_encoder(2)).eval()
    randomize_(enc)
    inputs = encoder_inputs()
    with torch.no_grad():
        out = enc(**inputs)
    assert torch.equal(out[:, 6:], inputs['query'][:, 6:])
    assert not torch.allclose(out[:, :6], inputs['query'][:, :6])


@pytest.mark.parametrize('schedule', [None, [1, 2, 3]])
def test_per_image_exits(schedule):
    enc = ScheduledDeformableEncoder(level_schedule=schedule, **tiny_encoder(3)).eval()
    randomize_(enc)
    inputs = encoder_inputs(batch_size=3)
    exits = torch.tensor([0, 2, 3])
    with torch.no_grad():
        got = enc(**inputs, num_layers_per_image=exits)
        full = enc(**inputs)
    assert torch.equal(got[0], inputs['query'][0])  # exit 0: nothing runs
    assert (got[2] - full[2]).abs().max().item() <= 1e-5
    # Exit 2 == an encoder holding only the first two layers.
    short = ScheduledDeformableEncoder(
        level_schedule=None if schedule is None else schedule[:2], **tiny_encoder(2)).eval()
    short.load_state_dict(enc.state_dict(), strict=False)
    with torch.no_grad():
        expected = short(**inputs)
    assert (got[1] - expected[1]).abs().max().item() <= 1e-5
    assert (got[1] - full[1]).abs().max().item() > 1e-4


def test_exits_keep_gradients_and_skip_work():
    enc = ScheduledDeformableEncoder(level_schedule=[1, 2, 3], **tiny_encoder(3))
    randomize_(enc)
    inputs = encoder_inputs(batch_size=2)
    calls = []
    hook = enc.layers[2].register_forward_hook(
        lambda m, args, kwargs_out=None: calls.append(1))
    out = enc(**inputs, num_layers_per_image=torch.tensor([2, 2]))
    hook.remove()
    assert calls == []  # no image reached layer 3: it never ran
    out.sum().backward()
    assert enc.layers[0].self_attn.value_proj.weight.grad is not None
    assert enc.layers[2].self_attn.value_proj.weight.grad is None


def test_exit_shape_checked():
    enc = ScheduledDeformableEncoder(**tiny_encoder(2))
    with pytest.raises(ValueError, match='one layer count per image'):
        enc(**encoder_inputs(batch_size=2), num_layers_per_image=torch.tensor([1, 2, 2]))


def test_trc_in_encoder():
    enc = ScheduledDeformableEncoder(
        level_schedule=[1, 2, 3], trc_cfg=dict(temperature=0.1), **tiny_encoder(3))
    assert sorted(k for k in enc.state_dict() if k.startswith('trc')) == [
        'trc.proj.bias', 'trc.proj.weight'
    ]
    assert enc.trc.embed_dims == EMBED
