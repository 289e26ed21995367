"""Convert a trained Mask2Former checkpoint into a PRO-SCALE start checkpoint.

    python tools/model_converters/mask2former_to_proscale.py PROSCALE_CONFIG SRC.pth DST.pth

``PROSCALE_CONFIG`` is the PRO-SCALE config to fine-tune (it gives ``stage_layers``, the number
of levels and every target shape); ``SRC`` a Mask2Former checkpoint of the same family (mmdet or
mmseg) with the same channels, heads and points. The conversion
(:func:`mmeffseg.models.pixel_decoders.convert_baseline_to_proscale`, whose doc says which
baseline layer feeds which PRO-SCALE layer and why) keeps every baseline weight that PRO-SCALE
has, cuts the sampling-offset / attention-weight rows of the layers that see fewer levels, and
drops the FPN output conv that LPE replaces. ``DST`` holds the state dict and the source's
``meta`` (dataset classes and palette) plus the conversion's layer map; it passes the strict
start-checkpoint gate with only the modules PRO-SCALE adds (TRC, a gate) missing, which this
tool checks before it exits.

``--init-new`` also stores those new modules with their initialisation (seeded with ``--seed``),
so the file fits the config exactly and ``tools/test.py`` can score the start as a fine-tune
sees it at iteration 0::

    python tools/model_converters/mask2former_to_proscale.py PROSCALE_CONFIG SRC.pth START.pth \
        --init-new
    python tools/test.py PROSCALE_CONFIG START.pth
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a Mask2Former checkpoint into a PRO-SCALE start checkpoint')
    parser.add_argument('config', help='the PRO-SCALE config the checkpoint is for')
    parser.add_argument('src', help='baseline Mask2Former checkpoint (read only)')
    parser.add_argument('dst', help='converted checkpoint to write')
    parser.add_argument('--init-new', action='store_true',
                        help='also store the modules the baseline lacks (TRC, a gate) as '
                        'initialised, so that the file fits the config exactly (to evaluate the '
                        'start with tools/test.py)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the initialisation of the new modules (default: 0)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmeffseg.apis import build_model, load_config
    from mmeffseg.models.pixel_decoders import convert_baseline_to_proscale, new_module_prefixes
    from mmeffseg.utils import check_checkpoint_fits, read_checkpoint
    from mmeffseg.utils.checkpoint_check import _state_dict

    if osp.abspath(args.src) == osp.abspath(args.dst):
        raise ValueError(f'dst {args.dst} is the source checkpoint; write the converted one to '
                         'another file (the source is read only).')
    cfg = load_config(args.config, args.cfg_options)
    torch.manual_seed(args.seed)
    model = build_model(cfg)
    checkpoint = read_checkpoint(args.src)
    state, info = convert_baseline_to_proscale(_state_dict(checkpoint), model)
    new = new_module_prefixes(model)
    if args.init_new:
        state.update({k: v for k, v in model.state_dict().items() if k.startswith(tuple(new))})
    meta = dict(checkpoint.get('meta') or {}) if isinstance(checkpoint, dict) else {}
    meta['proscale_conversion'] = dict(
        src=osp.abspath(args.src), config=args.config,
        initialised=sorted(new) if args.init_new else [], seed=args.seed,
        encoders={p: dict(level_schedule=v['level_schedule'], layer_map=v['layer_map'],
                          num_baseline_layers=v['num_baseline_layers'])
                  for p, v in info.items()})
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    tmp = args.dst + '.tmp'
    torch.save(dict(state_dict=state, meta=meta), tmp)
    os.replace(tmp, args.dst)  # a rerun never sees a half-written file
    for prefix, item in info.items():
        pairs = ', '.join(f'{i + 1}<-{j + 1}' for i, j in enumerate(item['layer_map']))
        print(f'{prefix}: level schedule {item["level_schedule"]}; layer <- baseline layer '
              f'(1-based): {pairs}')
        print(f'  dropped {len(item["dropped"])} baseline key(s) with no counterpart '
              f'{item["dropped"][:4]}; {len(item["new"])} model key(s) left to their '
              f'initialisation {item["new"][:4]}')
    missing = [] if args.init_new else new
    check_checkpoint_fits(model, args.dst, allow_missing=missing)
    print(f'wrote {args.dst}: fits {args.config} with only {missing} missing')
    return 0


if __name__ == '__main__':
    sys.exit(main())
