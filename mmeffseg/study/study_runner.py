"""A resumable, idempotent study: a list of steps, each with its own work dir and a result file.

A study spec (an mmengine config, e.g. ``configs/study/camvid.py``) lists ``steps``; each step
has a ``name``, a ``kind`` (see :data:`mmeffseg.study.steps.STEP_KINDS`) and the settings of
that kind. A step is *finished* when ``<work_root>/<name>/result.json`` exists: a rerun skips it.
An interrupted training step resumes from the last checkpoint in its work dir
(``tools/train.py --resume``). Steps refer to earlier steps' checkpoints as ``'@step_name'``.

Every step runs its tools in a subprocess, so a crash or an interrupt never leaves the runner
itself in an unknown state, and the subprocess' output goes to ``<work dir>/run.log``.
"""
import json
import os
import os.path as osp
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from mmeffseg.apis import read_config
from mmeffseg.utils.output_files import write_json

RESULT_FILE = 'result.json'


def fmt_seconds(seconds: float) -> str:
    """``3725`` -> ``'1:02:05'``."""
    seconds = int(round(max(seconds, 0)))
    return f'{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'


class Study:
    """The steps of a study spec and their state on disk.

    Args:
        spec (Config): The study spec (``steps``, ``work_root``, optional ``threads``).
        spec_path (str): Where the spec was read from (recorded in results).
        work_root (str, optional): Overrides ``spec.work_root``.
        repo_root (str): The repository whose ``tools/`` the steps run.
    """

    def __init__(self, spec: Config, spec_path: str, work_root: Optional[str] = None,
                 repo_root: Optional[str] = None) -> None:
        from .steps import STEP_KINDS
        self.spec = spec
        self.spec_path = spec_path
        self.work_root = osp.abspath(osp.expanduser(work_root or spec.get('work_root')))
        self.repo_root = osp.abspath(repo_root or osp.join(osp.dirname(__file__), '..', '..'))
        self.steps: List[dict] = [dict(s) for s in spec.get('steps', [])]
        if not self.steps:
            raise ValueError(f'{spec_path}: the study lists no `steps`.')
        names = [s.get('name') for s in self.steps]
        for index, step in enumerate(self.steps):
            name, kind = step.get('name'), step.get('kind')
            if not name or not isinstance(name, str) or '/' in name:
                raise ValueError(f'{spec_path}: step {index} needs a `name` (a folder name).')
            if names.count(name) > 1:
                raise ValueError(f'{spec_path}: step name {name!r} is used twice.')
            if kind not in STEP_KINDS:
                raise ValueError(f'{spec_path}: step {name!r} has kind {kind!r}; choose one of '
                                 f'{sorted(STEP_KINDS)}.')
            for ref in _step_refs(step):
                if ref not in names[:index]:
                    raise ValueError(
                        f'{spec_path}: step {name!r} refers to {"@" + ref!r}, which is not an '
                        f'earlier step (earlier: {names[:index]}).')

    def work_dir(self, name: str) -> str:
        return osp.join(self.work_root, name)

    def result(self, name: str) -> Optional[dict]:
        """The finished step's result, or None."""
        path = osp.join(self.work_dir(name), RESULT_FILE)
        if not osp.isfile(path):
            return None
        with open(path) as f:
            return json.load(f)

    def resolve(self, value):
        """Replace ``'@step'`` by that step's checkpoint (``'@step:key'``: another result key)."""
        if isinstance(value, str) and value.startswith('@'):
            name, _, key = value[1:].partition(':')
            result = self.result(name)
            if result is None:
                raise RuntimeError(f'step {name!r} has not finished; run it first.')
            return result[key or 'checkpoint']
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.resolve(v) for v in value)
        return value

    def estimate(self, step: dict) -> float:
        """The spec's estimate of a step in seconds (``est_minutes``; 0 when not given)."""
        return 60.0 * float(step.get('est_minutes', 0))


