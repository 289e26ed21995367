"""Latency (median and spread after warm-up) and throughput of a model, whole and per part.

Examples:
    python tools/analysis_tools/benchmark.py CONFIG --shape 512 512 --batch-size 1
    python tools/analysis_tools/benchmark.py CONFIG --num-images 20 --device cuda --out b.json
    python tools/analysis_tools/benchmark.py CONFIG --shape 384 384 \
        --part panoptic_head.pixel_decoder
"""
from mmeffseg.analysis import (benchmark_model, cost_tool_parser, default_parts, format_benchmark,
                               prepare_inputs, print_and_save, run_cli)
from mmeffseg.analysis.parts import check_parts


def parse_args(argv=None):
    parser = cost_tool_parser(__doc__)
    parser.add_argument('--warmup', type=int, default=3, help='untimed forwards first')
    parser.add_argument('--repeats', type=int, default=10, help='timed forwards')
    parser.add_argument('--part', action='append', default=[],
                        help='time this submodule too (dotted name); repeatable')
    parser.add_argument('--no-parts', action='store_true',
                        help='time the whole model only (no per-part pass)')
    parser.add_argument('--out', help='write the result as JSON here')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # Synthetic inputs: one batch is enough; dataset images: all are cycled through.
    _, model, batches, inputs = prepare_inputs(args)
    parts = [] if args.no_parts else default_parts(model)
    parts += [p for p in check_parts(model, args.part) if p not in parts]
    result = benchmark_model(model, batches, args.warmup, args.repeats, parts, args.forward,
                             progress=True)
    result.update(config=args.config, inputs=inputs)
    print_and_save(format_benchmark(result, title=f'{args.config}: {inputs}'), result, args.out)


if __name__ == '__main__':
    run_cli(main, 'benchmark.py')
