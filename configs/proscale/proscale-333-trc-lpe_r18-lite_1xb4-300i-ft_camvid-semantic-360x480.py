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
# The paper trains PRO-SCALE's encoder with the whole model. Here it starts from the 6-layer
# step-5 model converted to PRO-SCALE's 9-layer encoder (tools/model_converters/
# mask2former_to_proscale.py, the study's `proscale_init` step): layers 1-3 and 4-6 take step 5's
# layers 1-3 with their sampling offsets / attention weights cut to the 1 or 2 coarsest levels,
# layers 7-9 take step 5's layers 4-6 whole, everything else is copied by name and LPE's dropped
# 3x3 output conv is left out. Only the TRC gate is new and starts from its initialisation.
load_from_missing_ok = ['decode_head.pixel_decoder.encoder.trc.']
load_from_made_by = ('python tools/study/run_study.py configs/study/camvid.py --only '
                     'proscale_init (or tools/model_converters/mask2former_to_proscale.py on a '
                     'Mask2Former checkpoint)')
