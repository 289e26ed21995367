"""The one plain-ViT host for token reducers (ALGM merging, token pruning)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmseg.models.backbones import VisionTransformer

from mmeffseg.registry import build_token_reducer, register_mmdet_and_mmseg
from ..token_reducers.block_ops import run_block
from ..token_reducers.merged_tokens import MergedTokens
from ..token_reducers.token_bookkeeping import TokenBookkeeping


@register_mmdet_and_mmseg
class ReducerViT(VisionTransformer):
    """mmseg's ``VisionTransformer`` that runs token reducers inside configured blocks.

    The host owns no method logic: at a reducer's layer it calls
    ``reducer(block, x, book)`` instead of ``block(x)``; the reducer decides what to merge or
    prune and records it in a per-forward :class:`TokenBookkeeping`. Outputs at
    ``out_indices`` are restored to the full patch grid (B, C, h, w), so every mmseg / mmdet
    head and neck works unchanged. Reducers that let every image keep its own token count
    (``batch_policy='per_image'`` merging, pruning's sparse blocks) hand on packed (1, T, C)
    tokens; the host runs its plain blocks on them through :func:`run_block` with the
    bookkeeping's per-image counts (per-token work packed, attention per image). With
    ``output_merged=True`` the outputs are
    :class:`MergedTokens` instead (reduced tokens + bookkeeping) for a head that restores after
    itself (``MergedSegmenterMaskTransformerHead``). With no reducers (or reducers that
    decide to do nothing) the outputs equal mmseg's ``VisionTransformer`` exactly.

    Args:
        reducers (list[dict]): Token reducer configs, each with ``type`` (a registered
            ``TOKEN_REDUCERS`` class) and ``layer`` (0-based block index), e.g.
            ``[dict(type='LocalWindowMerge', layer=0, tau=0.88),
            dict(type='GlobalBipartiteMerge', layer=4)]``. At most one reducer per block.
            Default: ().
        output_merged (bool): Output :class:`MergedTokens` instead of full-grid maps.
            Default: False.
        fused_attention (bool): Run the attention of every block, full grid included, through
            ``scaled_dot_product_attention`` (the packed path) instead of the block's own
            ``nn.MultiheadAttention``, which mmcv asks for its attention weights. Blocks after
            a reduction always use the packed path; this makes a dense model comparable to
            them (same function, outputs within ~1e-6). Default: False.
        **kwargs: Arguments of mmseg's ``VisionTransformer``.

    Attributes:
        aux_losses (dict[str, Tensor]): After each forward, the reducers' auxiliary losses;
            values under the same key from several reducers are summed.
        last_book (TokenBookkeeping | None): Bookkeeping of the last forward (token counts per
            block, recorded stages), for analysis tools.
    """

    def __init__(self,
                 reducers: Sequence[Union[dict, ConfigDict]] = (),
                 output_merged: bool = False,
                 fused_attention: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.output_merged = output_merged
        self.fused_attention = fused_attention
        if output_merged and self.out_origin:
            raise ValueError('ReducerViT: output_merged=True cannot be combined with '
                             'out_origin=True (the origin output is a full grid); set one off')
        num_layers = len(self.layers)
        self.reducers = nn.ModuleList()
        self._reducer_at: Dict[int, nn.Module] = {}
        if reducers is None:
            reducers = ()
        if not isinstance(reducers, (list, tuple)):
            raise ValueError(f'ReducerViT: reducers must be a list of configs, got {reducers!r}')
        grid = (self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size)
        for cfg in reducers:
            if not isinstance(cfg, dict) or 'layer' not in cfg:
                raise ValueError(f'ReducerViT: every reducer config needs a "layer" key (0-based '
                                 f'block index), got {cfg!r}')
            layer = cfg['layer']
            if not isinstance(layer, int) or not 0 <= layer < num_layers:
                raise ValueError(f'ReducerViT: reducer {cfg.get("type")!r} is placed at layer '
                                 f'{layer!r}, but this ViT has blocks 0..{num_layers - 1}; use a '
                                 'layer in that range (0-based)')
            if layer in self._reducer_at:
                raise ValueError(f'ReducerViT: two reducers at layer {layer} '
                                 f'({type(self._reducer_at[layer]).__name__} and '
                                 f'{cfg.get("type")!r}); put at most one reducer per block')
            reducer = build_token_reducer(cfg)
            reducer.check_config(num_layers, grid, embed_dims=self.pos_embed.shape[-1])
            self.reducers.append(reducer)
            self._reducer_at[layer] = reducer
        self.aux_losses: Dict[str, torch.Tensor] = {}
        self.last_book: Optional[TokenBookkeeping] = None
        self.record_stages = False

    def _format_output(self, x: torch.Tensor, book: TokenBookkeeping):
        """One output: a full-grid map (like mmseg) or :class:`MergedTokens`."""
        cls_token = book.prefix_tokens(x)[:, 0] if self.output_cls_token else None
        if self.output_merged:
            return MergedTokens(tokens=book.patch_tokens(x), book=book.snapshot(),
                                cls_token=cls_token)
        out = book.restore(x)
        batch, _, channels = out.shape
        h, w = book.hw_shape
        out = out.reshape(batch, h, w, channels).permute(0, 3, 1, 2).contiguous()
        if self.output_cls_token:
            out = [out, cls_token]
        return out

    def forward(self, inputs: torch.Tensor) -> Tuple:
        """Embed patches, run blocks (reducers where configured), output at ``out_indices``.

        Args:
            inputs (Tensor): Images (B, 3, H, W).

        Returns:
            tuple: Per out index, a (B, C, h, w) map (or ``[map, cls]`` with
            ``output_cls_token``), or :class:`MergedTokens` with ``output_merged``.
        """
        batch = inputs.shape[0]
        x, hw_shape = self.patch_embed(inputs)
        cls_tokens = self.cls_token.expand(batch, -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        x = self._pos_embeding(x, hw_shape, self.pos_embed)
        if not self.with_cls_token:
            x = x[:, 1:]
        if self.pre_norm:
            x = self.pre_ln(x)

        book = TokenBookkeeping(batch, hw_shape, num_prefix=int(self.with_cls_token),
                                device=x.device)
        book.record_stages = self.record_stages
        book.fused_attention = self.fused_attention
        outs: List = []
        if self.out_origin:
            outs.append(self._format_output(x, book))
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            reducer = self._reducer_at.get(i)
            if reducer is not None:
                x = reducer(layer, x, book)
            else:
                # Plain block; a reducer may have asked for proportional attention.
                x = run_block(layer, x, attn_bias=book.attention_bias(),
                              counts=book.attention_counts())
            book.end_block()
            if i == last and self.final_norm:
                x = self.norm1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, book))

        losses: Dict[str, torch.Tensor] = {}
        for reducer in self.reducers:
            for name, value in reducer.aux_losses().items():
                losses[name] = losses[name] + value if name in losses else value
        self.aux_losses = losses
        self.last_book = book
        return tuple(outs)
