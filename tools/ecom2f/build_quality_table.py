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
the same ``--out`` skips the images already done (whatever the number of ranks). The tables are
the same bytes as a single-process run; the partial files are removed at the end.
"""
import argparse
import os
import os.path as osp
import sys

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
                        help='only the first N images of the split (for quick checks)')
    parser.add_argument('--overwrite', action='store_true',
                        help='rebuild even if an --out exists (partial files are still reused)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (as in mmdet tools)')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_cpu_deform_attn_arg(parser)
    args = parser.parse_args(argv)
    if len(args.out) != len(args.metric) or len(set(args.metric)) != len(args.metric):
        parser.error(f'give one --out per distinct --metric (got metrics {args.metric} and '
                     f'outputs {args.out})')
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


def build(args: argparse.Namespace):
    """Config, model (eval, checkpoint loaded through the strict gate), dataset with the test
    pipeline."""
    from mmeffseg.apis import build_model, load_config, model_family

    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'Checkpoint {args.checkpoint!r} not found; pass the Step-A '
                                f'parent checkpoint.')
    cfg = load_config(args.config, args.cfg_options)
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
    return model, dataset


def main(argv=None) -> None:
    args = parse_args(argv)
    existing = [p for p in args.out if osp.isfile(p)]
    if existing and not args.overwrite:
        raise FileExistsError(f'{existing[0]!r} exists; pass --overwrite to rebuild it or choose '
                              f'another --out.')
    init_distributed(args.launcher)

    from mmengine.dataset import DefaultSampler, pseudo_collate
    from mmengine.dist import barrier, get_dist_info
    from mmengine.evaluator import Evaluator
    from mmengine.utils import ProgressBar
    from torch.utils.data import DataLoader, Subset

    from mmeffseg.evaluation import ExitQualityMetric, read_partials
    from mmeffseg.models.eco_m2f_steps import image_id_of
    from mmeffseg.models.gates import check_exits

    rank, world_size = get_dist_info()
    model, dataset = build(args)
    exits = check_exits(args.exits if args.exits else model.exits, '--exits')
    num_images = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    img_ids = [image_id_of(dataset.get_data_info(i)) for i in range(num_images)]
    panoptic = not hasattr(model, 'decode_head')  # mmdet parents predict panoptic maps
    metric = ExitQualityMetric(
        exits, args.out, args.metric, img_ids=img_ids,
        ann_file=getattr(dataset, 'ann_file', None) if panoptic else None,
        seg_prefix=dataset.data_prefix.get('seg') if panoptic else None,
        cat_ids=getattr(dataset, 'cat_ids', None) if panoptic else None,
        metadata=dict(split=args.split, config=args.config, checkpoint=args.checkpoint,
                      ann_file=getattr(dataset, 'ann_file', None)))
    evaluator = Evaluator(metric)
    evaluator.dataset_meta = dataset.metainfo

    done = {i for i, q in read_partials(args.out[0]).items()
            if all(m in q for m in args.metric)}
    todo = Subset(dataset, [i for i in range(num_images) if str(img_ids[i]) not in done])
    os.makedirs(osp.dirname(osp.abspath(args.out[0])), exist_ok=True)
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


if __name__ == '__main__':
    sys.exit(main())
