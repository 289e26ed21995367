"""The gather core of deformable attention equals mmcv's CPU core, and the switch is scoped."""
import pytest
import torch
from mmcv.ops import MultiScaleDeformableAttention
from mmcv.ops import multi_scale_deform_attn as msda_mod

from mmeffseg.analysis import count_macs
from mmeffseg.ops import (cpu_deform_attn, get_cpu_deform_attn,
                          multi_scale_deformable_attn_gather, set_cpu_deform_attn)

MMCV_CORE = msda_mod.multi_scale_deformable_attn_pytorch


def _inputs(bs=2, shapes=((5, 7), (3, 4), (1, 2)), heads=4, head_dims=8, points=3,
            queries=11, seed=0, spread=1.6):
    g = torch.Generator().manual_seed(seed)
    spatial = torch.tensor(shapes, dtype=torch.long)
    keys = int(spatial.prod(1).sum())
    value = torch.randn(bs, keys, heads, head_dims, generator=g)
    # Locations spread beyond [0, 1] so that zero padding and every border are exercised.
    loc = torch.rand(bs, queries, heads, len(shapes), points, 2, generator=g) * spread - (
        spread - 1) / 2
    loc[0, 0, 0, 0, 0] = torch.tensor([0.0, 1.0])  # exact image borders
    loc[0, -1, 0, 0, -1] = torch.tensor([1.0, 0.0])
    attn = torch.rand(bs, queries, heads, len(shapes), points, generator=g)
    attn = (attn.flatten(-2).softmax(-1)).view_as(attn)
    return value, spatial, loc, attn


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(bs=1, shapes=((4, 4), ), points=1, queries=2),
    dict(bs=3, shapes=((2, 9), (6, 1), (3, 3), (1, 1)), heads=2, head_dims=5, points=4),
    dict(spread=4.0),  # most points fall outside the maps
])
def test_forward_equals_mmcv(kwargs):
    value, spatial, loc, attn = _inputs(**kwargs)
    ref = MMCV_CORE(value, spatial, loc, attn)
    out = multi_scale_deformable_attn_gather(value, spatial, loc, attn)
    assert out.shape == ref.shape
    assert (out - ref).abs().max().item() <= 1e-5
    assert ref.abs().max().item() > 0.1  # a real comparison, not zeros against zeros


def test_wide_index_paths_equal_mmcv(monkeypatch):
    """The int64 indices (tables past int32's rows) and the float64 pixel index (maps past
    float32's exact integers) give the same result; forced here on small maps."""
    from mmeffseg.ops import ms_deform_attn_gather as core_mod
    value, spatial, loc, attn = _inputs(spread=2.0)
    ref = MMCV_CORE(value, spatial, loc, attn)
    monkeypatch.setattr(core_mod, '_INT32_ROWS', 0)
    monkeypatch.setattr(core_mod, '_FLOAT32_EXACT', 1)
    out = multi_scale_deformable_attn_gather(value, spatial, loc, attn)
    assert (out - ref).abs().max().item() <= 1e-5
    assert ref.abs().max().item() > 0.1


def test_backward_equals_mmcv():
    grads = []
    for core in (MMCV_CORE, multi_scale_deformable_attn_gather):
        value, spatial, loc, attn = _inputs(seed=1)
        tensors = [t.requires_grad_() for t in (value, loc, attn)]
        (core(value, spatial, loc, attn) ** 2).sum().backward()
        grads.append([t.grad for t in tensors])
    for ref, ours in zip(*grads):
        scale = ref.abs().max().item()
        assert scale > 0
        assert (ours - ref).abs().max().item() <= 1e-5 * max(1.0, scale)


def test_wrong_key_count_is_an_error():
    value, spatial, loc, attn = _inputs()
    with pytest.raises(ValueError, match='keys but value_spatial_shapes'):
        multi_scale_deformable_attn_gather(value[:, 1:], spatial, loc, attn)


def _msda_module():
    torch.manual_seed(0)
    module = MultiScaleDeformableAttention(embed_dims=32, num_heads=4, num_levels=2,
                                           num_points=2, batch_first=True).eval()
    with torch.no_grad():  # mmcv's init gives zero attention logits: make them matter
        for p in module.parameters():
            p.normal_(0, 0.2)
    shapes = torch.tensor([[4, 6], [2, 3]])
    n = int(shapes.prod(1).sum())
    kwargs = dict(query=torch.randn(2, n, 32), value=torch.randn(2, n, 32),
                  reference_points=torch.rand(2, n, 2, 2), spatial_shapes=shapes,
                  level_start_index=torch.tensor([0, 24]))
    return module, kwargs


def test_switch_is_scoped_and_used(monkeypatch):
    module, kwargs = _msda_module()
    assert get_cpu_deform_attn() == 'mmcv'
    with torch.no_grad():
        ref = module(**kwargs)
        calls = []

        def spy(*args):
            calls.append(1)
            return multi_scale_deformable_attn_gather(*args)

        monkeypatch.setitem(__import__('mmeffseg.ops.deform_attn_backend',
                                       fromlist=['x']).CPU_DEFORM_ATTN_IMPLS, 'gather', spy)
        with cpu_deform_attn('gather'):
            assert get_cpu_deform_attn() == 'gather'
            out = module(**kwargs)
        assert calls == [1]  # mmcv's module really ran the chosen core
    assert get_cpu_deform_attn() == 'mmcv'
    assert msda_mod.multi_scale_deformable_attn_pytorch is MMCV_CORE
    assert (out - ref).abs().max().item() <= 1e-5


def test_switch_restores_after_error_and_rejects_unknown():
    with pytest.raises(RuntimeError):
        with cpu_deform_attn('gather'):
            raise RuntimeError('boom')
    assert get_cpu_deform_attn() == 'mmcv'
    with pytest.raises(ValueError, match="choose one of \\['gather', 'mmcv'\\]"):
        set_cpu_deform_attn('cuda-please')
    previous = set_cpu_deform_attn('gather')
    try:
        assert previous == 'mmcv'
    finally:
        set_cpu_deform_attn(previous)
    assert get_cpu_deform_attn() == 'mmcv'


def test_flop_count_does_not_depend_on_the_core():
    module, kwargs = _msda_module()
    ref = count_macs(module, lambda: module(**kwargs)).by_category()
    with cpu_deform_attn('gather'):
        ours = count_macs(module, lambda: module(**kwargs)).by_category()
    assert ours == ref
    assert ref['deform_attn'] > 0


def test_tool_flag_selects_the_core(monkeypatch):
    import argparse
    import sys

    from mmeffseg.utils.run_setup import add_common_args, parse_tool_args
    parser = argparse.ArgumentParser()
    add_common_args(parser, 'a=1')
    monkeypatch.setattr(sys, 'argv', ['tool', '--cpu-deform-attn', 'gather'])
    try:
        assert parse_tool_args(parser).cpu_deform_attn == 'gather'
        assert get_cpu_deform_attn() == 'gather'
    finally:
        set_cpu_deform_attn('mmcv')
    monkeypatch.setattr(sys, 'argv', ['tool'])
    assert parse_tool_args(parser).cpu_deform_attn == 'mmcv'  # default: mmcv's own core
    monkeypatch.setattr(sys, 'argv', ['tool', '--cpu-deform-attn', 'fast'])
    with pytest.raises(SystemExit):
        parse_tool_args(parser)
