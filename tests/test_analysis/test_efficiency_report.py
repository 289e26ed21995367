"""The side-by-side efficiency report: files, table, and a short train-and-evaluate run."""
import json
import os.path as osp
from dataclasses import replace

import pytest

from _analysis_tiny import MASK2FORMER, write_config
from mmeffseg.analysis.efficiency_report import (ReportOptions, report_markdown,
                                                 run_efficiency_report, write_report)
from mmeffseg.ops import get_cpu_deform_attn

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EMBEDDED = osp.join(REPO, 'configs', 'mask2former',
                    'mask2former_r18-lite_1xb2-300i_embedded-panoptic.py')


def test_report_on_shape_without_training(tmp_path):
    base = write_config(tmp_path, 'base.py', MASK2FORMER.format(enc_layers=2))
    method = write_config(tmp_path, 'fewer_layers.py', MASK2FORMER.format(enc_layers=1))
    logs = []
    options = ReportOptions(shape=(64, 64), num_images=None, warmup=0, repeats=2,
                            cpu_deform_attn='gather',
                            parts=['panoptic_head.pixel_decoder.encoder.layers.0'])
    report = run_efficiency_report(base, [method], options, log=logs.append)
    assert get_cpu_deform_attn() == 'mmcv'  # the report's choice does not outlive it
    assert report['cpu_deform_attn'] == 'gather' and report['threads'] >= 1
    rows = report['rows']
    for row in rows:  # default parts and the extra one, timed in the interleaved series
        parts = row['timing']['parts']
        assert {'panoptic_head.pixel_decoder', 'backbone',
                'panoptic_head.pixel_decoder.encoder.layers.0'} <= set(parts)
        assert parts['panoptic_head.pixel_decoder']['n'] == 2
    assert [r['name'] for r in rows] == ['base', 'fewer_layers']
    assert rows[1]['cost']['flops']['full']['mean'] < rows[0]['cost']['flops']['full']['mean']
    assert rows[0]['quality'] is None and report['same_images']
    assert any('counting FLOPs' in line for line in logs)
    paths = write_report(report, str(tmp_path / 'out'))
    md = open(paths['md']).read()
    assert '| base | baseline |' in md and '| fewer_layers | method |' in md
    assert 'pixel decoder latency ms' in md and "core 'gather'" in md
    pd_ratio = (rows[1]['timing']['parts']['panoptic_head.pixel_decoder']['median'] /
                rows[0]['timing']['parts']['panoptic_head.pixel_decoder']['median'])
    assert f'{pd_ratio:.3f}x' in md.splitlines()[3]
    assert json.load(open(paths['json']))['rows'][1]['name'] == 'fewer_layers'
    assert osp.getsize(paths['png']) > 1000


def test_report_bad_inputs(tmp_path):
    base = write_config(tmp_path, 'base.py', MASK2FORMER.format(enc_layers=1))
    shape = ReportOptions(shape=(64, 64))
    with pytest.raises(FileNotFoundError, match='missing_method.py'):
        run_efficiency_report(base, [str(tmp_path / 'missing_method.py')], shape)
    with pytest.raises(ValueError, match='not a submodule'):
        run_efficiency_report(base, [], replace(shape, parts=['panoptic_head.no_such_part']))
    with pytest.raises(ValueError, match='choose one of'):
        run_efficiency_report(base, [], replace(shape, cpu_deform_attn='fastest'))
    with pytest.raises(ValueError, match='one entry per config'):
        run_efficiency_report(base, [base], replace(shape, checkpoints=['a.pth']))


def _tiny_embedded_config(folder) -> str:
    """The tiny Mask2Former (1 encoder layer) on the embedded data."""
    text = (f"_base_ = ['{EMBEDDED}']\n" +
            MASK2FORMER.format(enc_layers=1).replace(
                "_base_ = ['mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py']",
                ''))
    return write_config(folder, 'tiny_embedded.py', text)


@pytest.mark.skipif(not osp.isfile(EMBEDDED), reason='embedded data config not available')
def test_short_training_gives_quality(tmp_path, capsys):
    # The tiny model on the embedded data: 1 iteration, evaluation on 1 image.
    cfg = _tiny_embedded_config(tmp_path)
    logs = []
    options = ReportOptions(train_iters=1, num_images=1, eval_images=1, warmup=0, repeats=1)
    report = run_efficiency_report(cfg, [], options, log=logs.append)
    row = report['rows'][0]
    assert row['metric'] == 'coco_panoptic/PQ' and row['quality'] is not None
    assert 'coco_panoptic/PQ' in report_markdown(report)
    # one step line per step; the counts inside a step are mmengine progress bars
    assert [line.split('] ')[1].split(' (elapsed')[0].split(' in ')[0] for line in logs[:4]] \
        == ['training 1 iterations', 'trained 1 iterations', 'testing on 1 image(s)',
            'evaluated']
    assert 'last loss' in logs[1]
    out = capsys.readouterr().out
    assert out.count('[>>') >= 3  # training, test, FLOPs, timing bars


