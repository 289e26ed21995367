"""Test (evaluate) a checkpoint with an mmdet- or mmseg-family config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE] [--cfg-options k=v ...]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [args]
    mim test mmeffseg CONFIG --checkpoint CKPT
"""
import argparse
import os.path as osp

import mmeffseg  # noqa: F401  (registers modules; lets torch>=2.6 load mmengine checkpoints)
from mmeffseg.datasets import check_data_roots
from mmeffseg.utils.run_setup import (add_common_args, apply_common_args, build_runner,
                                      check_load_from, load_config, parse_tool_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump predictions to a pickle file for offline evaluation')
    add_common_args(parser, 'model.test_cfg.exit_layers=3')
    return parse_tool_args(parser)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    check_data_roots(cfg)
    apply_common_args(cfg, args.config, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out {args.out}: the output file must be a .pkl or .pickle file.')
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, dict) else list(cfg.test_evaluator)
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    runner = build_runner(cfg)
    check_load_from(runner, args.checkpoint)
    metrics = runner.test()
    print(f'Test of {osp.basename(args.config)}: {metrics}')


if __name__ == '__main__':
    main()
