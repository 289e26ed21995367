"""The study's results as one JSON, one markdown page and one quality-vs-cost figure per report.

Reads only the finished steps' ``result.json`` files, so it can be rerun at any time; steps not
finished yet are listed as pending. Each ``report`` step of the spec may declare:

* ``reference``: the model ratios divide by (default: the first);
* ``noise``: models that differ only by seed / checkpoint (their spread is the noise band);
* ``part``: the part whose GFLOPs and latency the table shows (e.g. ``'backbone'``);
* ``curve``: models drawn as one line (e.g. a tau sweep, or a parent at fixed exits), in
  order, and ``curve_label`` its legend entry;
* ``versus_curve``: models each compared with the curve at its own GFLOPs (e.g. ECO-M2F's gates
  against the parent at fixed exits): the quality difference and whether the model sits on,
  above or below the curve (:func:`compare_with_curve`);
* ``noise_from``: another report (or view) whose noise band this one shows;
* ``views``: more tables and figures over some of the same measured models, each a dict of
  ``name``, ``models`` (default: all) and any key above (e.g. another ``part``);
* ``title``: the section heading.
"""
import os
import os.path as osp
from typing import Dict, List, Optional

from mmeffseg.analysis import cost_figures, dynamic_figures, timing_figures
from mmeffseg.utils.output_files import write_json, write_text_atomic
from .steps import training_wall_seconds
from .study_runner import Study, fmt_seconds


def _metric(row: dict) -> Optional[float]:
    metrics = row.get('metrics') or {}
    for key in ('mIoU', 'coco_panoptic/PQ'):
        if key in metrics:
            return float(metrics[key])
    return row.get('quality')


def _row_figures(row: dict, part: Optional[str]) -> dict:
    """A measured row's headline figures, read by the analysis tools' own functions
    (:func:`cost_figures`, :func:`timing_figures`): GFLOPs and latency (seconds) of the whole
    model and of ``part`` (the whole model when None), and what its dynamic modules did."""
    cost = cost_figures(row['cost'], {'part': part} if part else None)
    timing = timing_figures(row['timing'])
    return dict(cost, latency=timing['latency_median'],
                part_gflops=cost['part_gflops'] if part else cost['gflops'],
                part_latency=timing.get(f'{part}_median') if part else timing['latency_median'])


def summarize_report(step: dict, result: dict, stale: bool = False) -> dict:
    """One report step (or view) as rows with ratios to its reference and the noise band.

    Args:
        step (dict): The report step (or one of its views) of the spec.
        result (dict): The report step's ``result.json``.
        stale (bool): Whether the step ran with inputs the spec has since changed. A stale
            report may lack the spec's ``reference`` (it measured an earlier spec's models): it
            is then summarised against its own first model. A current one must have it.
    """
    rows = result['report']['rows']
    if step.get('models') and all(isinstance(m, str) for m in step['models']):
        # A view: the named models of the report, in the view's order.
        by_name = {r['study_name']: r for r in rows}
        missing = [m for m in step['models'] if m not in by_name]
        if missing:
            raise ValueError(f"view {step['name']!r} names models {missing} that the report "
                             f'did not measure ({sorted(by_name)}).')
        rows = [by_name[m] for m in step['models']]
    part = step.get('part')
    names = [r['study_name'] for r in rows]
    ref_name = step.get('reference', names[0])
    if ref_name not in names:
        if not stale:
            raise ValueError(f"report {step['name']!r}: its reference {ref_name!r} is not among "
                             f'the measured models {names}; name one of them as `reference`.')
        ref_name = names[0]
    ref = rows[names.index(ref_name)]
    figures = {r['study_name']: dict(_row_figures(r, part), quality=_metric(r)) for r in rows}
    ref_fig = figures[ref_name]

    def ratio(value, ref_value):
        return None if not value or not ref_value else value / ref_value

    out_rows = []
    for row in rows:
        fig = figures[row['study_name']]
        q = fig['quality']
        out_rows.append(dict(
            name=row['study_name'], label=row.get('label', row['study_name']),
            checkpoint=row.get('checkpoint'), quality=q,
            quality_delta=None if q is None or ref_fig['quality'] is None
            else q - ref_fig['quality'],
            part_gflops=fig['part_gflops'],
            part_gflops_ratio=ratio(fig['part_gflops'], ref_fig['part_gflops']),
            gflops=fig['gflops'], gflops_ratio=ratio(fig['gflops'], ref_fig['gflops']),
            latency_ms=1e3 * fig['latency'],
            latency_ratio=ratio(fig['latency'], ref_fig['latency']),
            part_latency_ms=None if fig['part_latency'] is None else 1e3 * fig['part_latency'],
            part_latency_ratio=ratio(fig['part_latency'], ref_fig['part_latency']),
            # what the dynamic modules did, every figure dynamic_figures gives
            **{key: fig[key] for key in dynamic_figures({})},
            per_class={k[4:]: v for k, v in (row.get('metrics') or {}).items()
                       if k.startswith('IoU.')}))
    noise = [r['quality'] for r in out_rows if r['name'] in step.get('noise', [])
             and r['quality'] is not None]
    noise = dict(models=step.get('noise', []), values=noise,
                 spread=(max(noise) - min(noise)) if len(noise) > 1 else None)
    return dict(
        title=step.get('title', step['name']), part=part, reference=ref_name,
        metric=ref.get('metric'), rows=out_rows, curve=step.get('curve', []),
        curve_label=step.get('curve_label'), noise=noise,
        versus_curve=compare_with_curve(out_rows, step.get('curve', []),
                                        step.get('versus_curve', []), noise['spread']),
        inputs=ref.get('inputs'), threads=result['report'].get('threads'),
        timing=dict(warmup=ref['timing'].get('warmup'), repeats=ref['timing'].get('repeats'),
                    device=ref['timing'].get('device')))


