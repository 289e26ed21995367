"""ECO-M2F's derived dataset: per-image quality at every exit, and the gate labels it gives.

File format (JSON, written by ``tools/ecom2f/build_quality_table.py``)::

    {"metadata": {"exits": [2, 3, 4, 5, 6], "metric": "pq", "config": ..., "checkpoint": ...,
                  "num_images": N},
     "quality": {"<img_id>": [q_2, q_3, q_4, q_5, q_6], ...}}

Image ids are stored as strings (JSON keys); lookups accept ints or strings. The table does not
depend on ``beta``: labels ``argmax_k(q_k - beta * k)`` are derived from it when the gate trains.
"""
import json
import math
import os
import os.path as osp
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from mmeffseg.utils.output_files import write_text_atomic
from .base_exit_gate import check_exits

ImgId = Union[int, str]


#: Two utilities closer than this count as equal (a tie). Qualities live in [0, 1] and are
#: stored with ~1e-16 resolution, so real differences are far larger; float rounding of
#: ``q_k - beta * k`` is far smaller (e.g. 0.29 - 0.02 vs 0.30 - 0.03).
TIE_TOLERANCE = 1e-9


def exit_labels(quality: np.ndarray, exits: Sequence[int], beta: float,
                tol: float = TIE_TOLERANCE) -> np.ndarray:
    """Gate labels ``argmax_k(q_k - beta * k)`` as class indices into ``exits``.

    Ties go to the earliest (cheapest) exit. Utilities within ``tol`` of the best one count as
    tied, so that float rounding of ``q_k - beta * k`` cannot decide a tie that is exact in
    decimal numbers (``q_2 = 0.29, q_3 = 0.30, beta = 0.01``: both 0.27, label exit 2).

    Args:
        quality (np.ndarray): Per-image quality, shape (N, len(exits)), values in [0, 1].
        exits (Sequence[int]): Layer counts of the columns.
        beta (float): Price of one encoder layer in quality units (>= 0).
        tol (float): Tie tolerance. Defaults to :data:`TIE_TOLERANCE`.

    Returns:
        np.ndarray: int64 class indices, shape (N,).
    """
    quality = np.asarray(quality, dtype=np.float64)
    penalty = float(beta) * np.asarray(exits, dtype=np.float64)
    utility = quality - penalty[None, :]
    if utility.shape[0] == 0:
        return np.zeros((0, ), dtype=np.int64)
    near_best = utility >= utility.max(axis=1, keepdims=True) - tol
    return np.argmax(near_best, axis=1).astype(np.int64)  # first True = cheapest tied exit


def dataset_source(dataset_cfg: dict) -> dict:
    """Where a (leaf) dataset config reads from: ``ann_file`` and ``data_prefix`` joined with
    ``data_root``; a table records it and the gate compares it with its training set."""
    root = dataset_cfg.get('data_root', None) or ''

    def full(path):
        return osp.normpath(osp.join(root, path)) if isinstance(path, str) and path else path

    prefix = dataset_cfg.get('data_prefix', None) or {}
    return dict(data_root=root or None, ann_file=full(dataset_cfg.get('ann_file', None)),
                data_prefix={k: full(v) for k, v in sorted(prefix.items())})


def write_quality_table(path: str, quality: Dict[ImgId, Sequence[float]], exits: Sequence[int],
                        metadata: Optional[dict] = None) -> None:
    """Write a quality table in the format :class:`ExitQualityTable` reads.

    Args:
        path (str): Output ``.json`` file.
        quality (dict): Image id -> qualities, one per exit.
        exits (Sequence[int]): Layer counts of the columns.
        metadata (dict, optional): Extra provenance (metric, config, checkpoint...).
    """
    exits = check_exits(exits, 'write_quality_table')
    meta = dict(metadata or {})
    meta.update(exits=list(exits), num_images=len(quality))
    # Sort ids numerically when possible so single-process and distributed runs write the same
    # bytes whatever order the shards finished in.
    keys = sorted(quality, key=lambda k: (0, int(k), '') if str(k).isdigit() else (1, 0, str(k)))
    body = {str(k): [float(v) for v in quality[k]] for k in keys}
    # Atomic: a full disk or an interrupt keeps the previous table instead of a cut-off one.
    write_text_atomic(path, json.dumps(dict(metadata=meta, quality=body), indent=1))


