"""The one token bookkeeping piece shared by all token reducers (merging and pruning).

A plain ViT runs on ``num_prefix`` special tokens (the CLS token) followed by the ``h * w``
patch tokens. Reducers shorten (merging) or sub-select (pruning) that sequence inside the
network. :class:`TokenBookkeeping` remembers, for one forward pass,

* ``counts`` (B,): the current sequence length of every image (prefix included). While all
  images have the same count the tokens are a rectangular (B, N, C) tensor; once they differ
  (per-image merging) the tokens are **packed**: one (1, T, C) tensor, T = sum of the counts,
  image after image, each image's prefix first. Per-token work (norms, linears, MLP) runs on
  the packed tensor as it is; attention runs per image (:mod:`.block_ops`). A batch of one is
  both layouts at once.
* ``sizes``: how many original patches each current token stands for (starts at 1; the CLS
  token keeps size 1), in the tokens' layout;
* ``index_map`` (B, h * w), long: for every original patch, the index in *its image's* current
  sequence (prefix included) of the token that now holds it. This is O(N) memory, unlike the
  dense N x N source matrix of the released ALGM code;

and restores the full patch grid from the current tokens by one gather through ``index_map``.
Every operation works on the flattened token list with global indices, so the rectangular and
the packed layout share one code path.
"""
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch

# Per-image indices: a (B, M) tensor (same M for every image) or one 1-D tensor per image.
PerImageIndex = Union[torch.Tensor, Sequence[torch.Tensor]]


