"""tools/train.py, tools/test.py, dist_train.sh and mim on tiny runs of real configs.

Each run is a subprocess so that the tools are exercised exactly as a user calls them.
"""
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
M2F = osp.join(REPO, 'configs/mask2former/mask2former_r18-lite_1xb2-300i_embedded-panoptic.py')
SEG = osp.join(REPO,
               'configs/segmenter/segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py')
TINY_RUN = [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
    'default_hooks.logger.interval=1', 'val_dataloader.dataset.indices=1',
    'test_dataloader.dataset.indices=1', 'train_dataloader.batch_size=1'
]


def _env(drop_weights_only_flag: bool = True) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    if drop_weights_only_flag:
        # The tools must load mmengine checkpoints on torch >= 2.6 without the user's help.
        env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    return env


def _run(cmd, cwd, expect_ok=True, timeout=900):
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    out = proc.stdout + proc.stderr
    if expect_ok:
        assert proc.returncode == 0, out[-4000:]
    return proc.returncode, out


def _last_checkpoint(work_dir):
    ckpts = glob.glob(osp.join(work_dir, '*.pth'))
    assert ckpts, f'no checkpoint in {work_dir}: {os.listdir(work_dir)}'
    return max(ckpts, key=osp.getmtime)


@pytest.mark.parametrize('config,metric', [(M2F, 'coco_panoptic/PQ'), (SEG, 'mIoU')],
                         ids=['mask2former-mmdet', 'segmenter-mmseg'])
def test_train_then_test_from_another_directory(tmp_path, config, metric):
    work_dir = str(tmp_path / 'work')
    _, out = _run([sys.executable, osp.join(REPO, 'tools/train.py'), config, '--work-dir',
                   work_dir, '--cfg-options', *TINY_RUN], cwd=str(tmp_path))
    assert metric in out
    ckpt = _last_checkpoint(work_dir)
    # The faster CPU deformable-attention core is a test-time option of both families' tool.
    _, out = _run([sys.executable, osp.join(REPO, 'tools/test.py'), config, ckpt, '--work-dir',
                   work_dir, '--cpu-deform-attn', 'gather', '--cfg-options',
                   'test_dataloader.dataset.indices=1'], cwd=str(tmp_path))
    assert metric in out and 'Test of' in out


def test_distributed_launcher_two_cpu_processes(tmp_path):
    work_dir = str(tmp_path / 'dist')
    _, out = _run(['bash', osp.join(REPO, 'tools/dist_train.sh'), SEG, '2', '--work-dir',
                   work_dir, '--cfg-options', 'train_cfg.max_iters=2',
                   'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=2',
                   'train_dataloader.batch_size=1', 'default_hooks.logger.interval=1'],
                  cwd=str(tmp_path), timeout=900)
    # Both ranks joined one gloo group and the runner saw a world of 2.
    assert ("'world_size': 2" in out or 'world_size: 2' in out
            or 'Distributed launcher: pytorch' in out)
    assert 'backend: gloo' in out.lower() or "'backend': 'gloo'" in out
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))


@pytest.mark.skipif(shutil.which('mim') is None, reason='openmim is not installed')
def test_mim_train_and_test_from_any_directory(tmp_path):
    # A config *name* (not a path) is found inside the package's .mim/configs.
    name = osp.basename(SEG)
    work_dir = str(tmp_path / 'mim')
    _run(['mim', 'train', 'mmeffseg', name, '--work-dir', work_dir, '--cfg-options',
          *TINY_RUN], cwd=str(tmp_path))
    ckpt = _last_checkpoint(work_dir)
    _, out = _run(['mim', 'test', 'mmeffseg', name, '--checkpoint', ckpt, '--work-dir', work_dir,
                   '--cfg-options', 'test_dataloader.dataset.indices=1'], cwd=str(tmp_path))
    assert 'mIoU' in out


def _child_config(tmp_path, body: str) -> str:
    path = tmp_path / 'child.py'
    path.write_text(f"_base_ = ['{SEG}']\n{body}\n")
    return str(path)


def test_unknown_module_names_config_and_fix(tmp_path):
    cfg = _child_config(tmp_path, "model = dict(backbone=dict(type='NoSuchBackbone'))")
    code, out = _run([sys.executable, osp.join(REPO, 'tools/train.py'), cfg, '--work-dir',
                      str(tmp_path / 'w')], cwd=str(tmp_path), expect_ok=False)
    assert code != 0
    assert 'NoSuchBackbone' in out and 'child.py' in out and 'custom_imports' in out


def test_missing_data_root_names_key_and_fix(tmp_path):
    cfg = _child_config(
        tmp_path, "train_dataloader = dict(dataset=dict(data_root='/no/such/root'))")
    code, out = _run([sys.executable, osp.join(REPO, 'tools/train.py'), cfg, '--work-dir',
                      str(tmp_path / 'w')], cwd=str(tmp_path), expect_ok=False)
    assert code != 0
    assert 'train_dataloader.dataset.data_root' in out and '/no/such/root' in out


def test_missing_config_file(tmp_path):
    code, out = _run([sys.executable, osp.join(REPO, 'tools/train.py'),
                      str(tmp_path / 'nope.py')], cwd=str(tmp_path), expect_ok=False)
    assert code != 0 and 'Config file not found' in out and 'nope.py' in out


def test_short_run_without_test_data_or_final_validation(tmp_path):
    # train.py needs only the data of the loops it runs: a missing test root is no obstacle,
    # and with validation switched off the last iteration is not followed by a validation.
    work_dir = str(tmp_path / 'short')
    _, out = _run([sys.executable, osp.join(REPO, 'tools/train.py'), SEG, '--work-dir',
                   work_dir, '--cfg-options', 'train_cfg.max_iters=1',
                   'train_dataloader.batch_size=1', 'default_hooks.logger.interval=1',
                   f'test_dataloader.dataset.data_root={tmp_path}/nowhere', 'val_cfg=None',
                   'val_dataloader=None', 'val_evaluator=None'], cwd=str(tmp_path))
    assert 'Iter(train) [1/1]' in out and 'Iter(val)' not in out
    code, out = _run([sys.executable, osp.join(REPO, 'tools/train.py'), SEG, '--work-dir',
                      work_dir, '--cfg-options', f'val_dataloader.dataset.data_root={tmp_path}/v'],
                     cwd=str(tmp_path), expect_ok=False)
    assert code != 0 and 'val_dataloader.dataset.data_root' in out
