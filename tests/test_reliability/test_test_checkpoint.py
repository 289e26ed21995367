"""tools/test.py: the checkpoint under test must fit the config exactly, before any image."""
import importlib.util
import os.path as osp
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG = 'segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py'


@pytest.fixture
def test_tool(monkeypatch):
    spec = importlib.util.spec_from_file_location('_test_tool', osp.join(REPO, 'tools/test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tested = []
    build = tool.build_runner

    def recording_build(cfg):
        runner = build(cfg)
        runner.test = lambda: tested.append(True)
        return runner
    monkeypatch.setattr(tool, 'build_runner', recording_build)
    tool.tested = tested
    return tool


def _main(tool, tmp_path, monkeypatch, ckpt):
    monkeypatch.setattr(sys, 'argv', ['test.py', SEG, ckpt, '--work-dir', str(tmp_path / 'w')])
    tool.main()


def test_checkpoint_of_another_model_is_refused(test_tool, tmp_path, monkeypatch):
    ckpt = str(tmp_path / 'other.pth')
    torch.save({'state_dict': torch.nn.Linear(2, 2).state_dict()}, ckpt)
    with pytest.raises(ValueError, match='does not fit the model') as err:
        _main(test_tool, tmp_path, monkeypatch, ckpt)
    assert ckpt in str(err.value) and test_tool.tested == []


def test_missing_checkpoint_is_named(test_tool, tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(test_tool, 'build_runner', lambda cfg: built.append(cfg))
    with pytest.raises(FileNotFoundError, match=r'Checkpoint not found: .*nope\.pth'):
        _main(test_tool, tmp_path, monkeypatch, str(tmp_path / 'nope.pth'))
    assert built == []  # found before the model was built
