"""Start a PRO-SCALE pixel decoder from a trained Mask2Former: convert the baseline's weights.

A Mask2Former pixel decoder has ``N`` encoder layers (6 in the papers) that all attend over the
``L`` encoder levels. PRO-SCALE (arXiv 2404.14657) has ``p1 + ... + pL`` layers; stage ``s``
attends over the ``s`` coarsest levels, so its layers' ``sampling_offsets`` and
``attention_weights`` are sized for ``s`` levels. :func:`convert_baseline_to_proscale` turns the
baseline's state dict into one that loads strictly into the PRO-SCALE model, except the modules
PRO-SCALE adds (TRC, an ECO-M2F gate), which start from their initialisation.

Which baseline layer feeds which PRO-SCALE layer (:func:`baseline_layer_map`), for ``N``
baseline layers; a *stage* is a run of consecutive layers with the same number of levels:

* The layers that see all ``L`` levels (the last stage) take the baseline's **last** layers,
  whole: the ``j``-th of ``F`` such layers takes baseline layer ``N - F + j`` (clamped at the
  first). The transformer decoder was trained on the output of the baseline's last layer, and
  these layers write the encoder's output.
* The ``k``-th layer of any other stage takes baseline layer ``k`` (clamped at the last), with
  its ``sampling_offsets`` / ``attention_weights`` rows cut to the levels the stage sees. Each
  such stage starts on fresh input tokens (the new level's input projection), as the baseline's
  first layers do, so it replays the baseline's first layers.

For (3, 3, 3) with 6 baseline layers (1-based): PRO-SCALE layers 1-3 <- baseline layers 1-3
(cut to res5), layers 4-6 <- baseline layers 1-3 (cut to res5 + res4), layers 7-9 <- baseline
layers 4-6 (whole). A baseline schedule ((0, 0, N)) maps every layer onto itself: the converted
state dict is the baseline's.

Cutting a layer to ``s`` levels keeps the rows of the ``s`` coarsest levels, the levels the
encoder hands that layer (tokens are ordered coarsest first in mmdet and here). mmcv's
``MultiScaleDeformableAttention`` lays the rows out as ``(heads, levels, points[, 2])``, so the
kept rows are ``[:, :s]`` of that view. The attention weights are a softmax over
``levels x points`` per head; over fewer levels the kept logits renormalise among themselves:
the cut layer computes exactly what the baseline layer computes, for the queries of those
levels, when the other levels' logits are ``-inf`` (tested).

Everything else (backbone, input projections, value / output projections, FFNs and norms of
each layer, FPN, transformer decoder) is copied by name. The baseline FPN's 3x3 output conv has
no counterpart under PRO-SCALE's light pixel embedding (LPE, a parameter-free max-pool) and is
dropped; its norm is kept.
"""
from typing import Dict, List, Sequence, Tuple

import torch.nn as nn
from torch import Tensor

from ..encoders.scheduled_deformable_encoder import ScheduledDeformableEncoder
from .efficient_pixel_decoder import EfficientMSDeformAttnPixelDecoder

#: The projections of a deformable attention that are sized per level.
LEVEL_SIZED = ('sampling_offsets', 'attention_weights')


def baseline_layer_map(level_schedule: Sequence[int], num_levels: int,
                       num_baseline_layers: int) -> List[int]:
    """For each layer of a scheduled encoder, the (0-based) baseline layer that initialises it.

    See the module doc for the rule and why.

    Args:
        level_schedule (Sequence[int]): Number of levels each layer attends over.
        num_levels (int): Number of encoder levels (what a baseline layer attends over).
        num_baseline_layers (int): Number of layers of the baseline encoder.

    Returns:
        list[int]: One baseline layer index per layer.
    """
    if num_baseline_layers < 1:
        raise ValueError(f'The baseline encoder has {num_baseline_layers} layers; a Mask2Former '
                         'checkpoint has at least one (6 in the papers).')
    last = num_baseline_layers - 1
    num_full = sum(1 for s in level_schedule if s == num_levels)
    out, full_seen, prev, k = [], 0, None, 0
    for levels in level_schedule:
        k = k + 1 if levels == prev else 0
        prev = levels
        if levels == num_levels:
            out.append(max(0, num_baseline_layers - num_full + full_seen))
            full_seen += 1
        else:
            out.append(min(k, last))
    return out


