"""Step-B partial files: header record written, read and compared (issue 14)."""
import json

import numpy as np
import pytest
import torch

from mmeffseg.evaluation import (ExitQualityMetric, check_partials, read_partial_header,
                                 read_partials)

HEADER = dict(config='/c.py', cfg_options={}, checkpoint=dict(path='/p.pth', size=3, mtime=1.5),
              exits=[2, 4], metrics=['miou'], split='train', limit=None)


def _semantic_pred(img, exit_layers, value):
    return dict(img_path=f'/x/{img}.png', exit_layers=exit_layers,
                gt_sem_seg=dict(data=torch.zeros(1, 2, 2, dtype=torch.long)),
                pred_sem_seg=dict(data=torch.full((1, 2, 2), value, dtype=torch.long)))


def _metric(tmp_path, header=HEADER):
    metric = ExitQualityMetric((2, 4), [str(tmp_path / 't.json')], ['miou'], header=header)
    metric.dataset_meta = dict(classes=('a', 'b'))
    return metric


def test_read_partial_header_cases(tmp_path):
    path = tmp_path / 'x.part0.jsonl'
    assert read_partial_header(str(path)) is None  # missing
    path.write_text('')
    assert read_partial_header(str(path)) is None  # empty
    path.write_text('{"header": {"config": "/c')
    assert read_partial_header(str(path)) is None  # header cut short, nothing after it
    path.write_text(json.dumps(dict(header=HEADER)) + '\n')
    assert read_partial_header(str(path)) == HEADER
    path.write_text(json.dumps(dict(img_id=1, quality=dict(miou=[0.5, 0.5]))) + '\n')
    with pytest.raises(ValueError, match=r'x\.part0\.jsonl has no header record'):
        read_partial_header(str(path))


def test_metric_writes_header_first_and_replaces_a_cut_header(tmp_path):
    part = tmp_path / 't.json.part0.jsonl'
    part.write_text('{"header": {"conf')  # the previous run died while writing its header
    metric = _metric(tmp_path)
    metric.process(None, [_semantic_pred('a', 2, 0), _semantic_pred('a', 4, 1)])
    lines = part.read_text().splitlines()
    assert json.loads(lines[0]) == dict(header=HEADER) and len(lines) == 2
    metric.process(None, [_semantic_pred('b', 2, 0), _semantic_pred('b', 4, 0)])
    assert len(part.read_text().splitlines()) == 3  # appended under the same header
    rows = read_partials(str(tmp_path / 't.json'))
    assert rows == {'a': dict(miou=[1.0, 0.0]), 'b': dict(miou=[1.0, 1.0])}
    check_partials(str(tmp_path / 't.json'), HEADER)  # the same settings: no error
    with pytest.raises(ValueError, match=r"was made with limit=None, this run has limit=2"):
        check_partials(str(tmp_path / 't.json'), dict(HEADER, limit=2))


def test_compute_refuses_foreign_partial_and_keeps_it(tmp_path):
    other = tmp_path / 't.json.part1.jsonl'
    other.write_text(json.dumps(dict(header=dict(HEADER, exits=[2, 3]))) + '\n' +
                     json.dumps(dict(img_id='z', quality=dict(miou=[0.1, 0.2]))) + '\n')
    metric = _metric(tmp_path)
    metric.process(None, [_semantic_pred('a', 2, 0), _semantic_pred('a', 4, 0)])
    with pytest.raises(ValueError, match=r't\.json\.part1\.jsonl was made with exits=\[2, 3\]'):
        metric.compute_metrics(metric.results)
    assert other.exists() and not (tmp_path / 't.json').exists()
    assert np.isfinite(read_partials(str(tmp_path / 't.json'))['a']['miou']).all()
