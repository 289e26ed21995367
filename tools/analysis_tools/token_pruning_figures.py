"""Token-pruning figures, measured side by side in one process with the same weights.

1. Keep ratio per pruned layer on real images at the config's test scale: the deterministic
   decision (``p_keep > threshold``) and the Gumbel-sampled one (what training constrains).
2. At a fixed size (default 1024x1024, real images resized and padded): per-image GFLOPs (1 FLOP
   = 1 multiply-add), the mean keep ratio per pruned layer, and CPU/GPU latency of the backbone
   and of the whole network, dense (every selector forced to keep all tokens: the dense model
   with the same weights) against pruned, measured side by side
   (:func:`mmeffseg.analysis.measure_side_by_side`: the modes are copies sharing the weights,
   timed interleaved, so that a drifting load on a shared CPU hits every mode alike).

Example::

    python tools/analysis_tools/token_pruning_figures.py \\
        configs/token_pruning/token-pruning_mask-rcnn_vit-s-sfp_1xb2-60i_coco128.py \\
        --checkpoint work_dirs/token-pruning_mask-rcnn_vit-s-sfp_1xb2-60i_coco128/iter_60.pth \\
        --keep-images 128 --size 1024 --num-images 2 --out work_dirs/token_pruning_figures.json
"""
import argparse
import json
import os.path as osp
import time
from typing import Dict, List

import torch
from mmengine.config import DictAction

from mmeffseg.analysis import (backbone_dynamic_stats, dataset_batches, dynamic_figures,
                               measure_side_by_side, model_variants, resized_test_config)
from mmeffseg.apis import build_model, load_config
from mmeffseg.models.token_reducers import TokenSelector, set_token_pruning, token_selectors
from mmeffseg.utils.output_files import write_json


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Keep ratios, GFLOPs and latency of token '
                                     'pruning against the dense model with the same weights')
    parser.add_argument('config', help='a token-pruning config (selectors in the backbone)')
    parser.add_argument('--checkpoint', default=None, help='fine-tuned weights')
    parser.add_argument('--keep-images', type=int, default=128,
                        help='test images for the keep ratios (config test scale)')
    parser.add_argument('--size', type=int, default=1024,
                        help='square size for GFLOPs and latency (0: skip that part)')
    parser.add_argument('--num-images', type=int, default=2,
                        help='real images (resized + padded to --size) for GFLOPs and latency')
    parser.add_argument('--decisions', nargs='+', default=['threshold'],
                        choices=['threshold', 'gumbel'],
                        help='pruned decision modes to measure against dense')
    parser.add_argument('--warmup', type=int, default=1, help='untimed forwards per mode')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed rounds: every mode runs once a round (dense and pruned '
                        'forwards alternate, so a drifting load hits all alike)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--out', default=None, help='JSON output file')
    return parser.parse_args(argv)


def selectors(model) -> List[TokenSelector]:
    found = token_selectors(model)
    if not found:
        raise ValueError('the model has no TokenSelector: give a token-pruning config')
    return found


def set_mode(model, mode: str) -> None:
    if mode == 'dense':
        set_token_pruning(model, keep_all=True)
    else:
        set_token_pruning(model, keep_all=False, test_decision=mode)


def keep_ratios(model, batches: List[dict]) -> Dict[str, List[float]]:
    """Keep ratio per pruned layer over the images (mean, min, max), per decision mode."""
    out = {}
    for mode in ('threshold', 'gumbel'):
        set_mode(model, mode)
        torch.manual_seed(0)
        figures = dynamic_figures(backbone_dynamic_stats(model, batches))
        for suffix, key in (('', 'keep_ratio_per_layer'), ('_min', 'keep_ratio_min_per_layer'),
                            ('_max', 'keep_ratio_max_per_layer')):
            out[mode + suffix] = figures[key]
    set_mode(model, 'threshold')
    return out


