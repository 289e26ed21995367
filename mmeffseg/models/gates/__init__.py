from .base_exit_gate import BaseExitGate, check_exit_range, check_exits
from .quality_table import ExitQualityTable, dataset_source, exit_labels, write_quality_table
from .token_mean_exit_gate import TokenMeanExitGate

__all__ = [
    'BaseExitGate', 'TokenMeanExitGate', 'check_exits', 'check_exit_range', 'ExitQualityTable',
    'exit_labels', 'write_quality_table', 'dataset_source'
]
