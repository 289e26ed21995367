"""ExitStatisticsMetric: the exits of an evaluation as metrics, through mmengine's Evaluator."""
import pytest
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmseg.structures import SegDataSample

import mmeffseg  # noqa: F401  (registers the metric)


def _evaluator():
    with DefaultScope.overwrite_default_scope('mmseg'):  # as in an mmseg config
        return Evaluator(dict(type='ExitStatisticsMetric'))


def _samples(exits):
    return [SegDataSample(metainfo=dict(exit_layers=k)) for k in exits]


def test_mean_exit_and_histogram():
    evaluator = _evaluator()
    evaluator.process(_samples([2, 6, 6]))
    evaluator.process(_samples([3]))
    metrics = evaluator.evaluate(4)
    assert metrics == {'exits/mean_exit': 17 / 4, 'exits/exit_2': 1.0, 'exits/exit_3': 1.0,
                       'exits/exit_6': 2.0}


def test_prediction_without_exit_is_an_error():
    evaluator = _evaluator()
    with pytest.raises(ValueError, match='exit_layers'):
        evaluator.process([SegDataSample()])
