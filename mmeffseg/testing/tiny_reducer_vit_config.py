"""A tiny mmseg config whose backbone is ``ReducerViT`` (local + global merging), for the tests
of the token tools; it reads image files through its test pipeline as a real config does."""
import os.path as osp

TINY_REDUCER_VIT_CONFIG = """
custom_imports = dict(imports=['mmeffseg'], allow_failed_imports=False)
default_scope = 'mmseg'
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
                           bgr_to_rgb=True, size=(64, 96)),
    backbone=dict(type='ReducerViT', img_size=(64, 96), patch_size=16, embed_dims=32,
                  num_layers=3, num_heads=2, mlp_ratio=2, final_norm=True, output_merged=True,
                  reducers=[dict(type='LocalWindowMerge', layer=0, tau=-1.0),
                            dict(type='GlobalBipartiteMerge', layer=1)]),
    decode_head=dict(type='MergedSegmenterMaskTransformerHead', in_channels=32, channels=32,
                     num_classes=3, num_layers=1, num_heads=2, embed_dims=32,
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    test_cfg=dict(mode='whole'))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(96, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
"""


def write_tiny_reducer_vit_config(folder: str) -> str:
    """Write the tiny config into ``folder``; return its path."""
    path = osp.join(folder, 'tiny_reducer_vit.py')
    with open(path, 'w') as f:
        f.write(TINY_REDUCER_VIT_CONFIG)
    return path
