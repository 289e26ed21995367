"""Whole-model counting: parts, per-image averaging, inputs and clear errors."""
import json
import os.path as osp

import pytest
import torch

from _analysis_hand_counts import deform_encoder_layer, segmenter
from _analysis_tiny import MASK2FORMER, SEGMENTER, write_config
from mmeffseg.analysis import (dataset_batches, format_cost_table, measure_model_cost,
                               run_network, shape_batches)
from mmeffseg.apis import build_model, load_config
from mmeffseg.testing import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def tiny_m2f(tmp_path_factory):
    path = write_config(tmp_path_factory.mktemp('cfg'), 'tiny_m2f.py',
                        MASK2FORMER.format(enc_layers=2))
    cfg = load_config(path)
    return path, cfg, build_model(cfg)


@pytest.fixture(scope='module')
def tiny_segmenter(tmp_path_factory):
    path = write_config(tmp_path_factory.mktemp('cfg'), 'tiny_seg.py', SEGMENTER)
    cfg = load_config(path)
    return path, cfg, build_model(cfg)


def test_mask2former_parts_and_encoder_exact(tiny_m2f):
    _, cfg, model = tiny_m2f
    batches = shape_batches(model, 'mmdet', (64, 96), num_batches=2)
    summary = measure_model_cost(model, batches)
    assert summary['num_images'] == 2
    full = summary['by_part']['full']
    # 64x96 -> strides 8/16/32: 8x12 + 4x6 + 2x3 tokens, 2 layers of C=64, 8 heads, FFN 128
    n = 96 + 24 + 6
    paper, with_core = deform_encoder_layer(n, c=64, heads=8, levels=3, points=4, ffn=128)
    assert summary['by_part']['paper']['panoptic_head.pixel_decoder.encoder'] == 2 * paper
    assert full['panoptic_head.pixel_decoder.encoder'] == 2 * with_core
    # inclusive nesting, and the top-level parts + other add up to the total
    assert full['panoptic_head.pixel_decoder.encoder'] < full['panoptic_head.pixel_decoder'] \
        < full['panoptic_head']
    top = full['backbone'] + full['panoptic_head'] + full['other']
    assert top == pytest.approx(summary['flops']['full']['mean'], rel=0, abs=0.5)
    # a static model costs the same on every image
    assert summary['flops']['full']['min'] == summary['flops']['full']['max']
    params = summary['params']
    assert params['total'] == sum(p.numel() for p in model.parameters())
    assert params['panoptic_head.pixel_decoder.encoder'] > 0
    table = format_cost_table(summary, 'paper')
    assert 'panoptic_head.pixel_decoder.encoder' in table and 'mode: paper' in table
    json.dumps(summary)  # JSON-ready


def test_segmenter_exact_vs_hand_count(tiny_segmenter):
    _, cfg, model = tiny_segmenter
    summary = measure_model_cost(model, shape_batches(model, 'mmseg', (64, 64)))
    hand = segmenter(64, 64, c=32, layers=2, patch=16, head_layers=1, classes=5)
    parts = summary['by_part']['paper']
    assert parts['backbone'] == hand['backbone']
    assert parts['decode_head'] == hand['decode_head']
    assert summary['flops']['paper']['mean'] == hand['total']


def test_shape_not_divisible_by_patch_is_a_clear_error(tiny_segmenter):
    _, _, model = tiny_segmenter
    with pytest.raises(ValueError, match=r'60x64 is not divisible by 16.*--shape 48 64'):
        shape_batches(model, 'mmseg', (60, 64))
    with pytest.raises(ValueError, match='two positive integers'):
        shape_batches(model, 'mmseg', (0, 64))


def test_unknown_config_and_missing_data(tmp_path, tiny_m2f):
    with pytest.raises(FileNotFoundError, match='no_such_config.py'):
        load_config(str(tmp_path / 'no_such_config.py'))
    path, _, model = tiny_m2f
    cfg = load_config(path, {'test_dataloader.dataset.data_root': str(tmp_path / 'nowhere')})
    with pytest.raises(FileNotFoundError, match='nowhere.*data_root'):
        next(dataset_batches(cfg, model, 2))


def _load_tool(name):
    return load_tool(f'analysis_tools/{name}.py')