class TokenBookkeeping:
    """Token counts, sizes and an index map from original patches to current tokens.

    Create one instance per forward pass, after the patch embedding.

    Args:
        batch_size (int): Number of images B.
        hw_shape (tuple[int, int]): Patch grid (h, w).
        num_prefix (int): Number of leading special tokens (1 with a CLS token, else 0).
            They are never merged and are not part of the grid. Default: 1.
        device (torch.device, optional): Device of the bookkeeping tensors. Default: None.

    Attributes:
        counts (list[int]): Current sequence length of every image, prefix included.
        index_map (Tensor): Long (B, h * w), per image values in [num_prefix, counts[b]).
        proportional_attn (bool): Set by a reducer that wants every later block to add
            ``log(sizes)`` to its attention logits (proportional attention). Default: False.
        fused_attention (bool): Set by the host to run every block's attention through the
            packed path, full grid included. Default: False.
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
        self.device = device
        self.counts: List[int] = [n] * batch_size
        self._sizes = torch.ones(batch_size * n, device=device)  # flat, image after image
        self.index_map = (torch.arange(h * w, device=device) + num_prefix).expand(
            batch_size, -1).contiguous()
        self.num_merged = 0
        self.reordered = False
        self.fused_attention = False
        self.proportional_attn = False
        self.block_counts: List[torch.Tensor] = []
        self.stages: List[dict] = []
        self.record_stages = False
        self._pending_counts: Optional[torch.Tensor] = None
        self.reducer_state: Dict[str, Any] = {}

    # ------------------------------------------------------------------ state
    @property
    def batch_size(self) -> int:
        return len(self.counts)

    @property
    def packed(self) -> bool:
        """True when the images hold different numbers of tokens (layout (1, T, C))."""
        return len(set(self.counts)) > 1

    @property
    def num_tokens(self) -> int:
        """Current sequence length, prefix (CLS) included (the same for every image)."""
        if self.packed:
            raise ValueError('num_tokens: the images hold different numbers of tokens '
                             f'({self.counts}); use book.counts')
        return self.counts[0]

    @property
    def num_patch_tokens(self) -> int:
        """Current number of non-prefix tokens (the same for every image)."""
        return self.num_tokens - self.num_prefix

    @property
    def total_tokens(self) -> int:
        """T, the number of tokens of the whole batch (prefix included)."""
        return sum(self.counts)

    @property
    def is_full_grid(self) -> bool:
        """True while no token has been merged or moved (still the full grid, raster order)."""
        return self.num_merged == 0 and not self.reordered

    @property
    def sizes(self) -> torch.Tensor:
        """Token sizes in the tokens' layout: (B, N_cur), or (1, T) when packed."""
        return self.shape_like_tokens(self._sizes)

    def counts_tensor(self) -> torch.Tensor:
        """Long (B,) current counts, prefix included."""
        return torch.tensor(self.counts, dtype=torch.long, device=self._sizes.device)

    def offsets(self) -> torch.Tensor:
        """Long (B,) position of every image's first token in the flattened batch."""
        counts = self.counts_tensor()
        return counts.cumsum(0) - counts

    def image_ids(self) -> torch.Tensor:
        """Long (T,) image index of every token of the flattened batch."""
        return torch.repeat_interleave(
            torch.arange(self.batch_size, device=self._sizes.device), self.counts_tensor())

    def patch_positions(self) -> torch.Tensor:
        """Long (T - B * num_prefix,) flat positions of all non-prefix tokens, image by image."""
        ids = self.image_ids()
        local = torch.arange(ids.numel(), device=ids.device) - self.offsets()[ids]
        return (local >= self.num_prefix).nonzero()[:, 0]

    def attention_counts(self) -> Optional[List[int]]:
        """Per-image token counts for :func:`~.block_ops.run_attention`, or None.

        None while the tokens are still the untouched full grid (unless ``fused_attention`` is
        set): the block then runs its own attention, exactly as in the baseline model.
        Afterwards the counts, so attention runs per image on packed tokens (or batched when
        all counts are equal) with ``scaled_dot_product_attention``.
        """
        if self.is_full_grid and not self.packed and not self.fused_attention:
            return None
        return list(self.counts)

    def attention_bias(self) -> Optional[torch.Tensor]:
        """Per-key attention bias for the current tokens (in their layout), or None.

        ``log(sizes)`` once a reducer switched proportional attention on, so a token that
        stands for s patches gets the attention weight of s copies of itself.
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
        snap.counts = list(self.counts)
        snap.block_counts = list(self.block_counts)
        snap.stages = list(self.stages)
        snap.reducer_state = dict(self.reducer_state)
        return snap

    # ---------------------------------------------------------------- layout
    def shape_like_tokens(self, flat: torch.Tensor) -> torch.Tensor:
        """(T, ...) -> (B, N, ...) while all counts are equal, else (1, T, ...)."""
        if self.packed:
            return flat.unsqueeze(0)
        return flat.reshape(self.batch_size, self.counts[0], *flat.shape[1:])

    def flatten(self, x: torch.Tensor, name: str = 'tokens') -> torch.Tensor:
        """(B, N, C) or packed (1, T, C) tokens -> (T, C), checked against the counts."""
        expected = (1, self.total_tokens) if self.packed else (self.batch_size, self.counts[0])
        if x.dim() != 3 or tuple(x.shape[:2]) != expected:
            raise ValueError(f'{name} of shape {tuple(x.shape)} do not match the bookkeeping '
                             f'(per-image counts {self.counts}); expected {expected + ("C", )}')
        return x.reshape(-1, x.shape[-1])

    def split(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Per image, its current tokens (N_b, C) (views of ``x``)."""
        return list(self.flatten(x).split(self.counts))

    def prefix_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, num_prefix, C): every image's prefix tokens."""
        flat = self.flatten(x)
        pos = self.offsets()[:, None] + torch.arange(self.num_prefix, device=flat.device)
        return flat[pos]

    def patch_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Non-prefix tokens in the layout: (B, N - num_prefix, C) or packed (1, P, C)."""
        if not self.packed:
            return x.reshape(self.batch_size, self.counts[0], -1)[:, self.num_prefix:]
        return self.flatten(x)[self.patch_positions()].unsqueeze(0)

    def with_prefix(self, patch_values: torch.Tensor, fill: float) -> torch.Tensor:
        """Per-patch values (patch layout) -> per-token values (token layout), prefix = fill."""
        full = patch_values.new_full((self.total_tokens, ) + patch_values.shape[2:], fill)
        full[self.patch_positions()] = patch_values.reshape(-1, *patch_values.shape[2:])
        return self.shape_like_tokens(full)

    def per_image_sum(self, patch_values: torch.Tensor) -> torch.Tensor:
        """(B,) sums over every image's patch tokens of per-patch values (patch layout)."""
        ids = self.image_ids()[self.patch_positions()]
        flat = patch_values.reshape(-1)
        return flat.new_zeros(self.batch_size).index_add(0, ids, flat)

    def _global(self, index: PerImageIndex) -> Tuple[torch.Tensor, List[int]]:
        """Per-image local indices -> flat global indices and the count per image."""
        if isinstance(index, torch.Tensor):
            if index.dim() != 2 or index.shape[0] != self.batch_size:
                raise ValueError(f'per-image indices must be (B={self.batch_size}, M) or a list '
                                 f'of B 1-D tensors, got shape {tuple(index.shape)}')
            index = list(index)
        if len(index) != self.batch_size:
            raise ValueError(f'got indices for {len(index)} images, the batch has '
                             f'{self.batch_size}')
        offsets = self.offsets().tolist()
        parts, lengths = [], []
        for b, idx in enumerate(index):
            idx = idx.reshape(-1).long().to(self._sizes.device)
            if idx.numel() and (bool((idx < 0).any()) or int(idx.max()) >= self.counts[b]):
                raise ValueError(f'image {b}: token index out of range [0, {self.counts[b]})')
            parts.append(idx + offsets[b])
            lengths.append(idx.numel())
        return torch.cat(parts), lengths

    # ---------------------------------------------------------------- merging
    def merge(self, x: torch.Tensor, src_idx: PerImageIndex,
              dst_idx: PerImageIndex) -> torch.Tensor:
        """Merge source tokens into destination tokens with size-weighted averages.

        Each image may merge its own number of tokens: afterwards the tokens are rectangular
        if every image holds the same count, packed (1, T, C) otherwise. Several sources may
        share one destination; a source must not also be a destination, and prefix (CLS)
        tokens take no part (neither source nor destination).

        Args:
            x (Tensor): Current tokens, (B, N_cur, C) or packed (1, T, C).
            src_idx (Tensor | list[Tensor]): Per image, the indices (in that image's current
                sequence) of the tokens that disappear, unique within the image: a (B, M)
                tensor or B 1-D tensors of any lengths.
            dst_idx (Tensor | list[Tensor]): Per image, the token each source merges into
                (same shapes as ``src_idx``).

        Returns:
            Tensor: The merged tokens; the kept tokens keep their order.
        """
        flat = self.flatten(x, 'merge: tokens')
        src, num_src = self._global(src_idx)
        dst, num_dst = self._global(dst_idx)
        if num_src != num_dst:
            raise ValueError(f'merge: per image, src_idx has {num_src} and dst_idx {num_dst} '
                             'entries; they must pair up')
        if src.numel() == 0:
            return x
        offsets = self.offsets()
        ids = self.image_ids()
        if bool((src - offsets[ids[src]] < self.num_prefix).any()) or bool(
                (dst - offsets[ids[dst]] < self.num_prefix).any()):
            raise ValueError(f'merge: prefix (CLS) tokens, indices < {self.num_prefix}, are '
                             'never merged (neither as source nor as destination)')
        total, channels = flat.shape
        keep = torch.ones(total, dtype=torch.bool, device=flat.device)
        keep[src] = False
        if int(keep.sum()) != total - src.numel():
            raise ValueError('merge: src_idx has repeated indices within an image')
        if not bool(keep[dst].all()):
            raise ValueError('merge: a destination token is also merged away (src and dst '
                             'sets must be disjoint)')

        sizes = self._sizes
        weighted = flat * sizes.to(flat.dtype).unsqueeze(-1)
        summed = weighted.index_add(0, dst, weighted[src])
        new_sizes = sizes.index_add(0, dst, sizes[src])
        # New position of every old token: kept ones by a running count, removed ones take
        # the new position of their destination. One gather then updates the index map.
        new_pos = keep.long().cumsum(0) - 1
        new_pos[src] = new_pos[dst]
        global_map = self.index_map + offsets[:, None]
        self.counts = [c - m for c, m in zip(self.counts, num_src)]
        self.index_map = new_pos[global_map] - self.offsets()[:, None]
        kept_sizes = new_sizes[keep]
        out = summed[keep] / kept_sizes.to(flat.dtype).unsqueeze(-1)
        self._sizes = kept_sizes
        self.num_merged += src.numel()
        return self.shape_like_tokens(out)

    def reorder(self, x: torch.Tensor, order: PerImageIndex) -> torch.Tensor:
        """Permute every image's tokens: new token j of image b is old token ``order[b][j]``.

        Args:
            x (Tensor): Current tokens in their layout.
            order (Tensor | list[Tensor]): Per image, a permutation of ``range(counts[b])``.

        Returns:
            Tensor: The reordered tokens (same layout).
        """
        flat = self.flatten(x, 'reorder: tokens')
        perm, lengths = self._global(order)
        if lengths != self.counts:
            raise ValueError(f'reorder: the orders have lengths {lengths}, the images hold '
                             f'{self.counts} tokens')
        if perm.unique().numel() != perm.numel():
            raise ValueError('reorder: every order must be a permutation of its image\'s tokens')
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(perm.numel(), device=perm.device)
        offsets = self.offsets()[:, None]
        self.index_map = inverse[self.index_map + offsets] - offsets
        self._sizes = self._sizes[perm]
        self.reordered = True
        return self.shape_like_tokens(flat[perm])

    # -------------------------------------------------------------- restoring
    def restore(self, x: torch.Tensor) -> torch.Tensor:
        """Full patch grid from current tokens, by gathering through ``index_map``.

        Args:
            x (Tensor): Tokens with the prefix ((B, N_cur, C), packed (1, T, C)) or without it
                ((B, N_cur - num_prefix, C), packed (1, T - B * num_prefix, C)).

        Returns:
            Tensor: (B, h * w, C), patch tokens only, in raster order.
        """
        if x.dim() != 3:
            raise ValueError(f'restore expects tokens (B, N, C) or packed (1, T, C), got '
                             f'{tuple(x.shape)}')
        batch, prefix = self.batch_size, self.num_prefix
        tokens = x.shape[0] * x.shape[1]
        with_prefix = tokens == self.total_tokens
        if not with_prefix and tokens != self.total_tokens - batch * prefix:
            raise ValueError(f'restore: got {tokens} tokens, expected {self.total_tokens} (with '
                             f'prefix) or {self.total_tokens - batch * prefix} (without)')
        if self.is_full_grid and not self.packed:
            grid = x.reshape(batch, -1, x.shape[-1])
            return grid[:, prefix:] if with_prefix else grid
        drop = 0 if with_prefix else prefix
        counts = self.counts_tensor() - drop
        offsets = counts.cumsum(0) - counts
        return x.reshape(-1, x.shape[-1])[self.index_map - drop + offsets[:, None]]

    def restore_map(self, x: torch.Tensor) -> torch.Tensor:
        """Like :meth:`restore`, shaped as a feature map (B, C, h, w)."""
        h, w = self.hw_shape
        full = self.restore(x)
        return full.transpose(1, 2).reshape(full.shape[0], full.shape[2], h, w)

    # ------------------------------------------------------------- statistics
    def set_block_counts(self, counts: torch.Tensor) -> None:
        """Tell the host how many tokens each image really ran through the current block.

        A reducer that runs a block on a subset (pruning) calls this; without a call the
        host counts the whole current sequence.
        """
        self._pending_counts = counts.detach()

    def end_block(self) -> None:
        """Called by the host after every block: log tokens per image for that block."""
        counts = self._pending_counts
        if counts is None:
            counts = self.counts_tensor()
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
                     num_tokens=self.counts[0], counts=list(self.counts),
                     patch_mask=None if patch_mask is None else patch_mask.detach().clone()))
