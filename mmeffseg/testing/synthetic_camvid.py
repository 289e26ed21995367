"""A CamVid-format folder of synthetic images, for tests that must not need ../shared."""
import os.path as osp
from typing import Dict

import numpy as np
from PIL import Image


def make_camvid_like(root: str, num_train: int = 4, num_val: int = 2, height: int = 48,
                     width: int = 64, seed: int = 0) -> Dict[str, int]:
    """Write ``images/{train,val}/*.jpg`` and ``labels/{train,val}/*.png`` under ``root``.

    Each label map has horizontal bands of classes 0..10 and a void (11) corner, and each image
    colours its bands by class (plus noise), so a model can learn something in a few iterations.

    Returns:
        dict: number of images per split.
    """
    import os
    rng = np.random.default_rng(seed)
    counts = dict(train=num_train, val=num_val)
    for split, num in counts.items():
        os.makedirs(osp.join(root, 'images', split), exist_ok=True)
        os.makedirs(osp.join(root, 'labels', split), exist_ok=True)
        for i in range(num):
            rows = np.arange(height)[:, None] * 11 // height
            label = np.broadcast_to((rows + i) % 11, (height, width)).astype(np.uint8).copy()
            label[:height // 6, :width // 6] = 11  # void
            colour = (label[..., None] * np.array([23, 47, 71]) % 256).astype(np.float64)
            image = np.clip(colour + rng.normal(0, 8, colour.shape), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(osp.join(root, 'images', split, f'{split}_{i:03d}.jpg'))
            Image.fromarray(label).save(osp.join(root, 'labels', split, f'{split}_{i:03d}.png'))
    return counts
