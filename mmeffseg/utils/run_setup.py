"""What tools/train.py and tools/test.py share: turning the common command-line flags into
config changes, and building a Runner whose failures name the file and the fix (configs are read
by :func:`mmeffseg.apis.load_config`)."""
import argparse
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import is_distributed
from mmengine.runner import Runner

from .checkpoint_check import check_checkpoint_fits


def add_cpu_deform_attn_arg(parser: argparse.ArgumentParser) -> None:
    """``--cpu-deform-attn``: which CPU core every deformable attention runs (see
    :mod:`mmeffseg.ops.deform_attn_backend`); apply it with :func:`set_cpu_deform_attn`."""
    from mmeffseg.ops import CPU_DEFORM_ATTN_IMPLS
    parser.add_argument(
        '--cpu-deform-attn', choices=sorted(CPU_DEFORM_ATTN_IMPLS), default='mmcv',
        help="CPU core of mmcv's MultiScaleDeformableAttention for every model in the run: "
        "'mmcv' (its grid_sample loop, the default) or 'gather' (same results, "
        'several times faster). GPU runs use the CUDA op either way.')


def add_keep_freed_memory_arg(parser: argparse.ArgumentParser) -> None:
    """``--keep-freed-memory`` for timing tools; apply it with
    :func:`mmeffseg.utils.heap.keep_freed_memory`."""
    parser.add_argument(
        '--keep-freed-memory', action='store_true',
        help="keep freed memory in the process's heap (glibc), so forwards do not page-fault "
        'their large tensors in anew each time: steadier CPU timings without that FLOP-free '
        'cost, as jemalloc / tcmalloc give; peak MB then reads n/a on CPU')


def add_common_args(parser: argparse.ArgumentParser, overrides_example: str) -> None:
    """The flags tools/train.py and tools/test.py share (mmdet's / mmseg's names)."""
    parser.add_argument('--work-dir', help='the dir to save logs, models and metrics')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help=f'override settings in the config, key=value (e.g. {overrides_example}); a key '
        'the config does not have at the top level is refused')
    parser.add_argument(
        '--cfg-options-allow-new', action='store_true',
        help='let --cfg-options add new top-level keys (warned about instead of refused)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (older versions: --local_rank).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_cpu_deform_attn_arg(parser)


def parse_tool_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the arguments and apply the process-wide ones (rank, CPU deformable core)."""
    from mmeffseg.ops import set_cpu_deform_attn
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    set_cpu_deform_attn(args.cpu_deform_attn)
    return args


def apply_common_args(cfg: Config, config_path: str, work_dir: Optional[str],
                      launcher: str) -> None:
    """Work dir and launcher, as mmdet's and mmseg's tools set them."""
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
    if launcher != 'none' and not torch.cuda.is_available():
        _prepare_cpu_distributed(cfg)


def _prepare_cpu_distributed(cfg: Config) -> None:
    # mmengine assumes GPUs under a launcher: its pytorch init calls torch.cuda.set_device and its
    # DDP wrapper passes device_ids. On CPU, start the gloo group here (the Runner then skips its
    # own init) and wrap without device ids.
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if not is_distributed() and 'RANK' in os.environ:
        torch.distributed.init_process_group(backend='gloo')
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))


def build_runner(cfg: Config) -> Runner:
    """Build a Runner from ``cfg``; an unknown module type names the config file and the fix."""
    try:
        if 'runner_type' in cfg:
            from mmengine.registry import RUNNERS
            return RUNNERS.build(cfg)
        return Runner.from_cfg(cfg)
    except KeyError as err:
        msg = str(err.args[0]) if err.args else str(err)
        if 'registry' not in msg:
            raise
        raise KeyError(
            f'{cfg.filename}: {msg} Fix: check the spelling of that `type`, or import the package '
            f'that registers it, e.g. custom_imports = dict(imports=[\'mmeffseg\'], '
            f'allow_failed_imports=False).') from err


def check_load_from(runner: Runner, checkpoint: Optional[str]) -> None:
    """Refuse a checkpoint that is missing or does not fit the model, before any work starts."""
    if checkpoint:
        check_checkpoint_fits(runner.model, checkpoint)


__all__ = [
    'add_common_args', 'parse_tool_args', 'apply_common_args', 'build_runner',
    'check_load_from'
]
