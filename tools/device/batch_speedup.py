"""Does a token reducer's speed-up survive batching? Batch 1 vs batch B on the same images.

Builds a baseline config and one or more method configs with the same weights (random, or the
baseline's ``--checkpoint``; a method's own extra parameters, e.g. pruning selectors, stay as
initialised and are listed), reads the first N images of each folder through the baseline
config's test-time loading (the one image path, :func:`mmeffseg.analysis.image_batches`) with a
short-side resize to ``--crop`` and a centre crop so that images of any size can share a batch,
and times every model interleaved with :func:`mmeffseg.analysis.measure_side_by_side`: at batch
1 over all images one by one, and at batch B over the same images. Prints images/s (whole model
and, with ``--part``, that part alone; from ``timing_figures``' ``latency_per_image``, the mean
over the images), the speed-up over the reference at each batch size,
their ratio (the bars of issue 13: ALGM's batch-8 speed-up >= 0.9 x batch 1's; pruning's
backbone latency ratio at batch 4 <= 1.1 x batch 1's), and each model's tokens per image at the
end (CLS included) and per block (what each image ran through a block, averaged; pruning keeps
the count but runs fewer tokens).

Example (docs/algm.md):
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
from typing import Dict, List

import torch

from mmeffseg.analysis import (backbone_dynamic_stats, dynamic_figures, image_batches,
                               measure_side_by_side, resized_test_config)
from mmeffseg.analysis.model_inputs import collect_images
from mmeffseg.apis import build_model, load_config
from mmeffseg.utils import check_state_dict_fits
from mmeffseg.utils.output_files import prepare_output_file, write_json


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
    parser.add_argument('--images', nargs='+', required=True, help='image folders or files')
    parser.add_argument('--num-images', type=int, default=4, help='images per folder')
    parser.add_argument('--crop', type=int, default=512,
                        help='short side resized to this, then a centre crop of crop x crop')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=1, help='timed passes over the images')
    parser.add_argument('--part', default=None,
                        help="also time this submodule (e.g. 'backbone') in a tracked series")
    parser.add_argument('--reference', default='baseline',
                        help="the model speed-ups are relative to: 'baseline' or a --method name")
    parser.add_argument('--checkpoint', default=None,
                        help="the baseline's weights (strict), shared with every method")
    parser.add_argument('--out', default=None, help='write the result as JSON here')
    args = parser.parse_args(argv)
    if args.batch_size < 2 or args.num_images < 1 or args.repeats < 1 or args.crop < 1:
        parser.error('need --batch-size >= 2, --num-images >= 1, --repeats >= 1, --crop >= 1')
    for spec in args.method:
        if len(spec) < 2:
            parser.error(f'--method needs NAME CONFIG [KEY=VALUE ...], got {spec}')
    return args


def share_weights(source: torch.nn.Module, target: torch.nn.Module, name: str) -> None:
    """Load every parameter and buffer of ``source`` into ``target`` through the checkpoint
    gate: same names and shapes required; ``target``'s own extra weights (e.g. pruning
    selectors) keep their initial values and are logged."""
    src = source.state_dict()
    check_state_dict_fits(target.state_dict(), src, f"The baseline's weights for {name}",
                          allow_missing=('', ))
    target.load_state_dict(src, strict=False)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.out:
        prepare_output_file(args.out)
    names = ['baseline'] + [spec[0] for spec in args.method]
    if len(set(names)) != len(names) or args.reference not in names:
        raise ValueError(f'--method names must be unique and --reference one of them: {names}')
    torch.manual_seed(0)
    base_cfg = load_config(args.baseline)
    models = {'baseline': build_model(base_cfg, args.checkpoint)}
    for spec in args.method:
        model = build_model(load_config(spec[1], _options(spec[2:])))
        share_weights(models['baseline'], model, spec[0])
        models[spec[0]] = model.eval()
    images = collect_images(args.images[:1], args.num_images)
    for folder in args.images[1:]:
        images += collect_images([folder], args.num_images)
    usable = len(images) // args.batch_size * args.batch_size
    if usable == 0:
        raise ValueError(f'{len(images)} images are fewer than --batch-size {args.batch_size}')
    if usable < len(images):
        print(f'using {usable} of {len(images)} images (a whole number of batches of '
              f'{args.batch_size})')
    images = images[:usable]
    cfg = resized_test_config(base_cfg, short_side=args.crop)
    first, crop = models['baseline'], (args.crop, args.crop)
    batches = {bs: list(image_batches(cfg, first, images, bs, crop))
               for bs in (1, args.batch_size)}
    result = dict(images=len(images), crop=args.crop, batch_size=args.batch_size,
                  repeats=args.repeats, reference=args.reference, part=args.part,
                  threads=torch.get_num_threads(), checkpoint=args.checkpoint, models={})
    timings = {}
    for bs, chunk in batches.items():
        print(f'timing {len(models)} models at batch {bs} ({len(chunk)} batches x '
              f'{args.repeats} pass(es), interleaved)')
        # One call per batch size: its series is a whole number of passes over the images.
        rows = measure_side_by_side(models, timing_batches={bs: chunk},
                                    timed_parts=None if args.part is None else [args.part],
                                    warmup=1, repeats=len(chunk) * args.repeats)
        timings[bs] = {name: row['timing'][str(bs)] for name, row in rows.items()}
        print()

    def per_image(name: str, bs: int, part: bool = False) -> float:
        return timings[bs][name][f'{args.part}_per_image' if part else 'latency_per_image']

    ref = args.reference
    for name, model in models.items():
        row = {}
        for bs, chunk in batches.items():
            row[f'images_per_s_b{bs}'] = 1.0 / per_image(name, bs)
            row[f'speedup_b{bs}'] = per_image(ref, bs) / per_image(name, bs)
            if args.part:
                row[f'{args.part}_latency_ratio_b{bs}'] = (
                    per_image(name, bs, True) / per_image(ref, bs, True))
            tokens = dynamic_figures(backbone_dynamic_stats(model, chunk))
            if tokens['final_tokens'] is not None:
                row[f'final_tokens_b{bs}'] = tokens['final_tokens']
                per_block = tokens['tokens_per_block']
                row[f'block_tokens_b{bs}'] = sum(per_block) / len(per_block)
        bs = args.batch_size
        row['speedup_ratio'] = row[f'speedup_b{bs}'] / row['speedup_b1']
        if args.part:
            row[f'{args.part}_ratio_ratio'] = (row[f'{args.part}_latency_ratio_b{bs}'] /
                                               row[f'{args.part}_latency_ratio_b1'])
        result['models'][name] = row
    _print(result, args)
    if args.out:
        write_json(args.out, result)
        print(f'written: {args.out}')
    return result


def _print(result: dict, args: argparse.Namespace) -> None:
    bs, part = args.batch_size, args.part
    print(f"{result['images']} images ({args.crop}x{args.crop} crops), {args.repeats} pass(es), "
          f"{result['threads']} thread(s); speed-ups relative to {args.reference}")
    head = (f'| model | img/s b1 | img/s b{bs} | speed-up b1 | speed-up b{bs} | ratio | '
            f'tokens/image b1 | tokens/image b{bs} | tokens/block b1 | tokens/block b{bs} |')
    sep = '|---' * 10 + '|'
    if part:
        head += f' {part} latency ratio b1 | b{bs} | b{bs} / b1 |'
        sep += '---|---|---|'
    print(head)
    print(sep)
    for name, row in result['models'].items():
        line = (f"| {name} | {row['images_per_s_b1']:.3f} | {row[f'images_per_s_b{bs}']:.3f} | "
                f"{row['speedup_b1']:.2f}x | {row[f'speedup_b{bs}']:.2f}x | "
                f"{row['speedup_ratio']:.2f} | {_fmt(row.get('final_tokens_b1'))} | "
                f"{_fmt(row.get(f'final_tokens_b{bs}'))} | {_fmt(row.get('block_tokens_b1'))} | "
                f"{_fmt(row.get(f'block_tokens_b{bs}'))} |")
        if part:
            line += (f" {row[f'{part}_latency_ratio_b1']:.3f} | "
                     f"{row[f'{part}_latency_ratio_b{bs}']:.3f} | "
                     f"{row[f'{part}_ratio_ratio']:.2f} |")
        print(line)


if __name__ == '__main__':
    main(sys.argv[1:])
