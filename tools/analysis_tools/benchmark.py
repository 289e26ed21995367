"""Latency (median and spread after warm-up) and throughput of a model, whole and per part.

Examples:
    python tools/analysis_tools/benchmark.py CONFIG --shape 512 512 --batch-size 1
    python tools/analysis_tools/benchmark.py CONFIG --num-images 20 --device cuda --out b.json
    python tools/analysis_tools/benchmark.py CONFIG --shape 384 384 \
        --part panoptic_head.pixel_decoder
"""
import argparse

from mmeffseg.analysis import (add_input_args, add_model_args, benchmark_model, default_parts,
                               describe_inputs, format_benchmark, input_batches, prepare,
                               print_and_save, run_cli)
from mmeffseg.analysis.parts import check_parts
from mmeffseg.utils.output_files import prepare_output_file


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help="config file or name, or 'mmdet::...' / 'mmseg::...' / "
                        "'mmeffseg::...'")
    add_input_args(parser)
    add_model_args(parser)
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
    if args.out:
        prepare_output_file(args.out)  # before minutes of work, not after
    cfg, model = prepare(args.config, args, args.checkpoint)
    # Synthetic inputs: one batch is enough; dataset images: all are cycled through.
    batches = input_batches(cfg, model, args)
    parts = [] if args.no_parts else default_parts(model)
    parts += [p for p in check_parts(model, args.part) if p not in parts]
    result = benchmark_model(model, batches, args.warmup, args.repeats, parts, args.forward,
                             progress=True)
    inputs = describe_inputs(args, batches)
    result.update(config=args.config, inputs=inputs)
    print_and_save(format_benchmark(result, title=f'{args.config}: {inputs}'), result, args.out)


if __name__ == '__main__':
    run_cli(main, 'benchmark.py')
