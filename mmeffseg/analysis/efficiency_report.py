"""Side-by-side efficiency report: a baseline and method configs on the same images.

For every config, in one process: optionally a short training from scratch (mmengine
``Runner``, temporary work dir) or a checkpoint, an evaluation on the test set (quality) and the
per-image FLOPs on the first N test images (:func:`~.model_cost.measure_model_cost`). Then all
models are timed on the same images *interleaved* (:func:`~.timing.benchmark_models`: every
repeat runs each model once), whole and per part (e.g. the pixel decoder), so latency ratios
come from one side-by-side series. Writes ``report.md``, ``report.json`` and ``report.png``
(quality against cost and against latency).
"""
import copy
import os.path as osp
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.hooks import Hook

from mmeffseg.apis import build_model, load_config, model_family
from mmeffseg.datasets.data_roots import iter_dataset_cfgs
from mmeffseg.ops import cpu_deform_attn as use_cpu_deform_attn
from mmeffseg.utils import check_checkpoint_fits, progress_bar, read_checkpoint
from mmeffseg.utils.heap import keep_freed_memory
from mmeffseg.utils.output_files import (atomic_output, prepare_output_dir, write_json,
                                         write_text_atomic)
from .model_cost import measure_model_cost
from .model_inputs import dataset_batches, shape_batches
from .parts import check_parts, default_parts
from .timing import benchmark_models, heap_note, latency_stats


@dataclass(frozen=True)
class ReportOptions:
    """What the report measures besides the configs, and how.

    Args:
        checkpoints (Sequence[str | None], optional): One per config (baseline first;
            ``None`` / ``'none'``: none); a config with a checkpoint is evaluated with it
            instead of being trained. Default: None.
        train_iters (int): Iterations of training from scratch before evaluating (0: no
            training; then quality is only measured for configs with a checkpoint).
            Default: 0.
        num_images (int, optional): Test images for FLOPs and latency (batch 1). Default: 4.
        shape (Sequence[int], optional): Synthetic ``H W`` input instead of test images.
            Default: None.
        eval_images (int, optional): Evaluate on the first N test images only. Default: None.
        warmup (int): Untimed forwards before timing. Default: 1.
        repeats (int): Timed forwards (cycling over the images). Default: 3.
        metric (str, optional): Quality metric key; default: first of DEFAULT_METRICS found.
        cfg_options (dict, optional): Overrides applied to every config. Default: None.
        seed (int): Training seed (the same for every config). Default: 0.
        parts (Sequence[str]): Parts to time besides the model's default parts (backbone,
            pixel decoder, ...), as dotted module names. Default: ().
        cpu_deform_attn (str): CPU core of every deformable attention during the whole report
            (training, evaluation, timing), ``'mmcv'`` or ``'gather'``; see
            :mod:`mmeffseg.ops.deform_attn_backend`. All configs use the same one.
            Default: 'mmcv'.
        keep_freed_memory (bool): Keep freed memory in the process's heap for the whole
            report (:mod:`mmeffseg.utils.heap`: no page faults of FLOP-free cost in the timed
            forwards; peak memory then n/a on CPU). Default: False.
        progress (bool): Show mmengine's progress bars (training, test, FLOPs, timing) besides
            the report's step lines. Default: True.
    """
    checkpoints: Optional[Sequence[Optional[str]]] = None
    train_iters: int = 0
    num_images: Optional[int] = 4
    shape: Optional[Tuple[int, int]] = None
    eval_images: Optional[int] = None
    warmup: int = 1
    repeats: int = 3
    metric: Optional[str] = None
    cfg_options: Optional[dict] = None
    seed: int = 0
    parts: Sequence[str] = ()
    cpu_deform_attn: str = 'mmcv'
    keep_freed_memory: bool = False
    progress: bool = True


#: Metrics looked for, in order, when ``metric`` is not given.
DEFAULT_METRICS = ('coco_panoptic/PQ', 'mIoU', 'coco/segm_mAP', 'coco/bbox_mAP', 'aAcc')


def _pick_metric(metrics: Dict[str, float], wanted: Optional[str]) -> Optional[tuple]:
    if not metrics:
        return None
    if wanted is not None:
        if wanted not in metrics:
            raise ValueError(f'Metric {wanted!r} not among the evaluation results '
                             f'{sorted(metrics)}; choose one of those with --metric')
        return wanted, float(metrics[wanted])
    for name in DEFAULT_METRICS:
        if name in metrics:
            return name, float(metrics[name])
    name = sorted(metrics)[0]
    return name, float(metrics[name])


