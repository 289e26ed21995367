"""Check, before any dataset is built, that every data path a config names exists.

mmdet / mmseg report a missing data folder deep inside dataset or metric construction (often as
an ``AssertionError`` or a bare ``FileNotFoundError`` from a JSON reader). ``check_data_roots``
walks a config's dataloaders and evaluators first and raises one ``FileNotFoundError`` naming the
config key, the path and how to fix it. The project's tools call it right after loading a config.
"""
import os.path as osp
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

from mmengine.config import Config

# Substring of a path -> how to obtain that data. Checked in order; the first match wins.
_FIX_HINTS = (
    ('embedded_coco',
     'regenerate the embedded set with `python tools/dataset_converters/make_embedded_data.py` '
     '(it reads ../shared/data/coco128; pass --src otherwise)'),
    ('coco128', 'set the environment variable COCO128_ROOT to the coco128 folder (the one holding '
     'train2017/ and annotations/) or run from the repository root where '
     '../shared/data/coco128 exists'),
    ('camvid', 'set the environment variable CAMVID_ROOT to the CamVid folder (the one holding '
     'images/{train,val} and labels/{train,val}) or run from the repository root where '
     '../shared/data/camvid exists'),
)
_PHASES = ('train', 'val', 'test')
# Evaluator fields that name input files (outfile_prefix etc. are outputs and may not exist yet).
_EVALUATOR_PATH_KEYS = ('ann_file', 'seg_prefix')


def missing_path_message(key: str, path: str) -> str:
    """Message for a missing path: the config key, the path and how to fix it.

    Args:
        key (str): dotted config key, e.g. ``train_dataloader.dataset.ann_file``.
        path (str): the resolved path that does not exist.

    Returns:
        str: a one-paragraph message.
    """
    hint = next((fix for token, fix in _FIX_HINTS if token in path.lower()),
                'point it to an existing path')
    return (f'{key} = {path!r} does not exist (resolved from the current directory '
            f'{osp.abspath(".")!r}). To fix: {hint}; or override it, e.g. '
            f'`--cfg-options {key}=/path/to/...`.')


def _is_remote(path: str) -> bool:
    # s3://, http:// ... are read through backend_args; existence cannot be checked locally.
    return '://' in path


def _join(root: Optional[str], path: str) -> str:
    # Same rule as mmengine's BaseDataset._join_prefix: relative paths hang off data_root.
    if root and not osp.isabs(path) and not _is_remote(path):
        return osp.join(root, path)
    return path


def _pipeline_reads_seg(pipeline: Optional[Sequence]) -> bool:
    """Whether an mmdet pipeline reads ``data_prefix['seg']`` (panoptic PNGs or semantic maps).

    mmdet's instance configs inherit ``data_prefix.seg`` from the panoptic base they extend and
    never read it; checking it there would reject valid configs.
    """
    for transform in pipeline or []:
        if not isinstance(transform, dict):
            return True  # a built transform: cannot tell, so check the prefix
        if 'Panoptic' in str(transform.get('type', '')):
            if transform.get('with_seg', True):
                return True
        elif transform.get('with_seg', False):
            return True
    return False


def iter_dataset_cfgs(dataset: dict, key: str = 'dataset') -> Iterator[Tuple[str, dict]]:
    """Yield ``(config key, dataset config)`` for every real dataset under wrappers.

    The one unwrap rule for dataset configs: ``dataset`` (RepeatDataset, ClassBalancedDataset...)
    and ``datasets`` (ConcatDataset) are followed down; anything else is a dataset.
    """
    inner = dataset.get('dataset', None)
    subs = dataset.get('datasets', None)
    if isinstance(inner, dict):
        yield from iter_dataset_cfgs(inner, f'{key}.dataset')
    elif subs:
        for i, sub in enumerate(subs):
            if isinstance(sub, dict):
                yield from iter_dataset_cfgs(sub, f'{key}.datasets.{i}')
    else:
        yield key, dataset


def _dataset_paths(dataset: dict, key: str) -> Iterator[Tuple[str, str]]:
    """Yield (config key, resolved path) for one dataset config, wrappers included."""
    for leaf_key, leaf in iter_dataset_cfgs(dataset, key):
        root = leaf.get('data_root', None)
        if root:
            # Root first: when it is missing, that is the cause worth reporting.
            yield f'{leaf_key}.data_root', root
        ann_file = leaf.get('ann_file', None)
        if ann_file:
            yield f'{leaf_key}.ann_file', _join(root, ann_file)
        reads_seg = _pipeline_reads_seg(leaf.get('pipeline', None))
        for name, prefix in (leaf.get('data_prefix', None) or {}).items():
            if not prefix or (name == 'seg' and not reads_seg):
                continue
            yield f'{leaf_key}.data_prefix.{name}', _join(root, prefix)


def _config_paths(cfg: Config, phases: Sequence[str]) -> Iterator[Tuple[str, str]]:
    for phase in phases:
        loader = cfg.get(f'{phase}_dataloader', None)
        if loader and isinstance(loader.get('dataset', None), dict):
            yield from _dataset_paths(loader['dataset'], f'{phase}_dataloader.dataset')
        evaluator = cfg.get(f'{phase}_evaluator', None)
        if isinstance(evaluator, dict):
            items = [(f'{phase}_evaluator', evaluator)]
        elif isinstance(evaluator, (list, tuple)):
            items = [(f'{phase}_evaluator.{i}', e) for i, e in enumerate(evaluator)]
        else:
            items = []
        for ev_key, ev in items:
            if not isinstance(ev, dict):
                continue
            for name in _EVALUATOR_PATH_KEYS:
                if ev.get(name, None):
                    yield f'{ev_key}.{name}', ev[name]


def check_data_roots(cfg: Union[Config, dict, str],
                     phases: Sequence[str] = _PHASES) -> Dict[str, str]:
    """Raise a clear error if a data path of a config's dataloaders / evaluators is missing.

    Walks ``{phase}_dataloader.dataset`` (through wrappers, :func:`iter_dataset_cfgs`) for
    ``data_root``, ``ann_file`` and every ``data_prefix`` entry (relative ones joined to
    ``data_root`` as mmengine does; mmdet's ``seg`` prefix only when the pipeline loads
    panoptic / semantic labels), and ``{phase}_evaluator`` (a dict or a list) for
    ``ann_file`` and ``seg_prefix``. Remote paths (``s3://`` ...) are skipped.

    Args:
        cfg (Config | dict | str): a loaded config, a plain dict, or a config name
            (anything :func:`mmeffseg.apis.read_config` accepts).
        phases (Sequence[str]): which of ``train`` / ``val`` / ``test`` to check: the loops a
            run builds (``tools/train.py`` checks ``val`` only when it validates).

    Returns:
        dict[str, str]: every checked config key and its resolved path.

    Raises:
        FileNotFoundError: for the first missing path; the message names the config key, the
            path and the fix (make script, environment variable or ``--cfg-options``).
    """
    unknown = set(phases) - set(_PHASES)
    if unknown:
        raise ValueError(f'phases {sorted(unknown)} are not among {_PHASES}')
    if isinstance(cfg, str):
        from mmeffseg.apis import read_config  # the one config reader
        cfg = read_config(cfg)
    elif not isinstance(cfg, Config):
        cfg = Config(dict(cfg))
    checked = {}
    for key, path in _config_paths(cfg, phases):
        if not isinstance(path, str) or _is_remote(path):
            continue
        if not osp.exists(path):
            raise FileNotFoundError(missing_path_message(key, path))
        checked[key] = path
    return checked
