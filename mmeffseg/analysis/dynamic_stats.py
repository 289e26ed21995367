"""Read what a dynamic model did on its last forward: encoder exits, tokens per block, the
share of tokens a pruning layer kept.

Dynamic mmeffseg modules leave a trace of their last forward on themselves:

* ECO-M2F pixel decoders: ``last_exits``, a (B,) tensor, the encoder layers each image ran;
* token-reducing ViTs (ALGM merging, token pruning): ``last_book``, whose ``block_counts`` is a
  list (one per block) of (B,) tensors, the tokens each image ran through that block, and whose
  ``counts`` are the tokens each image has at the end (pruning keeps the count);
* token-pruning selectors: ``last_keep_ratio``, a (B,) tensor, the share of its patch tokens
  each image kept in the selector's block, and ``keep_target``, the share it was trained to keep.

These are found by attribute name (duck typing), so any module following the same convention is
reported as well.
"""
from typing import Dict, Iterable, List, Optional

import torch
import torch.nn as nn


def collect_dynamic_stats(model: nn.Module) -> Dict[str, Dict[str, list]]:
    """Per-image traces of the model's last forward.

    Returns:
        dict: ``{module name: {'exits': [e_img0, ...]}}`` and/or
        ``{module name: {'tokens_per_block': [[n_block0, n_block1, ...] per image],
        'final_tokens': [n_img0, ...]}}`` and/or
        ``{module name: {'keep_ratio': [r_img0, ...], 'keep_target': [t, ...]}}`` (the
        target repeated per image, so traces of many forwards concatenate like the rest).
    """
    stats: Dict[str, Dict[str, list]] = {}
    for name, module in model.named_modules():
        entry = {}
        exits = getattr(module, 'last_exits', None)
        if exits is not None and hasattr(exits, 'tolist'):
            entry['exits'] = [int(e) for e in exits.reshape(-1).tolist()]
        book = getattr(module, 'last_book', None)
        counts = getattr(book, 'block_counts', None) if book is not None else None
        if counts:
            per_block = [c.reshape(-1).tolist() for c in counts]  # blocks x images
            entry['tokens_per_block'] = [list(map(int, col)) for col in zip(*per_block)]
            if getattr(book, 'counts', None) is not None:
                entry['final_tokens'] = [int(c) for c in book.counts]
        keep = getattr(module, 'last_keep_ratio', None)
        if keep is not None and hasattr(keep, 'tolist'):
            entry['keep_ratio'] = [float(r) for r in keep.reshape(-1).tolist()]
            target = getattr(module, 'keep_target', None)
            if target is not None:
                entry['keep_target'] = [float(target)] * len(entry['keep_ratio'])
        if entry:
            stats[name or '(model)'] = entry
    return stats


def summarize_dynamic_stats(per_image: List[Dict[str, Dict[str, list]]]) -> Dict[str, dict]:
    """Average the traces of many forwards (each a :func:`collect_dynamic_stats` result).

    Returns:
        dict: per module, ``mean_exit`` / ``exit_histogram`` and/or ``mean_tokens_per_block``
        (and ``mean_final_tokens`` where reported) and/or ``mean_keep_ratio`` /
        ``min_keep_ratio`` / ``max_keep_ratio`` (over images) with the selector's
        ``keep_target`` where it has one, ``num_images``.
    """
    merged: Dict[str, Dict[str, list]] = {}
    for stats in per_image:
        for name, entry in stats.items():
            slot = merged.setdefault(name, {'exits': [], 'tokens_per_block': [],
                                            'final_tokens': [], 'keep_ratio': [],
                                            'keep_target': []})
            for key, values in slot.items():
                values.extend(entry.get(key, []))
    out: Dict[str, dict] = {}
    for name, slot in merged.items():
        summary = {}
        if slot['exits']:
            exits = slot['exits']
            summary['mean_exit'] = sum(exits) / len(exits)
            hist: Dict[int, int] = {}
            for e in exits:
                hist[e] = hist.get(e, 0) + 1
            summary['exit_histogram'] = {str(k): hist[k] for k in sorted(hist)}
            summary['num_images'] = len(exits)
        rows = slot['tokens_per_block']
        if rows:
            width = max(len(r) for r in rows)
            means = []
            for j in range(width):
                col = [r[j] for r in rows if j < len(r)]
                means.append(sum(col) / len(col))
            summary['mean_tokens_per_block'] = means
            summary['num_images'] = len(rows)
        if slot['final_tokens']:
            summary['mean_final_tokens'] = sum(slot['final_tokens']) / len(slot['final_tokens'])
        ratios = slot['keep_ratio']
        if ratios:
            summary.update(mean_keep_ratio=sum(ratios) / len(ratios), min_keep_ratio=min(ratios),
                           max_keep_ratio=max(ratios), num_images=len(ratios))
        if slot['keep_target']:
            summary['keep_target'] = slot['keep_target'][0]
        out[name] = summary
    return out


def dynamic_figures(summary: Dict[str, dict]) -> Dict[str, Optional[list]]:
    """The headline figures of :func:`summarize_dynamic_stats`' summary, flat.

    Returns:
        dict: ``tokens_per_block`` and ``final_tokens`` (means over images, the first
        token-reducing ViT's), ``mean_exit`` (the first early-exit encoder's), and per pruning
        layer, in module order, ``keep_ratio_per_layer`` (mean over images),
        ``keep_ratio_min_per_layer``, ``keep_ratio_max_per_layer`` and ``keep_target_per_layer``
        (the selectors' targets; None unless every pruning layer has one); None where no module
        reports them.
    """
    found = list(summary.values())
    out = dict(
        tokens_per_block=next(
            (d['mean_tokens_per_block'] for d in found if 'mean_tokens_per_block' in d), None),
        final_tokens=next(
            (d['mean_final_tokens'] for d in found if 'mean_final_tokens' in d), None),
        mean_exit=next((d['mean_exit'] for d in found if 'mean_exit' in d), None))
    for key, stat in (('keep_ratio_per_layer', 'mean'), ('keep_ratio_min_per_layer', 'min'),
                      ('keep_ratio_max_per_layer', 'max')):
        out[key] = [d[f'{stat}_keep_ratio'] for d in found if f'{stat}_keep_ratio' in d] or None
    pruning = [d for d in found if 'mean_keep_ratio' in d]
    out['keep_target_per_layer'] = ([d['keep_target'] for d in pruning]
                                    if pruning and all('keep_target' in d for d in pruning)
                                    else None)
    return out


@torch.no_grad()
def backbone_dynamic_stats(model: nn.Module, batches: Iterable[dict]) -> Dict[str, dict]:
    """What the backbone's dynamic modules did over ``batches``, the backbone alone run
    (``model.extract_feat``): :func:`summarize_dynamic_stats` of every forward. Cheaper than a
    counted whole forward where only the backbone's decisions matter (pruning's keep ratios)."""
    traces = []
    for batch in batches:
        model.extract_feat(batch['inputs'])
        traces.append(collect_dynamic_stats(model))
    if not traces:
        raise ValueError('No batches to run the backbone on')
    return summarize_dynamic_stats(traces)
