# PRO-SCALE (3, 3, 3) + TRC + LPE fine-tuned on CamVid (trained-weights study, configs/study/
# camvid.py, step 6): the Mask2Former control's schedule (300 iterations from the step-5
# checkpoint, ../mask2former/mask2former_r18-lite_1xb4-300i-ft_camvid-semantic-360x480.py) with
# PRO-SCALE's pixel decoder (./_base_/proscale-333-trc-lpe_pixel-decoder.py).
_base_ = [
    '../mask2former/mask2former_r18-lite_1xb4-300i-ft_camvid-semantic-360x480.py',
    './_base_/proscale-333-trc-lpe_pixel-decoder.py'
]
model = dict(
    decode_head=dict(
        pixel_decoder=dict(
            _base_.proscale_pixel_decoder, type='mmdet.EfficientMSDeformAttnPixelDecoder')))
# The paper trains PRO-SCALE's encoder with the whole model; starting from the 6-layer step-5
# model, every weight whose name and shape fit is kept (backbone, input projections, transformer
# decoder, the value / output projections, FFNs and norms of encoder layers 1-6) and what
# PRO-SCALE adds or resizes starts from its initialisation: layers 7-9, TRC, and the sampling
# offsets / attention weights of layers 1-6, sized here for the 1 or 2 levels they see (mmcv's
# initialisation: a fixed sampling pattern, uniform attention). LPE drops the 3x3 output conv.
_encoder = 'decode_head.pixel_decoder.encoder.'
load_from_missing_ok = [_encoder + f'layers.{i}.' for i in (6, 7, 8)] + [_encoder + 'trc.']
load_from_mismatch_ok = [
    _encoder + f'layers.{i}.self_attn.{p}.' for i in range(6)
    for p in ('sampling_offsets', 'attention_weights')
]
load_from_unexpected_ok = ['decode_head.pixel_decoder.output_convs.0.conv.']
