"""Train a model from an mmdet- or mmseg-family config (mmeffseg configs included).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--cfg-options k=v ...]
    bash tools/dist_train.sh CONFIG NUM_PROCS [args]          # or: mim train mmeffseg CONFIG
"""
import argparse

import mmeffseg  # noqa: F401  (registers modules; lets torch>=2.6 load mmengine checkpoints)
from mmeffseg.apis import load_config
from mmeffseg.datasets import check_data_roots, explain_empty_dataset
from mmeffseg.utils.run_setup import (add_common_args, apply_common_args, build_runner,
                                      parse_tool_args)
from mmeffseg.utils.start_checkpoint import gate_start_checkpoint, resolve_start_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor / detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in the work dir')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale lr by batch size')
    add_common_args(parser, 'train_cfg.max_iters=20')
    return parse_tool_args(parser)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.cfg_options_allow_new)
    # Only the loops this run builds: training, and validation unless it is switched off
    # (val_cfg / val_dataloader / val_evaluator None), as mmdet's and mmseg's train.py.
    validates = all(cfg.get(k) is not None for k in ('val_cfg', 'val_dataloader', 'val_evaluator'))
    check_data_roots(cfg, phases=('train', 'val') if validates else ('train', ))
    apply_common_args(cfg, args.config, args.work_dir, args.launcher)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        cfg.auto_scale_lr = dict(cfg.get('auto_scale_lr', {}), enable=True)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    # The start checkpoint is found and checked before anything runs: mmengine would load a
    # misfit non-strictly, and resume "from None" by training from scratch.
    resolve_start_checkpoint(cfg)
    runner = build_runner(cfg)
    gate_start_checkpoint(runner, cfg)
    with explain_empty_dataset(cfg):
        runner.train()


if __name__ == '__main__':
    main()
