"""The token picture tool runs end to end on a tiny model and a synthetic image."""

import mmcv
import numpy as np
import pytest

from mmeffseg.testing import load_tool


CONFIG = """
custom_imports = dict(imports=['mmeffseg'], allow_failed_imports=False)
default_scope = 'mmseg'
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
                           bgr_to_rgb=True, size=(64, 96)),
    backbone=dict(type='ReducerViT', img_size=(64, 96), patch_size=16, embed_dims=32,
                  num_layers=3, num_heads=2, mlp_ratio=2, final_norm=True, output_merged=True,
                  reducers=[dict(type='LocalWindowMerge', layer=0, tau=-1.0),
                            dict(type='GlobalBipartiteMerge', layer=1)]),
    decode_head=dict(type='MergedSegmenterMaskTransformerHead', in_channels=32, channels=32,
                     num_classes=3, num_layers=1, num_heads=2, embed_dims=32,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    test_cfg=dict(mode='whole'))
"""


def _load_tool():
    return load_tool('analysis_tools/visualize_tokens.py')


def test_tool_writes_picture(tmp_path, monkeypatch, capsys):
    tool = _load_tool()
    cfg = tmp_path / 'tiny.py'
    cfg.write_text(CONFIG)
    img = (np.random.RandomState(0).rand(50, 80, 3) * 255).astype(np.uint8)
    mmcv.imwrite(img, str(tmp_path / 'a.png'))
    monkeypatch.setattr('sys.argv', ['visualize_tokens.py', str(cfg), '--images',
                                     str(tmp_path), '--out-dir', str(tmp_path / 'out')])
    tool.main()
    picture = mmcv.imread(str(tmp_path / 'out' / 'a_tokens.png'))
    assert picture.shape == (64, 96 * 3, 3)  # input + one panel per stage
    printed = capsys.readouterr().out
    assert 'layer  0:' in printed and 'tokens per layer' in printed


def test_tool_bad_input(tmp_path):
    tool = _load_tool()
    with pytest.raises(FileNotFoundError, match='missing_dir'):
        tool.collect_images([str(tmp_path / 'missing_dir')])
    grid = np.array([[0, 0], [1, 2]])
    out = tool.outline(np.zeros((32, 32, 3), np.uint8), grid)
    assert out.shape == (32, 32, 3) and (out[..., 2] == 255).any()  # borders drawn in red