def _short_schedule(cfg, iters: int, work_dir: str, seed: int):
    """Turn ``cfg`` into an ``iters``-iteration training run from scratch in ``work_dir``."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    # The iteration loop validates after its last iteration whatever val_interval says; the
    # report tests once afterwards, so no validation during training.
    cfg.val_dataloader = None
    cfg.val_cfg = None
    cfg.val_evaluator = None
    cfg.default_hooks = cfg.get('default_hooks', {})
    # The trained model is measured in memory: no checkpoint to write.
    cfg.default_hooks['checkpoint'] = dict(type='CheckpointHook', interval=-1, save_last=False)
    cfg.default_hooks['logger'] = dict(type='LoggerHook', interval=max(1, iters // 5))
    cfg.log_processor = dict(by_epoch=False)
    # mmengine's INFO logs (config dump, hook lists, per-parameter options) would bury the
    # report's own step lines; _ProgressHook shows training and test progress instead.
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=seed)
    # mmengine reuses a visualizer of the same name across runners (and its save dir with it);
    # every run gets its own: the work dir lies in a fresh temporary folder per report.
    if cfg.get('visualizer') is not None:
        cfg.visualizer['name'] = f'report_visualizer:{work_dir}'
    cfg.load_from = None
    cfg.resume = False
    # Epoch-based schedulers would never step in an iteration loop; make them iteration-based.
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for sched in schedulers:
        if sched.get('by_epoch', True) and 'milestones' not in sched:
            sched['by_epoch'] = False
            sched['end'] = iters
    cfg.param_scheduler = schedulers
    return cfg


class _ProgressHook(Hook):
    """mmengine's progress bar over the training iterations and over the test batches; the
    last training loss is kept for the report's step line."""

    priority = 'LOW'

    def __init__(self, show: bool) -> None:
        self.show = show
        self.last_loss: Optional[float] = None
        self._step = None

    def before_train(self, runner) -> None:
        self._step = progress_bar(runner.max_iters - runner.iter, self.show)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        loss = outputs.get('loss') if isinstance(outputs, dict) else None
        if loss is not None:
            self.last_loss = float(loss.detach()) if hasattr(loss, 'detach') else float(loss)
        self._step()

    def before_test(self, runner) -> None:
        self._step = progress_bar(len(runner.test_dataloader), self.show)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()


def _limit_test_set(cfg, num_images: Optional[int]):
    if num_images:
        # `indices` belongs to a real dataset, not to a wrapper around it.
        for _, dataset in iter_dataset_cfgs(cfg.test_dataloader.dataset):
            dataset['indices'] = int(num_images)
        cfg.test_dataloader.num_workers = 0
        cfg.test_dataloader.persistent_workers = False
    return cfg


def _train_and_test(cfg, opts: ReportOptions, checkpoint: Optional[str],
                    log: Callable[[str], None], work_dir: str):
    """Return ``(model, metrics)`` after an optional short training and a test run."""
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.runner import Runner

    cfg = _short_schedule(cfg, max(opts.train_iters, 1), work_dir, opts.seed)
    cfg = _limit_test_set(cfg, opts.eval_images)
    if checkpoint is not None:
        cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    if checkpoint is not None:
        # The runner loads non-strictly; refuse a checkpoint that does not fit before testing.
        check_checkpoint_fits(runner.model, checkpoint)
    hook = _ProgressHook(opts.progress)
    runner.register_hook(hook, 'LOW')
    if opts.train_iters > 0 and checkpoint is None:
        log(f'training {opts.train_iters} iterations')
        t0 = time.time()
        runner.train()
        loss = '' if hook.last_loss is None else f', last loss {hook.last_loss:.3f}'
        log(f'trained {opts.train_iters} iterations in {time.time() - t0:.0f} s{loss}')
    log(f'testing on {len(runner.test_dataloader.dataset)} image(s)')
    t0 = time.time()
    metrics = runner.test()
    log(f'evaluated in {time.time() - t0:.0f} s')
    model = revert_sync_batchnorm(runner.model)
    return model.eval(), dict(metrics or {})


def _image_ids(batches: List[dict]) -> List[str]:
    ids = []
    for batch in batches:
        for sample in batch['data_samples']:
            ids.append(str(sample.metainfo.get('img_path', sample.metainfo.get('img_id', '?'))))
    return ids


