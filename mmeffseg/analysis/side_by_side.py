"""Several models measured side by side on the same batches: per-image cost, interleaved timing.

The figure tools compare models that differ in one thing (a baseline and its ALGM twin with the
same weights, a pruned model and the same weights kept dense, one merging threshold against
another). Measuring them in one call keeps every comparison fair in the same way: the same
batches for every model, the counts per image (batches of one image give exact per-image figures
for dynamic models), and the timings interleaved per batch size
(:func:`~.timing.benchmark_models`), so that a drifting load on a shared machine hits every model
alike.
"""
import copy
from typing import Callable, Dict, Hashable, List, Mapping, Optional, Sequence

import torch
import torch.nn as nn

from .model_cost import cost_figures, measure_model_cost
from .timing import benchmark_models, timing_figures


def model_variants(model: nn.Module,
                   settings: Mapping[Hashable, Callable[[nn.Module], object]]
                   ) -> Dict[Hashable, nn.Module]:
    """Copies of ``model`` that share its parameters and buffers, each changed by its setting.

    One network under different switches (pruning decisions, a merging threshold) measured side
    by side: the copies hold no second set of weights, and each has modules of its own, so a
    setting and the trace of a forward stay on its copy.

    Args:
        model (nn.Module): The model (left unchanged).
        settings (Mapping): ``{name: fn}``; ``fn(copy)`` changes the copy in place (what it
            returns is ignored).

    Returns:
        dict: ``{name: copy}``, in the order of ``settings``.
    """
    shared = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    variants = {}
    for name, setting in settings.items():
        variant = copy.deepcopy(model, memo=dict(shared))  # memo: the tensors are not copied
        setting(variant)
        variants[name] = variant
    return variants


def measure_side_by_side(models: Mapping[Hashable, nn.Module],
                         cost_batches: Optional[Sequence[dict]] = None,
                         timing_batches: Optional[Mapping[int, Sequence[dict]]] = None,
                         parts: Optional[Mapping[str, str]] = None,
                         timed_parts: Optional[List[str]] = None,
                         warmup: int = 1,
                         repeats: int = 3,
                         forward: str = 'tensor',
                         seed: Optional[int] = 0,
                         progress: bool = True) -> Dict[Hashable, dict]:
    """Count and time several models on the same batches.

    Args:
        models (Mapping[Hashable, nn.Module]): ``{name: model}``, models in eval mode.
        cost_batches (Sequence[dict], optional): Preprocessed batches to count every model's
            FLOPs on (:func:`~.model_cost.measure_model_cost`; batches of one image for
            per-image figures of dynamic models). None: no counting.
        timing_batches (Mapping[int, Sequence[dict]], optional): ``{batch size: batches}`` to
            time the models on, interleaved, one :func:`~.timing.benchmark_models` per batch
            size (each list cycled). None: no timing.
        parts (Mapping[str, str], optional): ``{key: part}`` counted on their own and reported
            as ``{key}_gflops`` (see :func:`~.model_cost.cost_figures`). Default: the model's
            default parts, whole-model figures only.
        timed_parts (list[str], optional): Parts of every model to time in a tracked second
            series (token reducers' own time comes with them). Default: whole models only.
        warmup (int): Untimed forwards per model and series. Default: 1.
        repeats (int): Timed forwards per model and series (rounds over the models).
            Default: 3.
        forward (str): ``'tensor'`` or ``'predict'`` (see :func:`~.model_inputs.run_network`).
        seed (int, optional): Seeds torch before each model's count, so that sampled decisions
            (Gumbel pruning) repeat from run to run. None: no seeding.
        progress (bool): Show mmengine's progress bars. Default: True.

    Returns:
        dict: ``{name: row}`` in the order of ``models``; a row has ``cost``
        (:func:`~.model_cost.cost_figures`) where ``cost_batches`` are given and ``timing``,
        ``{str(batch size): timing_figures}`` (:func:`~.timing.timing_figures`), where
        ``timing_batches`` are given.

    Raises:
        ValueError: no model, nothing to measure, or a batch size without batches.
    """
    if not models:
        raise ValueError('measure_side_by_side needs at least one model')
    if cost_batches is None and not timing_batches:
        raise ValueError('Nothing to measure: give cost_batches and/or timing_batches')
    rows: Dict[Hashable, dict] = {name: {} for name in models}
    if cost_batches is not None:
        cost_batches = list(cost_batches)
        count_parts = list(dict.fromkeys(parts.values())) if parts else None
        for name, model in models.items():
            if seed is not None:
                torch.manual_seed(seed)
            summary = measure_model_cost(model, cost_batches, count_parts, forward,
                                         progress=progress)
            rows[name]['cost'] = cost_figures(summary, parts)
    for batch_size, batches in (timing_batches or {}).items():
        batches = list(batches)
        if not batches:
            raise ValueError(f'No batch of {batch_size} image(s) to time: fewer images than '
                             'the batch size?')
        results = benchmark_models(list(models.values()), [batches] * len(models), warmup,
                                   repeats, None if not timed_parts else
                                   [list(timed_parts)] * len(models), forward, progress)
        for name, result in zip(models, results):
            rows[name].setdefault('timing', {})[str(batch_size)] = timing_figures(result)
    return rows
