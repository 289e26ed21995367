"""ALGM stage 1: merge whole local windows of similar tokens (arXiv 2406.09936)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.profiler import record_function

from mmeffseg.registry import TOKEN_REDUCERS
from .base_token_reducer import BaseTokenReducer
from .block_ops import run_attention, run_ffn
from .token_bookkeeping import TokenBookkeeping


@TOKEN_REDUCERS.register_module()
class LocalWindowMerge(BaseTokenReducer):
    """ALGM's local merging: 2x2 windows of mutually similar tokens become one token.

    Runs inside its block, after the attention residual add and before the MLP, on the
    residual-stream features. The patch grid is cut into non-overlapping ``window_size`` x
    ``window_size`` windows (a leftover odd row / column stays unmerged); a window's score is
    the mean pairwise cosine similarity of its tokens (off-diagonal mean), and every window
    with score >= ``tau`` becomes one token, the size-weighted average of its tokens. The CLS
    token is never merged. Every image of a batch merges the same number of windows, the
    minimum over the batch (its highest-scoring windows), so tensors stay rectangular.

    Args:
        layer (int): 0-based block index. ALGM merges in the first block. Default: 0.
        tau (float): Similarity threshold; the paper's values (ADE20K) are ViT-T 0.90,
            ViT-S 0.88, ViT-B 0.94, ViT-L 0.95. ``tau > 1`` switches merging off (cosine
            similarity never exceeds 1). Can be changed at test time. Default: 0.88.
        window_size (int): Window side in tokens, >= 2. Default: 2.
        proportional_attn (bool): Make every later block add ``log(size)`` to its attention
            logits (off in the released ALGM). Default: False.
    """

    def __init__(self,
                 layer: int = 0,
                 tau: float = 0.88,
                 window_size: int = 2,
                 proportional_attn: bool = False) -> None:
        super().__init__(layer)
        if isinstance(tau, bool) or not isinstance(tau, (int, float)):
            raise ValueError(f'LocalWindowMerge: tau must be a number (tau > 1 switches merging '
                             f'off), got {tau!r}')
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 2:
            raise ValueError(f'LocalWindowMerge: window_size must be an int >= 2, got '
                             f'{window_size!r}')
        self.tau = float(tau)
        self.window_size = window_size
        self.proportional_attn = proportional_attn

    @property
    def enabled(self) -> bool:
        return self.tau <= 1.0

    def _check_grid(self, grid_shape: Tuple[int, int]) -> None:
        h, w = grid_shape
        if self.window_size > h or self.window_size > w:
            raise ValueError(f'LocalWindowMerge: window_size {self.window_size} is larger than the '
                             f'{h}x{w} token grid; use a smaller window or a larger input')

    def check_config(self, num_layers: int, grid_shape: Optional[Tuple[int, int]],
                     embed_dims: Optional[int] = None) -> None:
        if grid_shape is not None:
            self._check_grid(grid_shape)

    def window_scores(self, patches: torch.Tensor,
                      hw_shape: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Scores of all full windows and the token indices of each window.

        Args:
            patches (Tensor): Patch tokens (B, h * w, C), raster order.
            hw_shape (tuple[int, int]): Grid (h, w).

        Returns:
            tuple[Tensor, Tensor]: Scores (B, num_windows) and long (num_windows, k) indices
            into the patch tokens, k = window_size ** 2, first entry the top-left token.
        """
        h, w = hw_shape
        ws = self.window_size
        rows, cols = h // ws, w // ws
        batch, _, channels = patches.shape
        unit = F.normalize(patches, dim=-1).reshape(batch, h, w, channels)
        # Drop a leftover row/column: those tokens belong to no window and stay unmerged.
        windows = unit[:, :rows * ws, :cols * ws].reshape(batch, rows, ws, cols, ws, channels)
        windows = windows.permute(0, 1, 3, 2, 4, 5).reshape(batch, rows * cols, ws * ws, channels)
        gram = windows @ windows.transpose(-1, -2)
        k = ws * ws
        off_diag = gram.sum(dim=(-1, -2)) - gram.diagonal(dim1=-2, dim2=-1).sum(-1)
        scores = off_diag / (k * (k - 1))

        grid = torch.arange(h * w, device=patches.device).reshape(h, w)
        index = grid[:rows * ws, :cols * ws].reshape(rows, ws, cols, ws).permute(0, 2, 1, 3)
        return scores, index.reshape(rows * cols, k)

    def assign(self, x: torch.Tensor,
               book: TokenBookkeeping) -> Tuple[torch.Tensor, torch.Tensor]:
        """Decide the merges: source and destination indices (B, M) in the current sequence."""
        if not book.is_full_grid:
            raise ValueError('LocalWindowMerge needs the full token grid; place it before any '
                             'other merging reducer (ALGM: layer 0, before the global stage)')
        self._check_grid(book.hw_shape)
        prefix = book.num_prefix
        scores, index = self.window_scores(x[:, prefix:], book.hw_shape)
        eligible = scores >= self.tau
        # Same number of merged windows in every image (the batch minimum) keeps tensors
        # rectangular; each image merges its highest-scoring eligible windows.
        num = int(eligible.sum(1).min())
        batch = x.shape[0]
        if num == 0:
            empty = x.new_zeros(batch, 0, dtype=torch.long)
            return empty, empty
        chosen = scores.masked_fill(~eligible, float('-inf')).topk(num, dim=1).indices
        win = index.to(x.device)[chosen] + prefix  # (B, num, k)
        dst = win[..., :1].expand(-1, -1, win.shape[-1] - 1)
        src = win[..., 1:]
        return src.reshape(batch, -1), dst.reshape(batch, -1)

    def forward(self, block: nn.Module, x: torch.Tensor,
                book: TokenBookkeeping) -> torch.Tensor:
        x = run_attention(block, x, attn_bias=book.attention_bias())
        if self.enabled:
            # Named scope so a profiler can report the merging step's own share of time.
            with record_function('token_reducer.local_window_merge'):
                src, dst = self.assign(x.detach(), book)
                x = book.merge(x, src, dst)
                if self.proportional_attn:
                    book.proportional_attn = True
        book.record_stage('local', self.layer)
        return run_ffn(block, x)

    def extra_repr(self) -> str:
        return (f'layer={self.layer}, tau={self.tau}, window_size={self.window_size}, '
                f'proportional_attn={self.proportional_attn}')
