"""ECO-M2F Step B: per-image quality of a trained parent at every exit, in one JSON table.

Runs the parent (an mmdet ``EcoM2F`` or an mmseg ``EcoM2FSegmentor``) on every image of a
dataset split once per exit (backbone once, the exits as one batch with per-image depths) and
stores the per-image quality
(panoptic quality or mIoU, as a fraction in [0, 1]) keyed by image id (mmseg datasets: the
image file name without extension; mmseg parents are scored by mIoU only)::

    python tools/ecom2f/build_quality_table.py CONFIG CHECKPOINT --out table.json
    torchrun --nproc_per_node 2 tools/ecom2f/build_quality_table.py CONFIG CHECKPOINT \\
        --out table.json --launcher pytorch
    # several metrics from one pass over the images, one table each:
    python tools/ecom2f/build_quality_table.py CONFIG CHECKPOINT --metric pq miou \\
        --out table_pq.json table_miou.json

The work is :class:`mmeffseg.evaluation.ExitQualityMetric` (scoring, partial dumps, tables);
this tool builds the parent and the split, shards the images over ranks with mmengine's
``DefaultSampler`` and lets mmengine's ``Evaluator`` gather the rows. Each rank appends every
finished image to ``<first out>.part<rank>.jsonl``, so an interrupted run started again with
the same ``--out`` skips the images already done (whatever the number of ranks). The first line
of each partial file is a header record of the run's settings (config, cfg-options, checkpoint
path + size + mtime, exits, metrics, split, limit); a run whose settings differ refuses to
resume from it, naming the file and the field, and ``--overwrite`` discards the partials. The
tables (written atomically) are the same bytes as a single-process run; the partial files are
removed at the end. The arguments are checked against the config before any model is built.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional

import torch
from mmengine.config import DictAction

from mmeffseg.ops import set_cpu_deform_attn
from mmeffseg.utils.run_setup import add_cpu_deform_attn_arg

METRICS = ('pq', 'miou')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='ECO-M2F Step B: per-image quality table of a parent model at every exit')
    parser.add_argument('config', help='config of the parent (an EcoM2F model)')
    parser.add_argument('checkpoint', help='parent checkpoint (Step A)')
    parser.add_argument('--out', required=True, nargs='+',
                        help='output table(s) (.json), one per --metric')
    parser.add_argument('--metric', default=['pq'], nargs='+', choices=METRICS,
                        help='per-image panoptic quality and/or per-image mIoU (default: pq)')
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'],
                        help='dataset split, i.e. which <split>_dataloader.dataset to read; '
                        'images always go through the test pipeline (default: train)')
    parser.add_argument('--exits', type=int, nargs='+', default=None,
                        help='exits to evaluate (default: the model\'s exits)')
    parser.add_argument('--limit', type=int, default=None,
                        help='only the first N (>= 1) images of the split (for quick checks)')
    parser.add_argument('--overwrite', action='store_true',
                        help='rebuild from scratch even if an --out exists; discards the partial '
                        'files of an interrupted run')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (as in mmdet tools)')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_cpu_deform_attn_arg(parser)
    args = parser.parse_args(argv)
    if len(args.out) != len(args.metric) or len(set(args.metric)) != len(args.metric):
        parser.error(f'give one --out per distinct --metric (got metrics {args.metric} and '
                     f'outputs {args.out})')
    if args.limit is not None and args.limit < 1:
        parser.error(f'--limit {args.limit}: give a number of images >= 1, or leave it out for '
                     f'the whole split')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    set_cpu_deform_attn(args.cpu_deform_attn)
    return args


def init_distributed(launcher: str) -> None:
    """Start the process group; gloo on CPU-only machines."""
    if launcher == 'none':
        return
    from mmengine.dist import init_dist
    if torch.cuda.is_available():
        init_dist(launcher, backend='nccl')
    else:
        # mmengine's pytorch launcher calls torch.cuda.set_device, which a CPU build lacks.
        torch.distributed.init_process_group(backend='gloo')


def single_dataset_cfg(dataset: dict) -> dict:
    """The one dataset config under RepeatDataset / ClassBalancedDataset wrappers."""
    from mmeffseg.datasets.data_roots import iter_dataset_cfgs
    leaves = [leaf for _, leaf in iter_dataset_cfgs(dataset)]
    if len(leaves) != 1:
        raise ValueError('build_quality_table.py reads one dataset; the split is a '
                         'ConcatDataset, build one table per member dataset instead.')
    return leaves[0]


def encoder_num_layers(model_cfg: dict) -> Optional[int]:
    """Number of encoder layers a parent config gives its pixel decoder, read without building
    it (None when the config does not say, e.g. a custom pixel decoder)."""
    head = model_cfg.get('panoptic_head', None) or model_cfg.get('decode_head', None) or {}
    decoder = head.get('pixel_decoder', None) or {}
    encoder = decoder.get('encoder', None) or {}
    stage_layers = decoder.get('stage_layers', None) or encoder.get('stage_layers', None)
    if stage_layers is not None:
        return int(sum(stage_layers))
    if encoder.get('level_schedule', None) is not None:
        return len(encoder['level_schedule'])
    return encoder.get('num_layers', None)


def check_exit_args(args: argparse.Namespace, cfg) -> None:
    """``--exits`` against the parent config's encoder, before any model is built."""
    from mmeffseg.models.gates import check_exit_range, check_exits
    if args.exits is None:
        return  # the model's own exits, checked when it is built
    exits = check_exits(args.exits, '--exits')
    num_layers = encoder_num_layers(cfg.model)
    if num_layers is not None:
        check_exit_range(exits, int(num_layers), f'--exits (config {args.config})')