class ExitQualityTable:
    """A validated per-image quality table.

    Args:
        path (str): The JSON file written by ``tools/ecom2f/build_quality_table.py``.
        exits (Sequence[int], optional): The model's exits; the table must have the same.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: malformed file, different exit set, a row of the wrong length or a value
            outside [0, 1]; the message names the file and the first offending image.
    """

    def __init__(self, path: str, exits: Optional[Sequence[int]] = None) -> None:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'ECO-M2F quality table {path!r} not found; build it with '
                f'tools/ecom2f/build_quality_table.py (Step B) or fix model.quality_table.')
        self.path = path
        try:
            with open(path) as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'Quality table {path!r} is not valid JSON ({e}); rebuild it with '
                             f'tools/ecom2f/build_quality_table.py.') from e
        if not isinstance(data, dict) or not isinstance(data.get('quality'), dict) or \
                not isinstance(data.get('metadata'), dict) or 'exits' not in data['metadata']:
            raise ValueError(f'Quality table {path!r} must be a JSON object with "metadata" '
                             f'(including "exits") and "quality" entries; rebuild it with '
                             f'tools/ecom2f/build_quality_table.py.')
        self.metadata = data['metadata']
        self.exits = check_exits(self.metadata['exits'], f'quality table {path!r}')
        if exits is not None and tuple(int(e) for e in exits) != self.exits:
            raise ValueError(f'Quality table {path!r} has exits {list(self.exits)} but the model '
                             f'uses {list(exits)}; rebuild the table for the model\'s exits or '
                             f'set the model\'s exits to {list(self.exits)}.')
        ids, rows = [], []
        for img_id, row in data['quality'].items():
            if not isinstance(row, list) or len(row) != len(self.exits):
                raise ValueError(f'Quality table {path!r}: image {img_id} has {row!r}, expected '
                                 f'{len(self.exits)} values (one per exit {list(self.exits)}).')
            for v in row:
                if not isinstance(v, (int, float)) or isinstance(v, bool) or \
                        not math.isfinite(v) or not 0.0 <= v <= 1.0:
                    raise ValueError(f'Quality table {path!r}: image {img_id} has value {v!r} '
                                     f'outside [0, 1]; per-image quality must be a fraction '
                                     f'(PQ or mIoU / 100 is not allowed).')
            ids.append(str(img_id))
            rows.append(row)
        self.ids: List[str] = ids
        self.quality = np.asarray(rows, dtype=np.float64).reshape(len(ids), len(self.exits))
        self._row = {img_id: i for i, img_id in enumerate(ids)}

    def check_source(self, train_dataset_cfg: Optional[dict],
                     load_from: Optional[str]) -> List[str]:
        """Refuse a table built on another dataset or from another parent than Step C's.

        Compares the table's recorded dataset (``metadata.dataset``: ann_file and data_prefix,
        written by the Step-B tool) with the training set's dataset config, and its parent
        checkpoint (``metadata.checkpoint_file``: path, size, mtime) with ``load_from``.

        Args:
            train_dataset_cfg (dict, optional): ``train_dataloader.dataset`` of the gate config
                (wrappers allowed; the table must match one of its datasets).
            load_from (str, optional): The gate config's parent checkpoint.

        Returns:
            list[str]: What the table does not record and so could not be checked.

        Raises:
            ValueError: naming the table, both values and the override
                (``model.quality_table_check=False``).
        """
        from mmeffseg.datasets.data_roots import iter_dataset_cfgs
        fix = ('rebuild the table with tools/ecom2f/build_quality_table.py on this parent and '
               'training split, or, if the files only moved, set '
               'model.quality_table_check=False')
        unchecked = []
        recorded = self.metadata.get('dataset', None)
        if recorded is None:
            unchecked.append('dataset')
        elif train_dataset_cfg is not None:
            keys = ('ann_file', 'data_prefix')
            ours = [dataset_source(leaf) for _, leaf in iter_dataset_cfgs(train_dataset_cfg)]
            if not any(all(src.get(k) == recorded.get(k) for k in keys) for src in ours):
                raise ValueError(
                    f'Quality table {self.path!r} was built on dataset '
                    f'{ {k: recorded.get(k) for k in keys} } but the gate trains on '
                    f'{[{k: src.get(k) for k in keys} for src in ours]} '
                    f'(train_dataloader.dataset); {fix}.')
        parent = self.metadata.get('checkpoint_file', None)
        if parent is None:
            unchecked.append('checkpoint')
        elif load_from:
            differs = osp.realpath(load_from) != parent.get('path')
            if not differs and osp.isfile(load_from):
                stat = os.stat(load_from)
                differs = (stat.st_size, stat.st_mtime) != (parent.get('size'), parent.get('mtime'))
                what = 'the same path, since rewritten'
            else:
                what = osp.realpath(load_from)
            if differs:
                raise ValueError(
                    f'Quality table {self.path!r} was built from parent checkpoint '
                    f'{parent.get("path")} (size {parent.get("size")}, mtime '
                    f'{parent.get("mtime")}) but the gate config loads load_from={load_from} '
                    f'({what}); {fix}.')
        return unchecked

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, img_id: ImgId) -> bool:
        return str(img_id) in self._row

    def check_covers(self, img_ids: Iterable[ImgId]) -> None:
        """Raise a ValueError naming the first of ``img_ids`` that the table lacks."""
        for img_id in img_ids:
            if str(img_id) not in self._row:
                raise ValueError(
                    f'Quality table {self.path!r} misses image {img_id} of the training set; '
                    f'rebuild it on the same split (tools/ecom2f/build_quality_table.py) or '
                    f'resume the interrupted build.')

    def labels(self, img_ids: Sequence[ImgId], beta: float) -> Tensor:
        """Gate labels (class indices into ``exits``) for some images, a LongTensor (B,)."""
        self.check_covers(img_ids)
        rows = self.quality[[self._row[str(i)] for i in img_ids]]
        return torch.from_numpy(exit_labels(rows, self.exits, beta))

    def histogram(self, beta: float, img_ids: Optional[Iterable[ImgId]] = None) -> Dict[int, int]:
        """Number of images per exit label (layer count -> count), over ``img_ids`` or all."""
        if img_ids is None:
            rows = self.quality
        else:
            img_ids = list(img_ids)
            self.check_covers(img_ids)
            rows = self.quality[[self._row[str(i)] for i in img_ids]]
        counts = Counter(exit_labels(rows, self.exits, beta).tolist())
        return {e: counts.get(j, 0) for j, e in enumerate(self.exits)}
