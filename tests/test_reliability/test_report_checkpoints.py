"""efficiency_report --checkpoints: a damaged or misfit checkpoint is refused before testing."""
import os.path as osp

import pytest
import torch

from mmeffseg.analysis.efficiency_report import ReportOptions, run_efficiency_report

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
M2F = osp.join(REPO, 'configs/mask2former/mask2former_r18-lite_1xb2-300i_embedded-panoptic.py')


def _report(ckpt):
    logs = []
    with pytest.raises(ValueError) as err:
        run_efficiency_report(M2F, [], ReportOptions(checkpoints=[ckpt], num_images=1,
                                                     eval_images=1, warmup=0, repeats=1),
                              log=logs.append)
    assert not any('testing on' in line for line in logs)  # nothing was evaluated
    return str(err.value)


def test_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / 'm2f.pth'
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, str(path))
    path.write_bytes(path.read_bytes()[:300])
    msg = _report(str(path))
    assert str(path) in msg and 'corrupt, truncated' in msg


def test_checkpoint_of_another_model_is_named(tmp_path):
    path = str(tmp_path / 'other.pth')
    torch.save({'state_dict': torch.nn.Linear(2, 2).state_dict()}, path)
    msg = _report(path)
    assert path in msg and 'does not fit the model' in msg and 'missing' in msg


def test_bad_later_checkpoint_is_found_before_the_first_config_is_trained(tmp_path):
    logs = []
    missing = str(tmp_path / 'method.pth')
    with pytest.raises(FileNotFoundError, match='method.pth'):
        run_efficiency_report(M2F, [M2F], ReportOptions(checkpoints=['none', missing],
                                                        train_iters=1, num_images=1),
                              log=logs.append)
    assert logs == []  # nothing trained or measured
