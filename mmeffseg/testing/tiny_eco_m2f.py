"""A tiny ECO-M2F / Mask2Former (R18 with 8 base channels, dim 32, 6 encoder layers)."""
import copy
from typing import Optional

import torch

EMBED = 32
NUM_THINGS, NUM_STUFF = 3, 2
EXITS = (2, 3, 4, 5, 6)


def tiny_mask2former_cfg(ecom2f: bool = True, gate: bool = True, **model_kwargs) -> dict:
    """Model config; ``ecom2f=False`` gives mmdet's Mask2Former with the same parameters."""
    num_classes = NUM_THINGS + NUM_STUFF
    pixel_decoder = dict(
        type='MSDeformAttnPixelDecoder',
        num_outs=3,
        norm_cfg=dict(type='GN', num_groups=8),
        act_cfg=dict(type='ReLU'),
        encoder=dict(
            num_layers=6,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=EMBED, num_heads=4, num_levels=3, num_points=2,
                                   dropout=0.0, batch_first=True),
                ffn_cfg=dict(embed_dims=EMBED, feedforward_channels=64, num_fcs=2,
                             ffn_drop=0.0, act_cfg=dict(type='ReLU', inplace=True)))),
        positional_encoding=dict(num_feats=EMBED // 2, normalize=True))
    if ecom2f:
        pixel_decoder['type'] = 'EfficientMSDeformAttnPixelDecoder'
        if gate:
            pixel_decoder['gate'] = dict(type='TokenMeanExitGate', exits=EXITS)
    attn = dict(embed_dims=EMBED, num_heads=4, dropout=0.0, batch_first=True)
    cfg = dict(
        type='EcoM2F' if ecom2f else 'Mask2Former',
        data_preprocessor=dict(
            type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32, pad_mask=True,
            mask_pad_value=0, pad_seg=True, seg_pad_value=255),
        backbone=dict(type='ResNet', depth=18, base_channels=8, num_stages=4,
                      out_indices=(0, 1, 2, 3), frozen_stages=-1,
                      norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
                      style='pytorch', init_cfg=None),
        panoptic_head=dict(
            type='Mask2FormerHead',
            in_channels=[8, 16, 32, 64],
            strides=[4, 8, 16, 32],
            feat_channels=EMBED,
            out_channels=EMBED,
            num_things_classes=NUM_THINGS,
            num_stuff_classes=NUM_STUFF,
            num_queries=8,
            num_transformer_feat_level=3,
            pixel_decoder=pixel_decoder,
            enforce_decoder_input_project=False,
            positional_encoding=dict(num_feats=EMBED // 2, normalize=True),
            transformer_decoder=dict(
                return_intermediate=True,
                num_layers=2,
                layer_cfg=dict(
                    self_attn_cfg=attn, cross_attn_cfg=attn,
                    ffn_cfg=dict(embed_dims=EMBED, feedforward_channels=64, num_fcs=2,
                                 ffn_drop=0.0, act_cfg=dict(type='ReLU', inplace=True))),
                init_cfg=None),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0,
                          reduction='mean', class_weight=[1.0] * num_classes + [0.1]),
            loss_mask=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                           loss_weight=5.0),
            loss_dice=dict(type='DiceLoss', use_sigmoid=True, activate=True, reduction='mean',
                           naive_dice=True, eps=1.0, loss_weight=5.0)),
        panoptic_fusion_head=dict(type='MaskFormerFusionHead', num_things_classes=NUM_THINGS,
                                  num_stuff_classes=NUM_STUFF, loss_panoptic=None,
                                  init_cfg=None),
        train_cfg=dict(
            num_points=64, oversample_ratio=3.0, importance_sample_ratio=0.75,
            assigner=dict(type='HungarianAssigner', match_costs=[
                dict(type='ClassificationCost', weight=2.0),
                dict(type='CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                dict(type='DiceCost', weight=5.0, pred_act=True, eps=1.0)]),
            sampler=dict(type='MaskPseudoSampler')),
        # Permissive thresholds so a random model still predicts segments.
        test_cfg=dict(panoptic_on=True, semantic_on=False, instance_on=False,
                      max_per_image=8, object_mask_thr=0.0, iou_thr=0.0,
                      filter_low_score=False),
        init_cfg=None)
    cfg.update(model_kwargs)
    return cfg


def build_tiny(seed: int = 0, **kwargs) -> torch.nn.Module:
    """Build, init and return the tiny model in eval mode."""
    from mmdet.registry import MODELS
    from mmengine.config import ConfigDict
    from mmengine.registry import init_default_scope
    import mmeffseg  # noqa: F401
    init_default_scope('mmdet')
    torch.manual_seed(seed)
    model = MODELS.build(ConfigDict(tiny_mask2former_cfg(**kwargs)))
    model.init_weights()
    return model.eval()


def randomize_gate_(model, inputs: Optional[torch.Tensor] = None, seed: int = 1,
                    scale: float = 100.0) -> None:
    """Give the gate large random weights; centred on ``inputs`` so that their images (most
    likely) pick different exits."""
    gen = torch.Generator().manual_seed(seed)
    decoder = model.pixel_decoder
    gate = decoder.encoder.gate
    with torch.no_grad():
        gate.fc.weight.copy_(torch.randn(gate.fc.weight.shape, generator=gen) * scale)
        if inputs is not None:
            enc_inputs = decoder.encoder_inputs(model.extract_feat(inputs))
            h, w = enc_inputs['spatial_shapes'][0].tolist()
            means = enc_inputs['query'][:, :h * w].mean(1)
            gate.fc.bias.copy_(-gate.fc.weight @ means.mean(0))


def tiny_batch(batch_size: int = 2, size=(64, 96), seed: int = 0,
               with_gt: bool = True, img_ids: Optional[list] = None):
    """Preprocessed-looking inputs and DetDataSamples with panoptic GT."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData, PixelData
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    inputs = torch.randn(batch_size, 3, h, w, generator=gen)
    samples = []
    for b in range(batch_size):
        meta = dict(img_shape=(h, w), ori_shape=(h, w), batch_input_shape=(h, w),
                    pad_shape=(h, w), scale_factor=(1.0, 1.0),
                    img_id=(img_ids[b] if img_ids else b))
        ds = DetDataSample(metainfo=meta)
        if with_gt:
            masks = torch.zeros(2, h, w, dtype=torch.bool)
            masks[0, :h // 2, :w // 2] = True
            masks[1, h // 2:, w // 3:] = True
            from mmdet.structures.mask import BitmapMasks
            ds.gt_instances = InstanceData(
                labels=torch.tensor([0, 1]),
                bboxes=torch.tensor([[0, 0, w / 2, h / 2], [w / 3, h / 2, w, h]]),
                masks=BitmapMasks(masks.numpy(), h, w))
            sem = torch.full((1, h, w), 255, dtype=torch.long)
            sem[:, :, :w // 3] = NUM_THINGS  # one stuff class
            ds.gt_sem_seg = PixelData(sem_seg=sem)
        samples.append(ds)
    return inputs, samples


def clone_samples(samples):
    return [copy.deepcopy(s) for s in samples]
