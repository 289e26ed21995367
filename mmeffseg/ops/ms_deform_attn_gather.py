"""A faster CPU core for multi-scale deformable attention: one weighted gather per query.

mmcv's CPU fallback (``multi_scale_deformable_attn_pytorch``) calls ``grid_sample`` once per
level, stacks the samples into a ``(B*heads, head_dims, queries, levels*points)`` tensor and
multiplies it by the attention weights, so it writes and reads about ``levels * points`` copies
of the output. Here the bilinear weights of the four neighbours are folded into the attention
weights and every output row is one ``embedding_bag`` (a weighted sum of table rows) over the
``levels * points * 4`` neighbours it needs; nothing of the sampled size is materialised.

The result equals mmcv's (``grid_sample`` with ``align_corners=False`` and zero padding) up to
float rounding, forward and backward; only the CPU time differs.
"""
from typing import List

import torch
import torch.nn.functional as F
from torch import Tensor

# Each level's map gets a zero border, one pixel before and two after, so that every
# neighbour of a clamped sampling position is inside the padded map: positions outside the
# image then read zeros, which is grid_sample's zero padding.
_PAD_BEFORE, _PAD_AFTER = 1, 2
# Table rows that int32 indices can address (embedding_bag takes int32 or int64 indices).
_INT32_ROWS = 2**31 - 1
# Pixel positions within a padded map that float32 holds exactly.
_FLOAT32_EXACT = 2**24


def _padded_value_table(value: Tensor, shapes: List[tuple], padded: List[tuple]) -> tuple:
    """``(B*heads*S_padded, head_dims)`` rows ordered (image, head, level, y, x); level starts.

    ``padded`` holds each level's ``(h, w)`` with its zero border (:func:`_padded_shape`)."""
    bs, _, num_heads, head_dims = value.shape
    per_head = value.permute(0, 2, 1, 3)  # (B, heads, S, head_dims)
    # One zeroed table and one copy of each level into its interior: the map is written once.
    table = value.new_zeros(bs, num_heads, sum(hp * wp for hp, wp in padded), head_dims)
    starts, start, offset = [], 0, 0
    for (h, w), (hp, wp) in zip(shapes, padded):
        level = table[:, :, start:start + hp * wp].view(bs, num_heads, hp, wp, head_dims)
        level[:, :, _PAD_BEFORE:_PAD_BEFORE + h, _PAD_BEFORE:_PAD_BEFORE + w] = \
            per_head[:, :, offset:offset + h * w].unflatten(2, (h, w))
        starts.append(start)
        start += hp * wp
        offset += h * w
    return table.view(-1, head_dims), starts, start


def _padded_shape(h: int, w: int) -> tuple:
    """A level's ``(h, w)`` with its zero border."""
    return h + _PAD_BEFORE + _PAD_AFTER, w + _PAD_BEFORE + _PAD_AFTER


def _per_column(values: List[float], repeat: int, like: Tensor, dtype: torch.dtype) -> Tensor:
    """A row of per-level constants, each repeated ``repeat`` times: (levels * repeat,)."""
    return torch.tensor(values, dtype=dtype, device=like.device).repeat_interleave(repeat)


