"""token_pruning_figures on the CamVid pruning config, with synthetic CamVid-format images:
keep ratios at the config's test scale, then FLOPs and latency of dense against pruned at a
fixed square size (real images resized to fit and padded), timed interleaved."""
import json
import os.path as osp

from mmeffseg.testing import load_tool, make_camvid_like

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'token_pruning',
                  'token-pruning_segmenter_vit-t_mask_1xb8-300i-ft_camvid-360x480.py')


def test_keep_ratios_and_dense_vs_pruned_at_a_fixed_size(tmp_path, monkeypatch, capsys):
    make_camvid_like(str(tmp_path / 'camvid'), num_train=1, num_val=2, height=48, width=80)
    monkeypatch.setenv('CAMVID_ROOT', str(tmp_path / 'camvid'))
    out = tmp_path / 'figures.json'
    load_tool('analysis_tools/token_pruning_figures.py').main(
        [CONFIG, '--keep-images', '2', '--size', '64', '--num-images', '1', '--warmup', '0',
         '--repeats', '2', '--out', str(out)])
    result = json.loads(out.read_text())
    assert result['layers'] == list(range(3, 12)) and len(result['targets']) == 9
    ratios = result['keep_ratios']
    # the config's test scale: the images as they are (no Resize in its test pipeline)
    assert ratios['num_images'] == 2 and ratios['input_shape'] == [48, 80]
    for mode in ('threshold', 'gumbel'):
        assert len(ratios[mode]) == 9 and all(0.0 <= r <= 1.0 for r in ratios[mode])
        assert all(lo <= r <= hi for lo, r, hi in zip(ratios[mode + '_min'], ratios[mode],
                                                      ratios[mode + '_max']))
    cost = result['cost']
    # long side resized to 64 (48x80 -> 38x64), padded to 64x64
    assert cost['input_shape'] == [64, 64]
    dense, pruned = cost['runs']['dense'], cost['runs']['threshold']
    assert set(dense) >= {'gflops', 'gflops_paper', 'backbone_gflops', 'latency_s',
                          'latency_iqr_s', 'backbone_latency_s', 'backbone_latency_iqr_s',
                          'tokens_per_block', 'keep_ratio_per_layer'}
    assert dense['keep_ratio_per_layer'] == [1.0] * 9
    assert len(pruned['keep_ratio_per_layer']) == 9
    assert 0 < dense['backbone_gflops'] < dense['gflops']
    # a pruned block never costs more than the dense one; ratios are against dense
    assert pruned['backbone_gflops'] <= dense['backbone_gflops']
    assert pruned['ratio_vs_dense']['backbone_gflops'] == \
        pruned['backbone_gflops'] / dense['backbone_gflops']
    # One timing path (interleaved): whole and backbone come from two series, so under load
    # their medians need not be ordered.
    assert set(cost['runs']) == {'dense', 'threshold'} and cost['timing'] == 'interleaved'
    assert all(r['latency_s'] > 0 and r['backbone_latency_s'] > 0 for r in cost['runs'].values())
    assert pruned['ratio_vs_dense']['latency'] == pruned['latency_s'] / dense['latency_s']
    assert 'threshold vs dense at [64, 64]' in capsys.readouterr().out
