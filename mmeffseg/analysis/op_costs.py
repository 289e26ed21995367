"""Multiply-accumulate (MAC) formulas for the aten operators that carry a model's arithmetic.

Convention: one multiply-add is one FLOP (fvcore, mmengine and the papers count this way;
``torch.utils.flop_counter`` counts two). Matrix products, convolutions and fused attention use
``torch.utils.flop_counter``'s formula registry, halved; what the registry lacks (the CPU fused
attention kernel, ``nn.MultiheadAttention``'s fast path, sampling, scatter-adds) is written here.
Each formula returns ``{category: macs}`` so that one counting pass serves every counting mode
(see :data:`COUNT_MODES`).

Categories:

* ``conv``: convolutions (``out numel x C_in/groups x kernel area``).
* ``linear``: matrix products with a model parameter as an operand (``nn.Linear``,
  ``F.linear`` on a parameter, projections inside fused multi-head attention).
* ``matmul``: matrix products between activations (attention scores ``QK^T`` and ``AV`` when
  written as matmuls, Mask2Former's mask-embedding product).
* ``sdpa``: fused scaled-dot-product attention kernels (``QK^T`` + ``AV``), counted like the
  two matmuls they replace.
* ``deform_attn``: the sampling and weighting inside ``MultiScaleDeformableAttention``
  (counted by :mod:`.deform_attn_cost`, not here, so that the CPU and GPU paths agree).
* ``grid_sample``: bilinear ``grid_sample`` outside deformable attention (4 per output value).
* ``interpolate``: bilinear up/down-sampling (4 per output value).
* ``scatter_reduce``: scatter/index additions (1 per source value), e.g. the size-weighted
  averages of token merging. Pure gathers move data and cost 0 MACs.

Element-wise work (norms, activations, softmax, residual additions) is not counted in any mode.
"""
from typing import Callable, Dict, Iterable, Sequence

import torch
from torch.utils.flop_counter import addmm_flop, flop_registry, mm_flop, sdpa_flop_count

aten = torch.ops.aten

CATEGORIES = ('conv', 'linear', 'matmul', 'sdpa', 'deform_attn', 'grid_sample', 'interpolate',
              'scatter_reduce')

#: Which categories each counting mode adds up.
#: ``full``: everything counted. ``paper``: matrix products only, as fvcore counts a traced model
#: (linear, conv, attention matmuls incl. fused SDPA): comparable with the papers' GFLOPs.
#: ``linear-conv``: strictly linear layers and convolutions.
COUNT_MODES: Dict[str, tuple] = {
    'full': CATEGORIES,
    'paper': ('conv', 'linear', 'matmul', 'sdpa'),
    'linear-conv': ('conv', 'linear'),
}


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a known counting mode, else raise a ValueError naming it."""
    if mode not in COUNT_MODES:
        raise ValueError(f'Unknown counting mode {mode!r}; choose one of {sorted(COUNT_MODES)}')
    return mode


def total_for_mode(by_category: Dict[str, int], mode: str) -> int:
    """Sum the categories of ``by_category`` that ``mode`` counts."""
    keep = COUNT_MODES[check_mode(mode)]
    return sum(v for k, v in by_category.items() if k in keep)


def _prod(values: Iterable[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _is_param(t, param_storages: set) -> bool:
    return isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() in param_storages


def _product_category(operands: Sequence, param_storages: set) -> str:
    # A product is a "linear layer" when one operand lives in a parameter's storage (weights,
    # or views/slices of them); otherwise it multiplies two activations.
    return 'linear' if any(_is_param(t, param_storages) for t in operands) else 'matmul'


def _torch_macs(packet, args, kwargs, out) -> int:
    # torch.utils.flop_counter's formula for this op, in FLOPs = 2 x multiply-adds.
    return flop_registry[packet](*args, **kwargs, out_val=out) // 2


def _product(packet, operands=slice(0, 2)):
    """Cost function of a matrix product whose formula torch's registry holds."""

    def cost(args, kwargs, out, ps):
        return {_product_category(args[operands], ps): _torch_macs(packet, args, kwargs, out)}

    return cost


