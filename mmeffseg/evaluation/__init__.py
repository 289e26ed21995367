from .exit_quality_metric import ExitQualityMetric, read_partials
from .exit_statistics_metric import ExitStatisticsMetric

__all__ = ['ExitQualityMetric', 'ExitStatisticsMetric', 'read_partials']
