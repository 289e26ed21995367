"""tools/train.py end to end: bad starts fail before the first iteration, naming file or key."""
import os
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from mmeffseg.apis import build_model, load_config
from mmeffseg.utils.start_checkpoint import gate_start_checkpoint

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG = osp.join(REPO,
               'configs/segmenter/segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py')
DENSE = 'configs/token_pruning/mask-rcnn_vit-t-sfp_1xb2-40i_coco128.py'
SPARSE = 'configs/token_pruning/token-pruning_mask-rcnn_vit-t-sfp_1xb2-60i_coco128.py'


def _train(tmp_path, *args, expect_ok=False):
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools/train.py'), SEG, *args],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHONUNBUFFERED='1'))
    out = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == expect_ok, out[-3000:]
    if not expect_ok:
        assert 'Iter(train)' not in out  # refused before any training
    return out


SHORT = ['train_dataloader.batch_size=1', 'default_hooks.logger.interval=1',
         'default_hooks.checkpoint.interval=1', 'val_cfg=None', 'val_dataloader=None',
         'val_evaluator=None']


def test_stopped_run_resumes_where_it_stopped(tmp_path):
    work = str(tmp_path / 'work')
    _train(tmp_path, '--work-dir', work, '--cfg-options', 'train_cfg.max_iters=1', *SHORT,
           expect_ok=True)
    out = _train(tmp_path, '--work-dir', work, '--resume', '--cfg-options',
                 'train_cfg.max_iters=2', *SHORT, expect_ok=True)
    assert f'Resuming from {work}/iter_1.pth' in out
    assert 'Iter(train) [2/2]' in out and 'Iter(train) [1/2]' not in out
    assert osp.isfile(osp.join(work, 'iter_2.pth'))


def test_resume_with_nothing_to_resume(tmp_path):
    work = tmp_path / 'work_dirs' / 'segmentr'
    out = _train(tmp_path, '--resume', '--work-dir', str(work))
    assert f'--resume: work dir {work} does not exist' in out


def test_misspelt_cfg_option(tmp_path):
    out = _train(tmp_path, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                 'trian_cfg.max_iters=2')
    assert "'trian_cfg'" in out and "did you mean 'train_cfg'" in out


def test_corrupt_load_from(tmp_path):
    bad = tmp_path / 'parent.pth'
    bad.write_bytes(b'PK\x03\x04 not really a zip')
    out = _train(tmp_path, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                 f'load_from={bad}')
    assert f'Checkpoint {bad} cannot be read' in out and 'copy or download' in out


@pytest.fixture(scope='module')
def dense_checkpoint(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp('dense') / 'iter_40.pth')
    torch.save({'state_dict': build_model(osp.join(REPO, DENSE)).state_dict()}, path)
    return path


def test_pruning_stage2_config_accepts_its_dense_model(dense_checkpoint):
    cfg = load_config(osp.join(REPO, SPARSE), {'load_from': dense_checkpoint})
    gate_start_checkpoint(SimpleNamespace(model=build_model(cfg)), cfg)
    cfg.load_from_missing_ok = []  # without the config's allow-list the selectors are missing
    with pytest.raises(ValueError, match=r'backbone\.reducers\..*missing'):
        gate_start_checkpoint(SimpleNamespace(model=build_model(cfg)), cfg)
