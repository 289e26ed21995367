"""The study summary on hand-made report results: a model against a curve at its own GFLOPs (the
ECO-M2F gate vs fixed-exit verdict), a view over some of a report's models with another part,
and a noise band borrowed from another report."""
import json
import os

import pytest
from mmengine.config import Config

from mmeffseg.study import Study
from mmeffseg.study.summary import compare_with_curve, write_summary

PART = 'decode_head.pixel_decoder'
ENC = PART + '.encoder'


def _rows(points):
    """Summary rows (as summarize_report makes them) from ``{name: (gflops, quality)}``."""
    return [dict(name=n, label=n, quality=q, part_gflops=g) for n, (g, q) in points.items()]


CURVE = dict(exit_2=(1.0, 10.0), exit_3=(2.0, 20.0), exit_4=(3.0, 25.0), exit_5=(4.0, 28.0),
             exit_6=(5.0, 30.0))


def test_a_point_between_two_exits_is_compared_with_the_line_between_them():
    rows = _rows(dict(CURVE, above=(2.5, 24.0), close=(3.5, 26.0), far=(3.5, 20.0)))
    out = {v['name']: v for v in compare_with_curve(rows, list(CURVE), ['above', 'close', 'far'],
                                                    noise=1.0)}
    assert out['above']['curve_quality'] == pytest.approx(22.5)
    assert out['above']['delta'] == pytest.approx(1.5) and out['above']['verdict'] == 'above'
    # 0.5 below the line, inside a noise band of 1.0: on the curve; 6.5 below: below it.
    assert out['close']['delta'] == pytest.approx(-0.5)
    assert out['close']['verdict'].startswith('on')
    assert out['far']['verdict'] == 'below'
    assert all(v['position'] == 'inside' for v in out.values())
    # A gate sending every image to exit 4 is exit 4's point (its own cost adds a hair).
    rows = _rows(dict(CURVE, all_at_4=(3.0 + 1e-6, 25.0)))
    (tie, ) = compare_with_curve(rows, list(CURVE), ['all_at_4'])
    assert tie['verdict'] == 'on' and tie['delta'] == pytest.approx(0.0, abs=1e-4)


def test_without_a_noise_band_any_loss_is_below_and_outside_the_range_is_said():
    rows = _rows(dict(CURVE, costly=(5.2, 29.5), cheap=(0.5, 12.0)))
    out = {v['name']: v for v in compare_with_curve(rows, list(CURVE), ['costly', 'cheap'])}
    # Paying more than the full parent is compared with the full parent.
    assert out['costly']['curve_quality'] == 30.0 and out['costly']['verdict'] == 'below'
    assert out['costly']['position'] == 'above range'
    assert out['cheap']['curve_quality'] == 10.0 and out['cheap']['verdict'] == 'above'
    assert out['cheap']['position'] == 'below range'
    # A model without a quality is left out rather than guessed.
    rows.append(dict(name='unknown', label='u', quality=None, part_gflops=3.0))
    assert compare_with_curve(rows, list(CURVE), ['unknown']) == []


def _report_row(name, quality, whole, pd, enc, dynamic=None):
    return dict(
        study_name=name, label=name, metric='mIoU',
        metrics={'mIoU': quality, 'IoU.sky': quality + 1},
        inputs='first 2 test image(s)',
        cost=dict(flops=dict(full=dict(mean=whole * 1e9), paper=dict(mean=whole * 1e9)),
                  by_part=dict(full={PART: pd * 1e9, ENC: enc * 1e9},
                               paper={PART: pd * 1e9, ENC: enc * 1e9}),
                  dynamic=dynamic or {}),
        timing=dict(latency=dict(median=0.1, iqr=0.0, mean=0.1), throughput=10.0, batch_size=1,
                    parts={PART: dict(median=0.05, iqr=0.0, mean=0.05)}, warmup=1, repeats=1,
                    device='cpu'))


def _study_with_report(tmp_path, rows, **report):
    spec = Config(dict(
        work_root=str(tmp_path / 'work'),
        steps=[dict(name='host', kind='report',
                    models=[dict(name=r['study_name'], config='x.py', checkpoint='x.pth')
                            for r in rows], **report)],
        summary=dict(json='s.json', markdown='s.md', figures='fig')))
    study = Study(spec, 'spec.py', repo_root=str(tmp_path))
    os.makedirs(study.work_dir('host'))
    with open(os.path.join(study.work_dir('host'), 'result.json'), 'w') as f:
        json.dump(dict(report=dict(rows=rows, threads=1), seconds=1.0), f)
    return study