def _curve_quality_at(points: List[tuple], x: float) -> tuple:
    """The curve's quality at cost ``x`` (linear between its points) and where ``x`` falls:
    ``'inside'``, ``'above range'`` (the costliest point's quality: paying more than the full
    model buys nothing on this curve) or ``'below range'`` (the cheapest point's quality)."""
    points = sorted(points)
    if x <= points[0][0]:
        return points[0][1], 'inside' if x == points[0][0] else 'below range'
    if x >= points[-1][0]:
        return points[-1][1], 'inside' if x == points[-1][0] else 'above range'
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return (y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)), 'inside'
    raise AssertionError('unreachable')


def compare_with_curve(rows: List[dict], curve: List[str], versus: List[str],
                       noise: Optional[float] = None, tol: float = 0.005) -> List[dict]:
    """Each ``versus`` model against the ``curve`` at the model's own part GFLOPs.

    The curve's quality at a cost is the linear interpolation between its two neighbouring
    points (ECO-M2F's claim: a gate choosing each image's exit sits on or above the parent's
    fixed-exit curve). Verdict: ``'above'`` when the difference exceeds ``tol``, ``'on'`` when
    it is within ``tol`` (a gate that sends every image to one exit is that exit's point), ``'on
    (within the noise band)'`` when it is negative but no larger than the noise spread, else
    ``'below'``.

    Args:
        rows (list[dict]): Summary rows (``name``, ``quality``, ``part_gflops``).
        curve (list[str]): Names of the curve's models.
        versus (list[str]): Names of the models to compare.
        noise (float, optional): Noise spread in quality units (None: unknown).
        tol (float): Differences this small are ties (half the tables' 0.01 precision).

    Returns:
        list[dict]: One entry per ``versus`` model with its GFLOPs, quality, the curve's
        quality there, the difference, where its cost falls (``position``) and the verdict.
    """
    by_name = {r['name']: r for r in rows}
    points = [(by_name[n]['part_gflops'], by_name[n]['quality']) for n in curve
              if n in by_name and by_name[n]['quality'] is not None
              and by_name[n]['part_gflops'] is not None]
    out = []
    for name in versus:
        row = by_name.get(name)
        if not points or row is None or row['quality'] is None or row['part_gflops'] is None:
            continue
        at, position = _curve_quality_at(points, row['part_gflops'])
        delta = row['quality'] - at
        if delta > tol:
            verdict = 'above'
        elif delta >= -tol:
            verdict = 'on'
        elif noise is not None and -delta <= noise:
            verdict = 'on (within the noise band)'
        else:
            verdict = 'below'
        out.append(dict(name=name, label=row['label'], part_gflops=row['part_gflops'],
                        quality=row['quality'], curve_quality=at, delta=delta,
                        position=position, verdict=verdict, mean_exit=row.get('mean_exit')))
    return out


