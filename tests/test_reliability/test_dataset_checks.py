"""Dataset cases: every image filtered out, and --num-images beyond the test set."""
import argparse
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmeffseg.analysis import describe_inputs
from mmeffseg.datasets import explain_empty_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(REPO, 'data', 'embedded_coco')


def _coco_cfg(classes) -> Config:
    dataset = dict(type='CocoDataset', data_root=DATA + '/', ann_file='annotations/instances.json',
                   data_prefix=dict(img='images/'), metainfo=dict(classes=classes),
                   filter_cfg=dict(filter_empty_gt=True, min_size=32), pipeline=[])
    return Config(dict(train_dataloader=dict(dataset=dataset)))


def test_every_image_filtered_out_names_dataset_and_filter():
    import mmdet.datasets  # noqa: F401  (registers CocoDataset)
    from mmdet.registry import DATASETS
    init_default_scope('mmdet')
    cfg = _coco_cfg(('no_such_class', ))  # no annotation survives: every image is empty
    with pytest.raises(ValueError) as err:
        with explain_empty_dataset(cfg, phases=('train', )):
            DATASETS.build(cfg.train_dataloader.dataset)
    msg = str(err.value)
    assert 'train_dataloader.dataset (CocoDataset' in msg and 'instances.json' in msg
    assert "'filter_empty_gt': True" in msg and 'filter_empty_gt=False' in msg


def test_a_matching_dataset_is_built():
    import mmdet.datasets  # noqa: F401
    from mmdet.registry import DATASETS
    init_default_scope('mmdet')
    cfg = _coco_cfg(('person', 'car'))
    with explain_empty_dataset(cfg):
        assert len(DATASETS.build(cfg.train_dataloader.dataset)) > 0


def test_other_value_errors_pass_through():
    with pytest.raises(ValueError, match='^unrelated$'):
        with explain_empty_dataset(Config(dict())):
            raise ValueError('unrelated')


def _batches(n):
    return [dict(inputs=torch.zeros(1, 3, 32, 48), data_samples=[object()]) for _ in range(n)]


def test_num_images_beyond_the_test_set_labels_the_count_used():
    args = argparse.Namespace(num_images=40, shape=None, batch_size=1)
    label = describe_inputs(args, _batches(16))
    assert label.startswith('16 dataset image(s) (of 40 asked') and '40 dataset' not in label


def test_num_images_within_the_test_set():
    args = argparse.Namespace(num_images=2, shape=None, batch_size=1)
    assert describe_inputs(args, _batches(2)).startswith('2 dataset image(s), network input 32x48')