def _measure_cost(model, cfg, opts: ReportOptions, step) -> tuple:
    """The report's batches for one model and its FLOPs on them."""
    if opts.shape is not None:
        batches = shape_batches(model, model_family(cfg), opts.shape, 1, 1)
        inputs = f'synthetic {opts.shape[0]}x{opts.shape[1]}'
    else:
        batches = list(dataset_batches(cfg, model, opts.num_images or 1, 1))
        inputs = f'first {len(batches)} test image(s)'
    step(f'counting FLOPs on {inputs}')
    cost = measure_model_cost(model, batches, progress=opts.progress)
    return batches, dict(inputs=inputs, image_ids=_image_ids(batches), cost=cost)


def run_efficiency_report(baseline: str,
                          methods: Sequence[str] = (),
                          options: ReportOptions = ReportOptions(),
                          log: Callable[[str], None] = print) -> dict:
    """Measure the baseline and each method config; return the JSON-ready report.

    Args:
        baseline (str): Baseline config (a path or a name :func:`mmeffseg.apis.load_config`
            takes).
        methods (Sequence[str]): Method configs.
        options (ReportOptions): What to measure and how.
        log (callable): Printer of the report's step lines (one per step, with the elapsed
            time); counts within a step show as mmengine progress bars on stdout.
    """
    if options.keep_freed_memory:
        keep_freed_memory()
    with use_cpu_deform_attn(options.cpu_deform_attn):
        report = _run_report(baseline, methods, options, log)
    report.update(cpu_deform_attn=options.cpu_deform_attn, threads=torch.get_num_threads())
    return report


def _run_report(baseline: str, methods: Sequence[str], opts: ReportOptions,
                log: Callable[[str], None]) -> dict:
    configs = [baseline] + list(methods)
    checkpoints = opts.checkpoints
    if checkpoints is not None and len(checkpoints) != len(configs):
        raise ValueError(f'--checkpoints needs one entry per config ({len(configs)}: baseline '
                         f"then methods; 'none' for none), got {len(checkpoints)}")
    checkpoints = [None if c in (None, 'none', 'None') else c
                   for c in (checkpoints or [None] * len(configs))]
    # Fail on a bad config or an unreadable checkpoint before spending minutes on the ones
    # before it (whether a checkpoint fits its model is checked when the model is built).
    cfgs = [load_config(path, opts.cfg_options) for path in configs]
    for ckpt in filter(None, checkpoints):
        read_checkpoint(ckpt)
    rows, models, batches, parts = [], [], [], []
    start = time.time()
    # One temporary work dir for every training/test run of the report, removed at the end.
    with tempfile.TemporaryDirectory(prefix='mmeffseg_report_') as tmp_root:
        for index, (path, cfg, ckpt) in enumerate(zip(configs, cfgs, checkpoints)):
            name = osp.splitext(osp.basename(path.split('::')[-1]))[0]

            def step(msg, _i=index, _name=name):
                log(f'[{_i + 1}/{len(configs)} {_name}] {msg} '
                    f'(elapsed {time.time() - start:.0f} s)')

            metrics = {}
            if opts.train_iters > 0 or ckpt is not None:
                if ckpt is not None:
                    step(f'evaluating {ckpt}')
                model, metrics = _train_and_test(cfg, opts, ckpt, step,
                                                 osp.join(tmp_root, f'{index}_{name}'))
            else:
                model = build_model(cfg)
            model = model.to('cpu').eval()
            model_parts = default_parts(model)
            model_parts += [p for p in check_parts(model, list(opts.parts))
                            if p not in model_parts]
            model_batches, row = _measure_cost(model, cfg, opts, step)
            picked = _pick_metric(metrics, opts.metric)
            row.update(
                name=name, config=path, role='baseline' if index == 0 else 'method',
                checkpoint=ckpt, trained_iters=opts.train_iters if ckpt is None else None,
                metric=picked[0] if picked else None,
                quality=picked[1] if picked else None, metrics=metrics)
            rows.append(row)
            models.append(model)
            batches.append(model_batches)
            parts.append(model_parts)
    log(f'timing {len(models)} model(s) interleaved: {opts.warmup} warm-up + {opts.repeats} '
        f'timed forwards each, whole and per part (elapsed {time.time() - start:.0f} s)')
    timings = benchmark_models(models, batches, opts.warmup, opts.repeats, parts,
                               progress=opts.progress)
    for row, timing in zip(rows, timings):
        row['timing'] = timing
    del models, batches
    ids = {tuple(r['image_ids']) for r in rows}
    report = dict(rows=rows, same_images=len(ids) == 1, seconds=time.time() - start,
                  train_iters=opts.train_iters)
    if len(ids) != 1:
        log('WARNING: the configs did not measure the same images (different test sets); '
            'their costs are still per image but not on identical inputs')
    return report


