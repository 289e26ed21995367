"""Per-image segmentation quality in [0, 1]: panoptic quality (PQ) and mIoU of one image.

ECO-M2F's Step B stores one such number per image and exit. PQ follows the COCO panoptic
evaluation (panopticapi's ``pq_compute_single_core``) restricted to one image:

* a predicted and a ground-truth segment of the same category match when IoU > 0.5, where the
  union leaves out the predicted pixels that fall on void (unlabelled) ground truth;
* unmatched ground-truth segments are false negatives unless they are crowd regions;
* an unmatched prediction is a false positive unless more than half of it lies on void or on the
  crowd region of its own category;
* PQ per category = sum(IoU of matches) / (TP + FP/2 + FN/2), averaged over the categories
  present in the ground truth or the prediction of that image.

An image where no category is present (no ground-truth segment apart from crowd/void and no
counted prediction) gets quality 1.0: there is nothing to find and nothing was wrongly found,
at every exit alike, so such images never favour a deeper exit. The same convention holds for
per-image mIoU (mean IoU over the classes present in ground truth or prediction on labelled
pixels).
"""
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

import numpy as np

# Pair-encoding offset: larger than any COCO panoptic segment id (R + 256 G + 256^2 B).
_PAIR_OFFSET = 256**3
# mmdet's panoptic encoding: label + instance_id * INSTANCE_OFFSET (mmdet.evaluation.functional).
MMDET_INSTANCE_OFFSET = 1000


def per_image_pq(gt_ids: np.ndarray, gt_segments: Sequence[dict], pred_ids: np.ndarray,
                 pred_segments: Sequence[dict]) -> float:
    """Panoptic quality of one image, as a fraction in [0, 1].

    Arguments as in :func:`per_image_pq_stats`; an image without any category gets 1.0.
    """
    stats = per_image_pq_stats(gt_ids, gt_segments, pred_ids, pred_segments)
    return pq_from_stats(stats) if stats else 1.0


def pq_from_stats(stats: Dict[int, List[float]]) -> float:
    """PQ from per-category ``[iou_sum, tp, fp, fn]``, averaged over the categories counted,
    as panopticapi's ``PQStat.pq_average`` does (summed stats of many images give the
    dataset's PQ)."""
    counted = [(iou, tp, fp, fn) for iou, tp, fp, fn in stats.values() if tp + fp + fn > 0]
    if not counted:
        return 0.0
    return float(np.mean([iou / (tp + 0.5 * fp + 0.5 * fn) for iou, tp, fp, fn in counted]))