def _linear(args, kwargs, out, ps):
    # Only seen when a backend keeps aten.linear whole: input (..., K), weight (N, K) is the
    # matrix product (numel / K, K) x (K, N).
    x, w = args[0], args[1]
    rows = x.numel() // x.shape[-1]
    return {_product_category((x, w), ps): mm_flop((rows, x.shape[-1]), (w.shape[1], w.shape[0]))
            // 2}


def _addmm_activation(args, kwargs, out, ps):
    # addmm followed by an element-wise activation: the product is addmm's.
    return {_product_category(args[1:3], ps): addmm_flop(args[0].shape, args[1].shape,
                                                         args[2].shape) // 2}


def _conv(args, kwargs, out, ps):
    return {'conv': _torch_macs(aten.convolution, args, kwargs, out)}


def _sdpa(args, kwargs, out, ps):
    # q: (..., L_q, E), k / v: (..., L_k, E[_v]); leading dims folded into (1, heads) so that
    # torch's formula (QK^T + AV, KV heads broadcast for GQA) applies to any rank.
    q, k, v = args[0], args[1], args[2]

    def as_4d(t):
        return (1, _prod(t.shape[:-2]), t.shape[-2], t.shape[-1])

    return {'sdpa': sdpa_flop_count(as_4d(q), as_4d(k), as_4d(v)) // 2}


def _native_mha(args, kwargs, out, ps):
    # aten._native_multi_head_attention(query, key, value, embed_dim, num_head, qkv_weight,
    # qkv_bias, proj_weight, proj_bias, ...): nn.MultiheadAttention's inference fast path, one
    # opaque op holding the in-projection, the attention products and the out-projection.
    q, k = args[0], args[1]
    embed_dim = int(args[3])
    if q.dim() == 3:
        batch, l_q, l_k = q.shape[0], q.shape[1], k.shape[1]
    else:
        batch, l_q, l_k = 1, q.shape[0], k.shape[0]
    in_proj = batch * (l_q + 2 * l_k) * embed_dim * embed_dim
    out_proj = batch * l_q * embed_dim * embed_dim
    return {'linear': in_proj + out_proj, 'matmul': 2 * batch * l_q * l_k * embed_dim}


def _grid_sampler(args, kwargs, out, ps):
    # mode 0 = bilinear (4 neighbours per output value); nearest (1) is a pure gather.
    mode = int(args[2]) if len(args) > 2 else 0
    return {'grid_sample': 4 * out.numel() if mode == 0 else 0}


def _upsample_bilinear(args, kwargs, out, ps):
    return {'interpolate': 4 * out.numel()}


def _scatter_add(args, kwargs, out, ps):
    # scatter_add(self, dim, index, src) / scatter_reduce(self, dim, index, src, reduce):
    # one addition per source value.
    src = args[3] if len(args) > 3 else kwargs.get('src')
    return {'scatter_reduce': src.numel() if isinstance(src, torch.Tensor) else 0}


def _index_add(args, kwargs, out, ps):
    # index_add(self, dim, index, source, alpha=1)
    src = args[3] if len(args) > 3 else kwargs.get('source')
    return {'scatter_reduce': src.numel() if isinstance(src, torch.Tensor) else 0}


def _index_put(args, kwargs, out, ps):
    # index_put(self, indices, values, accumulate): arithmetic only when accumulating.
    accumulate = bool(args[3]) if len(args) > 3 else bool(kwargs.get('accumulate', False))
    values = args[2]
    return {'scatter_reduce': values.numel() if accumulate else 0}


OpCostFn = Callable[..., Dict[str, int]]


def _collect(pairs) -> Dict[object, OpCostFn]:
    table = {}
    for names, fn in pairs:
        for name in names:
            packet = getattr(aten, name, None)
            if packet is not None:  # some kernels only exist in some torch builds
                table[packet] = fn
    return table


#: aten overload packet -> cost function(args, kwargs, out, param_storages) -> {category: macs}
OP_COSTS: Dict[object, OpCostFn] = _collect([
    (('mm', ), _product(aten.mm)),
    (('addmm', ), _product(aten.addmm, slice(1, 3))),
    (('bmm', ), _product(aten.bmm)),
    (('baddbmm', ), _product(aten.baddbmm, slice(1, 3))),
    (('convolution', '_convolution'), _conv),
    (('linear', ), _linear),
    (('_addmm_activation', ), _addmm_activation),
    (('_scaled_dot_product_flash_attention_for_cpu', '_scaled_dot_product_flash_attention',
      '_scaled_dot_product_efficient_attention', '_scaled_dot_product_cudnn_attention',
      '_scaled_dot_product_fused_attention_overrideable'), _sdpa),
    (('_native_multi_head_attention', ), _native_mha),
    (('grid_sampler_2d', 'cudnn_grid_sampler'), _grid_sampler),
    (('upsample_bilinear2d', '_upsample_bilinear2d_aa'), _upsample_bilinear),
    (('scatter_add', 'scatter_add_', 'scatter_reduce', 'scatter_reduce_'), _scatter_add),
    (('index_add', 'index_add_'), _index_add),
    (('index_put', 'index_put_', '_index_put_impl_'), _index_put),
])

#: Categories whose aten ops are not counted inside a MultiScaleDeformableAttention module,
#: because :mod:`.deform_attn_cost` counts the whole sampling + weighting there by formula.
DEFORM_ATTN_INTERNAL_CATEGORIES = ('grid_sample', )