def checkpoint_record(path: str) -> dict:
    """Which checkpoint file a table comes from: path, size and modification time."""
    stat = os.stat(path)
    return dict(path=osp.realpath(path), size=stat.st_size, mtime=stat.st_mtime)


def run_header(args: argparse.Namespace, exits) -> dict:
    """The settings a partial file's rows depend on (its header record)."""
    return dict(config=osp.realpath(args.config), cfg_options=dict(args.cfg_options or {}),
                checkpoint=checkpoint_record(args.checkpoint), exits=[int(e) for e in exits],
                metrics=list(args.metric), split=args.split, limit=args.limit)


def build(args: argparse.Namespace, cfg):
    """Model (eval, checkpoint loaded through the strict gate) and the split's dataset config
    and dataset, with the test pipeline."""
    from mmeffseg.apis import build_model, model_family

    family = model_family(cfg)
    if family == 'mmseg':
        from mmseg.registry import DATASETS
    else:
        from mmdet.registry import DATASETS
        # Only the panoptic map is scored: skip the instance post-processing (a large share of
        # the per-exit cost at full resolution).
        if cfg.model.get('test_cfg') is not None:
            cfg.model.test_cfg.instance_on = False
            cfg.model.test_cfg.panoptic_on = True
    # A checkpoint that does not fit the parent is refused (no random weights in the table).
    model = build_model(cfg, args.checkpoint)
    if not hasattr(model, 'predict_at_exits'):
        raise ValueError(f'{args.config}: model type {type(model).__name__} is not an ECO-M2F '
                         f"model; Step B needs the parent config (model.type='EcoM2F' or "
                         "'EcoM2FSegmentor').")

    ds_cfg = single_dataset_cfg(cfg[f'{args.split}_dataloader']['dataset']).copy()
    ds_cfg['pipeline'] = single_dataset_cfg(cfg.test_dataloader.dataset).pipeline
    ds_cfg['test_mode'] = True  # keep every image, as evaluation does
    dataset = DATASETS.build(ds_cfg)
    return model, ds_cfg, dataset


