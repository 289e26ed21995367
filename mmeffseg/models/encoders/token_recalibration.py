"""Token re-calibration (TRC) of PRO-SCALE (arXiv 2404.14657).

Before the coarse levels enter the encoder, every coarse token is scaled by a gate computed from
the finest encoder level's input tokens, which carry the most spatial detail:
``gate = sigmoid(temperature * Linear(C, 1)(resize(finest)))``. One module (shared weights)
serves every coarse level; the finest level itself is not re-calibrated.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor

from mmeffseg.utils.config_values import check_number

TRC_LAYOUTS = ('spatial', 'released')


@MODELS.register_module()
class TokenRecalibration(nn.Module):
    """Gate coarse-level tokens with a map predicted from the finest level.

    Args:
        embed_dims (int): Channels C of the tokens.
        temperature (float): Factor inside the sigmoid, ``sigmoid(temperature * x)``.
            PRO-SCALE uses 0.1. Defaults to 0.1.
        layout (str): ``'spatial'`` (default) resizes the finest level as the C x H x W map it
            is. ``'released'`` reproduces the released checkpoints: their code turns the
            (B, L, C) tokens into a map with a plain reshape (no transpose), so the gate of a
            position is computed from scrambled positions; use it only to run those weights.
    """

    def __init__(self, embed_dims: int, temperature: float = 0.1,
                 layout: str = 'spatial') -> None:
        super().__init__()
        if layout not in TRC_LAYOUTS:
            raise ValueError(f'TokenRecalibration: layout={layout!r} is not one of '
                             f'{TRC_LAYOUTS}; use "spatial" (correct) or "released" '
                             '(reproduces the released checkpoints).')
        if not check_number(temperature, 'temperature', 'TokenRecalibration') > 0:
            raise ValueError(f'TokenRecalibration: temperature={temperature} must be > 0 '
                             '(PRO-SCALE uses 0.1).')
        self.embed_dims = embed_dims
        self.temperature = float(temperature)
        self.layout = layout
        self.proj = nn.Linear(embed_dims, 1)

    def gate(self, source: Tensor, source_hw: Sequence[int],
             target_hw: Sequence[int]) -> Tensor:
        """Gate for the tokens of one target level.

        Args:
            source (Tensor): Finest-level tokens, (B, Hs * Ws, C).
            source_hw (Sequence[int]): (Hs, Ws) of the source level.
            target_hw (Sequence[int]): (H, W) of the level to re-calibrate.

        Returns:
            Tensor: Gate in (0, 1), shape (B, H * W, 1).
        """
        b, _, c = source.shape
        hs, ws = int(source_hw[0]), int(source_hw[1])
        h, w = int(target_hw[0]), int(target_hw[1])
        if self.layout == 'spatial':
            # Linear(C, 1) and bilinear resizing are both linear and the resize weights sum to
            # one, so projecting first and resizing the 1-channel map is the same function at
            # 1/C of the resizing cost.
            logits = self.proj(source).transpose(1, 2).reshape(b, 1, hs, ws)
            logits = F.interpolate(logits, size=(h, w), mode='bilinear', align_corners=False)
            logits = logits.flatten(2).transpose(1, 2)
        else:
            # The released layout: plain reshapes on both sides of the resize.
            src_map = source.reshape(b, c, hs, ws)
            resized = F.interpolate(src_map, size=(h, w), mode='bilinear', align_corners=False)
            logits = self.proj(resized.reshape(b, h * w, c))
        return torch.sigmoid(self.temperature * logits)

    def recalibrated_levels(self, query: Tensor, spatial_shapes: Tensor,
                            level_start_index: Tensor) -> List[Tensor]:
        """The tokens of each level, coarsest first: the coarse levels re-calibrated, the
        finest one as it is (a view of ``query``).

        The encoder takes these pieces as its layers reach their levels, so the re-calibrated
        tokens are not first concatenated into a second full-length copy of ``query``.

        Args:
            query (Tensor): Encoder input tokens of all levels, coarsest first, (B, L, C).
            spatial_shapes (Tensor): (num_levels, 2) (h, w) of each level.
            level_start_index (Tensor): (num_levels,) start of each level in ``query``.

        Returns:
            list[Tensor]: One (B, h * w, C) tensor per level.
        """
        shapes = spatial_shapes.tolist()
        starts = level_start_index.tolist()
        src_start = starts[-1]
        src_hw = shapes[-1]
        source = query[:, src_start:src_start + src_hw[0] * src_hw[1]]
        levels = []
        for lvl in range(len(shapes) - 1):
            hw = shapes[lvl]
            tokens = query[:, starts[lvl]:starts[lvl] + hw[0] * hw[1]]
            levels.append(tokens * self.gate(source, src_hw, hw))
        levels.append(source)
        return levels

    def forward(self, query: Tensor, spatial_shapes: Tensor,
                level_start_index: Tensor) -> Tensor:
        """Re-calibrate every level except the last (finest) one.

        Args:
            query (Tensor): Encoder input tokens of all levels, coarsest first, (B, L, C).
            spatial_shapes (Tensor): (num_levels, 2) (h, w) of each level.
            level_start_index (Tensor): (num_levels,) start of each level in ``query``.

        Returns:
            Tensor: Same shape as ``query``; the finest level is unchanged.
        """
        if spatial_shapes.shape[0] < 2:
            return query
        return torch.cat(self.recalibrated_levels(query, spatial_shapes, level_start_index),
                         dim=1)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, temperature={self.temperature}, '
                f'layout={self.layout!r}')
