import logging
from types import SimpleNamespace

import pytest

from mmeffseg.engine import ExitGateLabelHook
from mmeffseg.models.gates import write_quality_table
from mmeffseg.testing.tiny_eco_m2f import EXITS, build_tiny


class _Dataset:
    def __init__(self, ids):
        self.ids = ids

    def __len__(self):
        return len(self.ids)

    def get_data_info(self, i):
        return dict(img_id=self.ids[i])


def _runner(model, ids, records):
    logger = logging.getLogger('ecom2f-hook-test')
    logger.info = records.append
    return SimpleNamespace(model=model, train_dataloader=SimpleNamespace(dataset=_Dataset(ids)),
                           logger=logger)


def test_hook_prints_histogram_and_checks_coverage(tmp_path):
    path = str(tmp_path / 'q.json')
    write_quality_table(path, {1: [0.1, 0.2, 0.3, 0.4, 0.5], 2: [0.5] * 5, 3: [0.0] * 5},
                        EXITS)
    model = build_tiny(train_mode='gate', quality_table=path, beta=0.01)
    records = []
    ExitGateLabelHook().before_train(_runner(model, [1, 2, 3, 1], records))
    text = records[0]
    assert 'beta=0.01' in text and '3 images' in text
    assert 'exit 2:       2' in text and 'exit 6:       1' in text
    with pytest.raises(ValueError, match=r'q\.json.*misses image 4'):
        ExitGateLabelHook().before_train(_runner(model, [1, 4], []))


def test_hook_ignores_parent_training():
    records = []
    ExitGateLabelHook().before_train(_runner(build_tiny(), [1], records))
    assert records == []
