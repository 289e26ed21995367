"""--resume: nothing to resume, a dangling last_checkpoint, and an interrupted run resumed.

The interrupted run is a real mmengine Runner (a toy model, iteration-based) stopped by an
exception after its first checkpoint; the resume goes through train.py's resolution and gate.
"""
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmeffseg.utils import start_checkpoint as sc


def _cfg(work_dir, **kw) -> Config:
    return Config(dict(work_dir=str(work_dir), **kw))


def test_missing_work_dir_is_named(tmp_path):
    work = tmp_path / 'work_dirs' / 'typo'
    with pytest.raises(FileNotFoundError, match='does not exist') as err:
        sc.resolve_start_checkpoint(_cfg(work, resume=True))
    assert str(work) in str(err.value)


def test_empty_work_dir_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'no last_checkpoint.*it is empty'):
        sc.resolve_start_checkpoint(_cfg(tmp_path, resume=True))


def test_work_dir_without_last_checkpoint_lists_it_and_the_latest(tmp_path):
    for name in ('20260101_000000', 'iter_2.pth', 'iter_10.pth'):
        (tmp_path / name).mkdir() if '.' not in name else (tmp_path / name).write_bytes(b'')
    with pytest.raises(FileNotFoundError) as err:
        sc.resolve_start_checkpoint(_cfg(tmp_path, resume=True))
    msg = str(err.value)
    assert '20260101_000000' in msg and f'--resume {tmp_path}/iter_10.pth' in msg


def test_dangling_last_checkpoint_lists_checkpoints_and_how_to_resume(tmp_path):
    for it in (1, 2):
        (tmp_path / f'iter_{it}.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_3.pth'))
    with pytest.raises(FileNotFoundError) as err:
        sc.find_resume_checkpoint(str(tmp_path))
    msg = str(err.value)
    assert 'iter_3.pth' in msg and 'iter_1.pth, iter_2.pth' in msg
    assert f'--resume {tmp_path}/iter_2.pth' in msg


def test_dangling_last_checkpoint_without_any_checkpoint(tmp_path):
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_3.pth'))
    with pytest.raises(FileNotFoundError, match=r'no checkpoint in it.*last_checkpoint'):
        sc.find_resume_checkpoint(str(tmp_path))


def test_explicit_resume_path_missing_lists_the_work_dir(tmp_path):
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    cfg = _cfg(tmp_path, resume=True, load_from=str(tmp_path / 'iter_5.pth'))
    with pytest.raises(FileNotFoundError, match=r'iter_5\.pth: no such checkpoint.*iter_4\.pth'):
        sc.resolve_start_checkpoint(cfg)


class _ToyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


class _Toy(torch.utils.data.Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((2, ), float(i)))


class _Count(Hook):

    def __init__(self):
        self.iters = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iters.append(runner.iter + 1)


class _Interrupt(Hook):

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == 3:
            raise KeyboardInterrupt('power cut')


def _runner(work_dir, **kw) -> Runner:
    loader = dict(dataset=_Toy(), sampler=dict(type='InfiniteSampler', shuffle=False),
                  batch_size=2, collate_fn=dict(type='default_collate'))
    return Runner(model=_ToyModel(), work_dir=str(work_dir), train_dataloader=loader,
                  train_cfg=dict(by_epoch=False, max_iters=4),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                  default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2,
                                                     by_epoch=False)),
                  default_scope='mmengine', **kw)


def test_interrupted_run_resumes_from_its_last_checkpoint(tmp_path):
    work = tmp_path / 'run'
    first = _runner(work, custom_hooks=[_Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        first.train()
    assert osp.isfile(work / 'iter_2.pth') and not osp.exists(work / 'iter_4.pth')
    saved = torch.load(work / 'iter_2.pth', map_location='cpu', weights_only=False)

    cfg = Config(dict(work_dir=str(work), resume=True))
    sc.resolve_start_checkpoint(cfg)  # what train.py does before building the runner
    assert cfg.load_from == str(work / 'iter_2.pth')
    count = _Count()
    second = _runner(work, resume=True, load_from=cfg.load_from, custom_hooks=[count])
    sc.gate_start_checkpoint(second, cfg)
    second.train()
    # The run went on from iteration 2 (nothing lost, nothing redone) and finished.
    assert count.iters == [3, 4] and osp.isfile(work / 'iter_4.pth')
    assert osp.isfile(work / 'iter_2.pth')
    assert torch.load(work / 'iter_4.pth', map_location='cpu',
                      weights_only=False)['meta']['iter'] == 4
    assert saved['meta']['iter'] == 2
    with open(work / 'last_checkpoint') as f:
        assert f.read().strip().endswith('iter_4.pth')


def test_resume_after_interrupt_with_deleted_checkpoint_is_refused(tmp_path):
    work = tmp_path / 'run'
    first = _runner(work, custom_hooks=[_Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        first.train()
    os.remove(work / 'iter_2.pth')  # last_checkpoint now dangles
    with pytest.raises(FileNotFoundError, match='iter_2.pth, which does not exist'):
        sc.resolve_start_checkpoint(Config(dict(work_dir=str(work), resume=True)))
