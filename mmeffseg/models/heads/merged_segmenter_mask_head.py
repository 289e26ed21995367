"""Segmenter's mask-transformer head running on merged tokens (ALGM)."""
from typing import List, Sequence, Union

import torch
from mmseg.models.decode_heads import SegmenterMaskTransformerHead
from mmseg.registry import MODELS

from ..token_reducers.merged_tokens import MergedTokens


@MODELS.register_module()
class MergedSegmenterMaskTransformerHead(SegmenterMaskTransformerHead):
    """``SegmenterMaskTransformerHead`` that decodes merged tokens and unmerges its masks.

    Given :class:`MergedTokens` (from ``ReducerViT(output_merged=True)``), the head's
    transformer runs on the N_cur merged tokens (so the decoder saves compute too) and the
    class masks (B, K, N_cur) are unmerged to the full (B, K, h, w) grid through the index
    map: every patch gets the masks of the token that holds it. Given ordinary (B, C, h, w)
    maps it behaves exactly like mmseg's head. Packed merged tokens (images with different
    token counts) are decoded image by image, so every image's masks equal those it gets
    alone. Same arguments as ``SegmenterMaskTransformerHead``.
    """

    def forward(self, inputs: Union[Sequence[torch.Tensor], List]) -> torch.Tensor:
        """Class masks (B, num_classes, h, w) from backbone outputs or merged tokens."""
        merged = inputs[self.in_index] if isinstance(self.in_index, int) else None
        if not isinstance(merged, MergedTokens):
            if any(isinstance(item, MergedTokens) for item in inputs):
                raise ValueError(
                    f'{type(self).__name__}: merged tokens must be the input selected by '
                    f'in_index ({self.in_index}) with input_transform=None')
            return super().forward(inputs)
        # The parent flattens a (B, C, h, w) map in raster order; a (B, C, 1, N_cur) map of
        # the merged tokens gives exactly the merged token sequence, so the parent's forward
        # runs unchanged and returns masks of shape (B, K, 1, N_cur).
        book = merged.book
        if book.packed:
            parts = merged.tokens.split([c - book.num_prefix for c in book.counts], dim=1)
            per_token = torch.cat([self._decode_tokens(inputs, part) for part in parts], dim=1)
        else:
            per_token = self._decode_tokens(inputs, merged.tokens)
        return book.restore_map(per_token).contiguous()

    def _decode_tokens(self, inputs: Sequence, tokens: torch.Tensor) -> torch.Tensor:
        """Per-token class masks (B, N, K) of tokens (B, N, C) through the parent's forward."""
        inputs = list(inputs)
        inputs[self.in_index] = tokens.transpose(1, 2).unsqueeze(2)
        return super().forward(inputs).flatten(2).transpose(1, 2)
