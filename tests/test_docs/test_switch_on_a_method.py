"""Every config snippet of docs/switch_on_a_method.md loads and builds the model it promises.

A snippet without ``_base_`` continues the previous one of its section (same base, same
imports); the token-pruning snippet's placeholder path is this repository.
"""
import os.path as osp
import re

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAGE = osp.join(REPO, 'docs', 'switch_on_a_method.md')


def _snippets():
    with open(PAGE) as f:
        blocks = re.findall(r'```python\n(.*?)```', f.read(), flags=re.S)
    out, head = [], ''
    for block in blocks:
        if block.strip().startswith('custom_imports') and '_base_' not in block:
            continue  # the page's one-line import reminder
        if '_base_' in block:
            # The section's head: everything before its first model change.
            head = block.split('\nmodel = ')[0]
            text = block
        else:
            text = head + '\n' + block
        out.append(text.replace('/path/to/mmeffseg', REPO))
    return out


SNIPPETS = _snippets()
EXPECTED = [  # (model type, checked attribute path, its class name) per snippet, in page order
    ('Mask2Former', 'panoptic_head.pixel_decoder.encoder', 'ScheduledDeformableEncoder'),
    ('EcoM2F', 'panoptic_head.pixel_decoder.encoder.gate', 'TokenMeanExitGate'),
    ('EncoderDecoder', 'decode_head.pixel_decoder.encoder.trc', 'TokenRecalibration'),
    ('EcoM2FSegmentor', 'decode_head.pixel_decoder.encoder.gate', 'TokenMeanExitGate'),
    ('EncoderDecoder', 'backbone', 'ReducerViT'),
    ('EncoderDecoder', 'backbone', 'ReducerViT'),
]


def test_page_has_the_promised_snippets():
    assert len(SNIPPETS) == len(EXPECTED)


@pytest.mark.parametrize('index', range(len(EXPECTED)))
def test_snippet_builds(index, tmp_path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    path = tmp_path / 'user_config.py'
    path.write_text(SNIPPETS[index])
    cfg = Config.fromfile(str(path))
    assert 'mmeffseg' in cfg.custom_imports.imports
    scope = cfg.get('default_scope', 'mmdet')
    init_default_scope(scope)
    if scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmdet.registry import MODELS
    model = MODELS.build(cfg.model)
    model_type, attr, cls = EXPECTED[index]
    assert type(model).__name__ == model_type
    obj = model
    for name in attr.split('.'):
        obj = getattr(obj, name)
    assert type(obj).__name__ == cls
