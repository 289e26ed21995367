"""The mmseg ECO-M2F CamVid configs run Step A, B and C with the repository's tools.

A few iterations each on a synthetic CamVid-format folder (CAMVID_ROOT), so the test does not
need ../shared: Step A trains the parent with tools/train.py, Step B writes the per-image mIoU
table with tools/ecom2f/build_quality_table.py, Step C trains the gate on it with
tools/train.py, and each evaluation reports the exits as metrics.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PARENT = osp.join(REPO, 'configs/ecom2f/ecom2f-parent_r18-lite_1xb4-2k_camvid-semantic-360x480.py')
GATE = osp.join(REPO, 'configs/ecom2f/ecom2f-gate_r18-lite_1xb8-300i_camvid-semantic-360x480.py')
# CPU-test sized runs: 2 iterations of batch 2 on 64x64 crops, no worker processes.
TINY = [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
    'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0', 'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',
    'model.data_preprocessor.size=(64,64)'
]


def _run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope='module')
def camvid(tmp_path_factory):
    from mmeffseg.testing import make_camvid_like
    root = str(tmp_path_factory.mktemp('camvid'))
    make_camvid_like(root, num_train=3, num_val=1)
    return root


def test_steps_a_b_c_on_camvid_format_data(camvid, tmp_path):
    env = dict(os.environ, CAMVID_ROOT=camvid, PYTHONPATH=REPO, PYTHONUNBUFFERED='1')
    work = str(tmp_path)
    train = [sys.executable, osp.join(REPO, 'tools/train.py')]

    # Step A: the parent trains at sampled exits and validates at all 6 layers.
    out = _run(train + [PARENT, '--work-dir', osp.join(work, 'parent'), '--cfg-options', *TINY],
               cwd=work, env=env)
    assert 'exit_layers' in out and 'mIoU' in out and 'exits/mean_exit: 6.0' in out
    parent_ckpt = osp.join(work, 'parent', 'iter_2.pth')
    assert osp.isfile(parent_ckpt)

    # Step B: per-image mIoU of every training image at every exit.
    table = osp.join(work, 'quality_table_train.json')
    _run([sys.executable, osp.join(REPO, 'tools/ecom2f/build_quality_table.py'), PARENT,
          parent_ckpt, '--metric', 'miou', '--out', table], cwd=work, env=env)
    with open(table) as f:
        data = json.load(f)
    assert data['metadata']['exits'] == [2, 3, 4, 5, 6]
    assert sorted(data['quality']) == ['train_000', 'train_001', 'train_002']
    assert all(len(q) == 5 and all(0 <= v <= 1 for v in q) for q in data['quality'].values())

    # Step C: only the gate trains, on the Step-B labels; the gate picks the test-time exits.
    out = _run(train + [GATE, '--work-dir', osp.join(work, 'gate'), '--cfg-options', *TINY,
                        f'load_from={parent_ckpt}', f'model.quality_table={table}'],
               cwd=work, env=env)
    assert 'ECO-M2F gate labels' in out and 'loss_gate' in out
    assert 'exits/mean_exit' in out and osp.isfile(osp.join(work, 'gate', 'iter_2.pth'))
