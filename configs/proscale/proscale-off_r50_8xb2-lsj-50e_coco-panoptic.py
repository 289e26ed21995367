# PRO-SCALE switched off: mmeffseg's pixel decoder with every method key at its default (mmdet's
# 6 full-length layers, no TRC, the 3x3 conv output op) on the R50 COCO panoptic recipe. Same
# function and checkpoint keys as mmdet's MSDeformAttnPixelDecoder (identity-tested), with the
# FLOP-free speed-ups of docs/proscale.md that would help mmdet's decoder too: the fair baseline
# when a latency ratio should credit PRO-SCALE only with what PRO-SCALE changes.
_base_ = ['../mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py']
model = dict(
    panoptic_head=dict(
        pixel_decoder=dict(
            type='EfficientMSDeformAttnPixelDecoder',
            output_op='conv',
            encoder=dict(type='ScheduledDeformableEncoder'))))
