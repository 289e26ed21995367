"""PRO-SCALE's pixel decoder == a plain composition of mmdet's pieces with the same weights.

The reference is mmdet's ``MSDeformAttnPixelDecoder`` whose encoder is replaced by the method
written as plainly as it reads (TRC as "resize the C-channel map, Linear(C, 1), sigmoid", then
every layer on the first ``s`` levels followed by a full concatenation) and whose FPN output op
is PyTorch's max-pool + norm + act. It pins the outputs of the optimised code paths (fewer
copies, separable max filter, projected TRC) so that speed work cannot change them.
"""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.layers import MSDeformAttnPixelDecoder
from mmdet.registry import MODELS
from mmengine.config import ConfigDict

from mmeffseg.testing.tiny_pixel_decoder import randomize_, tiny_feats, tiny_pixel_decoder


class _PlainScheduledEncoder(nn.Module):
    """The schedule and TRC without any of the optimised code's shortcuts."""

    def __init__(self, layers, level_schedule, trc_proj=None, temperature=0.1):
        super().__init__()
        self.layers = layers
        self.level_schedule = level_schedule
        self.trc_proj = trc_proj
        self.temperature = temperature

    def _trc(self, query, shapes, starts):
        b, _, c = query.shape
        (hs, ws), s0 = shapes[-1], starts[-1]
        src = query[:, s0:].transpose(1, 2).reshape(b, c, hs, ws)
        parts = []
        for (h, w), start in zip(shapes[:-1], starts[:-1]):
            resized = F.interpolate(src, size=(h, w), mode='bilinear', align_corners=False)
            flat = resized.flatten(2).transpose(1, 2)
            gate = torch.sigmoid(self.temperature * self.trc_proj(flat))
            parts.append(query[:, start:start + h * w] * gate)
        return torch.cat(parts + [query[:, s0:]], dim=1)

    def forward(self, query, query_pos, key_padding_mask, spatial_shapes, level_start_index,
                valid_ratios, reference_points, **kwargs):
        shapes = spatial_shapes.tolist()
        starts = level_start_index.tolist()
        if self.trc_proj is not None:
            query = self._trc(query, shapes, starts)
        ends = starts[1:] + [query.shape[1]]
        for layer, s in zip(self.layers, self.level_schedule):
            n = ends[s - 1]
            head = layer(query=query[:, :n], query_pos=query_pos[:, :n],
                         key_padding_mask=None, spatial_shapes=spatial_shapes[:s],
                         level_start_index=level_start_index[:s],
                         valid_ratios=valid_ratios[:, :s],
                         reference_points=reference_points[:, :n, :s])
            query = torch.cat([head, query[:, n:]], dim=1)
        return query


class _PlainLPE(nn.Module):

    def __init__(self, norm):
        super().__init__()
        self.norm = norm

    def forward(self, x):
        return F.relu(self.norm(F.max_pool2d(x, 3, stride=1, padding=1)))


def _proscale_and_reference(stage_layers, trc):
    cfg = tiny_pixel_decoder(num_layers=sum(stage_layers), stage_layers=stage_layers,
                             trc_cfg=dict(temperature=0.1) if trc else None,
                             output_op='maxpool')
    cfg['type'] = 'EfficientMSDeformAttnPixelDecoder'
    ours = MODELS.build(ConfigDict(cfg))
    ours.init_weights()
    randomize_(ours)
    ours.eval()
    ref = MSDeformAttnPixelDecoder(**ConfigDict(tiny_pixel_decoder(num_layers=1)))
    state = {k: v for k, v in ours.state_dict().items() if not k.startswith('encoder.')}
    missing = ref.load_state_dict(state, strict=False).missing_keys
    assert all(k.startswith('encoder.') or k.startswith('output_convs.0.conv') for k in missing)
    ref.encoder = _PlainScheduledEncoder(ours.encoder.layers, ours.encoder.level_schedule,
                                         ours.encoder.trc.proj if trc else None)
    ref.output_convs[0] = _PlainLPE(ours.output_convs[0].gn)
    return ours, ref.eval()


@pytest.mark.parametrize('stage_layers,trc', [((3, 3, 3), True), ((1, 2, 0), True),
                                              ((2, 0, 1), False)])
@pytest.mark.parametrize('hw', [(64, 96), (96, 64)])
def test_proscale_equals_plain_composition(stage_layers, trc, hw):
    ours, ref = _proscale_and_reference(stage_layers, trc)
    feats = tiny_feats(batch_size=2, hw=hw)
    with torch.no_grad():
        got_mask, got_feats = ours(feats)
        exp_mask, exp_feats = ref(feats)
        # Twice: per-shape caches must not change a second forward.
        again_mask, _ = ours(feats)
    assert (got_mask - exp_mask).abs().max().item() <= 1e-5
    for got, exp in zip(got_feats, exp_feats):
        assert got.shape == exp.shape
        assert (got - exp).abs().max().item() <= 1e-5
    assert torch.equal(again_mask, got_mask)


def test_proscale_equals_plain_composition_with_grad():
    """Training takes the autograd-safe paths; same values and gradients reach the weights."""
    ours, ref = _proscale_and_reference((1, 1, 1), True)
    feats = tiny_feats(batch_size=2)
    got_mask, got_feats = ours(feats)
    exp_mask, exp_feats = ref(feats)
    assert (got_mask - exp_mask).abs().max().item() <= 1e-5
    (got_mask.square().mean() + sum(x.mean() for x in got_feats)).backward()
    # The reference shares the encoder's layers and TRC (the rest are copies).
    shared = list(ours.encoder.parameters())
    grads = [p.grad.clone() for p in shared]
    ours.zero_grad()
    (exp_mask.square().mean() + sum(x.mean() for x in exp_feats)).backward()
    for g, p in zip(grads, shared):
        assert p.grad is not None
        assert (g - p.grad).abs().max().item() <= 1e-4
