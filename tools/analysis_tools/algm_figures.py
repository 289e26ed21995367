"""ALGM figures: baseline Segmenter vs ALGM side by side on real images, and GFLOPs against tau.

Everything is measured in one process on the same images with the same weights (the ALGM
model gets the baseline's weights: ALGM adds no parameters), side by side by
:func:`mmeffseg.analysis.measure_side_by_side` (per-image FLOPs, 1 FLOP = 1 multiply-add;
throughput, the models timed interleaved per batch size; the token reducers' own time); the tau
curve counts copies of the ALGM model that differ only in the local tau
(:func:`mmeffseg.analysis.model_variants`). Images: the first N of each folder given to
``--images``, read through the baseline config's test pipeline
(:func:`~mmeffseg.analysis.model_inputs.image_batches`: the ADE20K configs resize the short side
to 512) and centre-cropped to ``--crop`` so that they can share a batch.

Example (ViT-S, tau 0.88, CamVid val + coco128, plus the tau curve)::

    OMP_NUM_THREADS=1 python tools/analysis_tools/algm_figures.py \\
        --pair configs/segmenter/segmenter_vit-s_mask_8xb1-160k_ade20k-512x512.py \\
               configs/algm/algm_segmenter_vit-s_mask_8xb1-160k_ade20k-512x512.py \\
        --images ../shared/data/camvid/images/val ../shared/data/coco128/train2017 \\
        --num-images 8 --taus 0.80 0.84 0.88 0.92 0.96 1.01 --out-dir work_dirs/algm_figures
"""
import argparse
import os.path as osp
import time
from typing import Dict, List, Optional

import torch

from mmeffseg.analysis import image_batches, measure_side_by_side, model_variants
from mmeffseg.analysis.model_inputs import collect_images
from mmeffseg.apis import build_model, load_config
from mmeffseg.utils.output_files import prepare_output_dir, write_json, write_text_atomic

PARTS = dict(backbone='backbone', head='decode_head')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pair', nargs=2, action='append', required=True,
                        metavar=('BASELINE', 'ALGM'),
                        help='a baseline config and its ALGM config; repeatable (ViT-T/S/B)')
    parser.add_argument('--images', nargs='+', required=True, help='image folders')
    parser.add_argument('--num-images', type=int, default=8, help='images per folder')
    parser.add_argument('--crop', type=int, default=512,
                        help='square centre crop after the test pipeline (padded if smaller)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed forwards per batch size (batches cycled)')
    parser.add_argument('--taus', type=float, nargs='*', default=[],
                        help='tau values for the GFLOPs-vs-tau curve (first pair only)')
    parser.add_argument('--no-timing', action='store_true', help='FLOPs and tokens only')
    parser.add_argument('--checkpoint', default=None,
                        help='weights for both models of the first pair (a baseline or an '
                        'ALGM checkpoint: the state dicts are the same); default: random init')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-dir', default='work_dirs/algm_figures')
    return parser.parse_args(argv)


def stage_tokens(tokens: Optional[List[float]], reducers) -> Dict[str, float]:
    """Tokens (CLS included) after each reducer's block: '<name>@<layer>' -> mean count."""
    if not tokens:
        return {}
    return {f'{type(r).__name__}@{r.layer}': tokens[r.layer] for r in reducers}


def set_local_tau(model, tau: float) -> None:
    model.backbone.reducers[0].tau = float(tau)


def main(argv=None) -> None:
    args = parse_args(argv)
    prepare_output_dir(args.out_dir)
    images = [path for folder in args.images for path in collect_images([folder], args.num_images)]
    print(f'{len(images)} images, {args.crop}x{args.crop}, torch threads '
          f'{torch.get_num_threads()}', flush=True)
    sizes = [] if args.no_timing else args.batch_sizes
    results = []
    for index, (base_cfg_path, algm_cfg_path) in enumerate(args.pair):
        torch.manual_seed(args.seed)
        checkpoint = args.checkpoint if index == 0 else None
        cfg = load_config(base_cfg_path)
        base = build_model(cfg, checkpoint)
        algm = build_model(algm_cfg_path)
        algm.load_state_dict(base.state_dict())  # same weights: ALGM adds no parameters
        batches = {bs: list(image_batches(cfg, base, images, bs, (args.crop, args.crop),
                                          drop_last=True)) for bs in {1, *sizes}}
        t0 = time.perf_counter()
        measured = measure_side_by_side(dict(baseline=base, algm=algm), batches[1],
                                        {bs: batches[bs] for bs in sizes}, PARTS, ['backbone'],
                                        args.warmup, args.repeats)
        print(f'{osp.basename(algm_cfg_path)} and its baseline measured in '
              f'{time.perf_counter() - t0:.0f} s', flush=True)
        row = dict(baseline=base_cfg_path, algm=algm_cfg_path, checkpoint=checkpoint,
                   taus=[getattr(r, 'tau', None) for r in algm.backbone.reducers])
        for key in ('baseline', 'algm'):
            row[f'{key}_cost'] = measured[key]['cost']
            if sizes:
                row[f'{key}_timing'] = measured[key]['timing']
        row['algm_stage_tokens'] = stage_tokens(row['algm_cost']['tokens_per_block'],
                                                algm.backbone.reducers)
        if args.taus and index == 0:
            variants = model_variants(algm, {tau: lambda m, t=tau: set_local_tau(m, t)
                                             for tau in args.taus})
            curve = measure_side_by_side(variants, batches[1], parts=PARTS)
            row['tau_curve'] = [dict(tau=tau, **curve[tau]['cost']) for tau in args.taus]
            for point in row['tau_curve']:
                print(f'  tau {point["tau"]:.3f}: backbone {point["backbone_gflops"]:.2f} '
                      f'GFLOPs, tokens '
                      f'{stage_tokens(point["tokens_per_block"], algm.backbone.reducers)}')
        results.append(row)
        del base, algm

    write_json(osp.join(args.out_dir, 'algm_figures.json'),
               dict(args=vars(args), num_images=len(images), results=results))
    table = markdown(results, len(images), args)
    write_text_atomic(osp.join(args.out_dir, 'algm_figures.md'), table)
    print(table)
    if results and 'tau_curve' in results[0]:
        plot_curve(results[0], osp.join(args.out_dir, 'algm_gflops_vs_tau.png'))


