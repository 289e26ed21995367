"""The forward template the merge reducers (ALGM's two stages) share; they differ in `assign`."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from torch.profiler import record_function

from .base_token_reducer import BaseTokenReducer
from .batch_policy import check_batch_policy
from .block_ops import run_attention, run_ffn
from .token_bookkeeping import TokenBookkeeping


class BaseMergeReducer(BaseTokenReducer):
    """Merge tokens inside one block, after the attention residual add and before the MLP.

    Subclasses decide the merges in :meth:`assign` (per image, source and destination indices
    in the image's current sequence) and may reorder the merged tokens in :meth:`order`.

    Args:
        layer (int): 0-based block index.
        batch_policy (str): ``'per_image'``: every image merges what it would merge alone (the
            tokens are packed, each image keeps its own count); ``'min'``: every image merges
            the batch minimum (the released ALGM; rectangular batches).
        proportional_attn (bool): Make every later block add ``log(size)`` to its attention
            logits (off in the released ALGM).
        scope (str): Profiler scope name of the merging step.
    """

    scope = 'token_reducer.merge'

    def __init__(self, layer: int, batch_policy: str, proportional_attn: bool) -> None:
        super().__init__(layer)
        self.batch_policy = check_batch_policy(type(self).__name__, batch_policy)
        self.proportional_attn = proportional_attn

    @property
    def enabled(self) -> bool:
        raise NotImplementedError

    def assign(self, x: torch.Tensor,
               book: TokenBookkeeping) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Per image, 1-D source and destination indices into its current sequence."""
        raise NotImplementedError

    def order(self, book: TokenBookkeeping, counts_before: Sequence[int],
              src: List[torch.Tensor], dst: List[torch.Tensor]):
        """Per-image token order after the merge (None: the kept tokens keep their order)."""
        return None

    def forward(self, block: nn.Module, x: torch.Tensor,
                book: TokenBookkeeping) -> torch.Tensor:
        x = run_attention(block, x, attn_bias=book.attention_bias(),
                          counts=book.attention_counts())
        if self.enabled:
            # Named scope so a profiler can report the merging step's own share of time.
            with record_function(self.scope):
                src, dst = self.assign(x.detach(), book)
                counts_before = list(book.counts)
                x = book.merge(x, src, dst)
                order = self.order(book, counts_before, src, dst)
                if order is not None:
                    x = book.reorder(x, order)
                if self.proportional_attn:
                    book.proportional_attn = True
        book.record_stage(self.stage_name, self.layer)
        return run_ffn(block, x, counts=book.attention_counts())
