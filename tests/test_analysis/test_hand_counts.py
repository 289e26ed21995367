"""The counter against closed-form hand counts, exactly (1 FLOP = 1 multiply-add).

Conventions under test (docs/cost_tools.md):
* a linear layer costs tokens x C_in x C_out, a conv out-numel x C_in/groups x kernel area;
* attention costs 2 x N_q x N_k x C (QK^T and AV), whether fused (SDPA, MHA fast path) or not;
* deformable attention's core costs 5 MACs per sampled value and channel (4 for bilinear
  sampling + 1 for the attention weight): 5 x N x C x levels x points.
"""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmeffseg.analysis import CostCounter, count_macs, deform_attn_core_macs


def deform_layer_linear_macs(n, c, heads, levels, points, ffn):
    """value_proj + output_proj (2 C^2), offsets (C x 2HLP), weights (C x HLP), FFN (2 C F)."""
    return n * (2 * c * c + 3 * c * heads * levels * points + 2 * c * ffn)


def vit_block_macs(n, c, ffn):
    """qkv (3C^2) + proj (C^2) + MLP (2CF) per token; attention 2 N^2 C."""
    return dict(linear=n * (4 * c * c + 2 * c * ffn), matmul=2 * n * n * c)


def _deform_layer(levels, points=4):
    from mmdet.models.layers.transformer import DeformableDetrTransformerEncoderLayer
    layer = DeformableDetrTransformerEncoderLayer(
        self_attn_cfg=dict(embed_dims=256, num_heads=8, num_levels=levels, num_points=points,
                           batch_first=True),
        ffn_cfg=dict(embed_dims=256, feedforward_channels=1024, ffn_drop=0.0))
    return layer.eval()


def _deform_inputs(levels):
    shapes = [(6, 5), (3, 3), (2, 1), (1, 1)][:levels]  # odd, non-square grids on purpose
    spatial_shapes = torch.tensor(shapes, dtype=torch.long)
    n = int(sum(h * w for h, w in shapes))
    level_start_index = torch.cat((spatial_shapes.new_zeros(1),
                                   (spatial_shapes[:, 0] * spatial_shapes[:, 1]).cumsum(0)[:-1]))
    query = torch.rand(1, n, 256)
    ref = torch.rand(1, n, levels, 2)
    kwargs = dict(query=query, query_pos=torch.rand(1, n, 256), key_padding_mask=None,
                  spatial_shapes=spatial_shapes, level_start_index=level_start_index,
                  valid_ratios=torch.ones(1, levels, 2), reference_points=ref)
    return n, kwargs


@pytest.mark.parametrize('levels', [1, 3, 4])
def test_deformable_encoder_layer_exact(levels):
    layer = _deform_layer(levels)
    n, kwargs = _deform_inputs(levels)
    counter = count_macs(layer, lambda: layer(**kwargs))
    linear = deform_layer_linear_macs(n, 256, 8, levels, 4, 1024)
    core = 5 * n * 256 * levels * 4
    assert counter.by_category() == {'linear': linear, 'deform_attn': core}
    assert counter.total('linear-conv') == linear
    assert counter.total('paper') == linear
    assert counter.total('full') == linear + core
    # PRO-SCALE's per-token figure: 655,360 + 24,576 x num_levels
    assert counter.total('paper') == n * (655360 + 24576 * levels)
    # everything is charged to the layer's own submodules
    assert set(counter.by_module()) <= {'self_attn', 'self_attn.value_proj',
                                        'self_attn.sampling_offsets',
                                        'self_attn.attention_weights', 'self_attn.output_proj',
                                        'ffn.layers.0.0', 'ffn.layers.1'}


def test_deformable_core_same_count_when_opaque(monkeypatch):
    """The GPU path is an opaque kernel: a core the counter cannot see must count the same."""
    import mmcv.ops.multi_scale_deform_attn as msda_mod
    layer = _deform_layer(3)
    n, kwargs = _deform_inputs(3)
    visible = count_macs(layer, lambda: layer(**kwargs)).by_category()

    def opaque_core(value, spatial_shapes, sampling_locations, attention_weights):
        bs, nq = sampling_locations.shape[:2]
        return value.new_zeros(bs, nq, value.shape[2] * value.shape[3])

    monkeypatch.setattr(msda_mod, 'multi_scale_deformable_attn_pytorch', opaque_core)
    hidden = count_macs(layer, lambda: layer(**kwargs)).by_category()
    assert hidden == visible
    assert hidden['deform_attn'] == deform_attn_core_macs(n, 256, 3, 4)


def _vit_block(c=32, heads=2, ffn=64):
    from mmseg.models.backbones.vit import TransformerEncoderLayer
    return TransformerEncoderLayer(embed_dims=c, num_heads=heads, feedforward_channels=ffn,
                                   qkv_bias=True).eval()


