"""The pruning backbone under Mask R-CNN, Mask2Former and Segmenter, built from our configs."""
import copy
import os.path as osp

import torch
from mmengine.config import Config

import mmeffseg  # noqa: F401  (registers the modules)
from mmeffseg.models.detectors import attach_aux_losses, detach_aux_losses
from mmeffseg.models.token_reducers import TokenSelector, set_token_pruning

CFG_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
                   'token_pruning')
EMBED = 32
PRUNE = [1, 2, 3]
TARGETS = [0.7, 0.49, 0.343]
TINY_VIT = dict(embed_dims=EMBED, num_layers=4, num_heads=2, mlp_ratio=2, out_indices=(3, ),
                drop_path_rate=0.0)


def _selectors(**kw):
    return [dict(type='TokenSelector', embed_dims=EMBED, prune_layers=PRUNE, keep_targets=TARGETS,
                 layer=i, **kw) for i in PRUNE]


def _tiny_mask_rcnn_cfg(name):
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    model = cfg.model
    model.backbone.update(TINY_VIT, img_size=(128, 128))
    model.neck.update(in_channels=EMBED, out_channels=32)
    model.rpn_head.update(in_channels=32, feat_channels=32)
    roi = model.roi_head
    roi.bbox_roi_extractor.out_channels = 32
    roi.mask_roi_extractor.out_channels = 32
    roi.bbox_head.update(in_channels=32, fc_out_channels=64, num_classes=4)
    roi.mask_head.update(in_channels=32, conv_out_channels=32, num_classes=4, num_convs=1)
    model.train_cfg.rcnn.sampler.num = 64
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
    return cfg


def _build_det(cfg):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    return model


def _det_inputs(model, batch=2, size=128, with_mask=True):
    from mmdet.testing import demo_mm_inputs
    packed = demo_mm_inputs(batch_size=batch, image_shapes=[(3, size, size)] * batch,
                            num_items=[3] * batch, num_classes=4, with_mask=with_mask)
    return model.data_preprocessor(packed, training=True)


def test_configs_state_the_paper_schedule():
    for name in ('token-pruning_mask-rcnn_vit-s-sfp_8xb2-ms-6e_coco.py',
                 'token-pruning_mask-rcnn_vit-t-sfp_8xb2-ms-6e_coco.py',
                 'token-pruning_mask-rcnn_vit-t-sfp_1xb2-60i_coco128.py',
                 'token-pruning_mask-rcnn_vit-s-sfp_1xb2-60i_coco128.py',
                 'token-pruning_mask2former_vit-s-sfp_8xb2-lsj-6e_coco.py'):
        cfg = Config.fromfile(osp.join(CFG_DIR, name))
        reducers = cfg.model.backbone.reducers
        assert [r['layer'] for r in reducers] == list(range(3, 12)), name
        assert all(r['keep_targets'] == [0.7] * 3 + [0.49] * 3 + [0.343] * 3 for r in reducers)
        dims = 192 if 'vit-t' in name else 384
        assert all(r['embed_dims'] == dims for r in reducers), name
        assert cfg.model.backbone.embed_dims == dims and cfg.model.neck.in_channels == dims
        assert cfg.custom_hooks == [dict(type='AuxiliaryLossHook')]
    sparse = Config.fromfile(
        osp.join(CFG_DIR, 'token-pruning_mask-rcnn_vit-s-sfp_8xb2-ms-6e_coco.py'))
    assert sparse.optim_wrapper.optimizer.type == 'AdamW'
    assert sparse.optim_wrapper.optimizer.lr == 1e-5
    assert sparse.load_from.endswith('.pth')


def test_mask_rcnn_keep_all_reproduces_dense_and_loss_has_keep_ratio():
    dense_cfg = _tiny_mask_rcnn_cfg('mask-rcnn_vit-t-sfp_1xb2-40i_coco128.py')
    pruned_cfg = _tiny_mask_rcnn_cfg('token-pruning_mask-rcnn_vit-t-sfp_1xb2-60i_coco128.py')
    pruned_cfg.model.backbone.reducers = _selectors()
    torch.manual_seed(0)
    dense = _build_det(dense_cfg).eval()
    pruned = _build_det(pruned_cfg).eval()
    missing, unexpected = pruned.load_state_dict(dense.state_dict(), strict=False)
    assert not unexpected and missing and all('reducers' in k for k in missing)

    data = _det_inputs(dense, batch=2)
    inputs, samples = data['inputs'], data['data_samples']
    with torch.no_grad():
        ref_feats = dense.extract_feat(inputs)
        ref = dense.predict(inputs, copy.deepcopy(samples))
        for mode in ('keep_all', 'all_by_threshold'):
            if mode == 'keep_all':
                set_token_pruning(pruned, keep_all=True)
            else:
                set_token_pruning(pruned, keep_all=False, threshold=0.0)
                for sel in pruned.modules():
                    if isinstance(sel, TokenSelector):
                        sel.scorer[3].bias.data = torch.tensor([5.0, -5.0])
            feats = pruned.extract_feat(inputs)
            assert max((a - b).abs().max().item() for a, b in zip(ref_feats, feats)) <= 1e-5
            out = pruned.predict(inputs, copy.deepcopy(samples))
            for r, o in zip(ref, out):
                assert torch.allclose(r.pred_instances.bboxes, o.pred_instances.bboxes,
                                      atol=1e-4)
                assert torch.allclose(r.pred_instances.scores, o.pred_instances.scores,
                                      atol=1e-5)

    # Training: the keep-ratio loss joins Mask R-CNN's loss dict through the generic hook.
    set_token_pruning(pruned, keep_all=False, threshold=0.5)
    pruned.train()
    losses = pruned(inputs, samples, mode='loss')
    assert 'loss_keep_ratio' not in losses
    attach_aux_losses(pruned)
    attach_aux_losses(pruned)  # idempotent
    losses = pruned(inputs, samples, mode='loss')
    assert 'loss_rpn_cls' in losses and 'loss_mask' in losses
    assert losses['loss_keep_ratio'].requires_grad
    assert {f'keep_ratio_l{i}' for i in PRUNE} <= set(losses)
    total, log_vars = pruned.parse_losses(losses)
    total.backward()
    assert pruned.backbone.reducers[0].scorer[1].weight.grad.abs().sum() > 0
    # predict is untouched by the hook
    pruned.eval()
    with torch.no_grad():
        assert len(pruned(inputs, samples, mode='predict')) == 2
    detach_aux_losses(pruned)
    pruned.train()
    assert 'loss_keep_ratio' not in pruned(inputs, samples, mode='loss')


