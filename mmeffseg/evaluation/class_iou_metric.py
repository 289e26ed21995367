"""mmseg's IoUMetric that also returns the per-class IoU it otherwise only prints."""
from typing import Dict

import torch
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class ClassIoUMetric(IoUMetric):
    """:class:`mmseg.evaluation.IoUMetric` plus one ``IoU.<class>`` entry per class.

    mmseg logs the per-class table but returns only the means; reports that compare methods
    class by class (the CamVid study) need the values. The means are mmseg's, unchanged.
    A class absent from both the labels and the predictions has no IoU (``nan``), as in mmseg.
    """

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = super().compute_metrics(results)
        if self.format_only or not results:
            return metrics
        intersect = sum(r[0] for r in results)
        union = sum(r[1] for r in results)
        iou = (intersect / union).tolist() if isinstance(intersect, torch.Tensor) else []
        for name, value in zip(self.dataset_meta['classes'], iou):
            metrics[f'IoU.{name}'] = round(100.0 * value, 2)
        return metrics
