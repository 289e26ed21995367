"""A synthetic 64x64 COCO-panoptic dataset (3 thing + 2 stuff categories) for tool tests."""
import json
import os
import os.path as osp

import numpy as np

THINGS = ['cube', 'ball', 'cone']
STUFF = ['floor', 'wall']
CAT_IDS = [1, 2, 3, 10, 11]


def make_panoptic_dataset(root: str, num_images: int = 5, size: int = 64) -> dict:
    """Write images, panoptic PNGs and the json; return dataset config kwargs."""
    from PIL import Image
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'panoptic'), exist_ok=True)
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for i in range(num_images):
        img_id = 100 + i
        name = f'{img_id:012d}'
        img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        ids = np.zeros((size, size), dtype=np.int64)
        segments = []
        # stuff background (floor below, wall above), one or two objects
        ids[size // 2:] = 5001
        ids[:size // 2] = 5002
        segments += [dict(id=5001, category_id=10), dict(id=5002, category_id=11)]
        for j in range(1 + i % 2):
            y, x = rng.integers(0, size - 20, 2)
            ids[y:y + 16, x:x + 16] = 7 + j
            img[y:y + 16, x:x + 16] = (200, 30 * j, 20)
            segments.append(dict(id=7 + j, category_id=CAT_IDS[j]))
        segments.append(dict(id=9, category_id=3, iscrowd=1))
        ids[:4, :4] = 9
        for s in segments:
            ys, xs = np.nonzero(ids == s['id'])
            s.update(area=int(len(ys)), iscrowd=s.get('iscrowd', 0),
                     bbox=[int(xs.min()), int(ys.min()), int(np.ptp(xs) + 1), int(np.ptp(ys) + 1)])
        segments = [s for s in segments if s['area'] > 0]
        Image.fromarray(img).save(osp.join(root, 'images', name + '.jpg'))
        rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)
        Image.fromarray(rgb).save(osp.join(root, 'panoptic', name + '.png'))
        images.append(dict(id=img_id, file_name=name + '.jpg', height=size, width=size))
        annotations.append(dict(image_id=img_id, file_name=name + '.png',
                                segments_info=segments))
    categories = [dict(id=c, name=n, isthing=int(k < 3), supercategory='x')
                  for k, (c, n) in enumerate(zip(CAT_IDS, THINGS + STUFF))]
    with open(osp.join(root, 'panoptic.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return dict(
        type='CocoPanopticDataset',
        data_root=root,
        ann_file='panoptic.json',
        data_prefix=dict(img='images/', seg='panoptic/'),
        metainfo=dict(classes=THINGS + STUFF, thing_classes=THINGS, stuff_classes=STUFF,
                      palette=[(i * 40, 0, 0) for i in range(5)]),
        filter_cfg=dict(filter_empty_gt=True, min_size=8))


TEST_PIPELINE = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadPanopticAnnotations'),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
