"""ALGM stage 1: merge whole local windows of similar tokens (arXiv 2406.09936)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from mmeffseg.registry import TOKEN_REDUCERS
from .base_merge_reducer import BaseMergeReducer
from .batch_policy import merge_counts
from .token_bookkeeping import TokenBookkeeping


@TOKEN_REDUCERS.register_module()
class LocalWindowMerge(BaseMergeReducer):
    """ALGM's local merging: 2x2 windows of mutually similar tokens become one token.

    Runs inside its block, after the attention residual add and before the MLP, on the
    residual-stream features. The patch grid is cut into non-overlapping ``window_size`` x
    ``window_size`` windows (a leftover odd row / column stays unmerged); a window's score is
    the mean pairwise cosine similarity of its tokens (off-diagonal mean), and every window
    with score >= ``tau`` becomes one token, the size-weighted average of its tokens. The CLS
    token is never merged. As in the released code, the tokens are then ordered
    [prefix (CLS), merged windows in descending window score, unmerged tokens in raster
    order]: the global stage splits the sequence alternately, so this order decides which
    tokens can pair there.

    Batches (``batch_policy``): ``'per_image'`` merges every eligible window of every image
    (each image gets exactly what it gets alone; the tokens become packed); ``'min'`` merges
    the batch minimum of the eligible counts in every image (its highest-scoring windows),
    as the released code does.

    Args:
        layer (int): 0-based block index. ALGM merges in the first block. Default: 0.
        tau (float): Similarity threshold; the paper's values (ADE20K) are ViT-T 0.90,
            ViT-S 0.88, ViT-B 0.94, ViT-L 0.95. ``tau > 1`` switches merging off (cosine
            similarity never exceeds 1). Can be changed at test time. Default: 0.88.
        window_size (int): Window side in tokens, >= 2. Default: 2.
        batch_policy (str): ``'per_image'`` or ``'min'`` (see above). Default: 'per_image'.
        proportional_attn (bool): Make every later block add ``log(size)`` to its attention
            logits (off in the released ALGM). Default: False.
    """

    scope = 'token_reducer.local_window_merge'
    stage_name = 'local'

    def __init__(self,
                 layer: int = 0,
                 tau: float = 0.88,
                 window_size: int = 2,
                 batch_policy: str = 'per_image',
                 proportional_attn: bool = False) -> None:
        super().__init__(layer, batch_policy, proportional_attn)
        if isinstance(tau, bool) or not isinstance(tau, (int, float)):
            raise ValueError(f'LocalWindowMerge: tau must be a number (tau > 1 switches merging '
                             f'off), got {tau!r}')
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 2:
            raise ValueError(f'LocalWindowMerge: window_size must be an int >= 2, got '
                             f'{window_size!r}')
        self.tau = float(tau)
        self.window_size = window_size

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
               book: TokenBookkeeping) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Decide the merges: per image, source and destination indices (1-D) in its sequence.

        Each window gives ``k - 1`` sources (all but its top-left token) merging into its
        top-left token; the windows are listed in descending score.
        """
        if not book.is_full_grid or book.packed:
            raise ValueError('LocalWindowMerge needs the full token grid; place it before any '
                             'other merging reducer (ALGM: layer 0, before the global stage)')
        self._check_grid(book.hw_shape)
        prefix = book.num_prefix
        scores, index = self.window_scores(book.patch_tokens(x), book.hw_shape)
        eligible = scores >= self.tau
        nums = merge_counts(eligible.sum(1), self.batch_policy)
        index = index.to(x.device) + prefix
        # topk lists each image's windows in descending score; ineligible ones come last.
        ranked = scores.masked_fill(~eligible, float('-inf')).topk(
            max(nums), dim=1).indices
        src, dst = [], []
        for b, num in enumerate(nums):
            win = index[ranked[b, :num]]  # (num, k)
            src.append(win[:, 1:].reshape(-1))
            dst.append(win[:, :1].expand(-1, win.shape[1] - 1).reshape(-1))
        return src, dst

    def order(self, book: TokenBookkeeping, counts_before: Sequence[int],
              src: List[torch.Tensor], dst: List[torch.Tensor]) -> Optional[List[torch.Tensor]]:
        """[prefix, merged windows in descending score, unmerged tokens in raster order]."""
        if all(s.numel() == 0 for s in src):
            return None
        prefix = book.num_prefix
        per_window = self.window_size**2 - 1
        orders = []
        for b, (n_old, s, d) in enumerate(zip(counts_before, src, dst)):
            device = s.device
            removed = torch.zeros(n_old, dtype=torch.bool, device=device)
            removed[s] = True
            new_pos = (~removed).long().cumsum(0) - 1
            windows = new_pos[d.reshape(-1, per_window)[:, 0]]
            rest = torch.ones(book.counts[b], dtype=torch.bool, device=device)
            rest[:prefix] = False
            rest[windows] = False
            orders.append(torch.cat([torch.arange(prefix, device=device), windows,
                                     rest.nonzero()[:, 0]]))
        return orders

    def extra_repr(self) -> str:
        return (f'layer={self.layer}, tau={self.tau}, window_size={self.window_size}, '
                f'batch_policy={self.batch_policy!r}, proportional_attn={self.proportional_attn}')
