"""ClassIoUMetric: mmseg's means unchanged, plus one IoU per class from the same areas."""
import math

import torch

from mmeffseg.evaluation import ClassIoUMetric


def _areas(intersect, union, pred, label):
    return tuple(torch.tensor(v, dtype=torch.float64) for v in (intersect, union, pred, label))


def test_per_class_iou_from_summed_areas():
    metric = ClassIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=('sky', 'road', 'car'))
    # Two images: areas add up over images before dividing (mmseg's rule).
    results = [_areas([3, 0, 1], [4, 2, 2], [3, 1, 2], [4, 1, 1]),
               _areas([1, 0, 0], [4, 0, 1], [2, 0, 1], [3, 0, 0])]
    out = metric.compute_metrics(results)
    assert out['IoU.sky'] == round(100 * 4 / 8, 2)
    assert out['IoU.road'] == 0.0
    assert out['IoU.car'] == round(100 * 1 / 3, 2)
    # mmseg's mean over the classes, untouched.
    assert math.isclose(out['mIoU'], round((50.0 + 0.0 + 100 / 3) / 3, 2), abs_tol=0.01)


def test_absent_class_has_no_iou():
    metric = ClassIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=('sky', 'road'))
    out = metric.compute_metrics([_areas([2, 0], [2, 0], [2, 0], [2, 0])])
    assert out['IoU.sky'] == 100.0
    assert math.isnan(out['IoU.road'])
