"""FLOPs of every config in model-index.yml at its test size, written into the metafiles.

The test size is mmseg's crop size or the test pipeline's Resize scale
(:func:`mmeffseg.analysis.model_inputs.config_test_shape`); weights are random (the cost of a
static model does not depend on them; dynamic models are counted on one synthetic image, so
their figure is indicative only). 1 FLOP = 1 multiply-add, mode 'full' and 'paper'.

Examples:
    python tools/analysis_tools/metafile_flops.py --match r18-lite embedded      # print only
    python tools/analysis_tools/metafile_flops.py --match ade20k --write
"""
import argparse
import os.path as osp

import yaml

from mmeffseg.analysis import measure_model_cost, shape_batches
from mmeffseg.analysis.model_inputs import config_test_shape, usable_forward
from mmeffseg.apis import build_model, load_config, model_family
from mmeffseg.utils.output_files import write_text_atomic
from mmeffseg.utils.progress import progress_bar

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEADER = ('# No Weights: no checkpoint of these configs is published. FLOPs (G) at Input Size:\n'
          '# python tools/analysis_tools/metafile_flops.py --write (random weights, batch 1,\n'
          '# 1 FLOP = 1 multiply-add, mode full; FLOPs paper (G): matrix products only).\n')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--match', nargs='+', default=[],
                        help='only configs whose name contains one of these strings')
    parser.add_argument('--write', action='store_true', help='write the figures into the '
                        'metafiles (default: print them)')
    return parser.parse_args(argv)


def metafiles() -> list:
    with open(osp.join(REPO, 'model-index.yml')) as f:
        return [osp.join(REPO, p) for p in yaml.safe_load(f)['Import']]


def measure(config: str) -> dict:
    cfg = load_config(osp.join(REPO, config))
    model = build_model(cfg)
    shape = config_test_shape(cfg)
    forward, _ = usable_forward(model, 'tensor')
    summary = measure_model_cost(model, shape_batches(model, model_family(cfg), shape), None,
                                 forward)
    return {'FLOPs (G)': round(summary['flops']['full']['mean'] / 1e9, 2),
            'FLOPs paper (G)': round(summary['flops']['paper']['mean'] / 1e9, 2),
            'Input Size': f'{shape[0]}x{shape[1]}'}


def main(argv=None) -> None:
    args = parse_args(argv)
    for path in metafiles():
        with open(path) as f:
            meta = yaml.safe_load(f)
        models = [m for m in meta['Models']
                  if not args.match or any(s in m['Name'] for s in args.match)]
        if not models:
            continue
        print(f'{osp.relpath(path, REPO)}: {len(models)} config(s)', flush=True)
        step = progress_bar(len(models))
        rows = []
        for model in models:
            figures = measure(model['Config'])
            model.setdefault('Metadata', {}).update(figures)
            rows.append(f"  {model['Name']}: {figures}")
            step()
        print('\n'.join(rows), flush=True)
        if args.write:
            write_text_atomic(path, HEADER + yaml.safe_dump(meta, sort_keys=False, width=100))


if __name__ == '__main__':
    main()
