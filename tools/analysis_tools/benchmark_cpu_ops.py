"""Time mmeffseg's CPU ops against the ops they stand in for, on random inputs.

* deformable-attention core: mmcv's ``multi_scale_deformable_attn_pytorch`` vs
  ``multi_scale_deformable_attn_gather`` for one encoder layer's call (every token a query);
* LPE's pool: ``F.max_pool2d(x, 3, 1, 1)`` vs ``max_filter2d`` on one ``(1, C, H, W)`` map;
* the pixel decoder's steps around the encoder on that map, one op at a time (why its time
  does not follow its FLOPs: docs/proscale.md): the 3x3 output conv that LPE removes, the 1x1
  convs both keep (GFLOP/s), and the FLOP-free GroupNorm, 2x bilinear upsampling, add, ReLU
  and in-place max filter.

Both pairs are checked for equal outputs first. Defaults: Mask2Former R50 at 1024x1024 (levels
32x32, 64x64, 128x128; 8 heads of 32 channels, 4 points; the 256-channel stride-4 map).

Example:
    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_cpu_ops.py --repeats 5
"""
import argparse
import math

import torch
import torch.nn.functional as F

from mmeffseg.analysis.timing import CALL_BATCH, TimedCall, benchmark_models
from mmeffseg.ops import (CPU_DEFORM_ATTN_IMPLS, max_filter2d,
                          multi_scale_deformable_attn_gather)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--levels', type=int, nargs='+', default=[32, 64, 128],
                        help='square level sizes of the deformable attention, coarsest first')
    parser.add_argument('--heads', type=int, default=8)
    parser.add_argument('--head-dims', type=int, default=32)
    parser.add_argument('--points', type=int, default=4)
    parser.add_argument('--map', type=int, nargs=3, default=[256, 256, 256],
                        metavar=('C', 'H', 'W'), help='map of the max-pool comparison')
    parser.add_argument('--repeats', type=int, default=5)
    return parser.parse_args(argv)


def _time_pair(reference, replacement, repeats: int) -> tuple:
    """Latency statistics of two calls, timed interleaved after one warm-up each."""
    results = benchmark_models([TimedCall(reference), TimedCall(replacement)],
                               [[CALL_BATCH]] * 2, warmup=1, repeats=repeats)
    return results[0]['latency'], results[1]['latency']


@torch.no_grad()
def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(0)
    shapes = torch.tensor([[s, s] for s in args.levels])
    keys = int(shapes.prod(1).sum())
    levels = len(args.levels)
    value = torch.randn(1, keys, args.heads, args.head_dims)
    loc = torch.rand(1, keys, args.heads, levels, args.points, 2) * 1.2 - 0.1
    attn = torch.rand(1, keys, args.heads, levels, args.points)
    attn = attn.flatten(-2).softmax(-1).view_as(attn)
    mmcv_core = CPU_DEFORM_ATTN_IMPLS['mmcv']
    diff = (mmcv_core(value, shapes, loc, attn) -
            multi_scale_deformable_attn_gather(value, shapes, loc, attn)).abs().max().item()
    ref, new = _time_pair(lambda: mmcv_core(value, shapes, loc, attn),
                          lambda: multi_scale_deformable_attn_gather(value, shapes, loc, attn),
                          args.repeats)
    print(f'deformable-attention core, {keys} queries, levels {args.levels}, '
          f'{args.heads}x{args.head_dims} channels, {args.points} points '
          f'({torch.get_num_threads()} thread(s), max abs diff {diff:.2e}):')
    print(f"  mmcv {ref['median'] * 1e3:.1f} ms, gather {new['median'] * 1e3:.1f} ms "
          f"(median of {args.repeats}) -> {ref['median'] / new['median']:.2f}x faster")

    x = torch.randn(1, *args.map)
    same = torch.equal(F.max_pool2d(x, 3, 1, 1), max_filter2d(x, 3))
    ref, new = _time_pair(lambda: F.max_pool2d(x, 3, 1, 1), lambda: max_filter2d(x, 3),
                          args.repeats)
    print(f'3x3 max-pool, stride 1, map {tuple(x.shape)} (equal outputs: {same}):')
    print(f"  F.max_pool2d {ref['median'] * 1e3:.1f} ms, max_filter2d {new['median'] * 1e3:.1f} "
          f"ms (median of {args.repeats}) -> {ref['median'] / new['median']:.2f}x faster")
    _fpn_steps(x, args.repeats)


def _fpn_steps(x: torch.Tensor, repeats: int) -> None:
    """Each step of the stride-4 FPN / output stage on map ``x``, timed interleaved."""
    c, h, w = x.shape[1:]
    w3, w1, bias = torch.randn(c, c, 3, 3), torch.randn(c, c, 1, 1), torch.randn(c)
    norm = torch.nn.GroupNorm(math.gcd(32, c), c)  # Mask2Former's 32 groups
    small = torch.randn(1, c, max(1, h // 2), max(1, w // 2))
    scratch = x.clone()
    steps = {
        'conv 3x3 (output conv, removed by LPE)':
        (lambda: F.conv2d(x, w3, bias, padding=1), c * c * 9 * h * w),
        'conv 1x1 (lateral / mask features)': (lambda: F.conv2d(x, w1, bias), c * c * h * w),
        f'GroupNorm({norm.num_groups})': (lambda: norm(x), 0),
        'bilinear 2x upsample': (lambda: F.interpolate(small, size=(h, w), mode='bilinear',
                                                       align_corners=False), 0),
        'add (FPN sum, in place)': (lambda: scratch.add_(x), 0),
        'ReLU (in place)': (lambda: scratch.relu_(), 0),
        'max_filter2d 3x3 (LPE, in place)': (lambda: max_filter2d(scratch, 3, inplace=True), 0),
    }
    results = benchmark_models([TimedCall(fn) for fn, _ in steps.values()],
                               [[CALL_BATCH]] * len(steps), warmup=1, repeats=repeats)
    print(f'pixel-decoder steps on map {tuple(x.shape)}, interleaved (median of {repeats}):')
    for (name, (_, macs)), result in zip(steps.items(), results):
        ms = result['latency']['median'] * 1e3
        rate = f', {macs / ms / 1e6:.0f} GFLOP/s ({macs / 1e9:.1f} GFLOPs)' if macs else ''
        print(f'  {name}: {ms:.1f} ms{rate}')


if __name__ == '__main__':
    main()
