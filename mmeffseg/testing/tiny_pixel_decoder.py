"""Tiny pixel-decoder / encoder configs and inputs for PRO-SCALE tests (dim 32, 64x96 inputs)."""
import copy
from typing import List, Optional

import torch

EMBED = 32


def tiny_encoder(num_layers: int = 2, num_levels: int = 3) -> dict:
    return dict(
        num_layers=num_layers,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=EMBED, num_heads=4, num_levels=num_levels,
                               num_points=2, dropout=0.0, batch_first=True),
            ffn_cfg=dict(embed_dims=EMBED, feedforward_channels=64, num_fcs=2, ffn_drop=0.0,
                         act_cfg=dict(type='ReLU', inplace=True))))


def tiny_pixel_decoder(num_layers: int = 2, num_levels: int = 3, **kwargs) -> dict:
    cfg = dict(
        in_channels=[8, 16, 24, 32],
        strides=[4, 8, 16, 32],
        feat_channels=EMBED,
        out_channels=EMBED,
        num_outs=3,
        norm_cfg=dict(type='GN', num_groups=8),
        act_cfg=dict(type='ReLU'),
        encoder=tiny_encoder(num_layers, num_levels),
        positional_encoding=dict(num_feats=EMBED // 2, normalize=True))
    cfg.update(kwargs)
    return copy.deepcopy(cfg)


def tiny_feats(batch_size: int = 2, hw=(64, 96), seed: int = 0) -> List[torch.Tensor]:
    """Backbone maps at strides 4..32 of a non-square image (catches h/w mix-ups)."""
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(batch_size, c, hw[0] // s, hw[1] // s, generator=g)
        for c, s in zip([8, 16, 24, 32], [4, 8, 16, 32])
    ]


def randomize_(module: torch.nn.Module, seed: int = 0, std: float = 0.2) -> None:
    """Give every parameter non-trivial values (mmdet's init zeroes attention weights)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)


def encoder_inputs(batch_size: int = 2, shapes=((2, 3), (4, 6), (8, 12)), seed: int = 0,
                   device: Optional[str] = None) -> dict:
    """Random encoder inputs in Mask2Former's layout (coarsest level first)."""
    g = torch.Generator().manual_seed(seed)
    spatial_shapes = torch.tensor(shapes, dtype=torch.long)
    num_tokens = int(spatial_shapes.prod(1).sum())
    level_start_index = torch.cat(
        (spatial_shapes.new_zeros((1, )), spatial_shapes.prod(1).cumsum(0)[:-1]))
    refs = []
    for h, w in shapes:
        ys, xs = torch.meshgrid((torch.arange(h) + 0.5) / h, (torch.arange(w) + 0.5) / w,
                                indexing='ij')
        refs.append(torch.stack([xs.reshape(-1), ys.reshape(-1)], -1))
    reference_points = torch.cat(refs)[None, :, None].repeat(batch_size, 1, len(shapes), 1)
    return dict(
        query=torch.randn(batch_size, num_tokens, EMBED, generator=g),
        query_pos=torch.randn(batch_size, num_tokens, EMBED, generator=g),
        key_padding_mask=None,
        spatial_shapes=spatial_shapes,
        level_start_index=level_start_index,
        valid_ratios=torch.ones(batch_size, len(shapes), 2),
        reference_points=reference_points)


def coarsest_inputs(inputs: dict, num_levels: int) -> dict:
    """:func:`encoder_inputs` restricted to the ``num_levels`` coarsest levels (what a layer
    that sees only those levels gets)."""
    length = int(inputs['spatial_shapes'][:num_levels].prod(1).sum())
    return dict(
        query=inputs['query'][:, :length],
        query_pos=inputs['query_pos'][:, :length],
        key_padding_mask=None,
        spatial_shapes=inputs['spatial_shapes'][:num_levels],
        level_start_index=inputs['level_start_index'][:num_levels],
        valid_ratios=inputs['valid_ratios'][:, :num_levels],
        reference_points=inputs['reference_points'][:, :length, :num_levels])


def shrink_mask2former(cfg, num_things: int = 3, num_stuff: int = 2) -> None:
    """Shrink a Mask2Former config (R50 panoptic or PRO-SCALE on it) to a test-sized model.

    The pixel decoder type, ``stage_layers``, TRC and output op of ``cfg`` are kept; channels,
    depth and class counts are cut down.
    """
    num_classes = num_things + num_stuff
    layer = tiny_encoder()['layer_cfg']
    cfg.merge_from_dict(dict(model=dict(
        backbone=dict(depth=18, base_channels=8, init_cfg=None,
                      norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False),
        panoptic_head=dict(
            in_channels=[8, 16, 32, 64], feat_channels=EMBED, out_channels=EMBED,
            num_things_classes=num_things, num_stuff_classes=num_stuff, num_queries=5,
            pixel_decoder=dict(
                norm_cfg=dict(type='GN', num_groups=8),
                encoder=dict(layer_cfg=layer),
                positional_encoding=dict(num_feats=EMBED // 2)),
            positional_encoding=dict(num_feats=EMBED // 2),
            transformer_decoder=dict(num_layers=2, layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=EMBED, num_heads=4),
                cross_attn_cfg=dict(embed_dims=EMBED, num_heads=4),
                ffn_cfg=dict(embed_dims=EMBED, feedforward_channels=64))),
            loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
        panoptic_fusion_head=dict(num_things_classes=num_things, num_stuff_classes=num_stuff),
        train_cfg=dict(num_points=64),
        test_cfg=dict(max_per_image=5))))
