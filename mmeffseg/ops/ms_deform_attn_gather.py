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


def _padded_value_table(value: Tensor, shapes: List[tuple]) -> tuple:
    """``(B*heads*S_padded, head_dims)`` rows ordered (image, head, level, y, x); level starts."""
    bs, _, num_heads, head_dims = value.shape
    per_head = value.permute(0, 2, 1, 3)  # (B, heads, S, head_dims)
    pad = (0, 0, _PAD_BEFORE, _PAD_AFTER, _PAD_BEFORE, _PAD_AFTER)
    tables, starts, start, offset = [], [], 0, 0
    for h, w in shapes:
        level = per_head[:, :, offset:offset + h * w].reshape(bs, num_heads, h, w, head_dims)
        tables.append(F.pad(level, pad).reshape(bs, num_heads, -1, head_dims))
        starts.append(start)
        start += (h + _PAD_BEFORE + _PAD_AFTER) * (w + _PAD_BEFORE + _PAD_AFTER)
        offset += h * w
    return torch.cat(tables, dim=2).reshape(-1, head_dims), starts, start


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
    table, starts, padded_keys = _padded_value_table(value, shapes)

    # Coordinates in at least float32, so that pixel positions stay exact.
    loc = sampling_locations.float() if sampling_locations.dtype in (
        torch.float16, torch.bfloat16) else sampling_locations
    widths = loc.new_tensor([w for _, w in shapes]).view(num_levels, 1)
    heights = loc.new_tensor([h for h, _ in shapes]).view(num_levels, 1)
    # Pixel coordinates (align_corners=False: x * W - 0.5) shifted into the padded map and
    # clamped to it; a clamped position lies wholly in the zero border, as it should.
    x = torch.minimum((loc[..., 0] * widths + (_PAD_BEFORE - 0.5)).clamp(min=0), widths + 1)
    y = torch.minimum((loc[..., 1] * heights + (_PAD_BEFORE - 0.5)).clamp(min=0), heights + 1)
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0

    padded_w = torch.tensor([w + _PAD_BEFORE + _PAD_AFTER for _, w in shapes],
                            device=loc.device)
    # Index of the top-left neighbour: (image, head) block + level start + y * W_padded + x.
    block = (torch.arange(bs, device=loc.device).view(bs, 1, 1, 1, 1) * num_heads +
             torch.arange(num_heads, device=loc.device).view(1, 1, num_heads, 1, 1))
    level_start = torch.tensor(starts, device=loc.device).view(num_levels, 1)
    top_left = (y0.long() * padded_w.view(num_levels, 1) + x0.long() +
                (block * padded_keys + level_start))
    # The four neighbours, in the order of the weights below: (y0, x0), (y0, x1), (y1, x0),
    # (y1, x1).
    neighbour = torch.stack(
        [torch.zeros_like(padded_w),
         torch.ones_like(padded_w), padded_w, padded_w + 1], dim=-1).view(num_levels, 1, 4)
    index = top_left.unsqueeze(-1) + neighbour
    attn = attention_weights.to(loc.dtype)
    weight_y = torch.stack([attn * (1 - fy), attn * fy], dim=-1)
    weight_x = torch.stack([1 - fx, fx], dim=-1)
    weight = weight_y.unsqueeze(-1) * weight_x.unsqueeze(-2)  # (..., 2, 2) -> 4 neighbours

    samples = num_levels * num_points * 4
    out = F.embedding_bag(
        index.reshape(-1, samples), table,
        per_sample_weights=weight.reshape(-1, samples).to(table.dtype), mode='sum')
    # Bags are ordered (image, query, head), so the heads' channels are already side by side.
    return out.view(bs, num_queries, num_heads * head_dims)
