"""Which encoder exits an early-exit model took, as an mmengine metric (ECO-M2F inference)."""
from collections import Counter
from typing import Dict, List, Sequence

from mmdet.registry import METRICS as MMDET_METRICS
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS as MMSEG_METRICS


@MMSEG_METRICS.register_module()
@MMDET_METRICS.register_module()
class ExitStatisticsMetric(BaseMetric):
    """Mean exit and exit histogram over an evaluation.

    Reads ``metainfo['exit_layers']`` of every prediction (written by ``EcoM2F`` and
    ``EcoM2FSegmentor``). Results: ``mean_exit`` and one ``exit_<k>`` count per exit taken,
    gathered over ranks by mmengine's evaluator, so ``runner.test()`` and reports read them like
    any other metric. Add it next to the quality metric::

        val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                         dict(type='ExitStatisticsMetric')]

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'``, as in mmengine. Defaults to ``'cpu'``.
        prefix (str): Metric name prefix. Defaults to ``'exits'``.
    """

    default_prefix = 'exits'

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep each prediction's exit."""
        for ds in data_samples:
            meta = ds.get('metainfo', ds) if isinstance(ds, dict) else ds.metainfo
            if 'exit_layers' not in meta:
                raise ValueError('ExitStatisticsMetric: a prediction has no '
                                 "metainfo['exit_layers']; use it with an ECO-M2F model "
                                 '(EcoM2F / EcoM2FSegmentor).')
            self.results.append(int(meta['exit_layers']))

    def compute_metrics(self, results: List[int]) -> Dict[str, float]:
        """Mean exit and per-exit image counts."""
        if not results:
            return {}
        hist = Counter(results)
        metrics = {'mean_exit': sum(results) / len(results)}
        metrics.update({f'exit_{k}': float(hist[k]) for k in sorted(hist)})
        return metrics
