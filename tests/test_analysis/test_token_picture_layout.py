"""visualize_tokens' picture: panels on rows of at most four, one colour per merged token."""
import importlib.util
import os.path as osp

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'visualize_tokens', osp.join(REPO, 'tools', 'analysis_tools', 'visualize_tokens.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ten_panels_on_three_rows_of_four():
    tool = _tool()
    panels = [np.full((8, 12, 3), i, np.uint8) for i in range(10)]
    picture = tool.tile(panels)
    assert picture.shape == (3 * 8, 4 * 12, 3)
    assert picture[16, 12, 0] == 9 and picture[16, 24:].max() == 0  # padded with black
    assert tool.tile(panels[:3]).shape == (8, 36, 3)


def test_merged_tokens_get_their_own_colours_and_legend_is_drawn():
    tool = _tool()
    tokens = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 3, 4, 5]])  # two merged, four single
    out = tool.outline(np.full((30, 40, 3), 128, np.uint8), tokens)
    first, second, single = out[2, 2], out[2, 32], out[27, 2]
    assert not np.array_equal(first, second)  # distinct tints for distinct merged tokens
    assert np.array_equal(single, [128, 128, 128])  # a one-patch token is not tinted
    legend = tool.add_legend(np.full((120, 300, 3), 200, np.uint8), ['a line', 'another'])
    assert legend.shape == (120 + 2 * 18 + 6, 300, 3)  # a strip below, the picture intact
    assert (legend[:120] == 200).all() and (legend[120:] > 200).any()  # white text on dark
    assert tool.add_legend(legend, []).shape == legend.shape


def test_pruned_stage_is_darkened_without_borders():
    tool = _tool()
    tokens = np.arange(12).reshape(3, 4)  # every token one patch: nothing merged
    keep = np.array([[1, 1, 0, 0]] * 3)
    out = tool.outline(np.full((30, 40, 3), 100, np.uint8), tokens, keep)
    assert (out[:, :20] == 100).all()  # kept, no red borders between single patches
    assert (out[:, 20:] == 30).all()  # pruned: darkened


def test_stacked_pictures_are_padded_to_the_widest():
    tool = _tool()
    picture = tool.stack([np.full((4, 6, 3), 1, np.uint8), np.full((2, 9, 3), 2, np.uint8)])
    assert picture.shape == (6, 9, 3) and picture[:4, 6:].max() == 0 and picture[5, 8, 0] == 2
