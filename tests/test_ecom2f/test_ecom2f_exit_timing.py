"""The fixed-exit encoder timing tool runs and reports every exit (no timing asserts)."""
import json

import pytest

from mmeffseg.testing import load_tool
from mmeffseg.testing.tiny_eco_m2f import tiny_mask2former_cfg


def _load_tool(repo_root):
    return load_tool('ecom2f/exit_timing.py')


def test_exit_timing_tool(tmp_path, repo_root, capsys):
    from mmengine.config import Config
    cfg_path = str(tmp_path / 'tiny.py')
    Config(dict(default_scope='mmdet', model=tiny_mask2former_cfg())).dump(cfg_path)
    tool = _load_tool(repo_root)
    out = str(tmp_path / 't.json')
    tool.main([cfg_path, '--shape', '64', '64', '--exits', '2', '4', '--rounds', '1',
               '--repeats', '1', '--warmup', '0', '--out', out])
    text = capsys.readouterr().out
    assert 'encoder of 6 layers' in text
    rows = json.load(open(out))['rows']
    assert [r['exit'] for r in rows] == [2, 4, 6]
    assert rows[-1]['ratio'] == 1.0 and rows[0]['ideal'] == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match='outside'):
        tool.main([cfg_path, '--shape', '64', '64', '--exits', '9'])
