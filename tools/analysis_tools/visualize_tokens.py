"""Picture of token reduction: outline the merged regions of each stage, print tokens per layer.

Works for any model whose backbone is ``ReducerViT`` (ALGM merging, token pruning). For each
image it saves ``<out-dir>/<image stem>_tokens.png`` (or, with ``--combine``, one picture of
all images): the input as the model saw it (read through the config's test pipeline, see
``--size``), then one panel per reducer stage, at most four panels a row, and a legend below:
each merged token tinted in its own colour with red borders between tokens, patches left out
of a block by a pruning reducer darkened. It prints the number of tokens every block ran on.

Example (the trained-weights pictures of docs/algm.md)::

    python tools/analysis_tools/visualize_tokens.py \\
        configs/algm/algm_segmenter_vit-t_mask_1xb8-300i-ft_camvid-360x480.py \\
        --checkpoint ~/mmeffseg-work/study-camvid/algm_ft/iter_300.pth \\
        --images $CAMVID_ROOT/images/val/0016E5_07959.jpg --panel-scale 0.75 \\
        --out-dir work_dirs/tokens
"""
import argparse
import os.path as osp
from typing import List

import cv2
import mmcv
import numpy as np
import torch
from mmengine.config import DictAction

from mmeffseg.analysis.model_inputs import collect_images, image_batches
from mmeffseg.apis import build_model, load_config
from mmeffseg.utils.output_files import prepare_output_dir


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw merged / pruned token regions')
    parser.add_argument('config', help='model config (backbone: ReducerViT)')
    parser.add_argument('--checkpoint', default=None, help='checkpoint (default: random init)')
    parser.add_argument('--images', nargs='+', required=True,
                        help='image files and/or folders of images')
    parser.add_argument('--num-images', type=int, default=None,
                        help='use at most this many images (sorted by name)')
    parser.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'), default=None,
                        help="after the config's test pipeline, centre-crop the image to "
                        'H x W (padded where smaller); default: the test pipeline as it is')
    parser.add_argument('--layers', type=int, nargs='+', default=None,
                        help='draw only the reducer stages at these blocks (0-based); default: '
                        'every stage')
    parser.add_argument('--panel-scale', type=float, default=1.0,
                        help='scale of each panel (e.g. 0.5 for a smaller file); labels keep '
                        'their size')
    parser.add_argument('--combine', default=None, metavar='FILE',
                        help='write one picture of all images (each image on its own rows of '
                        'panels) to --out-dir/FILE instead of one file per image')
    parser.add_argument('--out-dir', default='work_dirs/visualize_tokens')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.backbone.reducers.0.tau=0.9')
    return parser.parse_args(argv)


PANELS_PER_ROW = 4
LEGEND_BORDER = 'red line: border between tokens'
LEGEND_MERGED = 'colour: one merged token (one colour each)'
LEGEND_PRUNED = 'dark: patch left out of the block (pruned)'


def _token_colours(n: int) -> np.ndarray:
    # Golden-ratio hues: neighbouring token ids get far-apart colours (BGR).
    hues = (np.arange(n) * 0.618034 % 1.0 * 180).astype(np.uint8)
    hsv = np.stack([hues, np.full(n, 200, np.uint8), np.full(n, 255, np.uint8)], 1)
    return cv2.cvtColor(hsv[None], cv2.COLOR_HSV2BGR)[0].astype(np.float32)


