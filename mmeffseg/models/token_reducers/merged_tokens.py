"""Container a plain-ViT backbone hands to a head that works on merged tokens."""
from dataclasses import dataclass
from typing import Optional

import torch

from .token_bookkeeping import TokenBookkeeping


@dataclass
class MergedTokens:
    """Reduced patch tokens of one backbone output and the bookkeeping to unmerge them.

    A head that understands this type (e.g. ``MergedSegmenterMaskTransformerHead``) runs on
    ``tokens`` and restores its per-token predictions with ``book.restore``; any other head
    should get full-grid maps instead (``ReducerViT(output_merged=False)``).

    Args:
        tokens (Tensor): Patch tokens (B, N_cur - num_prefix, C), prefix (CLS) removed; packed
            (1, P, C) when the images hold different counts (``book.packed``).
        book (TokenBookkeeping): Bookkeeping snapshot taken when ``tokens`` were output.
        cls_token (Tensor, optional): The CLS token (B, C) when the backbone outputs it.
    """
    tokens: torch.Tensor
    book: TokenBookkeeping
    cls_token: Optional[torch.Tensor] = None

    @property
    def hw_shape(self):
        """Original patch grid (h, w)."""
        return self.book.hw_shape

    def restore_map(self) -> torch.Tensor:
        """Full-grid feature map (B, C, h, w) of the tokens."""
        return self.book.restore_map(self.tokens).contiguous()
