"""A resumable, idempotent study: a list of steps, each with its own work dir and a result file.

A study spec (an mmengine config, e.g. ``configs/study/camvid.py``) lists ``steps``; each step
has a ``name``, a ``kind`` (see :data:`mmeffseg.study.steps.STEP_KINDS`) and the settings of
that kind. A step is *finished* when ``<work_root>/<name>/result.json`` exists: a rerun skips it.
An interrupted training step resumes from the last checkpoint in its work dir
(``tools/train.py --resume``). Steps refer to earlier steps' checkpoints as ``'@step_name'``.

A result records what its step was run with (:mod:`.fingerprint`). The runner alone decides
whether a finished step is still current: one whose inputs changed since (or that refers to a
step rerun since) is *stale*; :func:`run_study` refuses to run anything then, unless told to
rerun stale steps, and the summary marks them.

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
from .fingerprint import (describe_changes, env_placeholders, make_fingerprint, new_run_id,
                          run_id)

RESULT_FILE = 'result.json'
# The fingerprint a step started with: an interrupted run resumes only with the same inputs.
STARTED_FILE = 'started.json'


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
        self._placeholders: Optional[List[Tuple[str, str]]] = None
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

    def fingerprint(self, step: dict, results: Dict[str, Optional[dict]],
                    run: Optional[str] = None) -> dict:
        """The step's fingerprint now (:mod:`.fingerprint`), with ``results`` of the steps it
        refers to."""
        if self._placeholders is None:
            self._placeholders = env_placeholders(self.spec_path)
        refs = {name: results.get(name) for name in dict.fromkeys(_step_refs(step))}
        return make_fingerprint(step, self.repo_root, self._placeholders, refs, run)

    def judge(self, step: dict, results: Dict[str, Optional[dict]],
              states: Dict[str, dict]) -> dict:
        """Whether a step's result still matches its inputs.

        Returns ``dict(status, reasons, fingerprint)``; status is ``'pending'`` (no result),
        ``'current'``, ``'legacy'`` (a result written before fingerprints: accepted, and
        ``fingerprint`` is what adopting it records) or ``'stale'`` (``reasons`` says what
        changed). A step referring to a stale step is stale as well.

        Args:
            step (dict): The step's spec entry.
            results (dict): The results of the earlier steps (None: not finished).
            states (dict): The earlier steps' states.
        """
        result = results.get(step['name'])
        if result is None:
            return dict(status='pending', reasons=[], fingerprint=None)
        recorded = result.get('fingerprint')
        current = self.fingerprint(step, results, run=run_id(result))
        if recorded is None:
            refs = list(dict.fromkeys(_step_refs(step)))
            reasons = [f'refers to @{ref}, which has no result now'
                       for ref in refs if results.get(ref) is None]
            # A result without a fingerprint does not say which run of a step it was made
            # from; made before that step's present result finished, it was made from another.
            reasons += [f"refers to @{ref}, which finished at {results[ref]['finished']}, "
                        f"after it ({result['finished']})" for ref in refs
                        if results.get(ref) and result.get('finished')
                        and results[ref].get('finished', '') > result['finished']]
            reasons = reasons or self._legacy_mismatches(step, result)
        else:
            reasons = describe_changes(recorded, current)
        reasons += [f'refers to @{ref}, which is stale' for ref in dict.fromkeys(_step_refs(step))
                    if states.get(ref, {}).get('status') == 'stale']
        status = 'stale' if reasons else 'legacy' if recorded is None else 'current'
        return dict(status=status, reasons=reasons, fingerprint=current)

    def _legacy_mismatches(self, step: dict, result: dict) -> List[str]:
        """What a training result written before fingerprints says it was run with (config,
        options with the seed, iterations) that the spec and config no longer give: such a
        result is stale, not adopted. Other kinds record too little to compare."""
        if step['kind'] != 'train':
            return []
        reasons = []
        ref = step.get('load_from')
        if isinstance(ref, str) and ref.startswith('@') and result.get('load_from'):
            # Work dirs are named after their steps (the work root may have moved since).
            made_by = osp.basename(osp.dirname(result['load_from']))
            if made_by != ref[1:].partition(':')[0]:
                reasons.append(f"started from {result['load_from']} (step {made_by}), the spec "
                               f'now starts it from {ref}')
        if result.get('config') != step['config']:
            reasons.append(f"was trained with config {result.get('config')}, the spec now names "
                           f"{step['config']}")
        from .steps import train_options
        options = json.loads(json.dumps(train_options(self, step), default=str))
        ran = {k: v for k, v in (result.get('cfg_options') or {}).items() if k != 'load_from'}
        if ran != options:
            reasons.append(f'was trained with cfg_options {ran}, the spec now gives {options}')
        cfg = read_config(step['config'] if osp.isabs(step['config'])
                          else osp.join(self.repo_root, step['config']))
        cfg.merge_from_dict(options)
        max_iters = (cfg.get('train_cfg') or {}).get('max_iters')
        if max_iters is not None and result.get('iters') != max_iters:
            reasons.append(f"trained {result.get('iters')} iterations, its config now says "
                           f'{max_iters}')
        return reasons

    def check_inputs(self, log: Callable[[str], None] = print) -> Dict[str, dict]:
        """:meth:`judge` every step in order; log each stale step's reasons; record the current
        fingerprint into legacy results ("adopt" them: one log line names them). Adopting only
        adds to a finished step's result file (written atomically), so it is safe while an
        older runner works on later steps of the same work root."""
        results: Dict[str, Optional[dict]] = {}
        states: Dict[str, dict] = {}
        adopted = []
        for step in self.steps:
            name = step['name']
            results[name] = self.result(name)
            states[name] = state = self.judge(step, results, states)
            if state['status'] == 'legacy':
                results[name] = dict(results[name], fingerprint=state['fingerprint'])
                adopted.append(name)
                write_json(osp.join(self.work_dir(name), RESULT_FILE), results[name])
            elif state['status'] == 'stale':
                log(f"[{name}] stale: {'; '.join(state['reasons'])}")
        if adopted:
            log('results without a fingerprint (written by an older runner) accepted as current, '
                f"fingerprint recorded: {', '.join(adopted)}")
        return states

    def move_aside(self, name: str, why: str = 'stale') -> str:
        """Rename a step's work dir to ``<name>.<why>-<YYYYmmdd-HHMMSS>`` (nothing deleted)."""
        stamp = time.strftime('%Y%m%d-%H%M%S')
        target = osp.join(self.work_root, f'{name}.{why}-{stamp}')
        count = 1
        while osp.exists(target):
            count += 1
            target = osp.join(self.work_root, f'{name}.{why}-{stamp}-{count}')
        os.rename(self.work_dir(name), target)
        return target

    def begin(self, name: str, fingerprint: dict, log: Callable[[str], None] = print) -> str:
        """Make a step's work dir and record the inputs it starts with (``started.json``).

        An interrupted earlier run of the step left checkpoints the step would resume from; if
        that run started with other inputs, its work dir is moved aside to
        ``<name>.interrupted-<time>`` first, so nothing made from the old inputs is resumed.

        Returns:
            str: The work dir.
        """
        work_dir = self.work_dir(name)
        started = osp.join(work_dir, STARTED_FILE)
        if osp.isfile(started):
            with open(started) as f:
                changes = describe_changes(json.load(f), fingerprint)
            if changes:
                log(f"[{name}] an interrupted run started with other inputs ({'; '.join(changes)})"
                    f": moved aside to {self.move_aside(name, 'interrupted')}; starting anew")
        os.makedirs(work_dir, exist_ok=True)
        write_json(started, fingerprint)
        return work_dir


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


