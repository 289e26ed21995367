# PRO-SCALE (3, 3, 3) + TRC + LPE on the main job's mmseg Mask2Former (R18-lite, embedded 16-image
# COCO set as 133-class semantic segmentation, 256x256): the baseline's recipe and data, with
# PRO-SCALE's pixel decoder (./_base_/proscale-333-trc-lpe_pixel-decoder.py, named with its mmdet
# scope).
_base_ = [
    '../mask2former/mask2former_r18-lite_1xb2-300i_embedded-semantic-256x256.py',
    './_base_/proscale-333-trc-lpe_pixel-decoder.py'
]
model = dict(
    decode_head=dict(
        pixel_decoder=dict(
            _base_.proscale_pixel_decoder, type='mmdet.EfficientMSDeformAttnPixelDecoder')))
