"""Command-line arguments shared by the cost tools (config, inputs, device), and their use."""
import argparse
import itertools
import sys
from typing import Callable, List, Optional, Tuple

import torch.nn as nn
from mmengine.config import Config, DictAction

from mmeffseg.apis import build_model, load_config, model_family
from mmeffseg.ops import set_cpu_deform_attn
from mmeffseg.utils.heap import keep_freed_memory
from mmeffseg.utils.output_files import prepare_output_file
from mmeffseg.utils.output_files import write_json  # noqa: F401  (the tools' JSON writer)
from mmeffseg.utils.run_setup import add_cpu_deform_attn_arg, add_keep_freed_memory_arg
from .model_inputs import (collect_images, dataset_batches, image_batches,
                           shape_batches, usable_forward)


def cost_tool_parser(doc: str,
                     config_help: str = "config file or name, or 'mmdet::...' / 'mmseg::...' / "
                     "'mmeffseg::...'") -> argparse.ArgumentParser:
    """A cost tool's parser: its description (the first line of ``doc``), the ``config``
    argument, the input arguments (:func:`add_input_args`) and the model arguments
    (:func:`add_model_args`); the tool adds its own."""
    parser = argparse.ArgumentParser(description=doc.split('\n')[0])
    parser.add_argument('config', help=config_help)
    add_input_args(parser)
    add_model_args(parser)
    return parser


def add_model_args(parser: argparse.ArgumentParser, many: bool = False) -> None:
    """``--checkpoint``, ``--cfg-options``, ``--device``, ``--forward``,
    ``--cpu-deform-attn``, ``--keep-freed-memory``."""
    if not many:
        parser.add_argument('--checkpoint', help='weights to load (default: from scratch)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. test_dataloader.dataset.data_root=/data/coco')
    parser.add_argument('--cfg-options-allow-new', action='store_true',
                        help='let --cfg-options add new top-level keys (refused otherwise)')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda[:N]'")
    parser.add_argument(
        '--forward', choices=['tensor', 'predict'], default='tensor',
        help="'tensor': the network (backbone, neck, heads) without post-processing, like "
        "mmdet/mmseg get_flops; 'predict': also the post-processing")
    add_cpu_deform_attn_arg(parser)
    add_keep_freed_memory_arg(parser)


def add_input_args(parser: argparse.ArgumentParser, default_images: Optional[int] = None) -> None:
    """``--shape H W`` or ``--num-images N`` (real images from the test dataloader)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                       help='synthetic input of this size (default 512 512 when '
                       '--num-images is not given)')
    group.add_argument('--num-images', type=int, default=default_images,
                       help="real images from the config's test dataloader (test pipeline)")
    group.add_argument('--images', nargs='+', metavar='PATH',
                       help="image files and/or folders, read through the config's test "
                       'pipeline')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per forward (per-image figures need 1 for dynamic models)')


def prepare(config: str, args: argparse.Namespace,
            checkpoint: Optional[str] = None) -> tuple:
    """Load the config and build the model from parsed arguments: ``(cfg, model)``.

    Also selects the CPU deformable-attention core ``args.cpu_deform_attn`` for the process,
    keeps freed memory in the heap with ``args.keep_freed_memory`` (:mod:`mmeffseg.utils.heap`),
    and
    switches ``args.forward`` to ``'predict'`` (printing why) for a model whose tensor forward
    cannot run (:func:`~.model_inputs.usable_forward`).
    """
    if getattr(args, 'cpu_deform_attn', None):
        set_cpu_deform_attn(args.cpu_deform_attn)
    if getattr(args, 'keep_freed_memory', False):
        keep_freed_memory()
    cfg = load_config(config, args.cfg_options, getattr(args, 'cfg_options_allow_new', False))
    model = build_model(cfg, checkpoint, args.device)
    if getattr(args, 'forward', None):
        args.forward, note = usable_forward(model, args.forward)
        if note:
            print(note, flush=True)
    return cfg, model


def input_batches(cfg: Config, model: nn.Module, args: argparse.Namespace,
                  num_batches: Optional[int] = None) -> List[dict]:
    """The batches the arguments ask for (a list; dataset images are loaded once)."""
    if args.batch_size < 1:
        raise ValueError(f'--batch-size must be >= 1, got {args.batch_size}')
    if getattr(args, 'images', None):
        return list(image_batches(cfg, model, collect_images(args.images), args.batch_size))
    if args.num_images is not None:
        return list(dataset_batches(cfg, model, args.num_images, args.batch_size))
    shape = args.shape or (512, 512)
    return shape_batches(model, model_family(cfg), shape, args.batch_size, num_batches or 1)


def prepare_inputs(args: argparse.Namespace) -> Tuple[Config, nn.Module, List[dict], str]:
    """What a cost tool measures, from its parsed arguments: ``(cfg, model, batches, inputs)``.

    ``--out`` is probed first (a bad path fails before minutes of work, not after), then
    :func:`prepare` and :func:`input_batches`; ``inputs`` is :func:`describe_inputs`' line.
    """
    if getattr(args, 'out', None):
        prepare_output_file(args.out)
    cfg, model = prepare(args.config, args, args.checkpoint)
    batches = input_batches(cfg, model, args)
    return cfg, model, batches, describe_inputs(args, batches)


def describe_inputs(args: argparse.Namespace, batches: List[dict]) -> str:
    """A one-line description of the inputs, for titles."""
    if getattr(args, 'images', None):
        return f"{sum(len(b['data_samples']) for b in batches)} image file(s), test pipeline"
    if args.num_images is not None:
        shapes = sorted({tuple(b['inputs'].shape[-2:]) for b in batches})
        shown = ', '.join(f'{h}x{w}' for h, w in itertools.islice(shapes, 3))
        more = '...' if len(shapes) > 3 else ''
        used = sum(len(b['data_samples']) for b in batches)
        # The count actually measured: a test set smaller than --num-images gives fewer.
        short = f' (of {args.num_images} asked: the test set has no more)' \
            if used < args.num_images else ''
        return f'{used} dataset image(s){short}, network input {shown}{more}'
    h, w = batches[0]['inputs'].shape[-2:]
    return f'synthetic {h}x{w}, batch {args.batch_size}'


def print_and_save(text: str, result: dict, out: Optional[str]) -> None:
    """Print a tool's table; with ``--out``, write its result as JSON too."""
    print(text)
    if out:
        write_json(out, result)
        print(f'JSON written to {out}')


def run_cli(main: Callable[[], None], tool: str) -> None:
    """Run a tool's ``main``; bad input ends with one clear line instead of a traceback."""
    try:
        main()
    except (ValueError, FileNotFoundError, PermissionError) as err:
        sys.exit(f'{tool}: error: {err}')