def per_image_pq_stats(gt_ids: np.ndarray, gt_segments: Sequence[dict], pred_ids: np.ndarray,
                       pred_segments: Sequence[dict]) -> Dict[int, List[float]]:
    """Panoptic-quality statistics of one image: per category ``[iou_sum, tp, fp, fn]``.

    Args:
        gt_ids (np.ndarray): Ground-truth segment id per pixel, shape (H, W); 0 and ids absent
            from ``gt_segments`` are void.
        gt_segments (Sequence[dict]): ``dict(id, category_id, iscrowd)`` per ground-truth
            segment (``iscrowd`` optional, default 0).
        pred_ids (np.ndarray): Predicted segment id per pixel, shape (H, W); 0 and ids absent
            from ``pred_segments`` are "no prediction".
        pred_segments (Sequence[dict]): ``dict(id, category_id)`` per predicted segment.

    Returns:
        dict: Category id -> ``[sum of matched IoUs, TP, FP, FN]``, for the categories present
        in the image's ground truth or prediction.
    """
    if gt_ids.shape != pred_ids.shape:
        raise ValueError(f'per_image_pq: ground truth {gt_ids.shape} and prediction '
                         f'{pred_ids.shape} differ in size; predict at the original image size '
                         f'(rescale=True).')
    gt_ids = gt_ids.astype(np.int64)
    pred_ids = pred_ids.astype(np.int64)
    gt_cat = {int(s['id']): int(s['category_id']) for s in gt_segments if int(s['id']) != 0}
    gt_crowd = {int(s['id']) for s in gt_segments if s.get('iscrowd', 0)}
    pred_cat = {int(s['id']): int(s['category_id']) for s in pred_segments if int(s['id']) != 0}
    # Unknown ids are void: fold them into 0 so they take part in the void rules below.
    gt_ids = np.where(np.isin(gt_ids, list(gt_cat)), gt_ids, 0)
    pred_ids = np.where(np.isin(pred_ids, list(pred_cat)), pred_ids, 0)

    gt_area = dict(zip(*[a.tolist() for a in np.unique(gt_ids, return_counts=True)]))
    pred_area = dict(zip(*[a.tolist() for a in np.unique(pred_ids, return_counts=True)]))
    pairs, counts = np.unique(gt_ids * _PAIR_OFFSET + pred_ids, return_counts=True)
    inter = {(int(p // _PAIR_OFFSET), int(p % _PAIR_OFFSET)): int(c)
             for p, c in zip(pairs, counts)}
    crowd_of_cat = {gt_cat[g]: g for g in gt_crowd}

    tp, fp, fn = defaultdict(int), defaultdict(int), defaultdict(int)
    iou_sum = defaultdict(float)
    matched_gt, matched_pred = set(), set()
    for (g, p), n in inter.items():
        if g == 0 or p == 0 or g in gt_crowd or gt_cat[g] != pred_cat[p]:
            continue
        union = pred_area[p] + gt_area[g] - n - inter.get((0, p), 0)
        iou = n / union
        if iou > 0.5:
            tp[gt_cat[g]] += 1
            iou_sum[gt_cat[g]] += iou
            matched_gt.add(g)
            matched_pred.add(p)
    for g, cat in gt_cat.items():
        if g not in matched_gt and g not in gt_crowd and gt_area.get(g, 0) > 0:
            fn[cat] += 1
    for p, cat in pred_cat.items():
        if p in matched_pred or pred_area.get(p, 0) == 0:
            continue
        ignored = inter.get((0, p), 0)
        if cat in crowd_of_cat:
            ignored += inter.get((crowd_of_cat[cat], p), 0)
        if ignored / pred_area[p] > 0.5:
            continue
        fp[cat] += 1

    cats = set(tp) | set(fp) | set(fn)
    return {c: [iou_sum[c], tp[c], fp[c], fn[c]] for c in sorted(cats)}


def per_image_miou(gt_sem: np.ndarray, pred_sem: np.ndarray, ignore_index: int = 255) -> float:
    """Mean IoU of one image over the classes present in its ground truth or prediction.

    Args:
        gt_sem (np.ndarray): Ground-truth class per pixel, shape (H, W); ``ignore_index`` is
            unlabelled and does not count.
        pred_sem (np.ndarray): Predicted class per pixel, shape (H, W); a value no ground-truth
            class has (e.g. "no prediction") counts as wrong.
        ignore_index (int): Unlabelled value in ``gt_sem``. Defaults to 255.

    Returns:
        float: The image's mIoU as a fraction in [0, 1].
    """
    if gt_sem.shape != pred_sem.shape:
        raise ValueError(f'per_image_miou: ground truth {gt_sem.shape} and prediction '
                         f'{pred_sem.shape} differ in size.')
    valid = gt_sem != ignore_index
    gt, pred = gt_sem[valid].astype(np.int64), pred_sem[valid].astype(np.int64)
    classes = np.union1d(np.unique(gt), np.unique(pred))
    classes = classes[classes != ignore_index]
    if classes.size == 0:
        return 1.0
    ious = []
    for c in classes:
        g, p = gt == c, pred == c
        union = np.logical_or(g, p).sum()
        ious.append(np.logical_and(g, p).sum() / union)
    return float(np.mean(ious))


def mmdet_panoptic_to_segments(pan: np.ndarray, num_classes: int,
                               cat_ids: Sequence[int]) -> Tuple[np.ndarray, List[dict]]:
    """Turn mmdet's panoptic map (``label + instance * 1000``) into ids + segment list.

    Args:
        pan (np.ndarray): mmdet's ``pred_panoptic_seg.sem_seg[0]``, shape (H, W).
        num_classes (int): Number of classes; label ``num_classes`` is void.
        cat_ids (Sequence[int]): Dataset category id of each contiguous label.

    Returns:
        tuple: Segment id map (0 = no prediction) and ``[dict(id, category_id)]``.
    """
    pan = pan.astype(np.int64)
    values, inverse = np.unique(pan, return_inverse=True)
    ids = np.zeros(len(values), dtype=np.int64)
    segments = []
    for i, v in enumerate(values.tolist()):
        label = v % MMDET_INSTANCE_OFFSET
        if label >= num_classes:
            continue
        ids[i] = i + 1
        segments.append(dict(id=i + 1, category_id=int(cat_ids[label])))
    return ids[inverse.reshape(pan.shape)], segments


class CocoPanopticGroundTruth:
    """Reads COCO-panoptic ground truth (json + PNG folder) image by image.

    Args:
        ann_file (str): ``panoptic_*.json``.
        seg_prefix (str): Folder with the panoptic PNGs.
    """

    def __init__(self, ann_file: str, seg_prefix: str) -> None:
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'Panoptic annotation file {ann_file!r} not found; check '
                                    f'the dataset data_root / ann_file.')
        if not osp.isdir(seg_prefix):
            raise FileNotFoundError(f'Panoptic PNG folder {seg_prefix!r} not found; check the '
                                    f'dataset data_prefix.seg.')
        with open(ann_file) as f:
            data = json.load(f)
        self.seg_prefix = seg_prefix
        self.anns: Dict[int, dict] = {int(a['image_id']): a for a in data['annotations']}

    def __contains__(self, img_id: int) -> bool:
        return int(img_id) in self.anns

    def load(self, img_id: int) -> Tuple[np.ndarray, List[dict]]:
        """Segment id map (H, W) and ``segments_info`` of one image."""
        from PIL import Image
        if int(img_id) not in self.anns:
            raise ValueError(f'Image {img_id} has no panoptic annotation in the json; it cannot '
                             f'get a per-image quality.')
        ann = self.anns[int(img_id)]
        path = osp.join(self.seg_prefix, ann['file_name'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'Panoptic PNG {path!r} of image {img_id} not found.')
        rgb = np.asarray(Image.open(path).convert('RGB'), dtype=np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
        return ids, ann['segments_info']

    def load_semantic(self, img_id: int, cat2label: Dict[int, int],
                      ignore_index: int = 255) -> np.ndarray:
        """Contiguous class per pixel (``ignore_index`` on void and crowd) of one image."""
        ids, segments = self.load(img_id)
        sem = np.full(ids.shape, ignore_index, dtype=np.int64)
        for s in segments:
            if not s.get('iscrowd', 0):
                sem[ids == s['id']] = cat2label[s['category_id']]
        return sem