def multi_scale_deformable_attn_gather(value: Tensor, value_spatial_shapes: Tensor,
                                       sampling_locations: Tensor,
                                       attention_weights: Tensor) -> Tensor:
    """Multi-scale deformable attention core, same contract as mmcv's CPU version.

    Args:
        value (Tensor): ``(bs, num_keys, num_heads, head_dims)``, levels concatenated.
        value_spatial_shapes (Tensor): ``(num_levels, 2)``, ``(h, w)`` of each level.
        sampling_locations (Tensor): ``(bs, num_queries, num_heads, num_levels, num_points,
            2)``, normalised ``(x, y)`` in [0, 1] (outside = zero padding).
        attention_weights (Tensor): ``(bs, num_queries, num_heads, num_levels, num_points)``.

    Returns:
        Tensor: ``(bs, num_queries, num_heads * head_dims)``.
    """
    bs, num_keys, num_heads, head_dims = value.shape
    _, num_queries, _, num_levels, num_points, _ = sampling_locations.shape
    shapes = [(int(h), int(w)) for h, w in value_spatial_shapes.tolist()]
    if sum(h * w for h, w in shapes) != num_keys:
        raise ValueError(f'value has {num_keys} keys but value_spatial_shapes {shapes} sum to '
                         f'{sum(h * w for h, w in shapes)}')
    padded = [_padded_shape(h, w) for h, w in shapes]
    table, starts, padded_keys = _padded_value_table(value, shapes, padded)

    # Coordinates in at least float32, so that pixel positions stay exact.
    loc = sampling_locations.float() if sampling_locations.dtype in (
        torch.float16, torch.bfloat16) else sampling_locations
    # Every step below works on rows of (level, point[, x/y]) columns with a constant per
    # column: broadcasting a per-level constant over 4 points would make each op loop over 4
    # elements at a time, several times slower on CPU.
    lp = num_levels * num_points
    size = torch.tensor([(w, h) for h, w in shapes], dtype=loc.dtype, device=loc.device)
    size = size.view(num_levels, 1, 2).expand(num_levels, num_points, 2).reshape(-1)
    # Pixel coordinates (align_corners=False: x * W - 0.5) shifted into the padded map and
    # clamped to it; a clamped position lies wholly in the zero border, as it should.
    xy = (loc.reshape(bs, num_queries, num_heads, lp * 2) * size).add_(_PAD_BEFORE - 0.5)
    xy = torch.minimum(xy.clamp_(min=0), size + 1)
    xy0 = xy.floor()
    frac = xy - xy0
    fx, fy = frac[..., 0::2], frac[..., 1::2]

    # Index of the top-left neighbour: (image, head) block + level start + y * W_padded + x.
    # The in-map part is computed in floating point, exact while a padded map has fewer pixels
    # than float32 holds exactly (else in float64); int32 indices halve the index traffic
    # wherever the table's rows allow them.
    index_dtype = torch.int32 if table.shape[0] <= _INT32_ROWS else torch.long
    exact = torch.float64 if max(hp * wp for hp, wp in padded) >= _FLOAT32_EXACT else None
    padded_w = _per_column([wp for _, wp in padded], num_points, loc, exact or loc.dtype)
    if exact is not None:
        xy0 = xy0.to(exact)
    top_left = torch.addcmul(xy0[..., 0::2], xy0[..., 1::2], padded_w).to(index_dtype)
    top_left += (torch.arange(bs * num_heads, dtype=index_dtype, device=loc.device).view(
        bs, 1, num_heads, 1) * padded_keys + _per_column(starts, num_points, loc, index_dtype))
    # The four neighbours, in the order of the weights below: (y0, x0), (y0, x1), (y1, x0),
    # (y1, x1).
    step = padded_w.to(index_dtype)
    index = top_left.unsqueeze(-2) + torch.stack(
        [torch.zeros_like(step), torch.ones_like(step), step, step + 1])  # (..., 4, lp)
    attn = attention_weights.to(loc.dtype).reshape(bs, num_queries, num_heads, lp)
    weight_y = torch.stack([attn * (1 - fy), attn * fy], dim=-2)
    weight_x = torch.stack([1 - fx, fx], dim=-2)
    weight = weight_y.unsqueeze(-2) * weight_x.unsqueeze(-3)  # (..., 2, 2, lp) -> 4 neighbours

    samples = lp * 4
    out = F.embedding_bag(
        index.view(-1, samples), table,
        per_sample_weights=weight.reshape(-1, samples).to(table.dtype), mode='sum')
    # Bags are ordered (image, query, head), so the heads' channels are already side by side.
    return out.view(bs, num_queries, num_heads * head_dims)
