"""tools/device/batch_speedup.py: one loader, one image path, one timing loop; the same images
at batch 1 and batch B, weights shared strictly."""
import json

import pytest

from mmeffseg.testing.tools import load_tool

SEG = 'configs/segmenter/segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py'
ALGM = 'configs/algm/algm_segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py'
IMAGES = 'data/embedded_coco/images'


def test_batch_speedup_per_image_tokens_survive_batching(tmp_path, capsys):
    tool = load_tool('device/batch_speedup.py')
    out = tmp_path / 'speedup.json'
    result = tool.main([SEG, '--method', 'algm', ALGM,
                        'model.backbone.reducers.0.batch_policy=per_image',
                        'model.backbone.reducers.1.batch_policy=per_image',
                        '--images', IMAGES, '--num-images', '3', '--batch-size', '2',
                        '--crop', '96', '--part', 'backbone', '--out', str(out)])
    printed = capsys.readouterr().out
    assert 'using 2 of 3 images' in printed  # the count used is the count reported
    assert result['images'] == 2 and json.loads(out.read_text())['images'] == 2
    algm, base = result['models']['algm'], result['models']['baseline']
    # Packed per-image batches: each image keeps its own tokens in the batch.
    assert algm['final_tokens_b1'] == algm['final_tokens_b2'] < (96 // 16) ** 2 + 1
    assert algm['block_tokens_b1'] == algm['block_tokens_b2']
    assert 'final_tokens_b1' not in base and base['speedup_b1'] == 1.0
    assert algm['backbone_latency_ratio_b1'] > 0 and algm['speedup_ratio'] > 0


def test_batch_speedup_refuses_a_method_of_another_size():
    tool = load_tool('device/batch_speedup.py')
    with pytest.raises(ValueError, match='cls_token.*shape'):
        tool.main([SEG, '--method', 'algm_s',
                   'configs/algm/algm_segmenter_vit-s_mask_8xb1-160k_ade20k-512x512.py',
                   '--images', IMAGES, '--num-images', '2', '--batch-size', '2'])