def _fmt(value, spec='.2f', none='n/a'):
    return none if value is None else format(value, spec)


#: The part whose latency the table shows next to the whole model's, first found first: a
#: part name ending with one of these (mmdet's ``panoptic_head.pixel_decoder``, mmseg's
#: ``decode_head.pixel_decoder``, any ``backbone``).
KEY_PARTS = (('pixel_decoder', 'pixel decoder'), ('backbone', 'backbone'))


def _part_named(names, suffix: str) -> Optional[str]:
    """The shortest part name equal to ``suffix`` or ending with ``.suffix``."""
    found = sorted((n for n in names if n == suffix or n.endswith('.' + suffix)), key=len)
    return found[0] if found else None


def _key_part(rows: List[dict]) -> Optional[tuple]:
    for suffix, label in KEY_PARTS:
        names = [_part_named(r['timing'].get('parts', {}), suffix) for r in rows]
        if names[0] is not None and all(n == names[0] for n in names):
            return names[0], label
    return None


def _ratio(value: float, base: float, is_base: bool) -> str:
    return '-' if is_base or not base else f'{value / base:.3f}x'


def report_markdown(report: dict) -> str:
    """The report as a markdown table (FLOPs per image: mean; 1 FLOP = 1 multiply-add).

    Ratios are to the baseline (first row): FLOPs as a signed change, latencies as a factor
    of the baseline's median from the same interleaved series.
    """
    rows = report['rows']
    base = rows[0]
    base_flops = base['cost']['flops']['full']['mean']
    metric = next((r['metric'] for r in rows if r['metric']), None)
    key = _key_part(rows)
    key_label = key[1] if key else 'part'
    lines = [
        '| model | role | {} | GFLOPs (full) | vs baseline | GFLOPs (paper) | '
        'pixel decoder / encoder GFLOPs | latency ms (median, IQR) | vs baseline | '
        '{} latency ms (median) | vs baseline | images/s | peak MB | params (M) | '
        'dynamic |'.format(metric or 'quality', key_label),
        '|' + '---|' * 15,
    ]
    for r in rows:
        cost, timing = r['cost'], r['timing']
        full = cost['flops']['full']['mean']
        delta = 100.0 * (full - base_flops) / base_flops if base_flops else 0.0
        by_part = cost['by_part']['full']
        pd_name = _part_named(by_part, 'pixel_decoder')
        pd = by_part.get(pd_name)
        enc = by_part.get(f'{pd_name}.encoder')
        base_pd = base['cost']['by_part']['full'].get(pd_name)
        pd_text = (f'{pd / 1e9:.2f} / {enc / 1e9:.2f}' if pd is not None and enc is not None
                   else 'n/a')
        if r is not base and pd is not None and base_pd:
            pd_text += f' ({pd / base_pd:.3f}x)'

        dyn = []
        for mod, d in cost.get('dynamic', {}).items():
            if 'mean_exit' in d:
                dyn.append(f"encoder layers run {d['mean_exit']:.2f}")
            if 'mean_tokens_per_block' in d:
                toks = d['mean_tokens_per_block']
                dyn.append(f'tokens {toks[0]:.0f}->{toks[-1]:.0f}')
        quality = r['quality']
        if quality is not None and r['metric'] and r['metric'] != metric:
            q_text = f"{quality:.3f} ({r['metric']})"
        else:
            q_text = _fmt(quality, '.3f')
        lat = timing['latency']
        if key:
            part_lat = timing['parts'][key[0]]['median']
            base_part = base['timing']['parts'][key[0]]['median']
            part_text = (f'{1e3 * part_lat:.1f} | '
                         f'{_ratio(part_lat, base_part, r is base)}')
        else:
            part_text = 'n/a | n/a'
        lines.append(
            f"| {r['name']} | {r['role']} | {q_text} | {full / 1e9:.2f} | "
            f"{'-' if r is base else f'{delta:+.1f}%'} | "
            f"{cost['flops']['paper']['mean'] / 1e9:.2f} | {pd_text} | "
            f"{1e3 * lat['median']:.1f} ({1e3 * lat['iqr']:.1f}) | "
            f"{_ratio(lat['median'], base['timing']['latency']['median'], r is base)} | "
            f"{part_text} | {timing['throughput']:.2f} | "
            f"{_fmt(timing.get('peak_memory_mb'), '.1f')} | "
            f"{cost['params']['total'] / 1e6:.2f} | {'; '.join(dyn) or '-'} |")
    timing0 = rows[0]['timing']
    # The CPU core only matters to models with deformable attention (and only on CPU).
    has_deform = any(r['cost'].get('by_category', {}).get('deform_attn', 0) > 0 for r in rows)
    core = report.get('cpu_deform_attn') if has_deform and timing0['device'] == 'cpu' else None
    notes = [
        '',
        f"FLOPs: mean per image over {rows[0]['inputs']} (batch 1), 1 FLOP = 1 multiply-add; "
        "'full' counts everything the tool counts (incl. deformable sampling), 'paper' only "
        'matrix products as the papers do. Latency: batch 1, device '
        f"{timing0['device']}"
        + (f", {report['threads']} CPU thread(s)" if report.get('threads') else '')
        + (f", CPU deformable-attention core '{core}'" if core else '')
        + heap_note(timing0)
        + f"; all models timed interleaved ({timing0['warmup']} warm-up + "
        f"{timing0['repeats']} timed forwards each), parts in a second tracked series; "
        'peak MB: peak memory growth of one forward (process RSS on CPU, '
        'torch.cuda.max_memory_allocated on CUDA; n/a on CPU where the process already held '
        'the memory, e.g. after training in the same process: use benchmark.py alone).',
    ]
    if report.get('train_iters'):
        notes.append(f"Quality after {report['train_iters']} training iterations from scratch "
                     '(a smoke-scale comparison, not the papers\' numbers).')
    if not report.get('same_images', True):
        notes.append('WARNING: configs were measured on different images.')
    faults = [(r['name'], r['timing'].get('minor_faults')) for r in rows]
    if all(f is not None for _, f in faults):
        notes.append('Minor page faults per whole forward (median; pages the kernel maps and '
                     'zeroes, time without FLOPs): '
                     + ', '.join(f'{name} {f:,.0f}' for name, f in faults) + '.')
    follows = latency_flops_table(report)
    if follows:
        notes += ['', 'Does latency follow FLOPs? Each model against the baseline, whole model '
                  'and each timed part: latency ratio / GFLOPs ratio (full) = their quotient '
                  '(1.00: the part got as much faster as its FLOPs fell).', '', follows]
    return '\n'.join(lines + notes) + '\n'


