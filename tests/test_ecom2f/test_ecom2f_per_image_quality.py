import numpy as np
import pytest

from mmeffseg.engine.per_image_quality import (mmdet_panoptic_to_segments, per_image_miou,
                                               per_image_pq)


def _two_segments():
    gt = np.zeros((10, 10), dtype=np.int64)
    gt[:, :5] = 1
    gt[:, 5:] = 2
    segs = [dict(id=1, category_id=10), dict(id=2, category_id=20)]
    return gt, segs


def test_perfect_and_empty():
    gt, segs = _two_segments()
    assert per_image_pq(gt, segs, gt * 7, [dict(id=7, category_id=10),
                                           dict(id=14, category_id=20)]) == pytest.approx(1.0)
    # Nothing to find and nothing found: 1.0 by convention.
    void = np.zeros((4, 4), dtype=np.int64)
    assert per_image_pq(void, [], void, []) == 1.0


def test_partial_match_fp_fn():
    gt, segs = _two_segments()
    pred = np.zeros_like(gt)
    pred[:, :4] = 1          # IoU 0.8 with gt 1 (cat 10): TP
    pred[:, 4:] = 2          # cat 30: FP; gt 2 (cat 20) -> FN
    pq = per_image_pq(gt, segs, pred, [dict(id=1, category_id=10), dict(id=2, category_id=30)])
    # cat 10: 0.8 / 1; cat 20: 0 / 0.5; cat 30: 0 / 0.5
    assert pq == pytest.approx((0.8 + 0 + 0) / 3)
    # Wrong category, same pixels: no match, FN + FP in two categories.
    pq = per_image_pq(gt, segs[:1], (gt == 1).astype(int), [dict(id=1, category_id=20)])
    assert pq == 0.0


def test_void_and_crowd_rules():
    gt = np.zeros((10, 10), dtype=np.int64)
    gt[:, :5] = 1                                 # cat 10, right half void
    segs = [dict(id=1, category_id=10)]
    pred = np.ones_like(gt)                       # covers segment + void
    # Union leaves out predicted void pixels: IoU 1.
    assert per_image_pq(gt, segs, pred, [dict(id=1, category_id=10)]) == pytest.approx(1.0)
    # A prediction mostly on void is not a false positive.
    pred2 = np.zeros_like(gt)
    pred2[:, :5] = 1
    pred2[:, 5:] = 2
    assert per_image_pq(gt, segs, pred2, [dict(id=1, category_id=10),
                                          dict(id=2, category_id=30)]) == pytest.approx(1.0)
    # Crowd: never a FN, and a prediction on the crowd of its own category is ignored.
    gt3 = np.full((10, 10), 5)
    gt3[:, :5] = 1
    segs3 = [dict(id=1, category_id=10), dict(id=5, category_id=40, iscrowd=1)]
    pred3 = np.zeros_like(gt3)
    pred3[:, :5] = 1
    pred3[:, 6:] = 2
    assert per_image_pq(gt3, segs3, pred3, [dict(id=1, category_id=10),
                                            dict(id=2, category_id=40)]) == pytest.approx(1.0)
    assert per_image_pq(gt3, segs3, pred3, [dict(id=1, category_id=10),
                                            dict(id=2, category_id=41)]) == pytest.approx(0.5)


def test_shape_mismatch():
    with pytest.raises(ValueError, match='differ in size'):
        per_image_pq(np.zeros((2, 2)), [], np.zeros((3, 2)), [])


def test_miou():
    gt = np.array([[0, 0, 1, 1], [0, 0, 1, 255]])
    assert per_image_miou(gt, np.array([[0, 0, 1, 1], [0, 0, 1, 7]])) == pytest.approx(1.0)
    pred = np.array([[0, 0, 0, 1], [0, 0, 1, 1]])
    # class 0: inter 4, union 5; class 1: inter 2, union 3
    assert per_image_miou(gt, pred) == pytest.approx((4 / 5 + 2 / 3) / 2)
    assert per_image_miou(np.full((2, 2), 255), np.zeros((2, 2))) == 1.0


