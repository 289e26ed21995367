"""Test (evaluate) a checkpoint with an mmdet- or mmseg-family config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE|DIR] [--show-dir DIR]
        [--show [--wait-time S]] [--tta] [--cfg-options k=v ...]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [args]
    mim test mmeffseg CONFIG --checkpoint CKPT

The flags mean what they mean in mmdet's and mmseg's tools/test.py.
"""
import argparse
import os.path as osp
import warnings

import cv2
import mmcv
from mmengine.hooks import Hook

import mmeffseg  # noqa: F401  (registers modules; lets torch>=2.6 load mmengine checkpoints)
from mmeffseg.apis import load_config, model_family
from mmeffseg.datasets import check_data_roots
from mmeffseg.utils import read_checkpoint
from mmeffseg.utils.output_files import prepare_output_dir
from mmeffseg.utils.run_setup import (add_common_args, apply_common_args, build_runner,
                                      check_load_from, parse_tool_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path or name')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='mmdet family: a .pkl file of the predictions for offline evaluation; '
        'mmseg family: a directory for the predicted label maps (PNG), or a .pkl file')
    parser.add_argument('--show', action='store_true', help='show the predictions in a window')
    parser.add_argument(
        '--show-dir', help='draw every test image with its prediction into this directory '
        '(relative to the work dir\'s timestamped folder for mmdet, as mmdet does)')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds per shown image')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation (the config's tta_model and tta_pipeline)")
    add_common_args(parser, 'model.test_cfg.exit_layers=3')
    return parse_tool_args(parser)


def trigger_visualization_hook(cfg, args: argparse.Namespace) -> None:
    """Turn on the config's visualization hook for ``--show`` / ``--show-dir``."""
    hook = cfg.default_hooks.get('visualization') if cfg.get('default_hooks') else None
    if hook is None:
        raise ValueError(
            f'{cfg.filename}: --show / --show-dir need a visualization hook in default_hooks; '
            f"add default_hooks = dict(visualization=dict(type='DetVisualizationHook')) "
            f"(mmdet) or 'SegVisualizationHook' (mmseg), as their default_runtime does.")
    hook.update(draw=True, interval=1)  # every test image, not every 50th
    if args.show:
        hook.update(show=True, wait_time=args.wait_time)
    if args.show_dir:
        if model_family(cfg) == 'mmdet':
            hook['test_out_dir'] = args.show_dir
        else:
            cfg.visualizer['save_dir'] = args.show_dir


def apply_tta(cfg) -> None:
    """Wrap the model in the config's ``tta_model`` and test through ``tta_pipeline``."""
    missing = [k for k in ('tta_model', 'tta_pipeline') if cfg.get(k) is None]
    if missing:
        raise ValueError(f'{cfg.filename}: --tta needs {" and ".join(missing)} in the config '
                         f"(e.g. mmseg's default_runtime tta_model=dict(type='SegTTAModel') and "
                         f"a dataset base's tta_pipeline).")
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def add_output(cfg, out: str) -> None:
    """``--out``: mmdet's pickle, or mmseg's directory of predicted label maps."""
    is_pickle = out.endswith(('.pkl', '.pickle'))
    evaluators = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) else list(
        cfg.test_evaluator)
    if model_family(cfg) == 'mmseg' and not is_pickle:
        for evaluator in evaluators:
            evaluator.update(output_dir=out, keep_results=True)
        cfg.test_evaluator = evaluators if len(evaluators) > 1 else evaluators[0]
        return
    if not is_pickle:
        raise ValueError(f'--out {out}: for an mmdet-family config the output must be a .pkl '
                         f'or .pickle file.')
    if model_family(cfg) == 'mmseg':
        classes = cfg.model.get('decode_head', {}).get('num_classes', '?')
        warnings.warn(
            f'--out {out}: the pickle holds every image\'s float logits ({classes} classes x '
            f'H x W; a 16-image COCO-semantic run wrote 3.9 GB). Pass a directory to --out to '
            f'save the label maps as PNGs instead, as mmseg does.')
    cfg.test_evaluator = evaluators + [dict(type='DumpResults', out_file_path=out)]


class ExitPictures(Hook):
    """ECO-M2F with --show-dir: the chosen exit on every drawn picture, and a histogram PNG.

    Runs after mmdet's visualization hook has written a picture (priority LOW), labels its
    corner with the ``exit_layers`` the model recorded, and after the test writes
    ``exit_histogram.png`` next to the pictures.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self.exits = []
        self.folder = None

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        vis = next((h for h in runner.hooks if type(h).__name__ == 'DetVisualizationHook'), None)
        self.folder = getattr(vis, 'test_out_dir', None)
        for sample in outputs or []:
            exit_layers = sample.metainfo.get('exit_layers')
            if exit_layers is None or self.folder is None:
                continue
            self.exits.append(int(exit_layers))
            path = osp.join(self.folder, osp.basename(sample.img_path))
            if osp.isfile(path):
                picture = mmcv.imread(path)
                text = f'exit: {int(exit_layers)} encoder layer(s)'
                cv2.rectangle(picture, (0, 0), (12 + 11 * len(text), 28), (0, 0, 0), -1)
                cv2.putText(picture, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                            (255, 255, 255), 1, cv2.LINE_AA)
                mmcv.imwrite(picture, path)

    def after_test_epoch(self, runner, metrics=None) -> None:
        if not self.exits or self.folder is None:
            return
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        values = sorted(set(self.exits))
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.bar([str(v) for v in values], [self.exits.count(v) for v in values])
        ax.set_xlabel('encoder layers run (exit)')
        ax.set_ylabel('images')
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(f'exits over {len(self.exits)} test image(s), mean '
                     f'{sum(self.exits) / len(self.exits):.2f}')
        fig.savefig(osp.join(self.folder, 'exit_histogram.png'), dpi=100, bbox_inches='tight')
        plt.close(fig)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.cfg_options_allow_new)
    check_data_roots(cfg, phases=('test', ))
    apply_common_args(cfg, args.config, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        read_checkpoint(args.checkpoint)  # the error naming the file, before building anything
    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args)
    if args.tta:
        apply_tta(cfg)
    if args.out is not None:
        add_output(cfg, args.out)
        # An unwritable --out is found now, not after the whole test has run.
        is_pickle = args.out.endswith(('.pkl', '.pickle'))
        prepare_output_dir(osp.dirname(osp.abspath(args.out)) if is_pickle else args.out, '--out')
    runner = build_runner(cfg)
    if args.show_dir and model_family(cfg) == 'mmdet':
        runner.register_hook(ExitPictures())
    check_load_from(runner, args.checkpoint)
    metrics = runner.test()
    print(f'Test of {osp.basename(args.config)}: {metrics}')


if __name__ == '__main__':
    main()