def versus_table(summary: dict) -> str:
    """The ``versus_curve`` comparison as a markdown table (empty when there is none)."""
    if not summary.get('versus_curve'):
        return ''
    part = summary['part'] or 'whole model'
    metric = summary['metric'] or 'quality'
    lines = [f'| model | mean exit | {part} GFLOPs | {metric} | curve at that GFLOPs | '
             'difference | verdict |', '|' + '---|' * 7]
    for v in summary['versus_curve']:
        where = '' if v['position'] == 'inside' else f" ({v['position']} of the curve)"
        lines.append(f"| {v['label']} | {_fmt(v.get('mean_exit'))} | {v['part_gflops']:.3f} | "
                     f"{v['quality']:.2f} | {v['curve_quality']:.2f}{where} | "
                     f"{v['delta']:+.2f} | {v['verdict']} |")
    return '\n'.join(lines)


def _fmt(value, spec='.2f', none='-'):
    return none if value is None else format(value, spec)


def report_table(summary: dict) -> str:
    part = summary['part'] or 'whole model'
    lines = [f"| model | {summary['metric'] or 'quality'} | vs ref | {part} GFLOPs | vs ref | "
             f'GFLOPs (whole) | latency ms | vs ref | {part} latency ms | vs ref | tokens '
             '(first -> last block) |', '|' + '---|' * 11]
    for r in summary['rows']:
        toks = r['tokens_per_block']
        lines.append(
            f"| {r['label']} | {_fmt(r['quality'])} | "
            f"{'ref' if r['name'] == summary['reference'] else _fmt(r['quality_delta'], '+.2f')} | "
            f"{_fmt(r['part_gflops'], '.3f')} | {_fmt(r['part_gflops_ratio'], '.3f')}x | "
            f"{_fmt(r['gflops'], '.3f')} | {_fmt(r['latency_ms'], '.1f')} | "
            f"{_fmt(r['latency_ratio'], '.3f')}x | {_fmt(r['part_latency_ms'], '.1f')} | "
            f"{_fmt(r['part_latency_ratio'], '.3f')}x | "
            f"{f'{toks[0]:.0f} -> {toks[-1]:.0f}' if toks else '-'} |")
    return '\n'.join(lines)


def keep_table(summary: dict) -> str:
    """One line per pruning layer: the share of patch tokens it kept, mean [min, max] over the
    images, against its trained target, for each model that prunes; the last line is each
    model's largest miss of a target (empty when no model prunes)."""
    pruned = [r for r in summary['rows'] if r.get('keep_ratio_per_layer')]
    if not pruned:
        return ''
    lines = ['| pruning layer | ' + ' | '.join(r['label'] for r in pruned) + ' |',
             '|' + '---|' * (len(pruned) + 1)]
    for i in range(max(len(r['keep_ratio_per_layer']) for r in pruned)):
        cells = []
        for r in pruned:
            if i >= len(r['keep_ratio_per_layer']):
                cells.append('-')
                continue
            cell = (f"{r['keep_ratio_per_layer'][i]:.3f} [{r['keep_ratio_min_per_layer'][i]:.2f}, "
                    f"{r['keep_ratio_max_per_layer'][i]:.2f}]")
            if r.get('keep_target_per_layer'):
                cell += f" (target {r['keep_target_per_layer'][i]:.3f})"
            cells.append(cell)
        lines.append(f'| {i + 1} | ' + ' | '.join(cells) + ' |')
    misses = ['-' if not r.get('keep_target_per_layer') else '{:.3f}'.format(max(
        abs(k - t) for k, t in zip(r['keep_ratio_per_layer'], r['keep_target_per_layer'])))
        for r in pruned]
    lines.append('| largest miss of a target | ' + ' | '.join(misses) + ' |')
    return '\n'.join(lines)


def class_table(summary: dict) -> str:
    classes = []
    for r in summary['rows']:
        classes += [c for c in r['per_class'] if c not in classes]
    if not classes:
        return ''
    lines = ['| model | ' + ' | '.join(classes) + ' |', '|' + '---|' * (len(classes) + 1)]
    for r in summary['rows']:
        lines.append(f"| {r['label']} | " + ' | '.join(
            _fmt(r['per_class'].get(c)) for c in classes) + ' |')
    return '\n'.join(lines)


