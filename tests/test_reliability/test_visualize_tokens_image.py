"""visualize_tokens names an image file it cannot decode, before building the model."""
import os.path as osp

import mmcv
import numpy as np
import pytest

from mmeffseg.testing import load_tool, write_tiny_reducer_vit_config


def _load_tool():
    return load_tool('analysis_tools/visualize_tokens.py')


@pytest.mark.parametrize('content', [b'', b'\x89PNG\r\n\x1a\n truncated', b'not an image'])
def test_corrupt_image_is_named_before_the_model_is_built(tmp_path, monkeypatch, content):
    tool = _load_tool()
    monkeypatch.setattr(tool, 'build_model',
                        lambda *a, **k: pytest.fail('model built before the images were read'))
    cfg = write_tiny_reducer_vit_config(str(tmp_path))
    images = tmp_path / 'images'
    images.mkdir()
    mmcv.imwrite(np.zeros((8, 8, 3), np.uint8), str(images / 'a_good.png'))
    (images / 'b_bad.png').write_bytes(content)
    with pytest.raises(ValueError, match=r'b_bad\.png: cannot be read as an image'):
        tool.main([cfg, '--images', str(images), '--out-dir', str(tmp_path / 'out')])
    assert not osp.exists(tmp_path / 'out')  # nothing written
