"""tools/test.py flags as mmdet's and mmseg's: --show-dir, --out DIR (mmseg), --tta."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.runner import save_checkpoint

from mmeffseg.apis import build_model

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG = 'segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py'
M2F = 'mask2former_r18-lite_1xb2-300i_embedded-panoptic.py'
ECO = 'ecom2f-gate_r18-lite_1xb8-30i_embedded-panoptic.py'
TWO_IMAGES = ['--cfg-options', 'test_dataloader.dataset.indices=2']


def _checkpoint(tmp_path, config):
    path = str(tmp_path / 'model.pth')
    save_checkpoint({'state_dict': build_model(config).state_dict()}, path)
    return path


def _test(tmp_path, config, *flags, expect_ok=True):
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/test.py'), config, _checkpoint(tmp_path, config),
         '--work-dir', str(tmp_path / 'work'), *flags],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == expect_ok, out[-3000:]
    return out


def test_mmseg_show_dir_and_out_dir(tmp_path):
    show, out = tmp_path / 'show', tmp_path / 'labels'
    _test(tmp_path, SEG, '--show-dir', str(show), '--out', str(out), *TWO_IMAGES)
    # one drawing per test image, and mmseg's --out DIR: one label map per image
    assert len(glob.glob(str(show / 'vis_data' / 'vis_image' / '*.png'))) == 2
    assert len(glob.glob(str(out / '*.png'))) == 2


@pytest.mark.parametrize('config', [M2F, ECO], ids=['mask2former', 'ecom2f'])
def test_mmdet_show_dir_draws_every_image(tmp_path, config):
    _test(tmp_path, config, '--show-dir', 'show', *TWO_IMAGES)
    # mmdet puts --show-dir under the work dir's timestamped folder, one file per image
    assert len(glob.glob(str(tmp_path / 'work' / '*' / 'show' / '*.jpg'))) == 2
    # ECO-M2F: the exits as a histogram next to the pictures (and on each picture)
    histogram = glob.glob(str(tmp_path / 'work' / '*' / 'show' / 'exit_histogram.png'))
    assert len(histogram) == (1 if config == ECO else 0)


def test_mmdet_out_must_be_a_pickle_and_tta_needs_the_config_keys(tmp_path):
    out = _test(tmp_path, M2F, '--out', str(tmp_path / 'preds'), expect_ok=False)
    assert 'must be a .pkl' in out
    out = _test(tmp_path, M2F, '--tta', expect_ok=False)
    assert '--tta needs tta_model and tta_pipeline' in out and M2F in out
