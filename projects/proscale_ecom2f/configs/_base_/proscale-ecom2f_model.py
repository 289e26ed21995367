# The project's change to an ECO-M2F model, as one fragment that configs merge into `model`
# with dict(_base_.proscale_ecom2f_model, ...): PRO-SCALE's pixel decoder ((3, 3, 3) + TRC +
# LPE) with ECO-M2F's gate in its encoder, with exits over the 9-layer progressive schedule
# (mmdet's EcoM2F; `proscale_ecom2f_segmentor` is the same change for mmseg's EcoM2FSegmentor).
# Exits: after stage 1 (res5 tokens only), after stage 2 (res5 + res4), then after each
# full-length layer; the layers of stages 1-2 are cheap, so exits inside them would save little.
_base_ = ['../../../../configs/proscale/_base_/proscale-333-trc-lpe_pixel-decoder.py']

proscale_exits = (3, 6, 7, 8, 9)
proscale_ecom2f_model = dict(
    exits=proscale_exits,
    panoptic_head=dict(
        pixel_decoder=dict(
            _base_.proscale_pixel_decoder,
            gate=dict(type='TokenMeanExitGate', exits=proscale_exits))))
proscale_ecom2f_segmentor = dict(
    exits=proscale_exits,
    decode_head=dict(
        pixel_decoder=dict(
            _base_.proscale_pixel_decoder,
            type='mmdet.EfficientMSDeformAttnPixelDecoder',
            gate=dict(type='TokenMeanExitGate', exits=proscale_exits))))
