"""The pixel decoder's FPN step with LPE, computed one norm group at a time (inference).

After the lateral 1x1 conv, every step of ``LPE(upsample(coarse) + GN(lateral))`` works per
channel or per GroupNorm group: bilinear upsampling, the add, LPE's max filter and activation
and both GroupNorms (mmdet's pixel decoder builds them from one ``norm_cfg``). Run over the
whole stride-4 map (256 x 256 x 256 floats at 1024 input), each step writes a fresh 67 MB map
that the allocator maps from the OS and page-faults in, and re-reads the previous one from
memory. Run group by group (one group per CPU thread at a time), the intermediate maps are a
few MB: they come from the allocator's free list and stay in cache across the steps, and the
result is written back into the lateral conv's own output. Every op sees the same values in
the same order (a GroupNorm over a group's channels is that group of the full GroupNorm), so the
result equals the module path exactly (bitwise at 1024 input, 32 groups, 1, 2 or 4 per step).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor

from mmeffseg.ops import max_filter2d
from .light_pixel_embedding import LightPixelEmbedding


def _group_norm(module: nn.Module) -> Optional[nn.GroupNorm]:
    return module if type(module) is nn.GroupNorm else None


def group_wise_fpn_step_supported(lateral_conv: nn.Module, output_op: nn.Module) -> bool:
    """Whether :func:`group_wise_fpn_step` can replace ``output_op(upsampled + lateral_conv(x))``.

    Needs mmdet's lateral (a ``ConvModule``: conv, then GroupNorm, no activation) and an LPE
    output op whose GroupNorm has the same groups and channels and whose activation has no
    parameters, so that one group of channels is self-contained through every step.
    """
    if not (isinstance(lateral_conv, ConvModule) and isinstance(output_op, LightPixelEmbedding)):
        return False
    if (not lateral_conv.with_norm or lateral_conv.with_activation
            or lateral_conv.with_explicit_padding or output_op.norm_name is None):
        return False
    if tuple(lateral_conv.order[:2]) != ('conv', 'norm'):
        return False
    if output_op.activate is not None and any(True for _ in output_op.activate.parameters()):
        return False
    lateral_gn = _group_norm(lateral_conv.norm)
    output_gn = _group_norm(getattr(output_op, output_op.norm_name))
    return (lateral_gn is not None and output_gn is not None
            and lateral_gn.affine and output_gn.affine
            and lateral_gn.num_groups == output_gn.num_groups
            and lateral_gn.num_channels == output_gn.num_channels)


def groups_per_step(num_groups: int) -> int:
    """How many norm groups one step takes: one per CPU thread (at most ``num_groups``, and a
    divisor of it). GroupNorm runs its groups in parallel and nothing else in a group, so one
    group per step would leave all threads but one idle in both norms."""
    groups = max(1, min(torch.get_num_threads(), num_groups))
    while num_groups % groups:
        groups -= 1
    return groups


def group_wise_fpn_step(coarse: Tensor, feat: Tensor, lateral_conv: ConvModule,
                        output_op: LightPixelEmbedding) -> Tensor:
    """``output_op(F.interpolate(coarse) + lateral_conv(feat))``, one norm group at a time.

    For inference only (no autograd: it writes into the lateral conv's output); check
    :func:`group_wise_fpn_step_supported` first.

    Args:
        coarse (Tensor): The coarser FPN map (B, C, h, w), any memory layout.
        feat (Tensor): The backbone map of this level (B, C_in, H, W).
        lateral_conv (ConvModule): Lateral 1x1 conv + GroupNorm.
        output_op (LightPixelEmbedding): LPE: max filter + GroupNorm + activation.

    Returns:
        Tensor: (B, C, H, W), equal to the module path.
    """
    out = lateral_conv.conv(feat)
    size = out.shape[-2:]
    # One contiguous copy of the (small) coarse map: upsampling a channel-last view is ~2x
    # slower on CPU, and a channel slice of a contiguous map upsamples without a copy.
    coarse = coarse.contiguous()
    lateral_gn = lateral_conv.norm
    output_gn = getattr(output_op, output_op.norm_name)
    groups = groups_per_step(lateral_gn.num_groups)
    step = out.shape[1] // lateral_gn.num_groups * groups
    for c0 in range(0, out.shape[1], step):
        c1 = c0 + step
        y = F.group_norm(out[:, c0:c1], groups, lateral_gn.weight[c0:c1],
                         lateral_gn.bias[c0:c1], lateral_gn.eps)
        # Same sum as upsampled + lateral (float addition is commutative).
        y.add_(F.interpolate(coarse[:, c0:c1], size=size, mode='bilinear', align_corners=False))
        y = max_filter2d(y, output_op.pool.kernel_size, inplace=True)
        y = F.group_norm(y, groups, output_gn.weight[c0:c1], output_gn.bias[c0:c1],
                         output_gn.eps)
        if output_op.activate is not None:
            y = output_op.activate(y)
        out[:, c0:c1] = y
    return out
