"""A dataset that filtering left empty is named with its filter setting, not numpy's message.

mmengine's ``BaseDataset`` serialises its data list with ``np.concatenate``; when the filter
(mmdet's ``filter_cfg=dict(filter_empty_gt=True, ...)``) has removed every image, e.g. because the
annotation file or ``metainfo.classes`` do not match, the error is only "need at least one array
to concatenate".
"""
import contextlib
from typing import Iterator, Sequence

from mmengine.config import Config

from .data_roots import iter_dataset_cfgs

__all__ = ['explain_empty_dataset']

_NUMPY_EMPTY = 'need at least one array to concatenate'


def _describe(cfg: Config, phases: Sequence[str]) -> str:
    parts = []
    for phase in phases:
        loader = cfg.get(f'{phase}_dataloader')
        if not loader or not isinstance(loader.get('dataset'), dict):
            continue
        for key, dataset in iter_dataset_cfgs(loader['dataset']):
            parts.append(
                f"{phase}_dataloader.{key} ({dataset.get('type')}, data_root="
                f"{dataset.get('data_root')!r}, ann_file={dataset.get('ann_file')!r}, "
                f"filter_cfg={dict(dataset.get('filter_cfg') or {})})")
    return '; '.join(parts)


@contextlib.contextmanager
def explain_empty_dataset(cfg: Config,
                          phases: Sequence[str] = ('train', 'val', 'test')) -> Iterator[None]:
    """Re-raise numpy's empty-concatenate error as one naming the datasets and their filter.

    Raises:
        ValueError: naming each dataset of ``phases`` (type, root, annotation file,
            ``filter_cfg``) and the fix.
    """
    try:
        yield
    except ValueError as err:
        if _NUMPY_EMPTY not in str(err):
            raise
        raise ValueError(
            f'{cfg.filename}: a dataset has no image left after filtering: '
            f'{_describe(cfg, phases)}. Every image was filtered out (e.g. filter_empty_gt=True '
            f'and no image has an annotation of the classes in metainfo, or min_size too '
            f'large). Fix: check the annotation file and metainfo.classes, or set '
            f'filter_cfg=dict(filter_empty_gt=False).') from err
