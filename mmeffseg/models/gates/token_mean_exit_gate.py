"""ECO-M2F's per-image exit gate: one logit per encoder exit from the mean coarsest token."""
from typing import Optional, Sequence

import torch.nn as nn
from torch import Tensor

from mmeffseg.registry import GATES
from .base_exit_gate import BaseExitGate


@GATES.register_module()
class TokenMeanExitGate(BaseExitGate):
    """Choose how many encoder layers an image runs (ECO-M2F, arXiv 2404.15244).

    The gate averages the encoder's coarsest-level input tokens (after the pixel decoder's 1x1
    input conv + GN, before any encoder layer and without positional encoding) over the
    image's own, unpadded tokens, and maps the mean to one logit per exit with a single
    ``Linear``. Its cost is ``L * C`` additions plus ``C * num_exits`` multiply-adds,
    negligible next to one deformable encoder layer.

    Args:
        in_channels (int): Channels ``C`` of the tokens (the encoder's ``embed_dims``).
        exits (Sequence[int]): The exits the logits stand for, as numbers of encoder layers,
            strictly increasing and >= 1. Logit ``j`` means "exit after ``exits[j]`` layers".
            Defaults to (2, 3, 4, 5, 6): two layers always run.
        init_cfg (dict, optional): Initialisation config. Defaults to None; the bias is always
            zero-initialised so an untrained gate has no preference built into its offsets.
    """

    def __init__(self,
                 in_channels: int,
                 exits: Sequence[int] = (2, 3, 4, 5, 6),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(exits=exits, init_cfg=init_cfg)
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f'TokenMeanExitGate: in_channels must be a positive int, got '
                             f'{in_channels!r}; set it to the encoder embed_dims.')
        self.in_channels = in_channels
        self.fc = nn.Linear(in_channels, len(self.exits))
        nn.init.zeros_(self.fc.bias)

    def init_weights(self) -> None:
        """Keep torch's default weight init; the bias starts at zero (as in the paper)."""
        super().init_weights()
        nn.init.zeros_(self.fc.bias)

    def forward(self, tokens: Tensor, valid_mask: Optional[Tensor] = None) -> Tensor:
        """Compute exit logits.

        Args:
            tokens (Tensor): Coarsest-level input tokens, shape (B, L, C).
            valid_mask (Tensor, optional): (B, L) bool, True on each image's own tokens (not
                batch padding). None = every token is valid.

        Returns:
            Tensor: Logits, shape (B, num_exits).
        """
        if tokens.dim() != 3 or tokens.shape[-1] != self.in_channels:
            raise ValueError(f'TokenMeanExitGate expects tokens of shape (B, L, '
                             f'{self.in_channels}), got {tuple(tokens.shape)}; pass the '
                             f'projected coarsest level flattened to (B, H*W, C).')
        if valid_mask is None:
            return self.fc(tokens.mean(dim=1))
        if valid_mask.shape != tokens.shape[:2]:
            raise ValueError(f'TokenMeanExitGate: valid_mask has shape '
                             f'{tuple(valid_mask.shape)}, expected {tuple(tokens.shape[:2])} '
                             '(one flag per token).')
        weights = valid_mask.to(tokens.dtype).unsqueeze(-1)
        mean = (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return self.fc(mean)