def markdown(results: List[dict], num_images: int, args) -> str:
    weights = f'weights of {args.checkpoint} (first pair)' if args.checkpoint else 'random init'
    lines = [f'Measured on {num_images} real images (test pipeline, {args.crop}x{args.crop} '
             f'centre crops), '
             f'torch threads {torch.get_num_threads()}, {weights}, same weights for both.',
             '',
             '| model | tau | tokens after local / global (of 1025) | backbone GFLOPs | ratio | '
             'model GFLOPs | ' + ' | '.join(f'img/s b{b} (ratio)' for b in args.batch_sizes)
             + ' | merging share of backbone time (b1 / b' + str(args.batch_sizes[-1]) + ') |',
             '|' + '---|' * (7 + len(args.batch_sizes))]
    for row in results:
        bc, ac = row['baseline_cost'], row['algm_cost']
        name = osp.basename(row['algm']).split('_')[2]
        stages = ' / '.join(f'{v:.0f}' for v in row['algm_stage_tokens'].values())
        speed = []
        share = ''
        if 'baseline_timing' in row:
            for b in args.batch_sizes:
                tb = row['baseline_timing'][str(b)]['throughput']
                ta = row['algm_timing'][str(b)]['throughput']
                speed.append(f'{tb:.2f} -> {ta:.2f} ({ta / tb:.2f}x)')
            shares = [row['algm_timing'][str(b)].get('reducer_share_of_backbone')
                      for b in (args.batch_sizes[0], args.batch_sizes[-1])]
            share = ' / '.join('n/a' if s is None else f'{100 * s:.1f}%' for s in shares)
        else:
            speed = ['-'] * len(args.batch_sizes)
        lines.append(
            f'| {name} | {row["taus"][0]} | {stages} | {bc["backbone_gflops"]:.2f} -> '
            f'{ac["backbone_gflops"]:.2f} | {ac["backbone_gflops"] / bc["backbone_gflops"]:.2f}x | '
            f'{bc["gflops"]:.2f} -> {ac["gflops"]:.2f} | ' + ' | '.join(speed) + f' | {share} |')
    if results and 'tau_curve' in results[0]:
        base = results[0]['baseline_cost']['backbone_gflops']
        lines += ['', f'GFLOPs against tau ({osp.basename(results[0]["algm"])}, baseline '
                  f'backbone {base:.2f} GFLOPs):', '',
                  '| tau | tokens after local / global | backbone GFLOPs | ratio |',
                  '|---|---|---|---|']
        for point in results[0]['tau_curve']:
            tokens = point['tokens_per_block']
            reducers = list(results[0]['algm_stage_tokens'].keys())
            layers = [int(k.split('@')[1]) for k in reducers]
            stages = ' / '.join(f'{tokens[i]:.0f}' for i in layers) if tokens else '-'
            lines.append(f'| {point["tau"]} | {stages} | {point["backbone_gflops"]:.2f} | '
                         f'{point["backbone_gflops"] / base:.2f}x |')
    return '\n'.join(lines) + '\n'


def plot_curve(row: dict, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    taus = [p['tau'] for p in row['tau_curve']]
    gflops = [p['backbone_gflops'] for p in row['tau_curve']]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(taus, gflops, 'o-', label='ALGM (local tau, global automatic)')
    ax.axhline(row['baseline_cost']['backbone_gflops'], color='gray', ls='--',
               label='baseline')
    ax.set_xlabel('local merging threshold tau')
    ax.set_ylabel('backbone GFLOPs per image')
    ax.set_title(osp.basename(row['algm']).split('_')[2] + ': backbone cost vs tau')
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f'plot written to {path}')


if __name__ == '__main__':
    main()
