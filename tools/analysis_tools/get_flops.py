"""Per-image FLOPs (1 FLOP = 1 multiply-add) and parameters of an mmeffseg, mmdet or mmseg model.

Counts what mmengine's analyzer misses (deformable-attention sampling on CPU and GPU, fused
scaled-dot-product attention, attention matmuls, scatter-adds of token merging) and averages
dynamic models (token merging/pruning, early exits) over images. See docs/cost_tools.md.

Examples:
    python tools/analysis_tools/get_flops.py CONFIG --shape 1024 1024
    python tools/analysis_tools/get_flops.py CONFIG --num-images 100 --out flops.json
    python tools/analysis_tools/get_flops.py CONFIG --shape 512 512 --mode paper --compare
    python tools/analysis_tools/get_flops.py \
        mmseg::segmenter/segmenter_vit-t_mask_8xb1-160k_ade20k-512x512.py --shape 512 512
"""
from mmeffseg.analysis import (COUNT_MODES, cost_tool_parser, format_cost_table,
                               format_summary_block, measure_model_cost, prepare_inputs,
                               print_and_save, run_cli)
from mmeffseg.analysis.reference_counters import reference_flops


def parse_args(argv=None):
    parser = cost_tool_parser(__doc__)
    parser.add_argument('--mode', choices=sorted(COUNT_MODES), default='full',
                        help="what the headline counts: 'full' (everything counted), 'paper' "
                        "(matrix products = torch FlopCounterMode / 2), 'linear-conv'")
    parser.add_argument('--parts', nargs='+', help='module-name prefixes to break down by '
                        '(default: backbone, neck, heads and known sub-parts)')
    parser.add_argument('--time-plain', action='store_true',
                        help="also time an uncounted forward per image (the tool's overhead)")
    parser.add_argument('--compare', action='store_true',
                        help="also count the first batch with torch's FlopCounterMode (/2) and "
                        "mmengine's FlopAnalyzer (mmdet's / mmseg's get_flops)")
    parser.add_argument('--out', help='write the full result as JSON here')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    _, model, batches, inputs = prepare_inputs(args)

    summary = measure_model_cost(model, batches, args.parts, args.forward, args.time_plain,
                                 progress=True)
    summary.update(config=args.config, inputs=inputs, mode=args.mode,
                   checkpoint=args.checkpoint)
    print(format_cost_table(summary, args.mode, title=f'{args.config}: {inputs}'))
    if args.compare:
        summary['reference'] = reference_flops(model, batches[0], args.forward)
        print(', '.join(
            f'{name}: ' + ('n/a (its JIT trace cannot follow a predict forward)'
                           if value is None else f'{value / 1e9:.4f} G')
            for name, value in summary['reference'].items())
            + ' (first batch; 1 FLOP = 1 multiply-add)')
    print_and_save(format_summary_block(summary, args.mode), summary, args.out)


if __name__ == '__main__':
    run_cli(main, 'get_flops.py')
