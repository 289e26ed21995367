"""Baseline vs method configs side by side: FLOPs, latency and quality; markdown + JSON + PNG.

Examples:
    # the README's main command: brief training from scratch on the embedded data
    python tools/analysis_tools/efficiency_report.py \
        --baseline configs/mask2former/mask2former_r18-lite_1xb2-300i_embedded-panoptic.py \
        --methods configs/proscale/...embedded-panoptic.py configs/ecom2f/...embedded-panoptic.py \
        --train-iters 40 --out-dir work_dirs/efficiency_report
    # with trained checkpoints (one per config, 'none' to skip)
    python tools/analysis_tools/efficiency_report.py --baseline B.py --methods M.py \
        --checkpoints b.pth m.pth --num-images 50
    # PRO-SCALE's pixel-decoder figures at 1024x1024 (no training), faster CPU core for both
    python tools/analysis_tools/efficiency_report.py \
        --baseline configs/mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py \
        --methods configs/proscale/proscale-333-trc-lpe_r50_8xb2-lsj-50e_coco-panoptic.py \
        --shape 1024 1024 --repeats 5 --cpu-deform-attn gather
"""
import argparse
import sys

from mmengine.config import DictAction

from mmeffseg.analysis.efficiency_report import (ReportOptions, report_markdown,
                                                 run_efficiency_report, write_report)
from mmeffseg.utils.output_files import prepare_output_dir
from mmeffseg.utils.run_setup import add_cpu_deform_attn_arg, add_keep_freed_memory_arg


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--baseline', required=True, help='baseline config')
    parser.add_argument('--methods', nargs='+', default=[], help='method configs')
    parser.add_argument('--checkpoints', nargs='+',
                        help="one per config, baseline first ('none' for none)")
    parser.add_argument('--train-iters', type=int, default=0,
                        help='train each config (without checkpoint) from scratch this many '
                        'iterations, then evaluate (0: no training, no quality)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--num-images', type=int, default=4,
                       help='test images for FLOPs and latency (batch 1)')
    group.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                       help='synthetic input instead of test images')
    parser.add_argument('--eval-images', type=int,
                        help='evaluate quality on the first N test images only')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--metric', help='quality metric key (default: PQ, mIoU or mask AP)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides applied to every config')
    parser.add_argument('--part', action='append', default=[],
                        help='also time this submodule (dotted name) besides the default parts '
                        '(backbone, pixel decoder, ...); repeatable')
    add_cpu_deform_attn_arg(parser)
    add_keep_freed_memory_arg(parser)
    parser.add_argument('--out-dir', default='work_dirs/efficiency_report')
    return parser.parse_args(argv)


def report_options(args: argparse.Namespace) -> ReportOptions:
    """The report's options from the parsed arguments (the one place they are mapped)."""
    return ReportOptions(
        checkpoints=args.checkpoints, train_iters=args.train_iters,
        num_images=None if args.shape else args.num_images,
        shape=tuple(args.shape) if args.shape else None, eval_images=args.eval_images,
        warmup=args.warmup, repeats=args.repeats, metric=args.metric,
        cfg_options=args.cfg_options, seed=args.seed, parts=tuple(args.part),
        cpu_deform_attn=args.cpu_deform_attn, keep_freed_memory=args.keep_freed_memory)


def main(argv=None):
    args = parse_args(argv)
    # An unwritable --out-dir is found now, not after minutes of training and timing.
    prepare_output_dir(args.out_dir, '--out-dir')
    report = run_efficiency_report(args.baseline, args.methods, report_options(args),
                                   log=lambda msg: print(msg, flush=True))
    print(report_markdown(report))  # the table is shown even if writing fails
    paths = write_report(report, args.out_dir)
    print(f"written: {paths['md']}, {paths['json']}, {paths['png']} "
          f"(total {report['seconds']:.0f} s)")


if __name__ == '__main__':
    try:
        main()
    except (ValueError, OSError) as err:  # bad input or output: one clear line (names the path)
        sys.exit(f'efficiency_report.py: error: {err}')
