"""Every ECO-M2F config adds the exit statistics to its base's evaluators as one flat list:
mmengine's Evaluator takes a list of metric configs, not a list holding a list."""
import glob
import os.path as osp

import pytest

from mmeffseg.apis import read_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'ecom2f', 'ecom2f-*.py')) +
                 glob.glob(osp.join(ROOT, 'projects', 'proscale_ecom2f', 'configs', '*.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_evaluators_are_flat_and_count_exits(path):
    cfg = read_config(path)
    for key in ('val_evaluator', 'test_evaluator'):
        evaluator = cfg.get(key)
        if evaluator is None:
            continue
        metrics = evaluator if isinstance(evaluator, list) else [evaluator]
        assert all(isinstance(m, dict) and 'type' in m for m in metrics), (key, evaluator)
        assert [m['type'] for m in metrics].count('ExitStatisticsMetric') == 1, key
