"""Latency and throughput of a model, whole and per part, on CPU or GPU.

Whole-model latency is timed on the untouched model (synchronised on GPU). Per-part times come
from a second pass that tracks the part modules' forwards
(:class:`~.forward_tracker.ForwardTracker`), synchronising the device at every entry and exit,
so the parts are attributed exactly at the price of a slightly slower pass; they are reported
as their own medians, not as shares of the first pass.
Token reducers (modules of the ``TOKEN_REDUCERS`` registry) run a ViT block *inside* their
forward; their own work is their *self* time, i.e. their time minus the time of the modules
they call.
Peak memory (in the first timed forward of each model, outside its timed span, and per part
in the tracked pass) is the growth over the memory in use when the model / part starts:
``torch.cuda.max_memory_allocated`` on CUDA, the process's peak resident set size (Linux
``VmHWM``, reset through ``/proc/self/clear_refs``) on CPU; None where neither is available.
"""
import resource
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmeffseg.utils.heap import freed_memory_kept
from mmeffseg.utils.progress import progress_bar
from .forward_tracker import ForwardTracker
from .model_inputs import run_network


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device('cpu')


class _MemoryProbe:
    """Current and peak memory of the device (CUDA allocator) or the process (CPU RSS)."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == 'cuda'
        self.device = device
        try:
            self.available = self.cuda or self._reset_rss() is None
        except OSError:
            self.available = False

    @staticmethod
    def _reset_rss() -> None:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets VmHWM (the peak RSS) to the current RSS

    @staticmethod
    def _status_kb(key: str) -> int:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
        raise OSError(f'{key} not in /proc/self/status')

    def start(self) -> int:
        """Reset the peak; return the bytes in use now."""
        if self.cuda:
            _sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return torch.cuda.memory_allocated(self.device)
        self._reset_rss()
        return 1024 * self._status_kb('VmRSS:')

    def peak(self) -> int:
        """Peak bytes in use since the last :meth:`start`."""
        if self.cuda:
            _sync(self.device)
            return torch.cuda.max_memory_allocated(self.device)
        return 1024 * self._status_kb('VmHWM:')


def _minor_faults() -> int:
    # Pages the kernel mapped (and zeroed) for the process: on CPU, the time a forward spends
    # page-faulting its tensors in has no FLOPs behind it (see mmeffseg.utils.heap).
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def latency_stats(seconds: Sequence[float]) -> Dict[str, float]:
    """Median, quartiles, IQR, min, max and mean of a list of durations (seconds)."""
    values = sorted(seconds)
    if len(values) == 0:
        raise ValueError('latency_stats needs at least one measurement')
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method='inclusive')
    else:
        q1 = q3 = values[0]
    return dict(
        median=statistics.median(values),
        q1=q1,
        q3=q3,
        iqr=q3 - q1,
        min=values[0],
        max=values[-1],
        mean=statistics.fmean(values),
        n=len(values))


def _token_reducer_classes() -> Tuple[type, ...]:
    try:
        from mmeffseg.registry import TOKEN_REDUCERS
    except ImportError:
        return ()
    return tuple(TOKEN_REDUCERS.module_dict.values())


class _HookTimer:
    """Times given parts (inclusive) and token reducers (self time) by tracking forwards.

    A part is timed from the first entry into it or any of its submodules until the matching
    exit, so a part whose own ``forward`` is never called (mmdet's ``Mask2FormerHead`` runs
    ``transformer_decoder.layers[i]`` itself) is timed by the spans of its submodules' calls.
    The device is synchronised only where a part span starts or ends (and everywhere when
    reducers' self time is wanted).
    """

    def __init__(self, model: nn.Module, parts: List[str], device: torch.device) -> None:
        self.device = device
        self.parts = list(parts)
        reducer_types = _token_reducer_classes()
        self.reducers = {
            name for name, m in model.named_modules()
            if reducer_types and isinstance(m, reducer_types)
        }
        self.part_time: Dict[str, float] = {}
        self.reducer_self = 0.0
        self._stack: List[list] = []  # [name, t0, child_time], for reducers' self time
        names = [n for n, _ in model.named_modules() if n]
        # The parts each module belongs to (itself or an ancestor is a part).
        self._parts_of = {
            n: [p for p in self.parts if n == p or n.startswith(p + '.')]
            for n in names
        }
        self._depth: Dict[str, int] = {}
        self._start: Dict[str, float] = {}
        self.memory = _MemoryProbe(device)
        self.part_peak: Dict[str, int] = {}
        self._mem: Dict[str, list] = {}  # active part -> [bytes at start, peak growth]
        # Self time needs every module that a reducer calls, so track all modules when the
        # model has reducers; otherwise only the parts and what they contain.
        watch = None if self.reducers else {n for n in names if self._parts_of[n]}
        self._tracker = ForwardTracker(
            ((n, m) for n, m in model.named_modules() if n and (watch is None or n in watch)),
            self._enter, self._exit)
        self.reset()
        self._tracker.__enter__()

    def reset(self) -> None:
        self.part_time = {p: 0.0 for p in self.parts}
        self.part_peak = {p: 0 for p in self.parts}
        self._mem = {}
        self._depth = {p: 0 for p in self.parts}
        self.reducer_self = 0.0
        self._stack.clear()

    def _enter(self, name: str, module: nn.Module) -> None:
        parts = self._parts_of.get(name, ())
        if self.reducers or any(self._depth[p] == 0 for p in parts):
            _sync(self.device)
        starting = [p for p in parts if self._depth[p] == 0]
        if starting and self.memory.available:
            # Resetting the peak for a new part first folds it into the parts still running.
            self._fold_memory()
            used = self.memory.start()
            for p in starting:
                self._mem[p] = [used, 0]
        now = time.perf_counter()
        for p in parts:
            if self._depth[p] == 0:
                self._start[p] = now
            self._depth[p] += 1
        if self.reducers:
            self._stack.append([name, now, 0.0])

    def _exit(self, name: str, module: nn.Module, output) -> None:
        parts = self._parts_of.get(name, ())
        if self.reducers or any(self._depth[p] == 1 for p in parts):
            _sync(self.device)
        now = time.perf_counter()
        if self.memory.available and any(self._depth[p] == 1 for p in parts):
            self._fold_memory()
        for p in parts:
            self._depth[p] -= 1
            if self._depth[p] == 0:
                self.part_time[p] += now - self._start[p]
                if p in self._mem:
                    self.part_peak[p] = max(self.part_peak[p], self._mem.pop(p)[1])
        if not self.reducers or not self._stack or self._stack[-1][0] != name:
            return
        _, t0, child = self._stack.pop()
        elapsed = now - t0
        if self._stack:
            self._stack[-1][2] += elapsed
        if name in self.reducers:
            self.reducer_self += elapsed - child

    def _fold_memory(self) -> None:
        peak = self.memory.peak()
        for state in self._mem.values():
            state[1] = max(state[1], peak - state[0])

    def remove(self) -> None:
        self._tracker.__exit__(None, None, None)


class TimedCall(nn.Module):
    """A plain function as a model of :func:`benchmark_models`, so that op and sub-module timings
    (an encoder at a fixed exit, a CPU core against the op it replaces) share the one timing
    loop. ``_forward`` ignores the batch it is handed; pass ``module`` for the device.

    Args:
        fn (callable): Called without arguments on every forward.
        module (nn.Module, optional): What ``fn`` runs (its device is the timing's device).
    """

    def __init__(self, fn: Callable[[], object], module: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.fn, self.module = fn, module

    def _forward(self, inputs=None, data_samples=None):
        return self.fn()


#: The one-image batch a :class:`TimedCall` is timed on.
CALL_BATCH = dict(inputs=None, data_samples=[None])


class _ModelSeries:
    """The timing state of one model: its batches, parts and measurements so far."""

    def __init__(self, model: nn.Module, batches: List[dict], parts: Optional[List[str]],
                 forward: str) -> None:
        if not batches:
            raise ValueError('benchmarking needs at least one batch per model')
        sizes = {len(b['data_samples']) for b in batches}
        if len(sizes) != 1:
            raise ValueError(
                f'All batches must have the same size to time them, got {sorted(sizes)}')
        self.model, self.batches, self.forward = model, batches, forward
        self.parts = list(parts or [])
        self.batch_size = sizes.pop()
        self.device = _model_device(model)
        self.seconds: List[float] = []
        self.faults: List[int] = []
        self.per_part = {p: [] for p in self.parts}
        self.reducer_self: List[float] = []
        self.backbone_share: List[float] = []
        self.part_peak: Dict[str, List[int]] = {p: [] for p in self.parts}
        self.peak_memory: Optional[int] = None
        self.timer: Optional[_HookTimer] = None

    def run(self, i: int) -> None:
        run_network(self.model, self.batches[i % len(self.batches)], self.forward)

    def time_whole(self, i: int) -> None:
        # The first timed forward also gives the peak memory; the probe's reads stay
        # outside the timed span.
        probe = _MemoryProbe(self.device) if self.peak_memory is None else None
        used = probe.start() if probe is not None and probe.available else None
        faults = _minor_faults()
        _sync(self.device)
        t0 = time.perf_counter()
        self.run(i)
        _sync(self.device)
        self.seconds.append(time.perf_counter() - t0)
        self.faults.append(_minor_faults() - faults)
        if used is not None:
            self.peak_memory = probe.peak() - used

    def time_parts(self, i: int) -> None:
        timer = self.timer
        timer.reset()
        self.run(i)
        for p in self.parts:
            self.per_part[p].append(timer.part_time[p])
            if timer.memory.available:
                self.part_peak[p].append(timer.part_peak[p])
        if timer.reducers:
            self.reducer_self.append(timer.reducer_self)
            if timer.part_time.get('backbone', 0) > 0:
                self.backbone_share.append(timer.reducer_self / timer.part_time['backbone'])

    def _megabytes(self, peaks: List[Optional[int]]) -> Optional[float]:
        """The whole forward's largest growth in MB; None where it cannot be measured: on CPU
        a whole forward that grows the RSS by 0 ran in pages the process already held (e.g.
        after training in the same process); it needs memory. (A part may truly need none.)"""
        peaks = [p for p in peaks if p is not None]
        if not peaks or (self.device.type == 'cpu' and max(peaks) <= 0):
            return None
        return max(peaks) / 2**20

    def result(self, warmup: int, repeats: int) -> dict:
        # ``samples`` keeps the timed forwards in repeat order: sample r of every model was
        # timed in the same round, so per-round ratios between models can be paired.
        lat = dict(latency_stats(self.seconds), samples=list(self.seconds))
        out = dict(device=str(self.device), batch_size=self.batch_size, forward=self.forward,
                   warmup=warmup, repeats=repeats, latency=lat,
                   heap='kept' if freed_memory_kept() else 'system',
                   throughput=self.batch_size / lat['median'],
                   peak_memory_mb=self._megabytes([self.peak_memory]),
                   minor_faults=(statistics.median(self.faults)
                                 if self.device.type == 'cpu' else None))
        if self.parts:
            out['parts'] = {p: dict(latency_stats(v), samples=list(v))
                            for p, v in self.per_part.items()}
            for p, peaks in self.part_peak.items():
                out['parts'][p]['peak_memory_mb'] = max(peaks) / 2**20 if peaks else None
            if self.timer is not None and self.timer.reducers:
                out['token_reducers'] = dict(modules=sorted(self.timer.reducers),
                                             self_time=latency_stats(self.reducer_self))
                if self.backbone_share:
                    out['token_reducers']['share_of_backbone'] = statistics.median(
                        self.backbone_share)
        return out


def _interleave(series: List[_ModelSeries], timed_run: Callable, warmup: int, repeats: int,
                step: Callable[[], None]) -> None:
    # Warm every model up, then repeat r runs every model once, starting with model r mod n:
    # each model takes every place in the order alike (the first after a switch pays cold
    # caches; a fixed order would charge it to the same model every time).
    for s in series:
        for i in range(warmup):
            s.run(i)
            step()
    for i in range(repeats if series else 0):
        start = i % len(series)
        for s in series[start:] + series[:start]:
            timed_run(s, i)
            step()


@torch.no_grad()
def benchmark_models(models: Sequence[nn.Module],
                     batches: Sequence[List[dict]],
                     warmup: int = 3,
                     repeats: int = 10,
                     parts: Optional[Sequence[Optional[List[str]]]] = None,
                     forward: str = 'tensor',
                     progress: bool = False) -> List[dict]:
    """Time several models side by side, interleaved: repeat ``r`` runs every model once,
    starting with model ``r mod n`` (so no model always runs first).

    Interleaving spreads slow drifts of a shared machine (other jobs, clock changes) over all
    models alike, so their ratios are steadier than those of back-to-back series.

    Args:
        models (Sequence[nn.Module]): Models in eval mode.
        batches (Sequence[list[dict]]): For each model, its preprocessed batches (cycled),
            all of one batch size.
        warmup (int): Untimed forwards per model before each timed series.
        repeats (int): Timed forwards per model and series.
        parts (Sequence[list[str] | None], optional): For each model, the part module names to
            time in a second, tracked series; None: whole models only.
        forward (str): ``'tensor'`` or ``'predict'`` (see :func:`~.model_inputs.run_network`).
        progress (bool): Show mmengine's progress bar over every forward (warm-up included).

    Returns:
        list[dict]: One result per model, as :func:`benchmark_model` returns it.
    """
    if warmup < 0 or repeats < 1:
        raise ValueError(f'Need warmup >= 0 and repeats >= 1, got warmup={warmup}, '
                         f'repeats={repeats}')
    if len(batches) != len(models) or (parts is not None and len(parts) != len(models)):
        raise ValueError('benchmark_models needs one batch list (and one part list) per model')
    series = [
        _ModelSeries(m, list(b), None if parts is None else parts[i], forward)
        for i, (m, b) in enumerate(zip(models, batches))
    ]
    timed = [s for s in series if s.parts]
    step = progress_bar((len(series) + len(timed)) * (warmup + repeats), progress)
    _interleave(series, _ModelSeries.time_whole, warmup, repeats, step)
    try:
        for s in timed:
            s.timer = _HookTimer(s.model, s.parts, s.device)
        _interleave(timed, _ModelSeries.time_parts, warmup, repeats, step)
    finally:
        for s in timed:
            if s.timer is not None:
                s.timer.remove()
    return [s.result(warmup, repeats) for s in series]


def benchmark_model(model: nn.Module,
                    batches: List[dict],
                    warmup: int = 3,
                    repeats: int = 10,
                    parts: Optional[List[str]] = None,
                    forward: str = 'tensor',
                    progress: bool = False) -> dict:
    """Time ``model`` on ``batches`` (cycled): whole forward, then per part.

    Args:
        model (nn.Module): Model in eval mode.
        batches (list[dict]): Preprocessed batches, all of the same batch size.
        warmup (int): Untimed forwards before each timed series.
        repeats (int): Timed forwards per series (batches are cycled).
        parts (list[str], optional): Part module names to time; none: whole model only.
        forward (str): ``'tensor'`` or ``'predict'`` (see :func:`~.model_inputs.run_network`).
        progress (bool): Show mmengine's progress bar.

    Returns:
        dict: ``latency`` (seconds per batch: median, q1, q3, iqr, min, max, mean, n, and
        ``samples``, every timed forward in repeat order), ``heap`` (``'kept'`` where
        :func:`mmeffseg.utils.heap.keep_freed_memory` was applied, else ``'system'``),
        ``minor_faults`` (median minor page faults of one whole forward; None off CPU),
        ``throughput`` (images/s at the median), ``batch_size``, ``device`` and, with parts,
        ``peak_memory_mb`` (peak memory growth of one forward, see the module docstring),
        ``parts`` (per part the same statistics + ``peak_memory_mb``) and, when the model has
        token reducers,
        ``token_reducers`` (their self-time statistics and median share of backbone time).
    """
    return benchmark_models([model], [batches], warmup, repeats,
                            None if not parts else [parts], forward, progress)[0]


def timing_figures(result: dict) -> dict:
    """The headline figures of :func:`benchmark_model`'s result, flat (seconds per batch, and
    per image where named so).

    ``latency_per_image`` is the *mean* batch latency over the batch size, not the median: the
    timed batches are cycled over a set of images, and a dynamic model (token merging, pruning,
    early exits) takes longer on some images than on others, so over a whole number of passes
    the mean is the time per image over the set (its reciprocal the images/s over the set),
    where the median would be the time of one middling image.

    Returns:
        dict: ``throughput`` (images/s at the median), ``latency_median``, ``latency_iqr``,
        ``latency_per_image``; with timed parts, ``{part}_median``, ``{part}_iqr`` and
        ``{part}_per_image`` (mean over the batch size, as above) for each; with token
        reducers (timed with the backbone), ``reducer_self_median`` and
        ``reducer_share_of_backbone`` (None where not measured).
    """
    batch_size = result['batch_size']
    out = dict(throughput=result['throughput'], latency_median=result['latency']['median'],
               latency_iqr=result['latency']['iqr'],
               latency_per_image=result['latency']['mean'] / batch_size)
    for part, stats in result.get('parts', {}).items():
        out.update({f'{part}_median': stats['median'], f'{part}_iqr': stats['iqr'],
                    f'{part}_per_image': stats['mean'] / batch_size})
    if 'parts' in result:
        reducers = result.get('token_reducers', {})
        out.update(reducer_self_median=reducers.get('self_time', {}).get('median'),
                   reducer_share_of_backbone=reducers.get('share_of_backbone'))
    return out


def heap_note(result: dict) -> str:
    """``', freed memory kept in the heap'`` for a timing result taken with the heap kept
    (:mod:`mmeffseg.utils.heap`), else ``''``: the renderers' one wording of that setting."""
    return ', freed memory kept in the heap' if result.get('heap') == 'kept' else ''


def format_benchmark(result: dict, title: str = '') -> str:
    """Render :func:`benchmark_model`'s result as plain text (milliseconds)."""
    lines = [title] if title else []
    lat = result['latency']
    lines.append(f"device {result['device']}, batch {result['batch_size']}, "
                 f"{result['warmup']} warm-up + {result['repeats']} timed forwards "
                 f"(forward={result['forward']})"
                 + heap_note(result))
    header = (f"{'':<40}{'median ms':>11}{'IQR ms':>9}{'min ms':>9}{'max ms':>9}"
              f"{'peak MB':>9}")
    lines += [header, '-' * len(header)]

    def row(name, s, peak=None):
        peak = '-' if peak is None else f'{peak:.1f}'
        return (f"{name:<40}{1e3 * s['median']:>11.2f}{1e3 * s['iqr']:>9.2f}"
                f"{1e3 * s['min']:>9.2f}{1e3 * s['max']:>9.2f}{peak:>9}")

    lines.append(row('whole model (per batch)', lat, result.get('peak_memory_mb')))
    for part, s in result.get('parts', {}).items():
        lines.append(row('  ' + part, s, s.get('peak_memory_mb')))
    red = result.get('token_reducers')
    if red:
        lines.append(row('  token reducers (self time)', red['self_time']))
    lines.append('-' * len(header))
    lines.append(f"throughput: {result['throughput']:.2f} images/s")
    if result.get('minor_faults') is not None:
        lines.append(f"minor page faults per forward (median): {result['minor_faults']:,.0f}")
    if red and 'share_of_backbone' in red:
        lines.append(f"token reducers' own work: {100 * red['share_of_backbone']:.1f}% of "
                     f"backbone time (median)")
    return '\n'.join(lines)