def _paired_quotients(samples, base_samples, flops_ratio: float) -> Optional[str]:
    """Median [q1, q3] of the per-repeat latency ratios over the GFLOPs ratio; None without
    samples of equal count (results from before samples were kept)."""
    if not samples or not base_samples or len(samples) != len(base_samples):
        return None
    # Repeat r timed every model in one round, so pairing by round cancels the drifts of a
    # shared machine that last longer than a round.
    stats = latency_stats([s / b / flops_ratio for s, b in zip(samples, base_samples)])
    return f"{stats['median']:.3f} [{stats['q1']:.3f}, {stats['q3']:.3f}]"


def latency_flops_table(report: dict) -> str:
    """Per model and part, the latency ratio to the baseline over the GFLOPs ratio (markdown;
    empty with a single model). Parts are those timed and counted for both; a part whose FLOPs
    did not change is shown too (its quotient is its latency ratio).

    The quotient of the medians is shown next to the median and quartiles of the per-repeat
    quotients (each repeat's latency over the baseline's in the same round): their spread is
    what a reader needs to tell a quotient from the noise of the machine."""
    rows = report['rows']
    if len(rows) < 2:
        return ''
    base = rows[0]

    def pairs(row):
        # (part label, latency stats, FLOPs), whole model first.
        yield 'whole', row['timing']['latency'], row['cost']['flops']['full']['mean']
        for part, stats in row['timing'].get('parts', {}).items():
            yield part, stats, row['cost']['by_part']['full'].get(part)

    base_values = {name: (lat, flops) for name, lat, flops in pairs(base)}
    lines = ['| model | part | latency ratio | GFLOPs ratio | quotient | '
             'quotient per repeat: median [q1, q3] |', '|---|---|---|---|---|---|']
    for row in rows[1:]:
        for name, lat, flops in pairs(row):
            base_lat, base_flops = base_values.get(name, (None, None))
            if not (lat and flops and base_lat and base_flops):
                continue
            lat_ratio, flops_ratio = lat['median'] / base_lat['median'], flops / base_flops
            paired = _paired_quotients(lat.get('samples'), base_lat.get('samples'), flops_ratio)
            lines.append(f"| {row['name']} | {name} | {lat_ratio:.3f}x | {flops_ratio:.3f}x | "
                         f"{lat_ratio / flops_ratio:.3f} | {paired or 'n/a'} |")
    return '\n'.join(lines) if len(lines) > 2 else ''


