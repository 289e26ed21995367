"""The prepared GPU check runs end to end in its CPU dry-run mode, without mmcv/mmseg."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_run_standalone(tmp_path):
    out = tmp_path / 'gpu_check.json'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    # --standalone imports mmeffseg's modules by path with the OpenMMLab stack stubbed out,
    # as on a CUDA machine without mmcv; a subprocess keeps those stubs out of this session.
    proc = subprocess.run([sys.executable, str(ROOT / 'tools/device/gpu_check.py'), '--dry-run',
                           '--standalone', '--out', str(out)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report['stack'].startswith('standalone') and report['all_checks_passed']
    assert report['gather_core']['max_abs_diff'] <= 1e-4
    for method, check in report['batch_invariance'].items():
        assert check['counts_equal'], method
    assert {'dense', 'algm_min', 'algm_per_image', 'pruning'} <= set(report['timing']['batch_1'])
    # The per-image ALGM really holds images at different token counts (mixed content).
    assert len(set(report['batch_invariance']['algm_per_image']['final_tokens'])) > 1
