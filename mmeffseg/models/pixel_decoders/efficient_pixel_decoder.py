"""Mask2Former pixel decoder whose encoder carries PRO-SCALE's schedule and TRC and ECO-M2F's exit.

``EfficientMSDeformAttnPixelDecoder`` is mmdet's ``MSDeformAttnPixelDecoder`` with its encoder
built through the registry (a :class:`ScheduledDeformableEncoder` by default) and PRO-SCALE's
light pixel embedding (LPE) as an optional FPN output op. The pixel decoder only prepares the
encoder's inputs and runs the FPN step: the level schedule, TRC and every per-image exit
decision belong to the encoder. Switched off (no ``stage_layers``, no TRC, no gate,
``output_op='conv'``) it has the baseline's parameters under the baseline's names and gives the
baseline's outputs.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.cnn.bricks.transformer import MultiScaleDeformableAttention
from mmdet.models.layers import MSDeformAttnPixelDecoder
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.model import ModuleList, caffe2_xavier_init, normal_init, xavier_init
from torch import Tensor

from mmeffseg.registry import build_nested_model
from ..encoders.scheduled_deformable_encoder import ScheduledDeformableEncoder
from .group_wise_fpn_step import group_wise_fpn_step, group_wise_fpn_step_supported
from .light_pixel_embedding import LightPixelEmbedding

OUTPUT_OPS = ('conv', 'maxpool')


@MODELS.register_module()
class EfficientMSDeformAttnPixelDecoder(MSDeformAttnPixelDecoder):
    """Pixel decoder with multi-scale deformable attention, a scheduled encoder and LPE.

    ``stage_layers``, ``trc_cfg`` and ``gate`` are shorthands: they are handed to the encoder
    config (overriding ``encoder.<key>``), where they live.

    Args:
        in_channels, strides, feat_channels, out_channels, num_outs, norm_cfg, act_cfg,
        positional_encoding, init_cfg: As in mmdet's ``MSDeformAttnPixelDecoder``.
        encoder (:obj:`ConfigDict` or dict): Encoder config; ``type`` defaults to
            ``'ScheduledDeformableEncoder'`` (any subclass of it may be named).
        stage_layers (Sequence[int], optional): PRO-SCALE's layers per stage
            ``(p1, ..., pS)``, one stage per encoder level, coarsest first; stage ``s`` attends
            over the ``s`` coarsest levels (``encoder.stage_layers``). None (default) keeps the
            encoder's own schedule (``encoder.num_layers`` full-length layers by default).
        trc_cfg (:obj:`ConfigDict` or dict, optional): Token re-calibration config (see
            ``TokenRecalibration``: ``temperature=0.1``, ``layout='spatial'|'released'``),
            ``encoder.trc_cfg``. None (default) keeps the encoder's (off by default).
        gate (:obj:`ConfigDict` or dict, optional): ECO-M2F exit gate (``encoder.gate``;
            ``type`` defaults to ``'TokenMeanExitGate'``). None (default) keeps the encoder's
            (none by default).
        output_op (str): Operation after each FPN merge: ``'conv'`` (3x3 conv + norm + act,
            the baseline) or ``'maxpool'`` (LPE: parameter-free 3x3 max-pool + norm + act).
    """

    def __init__(self,
                 in_channels: Union[List[int], Tuple[int]] = [256, 512, 1024, 2048],
                 strides: Union[List[int], Tuple[int]] = [4, 8, 16, 32],
                 feat_channels: int = 256,
                 out_channels: int = 256,
                 num_outs: int = 3,
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 encoder: ConfigType = None,
                 positional_encoding: ConfigType = dict(num_feats=128, normalize=True),
                 stage_layers: Optional[Sequence[int]] = None,
                 trc_cfg: OptConfigType = None,
                 gate: OptConfigType = None,
                 output_op: str = 'conv',
                 init_cfg: OptMultiConfig = None) -> None:
        if encoder is None:
            raise ValueError('EfficientMSDeformAttnPixelDecoder needs an encoder config, e.g. '
                             'the one of mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_'
                             'coco-panoptic.py.')
        if output_op not in OUTPUT_OPS:
            raise ValueError(f'output_op={output_op!r} is not one of {OUTPUT_OPS}; use "conv" '
                             '(baseline) or "maxpool" (PRO-SCALE LPE).')
        encoder = ConfigDict(copy.deepcopy(encoder))
        encoder.setdefault('type', 'ScheduledDeformableEncoder')
        for key, value in (('stage_layers', stage_layers), ('trc_cfg', trc_cfg), ('gate', gate)):
            if value is not None:
                encoder[key] = value
        # mmdet's __init__ hard-codes its own encoder class; hand it a one-layer stand-in
        # (cheap to build) and replace it with the registry-built encoder below.
        stand_in = ConfigDict(num_layers=1, layer_cfg=copy.deepcopy(encoder.layer_cfg))
        super().__init__(
            in_channels=in_channels,
            strides=strides,
            feat_channels=feat_channels,
            out_channels=out_channels,
            num_outs=num_outs,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            encoder=stand_in,
            positional_encoding=positional_encoding,
            init_cfg=init_cfg)
        self.encoder = build_nested_model(encoder)
        if not isinstance(self.encoder, ScheduledDeformableEncoder):
            raise ValueError(f'encoder.type={encoder.type!r} builds a '
                             f'{type(self.encoder).__name__}; the pixel decoder needs '
                             'ScheduledDeformableEncoder or a subclass of it.')
        self.output_op = output_op
        # Per-shape positional encodings and reference points (see _level_grid).
        self._grid_cache: Dict[tuple, Tuple[Tensor, Tensor]] = {}
        # The last inference query_pos with its key (see _query_pos).
        self._query_pos_cache: Optional[Tuple[tuple, Tensor]] = None
        if output_op == 'maxpool':
            self.output_convs = ModuleList([
                # In place: its input is the FPN sum, which nothing reads afterwards.
                LightPixelEmbedding(feat_channels, norm_cfg=norm_cfg, act_cfg=act_cfg,
                                    inplace=True)
                for _ in self.output_convs
            ])

    @property
    def num_encoder_layers(self) -> int:
        """Number of encoder layers (the deepest exit)."""
        return len(self.encoder.layers)

    def init_weights(self) -> None:
        """Initialise as mmdet does; the LPE output op has no conv to initialise."""
        for input_conv in self.input_convs:
            xavier_init(input_conv.conv, gain=1, bias=0, distribution='uniform')
        for lateral_conv in self.lateral_convs:
            caffe2_xavier_init(lateral_conv.conv, bias=0)
        for output_conv in self.output_convs:
            if isinstance(output_conv, ConvModule):
                caffe2_xavier_init(output_conv.conv, bias=0)
        caffe2_xavier_init(self.mask_feature, bias=0)
        normal_init(self.level_encoding, mean=0, std=1)
        for p in self.encoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
        for m in self.encoder.layers.modules():
            if isinstance(m, MultiScaleDeformableAttention):
                m.init_weights()
        if self.encoder.gate is not None:
            self.encoder.gate.init_weights()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # Checkpoints from before the encoder owned the gate hold it under ``gate.``.
        for key in [k for k in state_dict if k.startswith(prefix + 'gate.')]:
            state_dict[prefix + 'encoder.' + key[len(prefix):]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def encoder_inputs(self, feats: List[Tensor]) -> Dict[str, Tensor]:
        """Project the encoder levels and build the encoder's keyword arguments.

        Args:
            feats (list[Tensor]): Backbone maps, finest first, each (B, C_i, H_i, W_i).

        Returns:
            dict: ``query``, ``query_pos``, ``key_padding_mask`` (None: mmdet's pixel decoder
            passes no padding), ``spatial_shapes``, ``level_start_index``, ``valid_ratios``
            and ``reference_points``, coarsest level first.
        """
        if len(feats) != self.num_input_levels:
            raise ValueError(f'The pixel decoder was built for {self.num_input_levels} input '
                             f'levels (in_channels) but got {len(feats)} feature maps.')
        batch_size = feats[0].shape[0]
        tokens, pos_embeds, ref_points, hw_list = [], [], [], []
        for i in range(self.num_encoder_levels):
            level_idx = self.num_input_levels - i - 1
            feat = feats[level_idx]
            h, w = feat.shape[-2:]
            projected = self.input_convs[i](feat)
            pos_embed, points = self._level_grid(level_idx, h, w, feat.device)
            tokens.append(projected.flatten(2).transpose(1, 2))
            pos_embeds.append(pos_embed)
            ref_points.append(points)
            hw_list.append((h, w))
        spatial_shapes = torch.as_tensor(hw_list, dtype=torch.long, device=feats[0].device)
        level_start_index = torch.cat((spatial_shapes.new_zeros(
            (1, )), spatial_shapes.prod(1).cumsum(0)[:-1]))
        reference_points = torch.cat(ref_points, dim=0)[None, :, None].expand(
            batch_size, -1, self.num_encoder_levels, -1)
        return dict(
            query=torch.cat(tokens, dim=1),
            # Every image has the same encoding (no padding): one copy, broadcast over the batch.
            query_pos=self._query_pos(pos_embeds, hw_list).expand(batch_size, -1, -1),
            key_padding_mask=None,
            spatial_shapes=spatial_shapes,
            level_start_index=level_start_index,
            valid_ratios=reference_points.new_ones((batch_size, self.num_encoder_levels, 2)),
            reference_points=reference_points)

    def _query_pos(self, pos_embeds: List[Tensor], hw_list: List[Tuple[int, int]]) -> Tensor:
        """Sine encodings plus level embeddings of all levels, (1, L, C).

        At inference the sum depends only on the level shapes and the level embedding's
        values, so it is kept until either changes (an in-place update or a load bumps the
        parameter's version) instead of re-adding and concatenating ~20 MB per forward.
        """
        level_embed = self.level_encoding.weight
        if torch.is_grad_enabled():  # the level embedding needs its gradient
            return torch.cat([p + level_embed[i] for i, p in enumerate(pos_embeds)], dim=1)
        key = (tuple(hw_list), str(level_embed.device), level_embed.data_ptr(),
               level_embed._version)
        if self._query_pos_cache is None or self._query_pos_cache[0] != key:
            query_pos = torch.cat([p + level_embed[i] for i, p in enumerate(pos_embeds)], dim=1)
            self._query_pos_cache = (key, query_pos)
        return self._query_pos_cache[1]

    def _level_grid(self, level_idx: int, h: int, w: int,
                    device: torch.device) -> Tuple[Tensor, Tensor]:
        """Sine positional encoding (1, h * w, C) and reference points (h * w, 2) of a level.

        Neither depends on the image or on a parameter (mmdet's pixel decoder passes no
        padding), only on the level's shape, so they are computed once per shape instead of
        on every forward.
        """
        key = (level_idx, h, w, str(device))
        cached = self._grid_cache.get(key)
        if cached is None:
            no_padding = torch.zeros((1, h, w), dtype=torch.bool, device=device)
            pos_embed = self.postional_encoding(no_padding).flatten(2).transpose(1, 2)
            # Grid-cell centres normalised to [0, 1], as mmdet computes them.
            points = self.point_generator.single_level_grid_priors(
                (h, w), level_idx, device=device)
            stride = self.strides[level_idx]
            points = points / points.new_tensor([[w * stride, h * stride]])
            if len(self._grid_cache) >= 64:  # multi-scale training: keep the cache bounded
                self._grid_cache.clear()
            self._grid_cache[key] = cached = (pos_embed, points)
        return cached

    def forward(self, feats: List[Tensor]) -> Tuple[Tensor, List[Tensor]]:
        """Encode the coarse levels, then run the FPN step on the finer ones.

        mmdet's ``forward`` is overridden because it calls the encoder without a schedule
        (its ``reference_points`` cover every level) and indexes ``lateral_convs`` /
        ``output_convs`` by the input level, which breaks with two encoder levels.

        Args:
            feats (list[Tensor]): Backbone maps, finest first, each (B, C_i, H_i, W_i).

        Returns:
            tuple: ``mask_feature`` (B, out_channels, H_0, W_0) and ``multi_scale_features``
            (list of ``num_outs`` maps, coarsest first), as in mmdet.
        """
        inputs = self.encoder_inputs(feats)
        memory = self.encoder(**inputs)
        batch_size = memory.shape[0]
        hw_list = inputs['spatial_shapes'].tolist()

        # Split back per level: (B, L, C) -> list of (B, C, h, w), coarsest first.
        memory = memory.transpose(1, 2)
        outs = [
            x.reshape(batch_size, -1, h, w)
            for x, (h, w) in zip(memory.split([h * w for h, w in hw_list], dim=-1), hw_list)
        ]
        # FPN step on the levels the encoder did not see, coarse to fine. lateral_convs[j] and
        # output_convs[j] were built for the j-th of these levels.
        for j, level_idx in enumerate(
                range(self.num_input_levels - self.num_encoder_levels - 1, -1, -1)):
            if not torch.is_grad_enabled() and group_wise_fpn_step_supported(
                    self.lateral_convs[j], self.output_convs[j]):
                # LPE at inference: the same ops one norm group at a time, without the
                # map-sized intermediates (see group_wise_fpn_step).
                outs.append(group_wise_fpn_step(outs[-1], feats[level_idx],
                                                self.lateral_convs[j], self.output_convs[j]))
                continue
            lateral = self.lateral_convs[j](feats[level_idx])
            # The encoder's maps are channel-last views of its tokens; bilinear upsampling of
            # such a view converts its 4x larger output back (about 2x the time on CPU), so
            # the small input is made contiguous first. Added in place: same sum, no new map.
            y = F.interpolate(
                outs[-1].contiguous(), size=lateral.shape[-2:], mode='bilinear',
                align_corners=False).add_(lateral)
            outs.append(self.output_convs[j](y))
        multi_scale_features = outs[:self.num_outs]
        mask_feature = self.mask_feature(outs[-1])
        return mask_feature, multi_scale_features