def _scatter(ax, rows, xs, ys) -> None:
    for i, (r, x, y) in enumerate(zip(rows, xs, ys)):
        marker = 's' if r['role'] == 'baseline' else 'o'
        # Config names are long: number the points and name them in the legend.
        ax.scatter([x], [y], marker=marker, s=60, label=f"{i + 1}: {r['name']}")
        ax.annotate(str(i + 1), (x, y), textcoords='offset points', xytext=(5, 5), fontsize=9)
    ax.margins(0.15)
    ax.grid(True, alpha=0.3)


def report_plot(report: dict, path: str) -> List[dict]:
    """Quality against cost (GFLOPs) and against latency, side by side; without quality, cost
    against latency. The quality axis starts at 0 (small differences are not magnified), and a
    note says when the quality comes from a smoke-scale training.

    Returns:
        list[dict]: per panel its ``xlabel``, ``ylabel`` and ``ylim`` (what was drawn).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = report['rows']
    gflops = [r['cost']['flops']['full']['mean'] / 1e9 for r in rows]
    latency = [1e3 * r['timing']['latency']['median'] for r in rows]
    cost_label = 'GFLOPs per image (mean, 1 FLOP = 1 multiply-add)'
    latency_label = 'latency (ms, median, batch 1)'
    if all(r['quality'] is not None for r in rows):
        metric = next(r['metric'] for r in rows if r['metric'])
        quality = [r['quality'] for r in rows]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for ax, xs, xlabel in ((axes[0], gflops, cost_label), (axes[1], latency, latency_label)):
            _scatter(ax, rows, xs, quality)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(metric)
            ax.set_ylim(0, max(max(quality) * 1.15, 1e-3))
        axes[0].set_title('quality vs cost')
        axes[1].set_title('quality vs latency')
        title = f'{metric} against cost and latency'
        if report.get('train_iters'):
            title += (f"\nquality after {report['train_iters']} training iterations from "
                      'scratch: smoke scale, not comparable to the papers')
        fig.suptitle(title, fontsize=10, y=1.04 if '\n' in title else 1.0)
    else:
        fig, ax = plt.subplots(figsize=(7, 5))
        axes = [ax]
        _scatter(ax, rows, gflops, latency)
        ax.set_xlabel(cost_label)
        ax.set_ylabel(latency_label)
        ax.set_ylim(0, max(latency) * 1.15)
        ax.set_title('cost vs latency (no quality measured)')
    axes[0].legend(loc='upper left', bbox_to_anchor=(0.0, -0.15), fontsize=7, frameon=False)
    fig.savefig(path, dpi=110, bbox_inches='tight')
    plt.close(fig)
    return [dict(xlabel=a.get_xlabel(), ylabel=a.get_ylabel(), ylim=a.get_ylim()) for a in axes]


def write_report(report: dict, out_dir: str) -> Dict[str, str]:
    """Write ``report.md``, ``report.json`` and ``report.png`` to ``out_dir``; return paths."""
    prepare_output_dir(out_dir, '--out-dir')
    paths = dict(md=osp.join(out_dir, 'report.md'), json=osp.join(out_dir, 'report.json'),
                 png=osp.join(out_dir, 'report.png'))
    # Each file is complete or absent: a full disk never leaves a truncated table behind.
    write_text_atomic(paths['md'], report_markdown(report))
    write_json(paths['json'], report)
    with atomic_output(paths['png']) as tmp:
        report_plot(report, tmp)
    return paths