def main(argv=None) -> None:
    args = parse_args(argv)
    existing = [p for p in args.out if osp.isfile(p)]
    if existing and not args.overwrite:
        raise FileExistsError(f'{existing[0]!r} exists; pass --overwrite to rebuild it or choose '
                              f'another --out.')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint {args.checkpoint!r} not found; pass the Step-A '
                                f'parent checkpoint.')
    init_distributed(args.launcher)

    from mmengine.dataset import DefaultSampler, pseudo_collate
    from mmengine.dist import barrier, get_dist_info
    from mmengine.evaluator import Evaluator
    from mmengine.utils import ProgressBar
    from torch.utils.data import DataLoader, Subset

    from mmeffseg.apis import load_config
    from mmeffseg.evaluation import (ExitQualityMetric, check_partials, read_partials,
                                     remove_partials)
    from mmeffseg.models.eco_m2f_steps import image_id_of
    from mmeffseg.models.gates import check_exits, dataset_source
    from mmeffseg.utils.output_files import prepare_output_dir

    rank, world_size = get_dist_info()
    cfg = load_config(args.config, args.cfg_options)
    check_exit_args(args, cfg)
    for folder in sorted({osp.dirname(osp.abspath(p)) for p in args.out}):
        prepare_output_dir(folder, 'folder of --out')  # before any work, not after it
    if args.overwrite and rank == 0:
        remove_partials(args.out[0])
    barrier()
    model, ds_cfg, dataset = build(args, cfg)
    exits = check_exits(args.exits if args.exits else model.exits, '--exits')
    header = run_header(args, exits)
    check_partials(args.out[0], header)
    num_images = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    img_ids = [image_id_of(dataset.get_data_info(i)) for i in range(num_images)]
    panoptic = not hasattr(model, 'decode_head')  # mmdet parents predict panoptic maps
    metric = ExitQualityMetric(
        exits, args.out, args.metric, img_ids=img_ids,
        ann_file=getattr(dataset, 'ann_file', None) if panoptic else None,
        seg_prefix=dataset.data_prefix.get('seg') if panoptic else None,
        cat_ids=getattr(dataset, 'cat_ids', None) if panoptic else None,
        metadata=dict(split=args.split, config=args.config, checkpoint=args.checkpoint,
                      checkpoint_file=header['checkpoint'], dataset=dataset_source(ds_cfg),
                      ann_file=getattr(dataset, 'ann_file', None)),
        header=header)
    evaluator = Evaluator(metric)
    evaluator.dataset_meta = dataset.metainfo

    done = {i for i, q in read_partials(args.out[0]).items()
            if all(m in q for m in args.metric)}
    todo = Subset(dataset, [i for i in range(num_images) if str(img_ids[i]) not in done])
    if rank == 0:
        print(f'Step B: {num_images} images x exits {list(exits)} ({", ".join(args.metric)}); '
              f'{num_images - len(todo)} done before, {world_size} process(es).', flush=True)
    loader = DataLoader(todo, batch_size=1, sampler=DefaultSampler(todo, shuffle=False),
                        collate_fn=pseudo_collate)
    progress = ProgressBar(len(loader)) if rank == 0 else None
    with torch.no_grad():
        for data in loader:
            data = model.data_preprocessor(data, False)
            evaluator.process(model.predict_at_exits(data['inputs'], data['data_samples'][0],
                                                     exits))
            if progress is not None:
                progress.update()
    means = evaluator.evaluate(len(todo))  # gathers every rank's rows; rank 0 writes
    if rank == 0:
        print('', flush=True)
        for metric_name, out in zip(args.metric, args.out):
            print(f'Wrote {out} ({num_images} images, {metric_name}); mean per exit: '
                  + ', '.join(f'{k}: {means[f"exit_quality/{metric_name}_exit_{k}"]:.4f}'
                              for k in exits), flush=True)
    barrier()
    if torch.distributed.is_initialized():
        # A gloo process that exits with its group alive can abort in teardown ("terminate
        # called without an active exception", seen once in a full test run).
        torch.distributed.destroy_process_group()


if __name__ == '__main__':
    sys.exit(main())