def outline(image: np.ndarray, token_grid: np.ndarray, patch_mask=None) -> np.ndarray:
    """Draw ``image`` (BGR) with the tokens of ``token_grid``: each merged token (more than one
    patch) tinted in its own colour, red borders between tokens, pruned patches darkened.
    A stage that merges nothing (pruning) gets no borders: a line around every patch would
    hide the image and say nothing."""
    height, width = image.shape[:2]

    def full_size(grid, dtype):
        return cv2.resize(grid.astype(dtype), (width, height), interpolation=cv2.INTER_NEAREST)

    ids = full_size(token_grid, np.float32)
    border = np.zeros((height, width), dtype=bool)
    border[:, 1:] |= ids[:, 1:] != ids[:, :-1]
    border[1:, :] |= ids[1:, :] != ids[:-1, :]
    canvas = image.copy()
    if patch_mask is not None:
        keep = full_size(patch_mask, np.uint8).astype(bool)
        canvas[~keep] = (canvas[~keep] * 0.3).astype(np.uint8)
    _, inverse, counts = np.unique(token_grid, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(token_grid.shape)
    merged = full_size(counts[inverse] > 1, np.uint8).astype(bool)
    tint = _token_colours(len(counts))[full_size(inverse, np.int32)]
    canvas[merged] = (0.55 * canvas[merged] + 0.45 * tint[merged]).astype(np.uint8)
    if (counts > 1).any():
        canvas[border] = (0, 0, 255)
    return canvas


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


def add_legend(picture: np.ndarray, lines=(LEGEND_BORDER, LEGEND_MERGED)) -> np.ndarray:
    """``picture`` with the legend ``lines`` in a dark strip below it (none without lines)."""
    if not lines:
        return picture
    strip = np.full((18 * len(lines) + 6, picture.shape[1], 3), 30, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(strip, line, (4, 16 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([picture, strip], axis=0)


def tile(panels: List[np.ndarray], per_row: int = PANELS_PER_ROW) -> np.ndarray:
    """Panels (same size) on rows of at most ``per_row``, the last row padded with black."""
    rows = []
    for start in range(0, len(panels), per_row):
        row = panels[start:start + per_row]
        row += [np.zeros_like(panels[0])] * (min(per_row, len(panels)) - len(row))
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


def stack(pictures: List[np.ndarray]) -> np.ndarray:
    """Pictures one below the other, narrower ones padded with black on the right."""
    width = max(p.shape[1] for p in pictures)
    return np.concatenate(
        [np.pad(p, ((0, 0), (0, width - p.shape[1]), (0, 0))) for p in pictures], axis=0)


def patch_grid_view(image: np.ndarray, grid_hw, patch: int) -> np.ndarray:
    """``image`` padded with black at the bottom / right to the patch grid (as the ViT's corner
    padding does), so that token borders fall on patch borders."""
    height, width = grid_hw[0] * patch, grid_hw[1] * patch
    view = np.zeros((height, width, 3), np.uint8)
    # Some pipelines (mmdet's) leave float pixels.
    image = np.clip(image[:height, :width], 0, 255).astype(np.uint8)
    view[:image.shape[0], :image.shape[1]] = image
    return view


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    paths = collect_images(args.images, args.num_images)
    # Every image goes through the test pipeline before the model is built: a bad file fails
    # in a second. Without a model the batches keep the pipeline's uint8 image for drawing.
    samples = list(image_batches(cfg, None, paths, crop=args.size))
    # Family-aware (mmdet or mmseg config): mmseg's init_model cannot build mmdet detectors.
    model = build_model(cfg, args.checkpoint, args.device)
    backbone = model.backbone
    if not hasattr(backbone, 'record_stages'):
        raise ValueError(f'{args.config}: the backbone is {type(backbone).__name__}; this tool '
                         'needs ReducerViT (a model with token reducers)')
    backbone.record_stages = True
    patch = backbone.patch_size
    layers = sorted(r.layer for r in backbone.reducers)
    if args.layers is not None and not set(args.layers) <= set(layers):
        raise ValueError(f'--layers {args.layers}: this model has reducer stages at blocks '
                         f'{layers} only')
    prepare_output_dir(args.out_dir)

    per_image, pictures, legend = [], [], set()
    for path, sample in zip(paths, samples):
        with torch.no_grad():
            model.extract_feat(model.data_preprocessor(sample, False)['inputs'])
        book = backbone.last_book
        counts = [int(c[0]) for c in book.block_counts]
        per_image.append(counts)
        h, w = book.hw_shape
        image = patch_grid_view(sample['inputs'][0].permute(1, 2, 0).numpy(), (h, w), patch)
        if args.panel_scale != 1:
            image = mmcv.imrescale(image, args.panel_scale, interpolation='area')
        stem = osp.splitext(osp.basename(path))[0]
        panels = [label(image, f'{stem}: {w * patch}x{h * patch}, {h * w} patches')]
        for stage in book.stages:
            if args.layers is not None and stage['layer'] not in args.layers:
                continue
            grid = stage['index_map'][0].cpu().numpy().reshape(h, w)
            mask = stage.get('patch_mask', stage.get('keep_mask'))
            if mask is not None:
                # A per-token mask of a full-length sequence may still carry the prefix.
                mask = mask[0, -h * w:].cpu().numpy().reshape(h, w)
                # Pruning keeps the sequence length; say how many patches the block ran on.
                text = (f"{stage['name']} (layer {stage['layer']}): "
                        f'{int(mask.sum())}/{mask.size} kept')
                legend.add(LEGEND_PRUNED)
            else:
                text = f"{stage['name']} (layer {stage['layer']}): {stage['num_tokens']} tokens"
            if np.unique(grid, return_counts=True)[1].max() > 1:
                legend.update((LEGEND_BORDER, LEGEND_MERGED))
            panels.append(label(outline(image, grid, mask), text))
        pictures.append(tile(panels))
        print(f'{osp.basename(path)}: tokens per layer {counts}')
    lines = [line for line in (LEGEND_BORDER, LEGEND_MERGED, LEGEND_PRUNED) if line in legend]
    if args.combine:
        out_files = [(osp.join(args.out_dir, args.combine), stack(pictures))]
    else:
        out_files = [(osp.join(args.out_dir, osp.splitext(osp.basename(p))[0] + '_tokens.png'),
                      pic) for p, pic in zip(paths, pictures)]
    for out_file, picture in out_files:
        mmcv.imwrite(add_legend(picture, lines), out_file)
        print(f'written: {out_file} ({osp.getsize(out_file) / 1e6:.2f} MB)')

    mean = np.mean(np.array(per_image, dtype=np.float64), axis=0)
    full = per_image[0][0] if not backbone.reducers else None
    print(f'\ntokens per layer, mean over {len(per_image)} images '
          f'(CLS included{"" if full is None else ", no reducers"}):')
    for layer, value in enumerate(mean):
        print(f'  layer {layer:2d}: {value:8.1f}')


if __name__ == '__main__':
    main()
