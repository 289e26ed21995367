"""PRO-SCALE switched on in an mmseg Mask2Former config outside the repository.

The user's config inherits mmseg's own Cityscapes Mask2Former and names only the pixel decoder
type and PRO-SCALE's knobs: every nested default (the scheduled encoder, TRC) must build
although the config's default scope is mmseg's.
"""
import torch

MMSEG_BASE = 'mmseg::mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py'
USER_CONFIG = f'''
_base_ = '{MMSEG_BASE}'
custom_imports = dict(imports=['mmeffseg'], allow_failed_imports=False)
model = dict(
    decode_head=dict(
        pixel_decoder=dict(
            type='mmdet.EfficientMSDeformAttnPixelDecoder',
            stage_layers=(3, 3, 3),
            trc_cfg=dict(type='TokenRecalibration'),
            output_op='maxpool')))
'''


def _build_decoder(cfg):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    return model.decode_head.pixel_decoder


def _macs(decoder, hw):
    from mmeffseg.analysis import count_macs
    h, w = hw
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(1, c, h // s, w // s, generator=gen)
             for c, s in zip([256, 512, 1024, 2048], [4, 8, 16, 32])]
    decoder.eval()
    return count_macs(decoder, decoder, feats).total('paper')


def test_user_mmseg_config_builds_proscale_and_halves_the_pixel_decoder(tmp_path):
    from mmengine.config import Config
    path = tmp_path / 'my_proscale_cityscapes.py'
    path.write_text(USER_CONFIG)
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmseg'
    ours = _build_decoder(cfg)
    assert type(ours).__name__ == 'EfficientMSDeformAttnPixelDecoder'
    assert type(ours.encoder).__name__ == 'ScheduledDeformableEncoder'
    assert ours.encoder.level_schedule == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert type(ours.encoder.trc).__name__ == 'TokenRecalibration'
    assert type(ours.output_convs[0]).__name__ == 'LightPixelEmbedding'
    from mmengine.hub import get_config
    base = _build_decoder(get_config(MMSEG_BASE))
    assert type(base).__name__ == 'MSDeformAttnPixelDecoder'
    # A quarter of Cityscapes' 512x1024 crop keeps the test short; every part of the pixel
    # decoder scales with the number of pixels, so the ratio is that of 512x1024.
    ratio = _macs(ours, (256, 512)) / _macs(base, (256, 512))
    assert ratio <= 0.50, ratio


def test_nested_defaults_build_in_any_scope():
    """The pixel decoder's own defaults resolve whatever the caller's default scope is."""
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    from mmeffseg.registry import build_nested_model
    layer = dict(self_attn_cfg=dict(embed_dims=16, num_heads=2, num_levels=3, num_points=1,
                                    batch_first=True),
                 ffn_cfg=dict(embed_dims=16, feedforward_channels=32))
    for scope in ('mmseg', 'mmdet', 'mmeffseg'):
        with DefaultScope.overwrite_default_scope(scope):
            enc = build_nested_model(dict(type='ScheduledDeformableEncoder', num_layers=2,
                                          layer_cfg=layer, trc_cfg=dict(), gate=dict(exits=(1, 2))))
            assert type(enc.trc).__name__ == 'TokenRecalibration'
            assert type(enc.gate).__name__ == 'TokenMeanExitGate'
    # Without the own-scope build, mmseg's registry cannot see the encoder (the bug).
    with DefaultScope.overwrite_default_scope('mmseg'):
        assert MODELS.get('ScheduledDeformableEncoder') is None
