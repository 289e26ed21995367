"""The one deformable encoder that the Mask2Former efficiency methods change.

``ScheduledDeformableEncoder`` is mmdet's deformable encoder with three additions:

* a per-layer *level schedule* (PRO-SCALE, arXiv 2404.14657): layer ``i`` attends over the
  ``level_schedule[i]`` coarsest levels only, i.e. over the first tokens of the coarsest-first
  token sequence; the finer tokens keep their features (their input features until a layer
  that sees their level runs);
* an optional token re-calibration (TRC) of the coarse levels' input tokens (PRO-SCALE);
* a per-image exit (ECO-M2F, arXiv 2404.15244): each image runs its own number of layers; a
  layer runs only on the images that reach it. The encoder owns the exit policy: an optional
  gate reading its coarsest-level input tokens, a forced exit set by the host
  (:meth:`exit_setting`), and what each image ran on the last forward (``last_exits``).

Its parameters keep mmdet's names (``layers.{i}.…``), so a baseline checkpoint loads into it.
"""
import contextlib
import copy
from typing import Iterator, List, Optional, Sequence, Union

import torch
from mmdet.models.layers.transformer.deformable_detr_layers import (
    DeformableDetrTransformerEncoder, DeformableDetrTransformerEncoderLayer)
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType
from mmengine.model import ModuleList
from torch import Tensor

from mmeffseg.models.gates import check_exit_range
from mmeffseg.registry import build_gate, build_nested_model
from mmeffseg.utils.config_values import check_int

try:
    from fairscale.nn.checkpoint import checkpoint_wrapper
except Exception:  # fairscale is optional, as in mmdet
    checkpoint_wrapper = None


def level_schedule_from_stages(stage_layers: Sequence[int], num_levels: int) -> List[int]:
    """Turn PRO-SCALE's layers-per-stage ``(p1, ..., pS)`` into a per-layer level schedule.

    Stage ``s`` (1-based) attends over the ``s`` coarsest levels, so ``(3, 3, 3)`` with three
    levels gives ``[1, 1, 1, 2, 2, 2, 3, 3, 3]`` and ``(0, 0, 6)`` gives mmdet's encoder.

    Args:
        stage_layers (Sequence[int]): Number of layers in each stage, one stage per encoder
            level, coarsest first.
        num_levels (int): Number of encoder levels.

    Returns:
        list[int]: Number of levels each layer attends over.
    """
    if isinstance(stage_layers, (str, bytes)) or not isinstance(stage_layers, Sequence):
        raise ValueError(f'stage_layers={stage_layers!r} must be a list/tuple of ints, one per '
                         f'encoder level, e.g. (3, 3, 3) for {num_levels} levels.')
    if len(stage_layers) != num_levels:
        raise ValueError(
            f'stage_layers={tuple(stage_layers)} has {len(stage_layers)} stages but the encoder '
            f'has {num_levels} levels (self_attn_cfg.num_levels); give one layer count per '
            f'level, coarsest first, e.g. {tuple([0] * (num_levels - 1) + [6])} for the '
            'baseline.')
    for n in stage_layers:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f'stage_layers={tuple(stage_layers)}: every stage needs a '
                             f'non-negative integer layer count, got {n!r}.')
    if sum(stage_layers) == 0:
        raise ValueError(f'stage_layers={tuple(stage_layers)} has no layer at all; at least one '
                         'stage needs a positive layer count, e.g. (3, 3, 3).')
    return [s + 1 for s, n in enumerate(stage_layers) for _ in range(n)]


