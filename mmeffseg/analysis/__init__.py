"""Honest cost tools: per-image FLOPs by part and category, latency, efficiency reports."""
from .cli_args import (add_input_args, add_model_args, cost_tool_parser, describe_inputs,
                       input_batches, prepare, prepare_inputs, print_and_save, run_cli,
                       write_json)
from .cost_counter import CostCounter, count_macs
from .deform_attn_cost import deform_attn_core_macs
from .dynamic_stats import (backbone_dynamic_stats, collect_dynamic_stats, dynamic_figures,
                            summarize_dynamic_stats)
from .model_cost import (cost_figures, format_cost_table, format_summary_block,
                         measure_model_cost)
from .model_inputs import (check_shape, dataset_batches, image_batches, resized_test_config,
                           run_network, shape_batches)
from .op_costs import CATEGORIES, COUNT_MODES, total_for_mode
from .parts import default_parts, parameter_counts, part_totals
from .side_by_side import measure_side_by_side, model_variants
from .timing import (benchmark_model, benchmark_models, format_benchmark, latency_stats,
                     timing_figures)

__all__ = [
    'CostCounter', 'count_macs', 'deform_attn_core_macs', 'CATEGORIES', 'COUNT_MODES',
    'total_for_mode', 'measure_model_cost', 'cost_figures', 'format_cost_table',
    'format_summary_block', 'timing_figures', 'image_batches', 'resized_test_config',
    'benchmark_model', 'benchmark_models', 'format_benchmark', 'latency_stats', 'shape_batches',
    'dataset_batches', 'check_shape', 'run_network', 'default_parts', 'parameter_counts',
    'part_totals', 'collect_dynamic_stats', 'summarize_dynamic_stats', 'dynamic_figures',
    'backbone_dynamic_stats', 'measure_side_by_side', 'model_variants', 'add_input_args',
    'add_model_args', 'cost_tool_parser', 'prepare', 'prepare_inputs', 'input_batches',
    'describe_inputs', 'write_json', 'print_and_save', 'run_cli'
]
