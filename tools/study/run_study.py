"""Run (or resume) a study: every unfinished step of the spec, in order, then its summary.

    python tools/study/run_study.py configs/study/camvid.py [--work-root DIR] [--only STEP ...]

Each step works in ``<work root>/<step>/`` (default work root: the spec's ``work_root``,
``~/mmeffseg-work/study-camvid`` for CamVid, override with ``STUDY_WORK_DIR`` or
``--work-root``); a finished step has a ``result.json`` and is skipped by a rerun; an interrupted
training resumes from its last checkpoint. A finished step whose inputs changed after it ran
(its config or ``_base_`` chain edited, its spec entry changed, a step it refers to rerun) is
stale: nothing runs until ``--rerun-stale`` (stale work dirs moved aside, then rerun with their
dependants) or the inputs are restored; ``--summary-only`` marks them. Long: run it in the
background with nohup.
"""
import argparse
import sys

from mmengine.config import DictAction

import mmeffseg  # noqa: F401
from mmeffseg.study import run_study


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('spec', help='study spec, e.g. configs/study/camvid.py')
    parser.add_argument('--work-root', help="overrides the spec's work_root")
    parser.add_argument('--only', nargs='+', help='run only these steps')
    parser.add_argument('--summary-only', action='store_true',
                        help='run no step; rewrite the summary from the finished steps '
                        '(stale ones marked)')
    parser.add_argument('--rerun-stale', action='store_true',
                        help='rerun finished steps whose inputs changed (their work dirs are '
                        'moved aside to <step>.stale-<time>) and the steps depending on them')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override spec settings, e.g. threads=1')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    run_study(args.spec, args.work_root, args.only,
              log=lambda msg: print(msg, flush=True), cfg_options=args.cfg_options,
              summary_only=args.summary_only, rerun_stale=args.rerun_stale)


if __name__ == '__main__':
    try:
        main()
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        sys.exit(f'run_study.py: error: {err}')