def plot_report(summary: dict, path: str) -> None:
    """Quality against the part's GFLOPs: every model, the curve as a line, the noise band."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = {r['name']: r for r in summary['rows']}
    fig, ax = plt.subplots(figsize=(7.5, 5))
    noise = summary['noise']
    if noise['spread'] is not None:
        ax.axhspan(min(noise['values']), max(noise['values']), color='0.85',
                   label='noise band (' + ', '.join(noise['models']) + ')')
    curve = [rows[n] for n in summary['curve'] if n in rows]
    if curve:
        label = summary.get('curve_label') or (
            'no retraining: ' + curve[0]['label'] + ' ... ' + curve[-1]['label'])
        ax.plot([r['part_gflops'] for r in curve], [r['quality'] for r in curve], '-o',
                color='tab:blue', ms=4, label=label)
        for i, r in enumerate(curve):
            # Neighbouring points sit close together: labels alternate below and above.
            ax.annotate(r['label'].split()[-1], (r['part_gflops'], r['quality']), fontsize=7,
                        textcoords='offset points', xytext=(2, -11 if i % 2 == 0 else 6))
    markers = iter('sD^v<>pP*X')
    for r in summary['rows']:
        if r['name'] in summary['curve'] or r['quality'] is None or r['part_gflops'] is None:
            continue
        ax.scatter([r['part_gflops']], [r['quality']], marker=next(markers, 'o'), s=60,
                   label=r['label'], zorder=3)
    ax.margins(x=0.06)
    top = max([r['quality'] for r in summary['rows'] if r['quality'] is not None] or [1.0])
    ax.set_ylim(0, 1.12 * top)  # the quality axis from 0, no point on the frame
    ax.set_xlabel(f"{summary['part'] or 'whole model'} GFLOPs per image (mean over "
                  f"{summary['inputs']}; 1 FLOP = 1 multiply-add)")
    ax.set_ylabel(summary['metric'] or 'quality')
    stale = 'STALE (inputs changed since it ran): ' if summary.get('stale') else ''
    ax.set_title(stale + summary['title'], fontsize=10, color='red' if stale else 'black')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc='lower right')
    fig.savefig(path, dpi=110, bbox_inches='tight')
    plt.close(fig)


def _current_labels(step: dict, result: dict) -> dict:
    """The report's result with the spec's current model labels (a label is cosmetic: editing
    it does not make the step stale, so the summary shows the spec's)."""
    labels = {m['name']: m['label'] for m in step.get('models', [])
              if isinstance(m, dict) and 'label' in m}
    rows = [dict(r, label=labels.get(r['study_name'], r.get('label')))
            for r in result['report']['rows']]
    return dict(result, report=dict(result['report'], rows=rows))


def write_summary(study: Study, command: str,
                  stale: Optional[Dict[str, List[str]]] = None) -> Dict[str, str]:
    """Write the spec's ``summary`` outputs (JSON, markdown, figures) from the finished steps.

    Args:
        study (Study): The study.
        command (str): The command the page names.
        stale (dict, optional): ``{step: reasons}`` of finished steps whose inputs changed
            since they ran (the runner's judgement): their rows, tables and figures are marked.
    """
    stale = stale or {}
    spec = study.spec.get('summary')
    if not spec:
        return {}
    repo = study.repo_root
    out_json, out_md = osp.join(repo, spec['json']), osp.join(repo, spec['markdown'])
    fig_dir = osp.join(repo, spec['figures'])
    os.makedirs(osp.dirname(out_json), exist_ok=True)
    os.makedirs(fig_dir, exist_ok=True)
    data = dict(spec=study.spec_path, command=command, machine=spec.get('machine'),
                steps={}, reports={}, pending=[], stale=dict(stale))
    md = [f"# {spec.get('title', 'Study')}", '', spec.get('intro', '').strip(), '',
          f'Command: `{command}` (machine: {spec.get("machine", "not recorded")}).', '']
    if stale:
        md += ['**Stale steps**: their inputs changed after they ran, so their figures below '
               'come from the old inputs (marked STALE). Rerun them with `--rerun-stale`.', '']
        md += [f"* `{name}`: {'; '.join(reasons)}" for name, reasons in stale.items()] + ['']
    total = 0.0
    for step in study.steps:
        result = study.result(step['name'])
        if result is None:
            data['pending'].append(step['name'])
            continue
        if step['kind'] == 'train':
            curve = [dict(iter=p.get('step'), mIoU=p.get('mIoU'),
                          PQ=p.get('coco_panoptic/PQ')) for p in result.get('val_curve', [])]
            # Every run of a resumed training (`seconds` is its last run's); results written
            # before the train step recorded `train_seconds` are read from the work dir's logs.
            train_seconds = result.get('train_seconds') or training_wall_seconds(
                study.work_dir(step['name'])) or result['seconds']
            entry = dict(kind='train', config=result['config'], iters=result['iters'],
                         load_from=result.get('load_from'), seconds=result['seconds'],
                         val_curve=curve, train_seconds=train_seconds)
            total += train_seconds
        elif step['kind'] == 'report':
            entry = dict(kind='report', seconds=result['seconds'])
            total += result['seconds']
            result = _current_labels(step, result)
            for view in [step] + list(step.get('views', [])):
                summary = summarize_report(view, result, stale=step['name'] in stale)
                if step['name'] in stale:
                    summary['stale'] = stale[step['name']]
                source = data['reports'].get(view.get('noise_from'))
                if source is not None and summary['noise']['spread'] is None:
                    summary['noise'] = dict(source['noise'], source=view['noise_from'])
                    summary['versus_curve'] = compare_with_curve(
                        summary['rows'], summary['curve'], view.get('versus_curve', []),
                        summary['noise']['spread'])
                data['reports'][view['name']] = summary
                fig = osp.join(fig_dir, f"{view['name']}.png")
                plot_report(summary, fig)
                summary['figure'] = osp.relpath(fig, repo)
        else:
            # A command step's outputs (paths); its result's own `kind` and `name` are strings
            # as well, hence the update rather than keyword arguments.
            entry = {k: v for k, v in result.items() if isinstance(v, str)}
            entry.update(kind=step['kind'], seconds=result['seconds'])
            total += result.get('seconds', 0.0)
        if step['name'] in stale:
            entry['stale'] = stale[step['name']]
        data['steps'][step['name']] = entry
    data['seconds'] = total
    md += ['## Training runs', '', '| step | config | iterations | from | '
           'wall time (all runs) | val curve |',
           '|---|---|---|---|---|---|']
    for name, s in data['steps'].items():
        if s['kind'] != 'train':
            continue
        curve = ', '.join(f"{p['iter']}: {_fmt(p['mIoU'] if p['mIoU'] is not None else p['PQ'])}"
                          for p in s['val_curve']) or '-'
        start = f"`{osp.basename(osp.dirname(s['load_from']))}`" if s['load_from'] else 'scratch'
        mark = ' **(STALE)**' if s.get('stale') else ''
        md.append(f"| {name}{mark} | `{osp.basename(s['config'])}` | {s['iters']} | {start} | "
                  f"{fmt_seconds(s['train_seconds'])} | {curve} |")
    for name, summary in data['reports'].items():
        md += ['', f"## {summary['title']}" + (' (STALE)' if summary.get('stale') else ''), '']
        if summary.get('stale'):
            md += [f"**STALE**: measured before its inputs changed ({'; '.join(summary['stale'])})"
                   '; these figures are not current.', '']
        md += [f"Reference: `{summary['reference']}`. FLOPs: mean per image over "
               f"{summary['inputs']}; latency: batch 1, {summary['timing']['device']}, "
               f"{summary['threads']} thread(s), median of {summary['timing']['repeats']} timed "
               f"forwards, all models interleaved in one process.", '',
               report_table(summary), '']
        if summary['noise']['spread'] is not None:
            source = (f" (from `{summary['noise']['source']}`)"
                      if summary['noise'].get('source') else '')
            md.append(f"Noise band ({', '.join(summary['noise']['models'])}){source}: spread "
                      f"{summary['noise']['spread']:.2f} {summary['metric']}.")
        if summary.get('versus_curve'):
            md += ['', f"Against the curve ({summary.get('curve_label') or 'curve'}), each "
                   'at its own GFLOPs (linear between the neighbouring curve points):', '',
                   versus_table(summary)]
        keep = keep_table(summary)
        if keep:
            md += ['', 'Share of patch tokens each pruning layer kept against its trained '
                   'target:', '', keep]
        figure = osp.relpath(osp.join(repo, summary['figure']), osp.dirname(out_md))
        md += ['', '<details><summary>per-class IoU</summary>', '', class_table(summary), '',
               '</details>', '', f'![{name}]({figure})']
    md += ['', f"Finished steps' total wall time: {fmt_seconds(total)}.",
           ('Pending steps: ' + ', '.join(data['pending'])) if data['pending']
           else 'All steps finished.', '']
    write_json(out_json, data)
    write_text_atomic(out_md, '\n'.join(md))
    return dict(json=out_json, markdown=out_md, figures=fig_dir)