def cut_levels(tensor: Tensor, num_heads: int, num_levels: int, keep: int) -> Tensor:
    """The rows of a ``sampling_offsets`` / ``attention_weights`` weight or bias for the
    ``keep`` coarsest of ``num_levels`` levels (rows laid out as heads x levels x rest)."""
    rows = tensor.reshape(num_heads, num_levels, -1, *tensor.shape[1:])[:, :keep]
    return rows.reshape(-1, *tensor.shape[1:]).clone()


def scheduled_encoders(model: nn.Module) -> Dict[str, ScheduledDeformableEncoder]:
    """Every :class:`ScheduledDeformableEncoder` of ``model`` by state-dict prefix (with the
    trailing dot)."""
    return {name + '.': m for name, m in model.named_modules()
            if isinstance(m, ScheduledDeformableEncoder)}


def _baseline_layer_keys(state_dict: Dict[str, Tensor],
                         prefix: str) -> Dict[int, Dict[str, Tensor]]:
    """The baseline encoder layers under ``prefix + 'layers.'``: index -> {key rest: tensor}."""
    layers: Dict[int, Dict[str, Tensor]] = {}
    head = prefix + 'layers.'
    for key, value in state_dict.items():
        if key.startswith(head):
            index, _, rest = key[len(head):].partition('.')
            if index.isdigit():
                layers.setdefault(int(index), {})[rest] = value
    return layers


