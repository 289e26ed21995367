from .class_iou_metric import ClassIoUMetric
from .exit_quality_metric import ExitQualityMetric, read_partials
from .exit_statistics_metric import ExitStatisticsMetric

__all__ = ['ClassIoUMetric', 'ExitQualityMetric', 'ExitStatisticsMetric', 'read_partials']
