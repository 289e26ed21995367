"""Which checkpoint a training run starts from (``load_from`` or ``--resume``), checked first.

mmengine loads ``load_from`` non-strictly and, when ``resume`` finds nothing, trains from scratch
after logging "Auto resumed from ... None". Here every start checkpoint passes the strict gate of
:mod:`.checkpoint_check` before the first iteration: a fine-tuning recipe that starts from a
smaller (or differently shaped) model declares the prefixes it expects to be missing,
unexpected or reshaped in its config, and they are printed; anything else is an error naming
the file and the key. A resume that has nothing to resume is an error naming the work dir and
what is there.

Config keys (top level, next to ``load_from``):

* ``load_from_missing_ok`` (list[str]): model key prefixes ``load_from`` may lack, e.g.
  ``['backbone.reducers.']`` for token pruning's stage 2 (new selectors on a dense ViT).
* ``load_from_unexpected_ok`` (list[str]): checkpoint key prefixes the model does not have.
* ``load_from_mismatch_ok`` (list[str]): model key prefixes whose shape may differ from the
  checkpoint's (not loaded: mmengine skips a reshaped key), e.g. PRO-SCALE's deformable
  attentions sized for fewer levels than the 6-layer Mask2Former's.
* ``load_from_made_by`` (str): the earlier recipe step that writes ``load_from`` (a command),
  named when the file is missing.
"""
import glob
import os
import os.path as osp
import re
from typing import List, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

from .checkpoint_check import check_checkpoint_fits

__all__ = [
    'START_CHECKPOINT_KEYS', 'load_from_allowances', 'check_start_file', 'find_resume_checkpoint',
    'resolve_start_checkpoint', 'gate_start_checkpoint'
]

#: mmeffseg's top-level config keys about the start checkpoint (known to the --cfg-options check).
ALLOWANCE_KEYS = ('load_from_missing_ok', 'load_from_unexpected_ok', 'load_from_mismatch_ok')
START_CHECKPOINT_KEYS = ALLOWANCE_KEYS + ('load_from_made_by', )


def _is_url(path: str) -> bool:
    return path.startswith(('http://', 'https://'))


def load_from_allowances(cfg: Config) -> Tuple[List[str], List[str], List[str]]:
    """``(missing_ok, unexpected_ok, mismatch_ok)`` prefixes from the config (empty lists when
    not set).

    Raises:
        ValueError: a key that is not a list of strings, naming it.
    """
    out = []
    for key in ALLOWANCE_KEYS:
        value = cfg.get(key) or []
        if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f'{cfg.filename}: {key} must be a list of key prefixes (e.g. '
                             f"['backbone.reducers.']), got {value!r}")
        out.append(list(value))
    return out[0], out[1], out[2]


def check_start_file(cfg: Config) -> None:
    """Refuse a ``load_from`` file that does not exist, naming the step that makes it.

    Raises:
        FileNotFoundError: naming ``load_from``, the config and, when the config says
            (``load_from_made_by``), the earlier recipe step to run first.
    """
    path = cfg.get('load_from')
    if not path or _is_url(path) or osp.isfile(path):
        return
    step = cfg.get('load_from_made_by')
    hint = (f'It is written by an earlier step of this recipe: run `{step}` first'
            if step else 'Train the model it names first')
    raise FileNotFoundError(
        f'load_from {path} does not exist (config {cfg.filename}). {hint}, or pass the '
        f'checkpoint with --cfg-options load_from=PATH.')


def _checkpoints_in(work_dir: str) -> List[str]:
    def number(path):
        found = re.findall(r'\d+', osp.basename(path))
        return int(found[-1]) if found else -1
    return sorted(glob.glob(osp.join(work_dir, '*.pth')), key=lambda p: (number(p), p))


def _listing(work_dir: str, limit: int = 20) -> str:
    names = sorted(os.listdir(work_dir))
    if not names:
        return 'it is empty'
    more = f' and {len(names) - limit} more' if len(names) > limit else ''
    return f"it holds {', '.join(names[:limit])}{more}"