def step_references(step: dict) -> List[Tuple[str, str]]:
    """The ``(step, key)`` pairs a step refers to, in order: ``'@name'`` -> ``(name, '')``,
    ``'@name:key'`` -> ``(name, key)`` (a command step's declared output)."""
    refs = []

    def visit(value):
        if isinstance(value, str) and value.startswith('@'):
            name, _, key = value[1:].partition(':')
            refs.append((name, key))
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)

    for key, value in step.items():
        if key not in ('name', 'kind'):
            visit(value)
    return refs


def _step_refs(step: dict) -> List[str]:
    return [name for name, _ in step_references(step)]


def run_study(spec_path: str,
              work_root: Optional[str] = None,
              only: Optional[Sequence[str]] = None,
              log: Callable[[str], None] = print,
              cfg_options: Optional[dict] = None,
              summary_only: bool = False) -> Dict[str, dict]:
    """Run every unfinished step of a study in order; return all finished steps' results.

    Args:
        spec_path (str): The study spec.
        work_root (str, optional): Overrides the spec's ``work_root``.
        only (Sequence[str], optional): Run only these steps (earlier ones must be finished).
        log (callable): Progress printer.
        cfg_options (dict, optional): Overrides of the spec itself (e.g. ``threads=1``).
        summary_only (bool): Run no step; only rewrite the summary from the finished ones.
    """
    from .steps import STEP_KINDS
    from .summary import write_summary
    spec = read_config(spec_path)
    if cfg_options:
        spec.merge_from_dict(cfg_options)
    study = Study(spec, spec_path, work_root)
    if only:
        unknown = sorted(set(only) - {s['name'] for s in study.steps})
        if unknown:
            raise ValueError(f'--only {unknown}: no such step in {spec_path}.')
    os.makedirs(study.work_root, exist_ok=True)
    start = time.time()
    todo = [s for s in study.steps if study.result(s['name']) is None
            and (not only or s['name'] in only) and not summary_only]
    finished = sum(study.result(s['name']) is not None for s in study.steps)
    total_est = sum(study.estimate(s) for s in todo)
    done_est = 0.0
    log(f'study {spec_path}: {len(study.steps)} steps, {finished} finished, {len(todo)} to run '
        f'now (estimate {fmt_seconds(total_est)}); work root {study.work_root}')
    for index, step in enumerate(study.steps):
        name = step['name']
        if study.result(name) is not None:
            log(f"[{index + 1}/{len(study.steps)} {name}] finished earlier: skipped")
            continue
        if step not in todo:
            continue
        step_start = time.time()
        remaining = total_est - done_est
        log(f"[{index + 1}/{len(study.steps)} {name}] {step['kind']} starts (elapsed "
            f'{fmt_seconds(step_start - start)}, estimate left {fmt_seconds(remaining)})')
        work_dir = study.work_dir(name)
        os.makedirs(work_dir, exist_ok=True)

        def progress(msg, _name=name, _i=index, _t0=step_start):
            log(f'[{_i + 1}/{len(study.steps)} {_name}] {msg} (step '
                f'{fmt_seconds(time.time() - _t0)}, study {fmt_seconds(time.time() - start)})')

        result = STEP_KINDS[step['kind']](study, step, work_dir, progress)
        result.update(name=name, kind=step['kind'], seconds=time.time() - step_start,
                      finished=time.strftime('%Y-%m-%d %H:%M:%S'))
        write_json(osp.join(work_dir, RESULT_FILE), result)
        done_est += study.estimate(step)
        log(f"[{index + 1}/{len(study.steps)} {name}] finished in "
            f'{fmt_seconds(result["seconds"])} (study elapsed {fmt_seconds(time.time() - start)})')
    paths = write_summary(study, f'python tools/study/run_study.py {spec_path}')
    if paths:
        log(f"summary: {paths['markdown']}, {paths['json']}, figures in {paths['figures']}")
    return {s['name']: study.result(s['name']) for s in study.steps
            if study.result(s['name']) is not None}
