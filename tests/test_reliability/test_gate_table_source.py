"""Step C refuses a quality table built on another dataset or from another parent (issue 14)."""
import os
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from mmeffseg.engine import ExitGateLabelHook
from mmeffseg.models.gates import dataset_source, write_quality_table
from mmeffseg.testing.tiny_eco_m2f import EXITS, build_tiny

DATASET = dict(type='CocoPanopticDataset', data_root='data/coco/',
               ann_file='annotations/panoptic_train2017.json',
               data_prefix=dict(img='train2017/', seg='annotations/panoptic_train2017/'))


class _Dataset:
    def __len__(self):
        return 2

    def get_data_info(self, i):
        return dict(img_id=i)


class _Logger:
    def __init__(self):
        self.infos, self.warnings = [], []
        self.info, self.warning = self.infos.append, self.warnings.append


def _runner(model, dataset_cfg, load_from):
    logger = _Logger()
    cfg = Config(dict(train_dataloader=dict(dataset=dataset_cfg), load_from=load_from))
    return SimpleNamespace(model=model, cfg=cfg, logger=logger,
                           train_dataloader=SimpleNamespace(dataset=_Dataset()))


def _table(tmp_path, parent, dataset_cfg=DATASET):
    path = str(tmp_path / 'q.json')
    stat = os.stat(parent)
    meta = dict(dataset=dataset_source(dataset_cfg),
                checkpoint_file=dict(path=os.path.realpath(parent), size=stat.st_size,
                                     mtime=stat.st_mtime))
    write_quality_table(path, {0: [0.5] * 5, 1: [0.2] * 5}, EXITS, metadata=meta)
    return path


@pytest.fixture
def parent(tmp_path):
    path = tmp_path / 'parent.pth'
    path.write_bytes(b'weights')
    return str(path)


def test_matching_table_accepted(tmp_path, parent):
    model = build_tiny(train_mode='gate', quality_table=_table(tmp_path, parent))
    runner = _runner(model, dict(type='RepeatDataset', times=2, dataset=DATASET), parent)
    ExitGateLabelHook().before_train(runner)
    assert 'gate labels' in runner.logger.infos[0] and not runner.logger.warnings


def test_table_of_other_dataset_refused(tmp_path, parent):
    model = build_tiny(train_mode='gate', quality_table=_table(tmp_path, parent))
    val = dict(DATASET, ann_file='annotations/panoptic_val2017.json')
    with pytest.raises(ValueError, match=r'(?s)q\.json.*panoptic_train2017\.json.*'
                                         r'panoptic_val2017\.json.*quality_table_check=False'):
        ExitGateLabelHook().before_train(_runner(model, val, parent))
    other_root = dict(DATASET, data_root='data/coco_small/')
    with pytest.raises(ValueError, match='coco_small'):
        ExitGateLabelHook().before_train(_runner(model, other_root, parent))


def test_table_of_other_parent_refused(tmp_path, parent):
    model = build_tiny(train_mode='gate', quality_table=_table(tmp_path, parent))
    other = tmp_path / 'other.pth'
    other.write_bytes(b'weights')
    with pytest.raises(ValueError, match=r'(?s)parent\.pth.*load_from=.*other\.pth'):
        ExitGateLabelHook().before_train(_runner(model, DATASET, str(other)))
    # The same file, trained again after the table was built.
    os.utime(parent, (1, 1))
    with pytest.raises(ValueError, match='since rewritten'):
        ExitGateLabelHook().before_train(_runner(model, DATASET, parent))


def test_override_key_skips_the_check(tmp_path, parent):
    model = build_tiny(train_mode='gate', quality_table=_table(tmp_path, parent),
                       quality_table_check=False)
    moved = dict(DATASET, data_root='/mnt/elsewhere/coco/')
    runner = _runner(model, moved, str(tmp_path / 'copied.pth'))
    ExitGateLabelHook().before_train(runner)
    assert 'gate labels' in runner.logger.infos[0]
    with pytest.raises(ValueError, match='quality_table_check'):
        build_tiny(train_mode='gate', quality_table='q.json', quality_table_check='no')


def test_table_without_provenance_is_named(tmp_path, parent):
    path = str(tmp_path / 'bare.json')
    write_quality_table(path, {0: [0.5] * 5, 1: [0.2] * 5}, EXITS)
    runner = _runner(build_tiny(train_mode='gate', quality_table=path), DATASET, parent)
    ExitGateLabelHook().before_train(runner)
    assert 'bare.json records no dataset / checkpoint' in runner.logger.warnings[0]
