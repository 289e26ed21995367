# PRO-SCALE (3, 3, 3) + TRC + LPE on mmseg's Mask2Former R50 (Cityscapes 512x1024), mmseg's recipe.
# Model change only: the pixel decoder of ./_base_/proscale-333-trc-lpe_pixel-decoder.py, named
# with its mmdet scope (the decode head builds its pixel decoder from mmdet's registry).
_base_ = [
    'mmseg::mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py',
    './_base_/proscale-333-trc-lpe_pixel-decoder.py'
]
custom_imports = dict(imports=['mmeffseg'], allow_failed_imports=False)
model = dict(
    decode_head=dict(
        pixel_decoder=dict(
            _base_.proscale_pixel_decoder, type='mmdet.EfficientMSDeformAttnPixelDecoder')))
