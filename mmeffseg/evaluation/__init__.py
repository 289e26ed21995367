from .class_iou_metric import ClassIoUMetric
from .exit_quality_metric import (ExitQualityMetric, check_partials, read_partial_header,
                                  read_partials, remove_partials)
from .exit_statistics_metric import ExitStatisticsMetric

__all__ = ['ClassIoUMetric', 'ExitQualityMetric', 'ExitStatisticsMetric', 'read_partials',
           'read_partial_header', 'check_partials', 'remove_partials']