def test_benchmark_tool_times_named_part(tmp_path, tiny_m2f, capsys):
    tool = _load_tool('benchmark')
    out = tmp_path / 'bench.json'
    tool.main([tiny_m2f[0], '--shape', '64', '64', '--warmup', '0', '--repeats', '2',
               '--part', 'panoptic_head.pixel_decoder.encoder.layers.0', '--out', str(out)])
    assert 'throughput' in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data['latency']['n'] == 2
    assert {'backbone', 'panoptic_head', 'panoptic_head.pixel_decoder.encoder.layers.0'} <= \
        set(data['parts'])
    # the head is called as panoptic_head.forward(...) by the detector: still timed
    assert data['parts']['panoptic_head']['min'] > 0
    with pytest.raises(ValueError, match='not_a_part'):
        tool.main([tiny_m2f[0], '--shape', '64', '64', '--part', 'not_a_part'])


def test_tool_writes_json(tmp_path, tiny_m2f, capsys):
    tool = _load_tool('get_flops')
    out = tmp_path / 'flops.json'
    tool.main([tiny_m2f[0], '--shape', '64', '64', '--mode', 'paper', '--out', str(out),
               '--compare'])
    printed = capsys.readouterr().out
    assert 'total (mean per image)' in printed
    data = json.loads(out.read_text())
    assert data['mode'] == 'paper' and data['flops']['paper']['mean'] > 0
    # mmdet's summary block, after the table, in the mode asked for
    block = printed[printed.index('=' * 30):].splitlines()
    assert block[1] == 'Input shape: (3, 64, 64)'
    scale = dict(T=1e12, G=1e9, M=1e6, K=1e3)
    for line, key, value in ((block[2], 'Flops', data['flops']['paper']['mean']),
                             (block[3], 'Params', data['params']['total'])):
        name, number = line.split(': ')
        assert name == key and float(number[:-1]) * scale[number[-1]] == \
            pytest.approx(value, rel=1e-3)
    # paper mode is exactly torch's FlopCounterMode halved (same formulas, same ops)
    assert data['reference']['torch FlopCounterMode / 2'] == data['flops']['paper']['mean']
    assert data['reference']['mmengine FlopAnalyzer'] > 0


MMSEG_M2F = """
_base_ = ['mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    decode_head=dict(
        in_channels=[64, 128, 256, 512], feat_channels=32, out_channels=32, num_queries=5,
        num_classes=4,
        pixel_decoder=dict(encoder=dict(num_layers=1, layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=32),
            ffn_cfg=dict(embed_dims=32, feedforward_channels=64))),
            positional_encoding=dict(num_feats=16)),
        positional_encoding=dict(num_feats=16),
        loss_cls=dict(class_weight=[1.0] * 4 + [0.1]),
        transformer_decoder=dict(num_layers=1, layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=32), cross_attn_cfg=dict(embed_dims=32),
            ffn_cfg=dict(embed_dims=32, feedforward_channels=64)))))
"""


def test_mmseg_mask2former_counts_the_tensor_forward_by_default(tmp_path, capsys):
    # The network without post-processing, as every other model: no note, no predict.
    path = write_config(tmp_path, 'mmseg_m2f.py', MMSEG_M2F)
    out = tmp_path / 'flops.json'
    _load_tool('get_flops').main([path, '--shape', '64', '64', '--compare', '--out', str(out)])
    printed = capsys.readouterr().out
    assert 'note:' not in printed
    assert 'forward=tensor' in printed and 'Input shape: (3, 64, 64)' in printed
    data = json.loads(out.read_text())
    assert data['forward'] == 'tensor'
    # torch's counter sees the same network: paper mode is its count halved, exactly
    assert data['reference']['torch FlopCounterMode / 2'] == data['flops']['paper']['mean']
    assert data['reference']['mmengine FlopAnalyzer'] > 0


def test_compare_on_a_predict_forward(tmp_path, capsys):
    # mmengine's FlopAnalyzer traces with JIT, which cannot carry the data samples a predict
    # forward returns: its column says so instead of failing the whole tool.
    path = write_config(tmp_path, 'mmseg_m2f.py', MMSEG_M2F)
    out = tmp_path / 'flops.json'
    _load_tool('get_flops').main([path, '--shape', '64', '64', '--forward', 'predict',
                                  '--compare', '--out', str(out)])
    printed = capsys.readouterr().out
    assert 'mmengine FlopAnalyzer: n/a (its JIT trace cannot follow a predict forward)' in printed
    reference = json.loads(out.read_text())['reference']
    assert reference['mmengine FlopAnalyzer'] is None
    assert reference['torch FlopCounterMode / 2'] > 0