@pytest.mark.skipif(not osp.isfile(EMBEDDED), reason='embedded data config not available')
def test_checkpoints_are_evaluated_and_timed_side_by_side(tmp_path):
    """With checkpoints (no training) each config is evaluated with its own weights."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg_path = _tiny_embedded_config(tmp_path)
    init_default_scope('mmdet')
    ckpt = str(tmp_path / 'tiny.pth')
    model = MODELS.build(Config.fromfile(cfg_path).model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    options = ReportOptions(checkpoints=[ckpt, 'none'], num_images=1, eval_images=1, warmup=0,
                            repeats=1, progress=False)
    report = run_efficiency_report(cfg_path, [cfg_path], options, log=lambda m: None)
    with_ckpt, without = report['rows']
    assert with_ckpt['checkpoint'] == ckpt and with_ckpt['quality'] is not None
    assert without['checkpoint'] is None and without['quality'] is None  # neither trained
    assert with_ckpt['image_ids'] == without['image_ids'] and report['same_images']
    assert all(r['timing']['latency']['n'] == 1 for r in report['rows'])


def _row(name, role, gflops, ms, quality):
    return dict(name=name, role=role, metric='coco_panoptic/PQ' if quality is not None else None,
                quality=quality, cost=dict(flops=dict(full=dict(mean=gflops * 1e9))),
                timing=dict(latency=dict(median=ms / 1e3)))


def test_plot_shows_quality_against_cost_and_latency_from_zero(tmp_path):
    from mmeffseg.analysis.efficiency_report import report_plot
    report = dict(rows=[_row('base', 'baseline', 20.0, 300.0, 1.47),
                        _row('method', 'method', 12.0, 250.0, 1.11)], train_iters=8)
    panels = report_plot(report, str(tmp_path / 'q.png'))
    assert [p['ylabel'] for p in panels] == ['coco_panoptic/PQ'] * 2
    assert 'GFLOPs' in panels[0]['xlabel'] and 'latency' in panels[1]['xlabel']
    assert all(p['ylim'][0] == 0 and p['ylim'][1] > 1.47 for p in panels)
    report['rows'][1]['quality'] = None  # quality unknown for one: cost against latency
    panels = report_plot(report, str(tmp_path / 'c.png'))
    assert len(panels) == 1 and 'latency' in panels[0]['ylabel']
    assert osp.getsize(tmp_path / 'q.png') > 1000 and osp.getsize(tmp_path / 'c.png') > 1000


def _table_row(name, pd_flops, pd_ms, peak):
    part = 'decode_head.pixel_decoder'  # mmseg's name of the part
    return dict(
        name=name, role='baseline' if name == 'base' else 'method', quality=50.0, metric='mIoU',
        inputs='first 1 test image(s)',
        cost=dict(flops=dict(full=dict(mean=2e9), paper=dict(mean=2e9)),
                  by_part=dict(full={part: pd_flops, f'{part}.encoder': pd_flops / 2}),
                  params=dict(total=1e6), dynamic={}, by_category={}),
        timing=dict(latency=dict(median=0.2, iqr=0.01), throughput=5.0, peak_memory_mb=peak,
                    device='cpu', warmup=1, repeats=3,
                    parts={part: dict(median=pd_ms / 1e3), 'backbone': dict(median=0.05)}))


def test_markdown_finds_the_mmseg_pixel_decoder_and_shows_peak_memory():
    from mmeffseg.analysis.efficiency_report import report_markdown
    report = dict(rows=[_table_row('base', 1e9, 100.0, 12.5),
                        _table_row('method', 5e8, 40.0, None)])
    table = report_markdown(report).splitlines()
    assert 'pixel decoder latency ms' in table[0] and 'peak MB' in table[0]
    base_cells = [c.strip() for c in table[2].split('|')]
    method_cells = [c.strip() for c in table[3].split('|')]
    # pixel decoder GFLOPs / encoder GFLOPs, with the ratio to the baseline's
    assert base_cells[7] == '1.00 / 0.50' and method_cells[7] == '0.50 / 0.25 (0.500x)'
    assert method_cells[10] == '40.0' and method_cells[11] == '0.400x'
    assert base_cells[13] == '12.5' and method_cells[13] == 'n/a'


def test_latency_against_flops_per_part():
    from mmeffseg.analysis.efficiency_report import latency_flops_table, report_markdown
    # Pixel decoder: half the FLOPs, 0.4x the time (quotient 0.8); the backbone's FLOPs and
    # time are unchanged; whole model: same FLOPs and latency.
    rows = [_table_row('base', 1e9, 100.0, None), _table_row('method', 5e8, 40.0, None)]
    report = dict(rows=rows)
    table = latency_flops_table(report).splitlines()
    assert table[0] == ('| model | part | latency ratio | GFLOPs ratio | quotient | '
                        'quotient per repeat: median [q1, q3] |')
    # Rows without per-repeat samples (older results) have no paired column.
    assert '| method | whole | 1.000x | 1.000x | 1.000 | n/a |' in table
    assert '| method | decode_head.pixel_decoder | 0.400x | 0.500x | 0.800 | n/a |' in table
    # The backbone was timed but not counted: no quotient for it.
    assert not any('| backbone |' in line for line in table)
    assert 'Does latency follow FLOPs?' in report_markdown(report)
    assert latency_flops_table(dict(rows=report['rows'][:1])) == ''


def test_command_line_maps_to_the_options_in_one_place():
    from mmeffseg.testing import load_tool
    tool = load_tool('analysis_tools/efficiency_report.py')
    args = tool.parse_args(['--baseline', 'b.py', '--methods', 'm.py', '--checkpoints', 'b.pth',
                            'none', '--train-iters', '5', '--shape', '64', '96',
                            '--eval-images', '2', '--warmup', '0', '--repeats', '7',
                            '--metric', 'mIoU', '--seed', '3', '--cfg-options', 'a.b=1',
                            '--part', 'backbone.layers.0', '--cpu-deform-attn', 'gather',
                            '--keep-freed-memory'])
    assert tool.report_options(args) == ReportOptions(
        checkpoints=['b.pth', 'none'], train_iters=5, num_images=None, shape=(64, 96),
        eval_images=2, warmup=0, repeats=7, metric='mIoU', cfg_options={'a.b': 1}, seed=3,
        parts=('backbone.layers.0', ), cpu_deform_attn='gather', keep_freed_memory=True)
    defaults = tool.report_options(tool.parse_args(['--baseline', 'b.py']))
    assert defaults == ReportOptions()  # the command line's defaults are the library's


def test_report_counts_mmseg_mask2former_with_the_tensor_forward(tmp_path):
    # The main job's semantic pair: mmseg's Mask2Former is counted and timed with the network
    # alone like every other model, and its pixel decoder is found under decode_head.
    semantic = osp.join(REPO, 'configs', '{}', '{}_r18-lite_1xb2-300i_embedded-semantic-256x256.py')
    base = semantic.format('mask2former', 'mask2former')
    method = semantic.format('proscale', 'proscale-333-trc-lpe')
    report = run_efficiency_report(
        base, [method], ReportOptions(shape=(64, 64), warmup=0, repeats=1,
                                      cpu_deform_attn='gather'), log=lambda line: None)
    rows = report['rows']
    assert all(r['cost']['forward'] == 'tensor' for r in rows)
    pd = [r['cost']['by_part']['full']['decode_head.pixel_decoder'] for r in rows]
    assert 0 < pd[1] < pd[0]
    assert all('decode_head.pixel_decoder' in r['timing']['parts'] for r in rows)
    assert 'pixel decoder latency ms' in report_markdown(report)


def test_quotient_per_repeat_pairs_the_rounds():
    from mmeffseg.analysis.efficiency_report import latency_flops_table
    # Same whole-model FLOPs, so the quotient is the latency ratio. Round r's method time is
    # divided by round r's baseline time: 0.15/0.2, 0.1/0.4, 0.2/0.3 -> 0.75, 0.25, 0.667.
    base, method = _table_row('base', 1e9, 100.0, None), _table_row('method', 5e8, 40.0, None)
    base['timing']['latency'] = dict(median=0.3, samples=[0.2, 0.4, 0.3])
    method['timing']['latency'] = dict(median=0.15, samples=[0.15, 0.1, 0.2])
    table = latency_flops_table(dict(rows=[base, method])).splitlines()
    whole = next(line for line in table if '| whole |' in line)
    assert whole == '| method | whole | 0.500x | 1.000x | 0.500 | 0.667 [0.458, 0.708] |'
    # Unequal sample counts cannot be paired.
    method['timing']['latency']['samples'] = [0.1]
    table = latency_flops_table(dict(rows=[base, method])).splitlines()
    assert next(line for line in table if '| whole |' in line).endswith('| 0.500 | n/a |')
