"""Does a token reducer's speed-up survive batching? Batch 1 vs batch B on the same images.

Builds a baseline config and one or more method configs with the same (random or given)
weights, takes the first N images of each folder (read through the baseline config's test
pipeline and centre-cropped to ``--crop``, as ``tools/analysis_tools/algm_figures.py`` does),
and times every model in alternation: at batch 1 over all images one by one, and at batch B
over the same images. Prints images/s, the speed-up over the baseline at each batch size,
and their ratio (the bar of issue 13: batch-B speed-up >= 0.9 x batch-1 speed-up), plus each
model's tokens per image at the end (CLS included) and tokens per block (what each image ran
through a block, averaged; pruning keeps the count but runs fewer tokens).

Example (the ALGM figures of docs/algm.md):
    OMP_NUM_THREADS=1 python tools/device/batch_speedup.py \\
        configs/segmenter/segmenter_vit-s_mask_8xb1-160k_ade20k-512x512.py \\
        --method min configs/algm/algm_segmenter_vit-s_mask_8xb1-160k_ade20k-512x512.py \\
        --method per_image configs/algm/algm_segmenter_vit-s_mask_8xb1-160k_ade20k-512x512.py \\
            model.backbone.reducers.0.batch_policy=per_image \\
            model.backbone.reducers.1.batch_policy=per_image \\
        --images ../shared/data/camvid/images/val ../shared/data/coco128/train2017 \\
        --num-images 4 --batch-size 8
"""
import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List

import torch

from mmeffseg.analysis.model_inputs import collect_images, image_batches, run_network
from mmeffseg.apis import build_model, load_config


def _options(pairs: List[str]) -> Dict[str, object]:
    out = {}
    for pair in pairs:
        if '=' not in pair:
            raise ValueError(f'--method: option {pair!r} must be KEY=VALUE')
        key, value = pair.split('=', 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _fmt(value) -> str:
    return '-' if value is None else f'{value:.1f}'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('baseline', help='baseline config')
    parser.add_argument('--method', nargs='+', action='append', required=True,
                        metavar='NAME CONFIG [KEY=VALUE ...]',
                        help='a method: name, config and config options; repeatable')
    parser.add_argument('--images', nargs='+', required=True, help='image folders')
    parser.add_argument('--num-images', type=int, default=4, help='images per folder')
    parser.add_argument('--crop', type=int, default=512)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=1, help='timed passes over the images')
    parser.add_argument('--reference', default='baseline',
                        help="the model speed-ups are relative to: 'baseline' or a --method name")
    parser.add_argument('--checkpoint', default=None, help='weights for every model')
    parser.add_argument('--out', default=None, help='write the result as JSON here')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.manual_seed(0)
    cfg = load_config(args.baseline)
    models = {'baseline': build_model(cfg, args.checkpoint)}
    state = models['baseline'].state_dict()
    for spec in args.method:
        if len(spec) < 2:
            raise ValueError(f'--method needs NAME CONFIG [KEY=VALUE ...], got {spec}')
        model = build_model(load_config(spec[1], _options(spec[2:])), args.checkpoint)
        model.load_state_dict(state, strict=False)
        models[spec[0]] = model
    if args.reference not in models:
        raise ValueError(f'--reference {args.reference!r} is not a model here: {list(models)}')
    for model in models.values():
        model.eval()
    images = [path for folder in args.images for path in collect_images([folder], args.num_images)]
    images = images[:len(images) // args.batch_size * args.batch_size]
    if not images:
        raise ValueError(f'fewer images than --batch-size {args.batch_size}')
    first = next(iter(models.values()))
    crop = (args.crop, args.crop)
    batches = {bs: list(image_batches(cfg, first, images, bs, crop))
               for bs in (1, args.batch_size)}
    seconds = {name: {bs: 0.0 for bs in batches} for name in models}
    tokens = {name: {bs: [] for bs in batches} for name in models}
    per_block = {name: {bs: [] for bs in batches} for name in models}
    with torch.no_grad():
        for model in models.values():  # warm-up
            run_network(model, batches[1][0])
        for _ in range(args.repeats):
            for bs, chunk in batches.items():
                for batch in chunk:
                    for name, model in models.items():  # alternate: same load for all
                        start = time.perf_counter()
                        run_network(model, batch)
                        seconds[name][bs] += time.perf_counter() - start
                        book = getattr(model.backbone, 'last_book', None)
                        if book is not None:
                            tokens[name][bs] += list(book.counts)
                            per_block[name][bs].append(
                                torch.stack(book.block_counts).float().mean().item())
    num = len(images) * args.repeats
    result = dict(images=len(images), batch_size=args.batch_size, repeats=args.repeats,
                  reference=args.reference,
                  threads=torch.get_num_threads(), models={})
    for name in models:
        row = {}
        for bs in batches:
            row[f'images_per_s_b{bs}'] = num / seconds[name][bs]
            row[f'speedup_b{bs}'] = seconds[args.reference][bs] / seconds[name][bs]
            if tokens[name][bs]:
                row[f'final_tokens_b{bs}'] = sum(tokens[name][bs]) / len(tokens[name][bs])
                row[f'block_tokens_b{bs}'] = sum(per_block[name][bs]) / len(per_block[name][bs])
        row['speedup_ratio'] = row[f'speedup_b{args.batch_size}'] / row['speedup_b1']
        result['models'][name] = row
    bs = args.batch_size
    print(f'{len(images)} images, {args.repeats} pass(es), {torch.get_num_threads()} thread(s); '
          f'speed-ups relative to {args.reference}')
    print(f'| model | img/s b1 | img/s b{bs} | speed-up b1 | speed-up b{bs} | ratio | '
          f'tokens/image b1 | tokens/image b{bs} | tokens/block b1 | tokens/block b{bs} |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for name, row in result['models'].items():
        print(f"| {name} | {row['images_per_s_b1']:.3f} | {row[f'images_per_s_b{bs}']:.3f} | "
              f"{row['speedup_b1']:.2f}x | {row[f'speedup_b{bs}']:.2f}x | "
              f"{row['speedup_ratio']:.2f} | {row.get('final_tokens_b1', '-')} | "
              f"{row.get(f'final_tokens_b{bs}', '-')} | {_fmt(row.get('block_tokens_b1'))} | "
              f"{_fmt(row.get(f'block_tokens_b{bs}'))} |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
    return result


if __name__ == '__main__':
    main(sys.argv[1:])
