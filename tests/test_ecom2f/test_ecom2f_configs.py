"""Every ECO-M2F config loads as the intended step; the CPU-sized ones build."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import mmeffseg  # noqa: F401  (registers the modules)

CFG_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
                   'ecom2f')
CONFIGS = sorted(glob.glob(osp.join(CFG_DIR, 'ecom2f-*.py')))


def test_every_backbone_and_dataset_has_a_parent_and_a_gate():
    names = [osp.basename(p) for p in CONFIGS]
    parents = {n.split('_', 1)[1].split('_')[0] + '/' + n.rsplit('_', 1)[1]
               for n in names if n.startswith('ecom2f-parent_')}
    gates = {n.split('_', 1)[1].split('_')[0] + '/' + n.rsplit('_', 1)[1]
             for n in names if n.startswith('ecom2f-gate_')}
    assert parents == gates and len(parents) >= 4  # r50, swin-t, r18-lite x coco128/embedded


def _pixel_decoder(model):
    """The pixel decoder config of an mmdet (panoptic_head) or mmseg (decode_head) model."""
    if model.type == 'EcoM2FSegmentor':
        assert model.decode_head.pixel_decoder.type == 'mmdet.EfficientMSDeformAttnPixelDecoder'
        return model.decode_head.pixel_decoder
    assert model.type == 'EcoM2F'
    assert model.panoptic_head.pixel_decoder.type == 'EfficientMSDeformAttnPixelDecoder'
    return model.panoptic_head.pixel_decoder


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_is_the_named_step(path):
    cfg = Config.fromfile(path)
    model = cfg.model
    assert tuple(_pixel_decoder(model).gate.exits) == tuple(model.exits)
    # Every evaluation reports the exits as metrics, after the dataset's quality metric(s), in
    # one flat list (test_ecom2f_evaluators.py checks the flatness for every config).
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert len(evaluator) >= 2 and evaluator[-1] == {'type': 'ExitStatisticsMetric'}
    if osp.basename(path).startswith('ecom2f-parent_'):
        assert model.train_mode == 'parent' and model.test_cfg.exit_layers == max(model.exits)
        assert cfg.find_unused_parameters  # layers past the sampled exit get no gradient
    else:
        assert model.train_mode == 'gate' and model.test_cfg.exit_layers is None
        # The gate starts from its parent's checkpoint and reads its parent's Step-B table.
        parent = osp.basename(osp.dirname(cfg.load_from))
        assert osp.isfile(osp.join(CFG_DIR, parent + '.py')), parent
        assert parent in model.quality_table
        # A missing parent checkpoint is named with the command that trains it (Step A).
        assert cfg.load_from_made_by.split()[2] == osp.relpath(
            osp.join(CFG_DIR, parent + '.py'), osp.dirname(osp.dirname(CFG_DIR)))


@pytest.mark.parametrize('path', [p for p in CONFIGS if 'r18-lite' in p], ids=osp.basename)
def test_cpu_sized_configs_build(path):
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(path)
    scope = cfg.get('default_scope', 'mmdet')
    init_default_scope(scope)
    if scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmdet.registry import MODELS
    model = MODELS.build(cfg.model)
    assert model.exits == (2, 3, 4, 5, 6)
    assert len(model.pixel_decoder.encoder.layers) == 6
