# PRO-SCALE (3, 3, 3) + TRC + LPE on the CPU-sized mmseg Mask2Former of CamVid (360x480, R18-lite,
# 2k iterations of batch 4): the baseline's recipe and data, with PRO-SCALE's pixel decoder
# (./_base_/proscale-333-trc-lpe_pixel-decoder.py, named with its mmdet scope).
_base_ = [
    '../mask2former/mask2former_r18-lite_1xb4-2k_camvid-semantic-360x480.py',
    './_base_/proscale-333-trc-lpe_pixel-decoder.py'
]
model = dict(
    decode_head=dict(
        pixel_decoder=dict(
            _base_.proscale_pixel_decoder, type='mmdet.EfficientMSDeformAttnPixelDecoder')))