class StaleStepsError(RuntimeError):
    """Finished steps whose inputs changed after they ran, and no ``rerun_stale``."""


def run_study(spec_path: str,
              work_root: Optional[str] = None,
              only: Optional[Sequence[str]] = None,
              log: Callable[[str], None] = print,
              cfg_options: Optional[dict] = None,
              summary_only: bool = False,
              rerun_stale: bool = False) -> Dict[str, dict]:
    """Run every unfinished step of a study in order; return all finished steps' results.

    A finished step whose inputs changed after it ran (its fingerprint, :mod:`.fingerprint`) is
    *stale*: by default nothing runs (:class:`StaleStepsError` names the steps and what changed);
    with ``rerun_stale`` its work dir is moved aside and it runs anew, then every step referring
    to it in turn. Results written before fingerprints are accepted and their fingerprint
    recorded.

    Args:
        spec_path (str): The study spec.
        work_root (str, optional): Overrides the spec's ``work_root``.
        only (Sequence[str], optional): Run only these steps (earlier ones must be finished).
        log (callable): Progress printer.
        cfg_options (dict, optional): Overrides of the spec itself (e.g. ``threads=1``).
        summary_only (bool): Run no step; only rewrite the summary from the finished ones
            (stale steps marked as such).
        rerun_stale (bool): Rerun stale steps (of ``only``, when given) instead of refusing.
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
    states = study.check_inputs(log)
    stale = [name for name, state in states.items() if state['status'] == 'stale']
    if stale and not summary_only and not rerun_stale:
        raise StaleStepsError(
            f'{len(stale)} finished step(s) are stale (their inputs changed after they ran): '
            + '; '.join(f"{n} ({', '.join(states[n]['reasons'])})" for n in stale)
            + '. Nothing was run. Rerun them with --rerun-stale (their work dirs are moved '
            'aside to <name>.stale-<time>, nothing is deleted), or restore the inputs they '
            'were run with.')
    start = time.time()
    selected = [s for s in study.steps if not only or s['name'] in only]
    todo = [] if summary_only else [
        s for s in selected if states[s['name']]['status'] == 'pending'
        or (rerun_stale and states[s['name']]['status'] == 'stale')]
    todo_names = {s['name'] for s in todo}
    start_reasons = {name: state['reasons'] for name, state in states.items()}
    finished = sum(state['status'] != 'pending' for state in states.values())
    total_est = sum(study.estimate(s) for s in todo)
    done_est = 0.0
    log(f'study {spec_path}: {len(study.steps)} steps, {finished} finished ({len(stale)} '
        f'stale), {len(todo)} to run now (estimate {fmt_seconds(total_est)}); work root '
        f'{study.work_root}')
    results: Dict[str, Optional[dict]] = {}
    for index, step in enumerate(study.steps):
        name = step['name']
        results[name] = study.result(name)
        # Judged again here: a step referring to one rerun above is stale now.
        states[name] = state = study.judge(step, results, states)
        tag = f'[{index + 1}/{len(study.steps)} {name}]'
        if name in todo_names and results[name] is not None:
            # Stale when the run started: a result without a fingerprint may look current
            # again once the step it refers to has been rerun, but it is not.
            reasons = state['reasons'] or start_reasons[name]
            log(f"{tag} stale ({'; '.join(reasons)}): moved aside to {study.move_aside(name)}")
            results[name] = None
        elif state['status'] == 'stale':
            log(f'{tag} finished earlier but stale: kept, not rerun')
            continue
        elif state['status'] != 'pending':
            log(f'{tag} finished earlier: skipped')
            continue
        if name not in todo_names:
            continue
        fingerprint = study.fingerprint(step, results, run=new_run_id())
        step_start = time.time()
        remaining = total_est - done_est
        log(f"{tag} {step['kind']} starts (elapsed "
            f'{fmt_seconds(step_start - start)}, estimate left {fmt_seconds(remaining)})')
        work_dir = study.begin(name, fingerprint, log)

        def progress(msg, _tag=tag, _t0=step_start):
            log(f'{_tag} {msg} (step {fmt_seconds(time.time() - _t0)}, study '
                f'{fmt_seconds(time.time() - start)})')

        result = STEP_KINDS[step['kind']](study, step, work_dir, progress)
        result.update(name=name, kind=step['kind'], seconds=time.time() - step_start,
                      finished=time.strftime('%Y-%m-%d %H:%M:%S'), fingerprint=fingerprint)
        write_json(osp.join(work_dir, RESULT_FILE), result)
        results[name] = study.result(name)
        states[name] = dict(status='current', reasons=[], fingerprint=fingerprint)
        done_est += study.estimate(step)
        log(f"{tag} finished in {fmt_seconds(result['seconds'])} (study elapsed "
            f'{fmt_seconds(time.time() - start)})')
    # Judged again: a step rerun above while a step it refers to stayed stale (--only) is
    # still stale.
    states = study.check_inputs(log=lambda msg: None)
    stale_now = {n: s['reasons'] for n, s in states.items() if s['status'] == 'stale'}
    paths = write_summary(study, f'python tools/study/run_study.py {spec_path}', stale=stale_now)
    if paths:
        log(f"summary: {paths['markdown']}, {paths['json']}, figures in {paths['figures']}"
            + (f" (stale steps marked: {', '.join(stale_now)})" if stale_now else ''))
    return {name: result for name, result in results.items() if result is not None}
