"""PRO-SCALE + ECO-M2F: a gated early exit over PRO-SCALE's progressive encoder.

Uses the project's real configs (the CPU-sized R18 Mask2Former, random weights) on 64x96
inputs: the configs resolve to the intended model, exit 9 is the PRO-SCALE model, an early exit
runs only the coarse levels and costs less, and parent training only touches layers 1..k.
"""
import copy
import os.path as osp

import pytest
import torch

import mmeffseg  # noqa: F401  (registers the modules)

HERE = osp.dirname(osp.dirname(osp.abspath(__file__)))
REPO = osp.dirname(osp.dirname(HERE))
PARENT = osp.join(HERE, 'configs',
                  'proscale-333-ecom2f-parent_r18-lite_1xb2-500i_coco128-panoptic.py')
PROSCALE = osp.join(REPO, 'configs', 'proscale',
                    'proscale-333-trc-lpe_r18-lite_1xb2-500i_coco128-panoptic.py')
EXITS = (3, 6, 7, 8, 9)


def _build(path: str, seed: int = 0, **model_kwargs):
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = Config.fromfile(path)
    cfg.model.update(model_kwargs)
    cfg.model.backbone.init_cfg = None  # no pretrained weights offline
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def _batch(batch_size: int = 2, size=(64, 96), with_gt: bool = False):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData, PixelData
    h, w = size
    inputs = torch.randn(batch_size, 3, h, w, generator=torch.Generator().manual_seed(0))
    samples = []
    for b in range(batch_size):
        ds = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                         batch_input_shape=(h, w), pad_shape=(h, w),
                                         scale_factor=(1.0, 1.0), img_id=b))
        if with_gt:
            masks = torch.zeros(1, h, w, dtype=torch.bool)
            masks[0, :h // 2, :w // 2] = True
            ds.gt_instances = InstanceData(labels=torch.tensor([0]),
                                           bboxes=torch.tensor([[0, 0, w / 2, h / 2]]),
                                           masks=BitmapMasks(masks.numpy(), h, w))
            sem = torch.full((1, h, w), 255, dtype=torch.long)
            sem[:, h // 2:] = 80  # the first stuff class of COCO panoptic
            ds.gt_sem_seg = PixelData(sem_seg=sem)
        samples.append(ds)
    return inputs, samples


@pytest.mark.parametrize(
    'name', ['r18-lite_1xb2-500i_coco128', 'r18-lite_1xb2-300i_embedded', 'r50_8xb2-lsj-50e_coco'])
def test_parent_configs_resolve_to_a_gated_progressive_encoder(name):
    parent = _build(osp.join(HERE, 'configs', f'proscale-333-ecom2f-parent_{name}-panoptic.py'))
    decoder = parent.panoptic_head.pixel_decoder
    assert type(parent).__name__ == 'EcoM2F' and parent.exits == EXITS
    assert parent.train_mode == 'parent' and parent.test_cfg['exit_layers'] == 9
    assert type(decoder).__name__ == 'EfficientMSDeformAttnPixelDecoder'
    assert decoder.encoder.level_schedule == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert decoder.encoder.trc is not None  # TRC and LPE kept from PRO-SCALE
    assert type(decoder.output_convs[0]).__name__ == 'LightPixelEmbedding'
    assert tuple(decoder.encoder.gate.exits) == EXITS
    assert parent.exit_loss_weights == [float(k) for k in EXITS]


@pytest.mark.parametrize(
    'name', ['r18-lite_1xb8-200i_coco128', 'r18-lite_1xb8-30i_embedded', 'r50_1xb8-15k_coco'])
def test_gate_configs_train_the_gate_of_the_project_parent(name):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(HERE, 'configs', f'proscale-333-ecom2f-gate_{name}-panoptic.py'))
    decoder = cfg.model.panoptic_head.pixel_decoder
    assert cfg.model.train_mode == 'gate' and cfg.model.exits == EXITS
    assert cfg.model.test_cfg.exit_layers is None  # the gate decides at test time
    assert decoder.stage_layers == (3, 3, 3) and decoder.gate.exits == EXITS
    assert 'proscale-333-ecom2f-parent' in cfg.load_from
    assert 'proscale-333-ecom2f-parent' in cfg.model.quality_table


def test_exit_9_is_the_proscale_model():
    ours = _build(PARENT)
    ref = _build(PROSCALE)
    result = ref.load_state_dict(ours.state_dict(), strict=False)
    assert result.missing_keys == []
    gate_keys = 'panoptic_head.pixel_decoder.encoder.gate.'
    assert all(k.startswith(gate_keys) for k in result.unexpected_keys)
    inputs, samples = _batch()
    with torch.no_grad():
        got = ours._forward(inputs, copy.deepcopy(samples))  # test_cfg.exit_layers = 9
        expected = ref._forward(inputs, copy.deepcopy(samples))
    for a, b in zip(got, expected):
        assert max((x - y).abs().max().item() for x, y in zip(a, b)) <= 1e-5


def test_early_exit_runs_only_coarse_levels_and_costs_less():
    from mmeffseg.analysis import count_macs
    model = _build(PARENT)
    decoder = model.panoptic_head.pixel_decoder
    inputs, _ = _batch(batch_size=1)
    feats = model.extract_feat(inputs)
    seen = {}
    hook = decoder.encoder.register_forward_hook(
        lambda m, args, kwargs, out: seen.update(kwargs=kwargs, out=out), with_kwargs=True)
    macs = {}
    try:
        for k in EXITS:
            with decoder.encoder.exit_setting(forced_exit=k):  # as EcoM2F sets a forced exit
                macs[k] = count_macs(decoder, decoder, feats).total('paper')
            assert decoder.encoder.last_exits.tolist() == [k]
            if k == 3:
                # Stage 1 only: no layer touched the res4 and res3 tokens; they leave the
                # encoder as they entered its layers (after TRC, which gates res5 and res4).
                kw = seen['kwargs']
                entered = decoder.encoder.trc(kw['query'], kw['spatial_shapes'],
                                              kw['level_start_index'])
                num_res5 = (64 // 32) * (96 // 32)
                assert torch.equal(seen['out'][:, num_res5:], entered[:, num_res5:])
                assert not torch.allclose(seen['out'][:, :num_res5], entered[:, :num_res5])
    finally:
        hook.remove()
    costs = [macs[k] for k in EXITS]
    assert costs == sorted(costs) and len(set(costs)) == len(costs)
    # The progressive schedule makes exits uneven: stages 1-2 together cost less than one
    # full-length layer.
    assert macs[6] - macs[3] < macs[7] - macs[6]


def test_parent_step_trains_only_layers_up_to_the_exit():
    model = _build(PARENT, exit_probs=[0, 1, 0, 0, 0])  # always exit 6
    model.train()
    inputs, samples = _batch(with_gt=True)
    losses = model.loss(inputs, samples)
    assert float(losses['exit_layers']) == 6.0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    layers = model.panoptic_head.pixel_decoder.encoder.layers
    trained = [any(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())
               for layer in layers]
    assert trained == [True] * 6 + [False] * 3
    assert all(p.grad is None for p in model.gate.parameters())


def test_gate_exits_must_match_the_schedule():
    with pytest.raises(ValueError, match='beyond'):
        _build(PARENT, exits=(3, 6, 10),
               panoptic_head=dict(pixel_decoder=dict(gate=dict(exits=(3, 6, 10)))))
