"""Run the two halves of an mmseg ``TransformerEncoderLayer`` separately.

Token reducers act *inside* a block (ALGM merges between the attention residual and the MLP;
pruning runs a block on a subset of tokens), so they need the attention half and the MLP half
as separate calls. These helpers call the block's own submodules (``norm1``, ``attn``,
``norm2``, ``ffn``), so no reducer re-implements the block, and
``run_ffn(block, run_attention(block, x))`` equals ``block(x)`` exactly.

Packed batches: given per-image token ``counts``, the tokens may be a packed (1, T, C) tensor
(images of different lengths one after another). The per-token work (norms, the qkv and
output projections, the MLP) then runs once on all T tokens; only the attention itself runs
per image, with ``torch.nn.functional.scaled_dot_product_attention`` (one batched call when
all counts are equal). It uses the block's own weights (``attn.attn.in_proj_weight``,
``out_proj``, dropouts), so it computes the block's function, not a copy of its code.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def _attention_mask(block: nn.Module, num_queries: int,
                    key_padding_mask: Optional[torch.Tensor],
                    attn_bias: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """Fold a per-key bias (and a key mask) into the float mask ``nn.MultiheadAttention`` takes.

    ``nn.MultiheadAttention`` adds a float ``attn_mask`` of shape
    (B * num_heads, num_queries, num_keys) to the attention logits; a per-key bias therefore
    has to be broadcast to that shape.
    """
    if key_padding_mask is not None:
        # Mixing a float attn_mask with a bool key_padding_mask is deprecated in torch:
        # turn the key mask into -inf entries of the same float bias instead.
        masked = torch.zeros_like(attn_bias).masked_fill(key_padding_mask, float('-inf'))
        attn_bias = attn_bias + masked
    batch, num_keys = attn_bias.shape
    num_heads = block.attn.num_heads
    return attn_bias[:, None, None, :].expand(batch, num_heads, num_queries, num_keys).reshape(
        batch * num_heads, num_queries, num_keys)


def _per_image(fn, x: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    """Apply ``fn`` to every image of packed tokens separately (per-sample ops: DropPath)."""
    return torch.cat([fn(part) for part in x.split(list(counts), dim=1)], dim=1)


def _packed_attention(block: nn.Module, x: torch.Tensor, counts: List[int],
                      key_bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``x + attn(norm1(x))`` with attention inside each image only (see module docstring)."""
    wrapper = block.attn
    mha = getattr(wrapper, 'attn', None)
    if not isinstance(mha, nn.MultiheadAttention) or not mha._qkv_same_embed_dim or \
            mha.bias_k is not None or mha.add_zero_attn:
        raise ValueError(f'packed attention needs an mmcv MultiheadAttention around a plain '
                         f'nn.MultiheadAttention (one in_proj_weight, no bias_k / zero attn); '
                         f'got {type(mha).__name__} in {type(block).__name__}')
    channels = x.shape[-1]
    heads = mha.num_heads
    head_dim = channels // heads
    flat = x.reshape(-1, channels)
    qkv = F.linear(block.norm1(flat), mha.in_proj_weight, mha.in_proj_bias)
    dropout = mha.dropout if block.training else 0.0

    def attend(part: torch.Tensor, bias: Optional[torch.Tensor], batch: int) -> torch.Tensor:
        q, k, v = part.reshape(batch, -1, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        mask = None if bias is None else bias.reshape(batch, 1, 1, -1).to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        return out.transpose(1, 2).reshape(-1, channels)

    if len(set(counts)) == 1:
        out = attend(qkv, key_bias, len(counts))
    else:
        biases = [None] * len(counts) if key_bias is None else key_bias.split(counts)
        out = torch.cat([attend(part, bias, 1) for part, bias in zip(qkv.split(counts), biases)])
    out = mha.out_proj(out).reshape(x.shape)

    def residual(o: torch.Tensor) -> torch.Tensor:
        return wrapper.dropout_layer(wrapper.proj_drop(o))

    if block.training and len(set(counts)) > 1:
        return x + _per_image(residual, out, counts)
    return x + residual(out)


def run_attention(block: nn.Module,
                  x: torch.Tensor,
                  key_padding_mask: Optional[torch.Tensor] = None,
                  attn_bias: Optional[torch.Tensor] = None,
                  counts: Optional[Sequence[int]] = None) -> torch.Tensor:
    """Attention half of a block, with its residual: ``x + attn(norm1(x))``.

    Args:
        block (nn.Module): An mmseg ``TransformerEncoderLayer`` (batch-first).
        x (Tensor): Tokens, shape (B, N, C).
        key_padding_mask (Tensor, optional): Bool (B, N); True marks keys that no query may
            attend to (pruned tokens). Default: None.
        attn_bias (Tensor, optional): Float (B, N) added to the attention logits of every
            query for each key, e.g. ``log(size)`` for proportional attention. Default: None.
        counts (Sequence[int], optional): Per-image token counts; given, ``x`` may be packed
            (1, T, C) and attention runs within each image only (masks and bias in the same
            layout as ``x``). None: the block's own attention on (B, N, C). Default: None.

    Returns:
        Tensor: Tokens after the attention residual add, in the layout of ``x``.
    """
    if x.dim() != 3:
        raise ValueError(f'run_attention expects tokens of shape (B, N, C), got {tuple(x.shape)}')
    if counts is not None:
        counts = [int(c) for c in counts]
        if sum(counts) != x.shape[0] * x.shape[1] or (x.shape[0] > 1 and
                                                      len(set(counts)) > 1):
            raise ValueError(f'run_attention: counts {counts} do not fit tokens of shape '
                             f'{tuple(x.shape)} (packed tokens are (1, sum(counts), C))')
        for name, mask in (('key_padding_mask', key_padding_mask), ('attn_bias', attn_bias)):
            if mask is not None and mask.shape != x.shape[:2]:
                raise ValueError(f'{name} must have shape {tuple(x.shape[:2])}, got '
                                 f'{tuple(mask.shape)}')
        key_bias = None if attn_bias is None else attn_bias.reshape(-1).to(x.dtype)
        if key_padding_mask is not None:
            key_bias = x.new_zeros(x.shape[0] * x.shape[1]) if key_bias is None else key_bias
            key_bias = key_bias.masked_fill(key_padding_mask.reshape(-1), float('-inf'))
        return _packed_attention(block, x, counts, key_bias)
    attn_mask = None
    if attn_bias is not None:
        if attn_bias.shape != x.shape[:2]:
            raise ValueError(f'attn_bias must have shape (B, N) = {tuple(x.shape[:2])}, '
                             f'got {tuple(attn_bias.shape)}')
        attn_mask = _attention_mask(block, x.shape[1], key_padding_mask, attn_bias.to(x.dtype))
        key_padding_mask = None
    elif key_padding_mask is not None and key_padding_mask.shape != x.shape[:2]:
        raise ValueError(f'key_padding_mask must have shape (B, N) = {tuple(x.shape[:2])}, '
                         f'got {tuple(key_padding_mask.shape)}')
    return block.attn(
        block.norm1(x), identity=x, attn_mask=attn_mask, key_padding_mask=key_padding_mask)


def run_ffn(block: nn.Module, x: torch.Tensor,
            counts: Optional[Sequence[int]] = None) -> torch.Tensor:
    """MLP half of a block, with its residual: ``x + ffn(norm2(x))``.

    Args:
        block (nn.Module): An mmseg ``TransformerEncoderLayer``.
        x (Tensor): Tokens, shape (B, N, C) or packed (1, T, C).
        counts (Sequence[int], optional): Per-image counts of packed tokens; only needed in
            training, where the MLP's DropPath must drop per image. Default: None.

    Returns:
        Tensor: Tokens after the block, in the layout of ``x``.
    """
    if counts is not None and block.training and len(set(counts)) > 1:
        return _per_image(lambda part: block.ffn(block.norm2(part), identity=part), x, counts)
    return block.ffn(block.norm2(x), identity=x)


def run_block(block: nn.Module,
              x: torch.Tensor,
              key_padding_mask: Optional[torch.Tensor] = None,
              attn_bias: Optional[torch.Tensor] = None,
              counts: Optional[Sequence[int]] = None) -> torch.Tensor:
    """A whole block, optionally with a key mask / attention bias / packed images.

    Without mask, bias and counts this is ``block(x)`` itself (so activation checkpointing and
    any subclass behaviour of the block are kept).
    """
    if key_padding_mask is None and attn_bias is None and counts is None:
        return block(x)
    return run_ffn(block, run_attention(block, x, key_padding_mask, attn_bias, counts), counts)
