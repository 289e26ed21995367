"""The kinds of study steps. Each takes ``(study, step, work_dir, progress)`` and returns the
step's result dict (written to ``result.json`` by the runner once the step has finished).

* ``train``: ``tools/train.py`` on a config in the step's work dir, resuming from the last
  checkpoint there when interrupted; ``load_from`` may name an earlier step (``'@step'``).
* ``report``: ``tools/analysis_tools/efficiency_report.py`` on trained checkpoints: quality
  (with per-class IoU), FLOPs per image averaged over real images, latency, all models timed
  interleaved in one process.
* ``command``: any repository tool with arguments (``{work_dir}`` and ``'@step'`` resolved).
"""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

from mmeffseg.apis import read_config
from mmeffseg.utils.start_checkpoint import find_resume_checkpoint

_ITER_RE = re.compile(r'Iter\(train\) \[\s*(\d+)/(\d+)\]')


def _env(study, step: dict) -> Dict[str, str]:
    env = dict(os.environ)
    threads = step.get('threads', study.spec.get('threads'))
    if threads and 'OMP_NUM_THREADS' not in os.environ:
        env['OMP_NUM_THREADS'] = str(threads)
    env['PYTHONPATH'] = os.pathsep.join(
        [study.repo_root] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env['PYTHONUNBUFFERED'] = '1'
    return env


def _run(study, step: dict, args: List[str], work_dir: str, progress: Callable[[str], None],
         watch: Optional[Callable[[str], Optional[str]]] = None, every: float = 60.0) -> None:
    """Run ``python args...`` in the repository root, output appended to ``run.log``."""
    log_path = osp.join(work_dir, 'run.log')
    cmd = [sys.executable] + [str(a) for a in args]
    with open(log_path, 'a') as log_file:
        log_file.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} $ {' '.join(cmd)}\n")
        log_file.flush()
        proc = subprocess.Popen(cmd, cwd=study.repo_root, env=_env(study, step),
                                stdout=log_file, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    proc.wait(timeout=every)
                    break
                except subprocess.TimeoutExpired:
                    if watch is not None:
                        msg = watch(log_path)
                        if msg:
                            progress(msg)
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
    if proc.returncode != 0:
        with open(log_path) as f:
            tail = ''.join(f.readlines()[-15:])
        raise RuntimeError(f"step {step['name']!r} failed (exit {proc.returncode}): "
                           f"{' '.join(cmd)}\nlast lines of {log_path}:\n{tail}")


def _options(options: Optional[dict]) -> List[str]:
    """``dict(a=1)`` -> ``['a=1']`` for ``--cfg-options`` (values as mmengine's DictAction
    parses them)."""
    out = []
    for key, value in (options or {}).items():
        if isinstance(value, (list, tuple)):
            value = '[' + ','.join(repr(v) if isinstance(v, str) else str(v) for v in value) + ']'
        out.append(f'{key}={value}')
    return out


def _last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``tools/train.py --resume`` resumes in ``work_dir`` (None: nothing yet).

    The one rule of :func:`mmeffseg.utils.start_checkpoint.find_resume_checkpoint`: a dangling
    ``last_checkpoint`` is an error naming the checkpoints present, not a silent fallback.
    """
    if not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        return None
    return find_resume_checkpoint(work_dir)


def _val_curve(work_dir: str) -> List[dict]:
    """mmengine's validation results of the run(s) in ``work_dir`` (``vis_data/scalars.json``)."""
    curve = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if 'mIoU' in row or 'coco_panoptic/PQ' in row:
                    curve[row.get('step')] = {k: v for k, v in row.items()
                                              if not isinstance(v, (list, dict))}
    return [curve[k] for k in sorted(curve, key=lambda s: s or 0)]


_LOG_TIME_RE = re.compile(r'^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) - mmengine', re.M)


def training_wall_seconds(work_dir: str) -> Optional[float]:
    """Wall time of every training run in ``work_dir``, resumed runs included: per run dir
    (``<YYYYmmdd_HHMMSS>/<YYYYmmdd_HHMMSS>.log``), the last logged time minus the first.
    None where no run log has two timestamps."""
    total, found = 0.0, False
    for path in sorted(glob.glob(osp.join(work_dir, '*', '*.log'))):
        if osp.splitext(osp.basename(path))[0] != osp.basename(osp.dirname(path)):
            continue
        with open(path, errors='replace') as f:
            stamps = _LOG_TIME_RE.findall(f.read())
        if len(stamps) >= 2:
            first, last = (time.mktime(time.strptime(t, '%Y/%m/%d %H:%M:%S'))
                           for t in (stamps[0], stamps[-1]))
            total += last - first
            found = True
    return total if found else None


def _train_watch(start: float):
    state = dict(first=None)

    def watch(log_path: str) -> Optional[str]:
        with open(log_path, 'rb') as f:
            f.seek(max(0, osp.getsize(log_path) - 20000))
            text = f.read().decode(errors='replace')
        found = _ITER_RE.findall(text)
        if not found:
            return None
        it, total = map(int, found[-1])
        now = time.time()
        if state['first'] is None:
            state['first'] = (it, now)
            return f'iteration {it}/{total}'
        it0, t0 = state['first']
        if it <= it0:
            return f'iteration {it}/{total}'
        rate = (now - t0) / (it - it0)
        return (f'iteration {it}/{total}, {rate:.2f} s/it, '
                f'about {(total - it) * rate / 60:.0f} min left in this step')

    return watch


def train_options(study, step: dict) -> dict:
    """The ``--cfg-options`` a training step passes besides ``load_from``: its ``cfg_options``
    ('@' references resolved) and its ``seed``."""
    options = dict(study.resolve(step.get('cfg_options') or {}))
    if 'seed' in step:
        options['randomness.seed'] = step['seed']
    return options


def train_step(study, step: dict, work_dir: str, progress: Callable[[str], None]) -> dict:
    """Train ``step.config`` (optionally from ``load_from``) in ``work_dir``; resume if
    interrupted."""
    config = step['config']
    options = train_options(study, step)
    resume = _last_checkpoint(work_dir) is not None
    load_from = study.resolve(step.get('load_from'))
    if load_from and not resume:
        options['load_from'] = load_from
    args = ['tools/train.py', config, '--work-dir', work_dir]
    if resume:
        args.append('--resume')
        progress(f'resuming from {_last_checkpoint(work_dir)}')
    if step.get('cpu_deform_attn'):
        args += ['--cpu-deform-attn', step['cpu_deform_attn']]
    if options:
        args += ['--cfg-options'] + _options(options)
    t0 = time.time()
    _run(study, step, args, work_dir, progress, watch=_train_watch(t0))
    checkpoint = _last_checkpoint(work_dir)
    if checkpoint is None:
        raise RuntimeError(f"step {step['name']!r}: training ended without a checkpoint in "
                           f'{work_dir}.')
    iters = int(re.findall(r'iter_(\d+)', osp.basename(checkpoint))[-1])
    return dict(config=config, checkpoint=checkpoint, iters=iters, load_from=load_from,
                cfg_options=options, val_curve=_val_curve(work_dir),
                train_seconds_this_run=time.time() - t0,
                train_seconds=training_wall_seconds(work_dir))


def _derived_config(study, model: dict, work_dir: str) -> str:
    """The model's config with its ``cfg_options`` applied, dumped into the step's work dir
    (the exact config the report evaluates)."""
    options = study.resolve(model.get('cfg_options') or {})
    if not options:
        return model['config']
    cfg = read_config(osp.join(study.repo_root, model['config']))
    cfg.merge_from_dict(options)
    os.makedirs(osp.join(work_dir, 'configs'), exist_ok=True)
    path = osp.join(work_dir, 'configs', f"{model['name']}.py")
    cfg.dump(path)
    return path


def report_step(study, step: dict, work_dir: str, progress: Callable[[str], None]) -> dict:
    """Quality, per-image FLOPs and interleaved latency of trained models (the first is the
    reference the ratios divide by)."""
    models = step['models']
    configs = [_derived_config(study, m, work_dir) for m in models]
    checkpoints = [study.resolve(m['checkpoint']) for m in models]
    out_dir = osp.join(work_dir, 'report')
    args = ['tools/analysis_tools/efficiency_report.py', '--baseline', configs[0]]
    if len(configs) > 1:
        args += ['--methods'] + configs[1:]
    args += ['--checkpoints'] + checkpoints + [
        '--num-images', str(step.get('num_images', 8)),
        '--warmup', str(step.get('warmup', 1)), '--repeats', str(step.get('repeats', 3)),
        '--out-dir', out_dir]
    if step.get('eval_images'):
        args += ['--eval-images', str(step['eval_images'])]
    if step.get('cpu_deform_attn'):
        args += ['--cpu-deform-attn', step['cpu_deform_attn']]
    if step.get('cfg_options'):
        args += ['--cfg-options'] + _options(study.resolve(step['cfg_options']))
    _run(study, step, args, work_dir, progress, watch=_tail_watch)
    with open(osp.join(out_dir, 'report.json')) as f:
        report = json.load(f)
    for model, row in zip(models, report['rows']):
        row['study_name'] = model['name']
        row['label'] = model.get('label', model['name'])
    return dict(report=report, report_dir=out_dir,
                models=[dict(m, checkpoint=c) for m, c in zip(models, checkpoints)])


def _tail_watch(log_path: str) -> Optional[str]:
    with open(log_path, 'rb') as f:
        f.seek(max(0, osp.getsize(log_path) - 2000))
        lines = f.read().decode(errors='replace').strip().splitlines()
    return lines[-1][:160] if lines else None


def command_step(study, step: dict, work_dir: str, progress: Callable[[str], None]) -> dict:
    """A repository tool (``args[0]``, relative to the repository root) with arguments;
    ``{work_dir}`` in an argument is the step's work dir. ``outputs`` (name -> path pattern)
    are checked to exist and recorded."""
    args = [str(study.resolve(a)).format(work_dir=work_dir) for a in step['args']]
    _run(study, step, args, work_dir, progress, watch=_tail_watch)
    outputs = {k: str(study.resolve(v)).format(work_dir=work_dir)
               for k, v in (step.get('outputs') or {}).items()}
    missing = [p for p in outputs.values() if not osp.exists(p)]
    if missing:
        raise RuntimeError(f"step {step['name']!r}: {args[0]} ended without writing {missing}")
    return dict(args=args, **outputs)


STEP_KINDS: Dict[str, Callable] = dict(train=train_step, report=report_step,
                                       command=command_step)