def test_summary_writes_the_view_the_verdict_and_the_borrowed_noise(tmp_path):
    names = ['control_s0', 'control_s1', 'exit_2', 'exit_4', 'exit_6', 'gate']
    spec = Config(dict(
        work_root=str(tmp_path / 'work'),
        steps=[dict(name='host', kind='report', reference='control_s0',
                    noise=['control_s0', 'control_s1'], part=PART, curve=names[2:5],
                    curve_label='parent at fixed exits', versus_curve=['gate'],
                    models=[dict(name=n, config='x.py', checkpoint='x.pth') for n in names],
                    views=[dict(name='gate_vs_exits', title='Gate vs exits', part=ENC,
                                models=names[2:], reference='exit_6', curve=names[2:5],
                                versus_curve=['gate'], noise_from='host')])],
        summary=dict(json='s.json', markdown='s.md', figures='fig', title='T')))
    study = Study(spec, 'spec.py', repo_root=str(tmp_path))
    rows = [_report_row('control_s0', 40.0, 10.0, 4.0, 2.0),
            _report_row('control_s1', 39.0, 10.0, 4.0, 2.0),
            _report_row('exit_2', 30.0, 8.5, 2.5, 0.5),
            _report_row('exit_4', 36.0, 9.0, 3.0, 1.0),
            _report_row('exit_6', 40.0, 10.0, 4.0, 2.0),
            _report_row('gate', 37.0, 8.8, 2.8, 0.8)]
    os.makedirs(study.work_dir('host'))
    with open(os.path.join(study.work_dir('host'), 'result.json'), 'w') as f:
        json.dump(dict(report=dict(rows=rows, threads=1), seconds=5.0), f)

    write_summary(study, 'cmd')
    data = json.loads((tmp_path / 's.json').read_text())
    host, view = data['reports']['host'], data['reports']['gate_vs_exits']
    assert host['noise']['spread'] == pytest.approx(1.0)
    # The view has only its models, its own part and reference, and the host's noise band.
    assert [r['name'] for r in view['rows']] == names[2:]
    assert view['part'] == ENC and view['reference'] == 'exit_6'
    assert view['noise']['spread'] == pytest.approx(1.0) and view['noise']['source'] == 'host'
    # Encoder GFLOPs: the gate (0.8) sits 0.3 of the way from exit 2 (0.5) to exit 4 (1.0):
    # the curve there is 30 + 0.6 * 6 = 33.6, so the gate's 37 is above it.
    (gate, ) = view['versus_curve']
    assert gate['curve_quality'] == pytest.approx(33.6) and gate['verdict'] == 'above'
    # On the pixel decoder's GFLOPs (2.8: between 2.5 and 3.0) the curve is at 33.6 as well.
    assert host['versus_curve'][0]['curve_quality'] == pytest.approx(33.6)
    md = (tmp_path / 's.md').read_text()
    assert '## Gate vs exits' in md and '| gate | - | 0.800 | 37.00 | 33.60 | +3.40 | above |' in md
    assert 'Noise band (control_s0, control_s1) (from `host`)' in md
    assert (tmp_path / 'fig' / 'gate_vs_exits.png').is_file()
    assert (tmp_path / 'fig' / 'host.png').is_file()
    assert 'STALE' not in md and data['stale'] == {}

    # The runner judged the report stale: its tables say so, its view's as well.
    write_summary(study, 'cmd', stale={'host': ['config x.py changed']})
    data = json.loads((tmp_path / 's.json').read_text())
    assert data['stale'] == {'host': ['config x.py changed']}
    assert data['reports']['gate_vs_exits']['stale'] == ['config x.py changed']
    md = (tmp_path / 's.md').read_text()
    assert '## Gate vs exits (STALE)' in md and '* `host`: config x.py changed' in md
    assert '**STALE**: measured before its inputs changed (config x.py changed)' in md


def test_a_view_naming_a_model_the_report_did_not_measure_is_refused(tmp_path):
    study = _study_with_report(tmp_path, [_report_row('a', 1.0, 1.0, 1.0, 1.0)],
                               views=[dict(name='v', models=['a', 'b'])])
    with pytest.raises(ValueError, match=r"view 'v' names models \['b'\]"):
        write_summary(study, 'cmd')


def test_only_a_stale_report_may_lack_its_reference(tmp_path):
    # The spec now names 'new' as the reference; the report measured 'a' and 'b' before.
    rows = [_report_row('a', 40.0, 10.0, 4.0, 2.0), _report_row('b', 30.0, 5.0, 2.0, 1.0)]
    study = _study_with_report(tmp_path, rows, reference='new')
    with pytest.raises(ValueError, match="reference 'new' is not among the measured models"):
        write_summary(study, 'cmd')
    write_summary(study, 'cmd', stale={'host': ['its models changed']})
    host = json.loads((tmp_path / 's.json').read_text())['reports']['host']
    assert host['reference'] == 'a' and host['stale'] == ['its models changed']
    assert [r['gflops_ratio'] for r in host['rows']] == pytest.approx([1.0, 0.5])


def test_pruning_layers_are_reported_against_their_targets(tmp_path):
    kept = dict(backbone=dict(mean_tokens_per_block=[100.0, 60.0]),
                **{f'backbone.reducers.{i}': dict(mean_keep_ratio=m, min_keep_ratio=m - 0.1,
                                                  max_keep_ratio=m + 0.1, keep_target=t)
                   for i, (m, t) in enumerate([(0.72, 0.7), (0.44, 0.49)])})
    rows = [_report_row('dense', 40.0, 10.0, 4.0, 2.0),
            _report_row('pruned', 39.0, 7.0, 3.0, 1.5, dynamic=kept)]
    write_summary(_study_with_report(tmp_path, rows), 'cmd')
    pruned = json.loads((tmp_path / 's.json').read_text())['reports']['host']['rows'][1]
    assert pruned['keep_ratio_per_layer'] == pytest.approx([0.72, 0.44])
    assert pruned['keep_target_per_layer'] == pytest.approx([0.7, 0.49])
    assert pruned['tokens_per_block'] == pytest.approx([100.0, 60.0])
    md = (tmp_path / 's.md').read_text()
    assert '| pruning layer | pruned |' in md  # the dense model has no column
    assert '| 2 | 0.440 [0.34, 0.54] (target 0.490) |' in md
    assert '| largest miss of a target | 0.050 |' in md