def run_figures(measured: dict) -> dict:
    """One mode's figures under the keys this tool has always written."""
    cost, timing = measured['cost'], measured['timing']['1']
    return dict(gflops=cost['gflops'], gflops_paper=cost['gflops_paper'],
                backbone_gflops=cost['backbone_gflops'], latency_s=timing['latency_median'],
                latency_iqr_s=timing['latency_iqr'], backbone_latency_s=timing['backbone_median'],
                backbone_latency_iqr_s=timing['backbone_iqr'],
                tokens_per_block=cost['tokens_per_block'],
                keep_ratio_per_layer=cost['keep_ratio_per_layer'])


@torch.no_grad()  # not torch.set_grad_enabled(False): a caller's (a test's) autograd stays on
def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg, args.checkpoint)
    sels = selectors(model)
    result = dict(config=args.config, checkpoint=args.checkpoint,
                  layers=[s.layer for s in sels], targets=[s.keep_target for s in sels],
                  torch_threads=torch.get_num_threads())
    t0 = time.time()
    if args.keep_images > 0:
        batches = list(dataset_batches(cfg, model, args.keep_images, 1))
        ratios = keep_ratios(model, batches)
        ratios['num_images'] = len(batches)
        ratios['input_shape'] = list(batches[0]['inputs'].shape[-2:])
        result['keep_ratios'] = ratios
        print(f'keep ratio per pruned layer, mean over {len(batches)} images at '
              f"{ratios['input_shape']} ({time.time() - t0:.0f} s):")
        print('  layer  target  threshold  gumbel')
        for i, (layer, rho) in enumerate(zip(result['layers'], result['targets'])):
            print(f"  {layer:5d}  {rho:6.3f}  {ratios['threshold'][i]:9.3f}  "
                  f"{ratios['gumbel'][i]:6.3f}")
    if args.size > 0:
        sized = resized_test_config(cfg, fit=args.size)
        batches = list(dataset_batches(sized, model, args.num_images, 1))
        shape = list(batches[0]['inputs'].shape[-2:])
        modes = ['dense'] + list(args.decisions)
        variants = model_variants(model, {m: lambda v, m=m: set_mode(v, m) for m in modes})
        measured = measure_side_by_side(variants, batches, {1: batches},
                                        dict(backbone='backbone'), ['backbone'], args.warmup,
                                        args.repeats)
        runs = {mode: run_figures(measured[mode]) for mode in modes}
        dense = runs['dense']
        for mode in modes:
            print(f'[{mode}] {json.dumps(runs[mode])} ({time.time() - t0:.0f} s)')
        for mode in args.decisions:
            r = runs[mode]
            r['ratio_vs_dense'] = dict(
                gflops=r['gflops'] / dense['gflops'],
                backbone_gflops=r['backbone_gflops'] / dense['backbone_gflops'],
                latency=r['latency_s'] / dense['latency_s'],
                backbone_latency=r['backbone_latency_s'] / dense['backbone_latency_s'])
            print(f"{mode} vs dense at {shape} (latency: interleaved, median of "
                  f"{args.repeats}): backbone GFLOPs {r['backbone_gflops']:.1f} / "
                  f"{dense['backbone_gflops']:.1f} = {r['ratio_vs_dense']['backbone_gflops']:.3f}"
                  f"; whole GFLOPs {r['gflops']:.1f} / {dense['gflops']:.1f} = "
                  f"{r['ratio_vs_dense']['gflops']:.3f}; backbone latency "
                  f"{r['backbone_latency_s']:.2f} / {dense['backbone_latency_s']:.2f} s = "
                  f"{r['ratio_vs_dense']['backbone_latency']:.3f}; whole latency "
                  f"{r['latency_s']:.2f} / {dense['latency_s']:.2f} s = "
                  f"{r['ratio_vs_dense']['latency']:.3f}")
        result['cost'] = dict(input_shape=shape, num_images=len(batches), runs=runs,
                              warmup=args.warmup, repeats=args.repeats, timing='interleaved')
    if args.out:
        write_json(args.out, result)
        print(f'wrote {osp.abspath(args.out)}')


if __name__ == '__main__':
    main()