@pytest.mark.parametrize('grad', [False, True])
def test_vit_block_exact(grad):
    """Same count with nn.MultiheadAttention's fused fast path (no grad) and its slow path."""
    block = _vit_block()
    n = 17  # 16 patches + CLS
    x = torch.rand(2, n, 32)
    with torch.set_grad_enabled(grad):
        with CostCounter(block) as counter:
            block(x)
    expected = {k: 2 * v for k, v in vit_block_macs(n, 32, 64).items()}  # batch of 2
    assert counter.by_category() == expected
    assert counter.total('linear-conv') == expected['linear']
    assert counter.total('paper') == expected['linear'] + expected['matmul']


def test_sdpa_counted_like_two_matmuls():
    dummy = nn.Identity()
    # same-shaped q/k/v: the fused CPU kernel runs and is seen as one op
    q = torch.rand(2, 3, 7, 8)
    fused = count_macs(dummy, F.scaled_dot_product_attention, q, q, q).by_category()
    explicit = count_macs(dummy, lambda: (q @ q.transpose(-1, -2)).softmax(-1) @ q)
    assert fused == {'sdpa': 2 * 3 * 7 * 7 * (8 + 8)}
    assert explicit.by_category() == {'matmul': fused['sdpa']}
    # cross-attention with a narrower value: whichever kernel torch picks, the same total
    q, k, v = torch.rand(2, 3, 7, 8), torch.rand(2, 3, 5, 8), torch.rand(2, 3, 5, 4)
    cross = count_macs(dummy, F.scaled_dot_product_attention, q, k, v)
    assert cross.total('paper') == 2 * 3 * 7 * 5 * (8 + 4)


def test_conv_grid_sample_interpolate_scatter():
    model = nn.Sequential(nn.Conv2d(4, 6, 3, padding=1, groups=2),
                          nn.ConvTranspose2d(6, 2, 2, stride=2))
    x = torch.rand(1, 4, 5, 7)
    counter = count_macs(model, model, x)
    assert counter.by_category() == {'conv': 5 * 7 * 6 * 2 * 9 + 5 * 7 * 6 * 2 * 4}
    dummy = nn.Identity()
    grid = torch.rand(1, 3, 4, 2) * 2 - 1
    cats = count_macs(dummy, F.grid_sample, x, grid, align_corners=False).by_category()
    assert cats == {'grid_sample': 4 * 4 * 3 * 4}
    cats = count_macs(dummy, F.interpolate, x, size=(10, 14), mode='bilinear').by_category()
    assert cats == {'interpolate': 4 * 4 * 10 * 14}
    cats = count_macs(dummy, lambda: torch.zeros(3, 8).index_add_(
        0, torch.tensor([0, 0, 2, 1]), torch.ones(4, 8))).by_category()
    assert cats == {'scatter_reduce': 32}
    # a gather moves data and costs nothing
    index = torch.zeros(1, 2, 5, 7, dtype=torch.long)
    assert count_macs(dummy, torch.gather, x, 1, index).by_category() == {}


def test_linear_vs_matmul_split_by_weight_operand():
    lin = nn.Linear(8, 4, bias=False)
    x = torch.rand(3, 8)

    def fn():
        y = lin(x)                 # weight operand -> linear
        return y @ y.t(), x @ lin.weight.t()  # activations -> matmul; weight view -> linear

    cats = count_macs(lin, fn).by_category()
    assert cats == {'linear': 2 * 3 * 8 * 4, 'matmul': 3 * 4 * 3}


def test_counter_is_honest_about_modes():
    from mmeffseg.analysis import total_for_mode
    with pytest.raises(ValueError, match='bogus'):
        total_for_mode({'linear': 1}, 'bogus')


class _EveryProduct(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, groups=1)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.fc = nn.Linear(4, 6)

    def forward(self, x):
        x = self.up(self.grouped(self.conv(x)))  # (1, 4, 14, 14)
        t = self.fc(x.flatten(2).transpose(1, 2))  # addmm / mm on a weight
        q = t.reshape(1, 2, 98, 6)
        a = F.scaled_dot_product_attention(q, q, q)
        s = torch.bmm(t, t.transpose(1, 2))
        s = torch.baddbmm(s, t, t.transpose(1, 2))
        return a.sum() + s.sum() + torch.addmm(t[0, :6], t[0, :6, :], t[0, :6, :].T).sum()


def test_paper_mode_is_torch_flop_counter_halved():
    # Matrix products and convolutions (grouped, transposed) use the formulas of
    # torch.utils.flop_counter: halved, they give its count. Its registry has no entry for the
    # CPU fused-attention kernel, which mmeffseg counts as the two products it replaces.
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count
    model, x = _EveryProduct().eval(), torch.rand(1, 3, 15, 15)
    counter = count_macs(model, model, x)
    with torch.no_grad(), FlopCounterMode(display=False) as reference:
        model(x)
    sdpa = counter.by_category()['sdpa']
    assert sdpa * 2 == sdpa_flop_count((1, 2, 98, 6), (1, 2, 98, 6), (1, 2, 98, 6))
    expected = reference.get_total_flops() + (0 if x.is_cuda else sdpa * 2)
    assert counter.total('paper') * 2 == expected