def test_predict_fallback_only_where_the_tensor_forward_cannot_run():
    """mmseg's DepthEstimator._forward calls decode_head.forward(x) alone: with a head that
    needs the samples the tensor forward fails, so it (and only it) falls back with a note."""
    from mmeffseg.analysis.model_inputs import usable_forward
    from mmeffseg.testing.tiny_eco_m2f_segmentor import build_tiny_seg, tiny_seg_batch
    inputs, samples = tiny_seg_batch(1)
    batch = dict(inputs=inputs, data_samples=samples)
    for kwargs in (dict(ecom2f=False), dict(ecom2f=True)):  # EncoderDecoder, EcoM2FSegmentor
        model = build_tiny_seg(**kwargs)
        assert usable_forward(model, 'tensor') == ('tensor', None)
        with torch.no_grad():
            run_network(model, batch, 'tensor')
    depth = build_tiny_seg(ecom2f=False, type='DepthEstimator')
    forward, note = usable_forward(depth, 'tensor')
    assert forward == 'predict'
    assert 'DepthEstimator._forward does not pass the data samples that Mask2FormerHead' in note
    with pytest.raises(TypeError, match='batch_data_samples'), torch.no_grad():
        run_network(depth, batch, 'tensor')
    assert usable_forward(depth, 'predict') == ('predict', None)


def test_tensor_forward_kept_where_it_runs(tiny_segmenter):
    from mmeffseg.analysis.model_inputs import usable_forward
    assert usable_forward(tiny_segmenter[2], 'tensor') == ('tensor', None)
    assert usable_forward(tiny_segmenter[2], 'predict') == ('predict', None)


EMBEDDED = osp.join(REPO, 'configs', 'mask2former',
                    'mask2former_r18-lite_1xb2-300i_embedded-panoptic.py')


@pytest.mark.skipif(not (osp.isfile(EMBEDDED)
                         and osp.isdir(osp.join(REPO, 'data', 'embedded_coco'))),
                    reason='embedded data config not available')
def test_dataset_images_counted_per_image(tiny_m2f):
    # The tiny model with the embedded config's test data (real images, test pipeline).
    cfg = load_config(EMBEDDED)
    _, _, model = tiny_m2f
    batches = list(dataset_batches(cfg, model, 2))
    assert len(batches) == 2 and all(b['inputs'].shape[0] == 1 for b in batches)
    summary = measure_model_cost(model, batches)
    assert summary['num_images'] == 2
    assert [e['input_shape'] for e in summary['per_image']] == \
        [list(b['inputs'].shape[-2:]) for b in batches]


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_gpu_count_equals_cpu_count(tiny_m2f):
    _, cfg, model = tiny_m2f
    cpu = measure_model_cost(model, shape_batches(model, 'mmdet', (64, 64)))
    gpu_model = build_model(cfg, device='cuda')
    gpu = measure_model_cost(gpu_model, shape_batches(gpu_model, 'mmdet', (64, 64)))
    # fused kernels may differ by device (sdpa vs matmul); the totals may not
    for mode in ('full', 'paper', 'linear-conv'):
        assert gpu['flops'][mode] == cpu['flops'][mode]


@pytest.mark.skipif(not osp.isdir(osp.join(REPO, 'data', 'embedded_coco', 'images')),
                    reason='embedded data not available')
def test_image_files_read_like_test_images(tmp_path, tiny_m2f, capsys):
    from mmeffseg.analysis.model_inputs import collect_images, image_batches
    cfg = load_config(EMBEDDED)
    _, _, model = tiny_m2f
    from_dataset = list(dataset_batches(cfg, model, 2))
    names = [b['data_samples'][0].img_path for b in from_dataset]
    from_files = list(image_batches(cfg, model, names))
    # the same test pipeline: same network input, bit for bit
    for a, b in zip(from_dataset, from_files):
        assert torch.equal(a['inputs'], b['inputs'])
    assert collect_images([osp.dirname(names[0])], limit=1) == sorted(
        collect_images([osp.dirname(names[0])]))[:1]
    bad = tmp_path / 'bad.jpg'
    bad.write_bytes(b'not an image')
    with pytest.raises(ValueError, match='bad.jpg: cannot be read as an image'):
        next(image_batches(cfg, model, [str(bad)]))
    _load_tool('get_flops').main([EMBEDDED, '--images', *names])
    assert '2 image file(s), test pipeline' in capsys.readouterr().out
    # without a model: the pipeline's images (pixel values, not normalised)
    raw = next(image_batches(cfg, None, names[:1]))
    assert raw['inputs'][0].max() > 1.5 and raw['inputs'][0].min() >= 0
    assert torch.equal(model.data_preprocessor(raw, False)['inputs'], from_files[0]['inputs'])
    # crop: after the pipeline's resize, every image centre-cropped (padded) to H x W
    cropped = next(image_batches(cfg, None, names, 2, crop=(96, 1000)))
    assert [tuple(x.shape) for x in cropped['inputs']] == [(3, 96, 1000)] * 2
    full = raw['inputs'][0]
    h, w = full.shape[-2:]
    top = int(round((h - 96) / 2))
    assert torch.equal(cropped['inputs'][0][:, :, :w], full[:, top:top + 96])
    assert cropped['inputs'][0][:, :, w:].max() == 0
    with pytest.raises(ValueError, match='crop needs two positive integers'):
        next(image_batches(cfg, None, names, crop=(0, 5)))


