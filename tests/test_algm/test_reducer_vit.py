"""The plain-ViT host: exact baseline when merging is off, full-grid outputs, validation."""
import copy

import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmseg.models.backbones import VisionTransformer
from mmseg.registry import MODELS

import mmeffseg  # noqa: F401  (registers the modules)
from mmeffseg.models.backbones import ReducerViT
from mmeffseg.models.token_reducers import MergedTokens

VIT = dict(img_size=(64, 64), patch_size=16, embed_dims=32, num_layers=4, num_heads=2,
           mlp_ratio=2, final_norm=True, with_cls_token=True)
OFF = [dict(type='LocalWindowMerge', layer=0, tau=1.5),
       dict(type='GlobalBipartiteMerge', layer=2, threshold=2.0)]
ON = [dict(type='LocalWindowMerge', layer=0, tau=-1.0),
      dict(type='GlobalBipartiteMerge', layer=2)]


def _pair(reducers, **extra):
    torch.manual_seed(0)
    base = VisionTransformer(**VIT, **extra)
    base.init_weights()
    host = ReducerViT(reducers=reducers, **VIT, **extra)
    host.load_state_dict(base.state_dict())
    base.eval()  # mmseg's VisionTransformer.train() returns None: no chaining
    host.eval()
    return base, host


@pytest.mark.parametrize('reducers', [[], OFF])
@pytest.mark.parametrize('extra', [dict(out_indices=[1, 3]),
                                   dict(with_cls_token=False, final_norm=False),
                                   dict(output_cls_token=True)])
def test_switched_off_reproduces_vit(reducers, extra):
    cfg = dict(VIT)
    cfg.update(extra)
    torch.manual_seed(0)
    base = VisionTransformer(**cfg)
    base.init_weights()
    host = ReducerViT(reducers=reducers, **cfg)
    host.load_state_dict(base.state_dict())
    base.eval()
    host.eval()
    x = torch.randn(2, 3, 64, 96)  # non-square input, pos embed resized
    with torch.no_grad():
        ref, out = base(x), host(x)
    assert len(ref) == len(out)
    for r, o in zip(ref, out):
        if isinstance(r, (list, tuple)):
            for rr, oo in zip(r, o):
                assert (rr - oo).abs().max() <= 1e-5
        else:
            assert r.shape == o.shape and (r - o).abs().max() <= 1e-5
    full = 24 + int(cfg['with_cls_token'])
    assert [c.tolist() for c in host.last_book.block_counts] == [[full, full]] * 4


def test_merging_active_outputs_full_grid():
    _, host = _pair(ON, out_indices=[1, 3])
    x = torch.randn(2, 3, 80, 48)  # 5 x 3 grid: odd rows and columns
    with torch.no_grad():
        outs = host(x)
    assert [o.shape for o in outs] == [(2, 32, 5, 3)] * 2
    counts = [int(c[0]) for c in host.last_book.block_counts]
    assert counts[0] == 1 + 15 - 2 * 3  # tau -1: both full 2x2 windows merged
    assert counts[2] <= counts[1]
    assert host.aux_losses == {}


def test_output_merged_tokens():
    _, host = _pair(ON, out_indices=[1, 3])
    host.output_merged = True
    with torch.no_grad():
        outs = host(torch.randn(1, 3, 64, 64))
    assert all(isinstance(o, MergedTokens) for o in outs)
    first, last = outs
    assert first.tokens.shape[1] == first.book.num_patch_tokens
    assert last.tokens.shape[1] <= first.tokens.shape[1]
    assert first.restore_map().shape == (1, 32, 4, 4)


def test_gradients_with_merging():
    _, host = _pair(ON)
    host.train()
    out = host(torch.randn(2, 3, 64, 64))[0]
    out.sum().backward()
    assert host.patch_embed.projection.weight.grad is not None
    assert host.layers[3].ffn.layers[0][0].weight.grad.abs().sum() > 0


def test_build_time_errors():
    with pytest.raises(ValueError, match='layer 7'):
        ReducerViT(reducers=[dict(type='LocalWindowMerge', layer=7)], **VIT)
    with pytest.raises(ValueError, match='two reducers at layer 1'):
        ReducerViT(reducers=[dict(type='LocalWindowMerge', layer=1),
                             dict(type='GlobalBipartiteMerge', layer=1)], **VIT)
    with pytest.raises(ValueError, match='larger than the 4x4 token grid'):
        ReducerViT(reducers=[dict(type='LocalWindowMerge', layer=0, window_size=5)], **VIT)
    with pytest.raises(ValueError, match='"layer" key'):
        ReducerViT(reducers=[dict(type='LocalWindowMerge')], **VIT)


def test_registered_in_mmseg_and_mmdet():
    cfg = dict(type='ReducerViT', reducers=copy.deepcopy(ON), **VIT)
    assert isinstance(MODELS.build(copy.deepcopy(cfg)), ReducerViT)
    assert isinstance(MMDET_MODELS.build(copy.deepcopy(cfg)), ReducerViT)


def test_proportional_attention_runs():
    reducers = [dict(type='LocalWindowMerge', layer=0, tau=-1.0, proportional_attn=True),
                dict(type='GlobalBipartiteMerge', layer=2)]
    _, host = _pair(reducers)
    with torch.no_grad():
        out = host(torch.randn(2, 3, 64, 64))[0]
    assert out.shape == (2, 32, 4, 4) and host.last_book.proportional_attn


def test_fused_attention_computes_the_same_function():
    """The packed path (scaled_dot_product_attention) on the full grid == mmseg's blocks."""
    torch.manual_seed(0)
    base = VisionTransformer(**VIT)
    base.init_weights()
    host = ReducerViT(reducers=[], fused_attention=True, **VIT)
    host.load_state_dict(base.state_dict())
    base.eval()
    host.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref, out = base(x), host(x)
    assert (ref[-1] - out[-1]).abs().max() <= 1e-5
    # It really takes the other path: the block's own attention is never called.
    calls = []
    host.layers[0].attn.register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        host(x)
    assert calls == []
