"""Per-image FLOPs of a whole model, by part and category, averaged over images.

Dynamic models (token merging, pruning, early exits) cost a different amount on every image, so
each batch is counted separately (batch 1 gives per-image figures) and the summary reports the
mean, min and max over images, plus what the dynamic modules did (:mod:`.dynamic_stats`).
All figures use 1 FLOP = 1 multiply-add.
"""
import time
from typing import Dict, Iterable, List, Optional

import torch
import torch.nn as nn

from mmeffseg.utils.progress import progress_bar
from .cost_counter import CostCounter
from .dynamic_stats import collect_dynamic_stats, dynamic_figures, summarize_dynamic_stats
from .model_inputs import run_network
from .op_costs import CATEGORIES, COUNT_MODES, check_mode, total_for_mode
from .parts import OTHER, check_parts, default_parts, parameter_counts, part_depth, part_totals


def _module_totals(by_module: Dict[str, Dict[str, int]], mode: str) -> Dict[str, int]:
    return {name: total_for_mode(cats, mode) for name, cats in by_module.items()}


def _stats(values: List[float]) -> Dict[str, float]:
    return dict(mean=sum(values) / len(values), min=min(values), max=max(values))


@torch.no_grad()
def measure_model_cost(model: nn.Module,
                       batches: Iterable[dict],
                       parts: Optional[List[str]] = None,
                       forward: str = 'tensor',
                       time_plain: bool = False,
                       progress: bool = False) -> dict:
    """Count the FLOPs of ``model`` on every batch and summarise per image.

    Args:
        model (nn.Module): An mmdet/mmseg model in eval mode.
        batches (Iterable[dict]): Preprocessed batches (``inputs``, ``data_samples``).
        parts (list[str], optional): Part prefixes; default: :func:`~.parts.default_parts`.
        forward (str): ``'tensor'`` (network only) or ``'predict'`` (with post-processing).
        time_plain (bool): Also time an uncounted forward of each batch, to report the
            counter's overhead. Default: False.
        progress (bool): Show mmengine's progress bar over the images. Default: False.

    Returns:
        dict: JSON-ready summary: ``flops`` (per mode: mean/min/max per image),
        ``by_part`` (per mode: mean per image), ``by_category`` (mean per image),
        ``params`` (per part), ``dynamic``, ``per_image`` and timing of the tool itself.
    """
    parts = check_parts(model, parts) if parts is not None else default_parts(model)
    if progress:
        batches = list(batches)
    step = progress_bar(sum(len(b['data_samples']) for b in batches) if progress else 0)
    per_image: List[dict] = []
    part_sums = {mode: {} for mode in COUNT_MODES}
    cat_sums = {c: 0.0 for c in CATEGORIES}
    dynamic_traces = []
    counted_s, plain_s = [], []
    images = 0
    for batch in batches:
        size = len(batch['data_samples'])
        if time_plain:
            t0 = time.perf_counter()
            run_network(model, batch, forward)
            plain_s.append((time.perf_counter() - t0) / size)
        t0 = time.perf_counter()
        with CostCounter(model) as counter:
            run_network(model, batch, forward)
        counted_s.append((time.perf_counter() - t0) / size)
        by_module = counter.by_module()
        by_cat = counter.by_category()
        shape = list(batch['inputs'].shape[-2:])
        entry = dict(input_shape=shape, batch_size=size)
        for mode in COUNT_MODES:
            entry[mode] = total_for_mode(by_cat, mode) / size
            totals = part_totals(_module_totals(by_module, mode), parts)
            for part, value in totals.items():
                part_sums[mode][part] = part_sums[mode].get(part, 0) + value
        for cat, value in by_cat.items():
            cat_sums[cat] += value
        # A batch counts as `size` images of its average cost.
        per_image.extend([entry] * size)
        dynamic_traces.append(collect_dynamic_stats(model))
        images += size
        step(size)
    if images == 0:
        raise ValueError('No images to measure: the dataset/dataloader yielded nothing')
    summary = dict(
        num_images=images,
        forward=forward,
        unit='FLOPs (1 FLOP = 1 multiply-add)',
        parts=parts,
        flops={mode: _stats([e[mode] for e in per_image]) for mode in COUNT_MODES},
        by_part={mode: {p: v / images for p, v in sums.items()}
                 for mode, sums in part_sums.items()},
        by_category={c: v / images for c, v in cat_sums.items()},
        params=parameter_counts(model, parts),
        dynamic=summarize_dynamic_stats(dynamic_traces),
        per_image=per_image,
        tool_seconds_per_image=sum(counted_s) / len(counted_s),
    )
    if plain_s:
        summary['plain_seconds_per_image'] = sum(plain_s) / len(plain_s)
        summary['counter_overhead'] = summary['tool_seconds_per_image'] / max(
            summary['plain_seconds_per_image'], 1e-12) - 1.0
    return summary