def test_mask2former_host():
    cfg = Config.fromfile(
        osp.join(CFG_DIR, 'token-pruning_mask2former_vit-s-sfp_8xb2-lsj-6e_coco.py'))
    model = cfg.model
    model.data_preprocessor.batch_augments = None
    model.backbone.update(TINY_VIT, img_size=(64, 64), reducers=_selectors())
    model.neck.update(in_channels=EMBED, out_channels=32)
    head = model.panoptic_head
    head.update(in_channels=[32] * 4, feat_channels=32, out_channels=32, num_queries=5,
                num_things_classes=4, loss_cls=dict(class_weight=[1.0] * 4 + [0.1]))
    head.pixel_decoder.encoder.update(num_layers=1)
    head.pixel_decoder.encoder.layer_cfg.self_attn_cfg.update(embed_dims=32, num_heads=2)
    head.pixel_decoder.encoder.layer_cfg.ffn_cfg.update(embed_dims=32, feedforward_channels=32)
    head.pixel_decoder.positional_encoding.num_feats = 16
    head.positional_encoding.num_feats = 16
    dec = head.transformer_decoder
    dec.update(num_layers=3)
    dec.layer_cfg.self_attn_cfg.update(embed_dims=32, num_heads=2)
    dec.layer_cfg.cross_attn_cfg.update(embed_dims=32, num_heads=2)
    dec.layer_cfg.ffn_cfg.update(embed_dims=32, feedforward_channels=32)
    model.panoptic_fusion_head.num_things_classes = 4
    model.train_cfg.num_points = 64
    model.test_cfg.max_per_image = 5
    det = _build_det(cfg)
    attach_aux_losses(det)
    data = _det_inputs(det, batch=2, size=64)
    det.train()
    losses = det(data['inputs'], data['data_samples'], mode='loss')
    assert 'loss_keep_ratio' in losses and 'loss_cls' in losses
    det.eval()
    with torch.no_grad():
        preds = det(data['inputs'], data['data_samples'], mode='predict')
    assert len(preds) == 2
    assert 0 < det.backbone.reducers[-1].last_keep_ratio.max() <= 1


def test_segmenter_host_keep_all_reproduces_dense():
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmseg.utils import register_all_modules
    from mmengine.structures import PixelData
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(CFG_DIR, 'token-pruning_segmenter_vit-s_mask_8xb1-16k_ade20k-512x512.py'))
    model = cfg.model
    model.data_preprocessor.size = (64, 64)
    model.backbone.update(TINY_VIT, img_size=(64, 64), reducers=_selectors())
    model.decode_head.update(in_channels=EMBED, channels=EMBED, embed_dims=EMBED, num_heads=2,
                             num_layers=1, num_classes=5)
    model.test_cfg = dict(mode='whole')
    dense_cfg = copy.deepcopy(model)
    dense_cfg.backbone.type = 'VisionTransformer'
    dense_cfg.backbone.pop('reducers')
    torch.manual_seed(0)
    dense = MODELS.build(dense_cfg)
    dense.init_weights()
    pruned = MODELS.build(copy.deepcopy(model))
    pruned.load_state_dict(dense.state_dict(), strict=False)
    dense.eval()
    pruned.eval()
    x = torch.randn(2, 3, 64, 64)
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                        pad_shape=(64, 64)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, 64, 64)))
        samples.append(s)
    set_token_pruning(pruned, keep_all=True)
    with torch.no_grad():
        diff = (dense(x, samples, mode='tensor') - pruned(x, samples, mode='tensor')).abs().max()
    assert diff <= 1e-5
    set_token_pruning(pruned, keep_all=False)
    attach_aux_losses(pruned)
    pruned.train()
    losses = pruned(x, samples, mode='loss')
    assert 'decode.loss_ce' in losses and 'loss_keep_ratio' in losses
