from .exit_statistics_metric import ExitStatisticsMetric

__all__ = ['ExitStatisticsMetric']
