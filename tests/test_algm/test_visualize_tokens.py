"""The token picture tool runs end to end on a tiny model and synthetic images, reading them
through the config's test pipeline."""

import mmcv
import numpy as np
import pytest

from mmeffseg.testing import load_tool, write_tiny_reducer_vit_config


LEGEND_2 = 2 * 18 + 6  # height of a two-line legend strip


def _load_tool():
    return load_tool('analysis_tools/visualize_tokens.py')


def _image(path, h=50, w=80, seed=0):
    mmcv.imwrite((np.random.RandomState(seed).rand(h, w, 3) * 255).astype(np.uint8), str(path))


def test_tool_writes_picture_of_the_test_pipeline_image(tmp_path, capsys):
    tool = _load_tool()
    cfg = write_tiny_reducer_vit_config(str(tmp_path))
    _image(tmp_path / 'a.png')
    tool.main([cfg, '--images', str(tmp_path / 'a.png'), '--out-dir', str(tmp_path / 'out')])
    picture = mmcv.imread(str(tmp_path / 'out' / 'a_tokens.png'))
    # The pipeline resizes 50x80 to 60x96; the ViT pads it to the 4x6 patch grid (64x96);
    # input + one panel per stage, then the legend strip (border, merged token: 2 lines).
    assert picture.shape == (64 + LEGEND_2, 96 * 3, 3)
    printed = capsys.readouterr().out
    assert 'layer  0:' in printed and 'tokens per layer' in printed


def test_size_crops_after_the_pipeline(tmp_path):
    tool = _load_tool()
    cfg = write_tiny_reducer_vit_config(str(tmp_path))
    _image(tmp_path / 'a.png')
    _image(tmp_path / 'b.png', 70, 40, seed=1)
    tool.main([cfg, '--images', str(tmp_path), '--size', '64', '80',
               '--out-dir', str(tmp_path / 'out')])
    for name in ('a', 'b'):
        picture = mmcv.imread(str(tmp_path / 'out' / f'{name}_tokens.png'))
        assert picture.shape == (64 + LEGEND_2, 80 * 3, 3)


def test_tool_bad_input(tmp_path):
    tool = _load_tool()
    with pytest.raises(FileNotFoundError, match='missing_dir'):
        tool.collect_images([str(tmp_path / 'missing_dir')])
    grid = np.array([[0, 0], [1, 2]])
    out = tool.outline(np.zeros((32, 32, 3), np.uint8), grid)
    assert out.shape == (32, 32, 3) and (out[..., 2] == 255).any()  # borders drawn in red
    view = tool.patch_grid_view(np.full((20, 30, 3), 9, np.uint8), (2, 3), 16)
    assert view.shape == (32, 48, 3) and view[19, 29, 0] == 9 and view[20:].max() == 0


def test_combined_picture_of_chosen_stages_at_a_smaller_scale(tmp_path, capsys):
    tool = _load_tool()
    cfg = write_tiny_reducer_vit_config(str(tmp_path))
    _image(tmp_path / 'a.png')
    _image(tmp_path / 'b.png', seed=1)
    out = tmp_path / 'out'
    tool.main([cfg, '--images', str(tmp_path), '--layers', '1', '--panel-scale', '0.5',
               '--combine', 'both.png', '--out-dir', str(out)])
    picture = mmcv.imread(str(out / 'both.png'))
    # two images of (input + the layer-1 stage) at half size, then the legend strip (2 lines)
    assert picture.shape == (2 * 32 + LEGEND_2, 2 * 48, 3)
    assert sorted(p.name for p in out.iterdir()) == ['both.png']
    assert 'written:' in capsys.readouterr().out
    with pytest.raises(ValueError, match=r'--layers \[7\].*blocks \[0, 1\]'):
        tool.main([cfg, '--images', str(tmp_path), '--layers', '7', '--out-dir', str(out)])