def find_resume_checkpoint(work_dir: str) -> str:
    """The checkpoint ``--resume`` without a path resumes: the one ``last_checkpoint`` names.

    Raises:
        FileNotFoundError: the work dir does not exist or has no ``last_checkpoint`` (naming the
            work dir and listing what is there), or ``last_checkpoint`` names a missing file
            (listing the checkpoints present and how to resume from one).
    """
    fix = ('Fix: pass the work dir of the run to resume (--work-dir), resume from a checkpoint '
           'with --resume PATH.pth, or drop --resume to start a new run.')
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'--resume: work dir {work_dir} does not exist, so there is '
                                f'nothing to resume. {fix}')
    pointer = osp.join(work_dir, 'last_checkpoint')
    present = _checkpoints_in(work_dir)
    if not osp.isfile(pointer):
        how = (f' To resume from the latest checkpoint there: --resume {present[-1]}.'
               if present else '')
        raise FileNotFoundError(f'--resume: no last_checkpoint in work dir {work_dir} '
                                f'({_listing(work_dir)}), so there is nothing to resume.{how} '
                                f'{fix}')
    with open(pointer) as f:
        target = f.read().strip()
    if target and osp.isfile(target):
        return target
    if present:
        how = (f'Checkpoints there: {", ".join(osp.basename(p) for p in present)}; resume '
               f'from one with --resume {present[-1]} (and remove or fix {pointer}).')
    else:
        how = f'There is no checkpoint in it ({_listing(work_dir)}). {fix}'
    raise FileNotFoundError(f'--resume: {pointer} names {target or "nothing"}, which does not '
                            f'exist. {how}')


def resolve_start_checkpoint(cfg: Config) -> None:
    """Before the runner is built: find what ``resume`` resumes, check ``load_from`` exists.

    With ``cfg.resume`` and no ``load_from``, ``cfg.load_from`` becomes the checkpoint of
    :func:`find_resume_checkpoint` (so mmengine never starts from scratch silently).
    """
    if cfg.get('resume') and not cfg.get('load_from'):
        cfg.load_from = find_resume_checkpoint(cfg.work_dir)
        print_log(f'Resuming from {cfg.load_from}', logger='current')
    elif cfg.get('resume') and not _is_url(cfg.load_from) and not osp.isfile(cfg.load_from):
        present = _checkpoints_in(cfg.work_dir) if osp.isdir(cfg.work_dir) else []
        raise FileNotFoundError(
            f'--resume {cfg.load_from}: no such checkpoint. Checkpoints in work dir '
            f'{cfg.work_dir}: {", ".join(osp.basename(p) for p in present) or "none"}.')
    else:
        check_start_file(cfg)
        load_from_allowances(cfg)


def gate_start_checkpoint(runner, cfg: Config) -> None:
    """Check the start checkpoint against ``runner.model`` before any iteration.

    A resumed checkpoint must fit exactly; ``load_from`` may lack / add the prefixes the config
    allows (printed when used).

    Raises:
        ValueError: the checkpoint is unreadable or does not fit (naming the file and the key).
    """
    path = cfg.get('load_from')
    if not path:
        return
    if cfg.get('resume'):
        check_checkpoint_fits(runner.model, path)
        return
    missing_ok, unexpected_ok, mismatch_ok = load_from_allowances(cfg)
    if missing_ok or unexpected_ok or mismatch_ok:
        print_log(f'load_from {path}: the config allows missing key prefixes {missing_ok} '
                  f'(load_from_missing_ok), unexpected ones {unexpected_ok} '
                  f'(load_from_unexpected_ok) and reshaped ones {mismatch_ok} '
                  f'(load_from_mismatch_ok); missing and reshaped keys keep their initial '
                  f'values, unexpected ones are ignored.', logger='current')
    check_checkpoint_fits(runner.model, path, missing_ok, unexpected_ok, mismatch_ok)
