import json

import numpy as np
import pytest
import torch

from mmeffseg.models.gates import ExitQualityTable, exit_labels, write_quality_table

EXITS = (2, 3, 4, 5, 6)


def test_exit_labels_formula_and_ties():
    q = np.array([[0.5, 0.6, 0.7, 0.7, 0.71],   # beta 0 -> 6; .05 -> 4; .2 -> 2
                  [0.3, 0.3, 0.3, 0.3, 0.3],    # ties -> cheapest exit
                  [0.0, 0.0, 0.0, 0.0, 0.9]])
    assert exit_labels(q, EXITS, 0.0).tolist() == [4, 0, 4]
    assert exit_labels(q, EXITS, 0.05).tolist() == [2, 0, 4]
    assert exit_labels(q, EXITS, 0.2).tolist() == [0, 0, 4]
    # Brute force the definition argmax_k(q_k - beta * k).
    rng = np.random.default_rng(0)
    q = rng.random((50, 5))
    for beta in (0.0, 0.01, 0.1):
        expect = [int(np.argmax([q[i, j] - beta * k for j, k in enumerate(EXITS)]))
                  for i in range(50)]
        assert exit_labels(q, EXITS, beta).tolist() == expect


def test_exit_labels_exact_decimal_ties():
    """Ties that are exact in decimals go to the cheaper exit, whatever float rounding says."""
    # q_2 - 0.01 * 2 == q_3 - 0.01 * 3 == 0.27, but in floats the second is larger.
    assert 0.30 - 0.01 * 3 > 0.29 - 0.01 * 2
    assert exit_labels(np.array([[0.29, 0.30]]), (2, 3), 0.01).tolist() == [0]
    # A grid of qualities on 0.01 steps and betas on 0.01 steps: the rule in exact integer
    # arithmetic (hundredths) must agree with the labels everywhere.
    rng = np.random.default_rng(0)
    cents = rng.integers(0, 101, size=(3000, len(EXITS)))
    for beta_cents in range(9):
        utility = cents - beta_cents * np.asarray(EXITS)[None, :]
        expect = np.argmax(utility == utility.max(axis=1, keepdims=True), axis=1)
        got = exit_labels(cents / 100.0, EXITS, beta_cents / 100.0)
        assert got.tolist() == expect.tolist(), f'beta={beta_cents / 100}'


def test_roundtrip_labels_and_histogram(tmp_path):
    path = str(tmp_path / 't.json')
    write_quality_table(path, {7: [0.1, 0.2, 0.3, 0.4, 0.5], 3: [0.9, 0.9, 0.9, 0.9, 0.9]},
                        EXITS, metadata=dict(metric='pq'))
    data = json.load(open(path))
    assert list(data['quality']) == ['3', '7']  # numeric order
    assert data['metadata']['exits'] == list(EXITS) and data['metadata']['num_images'] == 2
    table = ExitQualityTable(path, EXITS)
    assert len(table) == 2 and 7 in table and '3' in table
    assert table.labels([7, 3], 0.0).tolist() == [4, 0]
    assert table.labels([7], 0.2).tolist() == [0]
    assert isinstance(table.labels([7], 0.0), torch.Tensor)
    assert table.histogram(0.0) == {2: 1, 3: 0, 4: 0, 5: 0, 6: 1}
    assert table.histogram(0.0, [3]) == {2: 1, 3: 0, 4: 0, 5: 0, 6: 0}


def _write_raw(tmp_path, quality, exits=EXITS):
    path = tmp_path / 'raw.json'
    path.write_text(json.dumps(dict(metadata=dict(exits=list(exits)), quality=quality)))
    return str(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='nope.json'):
        ExitQualityTable('/nonexistent/nope.json')


def test_value_out_of_range_names_file_and_image(tmp_path):
    path = _write_raw(tmp_path, {'1': [0.1] * 5, '2': [0.1, 0.2, 1.5, 0.1, 0.1],
                                 '3': [-1.0] * 5})
    with pytest.raises(ValueError, match=r"raw\.json.*image 2 .*outside \[0, 1\]"):
        ExitQualityTable(path)
    path = _write_raw(tmp_path, {'1': [0.1, float('nan'), 0.1, 0.1, 0.1]})
    with pytest.raises(ValueError, match='image 1'):
        ExitQualityTable(path)


def test_wrong_row_length_and_exit_set(tmp_path):
    path = _write_raw(tmp_path, {'4': [0.1] * 4})
    with pytest.raises(ValueError, match='image 4'):
        ExitQualityTable(path)
    path = _write_raw(tmp_path, {'4': [0.1] * 3}, exits=(2, 4, 6))
    with pytest.raises(ValueError, match=r'raw\.json.*exits \[2, 4, 6\].*\[2, 3, 4, 5, 6\]'):
        ExitQualityTable(path, EXITS)


def test_missing_training_images(tmp_path):
    path = _write_raw(tmp_path, {'1': [0.1] * 5, '2': [0.1] * 5})
    table = ExitQualityTable(path, EXITS)
    table.check_covers([1, 2])
    with pytest.raises(ValueError, match=r'raw\.json.*misses image 5 '):
        table.check_covers([1, 5, 6])
    with pytest.raises(ValueError, match='misses image 9'):
        table.labels([1, 9], 0.0)


def test_malformed(tmp_path):
    p = tmp_path / 'bad.json'
    p.write_text('{not json')
    with pytest.raises(ValueError, match='bad.json'):
        ExitQualityTable(str(p))
    p.write_text(json.dumps({'quality': {}}))
    with pytest.raises(ValueError, match='metadata'):
        ExitQualityTable(str(p))


def test_full_disk_keeps_previous_table(tmp_path, monkeypatch):
    import errno
    import os

    from mmeffseg.utils import output_files
    path = str(tmp_path / 't.json')
    write_quality_table(path, {1: [0.5] * 5}, EXITS)
    before = open(path).read()

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(output_files.os, 'replace', no_space)
    with pytest.raises(OSError, match='t.json'):
        write_quality_table(path, {1: [0.1] * 5, 2: [0.2] * 5}, EXITS)
    assert open(path).read() == before  # not truncated, not half-written
    assert os.listdir(tmp_path) == ['t.json']  # no temporary file left behind
