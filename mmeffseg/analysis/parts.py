"""Attribute per-module costs (MACs, parameters, time) to the parts of a segmentation model.

A *part* is a module-name prefix (``backbone``, ``panoptic_head.pixel_decoder``...). Parts may
nest (``panoptic_head.pixel_decoder.encoder`` inside ``panoptic_head.pixel_decoder``); every
part's figure is inclusive of its sub-parts. Whatever the listed parts do not cover is reported
as ``other``.
"""
from typing import Dict, Iterable, List, Optional

import torch.nn as nn

#: Candidate parts, in display order. Only those that exist in a model are used.
KNOWN_PARTS = (
    'backbone',
    'neck',
    # Mask2Former / MaskFormer (mmdet)
    'panoptic_head',
    'panoptic_head.pixel_decoder',
    'panoptic_head.pixel_decoder.encoder',
    'panoptic_head.transformer_decoder',
    # two-stage detectors (mmdet)
    'rpn_head',
    'roi_head',
    'bbox_head',
    'mask_head',
    # encoder-decoder segmentors (mmseg), with mmseg's Mask2Former head
    'decode_head',
    'decode_head.pixel_decoder',
    'decode_head.pixel_decoder.encoder',
    'decode_head.transformer_decoder',
    'auxiliary_head',
)

OTHER = 'other'


def default_parts(model: nn.Module) -> List[str]:
    """The known parts that exist in ``model`` (as submodule names), in display order."""
    names = {name for name, _ in model.named_modules()}
    return [p for p in KNOWN_PARTS if p in names]


def check_parts(model: nn.Module, parts: Iterable[str]) -> List[str]:
    """Return ``parts`` as a list after checking that each names a submodule of ``model``.

    Raises:
        ValueError: naming the unknown part and listing the model's top-level modules.
    """
    names = {name for name, _ in model.named_modules()}
    parts = list(parts)
    for part in parts:
        if part not in names:
            top = sorted(n for n in names if n and '.' not in n)
            raise ValueError(f'Part {part!r} is not a submodule of {type(model).__name__}; '
                             f'top-level modules are {top} (use dotted names for deeper ones)')
    return parts


def _in_part(module_name: str, part: str) -> bool:
    return module_name == part or module_name.startswith(part + '.')


def part_totals(values: Dict[str, float], parts: List[str]) -> Dict[str, float]:
    """Sum per-module ``values`` into inclusive per-part totals, plus ``other``.

    Args:
        values (dict[str, float]): Value per module name (e.g. MACs charged to that module).
        parts (list[str]): Part prefixes.

    Returns:
        dict[str, float]: ``{part: inclusive total}`` for every part, and ``other`` for the
        values outside all top-level parts (a part not nested in another listed part).
    """
    out = {part: 0 for part in parts}
    top_level = [p for p in parts if not any(q != p and _in_part(p, q) for q in parts)]
    other = 0
    for name, value in values.items():
        covered = False
        for part in parts:
            if _in_part(name, part):
                out[part] += value
                covered = covered or part in top_level
        if not covered:
            other += value
    out[OTHER] = other
    return out


def part_depth(part: str, parts: List[str]) -> int:
    """How many other listed parts contain ``part`` (for indenting tables)."""
    return sum(1 for q in parts if q != part and _in_part(part, q))


def parameter_counts(model: nn.Module, parts: List[str]) -> Dict[str, int]:
    """Number of parameters per part (inclusive) and in total (key ``total``)."""
    per_param = {name: p.numel() for name, p in model.named_parameters()}
    out = part_totals(per_param, parts)
    out['total'] = sum(per_param.values())
    return out


def find_part_module(model: nn.Module, part: str) -> Optional[nn.Module]:
    """The submodule named ``part``, or None."""
    return dict(model.named_modules()).get(part)
