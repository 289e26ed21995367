"""algm_figures measures a baseline / ALGM pair on image files read through the baseline
config's test pipeline (centre-cropped so that they share a batch)."""
import json

import mmcv
import numpy as np

from mmeffseg.testing import load_tool, write_tiny_reducer_vit_config
from mmeffseg.testing.tiny_reducer_vit_config import TINY_REDUCER_VIT_CONFIG


def _pair_and_images(tmp_path):
    algm = write_tiny_reducer_vit_config(str(tmp_path))
    reducers = TINY_REDUCER_VIT_CONFIG[TINY_REDUCER_VIT_CONFIG.index('reducers=['):
                                       TINY_REDUCER_VIT_CONFIG.index(']),') + 1]
    base = tmp_path / 'segmenter_tiny_base.py'
    base.write_text(TINY_REDUCER_VIT_CONFIG.replace(reducers, 'reducers=[]'))
    algm_named = tmp_path / 'algm_segmenter_tiny_test.py'
    algm_named.write_text(open(algm).read())
    folder = tmp_path / 'images'
    folder.mkdir()
    for i, (h, w) in enumerate([(50, 80), (70, 40), (64, 64)]):
        img = (np.random.RandomState(i).rand(h, w, 3) * 255).astype(np.uint8)
        mmcv.imwrite(img, str(folder / f'{i}.png'))
    return base, algm_named, folder


def test_pair_measured_on_cropped_test_pipeline_images(tmp_path, capsys):
    tool = load_tool('analysis_tools/algm_figures.py')
    base, algm_named, folder = _pair_and_images(tmp_path)
    out = tmp_path / 'out'
    tool.main(['--pair', str(base), str(algm_named), '--images', str(folder), '--crop', '48',
               '--batch-sizes', '1', '2', '--warmup', '0', '--repeats', '1',
               '--taus', '-1.0', '1.01', '--out-dir', str(out)])
    result = json.load(open(out / 'algm_figures.json'))
    assert result['num_images'] == 3
    row = result['results'][0]
    # 48x48 crops: 9 patches + CLS for the baseline in every block; ALGM merges (tau -1)
    assert row['baseline_cost']['tokens_per_block'] in (None, [10.0] * 3)
    assert row['algm_cost']['backbone_gflops'] < row['baseline_cost']['backbone_gflops']
    assert set(row['algm_timing']) == {'1', '2'}
    curve = row['tau_curve']
    assert curve[0]['backbone_gflops'] < curve[1]['backbone_gflops']
    table = (out / 'algm_figures.md').read_text()
    assert '48x48 centre crops' in table and '| tiny |' in table
    assert (out / 'algm_gflops_vs_tau.png').exists()
    capsys.readouterr()


def test_batch_speedup_reads_images_like_algm_figures(tmp_path, capsys):
    tool = load_tool('device/batch_speedup.py')
    base, algm, folder = _pair_and_images(tmp_path)
    result = tool.main([str(base), '--method', 'algm', str(algm), '--images', str(folder),
                        '--crop', '48', '--batch-size', '2'])
    assert result['images'] == 2  # 3 images, whole batches of 2
    assert result['models']['algm']['final_tokens_b1'] < 10  # 9 patches + CLS unmerged
    assert '| algm |' in capsys.readouterr().out