def cost_figures(summary: dict, parts: Optional[Dict[str, str]] = None) -> dict:
    """The headline figures of :func:`measure_model_cost`'s summary, in GFLOPs per image (mean).

    Args:
        summary (dict): :func:`measure_model_cost`'s summary.
        parts (dict[str, str], optional): ``{key: part}``: also ``{key}_gflops`` and
            ``{key}_gflops_paper`` of these parts (None where the part was not counted), e.g.
            ``dict(backbone='backbone', head='decode_head')``.

    Returns:
        dict: ``gflops`` and ``gflops_paper`` of the whole model, the parts' figures, and what
        the dynamic modules did (:func:`~.dynamic_stats.dynamic_figures`: ``tokens_per_block``
        and ``final_tokens`` of a token-reducing ViT, ``mean_exit`` of an early-exit encoder,
        ``keep_ratio_*`` of pruning layers), None where no module reports them.
    """
    out = dict(gflops=summary['flops']['full']['mean'] / 1e9,
               gflops_paper=summary['flops']['paper']['mean'] / 1e9)
    for key, part in (parts or {}).items():
        for suffix, mode in (('', 'full'), ('_paper', 'paper')):
            value = summary['by_part'][mode].get(part)
            out[f'{key}_gflops{suffix}'] = None if value is None else value / 1e9
    out.update(dynamic_figures(summary.get('dynamic', {})))
    return out


def _g(value: float) -> str:
    return f'{value / 1e9:.3f}'


def format_cost_table(summary: dict, mode: str = 'full', title: str = '') -> str:
    """Render :func:`measure_model_cost`'s summary as a plain-text table."""
    check_mode(mode)
    parts = summary['parts']
    flops = summary['flops'][mode]
    by_part = summary['by_part'][mode]
    params = summary['params']
    total = flops['mean']
    lines = []
    if title:
        lines.append(title)
    lines.append(f"mode: {mode} ({'+'.join(COUNT_MODES[mode])}); 1 FLOP = 1 multiply-add; "
                 f"{summary['num_images']} image(s), forward={summary['forward']}")
    header = f"{'part':<44}{'GFLOPs':>12}{'%':>8}{'params (M)':>12}"
    lines += [header, '-' * len(header)]
    lines.append(f"{'total (mean per image)':<44}{_g(total):>12}{100.0:>8.1f}"
                 f"{params['total'] / 1e6:>12.3f}")
    for part in parts + [OTHER]:
        indent = '  ' * (part_depth(part, parts) + 1) if part != OTHER else '  '
        value = by_part.get(part, 0)
        share = 100.0 * value / total if total else 0.0
        lines.append(f'{indent + part:<44}{_g(value):>12}{share:>8.1f}'
                     f"{params.get(part, 0) / 1e6:>12.3f}")
    lines.append('-' * len(header))
    if summary['num_images'] > 1:
        lines.append(f"per image: mean {_g(flops['mean'])}  min {_g(flops['min'])}  "
                     f"max {_g(flops['max'])} GFLOPs")
    cats = ', '.join(f'{c} {_g(v)}' for c, v in summary['by_category'].items() if v)
    lines.append(f'by category (GFLOPs, mean per image): {cats}')
    other_modes = ', '.join(f"{m} {_g(summary['flops'][m]['mean'])}" for m in COUNT_MODES)
    lines.append(f'all modes (GFLOPs, mean per image): {other_modes}')
    for name, dyn in summary.get('dynamic', {}).items():
        if 'mean_exit' in dyn:
            lines.append(f"{name}: encoder layers run (exit) mean {dyn['mean_exit']:.2f} "
                         f"(histogram {dyn['exit_histogram']})")
        if 'mean_tokens_per_block' in dyn:
            toks = ', '.join(f'{t:.0f}' for t in dyn['mean_tokens_per_block'])
            lines.append(f'{name}: mean tokens per block [{toks}]')
    line = f"counting time: {summary['tool_seconds_per_image']:.2f} s/image"
    if 'plain_seconds_per_image' in summary:
        line += (f" (plain forward {summary['plain_seconds_per_image']:.2f} s/image, "
                 f"overhead {100 * summary['counter_overhead']:.0f}%)")
    lines.append(line)
    return '\n'.join(lines)


def _format_size(value: float) -> str:
    for unit, scale in (('T', 1e12), ('G', 1e9), ('M', 1e6), ('K', 1e3)):
        if value >= scale:
            return f'{value / scale:.3f}{unit}'
    return f'{value:.0f}'


def format_summary_block(summary: dict, mode: str = 'full') -> str:
    """mmdet's / mmseg's get_flops summary (``Input shape:``, ``Flops:``, ``Params:``).

    ``Flops`` is the mean per image in ``mode`` (1 FLOP = 1 multiply-add, as theirs); the input
    shape is the network input (after padding), ``varies`` over images of different sizes.
    """
    shapes = sorted({tuple(e['input_shape']) for e in summary['per_image']})
    shape = f'(3, {shapes[0][0]}, {shapes[0][1]})' if len(shapes) == 1 else \
        f'varies over {len(shapes)} sizes, e.g. (3, {shapes[0][0]}, {shapes[0][1]})'
    split = '=' * 30
    return (f"{split}\nInput shape: {shape}\n"
            f"Flops: {_format_size(summary['flops'][check_mode(mode)]['mean'])}\n"
            f"Params: {_format_size(summary['params']['total'])}\n{split}")