@MODELS.register_module()
class ScheduledDeformableEncoder(DeformableDetrTransformerEncoder):
    """Deformable encoder with a per-layer level schedule, TRC and per-image exits.

    Which layers an image runs is decided here, in this order: ``num_layers_per_image`` given
    to :meth:`forward`; else the forced exit of :meth:`exit_setting`; else the gate; else all
    layers.

    Args:
        num_layers (int): Number of encoder layers.
        layer_cfg (:obj:`ConfigDict` or dict): Config of every layer
            (``DeformableDetrTransformerEncoderLayer``); ``self_attn_cfg.num_levels`` is the
            number of encoder levels. Each layer is built with ``num_levels`` set to its
            schedule entry, so its sampling-offset and attention-weight projections are sized
            for the levels it sees.
        level_schedule (Sequence[int], optional): For each layer, how many of the coarsest
            levels it attends over (1..num_levels). None means every layer attends over all
            levels, i.e. mmdet's encoder. See :func:`level_schedule_from_stages`.
        stage_layers (Sequence[int], optional): PRO-SCALE's layers per stage, the short form
            of ``level_schedule`` (:func:`level_schedule_from_stages`); sets ``num_layers`` to
            their sum. Give this or ``level_schedule``.
        trc_cfg (:obj:`ConfigDict` or dict, optional): Config of the token re-calibration
            applied to the coarse levels' input tokens (``type`` defaults to
            ``'TokenRecalibration'``, ``embed_dims`` to the layers'). None (default) = off;
            then no ``trc.*`` parameter exists.
        gate (:obj:`ConfigDict` or dict, optional): Exit gate (ECO-M2F), built with
            :func:`mmeffseg.registry.build_gate`; ``type`` defaults to ``'TokenMeanExitGate'``
            and ``in_channels`` to the layers' ``embed_dims``. None (default) = no gate.
        num_cp (int): Number of layers wrapped in activation checkpointing (fairscale), as in
            mmdet. Defaults to -1.
        init_cfg (:obj:`ConfigDict` or dict, optional): Initialization config.
    """

    def __init__(self,
                 num_layers: int,
                 layer_cfg: ConfigType,
                 level_schedule: Optional[Sequence[int]] = None,
                 stage_layers: Optional[Sequence[int]] = None,
                 trc_cfg: OptConfigType = None,
                 gate: OptConfigType = None,
                 num_cp: int = -1,
                 init_cfg: OptConfigType = None) -> None:
        attn_cfg = layer_cfg.get('self_attn_cfg', None) if hasattr(layer_cfg, 'get') else None
        if attn_cfg is None or 'num_levels' not in attn_cfg:
            raise ValueError('ScheduledDeformableEncoder: layer_cfg.self_attn_cfg.num_levels '
                             'must be set (the number of encoder levels, e.g. 3 for '
                             'Mask2Former).')
        num_levels = int(attn_cfg['num_levels'])
        if stage_layers is not None:
            if level_schedule is not None:
                raise ValueError('ScheduledDeformableEncoder: give stage_layers or '
                                 'level_schedule, not both (stage_layers is the short form).')
            level_schedule = level_schedule_from_stages(stage_layers, num_levels)
            num_layers = len(level_schedule)
        if level_schedule is None:
            level_schedule = [num_levels] * num_layers
        level_schedule = [check_int(s, f'level_schedule={list(level_schedule)} entry',
                                    'ScheduledDeformableEncoder') for s in level_schedule]
        if len(level_schedule) != num_layers:
            raise ValueError(f'level_schedule={level_schedule} has {len(level_schedule)} '
                             f'entries but num_layers={num_layers}; give one entry per layer.')
        bad = [s for s in level_schedule if not 1 <= s <= num_levels]
        if bad:
            raise ValueError(f'level_schedule={level_schedule}: entries must lie in '
                             f'1..{num_levels} (the encoder levels), got {bad}.')
        # _init_layers (called by the parent's __init__) reads these.
        self.level_schedule = level_schedule
        self.num_levels = num_levels
        super().__init__(
            num_layers=num_layers, layer_cfg=layer_cfg, num_cp=num_cp, init_cfg=init_cfg)
        if trc_cfg is not None:
            trc_cfg = copy.deepcopy(dict(trc_cfg))
            trc_cfg.setdefault('type', 'TokenRecalibration')
            trc_cfg.setdefault('embed_dims', self.embed_dims)
            self.trc = build_nested_model(trc_cfg)
        else:
            self.trc = None
        self.stage_layers = tuple(stage_layers) if stage_layers is not None else None
        if gate is not None:
            gate = copy.deepcopy(dict(gate))
            gate.setdefault('type', 'TokenMeanExitGate')
            gate.setdefault('in_channels', self.embed_dims)
            self.gate = build_gate(gate)
            self.gate.check_config(num_layers)
        else:
            self.gate = None
        # Exit policy state: set by the host around a forward, and what the last forward ran.
        self.forced_exit: Optional[Union[int, Tensor]] = None
        self.gate_valid_ratios: Optional[Tensor] = None
        self.last_exits: Optional[Tensor] = None
        self.last_gate_logits: Optional[Tensor] = None

    def _init_layers(self) -> None:
        """Build each layer for the number of levels its schedule entry gives."""
        layers = []
        for num_levels in self.level_schedule:
            cfg = copy.deepcopy(self.layer_cfg)
            cfg['self_attn_cfg']['num_levels'] = num_levels
            layers.append(DeformableDetrTransformerEncoderLayer(**cfg))
        self.layers = ModuleList(layers)
        if self.num_cp > 0:
            if checkpoint_wrapper is None:
                raise NotImplementedError(
                    f'num_cp={self.num_cp} needs fairscale (pip install fairscale); set '
                    'num_cp=-1 to run without activation checkpointing.')
            for i in range(self.num_cp):
                self.layers[i] = checkpoint_wrapper(self.layers[i])
        self.embed_dims = self.layers[0].embed_dims

    @property
    def is_baseline_schedule(self) -> bool:
        """True when every layer attends over all levels (mmdet's encoder)."""
        return all(s == self.num_levels for s in self.level_schedule)

    def init_weights(self) -> None:
        """Initialise as mmengine does, then the gate (its bias starts at zero)."""
        super().init_weights()
        if self.gate is not None:
            self.gate.init_weights()

    # ------------------------------------------------------------------------- exit policy
    @contextlib.contextmanager
    def exit_setting(self, forced_exit: Optional[Union[int, Sequence[int], Tensor]] = None,
                     valid_ratios: Optional[Tensor] = None) -> Iterator[None]:
        """Within the block, run forwards with a forced exit and/or the images' valid extents.

        Args:
            forced_exit (int | Sequence[int] | Tensor, optional): Layers every image runs, or
                one count per image. None = the gate decides (all layers without a gate).
            valid_ratios (Tensor, optional): (B, 2) or (B, num_levels, 2), each image's
                unpadded (width, height) fraction of the batch input, as mmdet's valid ratios.
                The gate pools only the tokens inside it, so an image gets the same exit alone
                and in a padded batch. None = every token is the image's own.
        """
        if forced_exit is not None and not isinstance(forced_exit, int):
            forced_exit = torch.as_tensor(forced_exit, dtype=torch.long)
        prev = self.forced_exit, self.gate_valid_ratios
        self.forced_exit, self.gate_valid_ratios = forced_exit, valid_ratios
        try:
            yield
        finally:
            self.forced_exit, self.gate_valid_ratios = prev

    def coarsest_valid_mask(self, spatial_shapes: Tensor,
                            key_padding_mask: Optional[Tensor] = None,
                            valid_ratios: Optional[Tensor] = None) -> Optional[Tensor]:
        """(B, L_coarsest) bool, True on each image's own coarsest tokens; None = all valid.

        From ``key_padding_mask`` when given, else from ``valid_ratios`` (the padded rows and
        columns are the last ones, as mmdet and mmseg pad).
        """
        h, w = (int(v) for v in spatial_shapes[0])
        if key_padding_mask is not None:
            return ~key_padding_mask[:, :h * w]
        if valid_ratios is None:
            return None
        ratios = valid_ratios if valid_ratios.dim() == 2 else valid_ratios[:, 0]
        # Rounding first keeps 0.5 * 8 == 4 from becoming 5 through float error.
        valid_w = torch.ceil((ratios[:, 0] * w).double().round(decimals=4)).long()
        valid_h = torch.ceil((ratios[:, 1] * h).double().round(decimals=4)).long()
        cols = torch.arange(w, device=ratios.device)[None, None, :] < valid_w[:, None, None]
        rows = torch.arange(h, device=ratios.device)[None, :, None] < valid_h[:, None, None]
        return (rows & cols).flatten(1)

    def gate_logits(self, query: Tensor, spatial_shapes: Tensor,
                    key_padding_mask: Optional[Tensor] = None,
                    valid_ratios: Optional[Tensor] = None) -> Tensor:
        """The gate's logits (B, num_exits) from the coarsest-level input tokens of ``query``.

        Args:
            query (Tensor): Encoder input tokens, coarsest level first, (B, L, C).
            spatial_shapes (Tensor): (num_levels, 2) (h, w) per level.
            key_padding_mask (Tensor, optional): (B, L) bool, True = padding.
            valid_ratios (Tensor, optional): See :meth:`exit_setting`; used when no
                ``key_padding_mask`` is given.
        """
        if self.gate is None:
            raise ValueError('ScheduledDeformableEncoder has no gate; set encoder.gate (or '
                             "the pixel decoder's gate) to dict(type='TokenMeanExitGate').")
        h, w = (int(v) for v in spatial_shapes[0])
        mask = self.coarsest_valid_mask(spatial_shapes, key_padding_mask, valid_ratios)
        return self.gate(query[:, :h * w], mask)

    def select_exits(self, query: Tensor, spatial_shapes: Tensor,
                     key_padding_mask: Optional[Tensor] = None,
                     num_layers_per_image: Optional[Tensor] = None) -> Optional[Tensor]:
        """Layers each image runs, a (B,) LongTensor, or None for all; see the class doc."""
        batch_size = query.shape[0]
        self.last_gate_logits = None
        exits = num_layers_per_image if num_layers_per_image is not None else self.forced_exit
        if exits is None and self.gate is not None:
            self.last_gate_logits = self.gate_logits(query, spatial_shapes, key_padding_mask,
                                                     self.gate_valid_ratios)
            exits = self.gate.logits_to_exits(self.last_gate_logits)
        if exits is None:
            return None
        exits = torch.as_tensor(exits, dtype=torch.long, device=query.device)
        if exits.dim() == 0:
            exits = exits.expand(batch_size)
        if exits.shape != (batch_size, ):
            raise ValueError(f'Exits of shape {tuple(exits.shape)} for a batch of {batch_size}; '
                             'give one layer count per image (or one int for all).')
        check_exit_range(exits.tolist(), len(self.layers), type(self).__name__, lowest=0)
        return exits

    def forward(self,
                query: Tensor,
                query_pos: Tensor,
                key_padding_mask: Optional[Tensor],
                spatial_shapes: Tensor,
                level_start_index: Tensor,
                valid_ratios: Optional[Tensor],
                reference_points: Optional[Tensor] = None,
                num_layers_per_image: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        """Run the scheduled layers.

        Args:
            query (Tensor): Input tokens of all levels, coarsest first, (B, L, C).
            query_pos (Tensor): Positional encoding of the tokens, (B, L, C).
            key_padding_mask (Tensor, optional): (B, L) bool, True = padding.
            spatial_shapes (Tensor): (num_levels, 2) (h, w) per level, coarsest first.
            level_start_index (Tensor): (num_levels,) start of each level in ``query``.
            valid_ratios (Tensor, optional): (B, num_levels, 2). Used to build reference
                points when ``reference_points`` is None (as in Deformable DETR).
            reference_points (Tensor, optional): (B or 1, L, num_levels, 2) normalised points,
                as Mask2Former's pixel decoder passes them.
            num_layers_per_image (Tensor, optional): (B,) LongTensor, the number of layers each
                image runs (early exit). Layer ``i`` runs only on the images with a count
                greater than ``i``; the others keep their features. None = the forced exit,
                else the gate, else all layers (see :meth:`select_exits`).

        Returns:
            Tensor: Encoded tokens, (B, L, C).
        """
        if spatial_shapes.shape[0] != self.num_levels:
            raise ValueError(
                f'ScheduledDeformableEncoder was built for {self.num_levels} levels but got '
                f'spatial_shapes for {spatial_shapes.shape[0]}; set '
                'layer_cfg.self_attn_cfg.num_levels to the number of input levels.')
        batch_size, num_tokens = query.shape[:2]
        if reference_points is None:
            reference_points = self.get_encoder_reference_points(
                spatial_shapes, valid_ratios, device=query.device)
        num_layers_per_image = self.select_exits(query, spatial_shapes, key_padding_mask,
                                                 num_layers_per_image)
        self.last_exits = num_layers_per_image if num_layers_per_image is not None else \
            torch.full((batch_size, ), len(self.layers), dtype=torch.long, device=query.device)
        # The input tokens of each level, coarsest first (TRC re-calibrates the coarse ones).
        if self.trc is not None and self.num_levels > 1:
            levels = self.trc.recalibrated_levels(query, spatial_shapes, level_start_index)
        else:
            levels = None  # the levels are consecutive slices of ``query``

        # End of the first s levels in the coarsest-first token sequence, for s = 1..S.
        level_ends = level_start_index[1:].tolist() + [num_tokens]
        # ``head`` holds the tokens of the first ``covered`` levels, which some layer has
        # updated; the others still hold their input. It grows only when a layer sees more
        # levels: one concatenation per stage, none for the first (a view or TRC's output).
        head, covered = query[:, :0], 0
        for i, layer in enumerate(self.layers):
            batch_idx = None
            if num_layers_per_image is not None:
                runs = num_layers_per_image > i
                if not bool(runs.any()):
                    break  # counts only fall with depth: no image runs a later layer either
                if not bool(runs.all()):
                    batch_idx = runs.nonzero(as_tuple=True)[0]
            num_levels = self.level_schedule[i]
            if num_levels > covered:
                head = self._grow(head, covered, num_levels, query, levels, level_ends)
                covered = num_levels
            head = self._run_layer(layer, num_levels, level_ends[num_levels - 1], batch_idx,
                                   head, query_pos, key_padding_mask, spatial_shapes,
                                   level_start_index, valid_ratios, reference_points, **kwargs)
        if covered == self.num_levels:
            return head
        return self._grow(head, covered, self.num_levels, query, levels, level_ends)

    @staticmethod
    def _grow(head: Tensor, covered: int, num_levels: int, query: Tensor,
              levels: Optional[List[Tensor]], level_ends: List[int]) -> Tensor:
        """``head`` (the first ``covered`` levels) followed by the input tokens of levels
        ``covered .. num_levels - 1``."""
        if levels is None:
            start = level_ends[covered - 1] if covered else 0
            pieces = [query[:, start:level_ends[num_levels - 1]]]
        else:
            pieces = levels[covered:num_levels]
        if covered == 0 and len(pieces) == 1:
            return pieces[0]  # layers never write into their input: no copy needed
        return torch.cat(([head] if covered else []) + pieces, dim=1)

    def _run_layer(self, layer: torch.nn.Module, num_levels: int, length: int,
                   batch_idx: Optional[Tensor], head: Tensor, query_pos: Tensor,
                   key_padding_mask: Optional[Tensor], spatial_shapes: Tensor,
                   level_start_index: Tensor, valid_ratios: Optional[Tensor],
                   reference_points: Tensor, **kwargs) -> Tensor:
        """Run one layer on the first ``length`` tokens (``num_levels`` levels) of ``head``,
        for the images in ``batch_idx`` (all when None); return the updated ``head``."""
        batch_size = head.shape[0]

        def take(t: Optional[Tensor], tokens: bool = True) -> Optional[Tensor]:
            # Slice the batch (only where the tensor has a per-image batch dim) and the tokens.
            if t is None:
                return None
            if batch_idx is not None and t.shape[0] == batch_size:
                t = t[batch_idx]
            return t[:, :length] if tokens and t.shape[1] != length else t

        ref = take(reference_points)
        if ref is not None and ref.shape[2] != num_levels:
            ref = ref[:, :, :num_levels]
        ratios = take(valid_ratios, tokens=False)
        if ratios is not None and ratios.shape[1] != num_levels:
            ratios = ratios[:, :num_levels]
        out = layer(
            query=take(head),
            query_pos=take(query_pos),
            key_padding_mask=take(key_padding_mask),
            spatial_shapes=spatial_shapes[:num_levels],
            level_start_index=level_start_index[:num_levels],
            valid_ratios=ratios,
            reference_points=ref,
            **kwargs)
        if batch_idx is not None:
            # Out-of-place writes keep autograd intact; images that skip this layer keep theirs.
            out = head[:, :length].index_copy(0, batch_idx, out)
        if length == head.shape[1]:
            return out
        return torch.cat([out, head[:, length:]], dim=1)  # a layer that sees fewer levels
