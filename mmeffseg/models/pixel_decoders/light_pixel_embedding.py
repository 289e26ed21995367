"""Light pixel embedding (LPE) of PRO-SCALE (arXiv 2404.14657).

Replaces the 3x3 conv (+norm+act) that the pixel decoder's FPN step applies to each finer map
with a parameter-free 3x3 max-pool (stride 1, padding 1) followed by the same norm and act.
At inference the pool runs as a separable max filter (same values, faster on CPU).
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmdet.utils import OptConfigType
from torch import Tensor

from mmeffseg.ops import max_filter2d


class LightPixelEmbedding(nn.Module):
    """3x3 max-pool, then norm and activation; a drop-in for the FPN output ``ConvModule``.

    The norm is stored under the name ``ConvModule`` gives it (e.g. ``gn``) and the activation
    under ``activate``, so the norm's parameters keep the baseline's checkpoint names
    (``output_convs.{i}.gn.*``).

    Args:
        channels (int): Channels of the map.
        norm_cfg (:obj:`ConfigDict` or dict, optional): Norm config; None = no norm.
        act_cfg (:obj:`ConfigDict` or dict, optional): Activation config; None = none.
        kernel_size (int): Pooling window (odd, so the size is kept). Defaults to 3.
        inplace (bool): At inference, filter the input map in place (as an in-place
            activation does): no map-sized copy. Only for callers that do not use the input
            again, as the pixel decoder's FPN sum. Defaults to False.
    """

    def __init__(self, channels: int, norm_cfg: OptConfigType = dict(type='GN', num_groups=32),
                 act_cfg: OptConfigType = dict(type='ReLU'), kernel_size: int = 3,
                 inplace: bool = False) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'LightPixelEmbedding: kernel_size={kernel_size} must be a '
                             'positive odd number so the map keeps its size (PRO-SCALE uses 3).')
        self.pool = nn.MaxPool2d(kernel_size, stride=1, padding=kernel_size // 2)
        self.inplace = inplace
        self.norm_name: Optional[str] = None
        if norm_cfg is not None:
            self.norm_name, norm = build_norm_layer(norm_cfg, channels)
            self.add_module(self.norm_name, norm)
        self.activate = None
        if act_cfg is not None:
            # In place where the activation allows it, as ConvModule builds it: the norm's
            # output is not needed again, so no second full-size map is allocated.
            act_cfg = dict(act_cfg)
            if act_cfg['type'] not in ('Tanh', 'PReLU', 'Sigmoid', 'HSigmoid', 'Swish', 'GELU'):
                act_cfg.setdefault('inplace', True)
            self.activate = build_activation_layer(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            x = self.pool(x)  # training: PyTorch's pooling and its argmax gradient
        else:
            x = max_filter2d(x, self.pool.kernel_size, inplace=self.inplace)
        if self.norm_name is not None:
            x = getattr(self, self.norm_name)(x)
        if self.activate is not None:
            x = self.activate(x)
        return x
