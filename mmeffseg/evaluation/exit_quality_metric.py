"""ECO-M2F Step B as an mmengine metric: per-image quality at every exit, one table per metric.

:class:`ExitQualityMetric` takes, in :meth:`process`, the predictions of each image at every
exit (what ``predict_at_exits`` of ``EcoM2F`` / ``EcoM2FSegmentor`` returns), scores them
(per-image PQ and/or mIoU, :mod:`mmeffseg.engine.per_image_quality`) and appends each image's
row to a partial file of its rank, so an interrupted run can resume. mmengine's evaluator
gathers the rows of every rank; :meth:`compute_metrics` merges them with the rows of earlier
runs, writes the table(s) (the same bytes whatever the number of processes or interruptions)
and returns the mean quality of each exit.
"""
import glob
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmdet.registry import METRICS as MMDET_METRICS
from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS as MMSEG_METRICS

from mmeffseg.engine.per_image_quality import (MMDET_INSTANCE_OFFSET, CocoPanopticGroundTruth,
                                               mmdet_panoptic_to_segments, per_image_miou,
                                               per_image_pq)
from mmeffseg.models.eco_m2f_steps import image_id_of
from mmeffseg.models.gates import check_exits, write_quality_table

QUALITY_METRICS = ('pq', 'miou')


def partial_paths(prefix: str) -> List[str]:
    """The partial files (one per rank of every run so far) of the tables at ``prefix``."""
    return sorted(glob.glob(glob.escape(prefix) + '.part*.jsonl'))


def remove_partials(prefix: str) -> None:
    """Discard the partial files of ``prefix`` (a finished table or ``--overwrite``)."""
    for path in partial_paths(prefix):
        os.remove(path)


def read_partial_header(path: str) -> Optional[dict]:
    """The header record (first line) of a partial file: the settings its rows were made with.

    Returns None when the file holds nothing yet (missing, empty, or a first line cut short by
    an interruption, with nothing after it).

    Raises:
        ValueError: the file holds rows but no header (written by an older tool, or not by
            Step B): its rows cannot be trusted to match the current run.
    """
    if not osp.isfile(path):
        return None
    with open(path) as f:
        first, rest = f.readline(), f.readline()
    try:
        header = json.loads(first).get('header') if first.strip() else None
    except (ValueError, AttributeError):
        header = None
    if isinstance(header, dict):
        return header
    if not first.strip() or (not rest and not first.endswith('\n')):
        return None
    raise ValueError(f'Step-B partial file {path} has no header record, so it is not known '
                     'which checkpoint, exits and settings its rows come from; delete it or '
                     'pass --overwrite to discard the partial files.')


def check_partials(prefix: str, header: dict) -> None:
    """Refuse to resume from partial files made with other settings than ``header``.

    Raises:
        ValueError: naming the partial file and the first field that differs, with both values.
    """
    header = json.loads(json.dumps(header))  # compare as stored (tuples become lists)
    for path in partial_paths(prefix):
        old = read_partial_header(path)
        if old is None:
            continue
        for field in sorted(set(old) | set(header)):
            if old.get(field) != header.get(field):
                raise ValueError(
                    f'Step-B partial file {path} was made with {field}={old.get(field)!r}, this '
                    f'run has {field}={header.get(field)!r}; resuming would mix rows of both '
                    f'into one table. Run again with the same settings to resume, or pass '
                    f'--overwrite to discard the partial files.')


def read_partials(prefix: str) -> Dict[str, Dict[str, List[float]]]:
    """Rows finished by earlier (interrupted) runs: ``{img_id: {metric: [q per exit]}}``."""
    done: Dict[str, Dict[str, List[float]]] = {}
    for path in partial_paths(prefix):
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    if 'header' in rec:
                        continue
                    done.setdefault(str(rec['img_id']), {}).update(
                        {m: [float(q) for q in v] for m, v in rec['quality'].items()})
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line cut short by the interruption: that image is redone
    return done


