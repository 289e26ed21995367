"""The group-wise FPN step + LPE equals the module path (lateral conv, upsample, add, LPE)."""
import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.config import ConfigDict

import mmeffseg.models.pixel_decoders.efficient_pixel_decoder as decoder_module
from mmeffseg.models.pixel_decoders import EfficientMSDeformAttnPixelDecoder, LightPixelEmbedding
from mmeffseg.models.pixel_decoders.group_wise_fpn_step import (group_wise_fpn_step,
                                                                group_wise_fpn_step_supported,
                                                                groups_per_step)
from mmeffseg.testing.tiny_pixel_decoder import randomize_, tiny_feats, tiny_pixel_decoder

GN = dict(type='GN', num_groups=8)


def _modules(in_channels=16, channels=32):
    lateral = ConvModule(in_channels, channels, 1, norm_cfg=GN, act_cfg=None)
    lpe = LightPixelEmbedding(channels, norm_cfg=GN, inplace=True)
    for m in (lateral, lpe):
        randomize_(m)
    return lateral.eval(), lpe.eval()


def _module_path(coarse, feat, lateral, lpe):
    lat = lateral(feat)
    return lpe(F.interpolate(coarse.contiguous(), size=lat.shape[-2:], mode='bilinear',
                             align_corners=False) + lat)


@pytest.mark.parametrize('threads', [1, 2, 3])
def test_equals_module_path(threads):
    # 1 thread: one group per step; 2: two groups; 3: two too (a divisor of the 8 groups).
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        assert groups_per_step(8) == {1: 1, 2: 2, 3: 2}[threads]
        _check_equals_module_path()
    finally:
        torch.set_num_threads(previous)


def _check_equals_module_path():
    lateral, lpe = _modules()
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 16, 14, 22, generator=g)
    # The encoder hands a channel-last view of its tokens as the coarse map.
    tokens = torch.randn(2, 7 * 11 + 5, 32, generator=g)
    coarse = tokens[:, 5:].transpose(1, 2).reshape(2, 32, 7, 11)
    with torch.no_grad():
        expected = _module_path(coarse, feat, lateral, lpe)
        got = group_wise_fpn_step(coarse, feat, lateral, lpe)
    assert got.shape == expected.shape == (2, 32, 14, 22)
    assert (got - expected).abs().max().item() <= 1e-6
    assert expected.std() > 0.1  # a real map, not a degenerate one


def test_supported_only_where_groups_are_self_contained():
    lateral, lpe = _modules()
    assert group_wise_fpn_step_supported(lateral, lpe)
    # The baseline's 3x3 conv output op mixes channels.
    conv_op = ConvModule(32, 32, 3, padding=1, norm_cfg=GN, act_cfg=dict(type='ReLU'))
    assert not group_wise_fpn_step_supported(lateral, conv_op)
    # Different groups in the two norms, a batch norm, an activation on the lateral.
    assert not group_wise_fpn_step_supported(
        lateral, LightPixelEmbedding(32, norm_cfg=dict(type='GN', num_groups=4)))
    assert not group_wise_fpn_step_supported(
        ConvModule(16, 32, 1, norm_cfg=dict(type='BN'), act_cfg=None), lpe)
    assert not group_wise_fpn_step_supported(
        ConvModule(16, 32, 1, norm_cfg=GN, act_cfg=dict(type='ReLU')), lpe)


def test_decoder_inference_equals_module_path(monkeypatch):
    # Built directly: the default scope may be mmseg's after other tests.
    dec = EfficientMSDeformAttnPixelDecoder(**ConfigDict(
        tiny_pixel_decoder(num_layers=3, stage_layers=(1, 1, 1), output_op='maxpool')))
    randomize_(dec)
    dec.eval()
    feats = tiny_feats()
    calls = []
    monkeypatch.setattr(decoder_module, 'group_wise_fpn_step',
                        lambda *args: calls.append(1) or group_wise_fpn_step(*args))
    with torch.no_grad():
        got_mask, _ = dec(feats)
        assert calls  # the group-wise step ran
        monkeypatch.setattr(decoder_module, 'group_wise_fpn_step_supported', lambda *a: False)
        exp_mask, _ = dec(feats)
    assert len(calls) == 1
    assert (got_mask - exp_mask).abs().max().item() <= 1e-6
