"""configs/proscale/proscale-off_*: the fair latency baseline is mmdet's Mask2Former, same
weights, same outputs."""
import torch

from mmeffseg.analysis.model_inputs import run_network, shape_batches
from mmeffseg.apis import build_model, load_config

MMDET = 'configs/mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py'
OFF = 'configs/proscale/proscale-off_r50_8xb2-lsj-50e_coco-panoptic.py'


def test_proscale_off_config_equals_mmdet_mask2former():
    torch.manual_seed(0)
    base = build_model(load_config(MMDET))
    off = build_model(load_config(OFF))
    assert type(off.panoptic_head.pixel_decoder).__name__ == 'EfficientMSDeformAttnPixelDecoder'
    off.load_state_dict(base.state_dict(), strict=True)  # same checkpoint keys
    batch = shape_batches(base, 'mmdet', (128, 160))[0]
    with torch.no_grad():
        cls_b, mask_b = run_network(base, batch)
        cls_o, mask_o = run_network(off, batch)
    for a, b in zip(cls_b + mask_b, cls_o + mask_o):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (a - b).abs().max()