@MMSEG_METRICS.register_module()
@MMDET_METRICS.register_module()
class ExitQualityMetric(BaseMetric):
    """Per-image quality of every exit (ECO-M2F Step B), written as quality tables.

    Args:
        exits (Sequence[int]): The exits each image is predicted at, in the predictions' order.
        outs (Sequence[str]): Output table per metric.
        metrics (Sequence[str]): ``'pq'`` and/or ``'miou'``. Defaults to ``('pq', )``.
        img_ids (Sequence, optional): Every image the tables must cover (the split); with
            None, the images seen.
        ann_file (str, optional): COCO panoptic json; needed for panoptic predictions.
        seg_prefix (str, optional): Folder of the ground-truth panoptic PNGs.
        cat_ids (Sequence[int], optional): Dataset category id of each contiguous label of a
            panoptic prediction; default: looked up by class name in ``ann_file``.
        metadata (dict, optional): Extra provenance written into each table.
        header (dict, optional): The run's settings, written as the first line of each new
            partial file and compared (:func:`check_partials`) before rows are merged; None
            writes no header.
        collect_device (str): As in mmengine. Defaults to ``'cpu'``.
    """

    default_prefix = 'exit_quality'

    def __init__(self,
                 exits: Sequence[int],
                 outs: Sequence[str],
                 metrics: Sequence[str] = ('pq', ),
                 img_ids: Optional[Sequence] = None,
                 ann_file: Optional[str] = None,
                 seg_prefix: Optional[str] = None,
                 cat_ids: Optional[Sequence[int]] = None,
                 metadata: Optional[dict] = None,
                 header: Optional[dict] = None,
                 collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device)
        self.exits = check_exits(exits, 'ExitQualityMetric')
        self.metrics = list(metrics)
        self.outs = list(outs)
        bad = [m for m in self.metrics if m not in QUALITY_METRICS]
        repeated = len(set(self.metrics)) != len(self.metrics)
        if bad or repeated or len(self.outs) != len(self.metrics):
            raise ValueError(f'ExitQualityMetric: metrics={self.metrics} (each one of '
                             f'{QUALITY_METRICS}, no repeats) need one out each, got '
                             f'outs={self.outs}.')
        self.partial_prefix = self.outs[0]
        self.img_ids = None if img_ids is None else [str(i) for i in img_ids]
        self.ann_file, self.seg_prefix = ann_file, seg_prefix
        self._cat_ids = None if cat_ids is None else list(cat_ids)
        self._gt: Optional[CocoPanopticGroundTruth] = None
        self.metadata = dict(metadata or {})
        self.header = None if header is None else dict(header)

    # ------------------------------------------------------------------ scoring
    @property
    def gt(self) -> CocoPanopticGroundTruth:
        if self._gt is None:
            if self.ann_file is None or self.seg_prefix is None:
                raise ValueError('ExitQualityMetric: panoptic predictions need ann_file and '
                                 'seg_prefix (the COCO panoptic ground truth).')
            self._gt = CocoPanopticGroundTruth(self.ann_file, self.seg_prefix)
        return self._gt

    @property
    def cat_ids(self) -> List[int]:
        if self._cat_ids is None:
            with open(self.ann_file) as f:
                by_name = {c['name']: c['id'] for c in json.load(f)['categories']}
            self._cat_ids = [by_name[name] for name in self.dataset_meta['classes']]
        return self._cat_ids

    def _score_panoptic(self, img_id, pred: dict) -> Dict[str, float]:
        pan = np.asarray(pred['pred_panoptic_seg']['sem_seg'][0].cpu(), dtype=np.int64)
        out = {}
        if 'pq' in self.metrics:
            gt_ids, gt_segments = self.gt.load(img_id)
            pred_ids, pred_segments = mmdet_panoptic_to_segments(pan, len(self.cat_ids),
                                                                 self.cat_ids)
            out['pq'] = per_image_pq(gt_ids, gt_segments, pred_ids, pred_segments)
        if 'miou' in self.metrics:
            cat2label = {c: i for i, c in enumerate(self.cat_ids)}
            out['miou'] = per_image_miou(self.gt.load_semantic(img_id, cat2label),
                                         pan % MMDET_INSTANCE_OFFSET)
        return out

    def _score_semantic(self, img_id, pred: dict) -> Dict[str, float]:
        if self.metrics != ['miou']:
            raise ValueError(f'ExitQualityMetric: semantic predictions are scored by mIoU '
                             f'only; use metrics=["miou"], not {self.metrics}.')
        if 'gt_sem_seg' not in pred:
            raise ValueError(f'Image {img_id}: no gt_sem_seg; the test pipeline must load the '
                             'annotations (LoadAnnotations).')
        gt = np.asarray(pred['gt_sem_seg']['data'][0].cpu(), dtype=np.int64)
        return {'miou': per_image_miou(gt, np.asarray(pred['pred_sem_seg']['data'][0].cpu()))}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Score the predictions of each image at every exit; keep and dump its row.

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): Predictions, ``len(exits)`` per image in exit order
                (each with ``exit_layers``, and ``img_id`` or ``img_path``).
        """
        if len(data_samples) % len(self.exits):
            raise ValueError(f'ExitQualityMetric: got {len(data_samples)} predictions, not a '
                             f'multiple of the {len(self.exits)} exits {list(self.exits)}.')
        path = f'{self.partial_prefix}.part{get_rank()}.jsonl'
        fresh = self.header is not None and read_partial_header(path) is None
        with open(path, 'w' if fresh else 'a') as part:
            if fresh:
                part.write(json.dumps(dict(header=self.header)) + '\n')
            for start in range(0, len(data_samples), len(self.exits)):
                preds = data_samples[start:start + len(self.exits)]
                ran = [int(p['exit_layers']) for p in preds]
                if ran != list(self.exits):
                    raise ValueError(f'ExitQualityMetric: predictions at exits {ran}, '
                                     f'expected {list(self.exits)}.')
                img_id = image_id_of(preds[0])
                score = self._score_panoptic if 'pred_panoptic_seg' in preds[0] \
                    else self._score_semantic
                per_exit = [score(img_id, p) for p in preds]
                quality = {m: [q[m] for q in per_exit] for m in self.metrics}
                part.write(json.dumps(dict(img_id=img_id, quality=quality)) + '\n')
                part.flush()
                self.results.append((str(img_id), quality))

    # ------------------------------------------------------------------ tables
    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Merge with earlier runs' rows, write the tables, return each exit's mean."""
        if self.header is not None:
            check_partials(self.partial_prefix, self.header)
        rows = read_partials(self.partial_prefix)
        for img_id, quality in results:
            rows.setdefault(img_id, {}).update(quality)
        ids = self.img_ids if self.img_ids is not None else sorted(rows)
        missing = [i for i in ids if not all(m in rows.get(i, {}) for m in self.metrics)]
        if missing:
            raise ValueError(f'ExitQualityMetric: no quality for image {missing[0]} (and '
                             f'{len(missing) - 1} more); run Step B again to finish them.')
        metrics = {}
        for metric, out in zip(self.metrics, self.outs):
            table = {i: rows[i][metric] for i in ids}
            write_quality_table(out, table, self.exits, metadata=dict(self.metadata,
                                                                      metric=metric))
            mean = np.asarray(list(table.values()), dtype=np.float64).mean(0)
            metrics.update({f'{metric}_exit_{k}': float(v) for k, v in zip(self.exits, mean)})
        remove_partials(self.partial_prefix)
        return metrics
