"""The one token bookkeeping piece shared by all token reducers (merging and pruning).

A plain ViT runs on ``num_prefix`` special tokens (the CLS token) followed by the ``h * w``
patch tokens. Reducers shorten (merging) or sub-select (pruning) that sequence inside the
network. :class:`TokenBookkeeping` remembers, for one forward pass,

* ``sizes`` (B, N_cur): how many original patches each current token stands for (starts at 1;
  the CLS token keeps size 1);
* ``index_map`` (B, h * w), long: for every original patch, the index in the current sequence
  (prefix included) of the token that now holds it. This is O(N) memory, unlike the dense
  N x N source matrix of the released ALGM code;

and restores the full patch grid from the current tokens by one gather through ``index_map``.
"""
import copy
from typing import Any, Dict, List, Optional, Tuple

import torch


class TokenBookkeeping:
    """Token sizes and an index map from original patches to current tokens.

    Create one instance per forward pass, after the patch embedding.

    Args:
        batch_size (int): Number of images B.
        hw_shape (tuple[int, int]): Patch grid (h, w).
        num_prefix (int): Number of leading special tokens (1 with a CLS token, else 0).
            They are never merged and are not part of the grid. Default: 1.
        device (torch.device, optional): Device of the bookkeeping tensors. Default: None.

    Attributes:
        sizes (Tensor): Float (B, N_cur) with N_cur = current sequence length (prefix included).
        index_map (Tensor): Long (B, h * w), values in [num_prefix, N_cur).
        proportional_attn (bool): Set by a reducer that wants every later block to add
            ``log(sizes)`` to its attention logits (proportional attention). Default: False.
        block_counts (list[Tensor]): Per block, the number of tokens each image ran through
            it, long (B,). The host appends to it; see :meth:`end_block`.
        reducer_state (dict): What a reducer hands to later reducers of the same forward,
            under a key of its own (e.g. the nested pruning option's last keep mask).
    """

    def __init__(self,
                 batch_size: int,
                 hw_shape: Tuple[int, int],
                 num_prefix: int = 1,
                 device: Optional[torch.device] = None) -> None:
        h, w = int(hw_shape[0]), int(hw_shape[1])
        if batch_size < 1 or h < 1 or w < 1:
            raise ValueError(f'TokenBookkeeping needs batch_size >= 1 and a non-empty grid, got '
                             f'batch_size={batch_size}, hw_shape={tuple(hw_shape)}')
        if num_prefix < 0:
            raise ValueError(f'num_prefix must be >= 0, got {num_prefix}')
        self.hw_shape = (h, w)
        self.num_prefix = num_prefix
        n = num_prefix + h * w
        self.sizes = torch.ones(batch_size, n, device=device)
        self.index_map = (torch.arange(h * w, device=device) + num_prefix).expand(
            batch_size, -1).contiguous()
        self.num_merged = 0
        self.proportional_attn = False
        self.block_counts: List[torch.Tensor] = []
        self.stages: List[dict] = []
        self.record_stages = False
        self._pending_counts: Optional[torch.Tensor] = None
        self.reducer_state: Dict[str, Any] = {}

    # ------------------------------------------------------------------ state
    @property
    def batch_size(self) -> int:
        return self.sizes.shape[0]

    @property
    def num_tokens(self) -> int:
        """Current sequence length, prefix (CLS) included."""
        return self.sizes.shape[1]

    @property
    def num_patch_tokens(self) -> int:
        """Current number of non-prefix tokens."""
        return self.sizes.shape[1] - self.num_prefix

    @property
    def is_full_grid(self) -> bool:
        """True while no token has been merged (the sequence is still the full grid)."""
        return self.num_merged == 0

    def attention_bias(self) -> Optional[torch.Tensor]:
        """Per-key attention bias for the current tokens, or None.

        ``log(sizes)`` (B, N_cur) once a reducer switched proportional attention on, so a
        token that stands for s patches gets the attention weight of s copies of itself.
        """
        if not self.proportional_attn:
            return None
        return self.sizes.log()

    def snapshot(self) -> 'TokenBookkeeping':
        """A frozen copy of the current state (tensors are shared, never changed in place).

        Merging replaces ``sizes`` and ``index_map`` with new tensors, so a snapshot keeps the
        state of the moment it was taken; handed to a head with the tokens of that moment.
        """
        snap = copy.copy(self)
        snap.block_counts = list(self.block_counts)
        snap.stages = list(self.stages)
        snap.reducer_state = dict(self.reducer_state)
        return snap

    # ---------------------------------------------------------------- merging
    def merge(self, x: torch.Tensor, src_idx: torch.Tensor, dst_idx: torch.Tensor) -> torch.Tensor:
        """Merge source tokens into destination tokens with size-weighted averages.

        Every image merges the same number M of tokens so the result stays rectangular.
        Several sources may share one destination; a source must not also be a destination,
        and prefix (CLS) tokens take no part (neither source nor destination).

        Args:
            x (Tensor): Current tokens (B, N_cur, C), prefix included.
            src_idx (Tensor): Long (B, M), indices (in the current sequence) of the tokens that
                disappear. Unique within each row.
            dst_idx (Tensor): Long (B, M), index of the token each source merges into.

        Returns:
            Tensor: The merged tokens (B, N_cur - M, C); the kept tokens keep their order.
        """
        batch, n, channels = x.shape
        if n != self.num_tokens or batch != self.batch_size:
            raise ValueError(f'merge: tokens of shape {tuple(x.shape)} do not match the '
                             f'bookkeeping (B={self.batch_size}, N_cur={self.num_tokens})')
        if src_idx.shape != dst_idx.shape or src_idx.dim() != 2 or src_idx.shape[0] != batch:
            raise ValueError(f'merge: src_idx {tuple(src_idx.shape)} and dst_idx '
                             f'{tuple(dst_idx.shape)} must both be (B={batch}, M)')
        num_src = src_idx.shape[1]
        if num_src == 0:
            return x
        if bool((src_idx < self.num_prefix).any()) or bool((dst_idx < self.num_prefix).any()):
            raise ValueError(f'merge: prefix (CLS) tokens, indices < {self.num_prefix}, are '
                             'never merged (neither as source nor as destination)')
        keep = torch.ones(batch, n, dtype=torch.bool, device=x.device)
        keep.scatter_(1, src_idx, False)
        if bool((keep.sum(1) != n - num_src).any()):
            raise ValueError('merge: src_idx has repeated indices within an image')
        if not bool(keep.gather(1, dst_idx).all()):
            raise ValueError('merge: a destination token is also merged away (src and dst '
                             'sets must be disjoint)')

        sizes = self.sizes.to(x.dtype)
        weighted = x * sizes.unsqueeze(-1)
        src_feat = weighted.gather(1, src_idx.unsqueeze(-1).expand(-1, -1, channels))
        summed = weighted.scatter_add(
            1, dst_idx.unsqueeze(-1).expand(-1, -1, channels), src_feat)
        new_sizes = self.sizes.scatter_add(1, dst_idx, self.sizes.gather(1, src_idx))

        keep_idx = keep.nonzero()[:, 1].view(batch, n - num_src)
        # New position of every old token: kept ones by a running count, removed ones take
        # the new position of their destination. One gather then updates the index map.
        new_pos = keep.long().cumsum(1) - 1
        new_pos = new_pos.scatter(1, src_idx, new_pos.gather(1, dst_idx))
        self.index_map = new_pos.gather(1, self.index_map)

        out = summed.gather(1, keep_idx.unsqueeze(-1).expand(-1, -1, channels))
        kept_sizes = new_sizes.gather(1, keep_idx)
        out = out / kept_sizes.to(x.dtype).unsqueeze(-1)
        self.sizes = kept_sizes
        self.num_merged += num_src
        return out

    # -------------------------------------------------------------- restoring
    def restore(self, x: torch.Tensor) -> torch.Tensor:
        """Full patch grid from current tokens, by gathering through ``index_map``.

        Args:
            x (Tensor): (B, N_cur, C) with the prefix, or (B, N_cur - num_prefix, C) without.

        Returns:
            Tensor: (B, h * w, C), patch tokens only, in raster order.
        """
        if x.dim() != 3 or x.shape[0] != self.batch_size:
            raise ValueError(f'restore expects (B={self.batch_size}, N, C) tokens, '
                             f'got {tuple(x.shape)}')
        if x.shape[1] == self.num_tokens:
            index = self.index_map
            if self.is_full_grid:
                return x[:, self.num_prefix:]
        elif x.shape[1] == self.num_patch_tokens:
            index = self.index_map - self.num_prefix
            if self.is_full_grid:
                return x
        else:
            raise ValueError(f'restore: got {x.shape[1]} tokens, expected {self.num_tokens} '
                             f'(with prefix) or {self.num_patch_tokens} (without)')
        return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))

    def restore_map(self, x: torch.Tensor) -> torch.Tensor:
        """Like :meth:`restore`, shaped as a feature map (B, C, h, w)."""
        h, w = self.hw_shape
        full = self.restore(x)
        return full.transpose(1, 2).reshape(full.shape[0], full.shape[2], h, w)

    # --------------------------------------------------------------- pruning
    @staticmethod
    def gather(x: torch.Tensor, keep_idx: torch.Tensor) -> torch.Tensor:
        """Tokens ``x[b, keep_idx[b]]``: (B, N, C), long (B, K) -> (B, K, C)."""
        return x.gather(1, keep_idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))

    @staticmethod
    def scatter(full: torch.Tensor, kept: torch.Tensor, keep_idx: torch.Tensor) -> torch.Tensor:
        """Put processed tokens back: a copy of ``full`` with rows ``keep_idx`` set to ``kept``.

        Tokens not in ``keep_idx`` keep their features (pruned tokens are not discarded).
        Out of place, so gradients flow to both ``full`` and ``kept``.
        """
        return full.scatter(1, keep_idx.unsqueeze(-1).expand(-1, -1, full.shape[-1]), kept)

    # ------------------------------------------------------------- statistics
    def set_block_counts(self, counts: torch.Tensor) -> None:
        """Tell the host how many tokens each image really ran through the current block.

        A reducer that runs a block on a subset (pruning) calls this; without a call the
        host counts the whole current sequence.
        """
        self._pending_counts = counts.detach()

    def end_block(self, num_tokens: int, device: Optional[torch.device] = None) -> None:
        """Called by the host after every block: log tokens per image for that block."""
        counts = self._pending_counts
        if counts is None:
            counts = torch.full((self.batch_size, ), num_tokens, dtype=torch.long,
                                device=device)
        self.block_counts.append(counts)
        self._pending_counts = None

    def record_stage(self, name: str, layer: int,
                     patch_mask: Optional[torch.Tensor] = None) -> None:
        """Store the current state under a stage name (only when ``record_stages`` is set).

        Used by ``tools/analysis_tools/visualize_tokens.py`` to outline the merged regions
        after each reducer.

        Args:
            name (str): Stage name shown in the picture.
            layer (int): Block index of the stage.
            patch_mask (Tensor, optional): Bool (B, h * w), False for patches a reducer left
                out of its block (pruning); drawn darkened. Default: None.
        """
        if self.record_stages:
            self.stages.append(
                dict(name=name, layer=layer, index_map=self.index_map.detach().clone(),
                     num_tokens=self.num_tokens,
                     patch_mask=None if patch_mask is None else patch_mask.detach().clone()))
