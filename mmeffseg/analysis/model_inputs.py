"""Make the inputs to measure a model on (configs and models come from :mod:`mmeffseg.apis`).

Inputs come either from ``--shape H W`` (a synthetic image pushed through the model's own data
preprocessor, with the metainfo a real sample would carry) or from the config's test dataloader
(real images through the test pipeline). Every batch is returned already preprocessed, as the
``dict(inputs=..., data_samples=...)`` that ``model._forward`` / ``model.predict`` take.
"""
import copy
import inspect
import math
import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmeffseg.apis import model_family
from mmeffseg.datasets import check_data_roots, explain_empty_dataset
from mmeffseg.datasets.data_roots import iter_dataset_cfgs

__all__ = [
    'required_divisor', 'config_test_shape', 'shape_batches', 'dataset_batches',
    'collect_images', 'image_batches', 'resized_test_config', 'run_network',
    'usable_forward', 'check_shape'
]


def required_divisor(model: nn.Module) -> int:
    """Side multiple an input must have: the patch size of a plain-ViT backbone, else 1."""
    backbone = getattr(model, 'backbone', None)
    patch = getattr(backbone, 'patch_size', None)
    if patch is None:
        return 1
    sizes = patch if isinstance(patch, (tuple, list)) else (patch, patch)
    return math.lcm(*[int(s) for s in sizes])


def _pad_divisor(model: nn.Module, family: str) -> int:
    """What the data preprocessor pads test inputs to a multiple of (1: no padding)."""
    pre = getattr(model, 'data_preprocessor', None)
    if family == 'mmdet':
        return int(getattr(pre, 'pad_size_divisor', 1) or 1)
    test_cfg = getattr(pre, 'test_cfg', None) or {}
    return int(test_cfg.get('size_divisor', 1) or 1)


