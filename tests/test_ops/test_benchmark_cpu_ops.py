"""tools/analysis_tools/benchmark_cpu_ops.py runs and checks the ops' equality first."""
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_small_run_reports_both_ops():
    out = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'analysis_tools', 'benchmark_cpu_ops.py'),
         '--levels', '3', '6', '--heads', '2', '--head-dims', '4', '--points', '2', '--map',
         '4', '7', '5', '--repeats', '2'],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert '45 queries, levels [3, 6]' in out.stdout
    assert 'equal outputs: True' in out.stdout
    assert out.stdout.count('x faster') == 2
    # The pixel-decoder steps, each timed, the convs with their rate.
    steps = out.stdout.split('pixel-decoder steps on map (1, 4, 7, 5)')[1]
    assert steps.count(' ms') == 7 and steps.count('GFLOP/s') == 2