def test_mmdet_panoptic_conversion():
    pan = np.array([[0, 1000, 2001], [5, 5, 2001]])  # label 5 = void with 5 classes
    ids, segs = mmdet_panoptic_to_segments(pan, num_classes=5, cat_ids=[11, 12, 13, 14, 15])
    cats = {s['id']: s['category_id'] for s in segs}
    assert sorted(cats.values()) == [11, 11, 12]
    assert ids[1, 0] == 0 and ids[1, 1] == 0
    assert ids[0, 0] != ids[0, 1] and cats[ids[0, 0]] == 11 and cats[ids[0, 2]] == 12


def _rgb_to_ids(path):
    from PIL import Image
    rgb = np.asarray(Image.open(path).convert('RGB'), dtype=np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def _perturbed_prediction(gt_ids, segments, cat_ids, rng):
    """A prediction made from the ground truth: shifted, one segment dropped, one relabelled,
    one extra segment; gives TPs of varied IoU, FNs and FPs."""
    pred = np.roll(gt_ids, shift=(int(rng.integers(-6, 7)), int(rng.integers(-6, 7))),
                   axis=(0, 1))
    cats = {s['id']: s['category_id'] for s in segments}
    ids = [s['id'] for s in segments if not s.get('iscrowd', 0)]
    if len(ids) > 2:
        pred[pred == ids[0]] = 0                           # dropped: an FN
        cats[ids[1]] = int(rng.choice(cat_ids))            # relabelled: FP + FN (mostly)
    h, w = pred.shape
    y, x = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
    pred[y:y + h // 4, x:x + w // 4] = 1                    # an extra segment
    cats[1] = int(rng.choice(cat_ids))
    present = set(np.unique(pred).tolist()) - {0}
    return pred, [dict(id=i, category_id=c) for i, c in cats.items() if i in present]


def test_per_image_stats_sum_to_panopticapi_pq(tmp_path, repo_root):
    """Summed over the embedded set, the per-image statistics give panopticapi's PQ."""
    import json
    import os.path as osp

    from PIL import Image
    pytest.importorskip('panopticapi')
    from panopticapi.evaluation import pq_compute

    from mmeffseg.engine.per_image_quality import per_image_pq_stats, pq_from_stats
    root = osp.join(repo_root, 'data', 'embedded_coco')
    gt_json = osp.join(root, 'annotations', 'panoptic.json')
    with open(gt_json) as f:
        gt = json.load(f)
    cat_ids = [c['id'] for c in gt['categories']]
    rng = np.random.default_rng(0)
    (tmp_path / 'pred').mkdir()
    pred_anns, total = [], {}
    for ann in gt['annotations']:
        gt_ids = _rgb_to_ids(osp.join(root, 'panoptic', ann['file_name']))
        pred_ids, pred_segments = _perturbed_prediction(gt_ids, ann['segments_info'], cat_ids,
                                                        rng)
        rgb = np.stack([pred_ids % 256, pred_ids // 256 % 256, pred_ids // 65536], -1)
        Image.fromarray(rgb.astype(np.uint8)).save(tmp_path / 'pred' / ann['file_name'])
        pred_anns.append(dict(image_id=ann['image_id'], file_name=ann['file_name'],
                              segments_info=pred_segments))
        stats = per_image_pq_stats(gt_ids, ann['segments_info'], pred_ids, pred_segments)
        for cat, values in stats.items():
            total[cat] = [a + b for a, b in zip(total.get(cat, [0.0, 0, 0, 0]), values)]
    pred_json = tmp_path / 'pred.json'
    pred_json.write_text(json.dumps(dict(gt, annotations=pred_anns)))
    expected = pq_compute(gt_json, str(pred_json), osp.join(root, 'panoptic'),
                          str(tmp_path / 'pred'))['All']['pq']
    assert 0.05 < expected < 0.95  # a non-trivial prediction
    assert abs(pq_from_stats(total) - expected) <= 1e-6