def test_mmseg_mask2former_tensor_forward_runs_the_head_with_the_samples(tmp_path):
    """The efficiency report counts every model with the tensor forward (no post-processing);
    mmseg's own EncoderDecoder._forward cannot run the Mask2Former head, so run_network runs
    the head on the features with the samples, and the pixel decoder is a known part."""
    cfg = load_config(write_config(tmp_path, 'mmseg_m2f.py', MMSEG_M2F))
    model = build_model(cfg).eval()
    batches = shape_batches(model, 'mmseg', (64, 64))
    with torch.no_grad():
        cls_scores, mask_preds = run_network(model, batches[0], 'tensor')
        ref = model.decode_head(model.extract_feat(batches[0]['inputs']),
                                batches[0]['data_samples'])
    assert torch.equal(cls_scores[-1], ref[0][-1]) and torch.equal(mask_preds[-1], ref[1][-1])
    by_part = measure_model_cost(model, batches)['by_part']['full']
    pd = 'decode_head.pixel_decoder'
    assert 0 < by_part[pd + '.encoder'] < by_part[pd] < by_part['decode_head']


def test_resized_test_config_short_side_or_fit(tmp_path):
    """One rescaling of the test pipelines for the figure tools: the short side to a size (a
    centre crop keeps real pixels) or the long side into a padded square (one network input
    for real images); a pipeline without Resize gets one, a shared list is changed once."""
    from mmengine.config import Config

    from mmeffseg.analysis import image_batches, resized_test_config
    steps = [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]
    cfg = Config(dict(default_scope='mmseg', test_pipeline=steps,
                      test_dataloader=dict(dataset=dict(type='RepeatDataset', times=2, dataset=dict(
                          type='CamVidDataset', pipeline=[
                              dict(type='LoadImageFromFile'),
                              dict(type='Resize', scale=(480, 360), keep_ratio=True),
                              dict(type='PackSegInputs')])))))
    fit = resized_test_config(cfg, fit=64)
    inner = fit.test_dataloader.dataset.dataset.pipeline
    assert [t['type'] for t in inner] == ['LoadImageFromFile', 'Resize', 'Pad', 'PackSegInputs']
    assert inner[1]['scale'] == (64, 64) and inner[2]['size'] == (64, 64)
    short = resized_test_config(cfg, short_side=32).test_pipeline
    assert [t['type'] for t in short] == ['LoadImageFromFile', 'Resize', 'PackSegInputs']
    assert short[1]['scale'] == (3200, 32) and short[1]['keep_ratio']
    assert cfg.test_pipeline == steps  # the original is untouched
    shared = Config(dict(test_pipeline=steps, test_dataloader=dict(dataset=dict(
        pipeline=steps))))
    shared.test_dataloader.dataset.pipeline = shared.test_pipeline
    once = resized_test_config(shared, fit=16).test_pipeline
    assert [t['type'] for t in once] == ['LoadImageFromFile', 'Resize', 'Pad', 'PackSegInputs']
    for sizes in (dict(), dict(short_side=8, fit=8), dict(fit=0)):
        with pytest.raises(ValueError, match='exactly one positive size'):
            resized_test_config(cfg, **sizes)
    # real files through the rescaled pipeline: 50x80 -> long side 64 -> 40x64 -> padded
    import mmcv
    import numpy as np
    files = []
    for i in range(3):
        files.append(str(tmp_path / f'{i}.png'))
        mmcv.imwrite(np.zeros((50, 80, 3), np.uint8), files[-1])
    batches = list(image_batches(fit, None, files, batch_size=2, drop_last=True))
    assert len(batches) == 1 and len(batches[0]['inputs']) == 2
    assert tuple(batches[0]['inputs'][0].shape) == (3, 64, 64)
    assert len(list(image_batches(fit, None, files, batch_size=2))) == 2