def convert_baseline_to_proscale(
        state_dict: Dict[str, Tensor],
        model: nn.Module) -> Tuple[Dict[str, Tensor], dict]:
    """Convert a baseline Mask2Former state dict (mmdet or mmseg family) to ``model``.

    Args:
        state_dict (dict[str, Tensor]): The baseline's weights (``N`` encoder layers over all
            ``L`` levels), with the model's key names (``panoptic_head.`` for mmdet,
            ``decode_head.`` for mmseg).
        model (nn.Module): The PRO-SCALE model (any model holding a
            :class:`ScheduledDeformableEncoder` with ``L`` levels); only its structure and
            its state dict's keys and shapes are read.

    Returns:
        tuple: the converted state dict (the model's keys and shapes, minus the modules the
        encoder adds: TRC, a gate) and a dict describing the conversion per encoder prefix
        (``layer_map``: baseline layer of each layer, 0-based; ``level_schedule``; ``dropped``:
        baseline keys with no counterpart; ``new``: model keys left to their initialisation).

    Raises:
        ValueError: the model has no scheduled encoder, the checkpoint has no encoder layers
            under the model's prefix, another number of levels, a key the model has no
            place for (other than the dropped ones) or a key whose shape the model does not
            have (naming the key).
    """
    encoders = scheduled_encoders(model)
    if not encoders:
        raise ValueError(f'{type(model).__name__} has no ScheduledDeformableEncoder, so there is '
                         'no PRO-SCALE encoder to convert to; pass a PRO-SCALE config (its pixel '
                         "decoder's type is EfficientMSDeformAttnPixelDecoder with stage_layers).")
    own = model.state_dict()
    out = {k: v for k, v in state_dict.items() if k in own}
    # Baseline keys PRO-SCALE has no place for: the encoder's layers (rebuilt below) and LPE's
    # replaced output convs. Anything else means the checkpoint is not this model's baseline.
    droppable = tuple([p + 'layers.' for p in encoders] + [
        name + '.output_convs.' for name, m in model.named_modules()
        if isinstance(m, EfficientMSDeformAttnPixelDecoder) and m.output_op == 'maxpool'])
    dropped = sorted(k for k in state_dict if k not in own)
    info = {}
    for prefix, encoder in encoders.items():
        baseline = _baseline_layer_keys(state_dict, prefix)
        if not baseline:
            raise ValueError(f'The checkpoint has no encoder layers under {prefix}layers. (the '
                             'model\'s encoder); pass a Mask2Former checkpoint of the same family '
                             '(mmdet: panoptic_head., mmseg: decode_head.).')
        num_baseline = max(baseline) + 1
        attn = encoder.layers[0].self_attn
        heads, points, levels = attn.num_heads, attn.num_points, encoder.num_levels
        for index, layer in sorted(baseline.items()):
            rows = layer.get('self_attn.attention_weights.weight')
            if rows is None or rows.shape[0] != heads * levels * points:
                got = 'none' if rows is None else (f'{rows.shape[0]} rows = {heads} heads x '
                                                   f'{rows.shape[0] / (heads * points):g} levels '
                                                   f'x {points} points')
                raise ValueError(
                    f'Checkpoint key {prefix}layers.{index}.self_attn.attention_weights.weight: '
                    f'{got}, but the model\'s encoder has {levels} levels ({heads} heads, '
                    f'{points} points): a baseline layer must attend over all of them. Pass a '
                    f'Mask2Former checkpoint with {levels} encoder levels and the same heads and '
                    'points, or a config that matches the checkpoint.')
        layer_map = baseline_layer_map(encoder.level_schedule, levels, num_baseline)
        for key in [k for k in out if k.startswith(prefix + 'layers.')]:
            del out[key]  # every layer is rebuilt from its mapped baseline layer below
        for i, (source, keep) in enumerate(zip(layer_map, encoder.level_schedule)):
            if source not in baseline:
                raise ValueError(f'The checkpoint lacks encoder layer {prefix}layers.{source}. '
                                 f'(it has layers {sorted(baseline)}).')
            for rest, value in baseline[source].items():
                attn_part = rest.split('.')[:2]
                if attn_part[0] == 'self_attn' and attn_part[-1] in LEVEL_SIZED:
                    value = cut_levels(value, heads, levels, keep)
                out[f'{prefix}layers.{i}.{rest}'] = value
        info[prefix] = dict(level_schedule=list(encoder.level_schedule), layer_map=layer_map,
                            num_baseline_layers=num_baseline)
    foreign = [k for k in dropped if not k.startswith(droppable)]
    if foreign:
        raise ValueError(f'Checkpoint key {foreign[0]} ({len(foreign)} in all) is not in the '
                         f'PRO-SCALE model and is not one the conversion drops ({droppable}); '
                         'pass the Mask2Former checkpoint this config was derived from.')
    for key, value in out.items():
        if key not in own:
            raise ValueError(f'Converted key {key} is not in the model (the checkpoint has more '
                             'encoder sub-modules than the model\'s layers); check that the '
                             'config and the checkpoint use the same layer config.')
        if value.shape != own[key].shape:
            raise ValueError(f'Checkpoint key {key} has shape {tuple(value.shape)} but the model '
                             f'needs {tuple(own[key].shape)}; the config and the checkpoint '
                             'differ in more than the encoder schedule (channels, heads, '
                             'points?). Pass the config the baseline was trained with, changed '
                             'only by PRO-SCALE.')
    dropped = [k for k in dropped if not k.startswith(tuple(p + 'layers.' for p in encoders))]
    for prefix in info:
        info[prefix]['dropped'] = dropped
        info[prefix]['new'] = sorted(k for k in own if k not in out)
    return out, info


def new_module_prefixes(model: nn.Module) -> List[str]:
    """Key prefixes of the modules a scheduled encoder adds to a baseline encoder (TRC, a
    gate): what a converted checkpoint lacks."""
    return [prefix + name + '.' for prefix, encoder in scheduled_encoders(model).items()
            for name, _ in encoder.named_children() if name != 'layers']