def check_shape(model: nn.Module, family: str, shape: Sequence[int]) -> Tuple[int, int]:
    """Check that ``model`` can take an ``H x W`` input; return the shape the network sees.

    Raises:
        ValueError: naming the shape, the required multiple and two shapes that would work.
    """
    if len(shape) != 2 or any(int(s) < 1 for s in shape):
        raise ValueError(f'--shape needs two positive integers H W, got {list(shape)}')
    h, w = int(shape[0]), int(shape[1])
    pad = _pad_divisor(model, family)
    ph, pw = math.ceil(h / pad) * pad, math.ceil(w / pad) * pad
    div = required_divisor(model)
    if ph % div or pw % div:
        down = (max(div, h // div * div), max(div, w // div * div))
        up = (math.ceil(h / div) * div, math.ceil(w / div) * div)
        raise ValueError(f'Input shape {h}x{w} is not divisible by {div} (the patch size of '
                         f'{type(model.backbone).__name__}); use e.g. --shape {down[0]} '
                         f'{down[1]} or --shape {up[0]} {up[1]}')
    return ph, pw


def config_test_shape(cfg: Config) -> Tuple[int, int]:
    """The ``H x W`` a config tests at: mmseg's crop size (``data_preprocessor.size``), else
    the ``scale`` of the test pipeline's ``Resize`` (``(W, H)`` there, as mmcv writes it).

    Raises:
        ValueError: the config names neither.
    """
    size = cfg.model.get('data_preprocessor', {}).get('size')
    if size:
        return int(size[0]), int(size[1])
    loader = cfg.get('test_dataloader') or {}
    for _, dataset in iter_dataset_cfgs(loader.get('dataset', {})):
        for step in dataset.get('pipeline', None) or []:
            if 'Resize' in str(step.get('type', '')) and step.get('scale'):
                w, h = step['scale']
                return int(h), int(w)
    raise ValueError(f'{cfg.filename}: no test size found (neither model.data_preprocessor.size '
                     f'nor a Resize scale in the test pipeline); pass --shape H W')


def _data_sample(family: str, h: int, w: int, index: int):
    meta = dict(
        img_id=index,
        img_path=f'synthetic_{index}.jpg',
        ori_shape=(h, w),
        img_shape=(h, w),
        pad_shape=(h, w),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None)
    if family == 'mmdet':
        from mmdet.structures import DetDataSample
        return DetDataSample(metainfo=meta)
    from mmseg.structures import SegDataSample
    return SegDataSample(metainfo=meta)


def shape_batches(model: nn.Module,
                  family: str,
                  shape: Sequence[int],
                  batch_size: int = 1,
                  num_batches: int = 1,
                  seed: int = 0) -> List[dict]:
    """Synthetic batches of ``shape``, preprocessed by the model's data preprocessor.

    Each image is uniform noise in [0, 255] (the cost of a static model does not depend on the
    pixel values; for dynamic models prefer real images, see :func:`dataset_batches`).
    """
    h, w = int(shape[0]), int(shape[1])
    check_shape(model, family, (h, w))
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for b in range(num_batches):
        data = dict(
            inputs=[(torch.rand(3, h, w, generator=gen) * 255).to(torch.uint8)
                    for _ in range(batch_size)],
            data_samples=[_data_sample(family, h, w, b * batch_size + i)
                          for i in range(batch_size)])
        with torch.no_grad():
            batches.append(model.data_preprocessor(data, False))
    return batches


def dataset_batches(cfg: Config,
                    model: nn.Module,
                    num_images: int,
                    batch_size: int = 1,
                    split: str = 'test') -> Iterator[dict]:
    """Yield preprocessed batches of real images from the config's ``{split}_dataloader``.

    Raises:
        ValueError: when the config has no such dataloader or ``num_images`` < 1.
        FileNotFoundError: naming a missing data root or annotation file.
    """
    from mmengine.runner import Runner

    key = f'{split}_dataloader'
    if num_images < 1:
        raise ValueError(f'--num-images must be >= 1, got {num_images}')
    if cfg.get(key) is None:
        raise ValueError(f'Config has no {key}; give --shape H W instead of dataset images')
    check_data_roots(cfg, phases=(split, ))
    loader_cfg = copy.deepcopy(cfg.get(key))
    loader_cfg.update(batch_size=batch_size, num_workers=0, persistent_workers=False)
    loader_cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
    loader_cfg.pop('batch_sampler', None)
    init_default_scope(model_family(cfg))
    with explain_empty_dataset(cfg, phases=(split, )):
        loader = Runner.build_dataloader(loader_cfg)
    seen = 0
    for data in loader:
        with torch.no_grad():
            yield model.data_preprocessor(data, False)
        seen += len(data['inputs'])
        if seen >= num_images:
            return


IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def collect_images(paths: Sequence[str], limit: Optional[int] = None) -> List[str]:
    """Image files named directly or found in the given folders (sorted per folder).

    Raises:
        FileNotFoundError: a path is neither a file nor a folder, or no image is found.
    """
    files = []
    for path in paths:
        if osp.isdir(path):
            files += sorted(osp.join(path, f) for f in os.listdir(path)
                            if f.lower().endswith(IMAGE_EXTS))
        elif osp.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f'--images: {path} is neither an image file nor a folder')
    if not files:
        raise FileNotFoundError(f'--images: no {"/".join(IMAGE_EXTS)} images found in {paths}')
    return files[:limit] if limit else files


def _is_resize(step: dict) -> bool:
    return str(step.get('type', '')).split('.')[-1] == 'Resize'


def resized_test_config(cfg: Config,
                        short_side: Optional[int] = None,
                        fit: Optional[int] = None) -> Config:
    """A copy of ``cfg`` whose test pipelines resize every image, keeping its aspect ratio.

    Every ``Resize`` step of the test dataset(s) and of ``test_pipeline`` is rescaled (one is
    added after loading where there is none), so that images of any size reach the network at
    one scale whatever the config's own test scale.

    Args:
        cfg (Config): The config.
        short_side (int, optional): Resize the short side to this (e.g. so that a centre crop
            of this size keeps real pixels).
        fit (int, optional): Resize the long side to this, then pad to ``fit x fit`` (zeros at
            the bottom / right): real images at a fixed square network input.

    Raises:
        ValueError: unless exactly one of ``short_side`` and ``fit`` is a positive integer.
    """
    if (short_side is None) == (fit is None) or int(short_side or fit) < 1:
        raise ValueError(f'give exactly one positive size: short_side={short_side}, fit={fit}')
    size = int(short_side or fit)
    # mmcv's keep-ratio scale is (long edge, short edge) limits.
    resize = dict(scale=(100 * size, size) if short_side else (size, size), keep_ratio=True)
    pad = dict(type='Pad', size=(size, size), pad_val=dict(img=0)) if fit else None
    cfg = copy.deepcopy(cfg)
    loader = cfg.get('test_dataloader') or {}
    pipelines = [leaf.get('pipeline') for _, leaf in iter_dataset_cfgs(loader.get('dataset') or {})]
    seen = set()
    for pipeline in pipelines + [cfg.get('test_pipeline')]:
        if not pipeline or id(pipeline) in seen:  # a config may share one list
            continue
        seen.add(id(pipeline))
        if not any(_is_resize(t) for t in pipeline):
            pipeline.insert(1, dict(type='Resize'))
        for i in reversed(range(len(pipeline))):
            if _is_resize(pipeline[i]):
                pipeline[i].pop('scale_factor', None)
                pipeline[i].update(resize)
                if pad:
                    pipeline.insert(i + 1, copy.deepcopy(pad))
    return cfg


def _test_pipeline(cfg: Config, crop: Optional[Sequence[int]] = None) -> List[dict]:
    loader = cfg.get('test_dataloader') or {}
    leaves = list(iter_dataset_cfgs(loader.get('dataset') or {}))
    pipeline = leaves[0][1].get('pipeline') if leaves else None
    pipeline = pipeline or cfg.get('test_pipeline')
    if not pipeline:
        raise ValueError(f'{cfg.filename}: no test pipeline (test_dataloader.dataset.pipeline '
                         f'or test_pipeline) to read images with; give --shape H W instead')
    # Image files carry no annotations: drop the steps that would load them.
    steps = [copy.deepcopy(t) for t in pipeline if 'Annotations' not in str(t.get('type', ''))]
    if crop is not None:
        if len(crop) != 2 or any(int(c) < 1 for c in crop):
            raise ValueError(f'crop needs two positive integers H W, got {list(crop)}')
        # After the test set's own resizing, before packing (mmcv's crop: (w, h), pads a
        # smaller image with zeros at the bottom / right).
        pack = next((i for i, t in enumerate(steps) if 'Pack' in str(t.get('type', ''))),
                    len(steps))
        steps.insert(pack, dict(type='mmcv.CenterCrop', crop_size=(int(crop[1]), int(crop[0])),
                                auto_pad=True))
    return steps


def image_batches(cfg: Config,
                  model: Optional[nn.Module],
                  images: Sequence[str],
                  batch_size: int = 1,
                  crop: Optional[Sequence[int]] = None,
                  drop_last: bool = False) -> Iterator[dict]:
    """Yield batches of image files read through the config's test pipeline.

    The same resizing and packing as the test set's images get (annotation loading dropped),
    then the model's data preprocessor; mmseg needs one image size per batch.

    Args:
        cfg (Config): The config whose test pipeline reads the images.
        model (nn.Module | None): Whose data preprocessor makes the batch; ``None`` yields the
            collated pipeline output (uint8 ``inputs`` as the pipeline left them, for drawing;
            preprocess later with ``model.data_preprocessor(batch, False)``).
        images (Sequence[str]): Image files (see :func:`collect_images`).
        batch_size (int): Images per batch; the last batch may be smaller. Default: 1.
        crop (Sequence[int] | None): ``(H, W)``: after the pipeline's own resizing, a centre
            crop to H x W (padded where the image is smaller), so that images of different
            sizes can share a batch. Default: None (the test pipeline as it is).
        drop_last (bool): Leave out a last batch smaller than ``batch_size`` (timing at one
            batch size). Default: False.

    Raises:
        ValueError: the config has no test pipeline, or a file is not a readable image
            (naming it).
    """
    from mmengine.dataset import Compose, pseudo_collate

    init_default_scope(model_family(cfg))
    pipeline = Compose(_test_pipeline(cfg, crop))
    end = len(images) // batch_size * batch_size if drop_last else len(images)
    for start in range(0, end, batch_size):
        samples = []
        for index, path in enumerate(images[start:start + batch_size], start):
            try:
                samples.append(pipeline(dict(img_path=path, img_id=index)))
            except Exception as err:  # mmcv's loaders fail in several ways on a bad file
                raise ValueError(f'{path}: cannot be read as an image through the test '
                                 f'pipeline ({type(err).__name__}: {err})') from err
        if model is None:
            yield pseudo_collate(samples)
            continue
        with torch.no_grad():
            yield model.data_preprocessor(pseudo_collate(samples), False)


def run_network(model: nn.Module, batch: dict, forward: str = 'tensor'):
    """Run the network on a preprocessed batch.

    Args:
        forward (str): ``'tensor'`` runs ``model._forward`` (backbone, neck, heads; no
            post-processing, as mmdet's and mmseg's get_flops do); ``'predict'`` runs the whole
            ``model.predict`` including post-processing (mask resizing, panoptic fusion).
    """
    if forward == 'tensor':
        if _plain_encoder_decoder_with_sample_head(model):
            # mmseg's EncoderDecoder._forward calls decode_head.forward(x) alone, which mmseg's
            # Mask2Former head cannot run; the same network without post-processing is the
            # head on the features with the samples (as EcoM2FSegmentor._forward runs it).
            return model.decode_head(model.extract_feat(batch['inputs']), batch['data_samples'])
        return model._forward(batch['inputs'], batch['data_samples'])
    if forward == 'predict':
        return model.predict(batch['inputs'], batch['data_samples'])
    raise ValueError(f"forward must be 'tensor' or 'predict', got {forward!r}")


def _needs_data_samples(head: nn.Module) -> bool:
    param = inspect.signature(head.forward).parameters.get('batch_data_samples')
    return param is not None and param.default is inspect.Parameter.empty


def _sample_heads(model: nn.Module) -> List[nn.Module]:
    """The decode heads of ``model`` whose ``forward`` needs the data samples (mmseg's
    Mask2Former head; a cascade's heads are a ModuleList)."""
    head = getattr(model, 'decode_head', None)
    heads = list(head) if isinstance(head, nn.ModuleList) else [head] if head is not None else []
    return [h for h in heads if _needs_data_samples(h)]


def _plain_encoder_decoder_with_sample_head(model: nn.Module) -> bool:
    """An mmseg EncoderDecoder whose own ``_forward`` cannot run its head (mmseg's
    Mask2Former head needs the data samples)."""
    if not _sample_heads(model):
        return False
    from mmseg.models.segmentors import EncoderDecoder
    return type(model)._forward is EncoderDecoder._forward


def usable_forward(model: nn.Module, forward: str) -> Tuple[str, Optional[str]]:
    """The forward that can run: ``(forward, note)``.

    The tensor forward of :func:`run_network` runs every model the same way (the network,
    no post-processing): mmseg's plain ``EncoderDecoder`` with a Mask2Former head included
    (:func:`run_network` hands the head the samples) and segmentors with a ``_forward`` of their
    own (``EcoM2FSegmentor`` passes the samples itself). mmseg's other segmentors (cascade,
    depth, multimodal) call ``decode_head.forward(x)`` alone, which a head that needs the
    samples cannot run: for those ``'tensor'`` becomes ``'predict'`` and ``note`` says so in
    one line (``None`` when nothing changed).
    """
    heads = _sample_heads(model)
    if forward != 'tensor' or not heads or _plain_encoder_decoder_with_sample_head(model):
        return forward, None
    own = type(model)._forward
    if not own.__module__.startswith('mmseg.'):
        return forward, None
    return 'predict', (f'note: {type(model).__name__}._forward does not pass the data samples '
                       f'that {type(heads[0]).__name__}.forward needs, so the tensor forward '
                       f'cannot run; counting --forward predict')
