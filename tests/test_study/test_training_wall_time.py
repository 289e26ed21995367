"""A resumed training's wall time is the sum of its runs (the summary's "wall time" column)."""
import os
import os.path as osp

from mmeffseg.study.steps import training_wall_seconds


def _run_log(work_dir: str, stamp: str, times) -> None:
    os.makedirs(osp.join(work_dir, stamp))
    with open(osp.join(work_dir, stamp, f'{stamp}.log'), 'w') as f:
        for t in times:
            f.write(f'{t} - mmengine - INFO - Iter(train) [ 50/300]  loss: 1.0\n')


def test_every_run_of_a_resumed_training_counts(tmp_path):
    work = str(tmp_path)
    _run_log(work, '20261206_071913', ['2026/12/06 07:19:13', '2026/12/06 07:35:51'])  # 998 s
    _run_log(work, '20261206_104958', ['2026/12/06 10:49:58', '2026/12/06 10:50:00',
                                       '2026/12/06 11:05:20'])  # 922 s
    # another tool's log in a run-like folder does not count
    os.makedirs(osp.join(work, 'configs'))
    with open(osp.join(work, 'configs', 'other.log'), 'w') as f:
        f.write('2026/12/06 01:00:00 - mmengine - INFO - x\n2026/12/06 09:00:00 - mmengine\n')
    assert training_wall_seconds(work) == 998 + 922


def test_no_run_log_gives_none(tmp_path):
    assert training_wall_seconds(str(tmp_path)) is None
    _run_log(str(tmp_path), '20261206_071913', ['2026/12/06 07:19:13'])  # one line: no span
    assert training_wall_seconds(str(tmp_path)) is None
