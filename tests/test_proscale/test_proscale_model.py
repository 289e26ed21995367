"""Whole Mask2Former with PRO-SCALE: configs parse, (0, 0, 6) identity, a training step."""
import glob
import os.path as osp

import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmeffseg.testing.tiny_pixel_decoder import randomize_, shrink_mask2former

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO, 'configs', 'proscale')
BASELINE = osp.join(REPO, 'configs', 'mask2former', 'mask2former_r50_8xb2-lsj-50e_coco-panoptic.py')
PROSCALE = osp.join(CFG_DIR, 'proscale-333-trc-lpe_r50_8xb2-lsj-50e_coco-panoptic.py')
CONFIGS = sorted(glob.glob(osp.join(CFG_DIR, 'proscale-*.py')))


def _tiny_model(path: str, **pixel_decoder):
    cfg = Config.fromfile(path)
    shrink_mask2former(cfg)
    if pixel_decoder:
        cfg.merge_from_dict(dict(model=dict(panoptic_head=dict(pixel_decoder=pixel_decoder))))
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def test_config_names_and_stages():
    assert len(CONFIGS) >= 18
    for path in CONFIGS:
        name = osp.basename(path)
        p = name.split('-')[1]
        cfg = Config.fromfile(path)
        if cfg.get('default_scope') == 'mmseg':  # mmseg's Mask2Former: decode_head
            dec = cfg.model.decode_head.pixel_decoder
            assert dec.type == 'mmdet.EfficientMSDeformAttnPixelDecoder', name
        else:
            dec = cfg.model.panoptic_head.pixel_decoder
            assert dec.type == 'EfficientMSDeformAttnPixelDecoder', name
        if p.startswith('off_'):  # the fair latency baseline: every PRO-SCALE key at its default
            assert 'stage_layers' not in dec and dec.output_op == 'conv', name
            assert 'trc_cfg' not in dec, name
            continue
        assert tuple(dec.stage_layers) == tuple(int(c) for c in p), name
        assert dec.output_op == 'maxpool' and dec.trc_cfg.temperature == 0.1, name
        assert dec.encoder.layer_cfg.self_attn_cfg.num_levels == 3, name
        assert 'mmeffseg' in cfg.custom_imports.imports, name
        if 'swin' in name:
            assert cfg.model.backbone.type == 'SwinTransformer', name
        if name.endswith('_coco.py'):
            assert cfg.model.panoptic_head.num_stuff_classes == 0, name


def _inputs(batch_size=2, hw=(64, 96)):
    data = demo_mm_inputs(batch_size, image_shapes=(3, *hw), num_items=[3] * batch_size,
                          num_classes=5, with_mask=True, with_semantic=True)
    return data


def test_whole_model_identity_006():
    """(0, 0, 6), TRC off, conv op: a baseline Mask2Former checkpoint gives the same outputs."""
    torch.manual_seed(0)
    base = _tiny_model(BASELINE).eval()
    randomize_(base.panoptic_head.pixel_decoder, seed=1, std=0.1)
    ours = _tiny_model(PROSCALE, stage_layers=(0, 0, 6), trc_cfg=None, output_op='conv').eval()
    assert type(ours.panoptic_head.pixel_decoder).__name__ == 'EfficientMSDeformAttnPixelDecoder'
    ours.load_state_dict(base.state_dict(), strict=True)
    data = base.data_preprocessor(_inputs(), False)
    with torch.no_grad():
        cls_a, mask_a = base._forward(data['inputs'], data['data_samples'])
        cls_b, mask_b = ours._forward(data['inputs'], data['data_samples'])
    diff = max((a - b).abs().max().item() for a, b in zip(cls_a + mask_a, cls_b + mask_b))
    assert diff <= 1e-5


def test_proscale_training_step_and_predict():
    torch.manual_seed(0)
    model = _tiny_model(PROSCALE)
    dec = model.panoptic_head.pixel_decoder
    assert dec.encoder.level_schedule == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert dec.encoder.trc is not None and dec.output_op == 'maxpool'
    model.train()
    data = model.data_preprocessor(_inputs(), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert dec.encoder.layers[0].self_attn.sampling_offsets.weight.grad is not None
    assert dec.encoder.trc.proj.weight.grad is not None
    model.eval()
    data = model.data_preprocessor(_inputs(batch_size=1), False)
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    assert isinstance(results[0], DetDataSample)
    assert results[0].pred_panoptic_seg.sem_seg.shape[-2:] == (64, 96)
