"""The main job's semantic Mask2Former pair on the embedded data (tools/run_main.sh).

mmseg's Mask2Former R18-lite and PRO-SCALE (3, 3, 3) + TRC + LPE at 256x256: the configs read
the same dataset definition as the main job's Segmenter, build, and take a training batch of
the embedded images through the loss and a test image through predict.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmeffseg.apis import build_model, load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
M2F = osp.join(REPO, 'configs', 'mask2former',
               'mask2former_r18-lite_1xb2-300i_embedded-semantic-256x256.py')
PROSCALE = osp.join(REPO, 'configs', 'proscale',
                    'proscale-333-trc-lpe_r18-lite_1xb2-300i_embedded-semantic-256x256.py')
SEGMENTER = osp.join(REPO, 'configs', 'segmenter',
                     'segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py')
NUM_CLASSES = 133


def _dataset(cfg: Config, phase: str) -> dict:
    dataset = copy.deepcopy(cfg[f'{phase}_dataloader']['dataset'])
    dataset['data_root'] = osp.normpath(dataset['data_root'])
    dataset.pop('_scope_', None)  # both configs' default scope is mmseg
    return dataset


@pytest.mark.parametrize('path', [M2F, PROSCALE])
def test_both_hosts_of_the_main_job_read_one_dataset_definition(path):
    segmenter, cfg = Config.fromfile(SEGMENTER), Config.fromfile(path)
    for phase in ('train', 'val', 'test'):
        assert _dataset(cfg, phase) == _dataset(segmenter, phase), phase
    assert _dataset(cfg, 'val')['data_root'] == osp.join(REPO, 'data', 'embedded_coco')
    # Nothing of the CamVid recipe the model comes from points at CamVid's data.
    assert 'camvid' not in cfg.pretty_text.lower()
    head = cfg.model.decode_head
    assert head.num_classes == NUM_CLASSES and len(head.loss_cls.class_weight) == NUM_CLASSES + 1


def _train_batch(cfg: Config, model, batch_size: int = 2) -> dict:
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(batch_size=batch_size, num_workers=0, persistent_workers=False,
                      sampler=dict(type='DefaultSampler', shuffle=False))
    init_default_scope('mmseg')
    data = next(iter(Runner.build_dataloader(loader_cfg)))
    return model.data_preprocessor(data, True)


@pytest.mark.parametrize('path', [M2F, PROSCALE])
def test_semantic_mask2former_trains_and_predicts_on_the_embedded_data(path):
    cfg = load_config(path)
    torch.manual_seed(0)
    model = build_model(cfg)
    pixel_decoder = model.decode_head.pixel_decoder
    if path == PROSCALE:
        assert type(pixel_decoder).__name__ == 'EfficientMSDeformAttnPixelDecoder'
        assert pixel_decoder.encoder.level_schedule == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    else:
        assert type(pixel_decoder).__name__ == 'MSDeformAttnPixelDecoder'
    batch = _train_batch(cfg, model)
    assert tuple(batch['inputs'].shape) == (2, 3, 256, 256)
    labels = torch.cat([s.gt_sem_seg.data.flatten() for s in batch['data_samples']])
    known = labels[labels != 255]
    assert known.numel() > 0 and int(known.max()) < NUM_CLASSES
    model.train()
    losses = model.loss(batch['inputs'], batch['data_samples'])
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total) and total > 0
    model.eval()
    from mmeffseg.analysis.model_inputs import dataset_batches
    test = next(dataset_batches(cfg, model, 1))
    with torch.no_grad():
        sample = model.predict(test['inputs'], test['data_samples'])[0]
    assert sample.pred_sem_seg.data.shape[-2:] == sample.gt_sem_seg.data.shape[-2:]
    assert int(sample.pred_sem_seg.data.max()) < NUM_CLASSES
