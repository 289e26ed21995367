"""A tiny mmseg Mask2Former / ECO-M2F segmentor, shrunk from mmseg's own Cityscapes config."""
import copy
from typing import Optional

import torch

MMSEG_BASE = 'mmseg::mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py'
EMBED = 32
NUM_CLASSES = 4
EXITS = (2, 3, 4, 5, 6)


def tiny_seg_model_cfg(ecom2f: bool = True, gate: bool = True, **model_kwargs):
    """mmseg's Cityscapes Mask2Former at test size; ``ecom2f=False`` is the baseline."""
    from mmeffseg.apis import read_config
    cfg = read_config(MMSEG_BASE)
    attn = dict(embed_dims=EMBED, num_heads=4)
    pixel_decoder = dict(
        norm_cfg=dict(type='GN', num_groups=8),
        encoder=dict(layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=EMBED, num_heads=4, num_points=2),
            ffn_cfg=dict(embed_dims=EMBED, feedforward_channels=64))),
        positional_encoding=dict(num_feats=EMBED // 2))
    if ecom2f:
        pixel_decoder['type'] = 'mmdet.EfficientMSDeformAttnPixelDecoder'
        if gate:
            pixel_decoder['gate'] = dict(type='TokenMeanExitGate', exits=EXITS)
    cfg.merge_from_dict(dict(model=dict(
        backbone=dict(depth=18, base_channels=8, init_cfg=None,
                      norm_cfg=dict(type='BN', requires_grad=True)),
        decode_head=dict(
            in_channels=[8, 16, 32, 64], feat_channels=EMBED, out_channels=EMBED,
            num_classes=NUM_CLASSES, num_queries=8, pixel_decoder=pixel_decoder,
            positional_encoding=dict(num_feats=EMBED // 2),
            transformer_decoder=dict(num_layers=2, layer_cfg=dict(
                self_attn_cfg=attn, cross_attn_cfg=attn,
                ffn_cfg=dict(embed_dims=EMBED, feedforward_channels=64))),
            loss_cls=dict(class_weight=[1.0] * NUM_CLASSES + [0.1]),
            train_cfg=dict(num_points=64)))))
    model = cfg.model
    if ecom2f:
        model.type = 'EcoM2FSegmentor'
        model.exits = EXITS
    model.update(model_kwargs)
    return model


def build_tiny_seg(seed: int = 0, **kwargs) -> torch.nn.Module:
    """Build, init and return the tiny segmentor in eval mode (mmseg scope)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    import mmeffseg  # noqa: F401
    init_default_scope('mmseg')
    torch.manual_seed(seed)
    model = MODELS.build(tiny_seg_model_cfg(**kwargs))
    model.init_weights()
    return model.eval()


def tiny_seg_batch(batch_size: int = 2, size=(64, 96), seed: int = 0,
                   names: Optional[list] = None):
    """Preprocessed-looking inputs and SegDataSamples with a semantic label map."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    inputs = torch.randn(batch_size, 3, h, w, generator=gen)
    samples = []
    for b in range(batch_size):
        name = names[b] if names else f'img{b}'
        ds = SegDataSample(metainfo=dict(
            img_path=f'/data/images/{name}.jpg', img_shape=(h, w), ori_shape=(h, w),
            pad_shape=(h, w), padding_size=[0, 0, 0, 0]))
        label = torch.full((1, h, w), 255, dtype=torch.long)
        label[:, :h // 2] = b % NUM_CLASSES
        label[:, h // 2:, :w // 2] = (b + 1) % NUM_CLASSES
        ds.gt_sem_seg = PixelData(data=label)
        samples.append(ds)
    return inputs, samples


def clone(samples):
    return [copy.deepcopy(s) for s in samples]
